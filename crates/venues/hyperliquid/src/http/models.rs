//! Serde structs of the `POST /info` payloads this connector reads.
//!
//! Every struct is tolerant: numbers are read from JSON numbers or strings, optional fields may
//! be missing or `null`, and unknown fields are ignored, so a field the venue adds tomorrow
//! does not break parsing. Rates and premiums are kept as their exact decimal text (parse them
//! with `rust_decimal`, never through `f64`). Which fields are required is decided by the
//! parsers in [`crate::http::parse`], which report a missing one as a typed error.
//!
//! Reference: <https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/info-endpoint/perpetuals>.

use ccxt_venue::tolerant::{opt_decimal, opt_decimal_text, opt_f64, opt_u64};
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer};

/// The metadata of one perp dex: the answer to `{"type":"meta"}`, the first element of
/// `metaAndAssetCtxs` and each element of `allPerpMetas`.
///
/// ```json
/// {"universe":[{"name":"BTC","szDecimals":5,"maxLeverage":50},
///              {"name":"LOOM","szDecimals":1,"maxLeverage":3,"isDelisted":true}],
///  "marginTables":[[50,{"description":"","marginTiers":[{"lowerBound":"0.0","maxLeverage":50}]}]],
///  "collateralToken":0}
/// ```
///
/// Docs: <https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/info-endpoint/perpetuals#retrieve-perpetuals-metadata-universe-and-margin-tables>
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PerpMeta {
    /// The dex's assets; an asset's index here is its index in the asset contexts.
    #[serde(default)]
    pub universe: Vec<AssetMeta>,
    /// The collateral token index (0 = USDC); builder dexes may use another token (USDH…).
    #[serde(default, deserialize_with = "opt_u64")]
    pub collateral_token: Option<u64>,
}

/// One asset of a perp dex's universe.
///
/// ```json
/// {"szDecimals":3,"name":"xyz:TSLA","maxLeverage":10,"marginTableId":10,"onlyIsolated":true,
///  "marginMode":"strictIsolated","growthMode":"enabled"}
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssetMeta {
    /// The coin: `BTC`, `kPEPE`, or `dex:COIN` on a builder dex (`xyz:TSLA`).
    pub name: String,
    /// Decimals of order sizes.
    #[serde(default, deserialize_with = "opt_u64")]
    pub sz_decimals: Option<u64>,
    /// Maximum leverage.
    #[serde(default, deserialize_with = "opt_u64")]
    pub max_leverage: Option<u64>,
    /// Whether only isolated margin is allowed.
    #[serde(default)]
    pub only_isolated: Option<bool>,
    /// `true` for delisted assets, which stay in the universe; missing otherwise.
    #[serde(default)]
    pub is_delisted: Option<bool>,
    /// Margin mode (`strictIsolated`, `noCross`, …), when given.
    #[serde(default)]
    pub margin_mode: Option<String>,
}

impl AssetMeta {
    /// Whether the venue marks the asset delisted.
    pub fn delisted(&self) -> bool {
        self.is_delisted.unwrap_or(false)
    }
}

