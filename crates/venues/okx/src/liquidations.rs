//! OKX liquidations: ONE `liquidation-orders` subscription (`instType` `SWAP`) on
//! `/ws/v5/public` carries every swap; kept alive with the text `ping` (answered `pong`).
//!
//! Sizes come in contracts: the protocol converts them to coins with the contract table
//! (`ctVal × ctMult` by `instId`), which the feed fills from `public/instruments` through the
//! venue's REST transport when its connections start. A liquidation that arrives before the
//! table is filled waits (at most [`MAX_PENDING`] of them) and leaves with the next push. Only
//! USDT- and USDC-margined linear swaps are kept (all of them, or the symbols asked for);
//! the rest of the channel (inverse, stock perpetuals) is dropped.
//!
//! Side: `side` is the liquidation order's side, so `sell` closed a long and `buy` a short,
//! exactly as Binance's `S`; the raw side is kept in `order_side` and `posSide` in `method`
//! (`posSide:long`); a `posSide` that contradicts the side is logged.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use ccxt_model::{Instrument, InstrumentId, Liquidation, LiquidationSource, Venue};
use ccxt_venue::Transport;
use ccxt_venue::borrowed::{INSTRUMENT_CACHE_CAPACITY, InstrumentCache};
use ccxt_venue::convert::{decimal_to_f64, ms_to_ns};
use ccxt_venue::liquidations::{
    FeedKind, FeedTasks, Inbound, Keepalive, LiquidationFeed, WsProtocol,
};

use crate::fetcher::{Contract, ContractTable, OkxFetcher};
use crate::websocket::{
    LIQUIDATION_CHANNEL, LiquidationRef, OkxLiquidation, PING, PING_INTERVAL_SECS, PublicMessage,
    parse_public_text, read_liquidation_push, subscribe_frame,
};

const VENUE: Venue = crate::symbol::VENUE;

/// The most liquidations kept waiting for the contract table; older ones are dropped (and
/// logged) beyond it.
pub const MAX_PENDING: usize = 10_000;

/// OKX's keep-alive: the text `ping` every 20 s (OKX closes a connection silent for 30 s); no
/// rotation.
pub const KEEPALIVE: Keepalive = Keepalive {
    heartbeat: std::time::Duration::from_secs(PING_INTERVAL_SECS),
    rotation: None,
};

/// The label of the one stream.
pub const STREAM: &str = "liquidation-orders:SWAP";

/// The one OKX liquidation connection.
#[derive(Debug)]
pub struct OkxLiquidations {
    /// `instId`s kept; `None`: every USDT/USDC linear swap.
    only: Option<HashSet<String>>,
    contracts: ContractTable,
    state: Mutex<State>,
}

/// What a connection keeps between pushes.
#[derive(Debug, Default)]
struct State {
    /// Liquidations waiting for the contract table, with their receive time.
    pending: Vec<(OkxLiquidation, u64)>,
    /// What is known of each `instId` seen (at most [`INSTRUMENT_CACHE_CAPACITY`]).
    known: KnownMap,
}

/// [`Known`] by `instId` (foldhash: hashed once per liquidation, SipHash would cost more).
type KnownMap = HashMap<Box<str>, Known, foldhash::fast::RandomState>;

/// What a connection knows of one `instId`, looked up once instead of for every liquidation.
#[derive(Debug, Clone)]
struct Known {
    /// Collected by this connection.
    wanted: bool,
    /// Its instrument id.
    id: InstrumentId,
    /// Its contract, as [`ContractTable::get`] answered at `generation`.
    contract: Option<Option<Contract>>,
    /// The [`ContractTable::generation`] of `contract` (`None`: not asked yet).
    generation: Option<u64>,
}

/// Where one liquidation goes.
enum Placed {
    /// Stored.
    Row(Liquidation),
    /// Waits for the contract table.
    Wait,
    /// Not collected, or unusable (logged).
    Drop,
}

