//! The seeded universe and its data: which instruments each venue lists, and pure functions of
//! (seed, venue, symbol, time bucket) for prices, open interest and funding rates, so any page
//! asked for twice, or in any order, has the same rows.
//!
//! Symbols: base assets `BTC, ETH, SOL, XRP, DOGE, 1000PEPE`, then generated `S0007, S0008, …`
//! (the number is the 1-based position) up to [`crate::SimConfig::symbols`]. Binance and Bybit
//! list `<BASE>USDT`; Hyperliquid lists the coin, with `1000X` as `kX` (`kPEPE`). Each venue adds
//! fixed extras (see [`Universe::new`]). The six majors have the full history; generated
//! assets are listed at a seeded day inside the first three quarters of the history.
//!
//! Time grids: open interest every 5 minutes (coarser periods report the last 5-minute value
//! of their bucket, once the bucket is complete); funding every 8 h on Binance and Bybit
//! except a few symbols on 4 h / 1 h, every hour on Hyperliquid. Binance funding times carry a
//! few ms of seeded jitter and Hyperliquid's up to 150 ms, as the real venues' do.

use std::collections::HashMap;
use std::f64::consts::TAU;

use crate::Venue;
use crate::format::{ddmonyy, yymmdd};

/// One minute in ms.
pub(crate) const MINUTE: u64 = 60_000;
/// Five minutes in ms: the open-interest grid.
pub(crate) const MIN5: u64 = 5 * MINUTE;
/// One hour in ms.
pub(crate) const HOUR: u64 = 60 * MINUTE;
/// One day in ms.
pub(crate) const DAY: u64 = 24 * HOUR;

/// The splitmix64 mixer: a fast, well-distributed 64-bit hash step.
pub(crate) fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Hash of two words.
pub(crate) fn mix(a: u64, b: u64) -> u64 {
    splitmix64(a ^ splitmix64(b))
}

/// FNV-1a of a string, then mixed.
pub(crate) fn hash_str(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    splitmix64(h)
}

/// A hash as a float in `[0, 1)`.
pub(crate) fn unit(x: u64) -> f64 {
    (x >> 11) as f64 / (1u64 << 53) as f64
}

// Stream tags, so different quantities never share noise.
const T_PRICE: u64 = 1;
const T_PRICE_VENUE: u64 = 2;
const T_OI: u64 = 3;
const T_FUND: u64 = 4;
const T_SPIKE: u64 = 5;
const T_JITTER: u64 = 6;
const T_PRED: u64 = 7;
const T_LIST: u64 = 8;
const T_INTERVAL: u64 = 9;
const T_GEN: u64 = 10;

/// A base asset: the shared shape of its prices and open interest on every venue.
#[derive(Debug, Clone)]
pub(crate) struct Asset {
    /// `BTC`, `1000PEPE`, `S0007`.
    pub base: String,
    /// Typical price in USD.
    pub price: f64,
    /// Typical Binance open interest in USD.
    pub oi_usd: f64,
    /// First day with data.
    pub listed_ms: u64,
    /// Seeded key of the asset.
    pub key: u64,
}

/// Perpetual or dated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Contract {
    /// No expiry, funding.
    Perpetual,
    /// Delivers at `delivery_ms`, no funding.
    Delivery {
        /// Delivery time.
        delivery_ms: u64,
    },
}

/// Listing state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    /// Trading.
    Trading,
    /// Listed, pre-market: open interest but no funding yet.
    PreLaunch,
    /// Delisted at `at_ms`: data stops there, current values stay frozen.
    Delisted {
        /// Delisting time.
        at_ms: u64,
    },
}

/// One instrument of one venue.
#[derive(Debug, Clone)]
pub(crate) struct Instrument {
    /// Venue-native symbol (`BTCUSDT`, `kPEPE`, `xyz:TSLA`).
    pub symbol: String,
    /// Index into [`Universe::assets`].
    pub asset: usize,
    /// Perpetual or dated.
    pub contract: Contract,
    /// Listing state.
    pub status: Status,
    /// Quote / settle asset (`USDT`, `USDC`).
    pub quote: &'static str,
    /// Funding interval in hours, 0 for dated contracts.
    pub funding_hours: u32,
    /// First time with data.
    pub launch_ms: u64,
    /// Seeded key of (venue, symbol).
    pub key: u64,
    /// This venue's share of the asset's open interest.
    pub oi_scale: f64,
    /// Price multiplier (basis of dated contracts).
    pub price_bias: f64,
    /// Binance: the funding cap/floor were adjusted, so `fundingInfo` lists it even at 8 h.
    pub adjusted_cap: bool,
    /// 1-based position among the base assets (0 for extras).
    pub position: usize,
}

