//! What users type besides flags: symbols (to the instruments to work on) and time ranges.

use ccxt_model::time::{Bound, format_iso, now_ns, parse_time};
use ccxt_model::{Instrument, SymbolError, SymbolInput, Venue};

use crate::UsageError;
use crate::cli::VenueArg;

/// The instruments to read: the symbol on each selected venue (all venues by default; venues
/// where the symbol cannot exist are skipped unless asked for by name).
pub fn resolve(symbol: &SymbolInput, venues: &[VenueArg]) -> Result<Vec<Instrument>, UsageError> {
    let explicit: Vec<Venue> = venues.iter().map(|v| Venue::from(*v)).collect();
    let mut out = Vec::new();
    for venue in crate::registry::venues() {
        if !explicit.is_empty() && !explicit.contains(&venue) {
            continue;
        }
        match symbol.resolve(venue) {
            Ok(instrument) => out.push(instrument),
            Err(e @ SymbolError::Malformed { .. }) => return Err(UsageError(e.to_string())),
            Err(e) if !explicit.is_empty() => return Err(UsageError(e.to_string())),
            Err(_) => {}
        }
    }
    if out.is_empty() {
        let venue = symbol
            .pinned_venue()
            .map(|v| v.as_str())
            .unwrap_or("another venue");
        return Err(UsageError(format!(
            "symbol '{}' names a {venue} instrument, but -e selects only other venues",
            symbol.typed().trim()
        )));
    }
    Ok(out)
}

/// `--from`/`--to` as an inclusive range of UNIX ns: `--from` defaults to the epoch, `--to` to
/// now; a bare date as `--to` means the end of that day.
pub fn time_range(from: Option<&str>, to: Option<&str>) -> Result<(u64, u64), UsageError> {
    let start = match from {
        Some(t) => parse_time(t, Bound::Start).map_err(|e| UsageError(format!("--from: {e}")))?,
        None => 0,
    };
    let end = match to {
        Some(t) => parse_time(t, Bound::End).map_err(|e| UsageError(format!("--to: {e}")))?,
        None => now_ns(),
    };
    if end < start {
        return Err(UsageError(format!(
            "--to ({}) is before --from ({})",
            format_iso(end),
            format_iso(start)
        )));
    }
    Ok((start, end))
}

/// The venues `-e` selects, in display order; all of them when none is given.
pub fn selected_venues(venues: &[VenueArg]) -> Vec<Venue> {
    crate::registry::venues()
        .into_iter()
        .filter(|v| venues.is_empty() || venues.iter().any(|a| Venue::from(*a) == *v))
        .collect()
}

/// The instruments `symbols` name on `venue`. A symbol that cannot exist there (a Hyperliquid
/// builder-dex symbol on Binance) is an error when the venue was chosen with `-e`, and skipped
/// when it is only part of the default set.
pub fn symbols_on(
    venue: Venue,
    symbols: &[SymbolInput],
    venue_named: bool,
) -> Result<Vec<Instrument>, UsageError> {
    let mut out = Vec::new();
    for symbol in symbols {
        match symbol.resolve(venue) {
            Ok(i) => out.push(i),
            Err(e @ SymbolError::Malformed { .. }) => return Err(UsageError(e.to_string())),
            Err(e) if venue_named => return Err(UsageError(e.to_string())),
            Err(_) => {}
        }
    }
    Ok(out)
}
