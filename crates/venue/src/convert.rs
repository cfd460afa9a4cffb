//! Conversions every venue parser needs: venue milliseconds to the catalog's nanoseconds,
//! exact decimals from venue text, native symbols to instruments, and error bodies to
//! message text.

use std::str::FromStr;

use ccxt_model::{Instrument, Venue};
use rust_decimal::Decimal;

use crate::{FetchError, HttpResponse};

/// Nanoseconds in a millisecond.
pub const NANOS_PER_MILLI: u64 = 1_000_000;

/// How many characters of a body [`snippet`] keeps.
pub const SNIPPET_CHARS: usize = 200;

/// Decodes a response body as `T`. The body is checked to be UTF-8 once, as a whole, and then
/// read as text, so the parser does not check each string it meets again (that check, call by
/// call, cost more than the whole body's). A body that is not UTF-8 is read as bytes, which
/// gives the parser's own error for it.
pub fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, serde_json::Error> {
    match std::str::from_utf8(body) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(body),
    }
}

/// Milliseconds (how the venues give times) → nanoseconds (how the catalog stores them),
/// saturating at `u64::MAX` past the year 2554.
pub fn ms_to_ns(ms: u64) -> u64 {
    ms.saturating_mul(NANOS_PER_MILLI)
}

/// Milliseconds → nanoseconds, `None` past the year 2554 (for parsers that report such a time
/// as malformed rather than clamp it).
pub fn ms_to_ns_checked(ms: u64) -> Option<u64> {
    ms.checked_mul(NANOS_PER_MILLI)
}

/// The whole milliseconds inside the inclusive range `[start_ns, end_ns]`, as
/// `(first_ms, last_ms)`; `None` when the range holds no whole millisecond. Venues take
/// millisecond bounds, so this is the range to ask for.
pub fn ms_range(start_ns: u64, end_ns: u64) -> Option<(u64, u64)> {
    let start_ms = start_ns.div_ceil(NANOS_PER_MILLI);
    let end_ms = end_ns / NANOS_PER_MILLI;
    (start_ns <= end_ns && start_ms <= end_ms).then_some((start_ms, end_ms))
}

/// Reads a decimal from venue text without going through `f64`: `"0.00010000"` keeps its
/// digits and scale, `"1.25e-5"` (how serde prints a small JSON number) is read in exponent
/// form. Surrounding white space is ignored. Text with more digits than a [`Decimal`] holds is
/// rounded to 28 decimal places.
///
/// The error is `rust_decimal`'s, for messages; see [`decimal`] when the reason is not needed.
pub fn parse_decimal(text: &str) -> Result<Decimal, rust_decimal::Error> {
    let text = trim(text);
    if text.bytes().any(|b| b | 0x20 == b'e') {
        Decimal::from_scientific(text)
    } else {
        Decimal::from_str_exact(text).or_else(|exact| Decimal::from_str(text).map_err(|_| exact))
    }
}

/// `text` without surrounding white space, as [`str::trim`] (only faster when there is none
/// to remove: text that starts and ends with a visible ASCII character is returned whole).
pub fn trim(text: &str) -> &str {
    match (text.as_bytes().first(), text.as_bytes().last()) {
        (Some(first), Some(last)) if first.is_ascii_graphic() && last.is_ascii_graphic() => text,
        _ => text.trim(),
    }
}

/// `d` as the nearest `f64` the way `rust_decimal` converts it (`Decimal::to_f64`, bit for
/// bit the same), without 128-bit arithmetic when the digits fit 64 bits.
pub fn decimal_to_f64(d: Decimal) -> f64 {
    let scale = d.scale();
    let mantissa = d.mantissa();
    if scale == 0 {
        return match i64::try_from(mantissa) {
            Ok(m) => m as f64,
            Err(_) => d.as_f64(),
        };
    }
    let Ok(digits) = u64::try_from(mantissa.unsigned_abs()) else {
        return d.as_f64();
    };
    if scale > 19 {
        return d.as_f64();
    }
    let precision = 10_u64.pow(scale);
    let integral = (digits / precision) as f64;
    let fraction = (digits % precision) as f64 / precision as f64;
    let negative = d.is_sign_negative();
    if fraction == 0.0 {
        return if negative { -integral } else { integral };
    }
    let round_to = 10f64.powi(scale as i32);
    let rounded = ((integral + fraction) * round_to).round() / round_to;
    if negative { -rounded } else { rounded }
}

