//! OKX v5 REST: payload models, request builders, parsers and paging arithmetic.

pub mod models;
pub mod paginate;
pub mod parse;
pub mod requests;
