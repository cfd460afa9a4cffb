//! The records ccxt-pipeline stores: open interest, funding rates, liquidations, stream gaps,
//! and price data (bars, mark and index prices; see [`crate::Bar`]).
//!
//! Timestamps are UNIX nanoseconds, as in NautilusTrader: `ts_event` is when the venue says the
//! thing happened, `ts_init` when we learned of it. For history fetched after the fact
//! `ts_init == ts_event` (NautilusTrader's convention for historical data); for live data
//! `ts_init` is the local receive time. The catalog sorts, names files and filters queries by
//! `ts_init`.

use std::fmt;

use rust_decimal::Decimal;

use crate::{InstrumentId, Venue};

/// The kinds of record the catalog stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecordKind {
    /// [`OpenInterest`].
    OpenInterest,
    /// [`FundingRate`].
    FundingRate,
    /// [`Liquidation`].
    Liquidation,
    /// [`Bar`](crate::Bar): OHLCV candles (trade or mark price), one dataset per bar type.
    Bar,
    /// [`MarkPrice`](crate::MarkPrice): the venue's mark price.
    MarkPrice,
    /// [`IndexPrice`](crate::IndexPrice): the venue's index (oracle) price.
    IndexPrice,
    /// [`Gap`]: a stretch of time a stream did not cover.
    Gap,
}

impl RecordKind {
    /// Every kind, in display order.
    pub const ALL: [RecordKind; 7] = [
        RecordKind::OpenInterest,
        RecordKind::FundingRate,
        RecordKind::Liquidation,
        RecordKind::Bar,
        RecordKind::MarkPrice,
        RecordKind::IndexPrice,
        RecordKind::Gap,
    ];

    /// The short name used on the command line (`query oi`).
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::OpenInterest => "oi",
            RecordKind::FundingRate => "funding",
            RecordKind::Liquidation => "liquidations",
            RecordKind::Bar => "bars",
            RecordKind::MarkPrice => "mark",
            RecordKind::IndexPrice => "index",
            RecordKind::Gap => "gaps",
        }
    }
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Open interest of one instrument at one time.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenInterest {
    /// The instrument.
    pub instrument_id: InstrumentId,
    /// Open interest in base units (contracts × contract size), as the venue reports it.
    pub open_interest: f64,
    /// The same in USD notional, when the venue reports it or a mark price is known.
    pub open_interest_value: Option<f64>,
    /// Venue time of the figure, UNIX ns.
    pub ts_event: u64,
    /// Time we received it (live) or `ts_event` (history), UNIX ns.
    pub ts_init: u64,
}

/// A funding rate: either a settled rate (history) or the live estimate for the next funding.
#[derive(Debug, Clone, PartialEq)]
pub struct FundingRate {
    /// The instrument.
    pub instrument_id: InstrumentId,
    /// The rate per funding interval, exactly as the venue's decimal string (never via f64).
    pub rate: Decimal,
    /// The funding interval in minutes (480 = 8 h); `None` if the venue did not say.
    pub interval_minutes: Option<u16>,
    /// When the estimated rate will be charged, UNIX ns. `None` for settled history rows,
    /// which is how a settled rate is told from a live estimate (see [`FundingRate::kind`]).
    pub next_funding_ns: Option<u64>,
    /// Venue time: the funding time for settled rates, the quote time for estimates; UNIX ns.
    pub ts_event: u64,
    /// Time we received it (live) or `ts_event` (history), UNIX ns.
    pub ts_init: u64,
}

/// Whether a stored funding rate was charged or is an estimate of the next charge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FundingKind {
    /// A rate that was charged at `ts_event` (history).
    Settled,
    /// A live estimate of the rate to be charged at `next_funding_ns`.
    Estimate,
}

impl FundingKind {
    /// `settled` or `estimate`.
    pub fn as_str(self) -> &'static str {
        match self {
            FundingKind::Settled => "settled",
            FundingKind::Estimate => "estimate",
        }
    }
}

impl FundingRate {
    /// Settled (no next funding time) or estimate (has one).
    pub fn kind(&self) -> FundingKind {
        match self.next_funding_ns {
            None => FundingKind::Settled,
            Some(_) => FundingKind::Estimate,
        }
    }
}

/// Formats a funding interval in minutes the way users read it: `8h`, `1h`, `30m`, `1h30m`.
pub fn format_interval(minutes: u16) -> String {
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m}m"),
        (h, 0) => format!("{h}h"),
        (h, m) => format!("{h}h{m}m"),
    }
}

