//! Pure builders of the OKX v5 requests the collector sends, each costing 1 in its endpoint's
//! pool (see [`crate::rate_limits`]).

use ccxt_venue::HttpRequest;

/// `instruments`: 20 per 2 s (IP + instType).
pub const POOL_INSTRUMENTS: &str = "instruments";
/// `open-interest`: 20 per 2 s (IP + instId).
pub const POOL_OPEN_INTEREST: &str = "open-interest";
/// `funding-rate`: 10 per 2 s (IP + instId).
pub const POOL_FUNDING: &str = "funding-rate";
/// `funding-rate-history`: 10 per 2 s (IP + instId).
pub const POOL_FUNDING_HISTORY: &str = "funding-rate-history";
/// `rubik/stat/contracts/open-interest-history`: 10 per 2 s (IP + instId).
pub const POOL_OI_HISTORY: &str = "open-interest-history";
/// `market/candles`: 40 per 2 s (IP).
pub const POOL_CANDLES: &str = "candles";
/// `market/history-candles`: 20 per 2 s (IP).
pub const POOL_HISTORY_CANDLES: &str = "history-candles";
/// `market/mark-price-candles` and `history-mark-price-candles`: 20 per 2 s each (IP); one
/// pool here (stricter).
pub const POOL_MARK_CANDLES: &str = "mark-price-candles";

/// The instrument type of perpetual swaps.
pub const SWAP: &str = "SWAP";
/// Rows per funding-history page (the maximum since 2025-06-19; 100 before).
pub const FUNDING_HISTORY_LIMIT: u32 = 400;
/// Rows per rubik OI-history page (the maximum).
pub const OI_HISTORY_LIMIT: u32 = 100;
/// Rows per trade-candle page (the maximum).
pub const CANDLES_LIMIT: u32 = 300;
/// Rows per mark-price-candle page (the maximum).
pub const MARK_CANDLES_LIMIT: u32 = 100;

/// `GET /api/v5/public/instruments?instType=SWAP`: every listed swap.
pub fn instruments() -> HttpRequest {
    HttpRequest::get(
        "instruments",
        "/api/v5/public/instruments",
        POOL_INSTRUMENTS,
        1,
    )
    .param("instType", SWAP)
}

/// `GET /api/v5/public/open-interest?instType=SWAP[&instId=…]`: all swaps (bulk) or one.
pub fn open_interest(inst_id: Option<&str>) -> HttpRequest {
    let r = HttpRequest::get(
        "open-interest",
        "/api/v5/public/open-interest",
        POOL_OPEN_INTEREST,
        1,
    )
    .param("instType", SWAP);
    match inst_id {
        Some(id) => r.param("instId", id),
        None => r,
    }
}

/// `GET /api/v5/public/funding-rate?instId=…`; `None` asks for every perpetual (`instId=ANY`).
pub fn funding_rate(inst_id: Option<&str>) -> HttpRequest {
    HttpRequest::get(
        "funding-rate",
        "/api/v5/public/funding-rate",
        POOL_FUNDING,
        1,
    )
    .param("instId", inst_id.unwrap_or("ANY"))
}

/// `GET /api/v5/public/funding-rate-history?instId&limit=400[&after=T]`: settled rows older
/// than `after` (exclusive), newest first.
pub fn funding_rate_history(inst_id: &str, after_ms: Option<u64>) -> HttpRequest {
    let r = HttpRequest::get(
        "funding-rate-history",
        "/api/v5/public/funding-rate-history",
        POOL_FUNDING_HISTORY,
        1,
    )
    .param("instId", inst_id)
    .param("limit", FUNDING_HISTORY_LIMIT);
    match after_ms {
        Some(a) => r.param("after", a),
        None => r,
    }
}

/// `GET /api/v5/rubik/stat/contracts/open-interest-history?instId&period&limit=100[&end=T]`:
/// rows older than `end` (exclusive), newest first. `period` is OKX's name (`5m`, `1H`,
/// `1Dutc`, see [`super::paginate::rubik_period_name`]).
pub fn open_interest_history(inst_id: &str, period: &str, end_ms: Option<u64>) -> HttpRequest {
    let r = HttpRequest::get(
        "open-interest-history",
        "/api/v5/rubik/stat/contracts/open-interest-history",
        POOL_OI_HISTORY,
        1,
    )
    .param("instId", inst_id)
    .param("period", period)
    .param("limit", OI_HISTORY_LIMIT);
    match end_ms {
        Some(e) => r.param("end", e),
        None => r,
    }
}

