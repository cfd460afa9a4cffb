//! The liquidation generator: one task per venue that, every tick (100 ms; Bybit every push
//! interval), creates the liquidations due at the configured rate and hands them on — to the
//! Binance / Bybit connections as one shared batch, or to the Hyperliquid fill book.
//!
//! Event `k` of a venue is a pure function of (seed, venue, `k`) and the mark price at its
//! time: the symbol (weighted by the square root of open interest, so BTC dominates but every
//! symbol gets some), the side (55 % longs), the notional (log-uniform-ish, median about
//! 400 USD, up to 1.5 million) and the distance of the price from the mark (0.1 % to 1.5 %, on
//! the losing side). Nothing is precomputed: a tick creates only its own events, and a tick
//! that runs late never owes more than two seconds of events.
//!
//! Hyperliquid: every liquidation is a backstop takeover by one of the liquidator vaults (a
//! fill with `liquidation.method = "backstop"`); after a quarter of them the vault also closes
//! its whole position in that coin on the book (a fill without `liquidation`), so its
//! `userFillsByTime` mixes both kinds, as the real vault's does.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::time::{Instant, MissedTickBehavior};

use crate::Venue;
use crate::data::{Instrument, Universe, hash_str, mix, unit};
use crate::format::{price_decimals, qty_decimals};
use crate::hyperliquid::sz_decimals;
use crate::server::{AppState, lock, wall_ms};
use crate::ws::log::{SentRec, StreamKind, add};

/// Generator tick of Binance and Hyperliquid.
const TICK_MS: u64 = 100;
/// Share of liquidations that are of long positions.
const LONG_SHARE: f64 = 0.55;
/// Share of Hyperliquid takeovers the vault unwinds right away.
const UNWIND_SHARE: f64 = 0.25;
/// First Hyperliquid trade id (real ones are around 7.5e14).
const TID_BASE: u64 = 740_000_000_000_000;
/// First Hyperliquid order id.
const OID_BASE: u64 = 55_000_000_000;
/// Events of one symbol and millisecond checked for a clash (far above any real-clock rate;
/// with a fixed clock, uniqueness holds for the first this many events per symbol).
const UNIQUE_WINDOW: usize = 4096;

/// Writes `units × 10^-dp` with trailing zeros trimmed (`9910`, `0.014`); `hl` keeps one
/// fractional digit as Hyperliquid does (`66653.0`, `0.0`).
pub(crate) fn write_units(out: &mut String, units: i64, dp: u8, hl: bool) {
    if units < 0 {
        out.push('-');
    }
    let abs = units.unsigned_abs();
    let scale = 10u64.pow(u32::from(dp.min(18)));
    let (int, frac) = (abs / scale, abs % scale);
    let _ = write!(out, "{int}");
    if frac != 0 {
        let mut digits = format!("{frac:0width$}", width = usize::from(dp));
        while digits.ends_with('0') {
            digits.pop();
        }
        out.push('.');
        out.push_str(&digits);
    } else if hl {
        out.push_str(".0");
    }
}

fn units_text(units: i64, dp: u8, hl: bool) -> String {
    let mut s = String::new();
    write_units(&mut s, units, dp, hl);
    s
}

/// One liquidation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LiqEvent {
    /// Binance, Bybit: the event number (1, 2, …); Hyperliquid: the fill's `tid`.
    pub id: u64,
    /// Index into the venue's [`SymTable`].
    pub sym: u32,
    /// Event time, Unix ms (data clock).
    pub t: u64,
    /// A long position was liquidated.
    pub long: bool,
    /// Quantity in lots of `10^-qdp`.
    pub qty: u64,
    /// Quantity decimals.
    pub qdp: u8,
    /// Price in ticks of `10^-pdp`: Binance order price, Bybit bankruptcy price, Hyperliquid
    /// fill price.
    pub price: u64,
    /// Binance average fill price, ticks.
    pub avg: u64,
    /// Mark price, ticks.
    pub mark: u64,
    /// Price decimals.
    pub pdp: u8,
}