/// The live state of one asset, an element of the second half of `metaAndAssetCtxs`.
///
/// ```json
/// {"dayNtlVlm":"1169046.29406","funding":"0.0000125","impactPxs":["14.3047","14.3444"],
///  "markPx":"14.3161","midPx":"14.314","openInterest":"688.11","oraclePx":"14.32",
///  "premium":"0.00031774","prevDayPx":"15.322"}
/// ```
///
/// `premium`, `midPx` and `impactPxs` are `null` on thinly traded assets (HIP-3 docs example).
///
/// Docs: <https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/info-endpoint/perpetuals#retrieve-perpetuals-asset-contexts-includes-mark-price-current-funding-open-interest-etc>
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssetCtx {
    /// The current hourly funding rate, exact decimal text.
    #[serde(default, deserialize_with = "opt_decimal_text")]
    pub funding: Option<String>,
    /// Open interest in coins.
    #[serde(default, deserialize_with = "opt_f64")]
    pub open_interest: Option<f64>,
    /// Mark price (USD), exact.
    #[serde(default, deserialize_with = "opt_decimal")]
    pub mark_px: Option<Decimal>,
    /// Oracle price (USD), exact: the index the venue funds against.
    #[serde(default, deserialize_with = "opt_decimal")]
    pub oracle_px: Option<Decimal>,
    /// Mid price of the book; `null` without a two-sided book.
    #[serde(default, deserialize_with = "opt_f64")]
    pub mid_px: Option<f64>,
    /// Premium over the oracle, exact decimal text; `null` when not computed.
    #[serde(default, deserialize_with = "opt_decimal_text")]
    pub premium: Option<String>,
    /// Impact bid and ask prices; `null` without enough depth.
    #[serde(default, deserialize_with = "opt_f64_list")]
    pub impact_pxs: Option<Vec<f64>>,
    /// Price 24 hours ago.
    #[serde(default, deserialize_with = "opt_f64")]
    pub prev_day_px: Option<f64>,
    /// 24-hour notional volume (USD).
    #[serde(default, deserialize_with = "opt_f64")]
    pub day_ntl_vlm: Option<f64>,
    /// 24-hour volume in coins.
    #[serde(default, deserialize_with = "opt_f64")]
    pub day_base_vlm: Option<f64>,
}

/// The answer to `{"type":"metaAndAssetCtxs"}`: a two-element array `[meta, ctxs]` where
/// `ctxs[i]` belongs to `meta.universe[i]`.
///
/// ```json
/// [{"universe":[{"name":"BTC","szDecimals":5,"maxLeverage":50}],"marginTables":[],"collateralToken":0},
///  [{"funding":"0.0000125","openInterest":"688.11","markPx":"14.3161","oraclePx":"14.32", "...": "..."}]]
/// ```
///
/// Docs: <https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/info-endpoint/perpetuals#retrieve-perpetuals-asset-contexts-includes-mark-price-current-funding-open-interest-etc>
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(from = "(PerpMeta, Vec<Option<AssetCtx>>)")]
pub struct MetaAndAssetCtxs {
    /// The dex's metadata.
    pub meta: PerpMeta,
    /// One context per universe entry, index-aligned; `None` where the venue sent `null`.
    pub ctxs: Vec<Option<AssetCtx>>,
}

impl From<(PerpMeta, Vec<Option<AssetCtx>>)> for MetaAndAssetCtxs {
    fn from((meta, ctxs): (PerpMeta, Vec<Option<AssetCtx>>)) -> Self {
        MetaAndAssetCtxs { meta, ctxs }
    }
}

/// One settled funding of `{"type":"fundingHistory","coin":…,"startTime":…}`.
///
/// ```json
/// {"coin":"xyz:XYZ100","fundingRate":"-0.00022196","premium":"-0.00052196","time":1683849600076}
/// ```
///
/// `premium` is missing on some rows of real responses.
///
/// Docs: <https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/info-endpoint/perpetuals#retrieve-historical-funding-rates>
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FundingHistoryEntry {
    /// The coin.
    #[serde(default)]
    pub coin: Option<String>,
    /// The hourly rate charged, exact decimal text.
    #[serde(default, deserialize_with = "opt_decimal_text")]
    pub funding_rate: Option<String>,
    /// The premium component, exact decimal text.
    #[serde(default, deserialize_with = "opt_decimal_text")]
    pub premium: Option<String>,
    /// When it was charged, UNIX milliseconds.
    #[serde(default, deserialize_with = "opt_u64")]
    pub time: Option<u64>,
}

