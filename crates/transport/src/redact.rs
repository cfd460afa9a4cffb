//! Secrets never reach a log, an error message, a gap reason or `/metrics`: every URL shown
//! goes through [`redact_url`] (or [`redact_urls_in`] for text that may contain URLs, such as
//! an error from a library).
//!
//! What is hidden: the userinfo (`ws://user:secret@host` → `ws://***@host`) and the value of
//! every query parameter whose name looks secret (`key`, `secret`, `token`, `sign`, `pass`,
//! `auth`, `credential`, `session` anywhere in the name, any case: `?apiKey=…&signature=…`
//! → `?apiKey=***&signature=***`). Everything else (scheme, host, port, path, harmless
//! parameters) stays, so the message still says where it went.

/// Fragments of query parameter names whose values are hidden (compared in lowercase).
const SECRET_NAMES: [&str; 8] = [
    "key",
    "secret",
    "token",
    "sign",
    "pass",
    "auth",
    "credential",
    "session",
];

/// What replaces a hidden part.
const HIDDEN: &str = "***";

/// `url` with its userinfo and secret-looking query values replaced by `***`. Text that is not
/// a URL comes back unchanged; a URL too broken to parse still has anything between `://` and
/// an `@` of its authority hidden.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rfind('@') {
        Some(at) => format!("{HIDDEN}@{}", &authority[at + 1..]),
        None => authority.to_string(),
    };
    format!("{}://{authority}{}", &url[..scheme_end], redact_query(tail))
}

/// The path, query and fragment `tail` with secret-looking query values hidden.
fn redact_query(tail: &str) -> String {
    let Some(q) = tail.find('?') else {
        return tail.to_string();
    };
    let (path, after) = tail.split_at(q);
    let after = &after[1..];
    let (query, fragment) = match after.find('#') {
        Some(h) => after.split_at(h),
        None => (after, ""),
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if is_secret(name) => format!("{name}={HIDDEN}"),
            _ => pair.to_string(),
        })
        .collect();
    format!("{path}?{}{fragment}", pairs.join("&"))
}

fn is_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_NAMES.iter().any(|s| name.contains(s))
}

/// `text` with every URL in it (`scheme://…` up to whitespace, a quote, `<`, `>` or a closing
/// bracket) passed through [`redact_url`].
pub fn redact_urls_in(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(sep) = rest.find("://") {
        // The scheme: the letters, digits, `+`, `-` and `.` right before `://`.
        let scheme_start = rest[..sep]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(0, |i| i + 1);
        let end = rest[sep + 3..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | ')' | ']'))
            .map_or(rest.len(), |i| sep + 3 + i);
        out.push_str(&rest[..scheme_start]);
        out.push_str(&redact_url(&rest[scheme_start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_and_secret_query_values_are_hidden() {
        assert_eq!(
            redact_url("ws://u:s3cretWSERR@127.0.0.1:1/v5/public/linear"),
            "ws://***@127.0.0.1:1/v5/public/linear"
        );
        assert_eq!(
            redact_url("https://token@api.example.com"),
            "https://***@api.example.com"
        );
        assert_eq!(
            redact_url("wss://h/ws?apiKey=abc&streams=btcusdt@forceOrder&signature=f00#x"),
            "wss://h/ws?apiKey=***&streams=btcusdt@forceOrder&signature=***#x"
        );
        assert_eq!(
            redact_url("http://h:80/p?Access_Token=1&PASSWORD=2&limit=5"),
            "http://h:80/p?Access_Token=***&PASSWORD=***&limit=5"
        );
        // An `@` in the path is not userinfo.
        assert_eq!(
            redact_url("wss://fstream.binance.com/market/ws/btcusdt@forceOrder"),
            "wss://fstream.binance.com/market/ws/btcusdt@forceOrder"
        );
        assert_eq!(redact_url("not a url"), "not a url");
    }

    #[test]
    fn urls_inside_text_are_redacted() {
        let text = "cannot connect to ws://u:pw@127.0.0.1:1/v5 (error sending request for url (http://a:b@h/x?key=k)): refused";
        assert_eq!(
            redact_urls_in(text),
            "cannot connect to ws://***@127.0.0.1:1/v5 (error sending request for url (http://***@h/x?key=***)): refused"
        );
        assert_eq!(redact_urls_in("no url here"), "no url here");
        assert_eq!(redact_urls_in("a :// b"), "a :// b");
    }
}
