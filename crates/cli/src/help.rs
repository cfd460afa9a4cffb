//! The help text that depends on the venues, built from the registry at run time, so that a
//! new venue describes itself in its own crate: the program's about line (the venues'
//! titles), `fetch-oi`'s history depths, `fetch-bars`' interval table (from each fetcher's
//! [`Fetcher::bar_intervals`] and [`Fetcher::bar_history_limit`]) and `stream-liquidations`'
//! sources ([`VenueDescriptor`]). Parsing, completions and man pages all use [`command`].

use ccxt_model::{BarInterval, BarPrice};
use ccxt_venue::{Fetcher, VenueDescriptor};
use clap::{ArgMatches, CommandFactory, FromArgMatches};

use crate::cli::Cli;
use crate::registry::REGISTRY;

/// Width the generated paragraphs are wrapped to.
const WIDTH: usize = 96;

const FETCH_OI_EXAMPLES: &str = "\
Examples:
  ccxt-cli fetch-oi BTCUSDT-PERP ETHUSDT-PERP
  ccxt-cli fetch-oi BTCUSDT-PERP -e binance --from 2025-01-01 --period 5m --store
  ccxt-cli fetch-oi --all -e bybit --format ndjson > oi.ndjson";

const FETCH_OI_FOOTER: &str = "\
--store writes to the catalog and skips ranges already stored, so re-runs are cheap.
Exit codes: 0 all succeeded, 1 something failed (what succeeded is stored), 2 usage error.";

const FETCH_BARS_INTRO: &str = "\
Examples:
  ccxt-cli fetch-bars BTCUSDT-PERP --interval 1h                        # last 100 closed 1h bars, every venue
  ccxt-cli fetch-bars BTCUSDT-PERP ETHUSDT-PERP -e binance --interval 1m --from 2025-01-01 --store
  ccxt-cli fetch-bars BTCUSDT-PERP -e bybit --interval 4h --price mark --from 2025-01-01 --format csv
  ccxt-cli fetch-bars --all -e bybit --interval 1d --from 2024-01-01 --store