impl Instrument {
    /// Data exists up to this time.
    pub fn data_end(&self, now: u64) -> u64 {
        match self.status {
            Status::Delisted { at_ms } => now.min(at_ms),
            _ => now,
        }
    }

    /// Whether this is a perpetual.
    pub fn is_perpetual(&self) -> bool {
        self.contract == Contract::Perpetual
    }

    /// Funding interval in ms, `None` if the instrument has no funding (dated, pre-launch).
    pub fn funding_step(&self) -> Option<u64> {
        if self.funding_hours == 0 || self.status == Status::PreLaunch {
            None
        } else {
            Some(u64::from(self.funding_hours) * HOUR)
        }
    }

    /// Whether it is trading.
    pub fn is_trading(&self) -> bool {
        self.status == Status::Trading
    }
}

/// The instruments of one venue (or Hyperliquid dex), in listing order, with a lookup.
#[derive(Debug, Clone, Default)]
pub(crate) struct Book {
    /// In the order the venue lists them.
    pub list: Vec<Instrument>,
    index: HashMap<String, usize>,
}

impl Book {
    fn push(&mut self, inst: Instrument) {
        self.index.insert(inst.symbol.clone(), self.list.len());
        self.list.push(inst);
    }

    fn insert(&mut self, at: usize, inst: Instrument) {
        let at = at.min(self.list.len());
        self.list.insert(at, inst);
        self.index = self
            .list
            .iter()
            .enumerate()
            .map(|(i, x)| (x.symbol.clone(), i))
            .collect();
    }

    /// The instrument with this exact symbol.
    pub fn get(&self, symbol: &str) -> Option<&Instrument> {
        self.index.get(symbol).and_then(|&i| self.list.get(i))
    }
}

/// Everything the simulator lists, built once at start.
#[derive(Debug, Clone)]
pub(crate) struct Universe {
    /// Base assets, then the extras' assets.
    pub assets: Vec<Asset>,
    /// Binance USD-M.
    pub binance: Book,
    /// Bybit linear.
    pub bybit: Book,
    /// Hyperliquid main dex.
    pub hl_main: Book,
    /// Hyperliquid builder dex `xyz`.
    pub hl_xyz: Book,
    /// OKX swaps (`BTC-USDT-SWAP`, …).
    pub okx: Book,
}

const MAJORS: [(&str, f64, f64); 6] = [
    ("BTC", 95_000.0, 8.0e9),
    ("ETH", 3_300.0, 5.0e9),
    ("SOL", 180.0, 1.5e9),
    ("XRP", 2.3, 1.2e9),
    ("DOGE", 0.32, 8.0e8),
    ("1000PEPE", 0.012, 4.0e8),
];

/// Funding interval (hours) on `venue` of the base asset at 1-based `position`.
fn funding_hours(venue: Venue, position: usize, key: u64) -> u32 {
    if position <= MAJORS.len() {
        return 8;
    }
    // S0007 and S0008 are always off 8 h so every run with 8+ symbols has both cases.
    match (venue, position) {
        (Venue::Binance, 7) | (Venue::Bybit, 8) => return 4,
        (Venue::Binance, 8) | (Venue::Bybit, 7) => return 1,
        _ => {}
    }
    let u = unit(mix(key, T_INTERVAL));
    if u < 0.08 {
        4
    } else if u < 0.12 {
        1
    } else {
        8
    }
}

/// Hyperliquid's name for a base asset: `1000PEPE` → `kPEPE`.
pub(crate) fn hl_coin(base: &str) -> String {
    match base.strip_prefix("1000") {
        Some(rest) => format!("k{rest}"),
        None => base.to_string(),
    }
}

