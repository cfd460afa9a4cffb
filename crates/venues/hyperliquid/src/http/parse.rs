//! Pure parsers: `/info` responses → records of the data model, and error answers → typed
//! [`FetchError`]s.
//!
//! Error mapping:
//!
//! | answer | error |
//! |---|---|
//! | non-2xx status below 500 (Hyperliquid answers a bad request with HTTP 422 and plain text such as `Failed to deserialize the JSON body into the target type`) | [`FetchError::Venue`], code = the HTTP status, message = the body text |
//! | 5xx status (the transport normally retries these and never hands them over) | [`FetchError::Http`], so the error stays classified retryable |
//! | 2xx whose body is plain text or a JSON string | [`FetchError::Venue`], likewise |
//! | 2xx JSON of the wrong shape, an empty body, a missing required field, a rate that is not a decimal, contexts not aligned with the universe | [`FetchError::Malformed`] |
//! | a coin that is not in its dex's universe | [`FetchError::UnknownSymbol`] for that coin only |
//! | `null` for a dex's `meta`/`metaAndAssetCtxs` | an empty universe, so each coin asked for is [`FetchError::UnknownSymbol`] |
//! | funding of a delisted coin | [`FetchError::Unsupported`]: no funding is charged, so there is no estimate to store |

use std::collections::HashMap;

use ccxt_model::{FundingRate, Instrument, InstrumentId, OpenInterest, Precision, Venue};
use ccxt_venue::convert::{self, ms_to_ns_checked, parse_decimal};
use ccxt_venue::{
    FetchError, FundingSnapshot, HttpResponse, InstrumentInfo, InstrumentStatus,
    OpenInterestSnapshot, SnapshotPrices,
};
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::FUNDING_INTERVAL_MINUTES;
use crate::http::models::{
    AssetCtx, AssetMeta, FundingHistoryEntry, MetaAndAssetCtxs, PerpDex, PerpMeta,
    PredictedFundings,
};

const VENUE: Venue = crate::VENUE;
const NANOS_PER_HOUR: u64 = 3_600 * 1_000_000_000;
/// How much of an error body goes into an error message.
const MAX_ERROR_CHARS: usize = 300;

/// Reads a response body as `T`, or says why it cannot: see the module docs for the mapping.
pub fn parse_json<'a, T: Deserialize<'a>>(
    response: &'a HttpResponse,
    what: &str,
) -> Result<T, FetchError> {
    if response.status >= 500 {
        return Err(FetchError::Http {
            venue: VENUE,
            status: response.status,
            body: error_text(response),
        });
    }
    if !(200..300).contains(&response.status) {
        return Err(venue_error(response));
    }
    if response.body.iter().all(u8::is_ascii_whitespace) {
        return Err(FetchError::malformed(VENUE, what, "empty body"));
    }
    serde_json::from_slice::<T>(&response.body).map_err(|e| {
        let first = response.body.iter().find(|b| !b.is_ascii_whitespace());
        match first {
            // JSON of the wrong shape, or cut short.
            Some(b'[' | b'{') => FetchError::malformed(VENUE, what, e),
            _ => match serde_json::from_slice::<serde_json::Value>(&response.body) {
                // Plain text, or a bare JSON string: the venue's error text.
                Err(_) | Ok(serde_json::Value::String(_)) => venue_error(response),
                Ok(_) => FetchError::malformed(VENUE, what, e),
            },
        }
    })
}

/// The venue's error text as a [`FetchError::Venue`], code = HTTP status.
fn venue_error(response: &HttpResponse) -> FetchError {
    FetchError::Venue {
        venue: VENUE,
        code: response.status.to_string(),
        message: error_text(response),
    }
}

/// The body as error text: unquoted if a JSON string, trimmed, cut to [`MAX_ERROR_CHARS`].
fn error_text(response: &HttpResponse) -> String {
    let text = String::from_utf8_lossy(&response.body);
    let text = match serde_json::from_str::<String>(&text) {
        Ok(unquoted) => unquoted,
        Err(_) => text.trim().to_string(),
    };
    match convert::truncate(&text, MAX_ERROR_CHARS) {
        message if message.is_empty() => "(empty body)".to_string(),
        message => message,
    }
}

/// Parses `meta`; `null` (a dex with no perpetuals) is an empty universe.
pub fn parse_meta(response: &HttpResponse) -> Result<PerpMeta, FetchError> {
    Ok(parse_json::<Option<PerpMeta>>(response, "meta")?.unwrap_or_default())
}

/// Parses `metaAndAssetCtxs`; `null` is an empty universe.
pub fn parse_meta_and_asset_ctxs(response: &HttpResponse) -> Result<MetaAndAssetCtxs, FetchError> {
    Ok(parse_json::<Option<MetaAndAssetCtxs>>(response, "metaAndAssetCtxs")?.unwrap_or_default())
}

/// Parses `allPerpMetas`: one meta per dex, the main dex first.
pub fn parse_all_perp_metas(response: &HttpResponse) -> Result<Vec<PerpMeta>, FetchError> {
    parse_json(response, "allPerpMetas")
}

