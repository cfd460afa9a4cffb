//! Funding intervals of settled-rate history: derived from the spacing of consecutive funding
//! times, and filled in from the venue's listed interval where the spacing does not tell.

use std::future::Future;

use ccxt_model::{FundingRate, Instrument};
use futures::StreamExt;
use rust_decimal::Decimal;

use crate::convert::{decimal, ms_to_ns};
use crate::{FetchError, HttpRequest, PageStream};

/// How far the spacing of two funding times may be from a whole number of minutes and still
/// count as that many minutes: venues' funding times carry a few milliseconds of jitter.
pub const SPACING_TOLERANCE_MS: u64 = 1_000;

/// The longest funding interval we believe from the spacing of funding times (one day). A wider
/// gap means rows are missing, not that the interval is that long.
pub const MAX_SPACING_MINUTES: u64 = 1_440;

/// The funding interval two consecutive funding times (ms) imply: their spacing in minutes,
/// when it is within [`SPACING_TOLERANCE_MS`] of a whole number of minutes between 1 and
/// [`MAX_SPACING_MINUTES`]; otherwise `None` (also when `later_ms` is before `earlier_ms`).
pub fn interval_from_spacing(earlier_ms: u64, later_ms: u64) -> Option<u16> {
    let gap = later_ms.checked_sub(earlier_ms)?;
    let minutes = (gap + 30_000) / 60_000;
    let off = gap.abs_diff(minutes * 60_000);
    if off <= SPACING_TOLERANCE_MS && (1..=MAX_SPACING_MINUTES).contains(&minutes) {
        u16::try_from(minutes).ok()
    } else {
        None
    }
}

/// A settled funding rate as a venue's funding history lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct SettledRate {
    /// When it was charged, ms.
    pub time_ms: u64,
    /// The rate, exact.
    pub rate: Decimal,
}

impl SettledRate {
    /// A settled rate from the two raw fields of a venue's funding-history row, named as the
    /// venue names them (`(row.funding_time, "fundingTime")`): both must be present and the
    /// rate a decimal, else [`FetchError::Malformed`] naming the field.
    pub fn from_fields(
        venue: ccxt_model::Venue,
        request: &HttpRequest,
        (time_ms, time_field): (Option<u64>, &str),
        (rate, rate_field): (Option<String>, &str),
    ) -> Result<SettledRate, FetchError> {
        let missing = |what: &str| {
            FetchError::malformed(venue, request.endpoint, format!("{what} is missing"))
        };
        let time_ms = time_ms.ok_or_else(|| missing(time_field))?;
        let text = rate.ok_or_else(|| missing(rate_field))?;
        let rate = decimal(&text).ok_or_else(|| {
            FetchError::malformed(
                venue,
                request.endpoint,
                format!("{rate_field} '{text}' is not a decimal"),
            )
        })?;
        Ok(SettledRate { time_ms, rate })
    }
}

/// The settled funding record of `instrument` for `rate`: charged at its time
/// (`ts_event == ts_init`), no next funding time, the interval given.
pub fn settled(
    instrument: &Instrument,
    rate: &SettledRate,
    interval_minutes: Option<u16>,
) -> FundingRate {
    FundingRate {
        instrument_id: instrument.id.clone(),
        rate: rate.rate,
        interval_minutes,
        next_funding_ns: None,
        ts_event: ms_to_ns(rate.time_ms),
        ts_init: ms_to_ns(rate.time_ms),
    }
}