impl Universe {
    /// Builds the universe for `symbols` base assets, anchored on the day of `now_ms`.
    ///
    /// Extras on top of the base assets:
    /// * Binance: `BTCUSDC` (USDC perpetual), `LOOMUSDT` (perpetual, `SETTLING`, delisted 20 days
    ///   before the start day), `BTCUSDT_YYMMDD` (`CURRENT_QUARTER`, delivers in ~60 days).
    /// * Bybit: `BTCPERP` (USDC perpetual), `BTC-DDMONYY` (`LinearFutures`), `LOOMUSDT`
    ///   (`Closed`), `BIOUSDT` (`PreLaunch`).
    /// * Hyperliquid: `LOOM` (`isDelisted`, at index 2), `PURR` (only on Hyperliquid), and the
    ///   builder dex `xyz` with `xyz:TSLA`, `xyz:NVDA`.
    /// * OKX: `BTC-USD-SWAP` (inverse), `TSLA-USDT-SWAP` (stock perpetual), `LOOM-USDT-SWAP`
    ///   (delisted 20 days before the start day), `PURR-USDT-SWAP` (delisting announced for 10
    ///   days after it), `BIO-USDT-SWAP` (pre-open, listing the next day).
    pub fn new(seed: u64, symbols: usize, history_days: u32, now_ms: u64) -> Universe {
        let day0 = now_ms / DAY * DAY;
        let history_start = day0.saturating_sub(u64::from(history_days) * DAY);
        let gen_span_days = (u64::from(history_days) * 3 / 4).max(1);
        let mut assets = Vec::new();
        for position in 1..=symbols.max(1) {
            let (base, price, oi_usd, listed) = match MAJORS.get(position - 1) {
                Some(&(base, price, oi)) => (base.to_string(), price, oi, history_start),
                None => {
                    let base = format!("S{position:04}");
                    let k = mix(seed, hash_str(&base));
                    let price = 10f64.powf(-3.0 + 5.7 * unit(mix(k, T_GEN)));
                    let oi = 10f64.powf(6.0 + 2.7 * unit(mix(k, T_GEN + 100)));
                    let offset = mix(k, T_LIST) % gen_span_days;
                    (base, price, oi, (history_start + offset * DAY).min(day0))
                }
            };
            let key = mix(seed, hash_str(&base));
            assets.push(Asset {
                base,
                price,
                oi_usd,
                listed_ms: listed,
                key,
            });
        }
        let n = assets.len();
        let mut extra = |base: &str, price: f64, oi_usd: f64, listed_ms: u64| {
            assets.push(Asset {
                base: base.to_string(),
                price,
                oi_usd,
                listed_ms,
                key: mix(seed, hash_str(base)),
            });
            assets.len() - 1
        };
        let loom = extra("LOOM", 0.06, 2.0e7, history_start);
        let bio = extra("BIO", 0.25, 5.0e6, day0.saturating_sub(2 * DAY));
        let purr = extra("PURR", 0.2, 3.0e7, history_start);
        let tsla = extra("TSLA", 430.0, 4.0e7, day0.saturating_sub(60 * DAY));
        let nvda = extra("NVDA", 180.0, 3.0e7, day0.saturating_sub(60 * DAY));
        let delist_at = day0.saturating_sub(20 * DAY).max(history_start);
        let delivery = day0 + 60 * DAY + 8 * HOUR;

        let make = |venue: Venue,
                    symbol: String,
                    asset: usize,
                    assets: &[Asset],
                    position: usize,
                    oi_scale: f64|
         -> Instrument {
            let a = &assets[asset];
            Instrument {
                key: mix(mix(seed, venue.index() as u64 + 1), hash_str(&symbol)),
                funding_hours: match venue {
                    Venue::Hyperliquid => 1,
                    _ => funding_hours(venue, position, mix(a.key, venue.index() as u64)),
                },
                symbol,
                asset,
                contract: Contract::Perpetual,
                status: Status::Trading,
                quote: "USDT",
                launch_ms: a.listed_ms,
                oi_scale,
                price_bias: 1.0,
                adjusted_cap: false,
                position,
            }
        };

        let mut binance = Book::default();
        let mut bybit = Book::default();
        let mut hl_main = Book::default();
        for (i, a) in assets.iter().take(n).enumerate() {
            let mut b = make(
                Venue::Binance,
                format!("{}USDT", a.base),
                i,
                &assets,
                i + 1,
                1.0,
            );
            b.adjusted_cap = a.base == "DOGE";
            binance.push(b);
            bybit.push(make(
                Venue::Bybit,
                format!("{}USDT", a.base),
                i,
                &assets,
                i + 1,
                0.6,
            ));
            hl_main.push(make(
                Venue::Hyperliquid,
                hl_coin(&a.base),
                i,
                &assets,
                i + 1,
                0.35,
            ));
        }

        // Binance extras.
        let mut x = make(Venue::Binance, "BTCUSDC".into(), 0, &assets, 0, 0.05);
        x.quote = "USDC";
        binance.push(x);
        let mut x = make(Venue::Binance, "LOOMUSDT".into(), loom, &assets, 0, 1.0);
        x.status = Status::Delisted { at_ms: delist_at };
        binance.push(x);
        let mut x = make(
            Venue::Binance,
            format!("BTCUSDT_{}", yymmdd(delivery)),
            0,
            &assets,
            0,
            0.02,
        );
        x.contract = Contract::Delivery {
            delivery_ms: delivery,
        };
        x.funding_hours = 0;
        x.price_bias = 1.004;
        x.launch_ms = delivery.saturating_sub(150 * DAY).max(history_start);
        binance.push(x);

        // Bybit extras.
        let mut x = make(Venue::Bybit, "BTCPERP".into(), 0, &assets, 0, 0.03);
        x.quote = "USDC";
        bybit.push(x);
        let mut x = make(
            Venue::Bybit,
            format!("BTC-{}", ddmonyy(delivery)),
            0,
            &assets,
            0,
            0.01,
        );
        x.contract = Contract::Delivery {
            delivery_ms: delivery,
        };
        x.funding_hours = 0;
        x.price_bias = 1.004;
        x.launch_ms = delivery.saturating_sub(150 * DAY).max(history_start);
        bybit.push(x);
        let mut x = make(Venue::Bybit, "LOOMUSDT".into(), loom, &assets, 0, 0.6);
        x.status = Status::Delisted { at_ms: delist_at };
        bybit.push(x);
        let mut x = make(Venue::Bybit, "BIOUSDT".into(), bio, &assets, 0, 0.6);
        x.status = Status::PreLaunch;
        bybit.push(x);

        // OKX: every base asset as a USDT-margined swap, then the extras.
        let mut okx = Book::default();
        for (i, a) in assets.iter().take(n).enumerate() {
            okx.push(make(
                Venue::Okx,
                format!("{}-USDT-SWAP", a.base),
                i,
                &assets,
                i + 1,
                0.45,
            ));
        }
        let mut x = make(Venue::Okx, "BTC-USD-SWAP".into(), 0, &assets, 0, 0.08);
        x.quote = "USD";
        okx.push(x);
        okx.push(make(
            Venue::Okx,
            "TSLA-USDT-SWAP".into(),
            tsla,
            &assets,
            0,
            0.5,
        ));
        let mut x = make(Venue::Okx, "LOOM-USDT-SWAP".into(), loom, &assets, 0, 0.45);
        x.status = Status::Delisted { at_ms: delist_at };
        okx.push(x);
        let mut x = make(Venue::Okx, "PURR-USDT-SWAP".into(), purr, &assets, 0, 0.45);
        x.status = Status::Delisted {
            at_ms: day0 + 10 * DAY,
        };
        okx.push(x);
        let mut x = make(Venue::Okx, "BIO-USDT-SWAP".into(), bio, &assets, 0, 0.45);
        x.status = Status::PreLaunch;
        x.launch_ms = day0 + DAY;
        okx.push(x);

        // Hyperliquid extras.
        let mut x = make(Venue::Hyperliquid, "LOOM".into(), loom, &assets, 0, 0.35);
        x.status = Status::Delisted { at_ms: delist_at };
        hl_main.insert(2, x);
        hl_main.push(make(
            Venue::Hyperliquid,
            "PURR".into(),
            purr,
            &assets,
            0,
            1.0,
        ));
        let mut hl_xyz = Book::default();
        hl_xyz.push(make(
            Venue::Hyperliquid,
            "xyz:TSLA".into(),
            tsla,
            &assets,
            0,
            1.0,
        ));
        hl_xyz.push(make(
            Venue::Hyperliquid,
            "xyz:NVDA".into(),
            nvda,
            &assets,
            0,
            1.0,
        ));

        Universe {
            assets,
            binance,
            bybit,
            hl_main,
            hl_xyz,
            okx,
        }
    }