/// The events of one tick (Binance with sampling: of one second), in time order.
#[derive(Debug, Clone)]
pub(crate) struct Batch {
    /// Data-clock ms when pushed: Binance `E`, Bybit `ts`.
    pub push_ms: u64,
    /// The events.
    pub events: Vec<LiqEvent>,
}

#[derive(Debug, Clone)]
struct SymEntry {
    symbol: String,
    lower: String,
    book_index: usize,
    qdp: u8,
    /// Base units per quantity unit: OKX sizes are contracts of `ctVal` coins (inverse: USD).
    per_unit: f64,
}

/// The symbols a venue generates liquidations for: its trading perpetuals (Hyperliquid: of
/// the main dex), with cumulative weights for the seeded choice.
#[derive(Debug, Clone)]
pub(crate) struct SymTable {
    venue: Venue,
    entries: Vec<SymEntry>,
    cum: Vec<f64>,
    by_symbol: HashMap<String, u32>,
    by_lower: HashMap<String, u32>,
}

fn book(u: &Universe, venue: Venue) -> &crate::data::Book {
    match venue {
        Venue::Binance => &u.binance,
        Venue::Bybit => &u.bybit,
        Venue::Hyperliquid => &u.hl_main,
        Venue::Okx => &u.okx,
    }
}

impl SymTable {
    /// The table of `venue`.
    pub fn new(u: &Universe, venue: Venue) -> SymTable {
        let mut entries = Vec::new();
        let mut cum = Vec::new();
        let mut total = 0.0;
        for (i, inst) in book(u, venue).list.iter().enumerate() {
            if !(inst.is_trading() && inst.is_perpetual()) {
                continue;
            }
            let a = u.asset(inst);
            total += (a.oi_usd * inst.oi_scale).max(1.0).sqrt();
            cum.push(total);
            let qdp = match venue {
                Venue::Hyperliquid => sz_decimals(u, inst),
                Venue::Okx => usize::from(crate::data::okx_lot_decimals(inst)),
                _ => qty_decimals(a.price),
            };
            let per_unit = match venue {
                Venue::Okx => 10f64.powi(crate::data::okx_ct_exp(inst, a.price)),
                _ => 1.0,
            };
            entries.push(SymEntry {
                symbol: inst.symbol.clone(),
                lower: inst.symbol.to_ascii_lowercase(),
                book_index: i,
                qdp: qdp as u8,
                per_unit,
            });
        }
        let by_symbol = entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.symbol.clone(), i as u32))
            .collect();
        let by_lower = entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.lower.clone(), i as u32))
            .collect();
        SymTable {
            venue,
            entries,
            cum,
            by_symbol,
            by_lower,
        }
    }

    /// Number of symbols.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Native symbol of entry `i`.
    pub fn symbol(&self, i: u32) -> &str {
        self.entries
            .get(i as usize)
            .map_or("?", |e| e.symbol.as_str())
    }

    /// Lowercase symbol of entry `i` (Binance stream names).
    pub fn lower(&self, i: u32) -> &str {
        self.entries
            .get(i as usize)
            .map_or("?", |e| e.lower.as_str())
    }

    /// The entry of a native symbol.
    pub fn index_of(&self, symbol: &str) -> Option<u32> {
        self.by_symbol.get(symbol).copied()
    }

    /// The entry of a lowercase symbol.
    pub fn index_of_lower(&self, lower: &str) -> Option<u32> {
        self.by_lower.get(lower).copied()
    }

    fn inst<'a>(&self, u: &'a Universe, i: u32) -> Option<&'a Instrument> {
        let e = self.entries.get(i as usize)?;
        book(u, self.venue).list.get(e.book_index)
    }

    fn pick(&self, x: f64) -> u32 {
        let total = self.cum.last().copied().unwrap_or(0.0);
        let target = x * total;
        let i = self.cum.partition_point(|&c| c <= target);
        i.min(self.entries.len().saturating_sub(1)) as u32
    }
}

