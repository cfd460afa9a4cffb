//! Number-to-text conventions of the venues: Binance's fixed 8 decimals (`"0.00010000"`),
//! Bybit's trimmed decimals (`"0.0001"`), Hyperliquid's trimmed decimals that keep one
//! fractional digit (`"0.0"`, `"25956.0"`), and calendar names for delivery contracts.

use rust_decimal::Decimal;

/// `x` with exactly `dp` decimals, never `-0.000`.
pub(crate) fn fixed(x: f64, dp: usize) -> String {
    let s = format!("{x:.dp$}");
    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
        s[1..].to_string()
    } else {
        s
    }
}

/// A rate held as integer units of `10^-scale`, with all `scale` decimals: `"0.00010000"`.
pub(crate) fn units_fixed(units: i64, scale: u32) -> String {
    Decimal::new(units, scale).to_string()
}

/// A rate held as integer units of `10^-scale`, trailing zeros trimmed: `"0.0001"`, `"0"`.
pub(crate) fn units_trimmed(units: i64, scale: u32) -> String {
    Decimal::new(units, scale).normalize().to_string()
}

/// Hyperliquid style: trimmed, but always with a fractional digit (`"0.0"`, `"14.3161"`).
pub(crate) fn hl_units(units: i64, scale: u32) -> String {
    hl_text(units_trimmed(units, scale))
}

/// Hyperliquid style for a float rounded to `dp` decimals.
pub(crate) fn hl_num(x: f64, dp: usize) -> String {
    let s = fixed(x, dp);
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    hl_text(s)
}

fn hl_text(s: String) -> String {
    if s.contains('.') { s } else { format!("{s}.0") }
}

/// Decimals for prices of this magnitude: about 6 significant digits, 1..=8 decimals.
pub(crate) fn price_decimals(price: f64) -> usize {
    let mag = if price > 0.0 {
        price.log10().floor() as i64
    } else {
        0
    };
    (5 - mag).clamp(1, 8) as usize
}

/// Decimals for quantities of an asset at this price (BTC 3, DOGE 0).
pub(crate) fn qty_decimals(price: f64) -> usize {
    if price >= 1000.0 {
        3
    } else if price >= 10.0 {
        2
    } else if price >= 1.0 {
        1
    } else {
        0
    }
}

/// (year, month 1..=12, day 1..=31) of a Unix-ms instant, UTC.
pub(crate) fn civil(ms: u64) -> (i64, u32, u32) {
    // Howard Hinnant's days-to-civil.
    let z = (ms / 86_400_000) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Binance delivery suffix `YYMMDD`.
pub(crate) fn yymmdd(ms: u64) -> String {
    let (y, m, d) = civil(ms);
    format!("{:02}{m:02}{d:02}", y.rem_euclid(100))
}

/// Bybit delivery suffix `DDMONYY` (e.g. `27MAR26`).
pub(crate) fn ddmonyy(ms: u64) -> String {
    const MONTHS: [&str; 12] = [
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ];
    let (y, m, d) = civil(ms);
    let month = MONTHS.get((m as usize).saturating_sub(1)).unwrap_or(&"JAN");
    format!("{d:02}{month}{:02}", y.rem_euclid(100))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn venue_number_styles() {
        assert_eq!(units_fixed(10_000, 8), "0.00010000");
        assert_eq!(units_fixed(-3_750_000, 8), "-0.03750000");
        assert_eq!(units_trimmed(10_000, 8), "0.0001");
        assert_eq!(units_trimmed(0, 8), "0");
        assert_eq!(hl_units(0, 10), "0.0");
        assert_eq!(hl_units(125_000, 10), "0.0000125");
        assert_eq!(hl_num(25956.0, 2), "25956.0");
        assert_eq!(hl_num(14.31612, 4), "14.3161");
        assert_eq!(fixed(-0.0000001, 3), "0.000");
        assert_eq!(civil(1_735_689_600_000), (2025, 1, 1));
        assert_eq!(yymmdd(1_648_195_200_000), "220325");
        assert_eq!(ddmonyy(1_648_195_200_000), "25MAR22");
    }
}
