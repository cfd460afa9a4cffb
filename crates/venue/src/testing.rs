//! Test support for venue connectors: [`FakeTransport`], a [`Transport`] that answers from
//! canned responses and records what it was sent, so a [`Fetcher`](crate::Fetcher) can be
//! tested without a network.
//!
//! ```
//! # use ccxt_venue::testing::FakeTransport;
//! # use ccxt_venue::{HttpRequest, Transport};
//! # futures::executor::block_on(async {
//! let fake = FakeTransport::new()
//!     .get("/fapi/v1/openInterest", &[("symbol", "BTCUSDT")], 200, r#"{"openInterest":"1"}"#)
//!     .post("/info", serde_json::json!({"type": "meta"}), 200, r#"{"universe":[]}"#);
//! let request = HttpRequest::get("openInterest", "/fapi/v1/openInterest", "ip", 1)
//!     .param("symbol", "BTCUSDT");
//! assert_eq!(fake.send(request).await?.status, 200);
//! assert_eq!(fake.paths(), ["/fapi/v1/openInterest"]);
//! # Ok::<(), ccxt_venue::FetchError>(())
//! # }).unwrap();
//! ```

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::Value;

use crate::{FetchError, HttpMethod, HttpRequest, HttpResponse, Transport};

/// Answers requests by path, computed from the request.
type Handler = Box<dyn Fn(&HttpRequest) -> HttpResponse + Send + Sync>;

/// A response with `status` and `body`.
pub fn response(status: u16, body: impl Into<String>) -> HttpResponse {
    HttpResponse {
        status,
        body: body.into().into(),
    }
}

/// The query parameters of `request` as string pairs, in order (handy in assertions).
pub fn query(request: &HttpRequest) -> Vec<(&str, &str)> {
    request
        .query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// The requests a canned answer is for: method, path, query parameters (in any order) and
/// JSON body must all match.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    method: HttpMethod,
    path: String,
    query: Vec<(String, String)>,
    body: Option<Value>,
}

impl Route {
    /// A GET of `path` with exactly the parameters `query`.
    pub fn get(path: &str, query: &[(&str, &str)]) -> Route {
        let mut query: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        query.sort();
        Route {
            method: HttpMethod::Get,
            path: path.to_string(),
            query,
            body: None,
        }
    }

    /// A POST of the JSON `body` to `path`.
    pub fn post(path: &str, body: Value) -> Route {
        Route {
            method: HttpMethod::Post,
            path: path.to_string(),
            query: Vec::new(),
            body: Some(body),
        }
    }

    /// The route `request` takes.
    pub fn of(request: &HttpRequest) -> Route {
        let mut query = request.query.clone();
        query.sort();
        Route {
            method: request.method,
            path: request.path.clone(),
            query,
            body: request.body.clone(),
        }
    }
}

impl std::fmt::Display for Route {
    /// Path, sorted query and body: `/fapi/v1/openInterest?symbol=BTCUSDT`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let query: Vec<String> = self.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        write!(f, "{}?{}", self.path, query.join("&"))?;
        match &self.body {
            Some(body) => write!(f, " {body}"),
            None => Ok(()),
        }
    }
}

/// A [`Transport`] for tests: answers each request with the canned answer of the same
/// request (method, path, query in any order and JSON body), else with the handler of its
/// path, else with the fallback (by default a 404 naming the request), and records every
/// request it is sent.
pub struct FakeTransport {
    canned: Vec<(Route, Result<HttpResponse, FetchError>)>,
    handlers: HashMap<String, Handler>,
    fallback: Option<HttpResponse>,
    log: Mutex<Vec<HttpRequest>>,
}

impl Default for FakeTransport {
    fn default() -> Self {
        FakeTransport::new()
    }
}

impl std::fmt::Debug for FakeTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeTransport")
            .field("canned", &self.canned.len())
            .field("handlers", &self.handlers.len())
            .finish_non_exhaustive()
    }
}

impl FakeTransport {
    /// A transport that knows no request yet.
    pub fn new() -> Self {
        FakeTransport {
            canned: Vec::new(),
            handlers: HashMap::new(),
            fallback: None,
            log: Mutex::new(Vec::new()),
        }
    }

    /// Answers requests of `route` with `answer`: a response, or the error the transport would
    /// give after its retries. A later answer for the same route replaces an earlier one.
    pub fn answer(mut self, route: Route, answer: Result<HttpResponse, FetchError>) -> Self {
        self.canned.retain(|(r, _)| *r != route);
        self.canned.push((route, answer));
        self
    }

    /// Answers a GET of `path` with exactly the parameters `query` (in any order).
    pub fn get(
        self,
        path: &str,
        query: &[(&str, &str)],
        status: u16,
        body: impl Into<String>,
    ) -> Self {
        self.answer(Route::get(path, query), Ok(response(status, body)))
    }

    /// Answers a POST of the JSON `json` to `path`.
    pub fn post(self, path: &str, json: Value, status: u16, body: impl Into<String>) -> Self {
        self.answer(Route::post(path, json), Ok(response(status, body)))
    }

    /// Answers every request to `path` that has no canned answer with `handler`'s response.
    pub fn handle(
        mut self,
        path: &str,
        handler: impl Fn(&HttpRequest) -> HttpResponse + Send + Sync + 'static,
    ) -> Self {
        self.handlers.insert(path.to_string(), Box::new(handler));
        self
    }