fn ticks(x: f64, dp: u8) -> u64 {
    (x * 10f64.powi(i32::from(dp))).round().max(1.0) as u64
}

/// Price decimals: Binance and Bybit about 6 significant digits, Hyperliquid 5.
fn pdp(venue: Venue, mark: f64) -> u8 {
    match venue {
        Venue::Hyperliquid => {
            let mag = if mark > 0.0 {
                mark.log10().floor() as i64
            } else {
                0
            };
            (4 - mag).clamp(0, 6) as u8
        }
        _ => price_decimals(mark) as u8,
    }
}

/// Event `k` of `venue` at time `t` (`id` not set).
fn make_event(u: &Universe, table: &SymTable, key: u64, k: u64, t: u64) -> Option<LiqEvent> {
    if table.len() == 0 {
        return None;
    }
    let h = mix(key, k);
    let sym = table.pick(unit(mix(h, 1)));
    let inst = table.inst(u, sym)?;
    let entry = table.entries.get(sym as usize)?;
    let (qdp, per_unit) = (entry.qdp, entry.per_unit);
    let mark = u.price(inst, t);
    let long = unit(mix(h, 2)) < LONG_SHARE;
    let notional = 25.0 * (11.0 * unit(mix(h, 3)).powi(2)).exp();
    let off = 0.001 + 0.014 * unit(mix(h, 4)).powi(2);
    let s = if long { 1.0 } else { -1.0 };
    let pdp = pdp(table.venue, mark);
    let price = match table.venue {
        Venue::Hyperliquid => mark * (1.0 - s * off * 0.25),
        _ => mark * (1.0 - s * off),
    };
    let avg = mark * (1.0 - s * off * 0.5 * unit(mix(h, 5)));
    Some(LiqEvent {
        id: 0,
        sym,
        t,
        long,
        qty: if inst.quote == "USD" {
            ticks(notional / per_unit, qdp)
        } else {
            ticks(notional / mark / per_unit, qdp)
        },
        qdp,
        price: ticks(price, pdp),
        avg: ticks(avg, pdp),
        mark: ticks(mark, pdp),
        pdp,
    })
}

/// Per symbol: the last event time and the quantities already used at it.
type Recent = Vec<(u64, HashSet<u64>)>;

/// The state of one venue's generator.
#[derive(Debug)]
struct Generator {
    venue: Venue,
    key: u64,
    seq: u64,
    owed: f64,
    last_t: Option<u64>,
    recent: Recent,
    /// Binance 1 s sampling: the latest event per symbol.
    pending: Vec<Option<LiqEvent>>,
}

impl Generator {
    fn new(venue: Venue, seed: u64, symbols: usize) -> Generator {
        Generator {
            venue,
            key: mix(seed, hash_str(&format!("liquidations/{venue}"))),
            seq: 0,
            owed: 0.0,
            last_t: None,
            recent: vec![(0, HashSet::new()); symbols],
            pending: vec![None; symbols],
        }
    }

    /// Events due after `dt` seconds at `rate` per second.
    fn due(&mut self, rate: f64, dt: f64, paused: bool) -> u64 {
        if paused || rate <= 0.0 {
            self.owed = 0.0;
            return 0;
        }
        self.owed = (self.owed + rate * dt).min((rate * 2.0).max(1.0));
        let n = self.owed.floor();
        self.owed -= n;
        n as u64
    }

    /// `n` events spread over the time since the last tick, up to `now`.
    fn generate(&mut self, u: &Universe, table: &SymTable, now: u64, n: u64) -> Vec<LiqEvent> {
        let t0 = self.last_t.unwrap_or(now);
        self.last_t = Some(now);
        let mut out = Vec::with_capacity(n as usize);
        for i in 0..n {
            let t = if now > t0 {
                t0 + (i + 1) * (now - t0) / n
            } else {
                now
            };
            let k = self.seq + 1;
            let Some(mut ev) = make_event(u, table, self.key, k, t) else {
                break;
            };
            self.seq = k;
            ev.id = k;
            if self.venue != Venue::Hyperliquid {
                self.make_unique(&mut ev);
            }
            out.push(ev);
        }
        out
    }

