//! OKX v5 REST payloads as serde structs.
//!
//! Every answer is an envelope `{"code":"0","msg":"","data":[…]}`; errors carry `code != "0"`
//! (a string; an unknown path answers a numeric `404`). The structs are tolerant: numbers may
//! arrive as strings or JSON numbers, optional fields may be missing, null or `""`, unknown
//! fields are ignored. Which fields are required is decided by [`super::parse`].
//! Array rows are read by position: rubik OI history from `serde_json::Value`s, candles from
//! their raw fields.

use ccxt_venue::tolerant::{opt_decimal, opt_decimal_text, opt_u64};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::value::RawValue;

/// An answer read once: its code and message, and its `data` left as unparsed JSON (borrowed
/// from the body) for the caller to read into what it expects.
///
/// ```json
/// {"msg": "Too Many Requests", "code": "50011"}
/// ```
#[derive(Debug, Deserialize)]
pub struct RawEnvelope<'a> {
    /// `"0"` on success (a number in some error bodies).
    #[serde(default, deserialize_with = "opt_decimal_text")]
    pub code: Option<String>,
    /// `""`, or what went wrong.
    #[serde(default)]
    pub msg: Option<String>,
    /// The rows (`None` when missing or `null`).
    #[serde(default, borrow)]
    pub data: Option<&'a RawValue>,
}

/// A successful envelope with its rows.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Envelope<T> {
    /// The rows.
    #[serde(default = "Vec::new")]
    pub data: Vec<T>,
}

/// One row of `GET /api/v5/public/instruments?instType=SWAP`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstrumentRow {
    /// `SWAP`.
    #[serde(default)]
    pub inst_type: Option<String>,
    /// `BTC-USDT-SWAP`.
    #[serde(default)]
    pub inst_id: Option<String>,
    /// Index (`BTC-USDT`).
    #[serde(default)]
    pub uly: Option<String>,
    /// Family (`BTC-USDT`, `BTC-USD_UM`); absent before 2022-ish.
    #[serde(default)]
    pub inst_family: Option<String>,
    /// Settlement/margin currency (`USDT`; `BTC` for inverse).
    #[serde(default)]
    pub settle_ccy: Option<String>,
    /// Face value of one contract (base coin for linear, USD for inverse).
    #[serde(default, deserialize_with = "opt_decimal")]
    pub ct_val: Option<Decimal>,
    /// Contract multiplier.
    #[serde(default, deserialize_with = "opt_decimal")]
    pub ct_mult: Option<Decimal>,
    /// Currency of `ctVal`.
    #[serde(default)]
    pub ct_val_ccy: Option<String>,
    /// `linear` / `inverse`.
    #[serde(default)]
    pub ct_type: Option<String>,
    /// Listing time, ms.
    #[serde(default, deserialize_with = "opt_u64")]
    pub list_time: Option<u64>,
    /// Delisting time, ms (set once a delisting is announced).
    #[serde(default, deserialize_with = "opt_u64")]
    pub exp_time: Option<u64>,
    /// Price step.
    #[serde(default, deserialize_with = "opt_decimal")]
    pub tick_sz: Option<Decimal>,
    /// Size step, contracts.
    #[serde(default, deserialize_with = "opt_decimal")]
    pub lot_sz: Option<Decimal>,
    /// Smallest order, contracts.
    #[serde(default, deserialize_with = "opt_decimal")]
    pub min_sz: Option<Decimal>,
    /// `live`, `suspend`, `preopen`, `rebase`, `post_only`, `test`, …
    #[serde(default)]
    pub state: Option<String>,
    /// `normal`, `pre_market`, `rebase_contract`, `xperp`.
    #[serde(default)]
    pub rule_type: Option<String>,
    /// Base asset category: `1` crypto, `3` stocks, `4` commodities, `5` forex, `6` bonds.
    /// (The older `category` field is a fee tier, not this.)
    #[serde(default, deserialize_with = "opt_decimal_text")]
    pub inst_category: Option<String>,
}

/// One row of `GET /api/v5/public/open-interest` (and of the `open-interest` channel).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenInterestRow {
    /// `SWAP`.
    #[serde(default)]
    pub inst_type: Option<String>,
    /// `BTC-USDT-SWAP`.
    #[serde(default)]
    pub inst_id: Option<String>,
    /// Contracts.
    #[serde(default, deserialize_with = "opt_decimal")]
    pub oi: Option<Decimal>,
    /// Coins (base for linear).
    #[serde(default, deserialize_with = "opt_decimal")]
    pub oi_ccy: Option<Decimal>,
    /// USD (since 2024-08-29).
    #[serde(default, deserialize_with = "opt_decimal")]
    pub oi_usd: Option<Decimal>,
    /// Data time, ms.
    #[serde(default, deserialize_with = "opt_u64")]
    pub ts: Option<u64>,
}