/// Parses `perpDexs` into the builder-deployed dexes (the leading `null`, the main dex, is
/// dropped).
pub fn parse_perp_dexs(response: &HttpResponse) -> Result<Vec<PerpDex>, FetchError> {
    let dexs: Vec<Option<PerpDex>> = parse_json(response, "perpDexs")?;
    Ok(dexs.into_iter().flatten().collect())
}

/// Parses `perpsAtOpenInterestCap`: the coins at their open-interest cap.
pub fn parse_perps_at_open_interest_cap(
    response: &HttpResponse,
) -> Result<Vec<String>, FetchError> {
    parse_json(response, "perpsAtOpenInterestCap")
}

/// Parses `fundingHistory`; `null` is no rows.
pub fn parse_funding_history(
    response: &HttpResponse,
) -> Result<Vec<FundingHistoryEntry>, FetchError> {
    Ok(parse_json::<Option<Vec<_>>>(response, "fundingHistory")?.unwrap_or_default())
}

/// Parses `predictedFundings` as the venue sends it (every venue's prediction).
pub fn parse_predicted_fundings(response: &HttpResponse) -> Result<PredictedFundings, FetchError> {
    parse_json(response, "predictedFundings")
}

/// Hyperliquid's own prediction of a coin's next funding (the `HlPerp` entries of
/// `predictedFundings`).
#[derive(Debug, Clone, PartialEq)]
pub struct HlPredictedFunding {
    /// The coin (main dex only: `predictedFundings` does not cover builder dexes).
    pub coin: String,
    /// The predicted rate for the next interval, exact.
    pub rate: Decimal,
    /// When it will be charged, UNIX ns.
    pub next_funding_ns: u64,
    /// The funding interval in minutes (`fundingIntervalHours` × 60; 60 when not given).
    pub interval_minutes: u16,
}

impl HlPredictedFunding {
    /// The prediction as a live funding estimate of `instrument_id`, quoted at `received_ns`.
    pub fn to_funding_rate(&self, instrument_id: InstrumentId, received_ns: u64) -> FundingRate {
        FundingRate {
            instrument_id,
            rate: self.rate,
            interval_minutes: Some(self.interval_minutes),
            next_funding_ns: Some(self.next_funding_ns),
            ts_event: received_ns,
            ts_init: received_ns,
        }
    }
}

/// Parses `predictedFundings` into Hyperliquid's own predictions, one per coin that has one.
/// Coins whose `HlPerp` entry is `null` or absent are left out; an entry without a rate or
/// time, or with a rate that is not a decimal, is [`FetchError::Malformed`].
pub fn hl_predicted_fundings(
    response: &HttpResponse,
) -> Result<Vec<HlPredictedFunding>, FetchError> {
    const WHAT: &str = "predictedFundings";
    let mut out = Vec::new();
    for (coin, venues) in parse_predicted_fundings(response)? {
        let Some(prediction) = venues
            .into_iter()
            .find(|(venue, _)| venue == "HlPerp")
            .and_then(|(_, p)| p)
        else {
            continue;
        };
        let malformed = |detail: String| FetchError::malformed(VENUE, WHAT, detail);
        let rate = prediction
            .funding_rate
            .as_deref()
            .ok_or_else(|| malformed(format!("HlPerp entry of {coin} has no fundingRate")))
            .and_then(|r| parse_rate(r).map_err(|e| malformed(format!("{coin}: {e}"))))?;
        let next_funding_ns = prediction
            .next_funding_time
            .and_then(ms_to_ns_checked)
            .ok_or_else(|| malformed(format!("HlPerp entry of {coin} has no nextFundingTime")))?;
        let interval_minutes = match prediction.funding_interval_hours {
            None => FUNDING_INTERVAL_MINUTES,
            Some(hours) => hours
                .checked_mul(60)
                .and_then(|m| u16::try_from(m).ok())
                .ok_or_else(|| malformed(format!("{coin}: fundingIntervalHours {hours}")))?,
        };
        out.push(HlPredictedFunding {
            coin,
            rate,
            next_funding_ns,
            interval_minutes,
        });
    }
    Ok(out)
}

/// The instrument of a coin as the venue names it (`BTC`, `kPEPE`, `xyz:TSLA`), or `None` if
/// the name cannot be an instrument id (characters other than letters and digits).
pub fn instrument_for_coin(coin: &str) -> Option<Instrument> {
    convert::instrument(VENUE, coin)
}

/// The full name of a universe entry of `dex`: builder-dex universes already carry the
/// `dex:` prefix (`xyz:TSLA`); one without it gets it, so lookups by `dex:COIN` always work.
fn qualified_name(dex: &str, name: &str) -> String {
    if dex.is_empty() || name.contains(':') {
        name.to_string()
    } else {
        format!("{dex}:{name}")
    }
}

/// Decimals of a perpetual's prices and sizes: sizes `szDecimals`, prices `6 − szDecimals`
/// (Hyperliquid's "at most 6 − szDecimals decimals" for perpetuals, as NautilusTrader sets
/// `price_precision`); `None` without `szDecimals`.
pub fn precision(asset: &AssetMeta) -> Option<Precision> {
    let size = u8::try_from(asset.sz_decimals?).ok()?;
    Some(Precision {
        price: MAX_PERP_DECIMALS.saturating_sub(size),
        size,
    })
}