    /// Raises the quantity until (symbol, time, qty) is new, so any key holding those three is
    /// unique.
    fn make_unique(&mut self, ev: &mut LiqEvent) {
        let Some((t, used)) = self.recent.get_mut(ev.sym as usize) else {
            return;
        };
        if *t != ev.t {
            *t = ev.t;
            used.clear();
        }
        if used.len() >= UNIQUE_WINDOW {
            return;
        }
        while used.contains(&ev.qty) {
            ev.qty += 1;
        }
        used.insert(ev.qty);
    }

    /// Binance sampling: keeps the latest event per symbol; counts what it replaces.
    fn sample(&mut self, events: Vec<LiqEvent>) -> u64 {
        let mut replaced = 0;
        for ev in events {
            if let Some(slot) = self.pending.get_mut(ev.sym as usize) {
                if slot.is_some() {
                    replaced += 1;
                }
                *slot = Some(ev);
            }
        }
        replaced
    }

    /// The sampled events of the window just ended, in time order.
    fn flush_sample(&mut self) -> Vec<LiqEvent> {
        let mut out: Vec<LiqEvent> = self.pending.iter_mut().filter_map(Option::take).collect();
        out.sort_by_key(|e| (e.t, e.id));
        out
    }
}

/// Runs the generator of `venue` until the task is aborted.
pub(crate) async fn run(st: Arc<AppState>, venue: Venue) {
    let hub = &st.ws;
    let table = hub.table(venue).clone();
    let tick_ms = match venue {
        Venue::Bybit => hub.config.bybit_push_ms.max(1),
        _ => TICK_MS,
    };
    let sample = venue == Venue::Binance && hub.config.binance_sample_1s;
    let ticks_per_sample = (1000 / TICK_MS).max(1);
    let mut g = Generator::new(venue, st.seed, table.len());
    let mut interval = tokio::time::interval(Duration::from_millis(tick_ms));
    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let counters = hub.counters(venue);
    let mut last = Instant::now();
    let mut tick: u64 = 0;
    loop {
        interval.tick().await;
        tick += 1;
        let now = Instant::now();
        let dt = now.duration_since(last).as_secs_f64();
        last = now;
        let n = g.due(hub.rate(venue), dt, hub.paused(venue));
        let t = st.clock.now_ms();
        let events = g.generate(&st.universe, &table, t, n);
        add(&counters.generated, events.len() as u64);
        match venue {
            Venue::Hyperliquid => {
                if events.is_empty() {
                    continue;
                }
                let logged = lock(&hub.hl_book).add(&events, g.key);
                let sent_ms = wall_ms();
                add(&counters.sent, logged.len() as u64);
                hub.log(venue).extend(
                    logged
                        .iter()
                        .map(|ev| SentRec::new(ev, 0, StreamKind::Fills, false, sent_ms)),
                );
            }
            _ => {
                let events = if sample {
                    add(&counters.sampled_out, g.sample(events));
                    if !tick.is_multiple_of(ticks_per_sample) {
                        continue;
                    }
                    g.flush_sample()
                } else {
                    events
                };
                if events.is_empty() {
                    continue;
                }
                if let Some(feed) = hub.feed(venue) {
                    // No receiver: nobody is connected, nothing is sent.
                    let _ = feed.send(Arc::new(Batch { push_ms: t, events }));
                }
            }
        }
    }
}

/// A fill of a liquidator vault.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HlFill {
    tid: u64,
    oid: u64,
    t: u64,
    sym: u32,
    buy: bool,
    sz: u64,
    szdp: u8,
    px: u64,
    pxdp: u8,
    start: i64,
    closed_pnl_micro: i64,
    fee_micro: i64,
    /// (liquidated user key, mark price ticks) of a takeover; `None` for an unwind.
    liq: Option<(u64, u64)>,
    hash: u64,
}