/// Which candles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CandleKind {
    /// Trade candles (9 fields).
    Trade,
    /// Mark-price candles (6 fields).
    Mark,
}

/// `GET /api/v5/market/{candles|history-candles|mark-price-candles|history-mark-price-candles}`
/// `?instId&bar&limit[&after=T]`: candles opening before `after` (exclusive), newest first.
/// `history` picks the deep endpoint (the recent one keeps only the latest 1,440 candles).
pub fn candles(
    kind: CandleKind,
    history: bool,
    inst_id: &str,
    bar: &str,
    after_ms: Option<u64>,
) -> HttpRequest {
    let (endpoint, path, pool, limit) = match (kind, history) {
        (CandleKind::Trade, false) => (
            "candles",
            "/api/v5/market/candles",
            POOL_CANDLES,
            CANDLES_LIMIT,
        ),
        (CandleKind::Trade, true) => (
            "history-candles",
            "/api/v5/market/history-candles",
            POOL_HISTORY_CANDLES,
            CANDLES_LIMIT,
        ),
        (CandleKind::Mark, false) => (
            "mark-price-candles",
            "/api/v5/market/mark-price-candles",
            POOL_MARK_CANDLES,
            MARK_CANDLES_LIMIT,
        ),
        (CandleKind::Mark, true) => (
            "history-mark-price-candles",
            "/api/v5/market/history-mark-price-candles",
            POOL_MARK_CANDLES,
            MARK_CANDLES_LIMIT,
        ),
    };
    let r = HttpRequest::get(endpoint, path, pool, 1)
        .param("instId", inst_id)
        .param("bar", bar)
        .param("limit", limit);
    match after_ms {
        Some(a) => r.param("after", a),
        None => r,
    }
}

/// One request of each builder (for checks over all of them).
pub fn all_examples() -> Vec<HttpRequest> {
    vec![
        instruments(),
        open_interest(None),
        funding_rate(None),
        funding_rate_history("BTC-USDT-SWAP", None),
        open_interest_history("BTC-USDT-SWAP", "5m", None),
        candles(CandleKind::Trade, false, "BTC-USDT-SWAP", "1m", None),
        candles(CandleKind::Trade, true, "BTC-USDT-SWAP", "1m", None),
        candles(CandleKind::Mark, false, "BTC-USDT-SWAP", "1m", None),
        candles(CandleKind::Mark, true, "BTC-USDT-SWAP", "1m", None),
    ]
}

#[cfg(test)]
mod tests {
    use ccxt_venue::testing::query;

    use super::*;

    #[test]
    fn paths_and_parameters() {
        let r = instruments();
        assert_eq!(
            (r.path.as_str(), query(&r)),
            ("/api/v5/public/instruments", vec![("instType", "SWAP")])
        );
        assert_eq!(query(&open_interest(None)), [("instType", "SWAP")]);
        assert_eq!(
            query(&open_interest(Some("BTC-USDT-SWAP"))),
            [("instType", "SWAP"), ("instId", "BTC-USDT-SWAP")]
        );
        assert_eq!(query(&funding_rate(None)), [("instId", "ANY")]);
        assert_eq!(
            query(&funding_rate_history(
                "ETH-USDT-SWAP",
                Some(1_704_067_200_000)
            )),
            [
                ("instId", "ETH-USDT-SWAP"),
                ("limit", "400"),
                ("after", "1704067200000")
            ]
        );
        let r = open_interest_history("BTC-USDT-SWAP", "1H", Some(5));
        assert_eq!(
            (r.path.as_str(), query(&r)),
            (
                "/api/v5/rubik/stat/contracts/open-interest-history",
                vec![
                    ("instId", "BTC-USDT-SWAP"),
                    ("period", "1H"),
                    ("limit", "100"),
                    ("end", "5")
                ]
            )
        );
        let r = candles(CandleKind::Mark, true, "BTC-USDT-SWAP", "1H", Some(9));
        assert_eq!(r.path, "/api/v5/market/history-mark-price-candles");
        assert_eq!(r.param_value("limit"), Some("100"));
        assert_eq!(r.param_value("after"), Some("9"));
        let r = candles(CandleKind::Trade, false, "BTC-USDT-SWAP", "1m", None);
        assert_eq!(
            (r.path.as_str(), r.param_value("limit"), r.costs.clone()),
            (
                "/api/v5/market/candles",
                Some("300"),
                vec![(POOL_CANDLES, 1)]
            )
        );
    }
}