/// The most decimals a perpetual's price has (before `szDecimals` is taken off).
pub const MAX_PERP_DECIMALS: u8 = 6;

/// The perpetuals of one dex's universe: delisted ones marked [`InstrumentStatus::Delisted`],
/// the others [`InstrumentStatus::Trading`]; funding is hourly for all. Names that cannot form
/// an instrument id are skipped with a warning.
pub fn instrument_infos(meta: &PerpMeta, dex: &str) -> Vec<InstrumentInfo> {
    meta.universe
        .iter()
        .filter_map(|asset| {
            let name = qualified_name(dex, &asset.name);
            let Some(instrument) = instrument_for_coin(&name) else {
                tracing::warn!(coin = %name, "skipping a Hyperliquid coin whose name cannot form an instrument id");
                return None;
            };
            Some(InstrumentInfo {
                instrument,
                status: if asset.delisted() {
                    InstrumentStatus::Delisted
                } else {
                    InstrumentStatus::Trading
                },
                funding_interval_minutes: Some(FUNDING_INTERVAL_MINUTES),
                precision: precision(asset),
            })
        })
        .collect()
}

/// The assets of one dex from `metaAndAssetCtxs`, looked up by coin.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DexAssets {
    assets: HashMap<String, (AssetMeta, Option<AssetCtx>)>,
}

impl DexAssets {
    /// Pairs `universe[i]` with `ctxs[i]`. The lists must be equally long: if they are not, the
    /// pairing cannot be trusted and the whole answer is [`FetchError::Malformed`].
    pub fn new(both: MetaAndAssetCtxs, dex: &str) -> Result<DexAssets, FetchError> {
        let MetaAndAssetCtxs { meta, ctxs } = both;
        if meta.universe.len() != ctxs.len() {
            return Err(FetchError::malformed(
                VENUE,
                "metaAndAssetCtxs",
                format!(
                    "{} assets in the universe but {} asset contexts",
                    meta.universe.len(),
                    ctxs.len()
                ),
            ));
        }
        let assets = meta
            .universe
            .into_iter()
            .zip(ctxs)
            .map(|(asset, ctx)| (qualified_name(dex, &asset.name), (asset, ctx)))
            .collect();
        Ok(DexAssets { assets })
    }

    /// How many assets the dex lists.
    pub fn len(&self) -> usize {
        self.assets.len()
    }

    /// Whether the dex lists no asset.
    pub fn is_empty(&self) -> bool {
        self.assets.is_empty()
    }

    /// The metadata and context of `coin` (`BTC`, `xyz:TSLA`): [`FetchError::UnknownSymbol`]
    /// if the dex does not list it, [`FetchError::Malformed`] if its context is `null`.
    pub fn get(&self, coin: &str) -> Result<(&AssetMeta, &AssetCtx), FetchError> {
        match self.assets.get(coin) {
            None => Err(FetchError::UnknownSymbol {
                venue: VENUE,
                symbol: coin.to_string(),
            }),
            Some((_, None)) => Err(FetchError::malformed(
                VENUE,
                "metaAndAssetCtxs",
                format!("the asset context of {coin} is null"),
            )),
            Some((meta, Some(ctx))) => Ok((meta, ctx)),
        }
    }
}

/// Parses `metaAndAssetCtxs` of `dex` into [`DexAssets`].
pub fn parse_dex_assets(response: &HttpResponse, dex: &str) -> Result<DexAssets, FetchError> {
    DexAssets::new(parse_meta_and_asset_ctxs(response)?, dex)
}

/// The mark price and the oracle price (as the index) of an asset context, stamped like
/// [`open_interest`].
pub fn asset_prices(instrument: &Instrument, ctx: &AssetCtx, received_ns: u64) -> SnapshotPrices {
    SnapshotPrices::new(
        &instrument.id,
        ctx.mark_px,
        ctx.oracle_px,
        received_ns,
        received_ns,
    )
}

/// Current open interest from an asset context, with its mark and oracle price.
///
/// `open_interest` is in coins as the venue reports it; `open_interest_value` is
/// `openInterest × markPx` (`None` without a mark price). The venue gives no timestamp, so
/// `ts_event = ts_init = received_ns`, the time the response arrived. Delisted coins keep
/// their context; their open interest is returned like any other (it is a fact, usually 0).
pub fn open_interest(
    instrument: &Instrument,
    ctx: &AssetCtx,
    received_ns: u64,
) -> Result<OpenInterestSnapshot, FetchError> {
    let open_interest = ctx.open_interest.ok_or_else(|| {
        FetchError::malformed(
            VENUE,
            "metaAndAssetCtxs",
            format!("no openInterest for {}", instrument.native),
        )
    })?;
    let prices = asset_prices(instrument, ctx, received_ns);
    Ok(OpenInterestSnapshot {
        open_interest: OpenInterest {
            instrument_id: instrument.id.clone(),
            open_interest,
            open_interest_value: prices.mark_f64().map(|px| open_interest * px),
            ts_event: received_ns,
            ts_init: received_ns,
        },
        prices,
    })
}

