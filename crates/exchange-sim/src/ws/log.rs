//! What the simulator reports about its WebSocket side: the bounded log of every liquidation
//! it sent (compact records, turned into [`SentLiquidation`]s on demand) and lock-free
//! counters per venue.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::Venue;
use crate::ws::generator::{LiqEvent, SymTable, write_units};
use crate::ws::{PositionSide, SentLiquidation, WsStats};

/// Which stream an entry went out on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StreamKind {
    /// Binance `!forceOrder@arr`.
    AllMarket,
    /// Binance `<symbol>@forceOrder`, Bybit `allLiquidation.<SYMBOL>`.
    Symbol,
    /// Hyperliquid `userFillsByTime` (logged when generated).
    Fills,
}

/// One log entry, compact (56 bytes, so a million entries take about 56 MB).
#[derive(Debug, Clone, Copy)]
pub(crate) struct SentRec {
    id: u64,
    t: u64,
    sent_ms: u64,
    qty: u64,
    price: u64,
    /// Connection id, 0 for none.
    conn: u32,
    sym: u32,
    qdp: u8,
    pdp: u8,
    long: bool,
    kind: StreamKind,
    malformed: bool,
}

impl SentRec {
    /// An entry for `ev` sent on `conn` (0: none) at wall-clock `sent_ms`.
    pub fn new(ev: &LiqEvent, conn: u64, kind: StreamKind, malformed: bool, sent_ms: u64) -> Self {
        SentRec {
            id: ev.id,
            t: ev.t,
            sent_ms,
            qty: ev.qty,
            price: ev.price,
            conn: u32::try_from(conn).unwrap_or(u32::MAX),
            sym: ev.sym,
            qdp: ev.qdp,
            pdp: ev.pdp,
            long: ev.long,
            kind,
            malformed,
        }
    }

    /// The same entry sent at `sent_ms`.
    pub fn at(self, sent_ms: u64) -> Self {
        SentRec { sent_ms, ..self }
    }
}

/// The latest entries of one venue, and counts of the rest.
#[derive(Debug)]
pub(crate) struct SentLog {
    recs: VecDeque<SentRec>,
    capacity: usize,
    dropped: u64,
}

impl SentLog {
    /// Empty, keeping at most `capacity` entries.
    pub fn new(capacity: usize) -> SentLog {
        SentLog {
            recs: VecDeque::new(),
            capacity,
            dropped: 0,
        }
    }

    /// Appends entries, dropping the oldest beyond the capacity.
    pub fn extend(&mut self, recs: impl IntoIterator<Item = SentRec>) {
        for r in recs {
            if self.capacity == 0 {
                self.dropped += 1;
                continue;
            }
            if self.recs.len() >= self.capacity {
                self.recs.pop_front();
                self.dropped += 1;
            }
            self.recs.push_back(r);
        }
    }

    /// Entries kept.
    pub fn len(&self) -> usize {
        self.recs.len()
    }

    /// Entries no longer kept.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.recs.clear();
        self.dropped = 0;
    }

    /// Public entries: the `skip` oldest left out, at most `limit`, only connection `conn`.
    pub fn entries(
        &self,
        venue: Venue,
        table: &SymTable,
        skip: usize,
        limit: usize,
        conn: Option<u64>,
    ) -> Vec<SentLiquidation> {
        self.recs
            .iter()
            .skip(skip)
            .filter(|r| conn.is_none_or(|c| u64::from(r.conn) == c))
            .take(limit)
            .map(|r| public(venue, table, r))
            .collect()
    }
}

fn public(venue: Venue, table: &SymTable, r: &SentRec) -> SentLiquidation {
    let symbol = table.symbol(r.sym).to_string();
    let hl = venue == Venue::Hyperliquid;
    let mut qty = String::new();
    write_units(&mut qty, r.qty as i64, r.qdp, hl);
    let mut price = String::new();
    write_units(&mut price, r.price as i64, r.pdp, hl);
    let venue_side = match (venue, r.long) {
        (Venue::Binance, true) => "SELL",
        (Venue::Binance, false) => "BUY",
        (Venue::Bybit, true) => "Buy",
        (Venue::Bybit, false) => "Sell",
        (Venue::Hyperliquid, true) => "B",
        (Venue::Hyperliquid, false) => "A",
        (Venue::Okx, true) => "sell",
        (Venue::Okx, false) => "buy",
    };
    let stream = match (venue, r.kind) {
        (_, StreamKind::Fills) => "userFillsByTime".to_string(),
        (Venue::Binance, StreamKind::AllMarket) => "!forceOrder@arr".to_string(),
        (Venue::Binance, _) => format!("{}@forceOrder", table.lower(r.sym)),
        (Venue::Okx, _) => "liquidation-orders:SWAP".to_string(),
        (_, _) => format!("allLiquidation.{symbol}"),
    };
    SentLiquidation {
        venue,
        id: r.id,
        symbol,
        time_ms: r.t,
        side: if r.long {
            PositionSide::Long
        } else {
            PositionSide::Short
        },
        venue_side: venue_side.to_string(),
        qty,
        price,
        stream,
        conn_id: (r.conn != 0).then_some(u64::from(r.conn)),
        malformed: r.malformed,
        sent_ms: r.sent_ms,
    }
}

