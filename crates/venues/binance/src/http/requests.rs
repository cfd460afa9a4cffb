//! Pure builders of the Binance USDⓈ-M requests we send, each with its path, parameters and the
//! rate-limit budget it spends (see [`crate::rate_limits`]).

use ccxt_venue::{HttpRequest, OiPeriod};

/// The IP request-weight pool: 2400 per minute, reported in `X-MBX-USED-WEIGHT-1M`.
pub const POOL_IP: &str = "ip";
/// The pool `/fapi/v1/fundingRate` and `/fapi/v1/fundingInfo` share: 500 requests per 5 minutes
/// per IP.
pub const POOL_FUNDING: &str = "funding";

/// Rows per `/futures/data/openInterestHist` page (the maximum).
pub const OI_HIST_LIMIT: u32 = 500;
/// Rows per `/fapi/v1/fundingRate` page (the maximum).
pub const FUNDING_RATE_LIMIT: u32 = 1000;

/// `GET /fapi/v1/exchangeInfo`, weight 1: every contract and its status.
pub fn exchange_info() -> HttpRequest {
    HttpRequest::get("exchangeInfo", "/fapi/v1/exchangeInfo", POOL_IP, 1)
}

/// `GET /fapi/v1/fundingInfo`: the symbols whose funding interval (or cap) was adjusted. Costs
/// one request of the funding pool (its IP weight is 0).
pub fn funding_info() -> HttpRequest {
    HttpRequest::get("fundingInfo", "/fapi/v1/fundingInfo", POOL_FUNDING, 1)
}

/// `GET /fapi/v1/openInterest?symbol=…`, weight 1: current open interest of one symbol (there
/// is no all-symbols form).
pub fn open_interest(symbol: &str) -> HttpRequest {
    HttpRequest::get("openInterest", "/fapi/v1/openInterest", POOL_IP, 1).param("symbol", symbol)
}

/// `GET /fapi/v1/premiumIndex` without a symbol, weight 1: mark price and funding estimate of
/// every symbol in one call.
pub fn premium_index_all() -> HttpRequest {
    HttpRequest::get("premiumIndex", "/fapi/v1/premiumIndex", POOL_IP, 1)
}

/// `GET /futures/data/openInterestHist`: open-interest buckets of `period` in
/// `[start_ms, end_ms]`, ascending.
///
/// The docs give this endpoint IP weight 0 (the `/futures/data` endpoints have a separate,
/// undocumented limit); we charge 1 in the IP pool so a long backfill still paces itself.
pub fn open_interest_hist(
    symbol: &str,
    period: OiPeriod,
    start_ms: u64,
    end_ms: u64,
) -> HttpRequest {
    HttpRequest::get(
        "openInterestHist",
        "/futures/data/openInterestHist",
        POOL_IP,
        1,
    )
    .param("symbol", symbol)
    .param("period", period.as_str())
    .param("limit", OI_HIST_LIMIT)
    .param("startTime", start_ms)
    .param("endTime", end_ms)
}

/// `GET /fapi/v1/fundingRate`: settled rates with `start_ms <= fundingTime <= end_ms` (both
/// inclusive), ascending, at most [`FUNDING_RATE_LIMIT`] from `start_ms` on. One request of the
/// funding pool.
pub fn funding_rate_history(symbol: &str, start_ms: u64, end_ms: u64) -> HttpRequest {
    HttpRequest::get("fundingRate", "/fapi/v1/fundingRate", POOL_FUNDING, 1)
        .param("symbol", symbol)
        .param("startTime", start_ms)
        .param("endTime", end_ms)
        .param("limit", FUNDING_RATE_LIMIT)
}

#[cfg(test)]
mod tests {
    use ccxt_venue::testing::query;

    use super::*;

    #[test]
    fn bulk_and_listing_requests_have_no_parameters() {
        for (r, path, pool) in [
            (exchange_info(), "/fapi/v1/exchangeInfo", POOL_IP),
            (premium_index_all(), "/fapi/v1/premiumIndex", POOL_IP),
            (funding_info(), "/fapi/v1/fundingInfo", POOL_FUNDING),
        ] {
            assert_eq!(r.path, path);
            assert!(r.query.is_empty(), "{path}");
            assert_eq!(r.costs, vec![(pool, 1)], "{path}");
            assert_eq!(r.method, ccxt_venue::HttpMethod::Get);
        }
    }

    #[test]
    fn per_symbol_requests_carry_symbol_limit_and_inclusive_times() {
        let r = open_interest("BTCUSDT");
        assert_eq!(
            (r.path.as_str(), query(&r)),
            ("/fapi/v1/openInterest", vec![("symbol", "BTCUSDT")])
        );
        assert_eq!(r.costs, vec![(POOL_IP, 1)]);

        let r = open_interest_hist("ETHUSDT", OiPeriod::H4, 10, 20);
        assert_eq!(r.path, "/futures/data/openInterestHist");
        assert_eq!(
            query(&r),
            vec![
                ("symbol", "ETHUSDT"),
                ("period", "4h"),
                ("limit", "500"),
                ("startTime", "10"),
                ("endTime", "20")
            ]
        );
        assert_eq!(r.costs, vec![(POOL_IP, 1)]);

        let r = funding_rate_history("BTCUSDT", 1, 2);
        assert_eq!(r.path, "/fapi/v1/fundingRate");
        assert_eq!(
            query(&r),
            vec![
                ("symbol", "BTCUSDT"),
                ("startTime", "1"),
                ("endTime", "2"),
                ("limit", "1000")
            ]
        );
        assert_eq!(r.costs, vec![(POOL_FUNDING, 1)]);
    }

    #[test]
    fn oi_periods_are_spelled_as_binance_spells_them() {
        let spelled: Vec<String> = OiPeriod::ALL
            .iter()
            .map(|p| {
                open_interest_hist("X", *p, 0, 0)
                    .param_value("period")
                    .unwrap_or_default()
                    .to_string()
            })
            .collect();
        assert_eq!(spelled, ["5m", "15m", "30m", "1h", "4h", "1d"]);
    }
}
