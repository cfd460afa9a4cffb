//! Cron schedules: parsed exactly as `tokio-cron-scheduler` parses them (six fields, seconds
//! first, UTC), so a schedule that validates here is one the scheduler accepts.

use std::time::Duration;

use chrono::{DateTime, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds};

/// A validated cron schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    expression: String,
    cron: Cron,
    period: Duration,
}

impl Schedule {
    /// Parses a six-field expression (`sec min hour day month weekday`).
    pub fn parse(expression: &str) -> Result<Schedule, String> {
        let expression = expression.trim();
        let fields = expression.split_whitespace().count();
        if fields != 6 {
            return Err(format!(
                "'{expression}' has {fields} fields; use six, seconds first: \
                 \"sec min hour day month weekday\", e.g. \"0 */5 * * * *\" (every 5 minutes), or \"off\""
            ));
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Required)
            .dom_and_dow(true)
            .build()
            .parse(expression)
            .map_err(|e| {
                format!(
                    "'{expression}' is not a valid cron expression ({e}); e.g. \"0 */5 * * * *\""
                )
            })?;
        let period =
            period_of(&cron, Utc::now()).ok_or_else(|| format!("'{expression}' never fires"))?;
        Ok(Schedule {
            expression: expression.to_string(),
            cron,
            period,
        })
    }

    /// The expression as given.
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The longest time between two runs over the next few runs: what "overdue" is measured in.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// The next run strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron.find_next_occurrence(&after, false).ok()
    }
}

/// The longest spacing of the next 48 runs after `from` (covers hourly-within-a-day patterns).
fn period_of(cron: &Cron, from: DateTime<Utc>) -> Option<Duration> {
    let mut previous = cron.find_next_occurrence(&from, false).ok()?;
    let mut longest = Duration::ZERO;
    for _ in 0..48 {
        let Ok(next) = cron.find_next_occurrence(&previous, false) else {
            break;
        };
        let gap = (next - previous).to_std().unwrap_or_default();
        longest = longest.max(gap);
        previous = next;
    }
    (longest > Duration::ZERO).then_some(longest)
}

/// The cron expression for "every `minutes` minutes", wall-clock aligned: `--oi-interval` and
/// `--funding-interval`. `offset_seconds` shifts the second (funding runs at second 10 so it
/// does not collide with the OI snapshot).
pub fn interval_cron(minutes: u32, funding: bool) -> Result<String, String> {
    let second = if funding { 10 } else { 0 };
    match minutes {
        0 => Err("the interval must be at least 1 minute".into()),
        1 => Ok(format!("{second} * * * * *")),
        m if m < 60 && 60 % m == 0 => Ok(format!("{second} */{m} * * * *")),
        m if m % 60 == 0 && 24 % (m / 60) == 0 => Ok(format!("{second} 0 */{} * * *", m / 60)),
        _ => Err(
            "wall-clock aligned intervals must divide an hour (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30) \
             or a day in whole hours (60, 120, 180, 240, 360, 480, 720, 1440)"
                .into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_the_longest_spacing() {
        let p = |e: &str| Schedule::parse(e).unwrap().period();
        assert_eq!(p("0 */5 * * * *"), Duration::from_secs(300));
        assert_eq!(p("*/2 * * * * *"), Duration::from_secs(2));
        assert_eq!(p("0 1 * * * *"), Duration::from_secs(3600));
        assert_eq!(p("0 30 0 * * *"), Duration::from_secs(86_400));
        assert_eq!(p("30 2/15 * * * *"), Duration::from_secs(900));
    }

    #[test]
    fn bad_expressions_say_what_is_expected() {
        let e = Schedule::parse("*/5 * * * *").unwrap_err();
        assert!(e.contains("has 5 fields"), "{e}");
        let e = Schedule::parse("0 99 * * * *").unwrap_err();
        assert!(e.contains("not a valid cron expression"), "{e}");
        let e = Schedule::parse("0 0 0 31 2 *").unwrap_err();
        assert!(
            e.contains("never fires") || e.contains("not a valid"),
            "{e}"
        );
    }

    #[test]
    fn next_runs_are_aligned_to_the_clock() {
        let s = Schedule::parse("0 */5 * * * *").unwrap();
        let t = DateTime::parse_from_rfc3339("2026-01-01T00:03:17Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            s.next_after(t).unwrap().to_rfc3339(),
            "2026-01-01T00:05:00+00:00"
        );
    }

    #[test]
    fn intervals_become_aligned_cron_expressions() {
        assert_eq!(interval_cron(5, false).unwrap(), "0 */5 * * * *");
        assert_eq!(interval_cron(5, true).unwrap(), "10 */5 * * * *");
        assert_eq!(interval_cron(1, false).unwrap(), "0 * * * * *");
        assert_eq!(interval_cron(60, false).unwrap(), "0 0 */1 * * *");
        assert_eq!(interval_cron(480, false).unwrap(), "0 0 */8 * * *");
        for bad in [0, 7, 45, 90, 300, 2880] {
            assert!(interval_cron(bad, false).is_err(), "{bad}");
        }
        for m in [1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60, 120, 1440] {
            Schedule::parse(&interval_cron(m, false).unwrap()).unwrap();
        }
    }
}