/// Passes funding-history pages on, giving every row whose interval is unknown (`None`: the
/// spacing did not tell) the interval `fallback` finds, typically the venue's listed interval
/// of the instrument.
///
/// `fallback` is called at most once, and only when a page has such a row; its answer (also
/// `None`, when it could not find out) is used for every later page. Error pages pass
/// unchanged.
pub fn fill_missing_intervals<'a, F, Fut>(
    pages: PageStream<'a, FundingRate>,
    fallback: F,
) -> PageStream<'a, FundingRate>
where
    F: FnMut() -> Fut + Send + 'a,
    Fut: Future<Output = Option<u16>> + Send + 'a,
{
    futures::stream::unfold(
        (pages, None::<Option<u16>>, fallback),
        |(mut pages, mut known, mut fallback)| async move {
            let mut page = pages.next().await?;
            if let Ok(rows) = &mut page
                && rows.iter().any(|r| r.interval_minutes.is_none())
            {
                let interval = match known {
                    Some(interval) => interval,
                    None => *known.insert(fallback().await),
                };
                for row in rows.iter_mut().filter(|r| r.interval_minutes.is_none()) {
                    row.interval_minutes = interval;
                }
            }
            Some((page, (pages, known, fallback)))
        },
    )
    .boxed()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use ccxt_model::InstrumentId;

    use super::*;
    use crate::FetchError;

    const H: u64 = 3_600_000;

    #[test]
    fn spacing_gives_whole_minutes_within_the_tolerance() {
        assert_eq!(interval_from_spacing(0, 8 * H), Some(480));
        assert_eq!(interval_from_spacing(0, H + SPACING_TOLERANCE_MS), Some(60));
        assert_eq!(interval_from_spacing(0, H - SPACING_TOLERANCE_MS), Some(60));
        assert_eq!(interval_from_spacing(0, H + SPACING_TOLERANCE_MS + 1), None);
        assert_eq!(interval_from_spacing(0, 60_000 - 999), Some(1));
        assert_eq!(interval_from_spacing(0, 24 * H), Some(1_440));
        assert_eq!(interval_from_spacing(0, 2 * 24 * H), None, "a gap");
        assert_eq!(interval_from_spacing(5, 5), None, "no spacing");
        assert_eq!(interval_from_spacing(10, 5), None, "out of order");
    }

    #[test]
    fn settled_records_are_stamped_with_their_funding_time() {
        ccxt_registry::install().expect("installs");
        let btc = Instrument::from_id("BTCUSDT-LINEAR.BYBIT").expect("valid id");
        let rate = SettledRate {
            time_ms: 1_672_041_600_000,
            rate: "-0.000125".parse().expect("decimal"),
        };
        assert_eq!(
            settled(&btc, &rate, Some(480)),
            FundingRate {
                instrument_id: btc.id.clone(),
                rate: rate.rate,
                interval_minutes: Some(480),
                next_funding_ns: None,
                ts_event: 1_672_041_600_000_000_000,
                ts_init: 1_672_041_600_000_000_000,
            }
        );
    }

    fn row(ts: u64, interval_minutes: Option<u16>) -> FundingRate {
        FundingRate {
            instrument_id: InstrumentId::new_unchecked("BTCUSDT-PERP.BINANCE"),
            rate: Decimal::ONE,
            interval_minutes,
            next_funding_ns: None,
            ts_event: ts,
            ts_init: ts,
        }
    }

    fn intervals(pages: &[Result<Vec<FundingRate>, FetchError>]) -> Vec<Vec<Option<u16>>> {
        pages
            .iter()
            .map(|p| match p {
                Ok(rows) => rows.iter().map(|r| r.interval_minutes).collect(),
                Err(_) => vec![],
            })
            .collect()
    }

    fn run(
        pages: Vec<Result<Vec<FundingRate>, FetchError>>,
        answer: Option<u16>,
    ) -> (Vec<Result<Vec<FundingRate>, FetchError>>, usize) {
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        let stream = fill_missing_intervals(futures::stream::iter(pages).boxed(), move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async move { answer }
        });
        let out = futures::executor::block_on(stream.collect::<Vec<_>>());
        (out, calls.load(Ordering::SeqCst))
    }

    #[test]
    fn unknown_intervals_are_filled_from_one_fallback_call() {
        let error = FetchError::Cancelled;
        let pages = vec![
            Ok(vec![row(1, Some(480)), row(2, None)]),
            Err(error.clone()),
            Ok(vec![row(3, None), row(4, Some(240))]),
        ];
        let (out, calls) = run(pages, Some(60));
        assert_eq!(
            intervals(&out),
            [vec![Some(480), Some(60)], vec![], vec![Some(60), Some(240)]]
        );
        assert_eq!(out[1], Err(error));
        assert_eq!(calls, 1, "asked once");
    }

    #[test]
    fn no_fallback_call_when_every_interval_is_known() {
        let pages = vec![Ok(vec![row(1, Some(480))]), Ok(vec![])];
        let (out, calls) = run(pages, Some(60));
        assert_eq!(intervals(&out), [vec![Some(480)], vec![]]);
        assert_eq!(calls, 0);
    }

    #[test]
    fn a_fallback_that_cannot_tell_is_not_asked_again() {
        let pages = vec![Ok(vec![row(1, None)]), Ok(vec![row(2, None)])];
        let (out, calls) = run(pages, None);
        assert_eq!(intervals(&out), [vec![None], vec![None]]);
        assert_eq!(calls, 1);
    }
}
