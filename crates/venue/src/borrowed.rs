//! Borrowing pieces for the hot path of liquidation messages: typed serde structs whose fields
//! borrow from the frame ([`Text`], raw scalars as `&RawValue`), numbers read exactly from
//! their text ([`f64_of`], [`u64_of`], [`decimal_of`]) and a memo of instrument names
//! ([`InstrumentCache`]). No `serde_json::Value` is built, and nothing is allocated for a
//! field that is only looked at.
//!
//! Tolerance is the one of [`crate::tolerant`]: a number may come as a JSON number or a
//! string (`"0.014"`, `0.014`), `""` and `null` read as missing, unknown fields are ignored.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use ccxt_model::{InstrumentId, Venue};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, Visitor};
pub use serde_json::value::RawValue;

/// A JSON string's text, borrowed from the frame unless it holds escapes; a JSON number is
/// accepted too and kept as its text (codes and ids come either way).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Text<'a>(pub Cow<'a, str>);

impl Text<'_> {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct TextVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for TextVisitor<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_any(TextVisitor(std::marker::PhantomData))
    }
}

/// For `#[serde(default, deserialize_with = "null_flag")]`: `None` when the key is missing,
/// `Some(true)` when it is `null`, `Some(false)` for any other value (Binance's
/// `{"result":null,"id":1}` acknowledgement).
pub fn null_flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Option::<IgnoredAny>::deserialize(d).map(|v| Some(v.is_none()))
}

/// A scalar that is neither a number nor a string holding one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{found} is not {expected}")]
pub struct BadScalar {
    /// The JSON found (cut to 40 characters).
    pub found: String,
    /// What was expected (`a number`, `a whole number`, `a decimal`).
    pub expected: &'static str,
}

fn bad(raw: &str, expected: &'static str) -> BadScalar {
    BadScalar {
        found: crate::convert::truncate(raw, 40),
        expected,
    }
}

/// [`bad`] for a scalar's text, quoted (`'abc' is not a number`).
fn bad_text(text: &str, expected: &'static str) -> BadScalar {
    bad(
        &format!("'{}'", crate::convert::truncate(text, 38)),
        expected,
    )
}

/// The text of a scalar: a string's contents (trimmed; `""` is `None`) or a number's literal
/// exactly as sent; `null` or a missing field is `None`; anything else is an error.
pub fn scalar_text(raw: Option<&RawValue>) -> Result<Option<Cow<'_, str>>, BadScalar> {
    let Some(raw) = raw else { return Ok(None) };
    let json = raw.get();
    let text: Cow<'_, str> = match json.as_bytes().first() {
        Some(b'"') if !json.contains('\\') => Cow::Borrowed(&json[1..json.len() - 1]),
        Some(b'"') => {
            Cow::Owned(serde_json::from_str::<String>(json).map_err(|_| bad(json, "a string"))?)
        }
        Some(b'-' | b'0'..=b'9') => return Ok(Some(Cow::Borrowed(json))),
        _ if json == "null" => return Ok(None),
        _ => return Err(bad(json, "a number or a string")),
    };
    match text {
        Cow::Borrowed(s) => {
            Ok(Some(Cow::Borrowed(crate::convert::trim(s))).filter(|s| !s.is_empty()))
        }
        Cow::Owned(s) if s.trim().is_empty() => Ok(None),
        Cow::Owned(s) => Ok(Some(Cow::Owned(s.trim().to_string()))),
    }
}

/// A finite float read from its text (the correctly rounded nearest `f64`, the same from
/// `"0.1"` and `0.1`); `None` when missing, null or `""`.
pub fn f64_of(raw: Option<&RawValue>) -> Result<Option<f64>, BadScalar> {
    f64_of_str(scalar_text(raw)?.as_deref())
}

/// A whole non-negative number (milliseconds) from its text (`1700000000000`,
/// `"1700000000000"`, `1.7e12`); `None` when missing, null or `""`.
pub fn u64_of(raw: Option<&RawValue>) -> Result<Option<u64>, BadScalar> {
    u64_of_str(scalar_text(raw)?.as_deref())
}

/// An exact decimal from its text (no digit goes through `f64`); `None` when missing, null
/// or `""`.
pub fn decimal_of(raw: Option<&RawValue>) -> Result<Option<Decimal>, BadScalar> {
    decimal_of_str(scalar_text(raw)?.as_deref())
}

