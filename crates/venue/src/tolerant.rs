//! Serde helpers for venue payloads: numbers that arrive as JSON numbers or as strings, and
//! optional fields that are missing, null or empty strings.

use std::borrow::Cow;
use std::fmt;

use serde::Deserializer;
use serde::de::{self, Visitor};

/// One JSON scalar as the tolerant readers see it, read in one pass: no buffering of the value,
/// no error built on the way (an untagged enum tries each variant and builds an error for
/// every miss), and a string borrowed from the input where it has no escapes.
enum Scalar<'a> {
    Null,
    Int(i64),
    UInt(u64),
    Float(f64),
    Text(Cow<'a, str>),
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number, a string or null")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Scalar::Int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Scalar::UInt(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Scalar::Float(v))
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Scalar::Text(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Scalar::Text(Cow::Owned(v.to_string())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Scalar::Text(Cow::Owned(v)))
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Null)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
}

fn scalar<'de, D: Deserializer<'de>>(d: D) -> Result<Scalar<'de>, D::Error> {
    d.deserialize_any(ScalarVisitor)
}

/// Reads a number given as a JSON number or a string (`"10659.509"`); `""`/null → `None`.
pub fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    match scalar(d)? {
        Scalar::Null => Ok(None),
        Scalar::Int(i) => Ok(Some(i as f64)),
        Scalar::UInt(u) => Ok(Some(u as f64)),
        Scalar::Float(f) => Ok(Some(f)),
        Scalar::Text(s) if s.trim().is_empty() => Ok(None),
        Scalar::Text(s) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(Some)
            .ok_or_else(|| de::Error::custom(format!("'{s}' is not a number"))),
    }
}

/// Reads an integer (e.g. milliseconds) given as a JSON number or a string; `""`/null → `None`.
pub fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    match scalar(d)? {
        Scalar::Null => Ok(None),
        Scalar::Int(i) => u64::try_from(i)
            .map(Some)
            .map_err(|_| de::Error::custom(format!("{i} is negative"))),
        Scalar::UInt(u) => Ok(Some(u)),
        Scalar::Float(f) if f >= 0.0 && f.fract() == 0.0 && f < 1.8e19 => Ok(Some(f as u64)),
        Scalar::Float(f) => Err(de::Error::custom(format!("{f} is not a whole number"))),
        Scalar::Text(s) if s.trim().is_empty() => Ok(None),
        Scalar::Text(s) => s
            .trim()
            .parse::<u64>()
            .map(Some)
            .map_err(|_| de::Error::custom(format!("'{s}' is not a whole number"))),
    }
}

/// A decimal's text as read: trimmed, borrowed from the input where it can be; a JSON number
/// as serde_json prints it (the same text `serde_json::Value` gives).
fn decimal_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Cow<'de, str>>, D::Error> {
    match scalar(d)? {
        Scalar::Null => Ok(None),
        Scalar::Text(s) if s.trim().is_empty() => Ok(None),
        Scalar::Text(Cow::Borrowed(s)) => Ok(Some(Cow::Borrowed(s.trim()))),
        Scalar::Text(Cow::Owned(s)) => Ok(Some(Cow::Owned(s.trim().to_string()))),
        Scalar::Int(i) => Ok(Some(Cow::Owned(i.to_string()))),
        Scalar::UInt(u) => Ok(Some(Cow::Owned(u.to_string()))),
        Scalar::Float(f) => serde_json::Number::from_f64(f)
            .map(|n| Some(Cow::Owned(n.to_string())))
            .ok_or_else(|| de::Error::custom(format!("{f} is not a decimal"))),
    }
}

/// Reads a decimal as its exact text, from a JSON string or number (`"0.0001"`, `0.0001`);
/// `""`/null → `None`. Parse it with `rust_decimal` so no digit goes through `f64`.
///
/// A JSON number is kept as serde_json prints it, which is exact for the short decimals venues send.
pub fn opt_decimal_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(decimal_text(d)?.map(Cow::into_owned))
}

/// Reads a decimal exactly ([`opt_decimal_text`] then [`crate::convert::parse_decimal`]), from
/// a JSON string or number; `""`/null → `None`; text that is not a decimal is an error.
pub fn opt_decimal<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<rust_decimal::Decimal>, D::Error> {
    match decimal_text(d)? {
        None => Ok(None),
        Some(text) => crate::convert::parse_decimal(&text)
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("'{text}' is not a decimal"))),
    }
}

/// A decimal from a JSON string (`"0.10"`, `"0 "`: white space is ignored) or number, never
/// through `f64`; `None` for anything else.
pub fn value_decimal(v: &serde_json::Value) -> Option<rust_decimal::Decimal> {
    match v {
        serde_json::Value::String(s) => crate::convert::decimal(s),
        serde_json::Value::Number(n) => crate::convert::decimal(&n.to_string()),
        _ => None,
    }
}