/// A fill as Hyperliquid's `userFills`/`userFillsByTime` return it (fields in the venue's
/// order).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FillOut {
    coin: String,
    px: String,
    sz: String,
    side: &'static str,
    time: u64,
    start_position: String,
    dir: &'static str,
    closed_pnl: String,
    hash: String,
    oid: u64,
    crossed: bool,
    fee: String,
    tid: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    liquidation: Option<FillLiquidationOut>,
    fee_token: &'static str,
    twap_id: Option<u64>,
}

/// The `liquidation` block of a fill.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FillLiquidationOut {
    liquidated_user: String,
    mark_px: String,
    method: &'static str,
}

fn dir(buy: bool, start: i64, sz: i64) -> &'static str {
    match (buy, start) {
        (true, s) if s >= 0 => "Open Long",
        (true, s) if sz <= -s => "Close Short",
        (true, _) => "Short > Long",
        (false, s) if s <= 0 => "Open Short",
        (false, s) if sz <= s => "Close Long",
        (false, _) => "Long > Short",
    }
}

fn hex_words(words: &[u64]) -> String {
    let mut s = String::from("0x");
    for w in words {
        let _ = write!(s, "{w:016x}");
    }
    s
}

/// The fills of Hyperliquid's liquidator vaults: per vault the latest
/// [`crate::WsConfig::hyperliquid_fills_available`], in time order.
#[derive(Debug)]
pub(crate) struct HlBook {
    users: Vec<String>,
    fills: Vec<VecDeque<HlFill>>,
    capacity: usize,
    positions: HashMap<(usize, u32), i64>,
    next_tid: u64,
    next_oid: u64,
    last_t: u64,
}

impl HlBook {
    /// An empty book for these vault addresses.
    pub fn new(users: &[String], capacity: usize) -> HlBook {
        HlBook {
            users: users.iter().map(|u| u.to_ascii_lowercase()).collect(),
            fills: users.iter().map(|_| VecDeque::new()).collect(),
            capacity,
            positions: HashMap::new(),
            next_tid: TID_BASE,
            next_oid: OID_BASE,
            last_t: 0,
        }
    }

    fn push(&mut self, user: usize, fill: HlFill) {
        if let Some(q) = self.fills.get_mut(user) {
            if q.len() >= self.capacity {
                q.pop_front();
            }
            if self.capacity > 0 {
                q.push_back(fill);
            }
        }
    }

    fn ids(&mut self, h: u64) -> (u64, u64) {
        let tid = self.next_tid;
        let oid = self.next_oid;
        self.next_tid += 1 + h % 7;
        self.next_oid += 1 + (h >> 8) % 3;
        (tid, oid)
    }

