//! Open-interest history periods (`--period`).

use std::fmt;
use std::str::FromStr;

/// A bucket size of open-interest history, the set every venue with history supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OiPeriod {
    /// 5 minutes.
    M5,
    /// 15 minutes.
    M15,
    /// 30 minutes.
    M30,
    /// 1 hour.
    H1,
    /// 4 hours.
    H4,
    /// 1 day.
    D1,
}

impl OiPeriod {
    /// Every period.
    pub const ALL: [OiPeriod; 6] = [
        OiPeriod::M5,
        OiPeriod::M15,
        OiPeriod::M30,
        OiPeriod::H1,
        OiPeriod::H4,
        OiPeriod::D1,
    ];

    /// As typed: `5m`, `15m`, `30m`, `1h`, `4h`, `1d` (also Binance's spelling).
    pub fn as_str(self) -> &'static str {
        match self {
            OiPeriod::M5 => "5m",
            OiPeriod::M15 => "15m",
            OiPeriod::M30 => "30m",
            OiPeriod::H1 => "1h",
            OiPeriod::H4 => "4h",
            OiPeriod::D1 => "1d",
        }
    }

    /// Length in nanoseconds.
    pub fn nanos(self) -> u64 {
        let minutes: u64 = match self {
            OiPeriod::M5 => 5,
            OiPeriod::M15 => 15,
            OiPeriod::M30 => 30,
            OiPeriod::H1 => 60,
            OiPeriod::H4 => 240,
            OiPeriod::D1 => 1440,
        };
        minutes * 60 * 1_000_000_000
    }
}

impl fmt::Display for OiPeriod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OiPeriod {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OiPeriod::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!("invalid period '{s}': valid periods are 5m, 15m, 30m, 1h, 4h, 1d")
            })
    }
}