    /// The asset of an instrument.
    pub fn asset(&self, inst: &Instrument) -> &Asset {
        // Instruments are only built with indices of `assets`.
        &self.assets[inst.asset.min(self.assets.len().saturating_sub(1))]
    }

    /// Mark price of the instrument at the 5-minute bucket holding `t`.
    pub fn price(&self, inst: &Instrument, t: u64) -> f64 {
        let a = self.asset(inst);
        let b = t / MIN5;
        let tt = (b * MIN5) as f64;
        let ph = |i: u64| unit(mix(a.key, T_PRICE * 1000 + i)) * TAU;
        let x = 0.18 * (TAU * tt / (37.0 * DAY as f64) + ph(1)).sin()
            + 0.07 * (TAU * tt / (5.3 * DAY as f64) + ph(2)).sin()
            + 0.02 * (TAU * tt / (9.7 * HOUR as f64) + ph(3)).sin()
            + 0.004 * (unit(mix(mix(a.key, T_PRICE), b)) - 0.5);
        let venue_noise = 1.0 + 0.0004 * (unit(mix(mix(inst.key, T_PRICE_VENUE), b)) - 0.5);
        a.price * x.exp() * venue_noise * inst.price_bias
    }

    /// Index (spot) price: the mark without the venue's noise and a small premium.
    pub fn index_price(&self, inst: &Instrument, t: u64) -> f64 {
        self.price(inst, t) * (1.0 - 0.0002 * (unit(mix(inst.key, t / MIN5)) - 0.3))
    }