/// The answer to `{"type":"predictedFundings"}`: per coin of the main dex, per venue
/// (`BinPerp`, `HlPerp`, `BybitPerp`) the predicted next funding, or `null`.
///
/// ```json
/// [["BTC",[["BinPerp",{"fundingRate":"0.00008786","nextFundingTime":1754496000000,"fundingIntervalHours":8}],
///          ["HlPerp",{"fundingRate":"0.0000125","nextFundingTime":1754470800000,"fundingIntervalHours":1}]]]]
/// ```
///
/// Docs: <https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/info-endpoint/perpetuals#retrieve-predicted-funding-rates-for-different-venues>
pub type PredictedFundings = Vec<(String, Vec<(String, Option<PredictedFunding>)>)>;

/// One venue's predicted funding in [`PredictedFundings`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PredictedFunding {
    /// The predicted rate per interval, exact decimal text.
    #[serde(default, deserialize_with = "opt_decimal_text")]
    pub funding_rate: Option<String>,
    /// When it will be charged, UNIX milliseconds.
    #[serde(default, deserialize_with = "opt_u64")]
    pub next_funding_time: Option<u64>,
    /// The venue's funding interval in hours (missing in the official docs example).
    #[serde(default, deserialize_with = "opt_u64")]
    pub funding_interval_hours: Option<u64>,
}

/// One builder-deployed dex of `{"type":"perpDexs"}`; the answer is an array whose first
/// element is `null` (the main dex).
///
/// ```json
/// [null,{"name":"test","fullName":"test dex","deployer":"0x5e89…","oracleUpdater":null,
///        "feeRecipient":null,"assetToStreamingOiCap":[["COIN1","100000.0"]]}]
/// ```
///
/// Docs: <https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/info-endpoint/perpetuals#retrieve-all-perpetual-dexs>
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PerpDex {
    /// The short name used in coin names and the `dex` request field (`xyz`).
    pub name: String,
    /// The display name.
    #[serde(default)]
    pub full_name: Option<String>,
    /// The deployer's address.
    #[serde(default)]
    pub deployer: Option<String>,
    /// Open-interest caps (USD) per coin.
    #[serde(default, deserialize_with = "f64_pairs")]
    pub asset_to_streaming_oi_cap: Vec<(String, f64)>,
    /// Funding multipliers per coin.
    #[serde(default, deserialize_with = "f64_pairs")]
    pub asset_to_funding_multiplier: Vec<(String, f64)>,
}