impl OkxLiquidations {
    /// The connection for `symbols` (`None`: every swap), converting with `contracts`.
    pub fn new(symbols: Option<&[Instrument]>, contracts: ContractTable) -> OkxLiquidations {
        OkxLiquidations {
            only: symbols.map(|s| {
                s.iter()
                    .filter(|i| i.venue == VENUE)
                    .map(|i| i.native.clone())
                    .collect()
            }),
            contracts,
            state: Mutex::new(State::default()),
        }
    }

    fn wanted(&self, inst_id: &str) -> bool {
        match &self.only {
            Some(only) => only.contains(inst_id),
            None => crate::symbol::is_native(inst_id),
        }
    }

    /// What is known of `inst_id`, its contract as of table `generation` (always `Some`).
    fn known<'k>(
        &self,
        known: &'k mut KnownMap,
        inst_id: &str,
        generation: u64,
    ) -> Option<&'k Known> {
        if !known.contains_key(inst_id) {
            if known.len() >= INSTRUMENT_CACHE_CAPACITY {
                known.clear();
            }
            let id = INSTRUMENTS
                .id(inst_id)
                .unwrap_or_else(|| Instrument::from_native(VENUE, inst_id).id);
            let entry = Known {
                wanted: self.wanted(inst_id),
                id,
                contract: None,
                generation: None,
            };
            known.insert(inst_id.into(), entry);
        }
        let entry = known.get_mut(inst_id)?;
        if entry.generation != Some(generation) {
            entry.contract = self.contracts.get(inst_id);
            entry.generation = Some(generation);
        }
        Some(entry)
    }

    /// Where `l`, received at `ts_init`, goes.
    fn place(
        &self,
        known: &mut KnownMap,
        generation: u64,
        l: &LiquidationRef<'_>,
        ts_init: u64,
    ) -> Placed {
        let Some(known) = self
            .known(known, l.inst_id, generation)
            .filter(|k| k.wanted)
        else {
            return Placed::Drop;
        };
        match known.contract {
            None => Placed::Wait,
            Some(None) => {
                // Listed nowhere we know (an inverse or stock swap when every swap is
                // kept, or a listing newer than the table): not a collected contract.
                tracing::debug!(inst_id = %l.inst_id, "okx liquidation of an unlisted swap dropped");
                Placed::Drop
            }
            Some(Some(contract)) => {
                match row(
                    l,
                    known.id.clone(),
                    contract.value,
                    contract.inverse,
                    ts_init,
                ) {
                    Some(row) => Placed::Row(row),
                    None => {
                        tracing::warn!(inst_id = %l.inst_id, "okx liquidation with an unusable size or price skipped");
                        Placed::Drop
                    }
                }
            }
        }
    }

    /// The rows of `liquidations` received at `ts_init`, with whatever waited before; rows
    /// whose contract is not known yet wait.
    fn rows<'a>(
        &self,
        liquidations: impl ExactSizeIterator<Item = LiquidationRef<'a>>,
        ts_init: u64,
    ) -> Vec<Liquidation> {
        let generation = self.contracts.generation();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let State { pending, known } = &mut *state;
        let waiting: Vec<(OkxLiquidation, u64)> = std::mem::take(pending);
        let mut out = Vec::with_capacity(waiting.len() + liquidations.len());
        for (l, ts_init) in waiting {
            match self.place(known, generation, &l.borrowed(), ts_init) {
                Placed::Row(row) => out.push(row),
                Placed::Wait => pending.push((l, ts_init)),
                Placed::Drop => {}
            }
        }
        for l in liquidations {
            match self.place(known, generation, &l, ts_init) {
                Placed::Row(row) => out.push(row),
                Placed::Wait => pending.push((l.to_owned(), ts_init)),
                Placed::Drop => {}
            }
        }
        if pending.len() > MAX_PENDING {
            let dropped = pending.len() - MAX_PENDING;
            pending.drain(..dropped);
            tracing::warn!(
                dropped,
                "okx liquidations dropped: the contract table is still not loaded"
            );
        }
        out
    }

    /// The [`Inbound`] of a liquidation push: its rows, or the reasons when every detail was
    /// skipped.
    fn push<'a>(
        &self,
        liquidations: impl ExactSizeIterator<Item = LiquidationRef<'a>>,
        skipped: Vec<String>,
        ts_init: u64,
    ) -> Inbound {
        if !skipped.is_empty() && liquidations.len() == 0 {
            return Inbound::Malformed(skipped.join("; "));
        }
        if !skipped.is_empty() {
            tracing::warn!(skipped = ?skipped, "okx liquidation details skipped: malformed");
        }
        Inbound::Liquidations(self.rows(liquidations, ts_init))
    }
}

