//! A small deterministic, synthetic dataset for trying the tools offline (`catalog.example/`).
//!
//! The numbers are made up (a seeded random walk), but shaped like the real thing: 5-minute
//! open interest, settled funding every 8 h on Binance and Bybit and every hour on Hyperliquid
//! plus one live estimate per instrument, liquidations from the WebSocket (Binance, Bybit)
//! and from polling (Hyperliquid backstop fills), and price data: 1-hour trade (`LAST`) bars on
//! every venue and mark-price (`MARK`) bars on Binance and Bybit (Hyperliquid has no mark
//! candles), built from the same price walk (so liquidation prices fall inside their bars),
//! with the instruments' real precisions; two hours missing from Hyperliquid's BTC bars on the
//! second day (a venue's hole, for `query bars --gaps`); and a mark and an index price with every
//! open interest snapshot.

use ccxt_model::time::NANOS_PER_SECOND;
use ccxt_model::{
    Bar, BarInterval, BarPrice, BarType, FundingRate, Gap, IndexPrice, Instrument, Liquidation,
    LiquidationSource, MarkPrice, OpenInterest, PositionSide, Precision, SymbolInput, Venue,
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
    /// 1-hour bars: trade bars on every venue, mark-price bars on Binance and Bybit.
    pub bars: Vec<Bar>,
    /// Mark prices, one per open interest snapshot.
    pub mark_prices: Vec<MarkPrice>,
    /// Index prices, one per open interest snapshot.
    pub index_prices: Vec<IndexPrice>,
}

/// The hours (from the start) missing from Hyperliquid's BTC trade bars in the demo: a venue's
/// hole on the second day, 06:00 to 08:00.
pub const DEMO_MISSING_HOURS: [u64; 2] = [30, 31];

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
        // TEMP glue: the demo keeps its three venues (OKX is not in it yet).
        let venues = Venue::ALL.into_iter().filter(|v| *v != Venue::Okx);
        for (vi, venue) in venues.enumerate() {
            let Ok(instrument) = input.resolve(venue) else {
                continue;
            };
            let mut rng = Rng(seed * 1000 + vi as u64);
            let walk = demo_instrument(&mut data, &instrument, &mut rng, price0, oi0, days);
            let mut price_rng = Rng(seed * 1000 + vi as u64 + 500);
            demo_prices(&mut data, &instrument, &walk, &mut price_rng);
        }
    }
    data
}

