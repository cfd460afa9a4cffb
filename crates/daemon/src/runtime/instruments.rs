//! Each venue's universe: the configured symbols, plus every trading perpetual with `--all`.

use std::sync::Arc;

use ccxt_model::Instrument;
use ccxt_stream::{FeedKind, SourceConfig};
use ccxt_venue::InstrumentStatus;

use super::shared::{Shared, VenueState};
use super::streams::start_stream;
use crate::metrics as m;

/// The instruments collected on a venue now, listing them first if `--all` and not known yet.
pub(super) async fn universe(
    shared: &Arc<Shared>,
    state: &Arc<VenueState>,
) -> Result<Vec<Instrument>, String> {
    if let Some(list) = state.universe.read().await.clone() {
        return Ok(list);
    }
    refresh_instruments(shared, state).await?;
    state
        .universe
        .read()
        .await
        .clone()
        .ok_or_else(|| "the instrument list is not known yet".to_string())
}

pub(super) async fn refresh_instruments(
    shared: &Arc<Shared>,
    state: &Arc<VenueState>,
) -> Result<String, String> {
    let venue = state.rt.venue;
    let list = state
        .rt
        .fetcher
        .instruments()
        .await
        .map_err(|e| format!("cannot list instruments: {e}"))?;
    let trading: Vec<Instrument> = list
        .iter()
        .filter(|i| i.status == InstrumentStatus::Trading)
        .map(|i| i.instrument.clone())
        .collect();
    for configured in &state.rt.symbols {
        match list.iter().find(|i| i.instrument == *configured) {
            None => {
                tracing::warn!(%venue, symbol = %configured.native, "configured symbol is not listed by the venue")
            }
            Some(i) if i.status != InstrumentStatus::Trading => {
                tracing::warn!(%venue, symbol = %configured.native, status = ?i.status, "configured symbol is not trading")
            }
            Some(_) => {}
        }
    }
    if !state.rt.all {
        let owned = state.universe.read().await.as_ref().map_or(0, Vec::len);
        m::instruments(venue, owned);
        return Ok(format!("{} listed; configured symbols checked", list.len()));
    }
    let mut next: Vec<Instrument> = state.rt.symbols.clone();
    next.extend(trading);
    next.sort();
    next.dedup();
    // This shard's part: a new listing goes to the shard that owns it.
    let listed = next.len();
    next.retain(|i| shared.ownership.owns_instrument(i));
    let previous = state.universe.read().await.clone();
    let (added, removed) = match &previous {
        None => (next.len(), 0),
        Some(old) => (
            next.iter().filter(|i| !old.contains(i)).count(),
            old.iter().filter(|i| !next.contains(i)).count(),
        ),
    };
    if previous.is_some() && added + removed > 0 {
        tracing::info!(%venue, added, removed, "instrument list changed");
    }
    m::instruments(venue, next.len());
    let total = next.len();
    let shard = shared.ownership.shard();
    if previous.is_none() && shard.is_sharded() {
        tracing::info!(%venue, %shard, owned = total, listed, "shard {shard} owns {total} of the {listed} instruments of {venue}");
    }
    *state.universe.write().await = Some(next);
    // An all-market stream or a poll covers new symbols by itself: only a per-symbol stream
    // is resubscribed.
    let per_symbol = state.rt.source.as_ref().and_then(SourceConfig::feed_kind)
        == Some(FeedKind::PerSymbolSocket);
    let restart = per_symbol && (previous.is_none() || added + removed > 0);
    if restart {
        let shared = shared.clone();
        tokio::spawn(async move { start_stream(&shared, venue, None).await });
    }
    if shard.is_sharded() {
        return Ok(format!(
            "{total} instruments of {listed} in shard {shard} ({added} new, {removed} gone)"
        ));
    }
    Ok(format!("{total} instruments ({added} new, {removed} gone)"))
}