/// The instrument names of OKX swaps, computed once per `instId`.
static INSTRUMENTS: InstrumentCache = InstrumentCache::new(VENUE);

/// The stored row of one OKX liquidation: coins from contracts, USD value at `bkPx`.
pub fn liquidation(
    l: &OkxLiquidation,
    contract_value: rust_decimal::Decimal,
    inverse: bool,
    ts_init: u64,
) -> Option<Liquidation> {
    let id = INSTRUMENTS
        .id(&l.inst_id)
        .unwrap_or_else(|| Instrument::from_native(VENUE, l.inst_id.clone()).id);
    row(&l.borrowed(), id, contract_value, inverse, ts_init)
}

/// [`liquidation`] of a borrowed liquidation of the instrument `id`.
fn row(
    l: &LiquidationRef<'_>,
    instrument_id: InstrumentId,
    contract_value: rust_decimal::Decimal,
    inverse: bool,
    ts_init: u64,
) -> Option<Liquidation> {
    let coins = l.coins(contract_value, inverse)?;
    let quantity = decimal_to_f64(coins);
    let price = decimal_to_f64(l.price);
    if l.pos_side_disagrees {
        tracing::warn!(inst_id = %l.inst_id, side = %l.order_side, pos_side = ?l.pos_side, "okx liquidation whose posSide contradicts its side");
    }
    Some(Liquidation {
        instrument_id,
        side: l.side,
        order_side: l.order_side.to_string(),
        quantity,
        price,
        value: decimal_to_f64(coins.checked_mul(l.price)?),
        source: LiquidationSource::Ws,
        method: l.pos_side.map(method),
        trade_id: None,
        ts_event: ms_to_ns(l.ts_ms),
        ts_init,
    })
}

/// The stored `method` of a liquidation with `posSide` `pos_side` (`posSide:long`).
fn method(pos_side: &str) -> String {
    match pos_side {
        "long" => "posSide:long".to_string(),
        "short" => "posSide:short".to_string(),
        "net" => "posSide:net".to_string(),
        other => format!("posSide:{other}"),
    }
}

impl WsProtocol for OkxLiquidations {
    fn venue(&self) -> Venue {
        VENUE
    }

    fn stream(&self) -> &str {
        STREAM
    }

    fn url(&self, root: &str) -> String {
        root.to_string()
    }

    fn subscribe_frames(&self) -> Vec<String> {
        vec![subscribe_frame(Some("1")).to_string()]
    }

    fn ping_frame(&self, _seq: u64) -> Option<String> {
        Some(PING.to_string())
    }