/// Current funding from an asset context: `funding` is the hourly rate that the next full
/// UTC hour will charge (exact decimal), with the mark price. Stamped like
/// [`open_interest`]. A delisted coin is [`FetchError::Unsupported`]: nothing will be charged.
pub fn funding_snapshot(
    instrument: &Instrument,
    meta: &AssetMeta,
    ctx: &AssetCtx,
    received_ns: u64,
) -> Result<FundingSnapshot, FetchError> {
    if meta.delisted() {
        return Err(FetchError::Unsupported {
            venue: VENUE,
            what: format!(
                "funding for '{}', which is delisted (no funding is charged)",
                instrument.native
            ),
        });
    }
    let malformed = |detail: String| FetchError::malformed(VENUE, "metaAndAssetCtxs", detail);
    let text = ctx
        .funding
        .as_deref()
        .ok_or_else(|| malformed(format!("no funding for {}", instrument.native)))?;
    let rate = parse_rate(text).map_err(|e| malformed(format!("{}: {e}", instrument.native)))?;
    Ok(FundingSnapshot {
        funding: FundingRate {
            instrument_id: instrument.id.clone(),
            rate,
            interval_minutes: Some(FUNDING_INTERVAL_MINUTES),
            next_funding_ns: Some(next_funding_ns(received_ns)),
            ts_event: received_ns,
            ts_init: received_ns,
        },
        prices: asset_prices(instrument, ctx, received_ns),
    })
}

/// A settled funding of `fundingHistory`: `ts_event = ts_init = time`, no next funding time,
/// hourly interval, the exact rate.
pub fn settled_funding(
    instrument: &Instrument,
    entry: &FundingHistoryEntry,
) -> Result<FundingRate, FetchError> {
    let malformed = |detail: String| FetchError::malformed(VENUE, "fundingHistory", detail);
    let time = entry
        .time
        .ok_or_else(|| malformed("a row has no time".to_string()))?;
    let ts =
        ms_to_ns_checked(time).ok_or_else(|| malformed(format!("time {time} is out of range")))?;
    let text = entry
        .funding_rate
        .as_deref()
        .ok_or_else(|| malformed(format!("the row at {time} has no fundingRate")))?;
    let rate = parse_rate(text).map_err(|e| malformed(format!("the row at {time}: {e}")))?;
    Ok(FundingRate {
        instrument_id: instrument.id.clone(),
        rate,
        interval_minutes: Some(FUNDING_INTERVAL_MINUTES),
        next_funding_ns: None,
        ts_event: ts,
        ts_init: ts,
    })
}

/// Reads a rate exactly: `"0.0000125"`, `"-0.00022196"`, or an exponent form (`"1.25e-5"`),
/// with [`parse_decimal`]; the error names the text. Never goes through `f64` (a rate sent as
/// a JSON number arrives as its shortest round-trip text, which is exact for the short
/// decimals the venue sends).
pub fn parse_rate(text: &str) -> Result<Decimal, String> {
    parse_decimal(text).map_err(|e| format!("'{text}' is not a decimal rate ({e})"))
}

/// The next full UTC hour strictly after `now_ns`: when Hyperliquid next charges funding.
pub fn next_funding_ns(now_ns: u64) -> u64 {
    (now_ns / NANOS_PER_HOUR + 1) * NANOS_PER_HOUR
}

#[cfg(test)]
mod tests {
    use ccxt_venue::convert::ms_to_ns_checked as ms_to_ns;

    use super::*;
    use crate::fixtures;

    fn ok(body: &str) -> HttpResponse {
        HttpResponse {
            status: 200,
            body: body.to_string().into(),
        }
    }

    fn coin(native: &str) -> Instrument {
        instrument_for_coin(native).unwrap()
    }

    const NOW: u64 = 1_754_467_512_345_678_901; // 2025-08-06T08:05:12.345678901Z