/// A number given as a JSON number or string, for use inside lists.
#[derive(Deserialize)]
#[serde(transparent)]
struct LooseF64(#[serde(deserialize_with = "opt_f64")] Option<f64>);

/// Reads an optional list of numbers (`["14.3047", "14.3444"]`), `null` → `None`; `null`
/// elements are dropped.
fn opt_f64_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<f64>>, D::Error> {
    let list = Option::<Vec<LooseF64>>::deserialize(d)?;
    Ok(list.map(|l| l.into_iter().filter_map(|n| n.0).collect()))
}

/// Reads `[["COIN1","100000.0"], …]`, `null` → empty; pairs with a `null` number are dropped.
fn f64_pairs<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, f64)>, D::Error> {
    let pairs = Option::<Vec<(String, LooseF64)>>::deserialize(d)?;
    Ok(pairs
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(k, v)| v.0.map(|v| (k, v)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

    #[test]
    fn asset_ctx_reads_strings_numbers_nulls_and_missing_fields() {
        let strings: AssetCtx = serde_json::from_str(
            r#"{"funding":"0.0000125","openInterest":"688.11","markPx":"14.3161",
                "impactPxs":["14.3047","14.3444"],"premium":"0.00031774","brandNew":{"x":1}}"#,
        )
        .unwrap();
        let numbers: AssetCtx = serde_json::from_str(
            r#"{"funding":0.0000125,"openInterest":688.11,"markPx":14.3161,
                "impactPxs":[14.3047,14.3444],"premium":0.00031774}"#,
        )
        .unwrap();
        assert_eq!(strings.open_interest, Some(688.11));
        assert_eq!(strings.open_interest, numbers.open_interest);
        assert_eq!(strings.mark_px, numbers.mark_px);
        assert_eq!(strings.impact_pxs, Some(vec![14.3047, 14.3444]));
        assert_eq!(strings.impact_pxs, numbers.impact_pxs);
        assert_eq!(strings.funding.as_deref(), Some("0.0000125"));
        // A JSON number keeps its shortest round-trip text, which is the venue's decimal.
        assert_eq!(numbers.funding.as_deref(), Some("0.0000125"));

        let nulls: AssetCtx = serde_json::from_str(
            r#"{"funding":"0.0","openInterest":"9.43","premium":null,"midPx":null,"impactPxs":null,"markPx":""}"#,
        )
        .unwrap();
        assert_eq!(
            (nulls.premium, nulls.mid_px, nulls.impact_pxs, nulls.mark_px),
            (None, None, None, None)
        );
        let empty: AssetCtx = serde_json::from_str("{}").unwrap();
        assert_eq!(empty, AssetCtx::default());
        assert!(serde_json::from_str::<AssetCtx>(r#"{"openInterest":"lots"}"#).is_err());
    }

    #[test]
    fn asset_meta_defaults_to_listed_and_reads_the_delisted_flag() {
        let meta: PerpMeta = serde_json::from_str(
            r#"{"universe":[{"name":"BTC","szDecimals":"5","maxLeverage":50},
                            {"name":"LOOM","szDecimals":1,"maxLeverage":3,"isDelisted":true},
                            {"name":"ETH","isDelisted":null}]}"#,
        )
        .unwrap();
        let flags: Vec<_> = meta.universe.iter().map(AssetMeta::delisted).collect();
        assert_eq!(flags, [false, true, false]);
        assert_eq!(meta.universe[0].sz_decimals, Some(5));
        assert_eq!(meta.collateral_token, None);
    }

    #[test]
    fn meta_and_asset_ctxs_zips_by_index_and_tolerates_null_ctxs() {
        let both: MetaAndAssetCtxs = serde_json::from_str(fixtures::META_AND_ASSET_CTXS).unwrap();
        assert_eq!(both.meta.universe.len(), 3);
        assert_eq!(both.ctxs.len(), 3);
        assert_eq!(both.meta.collateral_token, Some(0));
        assert_eq!(both.meta.universe[2].only_isolated, Some(true));
        let with_null: MetaAndAssetCtxs =
            serde_json::from_str(r#"[{"universe":[{"name":"BTC"}]},[null]]"#).unwrap();
        assert_eq!(with_null.ctxs, vec![None]);
    }

    #[test]
    fn funding_history_entries_tolerate_a_missing_premium_and_string_times() {
        let rows: Vec<FundingHistoryEntry> = serde_json::from_str(
            r#"[{"coin":"BTC","fundingRate":"0.0000125","time":"1683849600076"},
                {"coin":"BTC","fundingRate":-0.0001,"premium":null,"time":1683853200000}]"#,
        )
        .unwrap();
        assert_eq!(rows[0].time, Some(1_683_849_600_076));
        assert_eq!(rows[0].premium, None);
        assert_eq!(rows[1].funding_rate.as_deref(), Some("-0.0001"));
    }

    #[test]
    fn perp_dexs_fixture_has_the_main_dex_as_null() {
        let dexs: Vec<Option<PerpDex>> = serde_json::from_str(fixtures::PERP_DEXS).unwrap();
        assert_eq!(dexs.len(), 2);
        assert!(dexs[0].is_none());
        let test = dexs[1].as_ref().unwrap();
        assert_eq!(test.name, "test");
        assert_eq!(test.full_name.as_deref(), Some("test dex"));
        assert_eq!(
            test.asset_to_streaming_oi_cap,
            [
                ("COIN1".to_string(), 100000.0),
                ("COIN2".to_string(), 200000.0)
            ]
        );
        assert_eq!(test.asset_to_funding_multiplier[1].1, 2.0);
    }
}