    fn classify(&self, text: &str, ts_init: u64) -> Inbound {
        if let Some(push) = read_liquidation_push(text) {
            return self.push(push.liquidations.into_iter(), push.skipped, ts_init);
        }
        match parse_public_text(text) {
            Ok(PublicMessage::Liquidations {
                liquidations,
                skipped,
            }) => self.push(
                liquidations.iter().map(OkxLiquidation::borrowed),
                skipped,
                ts_init,
            ),
            Ok(PublicMessage::SubscribeAck { channel, .. }) if channel == LIQUIDATION_CHANNEL => {
                Inbound::Ack
            }
            Ok(PublicMessage::Error { code, msg, .. }) => {
                Inbound::Rejected(format!("{msg} (code {code})"))
            }
            Ok(PublicMessage::Notice { code, msg }) => {
                tracing::warn!(%code, %msg, "okx notice: the server will close this connection soon");
                Inbound::Other
            }
            Ok(PublicMessage::Pong) => Inbound::Pong,
            Ok(_) => Inbound::Other,
            Err(e) => Inbound::Malformed(e.to_string()),
        }
    }
}

/// OKX's liquidation feed: one all-market socket; the REST transport (when given) fills the
/// contract table.
#[derive(Clone)]
pub struct OkxFeed {
    transport: Option<Arc<dyn Transport>>,
    contracts: ContractTable,
}

impl std::fmt::Debug for OkxFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OkxFeed")
            .field("transport", &self.transport.is_some())
            .field("contracts_loaded", &self.contracts.is_loaded())
            .finish()
    }
}

impl OkxFeed {
    /// The feed, filling its contract table through `transport`.
    pub fn new(transport: Option<Arc<dyn Transport>>) -> OkxFeed {
        OkxFeed {
            transport,
            contracts: ContractTable::default(),
        }
    }

    /// The feed with a contract table filled by someone else (tests).
    pub fn with_contracts(contracts: ContractTable) -> OkxFeed {
        OkxFeed {
            transport: None,
            contracts,
        }
    }

    /// Starts filling the contract table (inside a tokio runtime; retried every 10 s until it
    /// succeeds).
    fn load_contracts(&self) {
        let (Some(transport), Ok(runtime)) = (
            self.transport.clone(),
            tokio::runtime::Handle::try_current(),
        ) else {
            return;
        };
        if self.contracts.is_loaded() {
            return;
        }
        let fetcher = OkxFetcher::new(transport).with_contracts(self.contracts.clone());
        runtime.spawn(async move {
            loop {
                match fetcher.swaps().await {
                    Ok(_) => return,
                    Err(error) => {
                        tracing::warn!(%error, "okx instruments failed: liquidation sizes wait for the contract values; retrying in 10 s");
                        tokio::time::sleep(std::time::Duration::from_secs(10)).await;
                    }
                }
            }
        });
    }
}

impl LiquidationFeed for OkxFeed {
    fn venue(&self) -> Venue {
        VENUE
    }

    fn kind(&self) -> FeedKind {
        FeedKind::AllMarketSocket
    }

    fn keepalive(&self) -> Keepalive {
        KEEPALIVE
    }

    fn problems(&self, symbols: Option<&[Instrument]>) -> Vec<String> {
        let _ = symbols;
        if self.transport.is_none() && !self.contracts.is_loaded() {
            return vec![
                "okx: no REST transport to read contract values (liquidation sizes are contracts)"
                    .into(),
            ];
        }
        Vec::new()
    }

    fn tasks(&self, symbols: Option<&[Instrument]>) -> FeedTasks {
        self.load_contracts();
        FeedTasks::Sockets(vec![Arc::new(OkxLiquidations::new(
            symbols,
            self.contracts.clone(),
        ))])
    }
}

#[cfg(test)]
mod tests {
    use ccxt_model::PositionSide;

    use super::*;
    use crate::http::parse::parse_instruments;

    fn table() -> ContractTable {
        let body = include_str!("../fixtures/instruments_swap_nautilus.json");
        let (swaps, _) = parse_instruments(200, body.as_bytes()).unwrap_or_default();
        let t = ContractTable::default();
        t.store(&swaps);
        t
    }