    #[test]
    fn main_dex_fixture_gives_oi_in_coins_and_usd_and_exact_hourly_funding() {
        let assets = parse_dex_assets(&ok(fixtures::META_AND_ASSET_CTXS), "").unwrap();
        assert_eq!(assets.len(), 3);
        let btc = coin("BTC");
        let (meta, ctx) = assets.get("BTC").unwrap();
        let snapshot = open_interest(&btc, ctx, NOW).unwrap();
        let mark = snapshot.prices.mark.as_ref().expect("markPx");
        let oracle = snapshot.prices.index.as_ref().expect("oraclePx");
        assert_eq!(
            (mark.value.to_string(), oracle.value.to_string()),
            ("14.3161".into(), "14.32".into())
        );
        assert_eq!((oracle.ts_event, oracle.ts_init), (NOW, NOW));
        let oi = snapshot.open_interest;
        assert_eq!(oi.instrument_id.as_str(), "BTC-USD-PERP.HYPERLIQUID");
        assert_eq!(oi.open_interest, 688.11);
        assert_eq!(oi.open_interest_value, Some(688.11 * 14.3161));
        assert_eq!((oi.ts_event, oi.ts_init), (NOW, NOW));

        let snapshot = funding_snapshot(&btc, meta, ctx, NOW).unwrap();
        assert_eq!(snapshot.funding.rate.to_string(), "0.0000125");
        assert_eq!(snapshot.funding.interval_minutes, Some(60));
        assert_eq!(
            snapshot.funding.next_funding_ns,
            Some(1_754_467_200_000_000_000 + NANOS_PER_HOUR)
        );
        assert_eq!(
            (snapshot.funding.ts_event, snapshot.funding.ts_init),
            (NOW, NOW)
        );
        let mark = snapshot.prices.mark.as_ref().map(|m| m.value.to_string());
        assert_eq!(mark.as_deref(), Some("14.3161"));

        let (_, eth) = assets.get("ETH").unwrap();
        assert_eq!(eth.open_interest, Some(1882.55));
        let (hpos, _) = assets.get("HPOS").unwrap();
        assert_eq!(hpos.only_isolated, Some(true));
    }

    #[test]
    fn hip3_fixture_names_carry_the_dex_and_null_fields_are_tolerated() {
        let assets = parse_dex_assets(&ok(fixtures::META_AND_ASSET_CTXS_HIP3), "xyz").unwrap();
        assert_eq!(assets.len(), 3);
        let tsla = coin("xyz:TSLA");
        assert_eq!(tsla.id.as_str(), "xyz_TSLA-USD-PERP.HYPERLIQUID");
        let (meta, ctx) = assets.get("xyz:TSLA").unwrap();
        assert_eq!(
            (ctx.premium.as_deref(), ctx.impact_pxs.as_deref()),
            (None, None)
        );
        assert_eq!(meta.margin_mode.as_deref(), Some("strictIsolated"));
        let oi = open_interest(&tsla, ctx, NOW).unwrap().open_interest;
        assert_eq!(oi.open_interest, 12.208);
        assert_eq!(oi.open_interest_value, Some(12.208 * 465.13));
        let funding = funding_snapshot(&tsla, meta, ctx, NOW).unwrap();
        assert_eq!(funding.funding.rate, Decimal::ZERO);
        assert_eq!(funding.funding.rate.to_string(), "0.0");

        let (_, nvda) = assets.get("xyz:NVDA").unwrap();
        assert_eq!(
            (nvda.mid_px, nvda.mark_px.map(|m| m.to_string())),
            (None, Some("177.06".into()))
        );
        let (_, xyz100) = assets.get("xyz:XYZ100").unwrap();
        assert_eq!(xyz100.funding.as_deref(), Some("0.0002110251"));
        assert_eq!(xyz100.day_base_vlm, Some(0.0183));
        // The bare coin is not how a builder-dex asset is named.
        assert!(matches!(
            assets.get("TSLA"),
            Err(FetchError::UnknownSymbol { .. })
        ));
    }