/// [`parse_decimal`], `None` when the text is not a decimal.
pub fn decimal(text: &str) -> Option<Decimal> {
    parse_decimal(text).ok()
}

/// The instrument `venue` lists as `native`, if it can be named in the catalog: its instrument
/// id must read back to the same native symbol (so `btcusdt`, `BTC-26DEC25` or symbols with
/// characters other than ASCII letters and digits give `None`).
pub fn instrument(venue: Venue, native: &str) -> Option<Instrument> {
    Instrument::from_native_checked(venue, native)
}
/// `text` cut to its first `max_chars` characters, with `…` appended when anything was cut.
pub fn truncate(text: &str, max_chars: usize) -> String {
    let mut cut: String = text.chars().take(max_chars).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    cut
}

/// The start of a response body for an error message: [`SNIPPET_CHARS`] characters of it
/// (invalid UTF-8 replaced), with `…` when cut.
pub fn snippet(body: &[u8]) -> String {
    truncate(&String::from_utf8_lossy(body), SNIPPET_CHARS)
}

/// The [`FetchError::Http`] of a response whose status says it failed and whose body is no
/// venue error the parser recognises: the status and the start of the body.
pub fn http_error(venue: Venue, response: &HttpResponse) -> FetchError {
    FetchError::Http {
        venue,
        status: response.status,
        body: snippet(&response.body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(d: Option<Decimal>) -> Option<String> {
        d.map(|d| d.to_string())
    }

    #[test]
    fn bodies_decode_as_text_and_bytes_that_are_not_utf8_are_an_error() {
        #[derive(serde::Deserialize, Debug, PartialEq)]
        struct Row {
            a: String,
        }
        let rows: Vec<Row> = json_body(r#"[{"a":"x\u00e9"},{"a":"é"}]"#.as_bytes()).unwrap();
        assert_eq!(
            rows,
            [
                Row {
                    a: "x\u{e9}".into()
                },
                Row { a: "\u{e9}".into() }
            ]
        );
        // A lone continuation byte inside a string: serde_json's own error, no panic.
        let bad = json_body::<Vec<Row>>(b"[{\"a\":\"\x80\"}]").unwrap_err();
        assert!(bad.to_string().contains("unicode"), "{bad}");
    }

    #[test]
    fn milliseconds_become_nanoseconds_saturating_or_checked() {
        assert_eq!(ms_to_ns(1_589_437_530_011), 1_589_437_530_011_000_000);
        assert_eq!(ms_to_ns(u64::MAX), u64::MAX);
        assert_eq!(
            ms_to_ns_checked(1_683_849_600_076),
            Some(1_683_849_600_076_000_000)
        );
        assert_eq!(ms_to_ns_checked(u64::MAX), None);
    }

    #[test]
    fn ranges_round_inwards_to_whole_milliseconds() {
        assert_eq!(ms_range(0, 0), Some((0, 0)));
        assert_eq!(ms_range(1, 2_999_999), Some((1, 2)));
        assert_eq!(ms_range(1_000_000, 1_000_000), Some((1, 1)));
        assert_eq!(ms_range(1, 999_999), None, "no whole millisecond inside");
        assert_eq!(ms_range(10, 5), None, "start after end");
        assert_eq!(ms_range(0, u64::MAX), Some((0, u64::MAX / NANOS_PER_MILLI)));
    }

    #[test]
    fn decimals_keep_their_digits_and_accept_exponents() {
        assert_eq!(text(decimal("0.00010000")), Some("0.00010000".into()));
        assert_eq!(text(decimal("-0.0375")), Some("-0.0375".into()));
        assert_eq!(text(decimal("1e-5")), Some("0.00001".into()));
        assert_eq!(text(decimal("-1.25E-5")), Some("-0.0000125".into()));
        assert_eq!(text(decimal(" -0.00022196 ")), Some("-0.00022196".into()));
        assert_eq!(text(decimal("0.0")), Some("0.0".into()));
        // More digits than a Decimal holds: rounded, not refused.
        assert_eq!(
            text(decimal("0.00000000000000000000000000012345")),
            Some("0.0000000000000000000000000001".into())
        );
        for bad in ["", " ", "x", "0.1.2", "NaN", "1e", "e5", "1e-x"] {
            assert_eq!(decimal(bad), None, "{bad:?}");
            assert!(parse_decimal(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn decimal_errors_say_why() {
        let e = parse_decimal("0.1.2").unwrap_err();
        assert!(!e.to_string().is_empty());
    }

    #[test]
    fn instruments_must_read_back_to_their_native_symbol() {
        let btc = instrument(ccxt_registry::venue("binance"), "BTCUSDT").map(|i| i.id.to_string());
        assert_eq!(btc, Some("BTCUSDT-PERP.BINANCE".into()));
        let perp = instrument(ccxt_registry::venue("bybit"), "BTCPERP").map(|i| i.id.to_string());
        assert_eq!(perp, Some("BTCPERP-LINEAR.BYBIT".into()));
        let tsla =
            instrument(ccxt_registry::venue("hyperliquid"), "xyz:TSLA").map(|i| i.id.to_string());
        assert_eq!(tsla, Some("xyz_TSLA-USD-PERP.HYPERLIQUID".into()));
        let kpepe = instrument(ccxt_registry::venue("hyperliquid"), "kPEPE").map(|i| i.native);
        assert_eq!(kpepe, Some("kPEPE".into()));
        assert_eq!(instrument(ccxt_registry::venue("binance"), "btcusdt"), None);
        assert_eq!(
            instrument(ccxt_registry::venue("bybit"), "BTC-26DEC25"),
            None
        );
        assert_eq!(
            instrument(ccxt_registry::venue("binance"), "币安人生USDT"),
            None
        );
        assert_eq!(
            instrument(ccxt_registry::venue("hyperliquid"), "BAD-NAME"),
            None
        );
        assert_eq!(instrument(ccxt_registry::venue("binance"), ""), None);
    }

    #[test]
    fn error_text_is_cut_by_characters_with_an_ellipsis() {
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("abcd", 3), "abc…");
        assert_eq!(truncate("ééé", 2), "éé…");
        assert_eq!(truncate("", 3), "");
        let long = "x".repeat(SNIPPET_CHARS + 1);
        assert_eq!(snippet(long.as_bytes()).chars().count(), SNIPPET_CHARS + 1);
        assert!(snippet(long.as_bytes()).ends_with('…'));
        assert_eq!(snippet(b"busy"), "busy");
        assert_eq!(snippet(&[0xff, b'a']), "\u{fffd}a");
    }

    #[test]
    fn http_errors_carry_the_status_and_the_start_of_the_body() {
        let response = HttpResponse {
            status: 451,
            body: "Service unavailable from a restricted location".into(),
        };
        assert_eq!(
            http_error(ccxt_registry::venue("binance"), &response),
            FetchError::Http {
                venue: ccxt_registry::venue("binance"),
                status: 451,
                body: "Service unavailable from a restricted location".into()
            }
        );
    }

    #[test]
    fn decimal_to_f64_is_rust_decimals_conversion_bit_for_bit() {
        use rust_decimal::prelude::ToPrimitive;
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut cases: Vec<Decimal> = [
            "0",
            "-0",
            "0.0",
            "-0.000",
            "1",
            "-1",
            "13",
            "13000",
            "0.007831",
            "90000.5",
            "0.0040",
            "2011.2",
            "-2.5",
            "18446744073709551615",
            "18446744073709551616.5",
            "79228162514264337593543950335",
            "0.0000000000000000000000000001",
            "1.8446744073709551615",
            "-9223372036854775808",
            "9223372036854775808",
        ]
        .iter()
        .filter_map(|t| parse_decimal(t).ok())
        .collect();
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let hi = if x.is_multiple_of(5) {
                (x >> 40) as u32
            } else {
                0
            };
            let d = Decimal::from_parts(
                x as u32,
                (x >> 32) as u32,
                hi,
                x.is_multiple_of(3),
                (x % 29) as u32,
            );
            cases.push(d);
        }
        for d in cases {
            assert_eq!(
                decimal_to_f64(d).to_bits(),
                d.to_f64().unwrap_or(f64::NAN).to_bits(),
                "{d:?}"
            );
        }
    }

    #[test]
    fn trim_is_str_trim() {
        for text in [
            "",
            " ",
            "a",
            " a",
            "a ",
            "\u{a0}1\u{a0}",
            "1\u{2003}",
            "\t0.5\n",
            "x y",
        ] {
            assert_eq!(trim(text), text.trim(), "{text:?}");
        }
    }
}