    /// Open interest in base units at the 5-minute bucket holding `t`.
    pub fn oi(&self, inst: &Instrument, t: u64) -> f64 {
        let a = self.asset(inst);
        let b = t / MIN5;
        let tt = (b * MIN5) as f64;
        let ph = |i: u64| unit(mix(inst.key, T_OI * 1000 + i)) * TAU;
        let y = 0.22 * (TAU * tt / (23.0 * DAY as f64) + ph(1)).sin()
            + 0.06 * (TAU * tt / (2.1 * DAY as f64) + ph(2)).sin()
            + 0.01 * (unit(mix(mix(inst.key, T_OI), b)) - 0.5);
        a.oi_usd / a.price * inst.oi_scale * (1.0 + y)
    }

    /// The 8-hour-equivalent funding rate shape of an asset at `t` (shared across venues).
    fn rate8(&self, inst: &Instrument, t: u64) -> f64 {
        let a = self.asset(inst);
        let ph = unit(mix(a.key, T_FUND * 1000)) * TAU;
        let mut r = 0.0001
            + 0.00012 * (TAU * t as f64 / (13.0 * DAY as f64) + ph).sin()
            + 0.00006 * (unit(mix(mix(inst.key, T_FUND), t / HOUR)) - 0.5);
        let spike = unit(mix(mix(inst.key, T_SPIKE), t / HOUR));
        if spike < 0.01 {
            r += if spike < 0.005 { 0.002 } else { -0.002 };
        }
        r
    }

    /// Settled funding rate at funding time `t` (the grid time), in units of 1e-8, for Binance
    /// and Bybit: the 8-hour shape scaled to the instrument's interval, capped at ±3%.
    pub fn funding_units(&self, inst: &Instrument, t: u64) -> i64 {
        let hours = f64::from(inst.funding_hours.max(1));
        let r = (self.rate8(inst, t) * hours / 8.0).clamp(-0.03, 0.03);
        (r * 1e8).round() as i64
    }