/// Why a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CloseReason {
    /// The client sent a close frame.
    ClientClose,
    /// The client's socket ended or failed.
    ClientGone,
    /// The `server_close` fault.
    ServerClose,
    /// The `tcp_drop` fault.
    TcpDrop,
    /// `rotate_after_secs`.
    Rotate,
    /// Bybit / Hyperliquid inactivity.
    IdleTimeout,
    /// Binance: no pong in time.
    PongTimeout,
    /// Binance: more than the allowed incoming messages per second.
    TooManyMessages,
    /// The simulator shut down.
    Shutdown,
}

impl CloseReason {
    const ALL: [CloseReason; 9] = [
        CloseReason::ClientClose,
        CloseReason::ClientGone,
        CloseReason::ServerClose,
        CloseReason::TcpDrop,
        CloseReason::Rotate,
        CloseReason::IdleTimeout,
        CloseReason::PongTimeout,
        CloseReason::TooManyMessages,
        CloseReason::Shutdown,
    ];

    fn name(self) -> &'static str {
        match self {
            CloseReason::ClientClose => "client_close",
            CloseReason::ClientGone => "client_gone",
            CloseReason::ServerClose => "server_close",
            CloseReason::TcpDrop => "tcp_drop",
            CloseReason::Rotate => "rotate",
            CloseReason::IdleTimeout => "idle_timeout",
            CloseReason::PongTimeout => "pong_timeout",
            CloseReason::TooManyMessages => "too_many_messages",
            CloseReason::Shutdown => "shutdown",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Counters of one venue.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub opened: AtomicU64,
    pub closed: AtomicU64,
    pub current: AtomicU64,
    pub subscriptions: AtomicU64,
    pub subscribe_requests: AtomicU64,
    pub subscribe_rejected: AtomicU64,
    pub frames_sent: AtomicU64,
    pub data_frames_sent: AtomicU64,
    pub malformed_frames: AtomicU64,
    pub messages_received: AtomicU64,
    pub pings_sent: AtomicU64,
    pub pongs_received: AtomicU64,
    pub pings_received: AtomicU64,
    pub pongs_sent: AtomicU64,
    pub generated: AtomicU64,
    pub sent: AtomicU64,
    pub sampled_out: AtomicU64,
    pub lagged_batches: AtomicU64,
    closes: [AtomicU64; 9],
}

/// Adds `n` to a counter.
pub(crate) fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

/// Subtracts `n` from a gauge, never below 0.
pub(crate) fn sub(c: &AtomicU64, n: u64) {
    let _ = c.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
        Some(v.saturating_sub(n))
    });
}

impl Counters {
    /// A connection ended.
    pub fn closed_for(&self, reason: CloseReason) {
        add(&self.closed, 1);
        sub(&self.current, 1);
        add(&self.closes[reason.index()], 1);
    }

    /// A copy for readers.
    pub fn snapshot(&self) -> WsStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let closes: BTreeMap<String, u64> = CloseReason::ALL
            .into_iter()
            .map(|r| (r.name().to_string(), get(&self.closes[r.index()])))
            .filter(|&(_, n)| n > 0)
            .collect();
        WsStats {
            connections_opened: get(&self.opened),
            connections_closed: get(&self.closed),
            connections_current: get(&self.current),
            subscriptions: get(&self.subscriptions),
            subscribe_requests: get(&self.subscribe_requests),
            subscribe_rejected: get(&self.subscribe_rejected),
            frames_sent: get(&self.frames_sent),
            data_frames_sent: get(&self.data_frames_sent),
            malformed_frames: get(&self.malformed_frames),
            messages_received: get(&self.messages_received),
            pings_sent: get(&self.pings_sent),
            pongs_received: get(&self.pongs_received),
            pings_received: get(&self.pings_received),
            pongs_sent: get(&self.pongs_sent),
            liquidations_generated: get(&self.generated),
            liquidations_sent: get(&self.sent),
            liquidations_sampled_out: get(&self.sampled_out),
            lagged_batches: get(&self.lagged_batches),
            closes,
        }
    }

    /// Clears every counter except the gauges (current connections, subscriptions).
    pub fn reset(&self) {
        for c in [
            &self.opened,
            &self.closed,
            &self.subscribe_requests,
            &self.subscribe_rejected,
            &self.frames_sent,
            &self.data_frames_sent,
            &self.malformed_frames,
            &self.messages_received,
            &self.pings_sent,
            &self.pongs_received,
            &self.pings_received,
            &self.pongs_sent,
            &self.generated,
            &self.sent,
            &self.sampled_out,
            &self.lagged_batches,
        ] {
            c.store(0, Ordering::Relaxed);
        }
        for c in &self.closes {
            c.store(0, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_stay_small() {
        assert!(std::mem::size_of::<SentRec>() <= 56);
    }
}