/// A whole non-negative number (e.g. milliseconds) from a JSON number or string; `None` for
/// anything else.
pub fn value_u64(v: &serde_json::Value) -> Option<u64> {
    match v {
        serde_json::Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| *f >= 0.0 && f.fract() == 0.0 && *f < 1.8e19)
                .map(|f| f as u64)
        }),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Deserialize)]
    struct T {
        #[serde(default, deserialize_with = "opt_f64")]
        f: Option<f64>,
        #[serde(default, deserialize_with = "opt_u64")]
        u: Option<u64>,
        #[serde(default, deserialize_with = "opt_decimal_text")]
        d: Option<String>,
    }

    fn t(json: &str) -> T {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn values_read_as_decimals_and_whole_numbers() {
        use serde_json::json;
        let dec = |v| value_decimal(&v).map(|d| d.to_string());
        assert_eq!(dec(json!("0.10")), Some("0.10".into()));
        assert_eq!(dec(json!("0 ")), Some("0".into()));
        assert_eq!(dec(json!(95012.5)), Some("95012.5".into()));
        assert_eq!(dec(json!(null)), None);
        assert_eq!(dec(json!("x")), None);
        assert_eq!(value_u64(&json!(1499040000000u64)), Some(1499040000000));
        assert_eq!(value_u64(&json!("1499040000000")), Some(1499040000000));
        assert_eq!(value_u64(&json!(-1)), None);
        assert_eq!(value_u64(&json!("1.5")), None);
    }

    #[test]
    fn numbers_as_strings_or_numbers_missing_or_null() {
        let a = t(r#"{"f":"10659.509","u":"1589437530011","d":"0.00010000"}"#);
        assert_eq!(
            (a.f, a.u, a.d.as_deref()),
            (Some(10659.509), Some(1589437530011), Some("0.00010000"))
        );
        let b = t(r#"{"f":10659.509,"u":1589437530011,"d":0.0001}"#);
        assert_eq!(
            (b.f, b.u, b.d.as_deref()),
            (Some(10659.509), Some(1589437530011), Some("0.0001"))
        );
        let c = t(r#"{"f":null,"u":"","d":null}"#);
        assert_eq!((c.f, c.u, c.d), (None, None, None));
        let d = t("{}");
        assert_eq!((d.f, d.u, d.d), (None, None, None));
        assert!(serde_json::from_str::<T>(r#"{"f":"abc"}"#).is_err());
        assert!(serde_json::from_str::<T>(r#"{"u":-5}"#).is_err());
    }

    #[test]
    fn decimals_keep_their_digits_from_strings_or_numbers() {
        #[derive(Deserialize)]
        struct D {
            #[serde(default, deserialize_with = "opt_decimal")]
            x: Option<rust_decimal::Decimal>,
        }
        let x = |json: &str| serde_json::from_str::<D>(json).map(|d| d.x.map(|x| x.to_string()));
        assert_eq!(
            x(r#"{"x":"11793.63104562"}"#).unwrap().as_deref(),
            Some("11793.63104562")
        );
        assert_eq!(
            x(r#"{"x":"26075.10"}"#).unwrap().as_deref(),
            Some("26075.10")
        );
        assert_eq!(x(r#"{"x":14.3161}"#).unwrap().as_deref(), Some("14.3161"));
        assert_eq!(x(r#"{"x":" 0 "}"#).unwrap().as_deref(), Some("0"));
        assert_eq!(x(r#"{"x":""}"#).unwrap(), None);
        assert_eq!(x("{}").unwrap(), None);
        assert!(x(r#"{"x":"abc"}"#).is_err());
    }

    #[test]
    fn escaped_strings_are_read_and_other_json_types_refused() {
        // A string with an escape cannot be borrowed from the input: it is read all the same.
        let a = t(r#"{"f":"\u0031.5","u":"\u00312","d":" \u0030.10 "}"#);
        assert_eq!(
            (a.f, a.u, a.d.as_deref()),
            (Some(1.5), Some(12), Some("0.10"))
        );
        // Through a serde_json::Value too (owned strings, numbers as serde_json prints them).
        let v = serde_json::json!({"f": "2.5", "u": 7, "d": 1e-7});
        let b: T = serde_json::from_value(v).unwrap();
        assert_eq!(
            (b.f, b.u, b.d.as_deref()),
            (Some(2.5), Some(7), Some("1e-7"))
        );
        for bad in [
            r#"{"f":true}"#,
            r#"{"u":[1]}"#,
            r#"{"d":{"x":1}}"#,
            r#"{"u":1.5}"#,
            r#"{"f":"1e999"}"#,
        ] {
            assert!(serde_json::from_str::<T>(bad).is_err(), "{bad}");
        }
    }
}