    /// Answers every request nothing else answers with `status` and `body` (instead of a 404
    /// naming the request), e.g. the venue's answer to a request it does not understand.
    pub fn otherwise(mut self, status: u16, body: impl Into<String>) -> Self {
        self.fallback = Some(response(status, body));
        self
    }

    /// Every request sent so far, in order.
    pub fn requests(&self) -> Vec<HttpRequest> {
        self.log.lock().expect("request log").clone()
    }

    /// The path of every request sent so far, in order.
    pub fn paths(&self) -> Vec<String> {
        self.requests().into_iter().map(|r| r.path).collect()
    }

    /// The JSON body of every request sent so far that has one, in order.
    pub fn bodies(&self) -> Vec<Value> {
        self.requests().into_iter().filter_map(|r| r.body).collect()
    }
}

#[async_trait::async_trait]
impl Transport for FakeTransport {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, FetchError> {
        self.log.lock().expect("request log").push(request.clone());
        let route = Route::of(&request);
        if let Some((_, answer)) = self.canned.iter().find(|(r, _)| *r == route) {
            return answer.clone();
        }
        if let Some(handler) = self.handlers.get(&request.path) {
            return Ok(handler(&request));
        }
        Ok(self
            .fallback
            .clone()
            .unwrap_or_else(|| response(404, format!("no canned response for {route}"))))
    }
}

/// Asserts that every capture (`*.json`) in a venue crate's `fixtures` directory has its row
/// (`| NAME |`) in the `SOURCES.md` beside it, and that there is at least one: the captures the
/// tests read live in the repository with their provenance.
pub fn assert_captures_have_provenance(dir: &std::path::Path) {
    let sources = std::fs::read_to_string(dir.join("SOURCES.md"))
        .unwrap_or_else(|e| panic!("{}/SOURCES.md: {e}", dir.display()));
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut captures = 0;
    for entry in entries {
        let name = entry
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .file_name();
        let name = name.to_string_lossy();
        if name.ends_with(".json") {
            captures += 1;
            assert!(
                sources.contains(&format!("| {name} |")),
                "{name} has no row in fixtures/SOURCES.md"
            );
        }
    }
    assert!(captures > 0, "no capture in {}", dir.display());
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn get(path: &str, query: &[(&str, &str)]) -> HttpRequest {
        query
            .iter()
            .fold(HttpRequest::get("x", path, "ip", 1), |r, (k, v)| {
                r.param(k, v)
            })
    }

    fn send(fake: &FakeTransport, request: HttpRequest) -> Result<HttpResponse, FetchError> {
        futures::executor::block_on(fake.send(request))
    }

    #[test]
    fn canned_answers_match_the_query_in_any_order() {
        let fake = FakeTransport::new()
            .get("/a", &[("x", "1"), ("y", "2")], 200, "xy")
            .get("/a", &[], 503, "busy");
        let r = send(&fake, get("/a", &[("y", "2"), ("x", "1")])).expect("answered");
        assert_eq!(r, response(200, "xy"));
        assert_eq!(send(&fake, get("/a", &[])), Ok(response(503, "busy")));
        let r = send(&fake, get("/a", &[("x", "1")])).expect("answered");
        assert_eq!(r, response(404, "no canned response for /a?x=1"));
        assert_eq!(
            query(&fake.requests()[0]),
            [("y", "2"), ("x", "1")],
            "recorded as sent"
        );
        assert_eq!(fake.paths(), ["/a", "/a", "/a"]);
    }

    #[test]
    fn posts_match_on_the_body_and_errors_can_be_canned() {
        let meta = json!({"type": "meta"});
        let down = FetchError::Unreachable {
            venue: ccxt_registry::venue("hyperliquid"),
            detail: "reset".into(),
        };
        let fake = FakeTransport::new()
            .post("/info", meta.clone(), 200, "{}")
            .answer(
                Route::post("/info", json!({"type": "x"})),
                Err(down.clone()),
            )
            .otherwise(422, "Failed to deserialize");
        let post = |body: Value| HttpRequest::post("any", "/info", body, "ip", 20);
        assert_eq!(send(&fake, post(meta.clone())), Ok(response(200, "{}")));
        assert_eq!(send(&fake, post(json!({"type": "x"}))), Err(down));
        assert_eq!(
            send(&fake, post(json!({"type": "y"}))),
            Ok(response(422, "Failed to deserialize"))
        );
        assert_eq!(fake.bodies()[0], meta);
        assert_eq!(fake.bodies().len(), 3);
    }

    #[test]
    fn handlers_answer_what_is_not_canned_and_later_answers_replace_earlier() {
        let fake = FakeTransport::new()
            .get("/h", &[("a", "1")], 200, "first")
            .get("/h", &[("a", "1")], 200, "canned")
            .handle("/h", |r| {
                response(200, r.param_value("a").unwrap_or("none").to_string())
            });
        assert_eq!(
            send(&fake, get("/h", &[("a", "1")])),
            Ok(response(200, "canned"))
        );
        assert_eq!(
            send(&fake, get("/h", &[("a", "2")])),
            Ok(response(200, "2"))
        );
        assert_eq!(fake.requests().len(), 2);
    }
}
