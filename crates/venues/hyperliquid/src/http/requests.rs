//! Builders of the `POST /info` requests, with the weight each spends.
//!
//! Pure functions: they return [`HttpRequest`] values for the transport to send. Weights follow
//! the documented per-IP limit of 1200 per minute: 20 for every info request used here, and
//! for `fundingHistory` one more per 20 rows returned — the transport charges before it sends,
//! so the builder charges the most a page can cost, `20 + 500 / 20 = 45`.
//!
//! Docs: <https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/rate-limits-and-user-limits>.

use ccxt_venue::HttpRequest;
use serde_json::{Map, Value, json};

use crate::RATE_LIMIT_POOL;

/// The path of every market-data request.
pub const INFO_PATH: &str = "/info";

/// Weight of an info request (`meta`, `metaAndAssetCtxs`, `predictedFundings`, …).
pub const INFO_WEIGHT: u32 = 20;

/// The most rows one `fundingHistory` response holds ("responses that take a time range will
/// only return 500 elements").
pub const FUNDING_HISTORY_PAGE_LIMIT: usize = 500;

/// Weight charged for one `fundingHistory` page: the base weight plus one per 20 rows of a
/// full page.
pub const FUNDING_HISTORY_WEIGHT: u32 = INFO_WEIGHT + (FUNDING_HISTORY_PAGE_LIMIT as u32) / 20;

/// The dex of a coin: `xyz` for `xyz:TSLA`, `""` (the main dex) for `BTC`.
pub fn dex_of(coin: &str) -> &str {
    coin.split_once(':').map_or("", |(dex, _)| dex)
}

/// An info request of `type`, with `dex` added when it is not the main dex.
fn info(endpoint: &'static str, dex: &str, weight: u32) -> HttpRequest {
    let mut body = Map::new();
    body.insert("type".into(), Value::from(endpoint));
    if !dex.is_empty() {
        body.insert("dex".into(), Value::from(dex));
    }
    HttpRequest::post(
        endpoint,
        INFO_PATH,
        Value::Object(body),
        RATE_LIMIT_POOL,
        weight,
    )
}

/// `{"type":"meta"}` (main dex) or `{"type":"meta","dex":"xyz"}`: a dex's universe.
pub fn meta(dex: &str) -> HttpRequest {
    info("meta", dex, INFO_WEIGHT)
}

/// `{"type":"metaAndAssetCtxs"}` (optionally with `dex`): a dex's universe with the open
/// interest, funding and prices of every asset.
pub fn meta_and_asset_ctxs(dex: &str) -> HttpRequest {
    info("metaAndAssetCtxs", dex, INFO_WEIGHT)
}

/// `{"type":"allPerpMetas"}`: the universe of every dex at once.
pub fn all_perp_metas() -> HttpRequest {
    info("allPerpMetas", "", INFO_WEIGHT)
}

/// `{"type":"perpDexs"}`: the builder-deployed dexes.
pub fn perp_dexs() -> HttpRequest {
    info("perpDexs", "", INFO_WEIGHT)
}

/// `{"type":"perpsAtOpenInterestCap"}`: the coins whose open interest is at its cap.
pub fn perps_at_open_interest_cap() -> HttpRequest {
    info("perpsAtOpenInterestCap", "", INFO_WEIGHT)
}

/// `{"type":"predictedFundings"}`: predicted next funding per coin of the main dex, for
/// Hyperliquid and two reference venues.
pub fn predicted_fundings() -> HttpRequest {
    info("predictedFundings", "", INFO_WEIGHT)
}

/// `{"type":"fundingHistory","coin":…,"startTime":…,"endTime":…}`: settled funding of `coin`
/// from `start_ms` to `end_ms` (both inclusive, UNIX ms), oldest first, at most
/// [`FUNDING_HISTORY_PAGE_LIMIT`] rows.
pub fn funding_history(coin: &str, start_ms: u64, end_ms: u64) -> HttpRequest {
    HttpRequest::post(
        "fundingHistory",
        INFO_PATH,
        json!({"type": "fundingHistory", "coin": coin, "startTime": start_ms, "endTime": end_ms}),
        RATE_LIMIT_POOL,
        FUNDING_HISTORY_WEIGHT,
    )
}

/// The most fills one `userFillsByTime` response holds.
pub const FILLS_PAGE_LIMIT: usize = 2000;

/// `{"type":"userFillsByTime","user":…,"startTime":…,"endTime":…}`: the fills of `user` from
/// `start_ms` to `end_ms` (inclusive, UNIX ms), oldest first, at most [`FILLS_PAGE_LIMIT`].
/// Weight: 20, plus 1 per 20 fills returned; see [`USER_FILLS_WEIGHT`].
pub fn user_fills_by_time(user: &str, start_ms: u64, end_ms: u64) -> HttpRequest {
    HttpRequest::post(
        "userFillsByTime",
        INFO_PATH,
        json!({
            "type": "userFillsByTime",
            "user": user,
            "startTime": start_ms,
            "endTime": end_ms,
            "aggregateByTime": false
        }),
        RATE_LIMIT_POOL,
        USER_FILLS_WEIGHT,
    )
}

/// Weight charged up front per poll: the base 20 plus the extra for a typical answer (up to 100
/// fills: 1 per 20). Charging the worst case (2000 fills: 120) would cap polling at 8 per minute
/// on an 80 % budget; a rare long answer costs more than charged, which the 20 % headroom absorbs.
pub const USER_FILLS_WEIGHT: u32 = INFO_WEIGHT + 5;

#[cfg(test)]
mod tests {
    use ccxt_venue::HttpMethod;

    use super::*;

    #[test]
    fn every_request_is_a_post_to_info_with_a_typed_body() {
        for (request, body) in [
            (meta(""), json!({"type": "meta"})),
            (meta("xyz"), json!({"type": "meta", "dex": "xyz"})),
            (meta_and_asset_ctxs(""), json!({"type": "metaAndAssetCtxs"})),
            (
                meta_and_asset_ctxs("xyz"),
                json!({"type": "metaAndAssetCtxs", "dex": "xyz"}),
            ),
            (all_perp_metas(), json!({"type": "allPerpMetas"})),
            (perp_dexs(), json!({"type": "perpDexs"})),
            (
                perps_at_open_interest_cap(),
                json!({"type": "perpsAtOpenInterestCap"}),
            ),
            (predicted_fundings(), json!({"type": "predictedFundings"})),
        ] {
            assert_eq!(request.method, HttpMethod::Post);
            assert_eq!(request.path, "/info");
            assert!(request.query.is_empty());
            assert_eq!(request.costs, vec![("ip", 20)]);
            assert_eq!(request.endpoint, body["type"].as_str().unwrap());
            assert_eq!(request.body, Some(body));
        }
    }

    #[test]
    fn funding_history_charges_the_most_a_full_page_costs() {
        let request = funding_history("xyz:TSLA", 1_683_849_600_000, 1_683_936_000_000);
        assert_eq!(request.endpoint, "fundingHistory");
        assert_eq!(request.costs, vec![("ip", 45)]);
        assert_eq!(
            request.body,
            Some(json!({"type": "fundingHistory", "coin": "xyz:TSLA",
                        "startTime": 1_683_849_600_000u64, "endTime": 1_683_936_000_000u64}))
        );
    }

    #[test]
    fn dex_is_the_part_before_the_colon() {
        assert_eq!(dex_of("BTC"), "");
        assert_eq!(dex_of("kPEPE"), "");
        assert_eq!(dex_of("xyz:TSLA"), "xyz");
    }
}
