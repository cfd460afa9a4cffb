//! Pure builders of the Bybit v5 requests we send (all `category=linear`), each costing one
//! request of the IP pool (see [`crate::rate_limits`]).

use ccxt_venue::{HttpRequest, OiPeriod};

/// The IP pool: 600 requests per 5 seconds across all endpoints.
pub const POOL_IP: &str = "ip";

/// The category of USDT/USDC perpetuals (and futures, filtered out by contract type).
pub const CATEGORY: &str = "linear";

/// Instruments per `instruments-info` page (the maximum).
pub const INSTRUMENTS_LIMIT: u32 = 1000;
/// Rows per `open-interest` page (the maximum).
pub const OPEN_INTEREST_LIMIT: u32 = 200;
/// Rows per `funding/history` page (the maximum).
pub const FUNDING_HISTORY_LIMIT: u32 = 200;

/// `GET /v5/market/instruments-info?category=linear&limit=1000`, with a `status` filter (without
/// one Bybit lists only `Trading` symbols; `PreLaunch` lists pre-market perpetuals) and the
/// cursor of the page to read.
pub fn instruments_info(status: Option<&str>, cursor: Option<&str>) -> HttpRequest {
    let mut r = HttpRequest::get(
        "instruments-info",
        "/v5/market/instruments-info",
        POOL_IP,
        1,
    )
    .param("category", CATEGORY)
    .param("limit", INSTRUMENTS_LIMIT);
    if let Some(status) = status {
        r = r.param("status", status);
    }
    if let Some(cursor) = cursor {
        r = r.param("cursor", cursor);
    }
    r
}

/// `GET /v5/market/instruments-info?category=linear&symbol=…`: one symbol (for its funding
/// interval).
pub fn instrument_info(symbol: &str) -> HttpRequest {
    HttpRequest::get(
        "instruments-info",
        "/v5/market/instruments-info",
        POOL_IP,
        1,
    )
    .param("category", CATEGORY)
    .param("symbol", symbol)
}

/// `GET /v5/market/tickers?category=linear`: open interest, funding and mark price of every
/// linear symbol in one call.
pub fn tickers() -> HttpRequest {
    HttpRequest::get("tickers", "/v5/market/tickers", POOL_IP, 1).param("category", CATEGORY)
}

/// Bybit's `intervalTime` for a period: `5min`, `15min`, `30min`, `1h`, `4h`, `1d`.
pub fn interval_time(period: OiPeriod) -> &'static str {
    match period {
        OiPeriod::M5 => "5min",
        OiPeriod::M15 => "15min",
        OiPeriod::M30 => "30min",
        OiPeriod::H1 => "1h",
        OiPeriod::H4 => "4h",
        OiPeriod::D1 => "1d",
    }
}

/// `GET /v5/market/open-interest`: buckets of `period` in `[start_ms, end_ms]`, newest first,
/// and the `cursor` (passed back exactly as Bybit sent it in `nextPageCursor`) of the page to
/// read.
pub fn open_interest(
    symbol: &str,
    period: OiPeriod,
    start_ms: u64,
    end_ms: u64,
    cursor: Option<&str>,
) -> HttpRequest {
    let r = HttpRequest::get("open-interest", "/v5/market/open-interest", POOL_IP, 1)
        .param("category", CATEGORY)
        .param("symbol", symbol)
        .param("intervalTime", interval_time(period))
        .param("startTime", start_ms)
        .param("endTime", end_ms)
        .param("limit", OPEN_INTEREST_LIMIT);
    match cursor {
        Some(cursor) => r.param("cursor", cursor),
        None => r,
    }
}

/// `GET /v5/market/funding/history` with `endTime` only: the 200 settled rates up to `end_ms`,
/// newest first. (`startTime` alone is an error; with `endTime` only the answer is documented.)
pub fn funding_history(symbol: &str, end_ms: u64) -> HttpRequest {
    HttpRequest::get("funding/history", "/v5/market/funding/history", POOL_IP, 1)
        .param("category", CATEGORY)
        .param("symbol", symbol)
        .param("endTime", end_ms)
        .param("limit", FUNDING_HISTORY_LIMIT)
}

#[cfg(test)]
mod tests {
    use ccxt_venue::testing::query;

    use super::*;

    #[test]
    fn instrument_listing_pages_by_cursor_with_an_optional_status() {
        let r = instruments_info(None, None);
        assert_eq!(r.path, "/v5/market/instruments-info");
        assert_eq!(query(&r), vec![("category", "linear"), ("limit", "1000")]);
        let r = instruments_info(Some("PreLaunch"), Some("first%3DBIOUSDT"));
        assert_eq!(
            query(&r),
            vec![
                ("category", "linear"),
                ("limit", "1000"),
                ("status", "PreLaunch"),
                ("cursor", "first%3DBIOUSDT")
            ]
        );
        assert_eq!(
            query(&instrument_info("BTCUSDT")),
            vec![("category", "linear"), ("symbol", "BTCUSDT")]
        );
    }

    #[test]
    fn market_requests_carry_category_symbol_and_times() {
        let r = tickers();
        assert_eq!(
            (r.path.as_str(), query(&r)),
            ("/v5/market/tickers", vec![("category", "linear")])
        );
        let r = open_interest("BTCUSDT", OiPeriod::M15, 1, 2, Some("c"));
        assert_eq!(r.path, "/v5/market/open-interest");
        assert_eq!(
            query(&r),
            vec![
                ("category", "linear"),
                ("symbol", "BTCUSDT"),
                ("intervalTime", "15min"),
                ("startTime", "1"),
                ("endTime", "2"),
                ("limit", "200"),
                ("cursor", "c")
            ]
        );
        let r = funding_history("ETHPERP", 9);
        assert_eq!(r.path, "/v5/market/funding/history");
        assert_eq!(
            query(&r),
            vec![
                ("category", "linear"),
                ("symbol", "ETHPERP"),
                ("endTime", "9"),
                ("limit", "200")
            ]
        );
        assert_eq!(
            r.param_value("startTime"),
            None,
            "startTime alone is an error; we never send it"
        );
        for r in [
            tickers(),
            instruments_info(None, None),
            open_interest("X", OiPeriod::D1, 0, 0, None),
            funding_history("X", 0),
        ] {
            assert_eq!(r.costs, vec![(POOL_IP, 1)], "{}", r.path);
        }
    }

    #[test]
    fn interval_times_are_spelled_as_bybit_spells_them() {
        let spelled: Vec<_> = OiPeriod::ALL.iter().map(|p| interval_time(*p)).collect();
        assert_eq!(spelled, ["5min", "15min", "30min", "1h", "4h", "1d"]);
    }
}
