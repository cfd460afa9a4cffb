//! End-to-end tests of configuration loading and flag validation.
#![allow(clippy::unwrap_used, missing_docs)]
