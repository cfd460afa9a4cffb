//! The data model of ccxt-pipeline.
//!
//! This crate owns the vocabulary every other crate speaks: the venues we collect from
//! ([`Venue`], a handle to a venue crate's [`VenueGrammar`]), how a symbol a user types maps to a venue's native symbol and to a
//! NautilusTrader instrument id ([`SymbolInput`], [`Instrument`], [`InstrumentId`]), the records
//! we store ([`OpenInterest`], [`FundingRate`], [`Liquidation`], [`Bar`], [`MarkPrice`],
//! [`IndexPrice`]) and the time forms users type
//! ([`time`]). It does no I/O, so everything here is a pure function that can be tested alone.

mod bars;
mod records;
mod symbol;
#[cfg(test)]
mod testing;
pub mod time;
pub mod venue;

pub use bars::{
    Bar, BarError, BarInterval, BarPrice, BarProblem, BarType, IndexPrice, MARK_INDEX_PRECISION,
    MarkPrice, Precision,
};
pub use records::{
    FundingKind, FundingRate, Gap, Liquidation, LiquidationSource, OpenInterest, PositionSide,
    RecordKind, format_interval,
};
pub use symbol::{
    Instrument, InstrumentId, Market, NativeForm, Quote, SymbolError, SymbolInput,
    accepted_symbol_forms, is_alnum, is_upper_alnum, split_quote,
};
pub use venue::{UnknownVenue, Venue, VenueGrammar};