/// The side of the position that was liquidated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PositionSide {
    /// A long position was liquidated (the venue sold it).
    Long,
    /// A short position was liquidated (the venue bought it back).
    Short,
}

impl PositionSide {
    /// `LONG` or `SHORT`.
    pub fn as_str(self) -> &'static str {
        match self {
            PositionSide::Long => "LONG",
            PositionSide::Short => "SHORT",
        }
    }

    /// Reads `LONG`/`SHORT` (any case).
    pub fn parse(s: &str) -> Option<PositionSide> {
        match s.to_ascii_uppercase().as_str() {
            "LONG" => Some(PositionSide::Long),
            "SHORT" => Some(PositionSide::Short),
            _ => None,
        }
    }
}

/// How a liquidation reached us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LiquidationSource {
    /// Pushed by the venue's WebSocket.
    Ws,
    /// Found by polling a REST endpoint.
    Poll,
}

impl LiquidationSource {
    /// `ws` or `poll`.
    pub fn as_str(self) -> &'static str {
        match self {
            LiquidationSource::Ws => "ws",
            LiquidationSource::Poll => "poll",
        }
    }

    /// Reads `ws`/`poll`.
    pub fn parse(s: &str) -> Option<LiquidationSource> {
        match s {
            "ws" => Some(LiquidationSource::Ws),
            "poll" => Some(LiquidationSource::Poll),
            _ => None,
        }
    }
}

/// A forced liquidation.
#[derive(Debug, Clone, PartialEq)]
pub struct Liquidation {
    /// The instrument.
    pub instrument_id: InstrumentId,
    /// The position that was liquidated.
    pub side: PositionSide,
    /// The venue's raw side of the liquidation order (Binance `SELL`, Bybit `Buy`, Hyperliquid `A`).
    pub order_side: String,
    /// Quantity in base units.
    pub quantity: f64,
    /// Price (Binance average fill price, Bybit bankruptcy price, Hyperliquid fill price).
    pub price: f64,
    /// USD notional, `quantity × price`.
    pub value: f64,
    /// WebSocket push or REST poll.
    pub source: LiquidationSource,
    /// Hyperliquid's liquidation method (`market` or `backstop`); `None` elsewhere.
    pub method: Option<String>,
    /// The venue's trade id, when it gives one (Hyperliquid `tid`); used to de-duplicate polls.
    pub trade_id: Option<String>,
    /// Venue time of the liquidation, UNIX ns.
    pub ts_event: u64,
    /// Time we received it, UNIX ns.
    pub ts_init: u64,
}

/// A stretch of time a stream did not cover: a disconnect, a failed subscription, a poll that
/// could not reach the venue. Liquidations in it are lost for good (no venue replays them), so
/// the gap itself is stored, per venue and stream, for anyone judging completeness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    /// The venue.
    pub venue: Venue,
    /// Which stream (`!forceOrder@arr`, `allLiquidation.BTCUSDT,…`, `userFillsByTime 0x2e3d…`).
    pub stream: String,
    /// Last moment covered before the gap (last frame received), UNIX ns.
    pub start_ns: u64,
    /// First moment covered again (resubscribed, or the poll succeeded), UNIX ns.
    pub end_ns: u64,
    /// Why (`server closed`, `no frame for 60 s`, `subscription rejected: …`, `shutdown`).
    pub reason: String,
    /// When the gap was recorded, UNIX ns.
    pub ts_init: u64,
}

impl Gap {
    /// Length of the gap in nanoseconds.
    pub fn duration_ns(&self) -> u64 {
        self.end_ns.saturating_sub(self.start_ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_read_like_humans_write_them() {
        assert_eq!(format_interval(480), "8h");
        assert_eq!(format_interval(60), "1h");
        assert_eq!(format_interval(30), "30m");
        assert_eq!(format_interval(90), "1h30m");
        assert_eq!(format_interval(0), "0m");
    }

    #[test]
    fn funding_kind_follows_next_funding_time() {
        let mut f = FundingRate {
            instrument_id: InstrumentId::new_unchecked("BTCUSDT-PERP.BINANCE"),
            rate: "0.0001".parse().unwrap(),
            interval_minutes: Some(480),
            next_funding_ns: None,
            ts_event: 1,
            ts_init: 1,
        };
        assert_eq!(f.kind(), FundingKind::Settled);
        f.next_funding_ns = Some(2);
        assert_eq!(f.kind(), FundingKind::Estimate);
    }
}