Without --from: the last 100 closed bars of each symbol. With --from (and --to, default now):
history, paged as each venue pages. Only closed bars are fetched: the still-forming candle every
venue includes is never printed or stored. Bars are stamped at their close (open + interval).
Every bar is checked (low <= open, close <= high, volume >= 0, on the interval's grid) before it
is printed or stored; one that fails is logged, counted and reported as a note.

Intervals per venue (--price last: trade bars; --price mark: mark-price bars):";

const FETCH_BARS_FOOTER: &str = "\
(1m is a minute, 1M a month.) An interval or price a venue does not offer is skipped with a note
when the venue is part of the default set, and fails when it is named with -e.
--store writes to the catalog and skips what is stored already, so re-runs are cheap.
Exit codes: 0 all succeeded, 1 something failed (what succeeded is stored), 2 usage error.";

const STREAM_EXAMPLES: &str = "\
Examples:
  ccxt-cli stream-liquidations BTCUSDT-PERP ETHUSDT-PERP
  ccxt-cli stream-liquidations --all --store --quiet          # every symbol, into the catalog
  ccxt-cli stream-liquidations BTCUSDT-PERP -e bybit --duration 10m --format ndjson";

const STREAM_FOOTER: &str =
    "Ctrl+C or SIGTERM: everything received is stored, a summary is printed, exit 0.";

/// The program's command line with the registry's venues described: what [`parse`],
/// completions and man pages use.
pub fn command() -> clap::Command {
    let venues: &[&dyn VenueDescriptor] = &REGISTRY;
    Cli::command()
        .about(about(venues))
        .mut_subcommand("fetch-oi", |c| c.after_help(fetch_oi_help(venues)))
        .mut_subcommand("fetch-bars", |c| c.after_help(fetch_bars_help(venues)))
        .mut_subcommand("stream-liquidations", |c| c.after_help(stream_help(venues)))
}

/// Parses the process's arguments against [`command`]; on a bad or help flag, prints what
/// clap prints and exits as [`clap::Parser::parse`] does (2 for usage errors, 0 for help).
pub fn parse() -> Cli {
    let matches = command().get_matches();
    from_matches(&matches).unwrap_or_else(|e| e.exit())
}

fn from_matches(matches: &ArgMatches) -> Result<Cli, clap::Error> {
    Cli::from_arg_matches(matches).map_err(|e| e.format(&mut command()))
}

/// "Collects … from Binance USD-M futures, Bybit linear perpetuals, … into a Parquet catalog".
fn about(venues: &[&dyn VenueDescriptor]) -> String {
    let titles: Vec<&str> = venues.iter().map(|d| d.title()).collect();
    format!(
        "Collects open interest, funding rates and liquidations from {} into a Parquet catalog \
         that NautilusTrader reads, and queries it.",
        and_list(&titles)
    )
}

fn fetch_oi_help(venues: &[&dyn VenueDescriptor]) -> String {
    let depths: Vec<&str> = venues.iter().filter_map(|d| d.oi_history_help()).collect();
    let history = if depths.is_empty() {
        "With --from: history.".to_string()
    } else {
        format!("With --from: history ({}).", depths.join("; "))
    };
    format!(
        "{FETCH_OI_EXAMPLES}\n\nWithout --from: the current open interest from each venue (every \
         venue by default).\n{}\n{FETCH_OI_FOOTER}",
        wrap(&history)
    )
}

fn fetch_bars_help(venues: &[&dyn VenueDescriptor]) -> String {
    format!(
        "{FETCH_BARS_INTRO}\n{}\n{FETCH_BARS_FOOTER}",
        bars_table(venues)
    )
}

fn stream_help(venues: &[&dyn VenueDescriptor]) -> String {
    let sources: Vec<&str> = venues.iter().map(|d| d.liquidation_help()).collect();
    let paragraph = format!(
        "Sources: {}. Disconnects are retried with backoff and recorded as gaps.",
        sources.join(", ")
    );
    format!("{STREAM_EXAMPLES}\n\n{}\n{STREAM_FOOTER}", wrap(&paragraph))
}

/// The interval table: a header of every interval, then one [`bars_line`] per venue.
fn bars_table(venues: &[&dyn VenueDescriptor]) -> String {
    let width = column_width(venues);
    let header: Vec<&str> = BarInterval::ALL.iter().map(|i| i.as_str()).collect();
    let mut lines = vec![format!("  {:<width$}{}", "interval", header.join(" "))];
    lines.extend(venues.iter().map(|d| bars_line(*d, width)));
    lines.join("\n")
}

/// The width of the table's first column: the longest venue name, and two spaces.
fn column_width(venues: &[&dyn VenueDescriptor]) -> usize {
    venues
        .iter()
        .map(|d| d.venue().to_string().len())
        .chain(["interval".len()])
        .max()
        .unwrap_or(0)
        + 2
}

/// One venue's row of the interval table, e.g. `  bybit        all but 8h, last and mark`,
/// with a second, indented line when the venue keeps only its newest bars.
pub(crate) fn bars_line(descriptor: &dyn VenueDescriptor, width: usize) -> String {
    let fetcher = descriptor.offline_fetcher();
    let name = descriptor.venue().to_string();
    let mut line = format!("  {name:<width$}{}", coverage(fetcher.as_ref()));
    if let Some((kept, spans)) = history_limit(fetcher.as_ref()) {
        line.push_str(&format!(
            "; {kept}\n  {:width$}{spans}: older ones are named in a note",
            ""
        ));
    }
    line
}

/// Which intervals and prices a fetcher serves: "all, last and mark", "all but 6h, last only".
fn coverage(fetcher: &dyn Fetcher) -> String {
    let last = fetcher.bar_intervals(BarPrice::Last);
    let mark = fetcher.bar_intervals(BarPrice::Mark);
    let same = |a: &[BarInterval], b: &[BarInterval]| {
        a.len() == b.len() && a.iter().all(|i| b.contains(i))
    };
    match (last.is_empty(), mark.is_empty()) {
        (true, true) => "none".to_string(),
        (false, true) => format!("{}, last only", intervals(last)),
        (true, false) => format!("{}, mark only", intervals(mark)),
        (false, false) if same(last, mark) => format!("{}, last and mark", intervals(last)),
        (false, false) => format!("last: {}; mark: {}", intervals(last), intervals(mark)),
    }
}

/// "all", "all but 6h, 8h", or the intervals themselves when fewer than half are served.
fn intervals(served: &[BarInterval]) -> String {
    let missing: Vec<&str> = BarInterval::ALL
        .iter()
        .filter(|i| !served.contains(i))
        .map(|i| i.as_str())
        .collect();
    let listed: Vec<&str> = BarInterval::ALL
        .iter()
        .filter(|i| served.contains(i))
        .map(|i| i.as_str())
        .collect();
    if missing.is_empty() {
        "all".to_string()
    } else if missing.len() <= BarInterval::ALL.len() / 2 {
        format!("all but {}", missing.join(", "))
    } else {
        listed.join(" ")
    }
}

/// When the venue keeps only its newest bars: "only the newest 5000 candles of each interval
/// exist" and how far back that reaches, "(1m: about 3.5 days, 1h: about 208 days)".
fn history_limit(fetcher: &dyn Fetcher) -> Option<(String, String)> {
    let served: Vec<BarInterval> = BarInterval::ALL
        .into_iter()
        .filter(|i| {
            fetcher.bar_intervals(BarPrice::Last).contains(i)
                || fetcher.bar_intervals(BarPrice::Mark).contains(i)
        })
        .collect();
    let limits: Vec<(BarInterval, u32)> = served
        .iter()
        .filter_map(|i| fetcher.bar_history_limit(*i).map(|n| (*i, n)))
        .collect();
    let first = limits.first()?.1;
    let kept = if limits.len() == served.len() && limits.iter().all(|(_, n)| *n == first) {
        format!("only the newest {first} candles of each interval exist")
    } else {
        let each: Vec<String> = limits
            .iter()
            .map(|(i, n)| format!("{}: {n}", i.as_str()))
            .collect();
        format!("only the newest candles exist ({})", each.join(", "))
    };
    let spans: Vec<String> = [BarInterval::M1, BarInterval::H1]
        .into_iter()
        .filter_map(|i| {
            let n = limits.iter().find(|(l, _)| *l == i)?.1;
            Some(format!(
                "{}: about {}",
                i.as_str(),
                days(i.fixed_ns()? * u64::from(n))
            ))
        })
        .collect();
    Some((kept, format!("({})", spans.join(", "))))
}

/// A span in days, rounded: "3.5 days" below ten, "208 days" above.
fn days(ns: u64) -> String {
    let days = ns as f64 / 86_400e9;
    if days < 10.0 {
        format!("{days:.1} days")
    } else {
        format!("{days:.0} days")
    }
}

/// "a", "a and b", "a, b and c".
fn and_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// `text` wrapped at [`WIDTH`] columns, breaking between words.
fn wrap(text: &str) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > WIDTH {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    lines.push(line);
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(subcommand: &str) -> String {
        let mut command = command();
        command
            .find_subcommand_mut(subcommand)
            .unwrap()
            .render_long_help()
            .to_string()
    }

    #[test]
    fn fetch_bars_help_has_a_line_for_every_registry_venue() {
        ccxt_registry::install().unwrap();
        let help = rendered("fetch-bars");
        let width = column_width(&REGISTRY);
        for descriptor in REGISTRY {
            let line = bars_line(descriptor, width);
            assert!(help.contains(&line), "{line}\nnot in\n{help}");
            let fetcher = descriptor.offline_fetcher();
            for price in BarPrice::ALL {
                for interval in BarInterval::ALL {
                    // A served interval is never among the ones listed as missing.
                    if fetcher.bar_intervals(price).contains(&interval) {
                        let but = format!("but {interval},");
                        assert!(!line.contains(&but), "{line}");
                    }
                }
            }
        }
    }

    #[test]
    fn the_four_venues_lines_keep_their_wording() {
        ccxt_registry::install().unwrap();
        let help = rendered("fetch-bars");
        assert!(
            help.contains(
                "  interval     1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 1w 1M
  binance      all, last and mark
  bybit        all but 8h, last and mark
  hyperliquid  all but 6h, last only; only the newest 5000 candles of each interval exist
               (1m: about 3.5 days, 1h: about 208 days): older ones are named in a note
  okx          all but 8h, last and mark
(1m is a minute, 1M a month.)"
            ),
            "{help}"
        );
        let flat = |text: String| text.split_whitespace().collect::<Vec<_>>().join(" ");
        let oi = flat(rendered("fetch-oi"));
        assert!(oi.contains("Binance keeps only the last 30 days"), "{oi}");
        assert!(
            oi.contains("OKX keeps only the latest 1,440 rows per period"),
            "{oi}"
        );
        let stream = flat(rendered("stream-liquidations"));
        for source in [
            "Binance !forceOrder@arr / <symbol>@forceOrder",
            "Bybit allLiquidation.<SYMBOL>",
            "fills of the liquidator vault",
            "OKX liquidation-orders",
        ] {
            assert!(stream.contains(source), "{source}:\n{stream}");
        }
    }

    #[test]
    fn wrapping_and_lists() {
        assert_eq!(and_list(&["a", "b", "c"]), "a, b and c");
        assert_eq!(and_list(&["a"]), "a");
        let long = "word ".repeat(40);
        assert!(wrap(&long).lines().all(|l| l.len() <= WIDTH));
        assert_eq!(days(5000 * 60_000_000_000), "3.5 days");
    }

    #[test]
    fn help_and_bad_flags_parse_as_before() {
        ccxt_registry::install().unwrap();
        command().debug_assert();
        let err = command()
            .try_get_matches_from(["ccxt-cli", "fetch-bars", "--bogus"])
            .unwrap_err();
        assert_eq!(err.exit_code(), 2);
        let matches = command()
            .try_get_matches_from(["ccxt-cli", "fetch-bars", "BTCUSDT-PERP", "--interval", "1h"])
            .unwrap();
        assert!(from_matches(&matches).is_ok());
    }
}