/// Writes the open interest, funding and liquidations of one instrument; returns the price walk
/// (one price per 5-minute step) the price data is built from.
fn demo_instrument(
    data: &mut DemoData,
    instrument: &Instrument,
    rng: &mut Rng,
    price0: f64,
    oi0: f64,
    days: u32,
) -> Vec<f64> {
    let mut walk = Vec::new();
    let step = 300 * NANOS_PER_SECOND;
    let steps = u64::from(days) * 288;
    let venue_share = match instrument.venue {
        Venue::Binance => 1.0,
        Venue::Bybit => 0.6,
        Venue::Hyperliquid => 0.35,
        Venue::Okx => 0.45,
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
        walk.push(price);
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
                Venue::Okx => (
                    if long { "sell" } else { "buy" },
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
    walk
}

/// The instrument's precision as its venue's tick and lot sizes give it (Binance BTCUSDT tick
/// 0.10, lot 0.001; Hyperliquid `6 − szDecimals` price decimals).
fn demo_precision(instrument: &Instrument) -> Precision {
    let btc = instrument.native.starts_with("BTC");
    let (price, size) = match (instrument.venue, btc) {
        (Venue::Binance, true) => (1, 3),
        (Venue::Binance, false) => (2, 3),
        (Venue::Bybit, true) => (1, 3),
        (Venue::Bybit, false) => (2, 2),
        (Venue::Hyperliquid, true) => (1, 5),
        (Venue::Hyperliquid, false) => (2, 4),
        (Venue::Okx, true) => (1, 2),
        (Venue::Okx, false) => (2, 2),
    };
    Precision { price, size }
}

/// `x` rounded to `decimals` decimals, exactly.
fn dec(x: f64, decimals: u8) -> Decimal {
    Decimal::new(
        (x * 10f64.powi(i32::from(decimals))).round() as i64,
        u32::from(decimals),
    )
}

/// The decimals a venue's mark and index prices come with: Binance 8 (`premiumIndex`), Bybit
/// the tick (`tickers`), Hyperliquid at most 5 significant figures (`metaAndAssetCtxs`).
fn snapshot_decimals(instrument: &Instrument, precision: Precision) -> u8 {
    match instrument.venue {
        Venue::Binance => 8,
        Venue::Bybit => precision.price,
        Venue::Hyperliquid => precision.price.saturating_sub(1),
        Venue::Okx => precision.price,
    }
}

/// Bars, mark and index prices of one instrument from its 5-minute price walk.
fn demo_prices(data: &mut DemoData, instrument: &Instrument, walk: &[f64], rng: &mut Rng) {
    let precision = demo_precision(instrument);
    let step = 300 * NANOS_PER_SECOND;
    // The mark trades a little above the index; the premium drifts.
    let mut premium = 0.0002;
    let mut marks = Vec::with_capacity(walk.len());
    let decimals = snapshot_decimals(instrument, precision);
    for (i, price) in walk.iter().enumerate() {
        premium = (premium + (rng.unit() - 0.5) * 0.0001).clamp(-0.001, 0.001);
        let index = price * (1.0 - premium / 2.0);
        let mark = index * (1.0 + premium);
        marks.push(mark);
        let ts = DEMO_START_NS + i as u64 * step;
        data.mark_prices.push(MarkPrice {
            instrument_id: instrument.id.clone(),
            value: dec(mark, decimals),
            ts_event: ts,
            ts_init: ts + 85_000_000,
        });
        data.index_prices.push(IndexPrice {
            instrument_id: instrument.id.clone(),
            value: dec(index, decimals),
            ts_event: ts,
            ts_init: ts + 85_000_000,
        });
    }
    let mut series = vec![(BarPrice::Last, walk.to_vec())];
    if instrument.venue != Venue::Hyperliquid {
        series.push((BarPrice::Mark, marks));
    }
    let hl_btc = instrument.venue == Venue::Hyperliquid && instrument.native == "BTC";
    for (price_type, prices) in series {
        let bar_type = BarType::new(instrument.id.clone(), BarInterval::H1, price_type);
        for (hour, steps) in prices.chunks_exact(12).enumerate() {
            let volume = steps
                .iter()
                .map(|p| 2.0e6 / p * (0.2 + rng.unit()))
                .sum::<f64>();
            if hl_btc && price_type == BarPrice::Last && DEMO_MISSING_HOURS.contains(&(hour as u64))
            {
                continue;
            }
            let p = precision.price;
            let (open, close) = (dec(steps[0], p), dec(steps[11], p));
            let max = steps.iter().copied().fold(f64::MIN, f64::max);
            let min = steps.iter().copied().fold(f64::MAX, f64::min);
            let high = dec(max * (1.0 + rng.unit() * 0.0005), p)
                .max(open)
                .max(close);
            let low = dec(min * (1.0 - rng.unit() * 0.0005), p)
                .min(open)
                .min(close);
            let close_ns = DEMO_START_NS + (hour as u64 + 1) * 3_600 * NANOS_PER_SECOND;
            data.bars.push(Bar {
                bar_type: bar_type.clone(),
                open,
                high,
                low,
                close,
                volume: match price_type {
                    BarPrice::Last => dec(volume, precision.size),
                    BarPrice::Mark => Decimal::ZERO,
                },
                precision,
                ts_event: close_ns,
                ts_init: close_ns,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_bars_pass_the_sanity_rules_and_hold_the_liquidations() {
        let data = demo_data(2);
        assert_eq!(
            data.bars.len(),
            6 * 48 + 4 * 48 - DEMO_MISSING_HOURS.len(),
            "1h last bars on 6 instruments, mark bars on 4"
        );
        for bar in &data.bars {
            assert_eq!(bar.check(), Ok(()), "{bar:?}");
        }
        assert_eq!(data.mark_prices.len(), 6 * 2 * 288);
        assert_eq!(data.index_prices.len(), 6 * 2 * 288);
        // Every liquidation's fill lies within 0.2 % of its hour's trade bar.
        for liq in &data.liquidations {
            let Some(bar) = data.bars.iter().find(|b| {
                b.bar_type.instrument_id == liq.instrument_id
                    && b.bar_type.price == BarPrice::Last
                    && b.open_ns() <= liq.ts_event
                    && liq.ts_event < b.ts_event
            }) else {
                continue;
            };
            let price = dec(liq.price, 2);
            let slack = bar.high * Decimal::new(2, 3);
            assert!(
                price <= bar.high + slack && price >= bar.low - slack,
                "{liq:?} {bar:?}"
            );
        }
        // Deterministic.
        assert_eq!(demo_data(2).bars, data.bars);
    }
}