    const PUSH: &str = r#"{"arg":{"channel":"liquidation-orders","instType":"SWAP"},"data":[
        {"instId":"BTC-USDT-SWAP","instType":"SWAP","details":[
          {"side":"sell","posSide":"long","sz":"2.5","bkPx":"50000","bkLoss":"0","ts":"1700000000000"},
          {"side":"buy","posSide":"short","sz":"1","bkPx":"50010","bkLoss":"0","ts":"1700000000001"}]},
        {"instId":"BTC-USD-SWAP","instType":"SWAP","details":[
          {"side":"buy","posSide":"short","sz":"3","bkPx":"50000","ts":"1700000000002"}]}]}"#;

    #[test]
    fn contracts_become_coins_and_sides_follow_the_order_side() {
        let c = OkxLiquidations::new(None, table());
        let Inbound::Liquidations(rows) = c.classify(PUSH, 7) else {
            panic!("liquidations");
        };
        assert_eq!(rows.len(), 2, "the inverse swap is not collected");
        assert_eq!(rows[0].instrument_id.as_str(), "BTC-USDT-SWAP.OKX");
        assert_eq!(rows[0].side, PositionSide::Long);
        assert_eq!(rows[0].order_side, "sell");
        assert_eq!(rows[0].method.as_deref(), Some("posSide:long"));
        assert!((rows[0].quantity - 0.025).abs() < 1e-12);
        assert!((rows[0].value - 1250.0).abs() < 1e-9);
        assert_eq!(rows[0].ts_event, 1_700_000_000_000_000_000);
        assert_eq!(rows[0].ts_init, 7);
        assert_eq!(rows[1].side, PositionSide::Short);
    }

    #[test]
    fn rows_wait_for_the_contract_table() {
        let t = ContractTable::default();
        let c = OkxLiquidations::new(None, t.clone());
        assert_eq!(c.classify(PUSH, 1), Inbound::Liquidations(vec![]));
        let body = include_str!("../fixtures/instruments_swap_nautilus.json");
        let (swaps, _) = parse_instruments(200, body.as_bytes()).unwrap_or_default();
        t.store(&swaps);
        let empty = r#"{"arg":{"channel":"liquidation-orders","instType":"SWAP"},"data":[]}"#;
        let Inbound::Liquidations(rows) = c.classify(empty, 2) else {
            panic!("liquidations");
        };
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].ts_init, 1, "kept its receive time");
    }

    #[test]
    fn only_the_symbols_asked_for_are_kept() {
        let eth = Instrument::from_native(VENUE, "ETH-USDT-SWAP");
        let c = OkxLiquidations::new(Some(&[eth]), table());
        assert_eq!(c.classify(PUSH, 1), Inbound::Liquidations(vec![]));
    }

    #[test]
    fn acks_pongs_refusals_and_garbage_are_classified() {
        let c = OkxLiquidations::new(None, table());
        assert_eq!(c.subscribe_frames().len(), 1);
        assert_eq!(c.ping_frame(1).as_deref(), Some("ping"));
        assert_eq!(c.url("ws://x/ws/v5/public"), "ws://x/ws/v5/public");
        assert_eq!(
            c.classify(
                r#"{"id":"1","event":"subscribe","arg":{"channel":"liquidation-orders","instType":"SWAP"},"connId":"a"}"#,
                0
            ),
            Inbound::Ack
        );
        assert_eq!(c.classify("pong", 0), Inbound::Pong);
        assert_eq!(
            c.classify(
                r#"{"event":"error","code":"60018","msg":"channel doesn't exist"}"#,
                0
            ),
            Inbound::Rejected("channel doesn't exist (code 60018)".into())
        );
        assert!(matches!(c.classify("nope", 0), Inbound::Malformed(_)));
        assert!(matches!(
            c.classify(
                r#"{"arg":{"channel":"liquidation-orders"},"data":[{"instId":"BTC-USDT-SWAP","details":[{"side":"x"}]}]}"#,
                0
            ),
            Inbound::Malformed(_)
        ));
    }
}