    /// Records the takeovers of `events` (and the unwinds that follow some); returns the
    /// liquidation events with their `tid` as id and their final time.
    pub fn add(&mut self, events: &[LiqEvent], key: u64) -> Vec<LiqEvent> {
        let mut out = Vec::with_capacity(events.len());
        let n_users = self.users.len().max(1) as u64;
        for ev in events {
            let h = mix(key ^ 0x4C1D, ev.id);
            let user = (mix(h, 7) % n_users) as usize;
            let t = ev.t.max(self.last_t);
            self.last_t = t;
            let sz = ev.qty as i64;
            let signed = if ev.long { sz } else { -sz };
            let pos = self.positions.entry((user, ev.sym)).or_insert(0);
            let start = *pos;
            let closed = if start.signum() * signed.signum() < 0 {
                start.abs().min(sz)
            } else {
                0
            };
            let notional = |lots: i64, px: u64| {
                lots as f64 * px as f64 / 10f64.powi(i32::from(ev.qdp) + i32::from(ev.pdp))
            };
            let pnl = notional(closed, ev.price) * 0.02 * (unit(mix(h, 11)) - 0.45);
            *pos += signed;
            let end = *pos;
            let (tid, oid) = self.ids(h);
            self.push(
                user,
                HlFill {
                    tid,
                    oid,
                    t,
                    sym: ev.sym,
                    buy: ev.long,
                    sz: ev.qty,
                    szdp: ev.qdp,
                    px: ev.price,
                    pxdp: ev.pdp,
                    start,
                    closed_pnl_micro: (pnl * 1e6).round() as i64,
                    fee_micro: 0,
                    liq: Some((mix(h, 9), ev.mark)),
                    hash: mix(h, 12),
                },
            );
            out.push(LiqEvent { id: tid, t, ..*ev });
            if end != 0 && unit(mix(h, 10)) < UNWIND_SHARE {
                // The vault sells what it took over (or buys back) on the book.
                let buy = end < 0;
                let lots = end.abs();
                let s = if buy { 1.0 } else { -1.0 };
                let px = ((ev.mark as f64) * (1.0 + s * 0.0004)).round().max(1.0) as u64;
                let n = notional(lots, px);
                let (tid, oid) = self.ids(mix(h, 13));
                if let Some(pos) = self.positions.get_mut(&(user, ev.sym)) {
                    *pos = 0;
                }
                self.push(
                    user,
                    HlFill {
                        tid,
                        oid,
                        t,
                        sym: ev.sym,
                        buy,
                        sz: lots as u64,
                        szdp: ev.qdp,
                        px,
                        pxdp: ev.pdp,
                        start: end,
                        closed_pnl_micro: (n * 0.03 * (unit(mix(h, 14)) - 0.4) * 1e6).round()
                            as i64,
                        fee_micro: (n * 0.00035 * 1e6).round() as i64,
                        liq: None,
                        hash: mix(h, 15),
                    },
                );
            }
        }
        out
    }

    fn user_index(&self, user: &str) -> Option<usize> {
        let user = user.trim().to_ascii_lowercase();
        self.users.iter().position(|u| *u == user)
    }

    /// The first `limit` fills of `user` with `start <= time <= end`, ascending.
    pub fn by_time(&self, user: &str, start: u64, end: Option<u64>, limit: usize) -> Vec<HlFill> {
        let Some(q) = self.user_index(user).and_then(|i| self.fills.get(i)) else {
            return Vec::new();
        };
        let from = q.partition_point(|f| f.t < start);
        q.range(from..)
            .take_while(|f| end.is_none_or(|e| f.t <= e))
            .take(limit)
            .copied()
            .collect()
    }

    /// The latest `limit` fills of `user`, newest first.
    pub fn recent(&self, user: &str, limit: usize) -> Vec<HlFill> {
        let Some(q) = self.user_index(user).and_then(|i| self.fills.get(i)) else {
            return Vec::new();
        };
        q.iter().rev().take(limit).copied().collect()
    }

