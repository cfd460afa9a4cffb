//! Typed errors of a fetch, classified as retryable or terminal.

use std::time::Duration;

use ccxt_model::Venue;

/// Whether retrying the same request can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Transient: network trouble, 5xx, rate limits. The transport retries these itself.
    Retryable,
    /// Caused by the request or the data (unknown symbol, bad parameter, unparseable body):
    /// retrying gives the same answer.
    Terminal,
}

/// What went wrong fetching from a venue. Messages say what failed and carry the venue's own words.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FetchError {
    /// The venue answered with an error body (Binance `{code,msg}`, Bybit `retCode != 0`,
    /// Hyperliquid error text).
    #[error("{venue} rejected the request: {message} (code {code})")]
    Venue {
        /// The venue.
        venue: Venue,
        /// The venue's error code (`-1121`, `10001`, HTTP status for plain-text errors).
        code: String,
        /// The venue's message.
        message: String,
    },
    /// The symbol is not listed (or not a perpetual) on the venue.
    #[error("{venue} has no perpetual '{symbol}'")]
    UnknownSymbol {
        /// The venue.
        venue: Venue,
        /// The venue-native symbol asked for.
        symbol: String,
    },
    /// The venue does not offer this data at all.
    #[error("{venue} does not provide {what}")]
    Unsupported {
        /// The venue.
        venue: Venue,
        /// What was asked for.
        what: String,
    },
    /// The response body could not be understood.
    #[error("malformed {what} response from {venue}: {detail}")]
    Malformed {
        /// The venue.
        venue: Venue,
        /// Which endpoint's response.
        what: String,
        /// What is wrong with it.
        detail: String,
    },
    /// An HTTP status the transport does not retry (e.g. 400 without a venue error body).
    #[error("{venue} answered HTTP {status}: {body}")]
    Http {
        /// The venue.
        venue: Venue,
        /// HTTP status.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// Rate limited and the retry budget ran out (429/418 with `Retry-After`, Bybit 403).
    #[error("{venue} rate limit: {detail}")]
    RateLimited {
        /// The venue.
        venue: Venue,
        /// What happened, including how long the venue asked us to wait.
        detail: String,
        /// The wait the venue asked for, if it said.
        retry_after: Option<Duration>,
    },
    /// The venue could not be reached or did not answer in time, after retries.
    #[error("cannot reach {venue}: {detail}")]
    Unreachable {
        /// The venue.
        venue: Venue,
        /// The last network error.
        detail: String,
    },
    /// The fetch was cancelled (Ctrl+C, shutdown).
    #[error("cancelled")]
    Cancelled,
}

impl FetchError {
    /// Whether retrying could help.
    pub fn class(&self) -> ErrorClass {
        match self {
            FetchError::RateLimited { .. } | FetchError::Unreachable { .. } => {
                ErrorClass::Retryable
            }
            FetchError::Http { status, .. } if *status >= 500 || *status == 408 => {
                ErrorClass::Retryable
            }
            _ => ErrorClass::Terminal,
        }
    }

    /// An unknown-symbol error: `venue` does not list `symbol` (its native symbol).
    pub fn unknown_symbol(venue: Venue, symbol: &str) -> FetchError {
        FetchError::UnknownSymbol {
            venue,
            symbol: symbol.to_string(),
        }
    }

    /// A malformed-body error.
    pub fn malformed(venue: Venue, what: &str, detail: impl ToString) -> FetchError {
        FetchError::Malformed {
            venue,
            what: what.to_string(),
            detail: detail.to_string(),
        }
    }
}
