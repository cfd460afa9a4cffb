//! The venues' plug-ins for the generic loops: a [`crate::WsProtocol`] per connection of
//! Binance and Bybit, a [`crate::LiquidationPoller`] per Hyperliquid address. Each is a thin
//! adapter over the pure functions of its venue crate's `websocket` module.

pub(crate) mod binance;
pub(crate) mod bybit;
pub(crate) mod hyperliquid;

/// A readable label for many streams: all of them when few, else first, last and count.
pub(crate) fn label(streams: &[String], unit: &str) -> String {
    match streams {
        [] => String::new(),
        [one] => one.clone(),
        [a, b] => format!("{a},{b}"),
        [first, .., last] => format!("{first},…,{last} ({} {unit})", streams.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_stay_short() {
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(label(&s(&["a"]), "streams"), "a");
        assert_eq!(label(&s(&["a", "b"]), "streams"), "a,b");
        assert_eq!(label(&s(&["a", "b", "c"]), "topics"), "a,…,c (3 topics)");
    }
}