    /// A fill in the venue's JSON shape.
    pub fn render(&self, table: &SymTable, f: &HlFill) -> FillOut {
        let hash = hex_words(&[
            mix(f.hash, 1),
            mix(f.hash, 2),
            mix(f.hash, 3),
            mix(f.hash, 4),
        ]);
        FillOut {
            coin: table.symbol(f.sym).to_string(),
            px: units_text(f.px as i64, f.pxdp, true),
            sz: units_text(f.sz as i64, f.szdp, true),
            side: if f.buy { "B" } else { "A" },
            time: f.t,
            start_position: units_text(f.start, f.szdp, true),
            dir: dir(f.buy, f.start, f.sz as i64),
            closed_pnl: units_text(f.closed_pnl_micro, 6, true),
            hash,
            oid: f.oid,
            crossed: f.liq.is_none(),
            fee: units_text(f.fee_micro, 6, true),
            tid: f.tid,
            liquidation: f.liq.map(|(user, mark)| FillLiquidationOut {
                liquidated_user: {
                    let mut s = hex_words(&[mix(user, 1), mix(user, 2)]);
                    let _ = write!(s, "{:08x}", mix(user, 3) >> 32);
                    s
                },
                mark_px: units_text(mark as i64, f.pxdp, true),
                method: "backstop",
            }),
            fee_token: "USDC",
            twap_id: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_767_225_600_000;

    #[test]
    fn units_are_written_like_the_venues() {
        assert_eq!(units_text(9910, 0, false), "9910");
        assert_eq!(units_text(14, 3, false), "0.014");
        assert_eq!(units_text(4499, 5, false), "0.04499");
        assert_eq!(units_text(666530, 1, true), "66653.0");
        assert_eq!(units_text(0, 4, true), "0.0");
        assert_eq!(units_text(-213, 4, true), "-0.0213");
        assert_eq!(units_text(20000, 0, false), "20000");
    }

    #[test]
    fn events_are_seeded_unique_and_near_the_mark() {
        let u = Universe::new(1, 12, 30, NOW);
        let table = SymTable::new(&u, Venue::Binance);
        let mut a = Generator::new(Venue::Binance, 1, table.len());
        let mut b = Generator::new(Venue::Binance, 1, table.len());
        let ea = a.generate(&u, &table, NOW, 5000);
        let eb = b.generate(&u, &table, NOW, 5000);
        assert_eq!(ea, eb);
        let keys: std::collections::HashSet<_> = ea.iter().map(|e| (e.sym, e.t, e.qty)).collect();
        assert_eq!(keys.len(), ea.len(), "natural keys are unique");
        let longs = ea.iter().filter(|e| e.long).count();
        assert!((2400..3100).contains(&longs), "{longs}");
        for e in &ea {
            let dev = (e.price as f64 - e.mark as f64).abs() / e.mark as f64;
            assert!(dev < 0.02, "{e:?}");
            assert!(e.qty >= 1);
            if e.long {
                assert!(e.price <= e.mark, "{e:?}");
            } else {
                assert!(e.price >= e.mark, "{e:?}");
            }
        }
        let syms: std::collections::HashSet<u32> = ea.iter().map(|e| e.sym).collect();
        assert!(syms.len() >= 10, "spread over symbols: {}", syms.len());
    }

    #[test]
    fn due_is_bounded() {
        let mut g = Generator::new(Venue::Bybit, 1, 1);
        assert_eq!(g.due(10.0, 0.5, false), 5);
        assert_eq!(g.due(10.0, 1000.0, false), 20);
        assert_eq!(g.due(10.0, 0.5, true), 0);
        assert_eq!(g.due(0.5, 1.0, false), 0);
        assert_eq!(g.due(0.5, 1.0, false), 1);
    }

    #[test]
    fn hyperliquid_fills_track_the_vault_position() {
        let u = Universe::new(3, 8, 30, NOW);
        let table = SymTable::new(&u, Venue::Hyperliquid);
        let mut g = Generator::new(Venue::Hyperliquid, 3, table.len());
        let events = g.generate(&u, &table, NOW, 400);
        let mut book = HlBook::new(&[crate::ws::HLP_LIQUIDATOR.to_string()], 10_000);
        let logged = book.add(&events, g.key);
        assert_eq!(logged.len(), 400);
        let fills = book.by_time(crate::ws::HLP_LIQUIDATOR, 0, None, 10_000);
        assert!(fills.len() > 400, "unwinds too: {}", fills.len());
        let mut tids: Vec<u64> = fills.iter().map(|f| f.tid).collect();
        tids.dedup();
        assert_eq!(tids.len(), fills.len());
        let mut pos: HashMap<u32, i64> = HashMap::new();
        for f in &fills {
            let p = pos.entry(f.sym).or_insert(0);
            assert_eq!(*p, f.start, "startPosition follows the fills");
            *p += if f.buy { f.sz as i64 } else { -(f.sz as i64) };
        }
        let out = serde_json::to_value(book.render(&table, &fills[0])).unwrap();
        assert_eq!(out["liquidation"]["method"], "backstop");
        assert_eq!(out["hash"].as_str().map(str::len), Some(66));
        assert_eq!(
            out["liquidation"]["liquidatedUser"].as_str().map(str::len),
            Some(42)
        );
        assert!(
            book.by_time("0x0000000000000000000000000000000000000001", 0, None, 10)
                .is_empty()
        );
    }
}