/// One row of `GET /api/v5/public/funding-rate` (and of the `funding-rate` channel).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FundingRateRow {
    /// `SWAP` (`FUTURES` for X-Perps).
    #[serde(default)]
    pub inst_type: Option<String>,
    /// `BTC-USDT-SWAP`.
    #[serde(default)]
    pub inst_id: Option<String>,
    /// Predicted rate for `fundingTime`.
    #[serde(default, deserialize_with = "opt_decimal")]
    pub funding_rate: Option<Decimal>,
    /// The upcoming settlement, ms.
    #[serde(default, deserialize_with = "opt_u64")]
    pub funding_time: Option<u64>,
    /// The settlement after it, ms.
    #[serde(default, deserialize_with = "opt_u64")]
    pub next_funding_time: Option<u64>,
    /// The previous settlement, ms (undocumented, 2026 captures).
    #[serde(default, deserialize_with = "opt_u64")]
    pub prev_funding_time: Option<u64>,
    /// Deprecated next-period prediction (`""` for `current_period`).
    #[serde(default, deserialize_with = "opt_decimal")]
    pub next_funding_rate: Option<Decimal>,
    /// `current_period` (`next_period` in old rows).
    #[serde(default)]
    pub method: Option<String>,
    /// `noRate` / `withRate`.
    #[serde(default)]
    pub formula_type: Option<String>,
    /// Floor.
    #[serde(default, deserialize_with = "opt_decimal")]
    pub min_funding_rate: Option<Decimal>,
    /// Cap.
    #[serde(default, deserialize_with = "opt_decimal")]
    pub max_funding_rate: Option<Decimal>,
    /// `processing` / `settled`.
    #[serde(default)]
    pub sett_state: Option<String>,
    /// The rate being settled (processing) or of the previous settlement (settled).
    #[serde(default, deserialize_with = "opt_decimal")]
    pub sett_funding_rate: Option<Decimal>,
    /// Premium.
    #[serde(default, deserialize_with = "opt_decimal")]
    pub premium: Option<Decimal>,
    /// Data time, ms.
    #[serde(default, deserialize_with = "opt_u64")]
    pub ts: Option<u64>,
}

/// One row of `GET /api/v5/public/funding-rate-history`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FundingHistoryRow {
    /// `SWAP`.
    #[serde(default)]
    pub inst_type: Option<String>,
    /// `BTC-USDT-SWAP`.
    #[serde(default)]
    pub inst_id: Option<String>,
    /// The last predicted rate.
    #[serde(default, deserialize_with = "opt_decimal")]
    pub funding_rate: Option<Decimal>,
    /// The settled rate.
    #[serde(default, deserialize_with = "opt_decimal")]
    pub realized_rate: Option<Decimal>,
    /// Settlement time, ms.
    #[serde(default, deserialize_with = "opt_u64")]
    pub funding_time: Option<u64>,
    /// `current_period` / `next_period`.
    #[serde(default)]
    pub method: Option<String>,
    /// `noRate` / `withRate`.
    #[serde(default)]
    pub formula_type: Option<String>,
}

/// One detail of a liquidation push (`data[].details[]`).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiquidationDetail {
    /// Order side: `sell` closes a long, `buy` a short.
    #[serde(default)]
    pub side: Option<String>,
    /// Position side: `long`, `short`, `net`.
    #[serde(default)]
    pub pos_side: Option<String>,
    /// Contracts (FUTURES/SWAP).
    #[serde(default, deserialize_with = "opt_decimal")]
    pub sz: Option<Decimal>,
    /// Liquidation (bankruptcy) price.
    #[serde(default, deserialize_with = "opt_decimal")]
    pub bk_px: Option<Decimal>,
    /// Bankruptcy loss.
    #[serde(default, deserialize_with = "opt_decimal")]
    pub bk_loss: Option<Decimal>,
    /// MARGIN only.
    #[serde(default)]
    pub ccy: Option<String>,
    /// Liquidation time, ms.
    #[serde(default, deserialize_with = "opt_u64")]
    pub ts: Option<u64>,
}

/// One `data[]` item of a liquidation push.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiquidationItem {
    /// `BTC-USDT-SWAP` (details carry none).
    #[serde(default)]
    pub inst_id: Option<String>,
    /// `SWAP`, `FUTURES`.
    #[serde(default)]
    pub inst_type: Option<String>,
    /// `BTC-USDT`.
    #[serde(default)]
    pub inst_family: Option<String>,
    /// `BTC-USDT`.
    #[serde(default)]
    pub uly: Option<String>,
    /// The liquidations.
    #[serde(default)]
    pub details: Vec<LiquidationDetail>,
}
