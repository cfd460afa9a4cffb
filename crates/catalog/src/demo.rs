//! A small deterministic, synthetic dataset for trying the tools offline (`catalog.example/`).
//!
//! The numbers are made up (a seeded random walk), but shaped like the real thing: 5-minute
//! open interest, settled funding every 8 h on Binance and Bybit and every hour on Hyperliquid
//! plus one live estimate per instrument, and liquidations from the WebSocket (Binance, Bybit)
//! and from polling (Hyperliquid backstop fills).

use ccxt_model::time::NANOS_PER_SECOND;
use ccxt_model::{
    FundingRate, Gap, Instrument, Liquidation, LiquidationSource, OpenInterest, PositionSide,
    SymbolInput, Venue,
};
use rust_decimal::Decimal;

/// 2025-01-01T00:00:00Z.
pub const DEMO_START_NS: u64 = 1_735_689_600 * NANOS_PER_SECOND;

/// The rows of the demo dataset.
#[derive(Debug, Default)]
pub struct DemoData {
    /// Open interest.
    pub open_interest: Vec<OpenInterest>,
    /// Funding rates.
    pub funding: Vec<FundingRate>,
    /// Liquidations.
    pub liquidations: Vec<Liquidation>,
    /// Stream gaps (one reconnect per venue).
    pub gaps: Vec<Gap>,
}

/// splitmix64: tiny, seedable, identical on every platform.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Rounds to `digits` decimals so values print the way venues send them.
fn round(x: f64, digits: i32) -> f64 {
    let p = 10f64.powi(digits);
    (x * p).round() / p
}

/// Builds `days` days of data for BTCUSDT-PERP and ETHUSDT-PERP on every venue.
pub fn demo_data(days: u32) -> DemoData {
    let mut data = DemoData::default();
    // One reconnect per venue on the second day, as a live collector records them.
    for (i, (venue, stream, reason)) in [
        (
            Venue::Binance,
            "!forceOrder@arr",
            "server closed the connection (rotation after 24 h)",
        ),
        (
            Venue::Bybit,
            "allLiquidation.BTCUSDT,ETHUSDT",
            "no frame for 40 s (2 heartbeats): reconnected",
        ),
        (
            Venue::Hyperliquid,
            "userFillsByTime 0x2e3d94f0562703b25c83308a05046ddaf9a8dd14",
            "poll failed: HTTP 502",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let start =
            DEMO_START_NS + 86_400 * NANOS_PER_SECOND + (3 + i as u64) * 3_600 * NANOS_PER_SECOND;
        let end = start + (2 + 3 * i as u64) * NANOS_PER_SECOND + 250_000_000;
        data.gaps.push(Gap {
            venue,
            stream: stream.to_string(),
            start_ns: start,
            end_ns: end,
            reason: reason.to_string(),
            ts_init: end + 1_000_000,
        });
    }
    let markets = [
        ("BTCUSDT-PERP", 94_000.0, 80_000.0, 1u64),
        ("ETHUSDT-PERP", 3_400.0, 1_900_000.0, 2),
    ];
    for (symbol, price0, oi0, seed) in markets {
        let Ok(input) = SymbolInput::parse(symbol) else {
            continue;
        };
        for (vi, venue) in Venue::ALL.into_iter().enumerate() {
            let Ok(instrument) = input.resolve(venue) else {
                continue;
            };
            let mut rng = Rng(seed * 1000 + vi as u64);
            demo_instrument(&mut data, &instrument, &mut rng, price0, oi0, days);
        }
    }
    data
}

fn demo_instrument(
    data: &mut DemoData,
    instrument: &Instrument,
    rng: &mut Rng,
    price0: f64,
    oi0: f64,
    days: u32,
) {
    let step = 300 * NANOS_PER_SECOND;
    let steps = u64::from(days) * 288;
    let venue_share = match instrument.venue {
        Venue::Binance => 1.0,
        Venue::Bybit => 0.6,
        Venue::Hyperliquid => 0.35,
    };
    let mut price = price0;
    let mut oi = oi0 * venue_share;
    let (funding_every, interval) = match instrument.venue {
        Venue::Hyperliquid => (12, 60u16),
        _ => (96, 480u16),
    };
    for i in 0..steps {
        let ts = DEMO_START_NS + i * step;
        price *= 1.0 + (rng.unit() - 0.5) * 0.004;
        oi *= 1.0 + (rng.unit() - 0.5) * 0.01;
        let oi_rounded = round(oi, 3);
        data.open_interest.push(OpenInterest {
            instrument_id: instrument.id.clone(),
            open_interest: oi_rounded,
            open_interest_value: Some(round(oi_rounded * price, 2)),
            ts_event: ts,
            ts_init: ts,
        });
        if i % funding_every == 0 {
            // Around 0.01 % per 8 h (0.00125 % per hour), in whole 1e-8 steps like the venues.
            let base = if interval == 60 { 1_250 } else { 10_000 };
            let mantissa = base + (rng.next_u64() % 4_001) as i64 - 2_000;
            data.funding.push(FundingRate {
                instrument_id: instrument.id.clone(),
                rate: Decimal::new(mantissa, 8),
                interval_minutes: Some(interval),
                next_funding_ns: None,
                ts_event: ts,
                ts_init: ts,
            });
        }
        if rng.unit() < 0.12 {
            let long = rng.unit() < 0.55;
            let quantity = round(oi0 * 1e-5 * (0.05 + rng.unit() * 3.0), 3);
            let fill = round(price * if long { 0.999 } else { 1.001 }, 2);
            let event = ts + (rng.next_u64() % 300_000) * 1_000_000;
            let (order_side, source, method, trade_id) = match instrument.venue {
                Venue::Binance => (
                    if long { "SELL" } else { "BUY" },
                    LiquidationSource::Ws,
                    None,
                    None,
                ),
                Venue::Bybit => (
                    if long { "Buy" } else { "Sell" },
                    LiquidationSource::Ws,
                    None,
                    None,
                ),
                Venue::Hyperliquid => (
                    if long { "A" } else { "B" },
                    LiquidationSource::Poll,
                    Some("backstop".to_string()),
                    Some((rng.next_u64() % 1_000_000_000_000_000).to_string()),
                ),
            };
            data.liquidations.push(Liquidation {
                instrument_id: instrument.id.clone(),
                side: if long {
                    PositionSide::Long
                } else {
                    PositionSide::Short
                },
                order_side: order_side.to_string(),
                quantity,
                price: fill,
                value: round(quantity * fill, 2),
                source,
                method,
                trade_id,
                ts_event: event,
                // Live rows: received a little after the venue's time.
                ts_init: event + 40_000_000 + rng.next_u64() % 200_000_000,
            });
        }
    }
    // One live estimate of the next funding, as a snapshot taken at the end.
    let end = DEMO_START_NS + steps * step;
    let period = u64::from(interval) * 60 * NANOS_PER_SECOND;
    data.funding.push(FundingRate {
        instrument_id: instrument.id.clone(),
        rate: Decimal::new(if interval == 60 { 1_187 } else { 8_915 }, 8),
        interval_minutes: Some(interval),
        next_funding_ns: Some(end + period),
        ts_event: end - NANOS_PER_SECOND,
        ts_init: end - NANOS_PER_SECOND + 85_000_000,
    });
}