/// A string value's text, trimmed; `None` when missing or blank.
fn trimmed(text: Option<&str>) -> Option<&str> {
    text.map(crate::convert::trim).filter(|t| !t.is_empty())
}

/// [`f64_of`] of a JSON string's contents (as borrowed by a `&str` field): trimmed, `None`
/// when missing or blank.
pub fn f64_of_str(text: Option<&str>) -> Result<Option<f64>, BadScalar> {
    let Some(text) = trimmed(text) else {
        return Ok(None);
    };
    text.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .map(Some)
        .ok_or_else(|| bad_text(text, "a number"))
}

/// [`u64_of`] of a JSON string's contents: trimmed, `None` when missing or blank.
pub fn u64_of_str(text: Option<&str>) -> Result<Option<u64>, BadScalar> {
    let Some(text) = trimmed(text) else {
        return Ok(None);
    };
    match text.parse::<u64>() {
        Ok(u) => Ok(Some(u)),
        Err(_) => text
            .parse::<f64>()
            .ok()
            .filter(|f| *f >= 0.0 && f.fract() == 0.0 && *f < 1.8e19)
            .map(|f| Some(f as u64))
            .ok_or_else(|| bad_text(text, "a whole number")),
    }
}

/// [`decimal_of`] of a JSON string's contents: trimmed, `None` when missing or blank.
pub fn decimal_of_str(text: Option<&str>) -> Result<Option<Decimal>, BadScalar> {
    let Some(text) = trimmed(text) else {
        return Ok(None);
    };
    crate::convert::parse_decimal(text)
        .map(Some)
        .map_err(|_| bad_text(text, "a decimal"))
}

/// How many native symbols an [`InstrumentCache`] remembers before it starts over (a venue
/// lists hundreds; the bound only stops a flood of garbage symbols from growing it).
pub const INSTRUMENT_CACHE_CAPACITY: usize = 16_384;

/// A memo of [`crate::convert::instrument`] for one venue: the instrument id of a native
/// symbol (or that it cannot be named), computed once instead of for every liquidation.
#[derive(Debug)]
pub struct InstrumentCache {
    venue: Venue,
    /// foldhash: the look-up is made once per liquidation, and SipHash cost more than the rest
    /// of it; the symbols come from the venue, the seed is random per process.
    ids: Mutex<Option<IdMap>>,
}

/// The ids of an [`InstrumentCache`] by native symbol.
type IdMap = HashMap<Box<str>, Option<InstrumentId>, foldhash::fast::RandomState>;

impl InstrumentCache {
    /// An empty cache for `venue` (usable in a `static`).
    pub const fn new(venue: Venue) -> InstrumentCache {
        InstrumentCache {
            venue,
            ids: Mutex::new(None),
        }
    }

    /// The id of `native`, as [`crate::convert::instrument`] names it (`None`: it cannot be
    /// named in the catalog).
    pub fn id(&self, native: &str) -> Option<InstrumentId> {
        let mut guard = self.ids.lock().unwrap_or_else(|e| e.into_inner());
        let ids = guard.get_or_insert_with(HashMap::default);
        if let Some(id) = ids.get(native) {
            return id.clone();
        }
        let id = crate::convert::instrument(self.venue, native).map(|i| i.id);
        if ids.len() >= INSTRUMENT_CACHE_CAPACITY {
            ids.clear();
        }
        ids.insert(native.into(), id.clone());
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Row<'a> {
        #[serde(default, borrow)]
        s: Option<Text<'a>>,
        #[serde(default, borrow)]
        n: Option<&'a RawValue>,
        #[serde(default, deserialize_with = "null_flag")]
        r: Option<bool>,
    }