    /// The live estimate at `now` of the rate to be settled at the next funding time: the
    /// settled value plus noise that shrinks as the time approaches.
    pub fn predicted_units(&self, inst: &Instrument, now: u64) -> i64 {
        let Some(step) = inst.funding_step() else {
            return 0;
        };
        let next = next_multiple(now, step);
        let settled = self.funding_units(inst, next);
        let left = (next.saturating_sub(now)) as f64 / step as f64;
        let noise = (unit(mix(mix(inst.key, T_PRED), now / MINUTE)) - 0.5) * 4000.0 * left;
        settled + noise.round() as i64
    }

    /// Hyperliquid hourly funding at hour `t`: (rate in 1e-10 units, premium in 1e-8 units).
    pub fn hl_funding(&self, inst: &Instrument, t: u64) -> (i64, i64) {
        let r1 = (self.rate8(inst, t) / 8.0).clamp(-0.04, 0.04);
        let rate = (r1 * 1e10).round() as i64;
        let premium = ((r1 * 8.0 - 0.0001) * 1e8).round() as i64;
        (rate, premium)
    }

    /// The funding grid of `inst` on `venue` up to `now`: settled funding times.
    pub fn funding_grid(&self, venue: Venue, inst: &Instrument, now: u64) -> Grid {
        match inst.funding_step() {
            Some(step) => Grid::new(inst.launch_ms, inst.data_end(now), step).with_jitter(
                match venue {
                    Venue::Binance => Jitter::Binance,
                    Venue::Hyperliquid => Jitter::Hyperliquid,
                    Venue::Bybit | Venue::Okx => Jitter::None,
                },
                mix(inst.key, T_JITTER),
            ),
            None => Grid::empty(),
        }
    }
}

/// OKX contract face value `ctVal` of an instrument as a power of ten: a linear swap's contract
/// is worth about 1000 USD of the base coin (BTC 0.01, ETH 0.1), an inverse swap's 100 USD.
pub(crate) fn okx_ct_exp(inst: &Instrument, asset_price: f64) -> i32 {
    if inst.quote == "USD" {
        return 2;
    }
    let x = (1000.0 / asset_price.max(1e-12)).log10().round();
    (x as i32).clamp(-4, 7)
}

/// OKX lot size decimals (`lotSz` = `minSz` = 10^-d contracts): 2 for BTC and ETH (as on the
/// venue since 2025), 1 for the other majors, 0 for the rest.
pub(crate) fn okx_lot_decimals(inst: &Instrument) -> u8 {
    match inst.position {
        1 | 2 => 2,
        3..=6 => 1,
        _ => 0,
    }
}

/// Whether an OKX instrument is a stock perpetual (`instCategory` 3).
pub(crate) fn okx_is_stock(inst: &Instrument) -> bool {
    inst.symbol.starts_with("TSLA-") || inst.symbol.starts_with("NVDA-")
}

/// The smallest multiple of `step` strictly after `t`.
pub(crate) fn next_multiple(t: u64, step: u64) -> u64 {
    if step == 0 {
        return t;
    }
    (t / step).saturating_add(1).saturating_mul(step)
}

/// At most `limit` indices of `[lo, hi)`: the first ones (`first`) or the last ones.
pub(crate) fn take(lo: u64, hi: u64, limit: u64, first: bool) -> (u64, u64) {
    if first {
        (lo, hi.min(lo.saturating_add(limit)))
    } else {
        (hi.saturating_sub(limit).max(lo), hi)
    }
}

/// Which venue's jitter a grid carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Jitter {
    /// Exact times.
    None,
    /// 0..6 ms on a third of the rows.
    Binance,
    /// 0..150 ms.
    Hyperliquid,
}

/// Evenly spaced event times `first + k*step` (`k < count`), optionally with per-event jitter
/// smaller than the step, so times stay increasing. Queries find index ranges by binary search,
/// so no query walks the whole history.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Grid {
    first: u64,
    step: u64,
    count: u64,
    jitter: Jitter,
    key: u64,
}

impl Grid {
    /// No events.
    pub fn empty() -> Grid {
        Grid {
            first: 0,
            step: 1,
            count: 0,
            jitter: Jitter::None,
            key: 0,
        }
    }

