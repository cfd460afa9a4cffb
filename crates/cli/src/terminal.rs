//! What the terminal allows: colour in the logs and the width of tables.
//!
//! The decisions are pure functions of what was observed (is the stream a terminal, the
//! `NO_COLOR` value, the terminal width), so they are tested without a terminal; the
//! `*_now` functions observe the real process and call them.

use std::ffi::OsStr;
use std::io::IsTerminal;

/// Whether log lines on stderr get ANSI colours: only when stderr is a terminal and
/// `NO_COLOR` is unset or empty (<https://no-color.org>: present and not empty disables colour).
pub fn log_ansi(stderr_is_terminal: bool, no_color: Option<&OsStr>) -> bool {
    stderr_is_terminal && no_color.is_none_or(OsStr::is_empty)
}

/// [`log_ansi`] for this process's stderr and environment.
pub fn log_ansi_now() -> bool {
    log_ansi(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    )
}

/// The width tables are fitted to: the terminal's width when stdout is a terminal whose width
/// is known, otherwise none (piped or redirected output is never wrapped or truncated, so
/// every row stays one line for `grep`, `cut` and friends).
pub fn table_width(stdout_is_terminal: bool, terminal_width: Option<u16>) -> Option<u16> {
    if stdout_is_terminal {
        terminal_width.filter(|w| *w > 0)
    } else {
        None
    }
}

/// [`table_width`] for this process's stdout: the width the terminal reports, or `COLUMNS`
/// when it reports none.
pub fn table_width_now() -> Option<u16> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    let reported = terminal_size::terminal_size().map(|(w, _)| w.0);
    let columns = || {
        std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.trim().parse::<u16>().ok())
    };
    table_width(true, reported.filter(|w| *w > 0).or_else(columns))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        let set = |v: &'static str| Some(OsStr::new(v));
        assert!(log_ansi(true, None));
        assert!(
            log_ansi(true, set("")),
            "an empty NO_COLOR does not disable colour"
        );
        assert!(!log_ansi(true, set("1")));
        assert!(
            !log_ansi(true, set("0")),
            "any non-empty value disables colour"
        );
        assert!(!log_ansi(false, None), "never colour into a file or pipe");
        assert!(!log_ansi(false, set("")));
        assert!(!log_ansi(false, set("1")));
    }

    #[test]
    fn tables_fit_a_terminal_and_never_a_pipe() {
        assert_eq!(table_width(true, Some(80)), Some(80));
        assert_eq!(table_width(true, Some(0)), None, "a zero width is unknown");
        assert_eq!(table_width(true, None), None);
        assert_eq!(table_width(false, Some(80)), None, "piped: unwrapped");
        assert_eq!(table_width(false, None), None);
    }
}