    fn row(json: &str) -> Row<'_> {
        serde_json::from_str(json).expect("parses")
    }

    #[test]
    fn text_borrows_unless_escaped_and_takes_numbers() {
        let r = row(r#"{"s":"BTCUSDT"}"#);
        assert!(matches!(r.s, Some(Text(Cow::Borrowed("BTCUSDT")))));
        assert_eq!(row(r#"{"s":"a\"b"}"#).s.unwrap().as_str(), "a\"b");
        assert_eq!(row(r#"{"s":60018}"#).s.unwrap().as_str(), "60018");
        assert!(serde_json::from_str::<Row>(r#"{"s":[1]}"#).is_err());
    }

    #[test]
    fn null_flag_tells_missing_null_and_value_apart() {
        assert_eq!(row("{}").r, None);
        assert_eq!(row(r#"{"r":null}"#).r, Some(true));
        assert_eq!(row(r#"{"r":["x"]}"#).r, Some(false));
    }

    #[test]
    fn numbers_read_exactly_from_strings_or_numbers() {
        let f = |json: &str| f64_of(row(json).n);
        assert_eq!(f(r#"{"n":"0.014"}"#), Ok(Some(0.014)));
        assert_eq!(f(r#"{"n":0.014}"#), Ok(Some(0.014)));
        assert_eq!(f(r#"{"n":" 9910 "}"#), Ok(Some(9910.0)));
        assert_eq!(f(r#"{"n":1e-7}"#), Ok(Some(1e-7)));
        // The correctly rounded nearest double, from the text.
        assert_eq!(
            f(r#"{"n":"2.2250738585072011e-308"}"#),
            Ok(Some("2.2250738585072011e-308".parse().unwrap()))
        );
        for missing in [r#"{}"#, r#"{"n":null}"#, r#"{"n":""}"#, r#"{"n":"  "}"#] {
            assert_eq!(f(missing), Ok(None), "{missing}");
        }
        for bad in [
            r#"{"n":"abc"}"#,
            r#"{"n":"inf"}"#,
            r#"{"n":true}"#,
            r#"{"n":{}}"#,
        ] {
            assert!(f(bad).is_err(), "{bad}");
        }
        assert!(
            f(r#"{"n":"abc"}"#)
                .unwrap_err()
                .to_string()
                .contains("'abc' is not a number")
        );
    }

    #[test]
    fn whole_numbers_and_decimals() {
        let u = |json: &str| u64_of(row(json).n);
        assert_eq!(u(r#"{"n":1692266434010}"#), Ok(Some(1_692_266_434_010)));
        assert_eq!(u(r#"{"n":"1692266434010"}"#), Ok(Some(1_692_266_434_010)));
        assert_eq!(u(r#"{"n":1.5e3}"#), Ok(Some(1500)));
        assert!(u(r#"{"n":-5}"#).is_err());
        assert!(u(r#"{"n":"1.5"}"#).is_err());
        let d = |json: &str| decimal_of(row(json).n).map(|d| d.map(|d| d.to_string()));
        assert_eq!(d(r#"{"n":"0.007831"}"#), Ok(Some("0.007831".into())));
        assert_eq!(d(r#"{"n":0.10}"#), Ok(Some("0.10".into())));
        assert_eq!(d(r#"{"n":"13"}"#), Ok(Some("13".into())));
        assert!(d(r#"{"n":"x"}"#).is_err());
    }

    #[test]
    fn string_contents_read_like_raw_scalars() {
        for text in [
            "0.014",
            " 9910 ",
            "",
            "  ",
            "abc",
            "1692266434010",
            "1.5e3",
            "-5",
            "inf",
        ] {
            let raw = serde_json::to_string(text).expect("a string");
            let raw = row_n(&raw);
            assert_eq!(f64_of_str(Some(text)), f64_of(raw.n), "{text}");
            assert_eq!(u64_of_str(Some(text)), u64_of(raw.n), "{text}");
            assert_eq!(decimal_of_str(Some(text)), decimal_of(raw.n), "{text}");
        }
        assert_eq!(f64_of_str(None), Ok(None));
        assert_eq!(u64_of_str(None), Ok(None));
        assert_eq!(decimal_of_str(None), Ok(None));
        assert!(
            decimal_of_str(Some("x"))
                .unwrap_err()
                .to_string()
                .contains("'x' is not a decimal")
        );
    }

    fn row_n(json_string: &str) -> Row<'static> {
        let json: &'static str = Box::leak(format!(r#"{{"n":{json_string}}}"#).into_boxed_str());
        row(json)
    }

    #[test]
    fn the_instrument_cache_names_like_convert() {
        ccxt_registry::install().expect("installs");
        let venue = ccxt_model::Venue::from_nautilus_venue("BINANCE").expect("installed");
        let cache = InstrumentCache::new(venue);
        for native in ["BTCUSDT", "btcusdt", "BTCUSDT", ""] {
            assert_eq!(
                cache.id(native),
                crate::convert::instrument(venue, native).map(|i| i.id),
                "{native}"
            );
        }
    }
}