    #[test]
    fn unprefixed_builder_dex_names_are_qualified_with_their_dex() {
        let body = r#"[{"universe":[{"name":"TSLA"}]},[{"funding":"0.0001","openInterest":"1"}]]"#;
        let assets = parse_dex_assets(&ok(body), "xyz").unwrap();
        assert!(assets.get("xyz:TSLA").is_ok());
        let infos = instrument_infos(
            &parse_meta(&ok(r#"{"universe":[{"name":"TSLA"}]}"#)).unwrap(),
            "xyz",
        );
        assert_eq!(infos[0].instrument.native, "xyz:TSLA");
    }

    #[test]
    fn ctx_variants_numbers_missing_mark_and_missing_fields() {
        let body = r#"[{"universe":[{"name":"BTC"},{"name":"ETH"},{"name":"SOL"},{"name":"kPEPE"}]},
            [{"funding":0.0000125,"openInterest":688.11,"markPx":14.3161},
             {"funding":"-0.00001","openInterest":"5"},
             {"markPx":"1.0"},
             {"funding":"0.00001","openInterest":"100","markPx":"0.01","premium":null,"midPx":null,"impactPxs":null}]]"#;
        let assets = parse_dex_assets(&ok(body), "").unwrap();

        let (meta, ctx) = assets.get("BTC").unwrap();
        let oi = open_interest(&coin("BTC"), ctx, NOW).unwrap().open_interest;
        assert_eq!(oi.open_interest_value, Some(688.11 * 14.3161));
        let rate = funding_snapshot(&coin("BTC"), meta, ctx, NOW)
            .unwrap()
            .funding
            .rate;
        assert_eq!(rate, "0.0000125".parse::<Decimal>().unwrap());

        let (meta, ctx) = assets.get("ETH").unwrap();
        assert_eq!(
            open_interest(&coin("ETH"), ctx, NOW)
                .unwrap()
                .open_interest
                .open_interest_value,
            None
        );
        let snapshot = funding_snapshot(&coin("ETH"), meta, ctx, NOW).unwrap();
        assert_eq!(snapshot.prices.mark, None);
        assert_eq!(snapshot.funding.rate.to_string(), "-0.00001");

        let (meta, ctx) = assets.get("SOL").unwrap();
        let e = open_interest(&coin("SOL"), ctx, NOW).unwrap_err();
        assert!(e.to_string().contains("no openInterest for SOL"), "{e}");
        let e = funding_snapshot(&coin("SOL"), meta, ctx, NOW).unwrap_err();
        assert!(e.to_string().contains("no funding for SOL"), "{e}");

        let kpepe = coin("kPEPE");
        assert_eq!(kpepe.id.as_str(), "kPEPE-USD-PERP.HYPERLIQUID");
        let (_, ctx) = assets.get("kPEPE").unwrap();
        assert_eq!(
            open_interest(&kpepe, ctx, NOW)
                .unwrap()
                .open_interest
                .open_interest_value,
            Some(1.0)
        );
    }

    #[test]
    fn unknown_coins_misaligned_and_null_contexts() {
        let assets = parse_dex_assets(&ok(fixtures::META_AND_ASSET_CTXS), "").unwrap();
        let e = assets.get("DOGE").unwrap_err();
        assert_eq!(
            e,
            FetchError::UnknownSymbol {
                venue: crate::VENUE,
                symbol: "DOGE".into()
            }
        );
        assert_eq!(e.to_string(), "hyperliquid has no perpetual 'DOGE'");

        let short = r#"[{"universe":[{"name":"BTC"},{"name":"ETH"}]},[{"funding":"0.0001","openInterest":"1"}]]"#;
        let e = parse_dex_assets(&ok(short), "").unwrap_err();
        assert!(matches!(e, FetchError::Malformed { .. }));
        assert!(
            e.to_string()
                .contains("2 assets in the universe but 1 asset contexts"),
            "{e}"
        );

        let null_ctx = r#"[{"universe":[{"name":"BTC"}]},[null]]"#;
        let assets = parse_dex_assets(&ok(null_ctx), "").unwrap();
        assert!(matches!(
            assets.get("BTC"),
            Err(FetchError::Malformed { .. })
        ));

        // A dex that does not exist answers null: every coin of it is unknown.
        let assets = parse_dex_assets(&ok("null"), "nope").unwrap();
        assert!(assets.is_empty());
        assert!(matches!(
            assets.get("nope:X"),
            Err(FetchError::UnknownSymbol { .. })
        ));
    }

    #[test]
    fn delisted_coins_keep_open_interest_but_have_no_funding() {
        let body = r#"[{"universe":[{"name":"LOOM","isDelisted":true}]},[{"funding":"0.0","openInterest":"0.0","markPx":"0.05"}]]"#;
        let assets = parse_dex_assets(&ok(body), "").unwrap();
        let (meta, ctx) = assets.get("LOOM").unwrap();
        let loom = coin("LOOM");
        assert_eq!(
            open_interest(&loom, ctx, NOW)
                .unwrap()
                .open_interest
                .open_interest,
            0.0
        );
        let e = funding_snapshot(&loom, meta, ctx, NOW).unwrap_err();
        assert!(matches!(e, FetchError::Unsupported { .. }));
        assert_eq!(
            e.to_string(),
            "hyperliquid does not provide funding for 'LOOM', which is delisted (no funding is charged)"
        );
    }

    #[test]
    fn meta_2023_cassette_lists_every_coin_including_k_coins() {
        let meta = parse_meta(&ok(fixtures::META_2023)).unwrap();
        let infos = instrument_infos(&meta, "");
        assert_eq!(infos.len(), 28);
        assert_eq!(infos[0].instrument.id.as_str(), "BTC-USD-PERP.HYPERLIQUID");
        let kpepe = infos
            .iter()
            .find(|i| i.instrument.native == "kPEPE")
            .unwrap();
        assert_eq!(kpepe.instrument.id.as_str(), "kPEPE-USD-PERP.HYPERLIQUID");
        // Prices 6 − szDecimals, sizes szDecimals: BTC 5 → 1/5, kPEPE 0 → 6/0.
        assert_eq!(infos[0].precision, Some(Precision { price: 1, size: 5 }));
        assert_eq!(kpepe.precision, Some(Precision { price: 6, size: 0 }));
        assert!(infos.iter().all(
            |i| i.status == InstrumentStatus::Trading && i.funding_interval_minutes == Some(60)
        ));
    }

    #[test]
    fn instrument_infos_mark_delisted_and_skip_unrepresentable_names() {
        let meta = parse_meta(&ok(
            r#"{"universe":[{"name":"BTC"},{"name":"LOOM","isDelisted":true},{"name":"BAD-NAME"},{"name":"@1"}]}"#,
        ))
        .unwrap();
        let infos = instrument_infos(&meta, "");
        let got: Vec<_> = infos
            .iter()
            .map(|i| (i.instrument.native.as_str(), i.status.clone()))
            .collect();
        assert_eq!(
            got,
            [
                ("BTC", InstrumentStatus::Trading),
                ("LOOM", InstrumentStatus::Delisted)
            ]
        );
        assert_eq!(infos[0].precision, None, "no szDecimals, no precision");
    }

    #[test]
    fn all_perp_metas_fixture_has_one_meta_per_dex() {
        let metas = parse_all_perp_metas(&ok(fixtures::ALL_PERP_METAS_HIP3)).unwrap();
        let collateral: Vec<_> = metas.iter().map(|m| m.collateral_token).collect();
        assert_eq!(collateral, [Some(0), Some(360), Some(235)]);
        let ids: Vec<String> = metas
            .iter()
            .flat_map(|m| {
                let dex = crate::http::requests::dex_of(&m.universe[0].name).to_string();
                instrument_infos(m, &dex)
            })
            .map(|i| i.instrument.id.to_string())
            .collect();
        assert_eq!(
            ids,
            [
                "BTC-USD-PERP.HYPERLIQUID",
                "km_US500-USD-PERP.HYPERLIQUID",
                "hyna_BTC-USD-PERP.HYPERLIQUID"
            ]
        );
    }

    #[test]
    fn hip3_funding_history_fixture_is_a_settled_exact_rate() {
        let entries = parse_funding_history(&ok(fixtures::FUNDING_HISTORY_HIP3)).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].coin.as_deref(), Some("xyz:XYZ100"));
        assert_eq!(entries[0].premium.as_deref(), Some("-0.00052196"));
        let rate = settled_funding(&coin("xyz:XYZ100"), &entries[0]).unwrap();
        assert_eq!(
            rate.instrument_id.as_str(),
            "xyz_XYZ100-USD-PERP.HYPERLIQUID"
        );
        assert_eq!(rate.rate.to_string(), "-0.00022196");
        assert_eq!(rate.next_funding_ns, None);
        assert_eq!(rate.interval_minutes, Some(60));
        assert_eq!(
            (rate.ts_event, rate.ts_init),
            (1_683_849_600_076_000_000, 1_683_849_600_076_000_000)
        );
    }

    #[test]
    fn funding_history_rows_need_a_time_and_a_decimal_rate() {
        let btc = coin("BTC");
        let entries = parse_funding_history(&ok(
            r#"[{"coin":"BTC","fundingRate":"0.0001"},{"coin":"BTC","time":1},{"coin":"BTC","fundingRate":"abc","time":2}]"#,
        ))
        .unwrap();
        for (entry, why) in entries.iter().zip([
            "has no time",
            "has no fundingRate",
            "'abc' is not a decimal",
        ]) {
            let e = settled_funding(&btc, entry).unwrap_err();
            assert!(matches!(e, FetchError::Malformed { .. }), "{e}");
            assert!(e.to_string().contains(why), "{e}");
        }
        assert!(parse_funding_history(&ok("null")).unwrap().is_empty());
        assert!(parse_funding_history(&ok("[]")).unwrap().is_empty());
    }

    #[test]
    fn perp_dexs_and_oi_cap_fixtures() {
        let dexs = parse_perp_dexs(&ok(fixtures::PERP_DEXS)).unwrap();
        let names: Vec<_> = dexs.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["test"]);
        let capped = parse_perps_at_open_interest_cap(&ok(fixtures::PERPS_AT_OI_CAP)).unwrap();
        assert_eq!(capped, ["BADGER", "CANTO", "FTM", "LOOM", "PURR"]);
    }

    #[test]
    fn predicted_fundings_fixture_gives_hyperliquid_predictions_exactly() {
        let all = parse_predicted_fundings(&ok(fixtures::PREDICTED_FUNDINGS)).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].1.len(), 3);
        let hl = hl_predicted_fundings(&ok(fixtures::PREDICTED_FUNDINGS)).unwrap();
        assert_eq!(
            hl,
            [
                HlPredictedFunding {
                    coin: "BTC".into(),
                    rate: "0.0000125".parse().unwrap(),
                    next_funding_ns: 1_754_470_800_000_000_000,
                    interval_minutes: 60,
                },
                HlPredictedFunding {
                    coin: "ETH".into(),
                    rate: "0.0000104019".parse().unwrap(),
                    next_funding_ns: 1_754_470_800_000_000_000,
                    interval_minutes: 60,
                },
            ]
        );
        assert_eq!(hl[1].rate.to_string(), "0.0000104019");
        let estimate = hl[0].to_funding_rate(coin("BTC").id, NOW);
        assert_eq!(estimate.next_funding_ns, Some(1_754_470_800_000_000_000));
        assert_eq!((estimate.ts_event, estimate.ts_init), (NOW, NOW));
    }

    #[test]
    fn predicted_fundings_variants_null_entries_missing_interval_and_bad_rates() {
        let body = r#"[["BTC",[["BinPerp",null],["HlPerp",{"fundingRate":0.0000125,"nextFundingTime":"1754470800000"}]]],
                       ["ETH",[["HlPerp",null]]],
                       ["SOL",[["BybitPerp",{"fundingRate":"0.0001","nextFundingTime":1754496000000}]]]]"#;
        let hl = hl_predicted_fundings(&ok(body)).unwrap();
        assert_eq!(hl.len(), 1);
        assert_eq!(hl[0].rate.to_string(), "0.0000125");
        assert_eq!(hl[0].interval_minutes, 60);
        let bad = r#"[["BTC",[["HlPerp",{"fundingRate":"x","nextFundingTime":1}]]]]"#;
        assert!(matches!(
            hl_predicted_fundings(&ok(bad)),
            Err(FetchError::Malformed { .. })
        ));
        let no_time = r#"[["BTC",[["HlPerp",{"fundingRate":"0.1"}]]]]"#;
        let e = hl_predicted_fundings(&ok(no_time)).unwrap_err();
        assert!(e.to_string().contains("no nextFundingTime"), "{e}");
    }

    #[test]
    fn error_bodies_and_statuses_become_venue_errors() {
        let e = parse_meta(&HttpResponse {
            status: 422,
            body: "Failed to deserialize the JSON body into the target type".into(),
        })
        .unwrap_err();
        assert_eq!(
            e,
            FetchError::Venue {
                venue: crate::VENUE,
                code: "422".into(),
                message: "Failed to deserialize the JSON body into the target type".into(),
            }
        );
        assert_eq!(
            e.to_string(),
            "hyperliquid rejected the request: Failed to deserialize the JSON body into the target type (code 422)"
        );
        // A 4xx with a JSON body is still the venue's answer, not ours to parse.
        let e = parse_meta(&HttpResponse {
            status: 400,
            body: r#"{"universe":[]}"#.into(),
        })
        .unwrap_err();
        assert!(matches!(e, FetchError::Venue { ref code, .. } if code == "400"));
        // A 2xx plain-text or JSON-string body is an error text too.
        let e = parse_funding_history(&ok("Invalid coin")).unwrap_err();
        assert!(matches!(e, FetchError::Venue { ref message, .. } if message == "Invalid coin"));
        let e = parse_funding_history(&ok(r#""Unknown coin""#)).unwrap_err();
        assert!(matches!(e, FetchError::Venue { ref message, .. } if message == "Unknown coin"));
        // Long bodies are cut.
        let long = "x".repeat(1000);
        let e = parse_meta(&HttpResponse {
            status: 400,
            body: long.into(),
        })
        .unwrap_err();
        assert!(
            matches!(e, FetchError::Venue { ref message, .. } if message.chars().count() == 301)
        );
        // A 5xx that reaches the parser stays retryable.
        let e = parse_funding_history(&HttpResponse {
            status: 503,
            body: "upstream unavailable".into(),
        })
        .unwrap_err();
        assert_eq!(
            e,
            FetchError::Http {
                venue: crate::VENUE,
                status: 503,
                body: "upstream unavailable".into()
            }
        );
        assert_eq!(e.class(), ccxt_venue::ErrorClass::Retryable);
        let e = parse_meta(&HttpResponse {
            status: 422,
            body: "".into(),
        })
        .unwrap_err();
        assert!(matches!(e, FetchError::Venue { ref message, .. } if message == "(empty body)"));
        assert_eq!(e.class(), ccxt_venue::ErrorClass::Terminal);
    }

    #[test]
    fn wrong_shapes_and_empty_bodies_are_malformed() {
        for body in [
            r#"{"universe":"none"}"#,
            "",
            "  ",
            "[1,2",
            r#"{"universe":[{"name":"BTC"}"#,
            "42",
        ] {
            let e = parse_meta(&ok(body)).unwrap_err();
            assert!(
                matches!(e, FetchError::Malformed { ref what, .. } if what == "meta"),
                "{body}: {e}"
            );
        }
        let e = parse_meta_and_asset_ctxs(&ok(r#"{"universe":[]}"#)).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("malformed metaAndAssetCtxs response from hyperliquid"),
            "{e}"
        );
    }

    #[test]
    fn rates_are_exact_decimals_in_plain_or_exponent_form() {
        assert_eq!(parse_rate("0.0000125").unwrap().to_string(), "0.0000125");
        assert_eq!(parse_rate("1.25e-5").unwrap().to_string(), "0.0000125");
        assert_eq!(
            parse_rate(" -0.00022196 ").unwrap().to_string(),
            "-0.00022196"
        );
        assert_eq!(
            parse_rate("0.0002110251").unwrap().to_string(),
            "0.0002110251"
        );
        assert!(parse_rate("").is_err());
        assert!(parse_rate("0.1.2").is_err());
        assert!(parse_rate("NaN").is_err());
    }

    #[test]
    fn next_funding_is_the_next_full_hour() {
        let hour = 1_754_467_200_000_000_000; // 2025-08-06T08:00:00Z
        assert_eq!(next_funding_ns(hour), hour + NANOS_PER_HOUR);
        assert_eq!(next_funding_ns(hour + 1), hour + NANOS_PER_HOUR);
        assert_eq!(
            next_funding_ns(hour + NANOS_PER_HOUR - 1),
            hour + NANOS_PER_HOUR
        );
        assert_eq!(ms_to_ns(1_683_849_600_076), Some(1_683_849_600_076_000_000));
        assert_eq!(ms_to_ns(u64::MAX), None);
    }
}
