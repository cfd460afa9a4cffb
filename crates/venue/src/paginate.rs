//! The one pagination loop every venue's history endpoints share.

use futures::StreamExt;

use crate::{FetchError, HttpRequest, HttpResponse, PageStream, Transport};

/// One parsed page.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// Rows of this page that fall in the requested range, in any order.
    pub rows: Vec<T>,
    /// The request for the next page, or `None` when done. Built by pure venue logic from the
    /// page just read (cursor, last timestamp + 1, oldest timestamp − 1, …).
    pub next: Option<HttpRequest>,
}

/// Venue-specific, pure pagination logic for one history query.
pub trait Paginator: Send + Sync {
    /// The row type.
    type Row: Send + 'static;
    /// The first request.
    fn first(&self) -> HttpRequest;
    /// Parses a response to `request` into rows and the next request.
    fn parse(
        &self,
        request: &HttpRequest,
        response: &HttpResponse,
    ) -> Result<Page<Self::Row>, FetchError>;
}

/// Runs a paginator over a transport, yielding each page's rows as soon as it is parsed.
/// Stops after an error, at the end, or if the venue repeats a request (a guard against
/// cursors that never advance).
pub fn paginate<'a, P: Paginator + 'a>(
    transport: &'a dyn Transport,
    paginator: P,
) -> PageStream<'a, P::Row> {
    let state = (Some(paginator.first()), Vec::<HttpRequest>::new());
    futures::stream::unfold(
        (paginator, state),
        move |(paginator, (next, mut seen))| async move {
            let request = next?;
            if seen.contains(&request) {
                return None;
            }
            let result = match transport.send(request.clone()).await {
                Ok(response) => paginator.parse(&request, &response),
                Err(e) => Err(e),
            };
            seen.push(request);
            if seen.len() > 8 {
                seen.remove(0);
            }
            match result {
                Ok(page) => Some((Ok(page.rows), (paginator, (page.next, seen)))),
                Err(e) => Some((Err(e), (paginator, (None, seen)))),
            }
        },
    )
    .boxed()
}