    /// Events at the multiples of `step` in `[from, to]`.
    pub fn new(from: u64, to: u64, step: u64) -> Grid {
        if step == 0 {
            return Grid::empty();
        }
        let first = from.div_ceil(step).saturating_mul(step);
        let count = if first > to {
            0
        } else {
            (to - first) / step + 1
        };
        Grid {
            first,
            step,
            count,
            jitter: Jitter::None,
            key: 0,
        }
    }

    fn with_jitter(mut self, jitter: Jitter, key: u64) -> Grid {
        self.jitter = jitter;
        self.key = key;
        self
    }

    /// Number of events.
    #[cfg(test)]
    pub fn len(&self) -> u64 {
        self.count
    }

    /// The grid (un-jittered) time of event `k`.
    pub fn base(&self, k: u64) -> u64 {
        self.first.saturating_add(k.saturating_mul(self.step))
    }

    /// The reported time of event `k`.
    pub fn time(&self, k: u64) -> u64 {
        let b = self.base(k);
        let h = mix(self.key, b);
        let j = match self.jitter {
            Jitter::None => 0,
            Jitter::Binance if h.is_multiple_of(3) => (h >> 8) % 6,
            Jitter::Binance => 0,
            Jitter::Hyperliquid => (h >> 8) % 150,
        };
        b + j.min(self.step.saturating_sub(1))
    }

    /// First index whose time satisfies `!pred` (times increase, so `pred` holds on a prefix).
    fn partition(&self, pred: impl Fn(u64) -> bool) -> u64 {
        let (mut lo, mut hi) = (0u64, self.count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if pred(self.time(mid)) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Index range `[lo, hi)` of events with `start <= time <= end` (bounds optional).
    pub fn range(&self, start: Option<u64>, end: Option<u64>) -> (u64, u64) {
        let lo = start.map_or(0, |s| self.partition(|t| t < s));
        let hi = end.map_or(self.count, |e| self.partition(|t| t <= e));
        (lo, hi.max(lo))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_767_225_600_000 + 12 * HOUR + 7 * MINUTE; // 2026-01-01T12:07Z

    #[test]
    fn universe_names_and_extras() {
        let u = Universe::new(1, 10, 400, NOW);
        let names: Vec<&str> = u.binance.list.iter().map(|i| i.symbol.as_str()).collect();
        assert_eq!(
            &names[..7],
            &[
                "BTCUSDT",
                "ETHUSDT",
                "SOLUSDT",
                "XRPUSDT",
                "DOGEUSDT",
                "1000PEPEUSDT",
                "S0007USDT"
            ]
        );
        assert!(u.binance.get("LOOMUSDT").is_some());
        assert!(u.bybit.get("BIOUSDT").is_some());
        assert_eq!(u.hl_main.list[2].symbol, "LOOM");
        assert!(u.hl_main.get("kPEPE").is_some());
        assert_eq!(u.binance.get("S0007USDT").map(|i| i.funding_hours), Some(4));
        assert_eq!(u.bybit.get("S0007USDT").map(|i| i.funding_hours), Some(1));
    }

    #[test]
    fn grid_ranges_are_inclusive() {
        let g = Grid::new(1000, 10_000, 1000);
        assert_eq!(g.len(), 10);
        assert_eq!(g.range(Some(2000), Some(4000)), (1, 4));
        assert_eq!(g.range(Some(2001), None), (2, 10));
        assert_eq!(g.range(None, Some(999)), (0, 0));
        assert_eq!(Grid::new(5, 4, 1).len(), 0);
    }

    #[test]
    fn values_are_pure() {
        let a = Universe::new(7, 30, 100, NOW);
        let b = Universe::new(7, 30, 100, NOW + 3 * HOUR);
        let (ia, ib) = (&a.binance.list[12], &b.binance.list[12]);
        for t in [NOW - 5 * DAY, NOW - HOUR] {
            assert_eq!(a.oi(ia, t), b.oi(ib, t));
            assert_eq!(a.price(ia, t), b.price(ib, t));
            assert_eq!(a.funding_units(ia, t), b.funding_units(ib, t));
        }
        assert!(a.oi(ia, NOW) > 0.0 && a.price(ia, NOW) > 0.0);
    }
}
