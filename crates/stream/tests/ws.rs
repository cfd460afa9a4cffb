//! The generic WebSocket loop against in-process servers: normal data, acknowledgements,
//! pings, server close, abrupt drops, half-open sockets, missing pongs, refusals, malformed
//! frames, backoff, rotation, sharding, fallback and shutdown.
//!
//! Real sockets do not run on tokio's paused clock (an idle runtime would jump the clock and
//! fire every watchdog), so these tests use real time with durations of tens of milliseconds.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ccxt_model::time::now_ns;
use ccxt_model::{Instrument, InstrumentId, Liquidation, LiquidationSource, PositionSide, Venue};
use ccxt_stream::{
    Inbound, LiquidationPoller, Polled, SourceConfig, StreamEvent, StreamHandle, WsProtocol,
    WsSettings,
};
use ccxt_venue::FetchError;
use common::*;
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_util::sync::CancellationToken;

const MS: Duration = Duration::from_millis(1);

fn settings(url: &str) -> WsSettings {
    WsSettings {
        root_url: url.to_string(),
        backoff_min: 20 * MS,
        backoff_max: 100 * MS,
        stable_after: Duration::from_secs(60),
        heartbeat: Duration::from_secs(1),
        rotate_after: None,
        rotation_overlap: 100 * MS,
        ack_timeout: 300 * MS,
        fallback_after: None,
    }
}

fn bybit(ws: WsSettings, symbols: &[&str]) -> SourceConfig {
    SourceConfig::Feed {
        ws: Some(ws),
        feed: Arc::new(ccxt_bybit::liquidations::BybitFeed),
        symbols: Some(
            symbols
                .iter()
                .map(|s| Instrument::from_native(ccxt_registry::venue("bybit"), *s))
                .collect(),
        ),
    }
}

fn start(
    sources: Vec<SourceConfig>,
) -> (StreamHandle, mpsc::Receiver<StreamEvent>, CancellationToken) {
    let (tx, rx) = mpsc::channel(1024);
    let cancel = CancellationToken::new();
    let handle = ccxt_stream::spawn(sources, tx, cancel.clone());
    (handle, rx, cancel)
}

/// Cancels and checks that every task stops promptly.
async fn stop(handle: StreamHandle, cancel: CancellationToken) {
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(2), handle.join())
        .await
        .expect("tasks stop promptly after cancellation");
}

#[tokio::test]
async fn data_is_delivered_pings_are_answered_and_shutdown_is_polite() {
    let _serial = SERIAL.lock().await;
    let pings = Arc::new(AtomicUsize::new(0));
    let polite = Arc::new(AtomicBool::new(false));
    let (p, c) = (pings.clone(), polite.clone());
    let server = serve(move |_, mut ws| {
        let (pings, polite) = (p.clone(), c.clone());
        async move {
            let sub = recv_text(&mut ws).await.unwrap();
            assert!(
                sub.contains(r#""args":["allLiquidation.BTCUSDT"]"#),
                "{sub}"
            );
            send(&mut ws, BYBIT_ACK).await;
            send(
                &mut ws,
                bybit_liquidation("BTCUSDT", 1_700_000_000_000, 0.5),
            )
            .await;
            loop {
                match futures::StreamExt::next(&mut ws).await {
                    Some(Ok(Message::Text(t))) if t.contains(r#""op":"ping""#) => {
                        pings.fetch_add(1, Ordering::SeqCst);
                        send(&mut ws, BYBIT_PONG).await;
                    }
                    Some(Ok(Message::Close(_))) => {
                        polite.store(true, Ordering::SeqCst);
                        return;
                    }
                    Some(Ok(_)) => {}
                    _ => return,
                }
            }
        }
    })
    .await;
    let mut ws = settings(&server.url);
    ws.heartbeat = 100 * MS;
    let before = now_ns();
    let (handle, mut rx, cancel) = start(vec![bybit(ws, &["BTCUSDT"])]);
    // 700 ms = 7 heartbeats: the watchdog (200 ms) would have fired without the pongs.
    let events = collect_for(&mut rx, 700 * MS).await;
    let stats = handle.stats();
    stop(handle, cancel).await;
    tokio::time::sleep(50 * MS).await;

    assert!(
        matches!(&events[0], StreamEvent::Connected { venue, stream } if *venue == ccxt_registry::venue("bybit") && stream == "allLiquidation.BTCUSDT")
    );
    let rows = rows(&events);
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row.instrument_id.as_str(), "BTCUSDT-LINEAR.BYBIT");
    assert_eq!(
        (row.side, row.quantity, row.price),
        (PositionSide::Long, 0.5, 100.0)
    );
    assert_eq!(row.ts_event, 1_700_000_000_000_000_000);
    assert!(
        row.ts_init >= before && row.ts_init <= now_ns(),
        "ts_init is the receive time"
    );
    assert_eq!(count(&events, disconnected), 0, "{events:?}");
    assert_eq!(server.connections(), 1);
    assert!(pings.load(Ordering::SeqCst) >= 4, "a ping every heartbeat");
    assert!(
        polite.load(Ordering::SeqCst),
        "the socket was closed with a close frame"
    );
    assert_eq!(count(&events, gap), 0);
    let mut late = Vec::new();
    while let Ok(e) = rx.try_recv() {
        late.push(e);
    }
    assert_eq!(count(&late, gap), 0, "a clean shutdown is no gap: {late:?}");
    let snap = stats.snapshot()[&ccxt_registry::venue("bybit")];
    assert_eq!(
        (snap.connects, snap.reconnects, snap.liquidations),
        (1, 0, 1)
    );
    assert!(snap.last_frame_age_ns(now_ns()).unwrap() < 1_000_000_000);
}

#[tokio::test]
async fn a_server_close_frame_records_a_gap_from_the_last_frame_to_the_resubscription() {
    let _serial = SERIAL.lock().await;
    let server = serve(|n, mut ws| async move {
        recv_text(&mut ws).await;
        send(&mut ws, BYBIT_ACK).await;
        if n == 0 {
            send(&mut ws, bybit_liquidation("BTCUSDT", 1, 1.0)).await;
            tokio::time::sleep(30 * MS).await;
            let frame = CloseFrame {
                code: CloseCode::Away,
                reason: "restart".into(),
            };
            let _ = futures::SinkExt::send(&mut ws, Message::Close(Some(frame))).await;
            until_closed(&mut ws).await;
        } else {
            send(&mut ws, bybit_liquidation("BTCUSDT", 2, 1.0)).await;
            until_closed(&mut ws).await;
        }
    })
    .await;
    let (handle, mut rx, cancel) = start(vec![bybit(settings(&server.url), &["BTCUSDT"])]);
    let events = collect_until(&mut rx, 2 * Duration::from_secs(1), |e| rows(e).len() == 2).await;
    let stats = handle.stats();
    stop(handle, cancel).await;

    let reason = events.iter().find_map(|e| match e {
        StreamEvent::Disconnected { reason, .. } => Some(reason.clone()),
        _ => None,
    });
    assert_eq!(
        reason.as_deref(),
        Some("server closed the connection (1001 restart)")
    );
    let gaps = gaps(&events);
    assert_eq!(gaps.len(), 1, "{events:?}");
    let gap = &gaps[0];
    let first = &rows(&events)[0];
    assert_eq!(
        (gap.venue, gap.stream.as_str()),
        (ccxt_registry::venue("bybit"), "allLiquidation.BTCUSDT")
    );
    assert!(
        gap.start_ns >= first.ts_init,
        "the gap starts at the last frame"
    );
    assert!(
        gap.start_ns - first.ts_init < 25_000_000,
        "the data frame was the last frame"
    );
    assert!(gap.end_ns > gap.start_ns && gap.end_ns <= rows(&events)[1].ts_init);
    assert!(gap.reason.contains("1001"), "{}", gap.reason);
    // The gap is emitted when the new connection is subscribed, before its data.
    let order: Vec<&str> = events
        .iter()
        .map(|e| match e {
            StreamEvent::Connected { .. } => "connected",
            StreamEvent::Disconnected { .. } => "disconnected",
            StreamEvent::Gap(_) => "gap",
            StreamEvent::Liquidations { .. } => "rows",
            _ => "other",
        })
        .collect();
    assert_eq!(
        order,
        [
            "connected",
            "rows",
            "disconnected",
            "gap",
            "connected",
            "rows"
        ]
    );
    let snap = stats.snapshot()[&ccxt_registry::venue("bybit")];
    assert_eq!(
        (snap.connects, snap.reconnects, snap.disconnects, snap.gaps),
        (2, 1, 1, 1)
    );
    assert_eq!(snap.gap_ns, gap.duration_ns());
}

#[tokio::test]
async fn an_abrupt_tcp_drop_reconnects_with_a_gap() {
    let _serial = SERIAL.lock().await;
    let server = serve(|n, mut ws| async move {
        recv_text(&mut ws).await;
        send(&mut ws, BYBIT_ACK).await;
        if n == 0 {
            send(&mut ws, bybit_liquidation("BTCUSDT", 1, 1.0)).await;
            tokio::time::sleep(20 * MS).await;
            drop(ws); // no close frame: the TCP connection just goes away
        } else {
            until_closed(&mut ws).await;
        }
    })
    .await;
    let (handle, mut rx, cancel) = start(vec![bybit(settings(&server.url), &["BTCUSDT"])]);
    let events = collect_until(&mut rx, Duration::from_secs(2), |e| {
        count(e, connected) == 2
    })
    .await;
    stop(handle, cancel).await;
    let reason = events.iter().find_map(|e| match e {
        StreamEvent::Disconnected { reason, .. } => Some(reason.clone()),
        _ => None,
    });
    let reason = reason.expect("a disconnect");
    assert!(
        reason.contains("without a close frame") || reason.contains("connection error"),
        "{reason}"
    );
    assert_eq!(gaps(&events).len(), 1);
    assert_eq!(server.connections(), 2);
}

#[tokio::test]
async fn a_half_open_socket_is_replaced_after_two_heartbeats_of_silence() {
    let _serial = SERIAL.lock().await;
    // Binance has no application ping: silence is only caught by the watchdog.
    let server = serve(|n, mut ws| async move {
        binance_ack(&mut ws).await;
        if n == 0 {
            // Stop sending and never close (and never read: no pong, no close answer).
            tokio::time::sleep(Duration::from_secs(5)).await;
        } else {
            until_closed(&mut ws).await;
        }
    })
    .await;
    let mut ws = settings(&server.url);
    ws.heartbeat = 100 * MS;
    let (handle, mut rx, cancel) = start(vec![SourceConfig::Feed {
        ws: Some(ws),
        feed: Arc::new(ccxt_binance::liquidations::BinanceFeed),
        symbols: None,
    }]);
    let t0 = Instant::now();
    let events = collect_until(&mut rx, Duration::from_secs(2), |e| {
        count(e, connected) == 2
    })
    .await;
    let took = t0.elapsed();
    stop(handle, cancel).await;
    let reason = events.iter().find_map(|e| match e {
        StreamEvent::Disconnected { reason, .. } => Some(reason.clone()),
        _ => None,
    });
    assert_eq!(
        reason.as_deref(),
        Some("no frame for 200ms (2 × heartbeat)")
    );
    assert!(
        took >= 200 * MS && took < Duration::from_secs(1),
        "{took:?}"
    );
    let gap = &gaps(&events)[0];
    assert_eq!(gap.stream, "!forceOrder@arr");
    assert!(
        gap.duration_ns() >= 200_000_000,
        "from the last frame (the ack)"
    );
}

#[tokio::test]
async fn missing_pongs_trigger_a_reconnect_and_answered_pings_keep_the_connection() {
    let _serial = SERIAL.lock().await;
    let pings_unanswered = Arc::new(AtomicUsize::new(0));
    let p = pings_unanswered.clone();
    let server = serve(move |n, mut ws| {
        let p = p.clone();
        async move {
            recv_text(&mut ws).await;
            send(&mut ws, BYBIT_ACK).await;
            while let Some(text) = recv_text(&mut ws).await {
                if n == 0 {
                    p.fetch_add(1, Ordering::SeqCst); // read, never answered
                } else if text.contains("ping") {
                    send(&mut ws, BYBIT_PONG).await;
                }
            }
        }
    })
    .await;
    let mut ws = settings(&server.url);
    ws.heartbeat = 100 * MS;
    let (handle, mut rx, cancel) = start(vec![bybit(ws, &["BTCUSDT"])]);
    // Connection 0 dies at ~200 ms; connection 1 must survive the rest (6 heartbeats).
    let events = collect_for(&mut rx, 800 * MS).await;
    stop(handle, cancel).await;
    assert_eq!(count(&events, connected), 2, "{events:?}");
    assert_eq!(count(&events, disconnected), 1);
    assert!(
        pings_unanswered.load(Ordering::SeqCst) >= 1,
        "pings were sent"
    );
    assert_eq!(server.connections(), 2);
}

#[tokio::test]
async fn refused_and_unacknowledged_subscriptions_are_reported_and_retried() {
    let _serial = SERIAL.lock().await;
    let server = serve(|n, mut ws| async move {
        recv_text(&mut ws).await;
        match n {
            0 => send(&mut ws, r#"{"success":false,"ret_msg":"Invalid topic :allLiquidation.NOPE","conn_id":"c","op":"subscribe"}"#).await,
            1 => {} // never acknowledged
            _ => send(&mut ws, BYBIT_ACK).await,
        }
        until_closed(&mut ws).await;
    })
    .await;
    let t0 = now_ns();
    let (handle, mut rx, cancel) = start(vec![bybit(settings(&server.url), &["NOPE"])]);
    let events = collect_until(&mut rx, Duration::from_secs(2), |e| {
        count(e, connected) == 1
    })
    .await;
    let stats = handle.stats();
    stop(handle, cancel).await;
    let messages: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::SubscriptionRejected {
                venue,
                stream,
                message,
            } if *venue == ccxt_registry::venue("bybit") => {
                assert_eq!(stream, "allLiquidation.NOPE");
                Some(message.clone())
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        messages,
        [
            "Invalid topic :allLiquidation.NOPE",
            "no acknowledgement within 300ms"
        ]
    );
    // The time until the first subscription is a gap, from the start.
    let gaps = gaps(&events);
    assert_eq!(gaps.len(), 1, "{events:?}");
    assert!(gaps[0].start_ns >= t0 && gaps[0].start_ns <= t0 + 200_000_000);
    assert!(
        gaps[0].reason.contains("Invalid topic"),
        "{}",
        gaps[0].reason
    );
    assert_eq!(
        stats.snapshot()[&ccxt_registry::venue("bybit")].rejections,
        2
    );
}

#[tokio::test]
async fn binance_error_answers_are_refusals() {
    let _serial = SERIAL.lock().await;
    let server = serve(|n, mut ws| async move {
        if n == 0 {
            recv_text(&mut ws).await;
            send(
                &mut ws,
                r#"{"error":{"code":2,"msg":"Invalid request: unknown stream"},"id":1}"#,
            )
            .await;
        } else {
            binance_ack(&mut ws).await;
        }
        until_closed(&mut ws).await;
    })
    .await;
    let (handle, mut rx, cancel) = start(vec![SourceConfig::Feed {
        ws: Some(settings(&server.url)),
        feed: Arc::new(ccxt_binance::liquidations::BinanceFeed),
        symbols: None,
    }]);
    let events = collect_until(&mut rx, Duration::from_secs(2), |e| {
        count(e, connected) == 1
    })
    .await;
    stop(handle, cancel).await;
    assert!(events.iter().any(|e| matches!(e, StreamEvent::SubscriptionRejected { message, .. } if message == "Invalid request: unknown stream (code 2)")), "{events:?}");
}

#[tokio::test]
async fn malformed_frames_are_skipped_counted_and_the_stream_goes_on() {
    let _serial = SERIAL.lock().await;
    let server = serve(|_, mut ws| async move {
        recv_text(&mut ws).await;
        send(&mut ws, BYBIT_ACK).await;
        send(&mut ws, "this is not json").await;
        send(
            &mut ws,
            r#"{"topic":"allLiquidation.BTCUSDT","data":[{"S":"Buy"}]}"#,
        )
        .await;
        let _ = futures::SinkExt::send(&mut ws, Message::binary(vec![0xff, 0xfe])).await;
        send(&mut ws, bybit_liquidation("BTCUSDT", 5, 2.0)).await;
        until_closed(&mut ws).await;
    })
    .await;
    let (handle, mut rx, cancel) = start(vec![bybit(settings(&server.url), &["BTCUSDT"])]);
    let events = collect_until(&mut rx, Duration::from_secs(2), |e| !rows(e).is_empty()).await;
    let stats = handle.stats();
    stop(handle, cancel).await;
    let details: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Malformed { detail, .. } => Some(detail.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(details.len(), 3, "{events:?}");
    assert!(details[0].contains("malformed"), "{}", details[0]);
    assert!(details[1].contains("symbol"), "{}", details[1]);
    assert!(details[2].contains("not UTF-8"), "{}", details[2]);
    assert_eq!(rows(&events).len(), 1);
    assert_eq!(count(&events, disconnected), 0);
    assert_eq!(
        stats.snapshot()[&ccxt_registry::venue("bybit")].malformed,
        3
    );
}

#[tokio::test]
async fn a_burst_of_frames_goes_out_in_few_events_in_order_around_a_malformed_one() {
    let _serial = SERIAL.lock().await;
    let server = serve(|_, mut ws| async move {
        recv_text(&mut ws).await;
        send(&mut ws, BYBIT_ACK).await;
        // 200 liquidation frames and a malformed one in the middle, written in one go: the
        // client finds them all waiting in its socket.
        for i in 0..201u64 {
            let text = if i == 100 {
                "this is not json".to_string()
            } else {
                bybit_liquidation("BTCUSDT", 1_000 + i, 1.0)
            };
            let _ = futures::SinkExt::feed(&mut ws, Message::text(text)).await;
        }
        let _ = futures::SinkExt::flush(&mut ws).await;
        until_closed(&mut ws).await;
    })
    .await;
    let (handle, mut rx, cancel) = start(vec![bybit(settings(&server.url), &["BTCUSDT"])]);
    let events = collect_until(&mut rx, Duration::from_secs(5), |e| rows(e).len() >= 200).await;
    stop(handle, cancel).await;
    let all = rows(&events);
    let times: Vec<u64> = all.iter().map(|r| r.ts_event / 1_000_000).collect();
    let expected: Vec<u64> = (0..201u64)
        .filter(|i| *i != 100)
        .map(|i| 1_000 + i)
        .collect();
    assert_eq!(times, expected, "every row once, in order");
    let batches = count(&events, |e| matches!(e, StreamEvent::Liquidations { .. }));
    assert!(
        batches < 100,
        "frames already received go out together, not one event each: {batches} events"
    );
    // The malformed frame is reported between the rows before and after it.
    let malformed_at = events
        .iter()
        .position(|e| matches!(e, StreamEvent::Malformed { .. }))
        .expect("the malformed frame is reported");
    assert_eq!(rows(&events[..malformed_at]).len(), 100);
}

#[tokio::test]
async fn reconnects_back_off_with_jitter_and_reset_after_a_stable_connection() {
    let _serial = SERIAL.lock().await;
    // Connections 0-3 and 5 are closed at once; connection 4 stays up 250 ms (> stable_after).
    let closed_at: Arc<Mutex<Vec<(usize, Instant, Instant)>>> = Arc::default();
    let log = closed_at.clone();
    let server = serve(move |n, mut ws| {
        let log = log.clone();
        async move {
            let opened = Instant::now();
            recv_text(&mut ws).await;
            send(&mut ws, BYBIT_ACK).await;
            if n == 4 {
                tokio::time::sleep(250 * MS).await;
            }
            let _ = futures::SinkExt::send(&mut ws, Message::Close(None)).await;
            log.lock().unwrap().push((n, opened, Instant::now()));
            until_closed(&mut ws).await;
        }
    })
    .await;
    let mut ws = settings(&server.url);
    ws.backoff_min = 20 * MS;
    ws.backoff_max = 320 * MS;
    ws.stable_after = 200 * MS;
    ws.heartbeat = Duration::from_secs(5);
    let (handle, mut rx, cancel) = start(vec![bybit(ws, &["BTCUSDT"])]);
    let events = collect_until(&mut rx, Duration::from_secs(3), |e| {
        count(e, connected) == 7
    })
    .await;
    stop(handle, cancel).await;
    assert_eq!(count(&events, connected), 7, "{events:?}");
    let mut log = closed_at.lock().unwrap().clone();
    log.sort_by_key(|(n, _, _)| *n);
    // Delay before connection n+1: from the close of n to the opening of n+1.
    let delays: Vec<Duration> = log.windows(2).map(|w| w[1].1 - w[0].2).collect();
    let slack = 60 * MS;
    // Ceilings after 1, 2, 3, 4 quick failures: 20, 40, 80, 160 ms.
    for (i, ceiling) in [20, 40, 80, 160].into_iter().enumerate() {
        assert!(
            delays[i] >= 19 * MS,
            "delay {i} {:?} below the floor",
            delays[i]
        );
        assert!(
            delays[i] <= ceiling * MS + slack,
            "delay {i} {:?} above {ceiling} ms",
            delays[i]
        );
    }
    // Connection 4 was stable: the sequence starts over at the floor.
    assert!(delays[4] <= 20 * MS + slack, "not reset: {:?}", delays[4]);
    assert!(delays[5] <= 40 * MS + slack, "{:?}", delays[5]);
}

/// A Binance server that pushes `forceOrder` event k (trade time k ms, quantity k) every
/// 10 ms to every connection subscribed at the time.
async fn broadcasting_binance_server(closes: Arc<AtomicUsize>) -> (Server, broadcast::Sender<u64>) {
    let (tx, _) = broadcast::channel::<u64>(1024);
    let feed = tx.clone();
    tokio::spawn(async move {
        for k in 1.. {
            let _ = feed.send(k);
            tokio::time::sleep(10 * MS).await;
        }
    });
    let tx2 = tx.clone();
    let server = serve(move |_, mut ws| {
        let (feed, closes) = (tx2.clone(), closes.clone());
        async move {
            binance_ack(&mut ws).await;
            let mut events = feed.subscribe(); // only events after the subscription
            loop {
                tokio::select! {
                    k = events.recv() => {
                        let Ok(k) = k else { return };
                        if futures::SinkExt::send(&mut ws, Message::text(binance_force_order("BTCUSDT", k, k as f64))).await.is_err() {
                            return;
                        }
                    }
                    msg = futures::StreamExt::next(&mut ws) => match msg {
                        Some(Ok(Message::Close(_))) => {
                            closes.fetch_add(1, Ordering::SeqCst);
                            return;
                        }
                        Some(Ok(_)) => {}
                        _ => return,
                    },
                }
            }
        }
    })
    .await;
    (server, tx)
}

#[tokio::test]
async fn rotation_overlaps_connections_and_loses_nothing_duplicates_nothing() {
    let _serial = SERIAL.lock().await;
    let closes = Arc::new(AtomicUsize::new(0));
    let (server, _feed) = broadcasting_binance_server(closes.clone()).await;
    let mut ws = settings(&server.url);
    ws.rotate_after = Some(300 * MS);
    ws.rotation_overlap = 100 * MS;
    ws.heartbeat = Duration::from_secs(5);
    let (handle, mut rx, cancel) = start(vec![SourceConfig::Feed {
        ws: Some(ws),
        feed: Arc::new(ccxt_binance::liquidations::BinanceFeed),
        symbols: Some(vec![Instrument::from_native(
            ccxt_registry::venue("binance"),
            "BTCUSDT",
        )]),
    }]);
    let events = collect_for(&mut rx, 1300 * MS).await;
    let stats = handle.stats();
    stop(handle, cancel).await;

    let ks: Vec<u64> = rows(&events).iter().map(|r| r.quantity as u64).collect();
    let mut sorted = ks.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), ks.len(), "no duplicates");
    let (first, last) = (sorted[0], sorted[sorted.len() - 1]);
    assert_eq!(sorted, (first..=last).collect::<Vec<_>>(), "nothing lost");
    assert!(ks.len() > 30, "{}", ks.len());
    let snap = stats.snapshot()[&ccxt_registry::venue("binance")];
    assert!(snap.rotations >= 3, "{snap:?}");
    assert!(snap.duplicates > 0, "the connections overlapped: {snap:?}");
    assert_eq!(
        (snap.connects, snap.disconnects, snap.gaps),
        (1, 0, 0),
        "rotation is no gap"
    );
    assert_eq!(count(&events, connected), 1);
    assert!(server.connections() >= 4);
    tokio::time::sleep(100 * MS).await;
    assert!(
        closes.load(Ordering::SeqCst) >= 3,
        "old connections closed politely"
    );
}

#[tokio::test]
async fn binance_lists_are_sharded_by_200_streams() {
    let _serial = SERIAL.lock().await;
    let params: Arc<Mutex<Vec<Vec<String>>>> = Arc::default();
    let p = params.clone();
    let server = serve(move |_, mut ws| {
        let p = p.clone();
        async move {
            let streams = binance_ack(&mut ws).await;
            p.lock().unwrap().push(streams);
            until_closed(&mut ws).await;
        }
    })
    .await;
    let symbols: Vec<Instrument> = (0..350)
        .map(|i| Instrument::from_native(ccxt_registry::venue("binance"), format!("S{i:03}USDT")))
        .collect();
    let (handle, mut rx, cancel) = start(vec![SourceConfig::Feed {
        ws: Some(settings(&server.url)),
        feed: Arc::new(ccxt_binance::liquidations::BinanceFeed),
        symbols: Some(symbols),
    }]);
    assert_eq!(handle.tasks(), 2);
    let events = collect_until(&mut rx, Duration::from_secs(2), |e| {
        count(e, connected) == 2
    })
    .await;
    stop(handle, cancel).await;
    assert_eq!(count(&events, connected), 2);
    let mut sizes: Vec<usize> = params.lock().unwrap().iter().map(Vec::len).collect();
    sizes.sort_unstable();
    assert_eq!(sizes, [150, 200]);
    let all: std::collections::BTreeSet<String> =
        params.lock().unwrap().concat().into_iter().collect();
    assert_eq!(all.len(), 350);
    assert!(all.contains("s000usdt@forceOrder"));
}

#[tokio::test]
async fn bybit_topics_are_sharded_by_args_length() {
    let _serial = SERIAL.lock().await;
    let args: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
    let a = args.clone();
    let server = serve(move |_, mut ws| {
        let a = a.clone();
        async move {
            let frame: serde_json::Value =
                serde_json::from_str(&recv_text(&mut ws).await.unwrap()).unwrap();
            a.lock().unwrap().push(frame["args"].clone());
            send(&mut ws, BYBIT_ACK).await;
            until_closed(&mut ws).await;
        }
    })
    .await;
    let symbols: Vec<String> = (0..1500).map(|i| format!("SYMBOL{i:04}USDT")).collect();
    let names: Vec<&str> = symbols.iter().map(String::as_str).collect();
    let (handle, mut rx, cancel) = start(vec![bybit(settings(&server.url), &names)]);
    assert_eq!(handle.tasks(), 3);
    let events = collect_until(&mut rx, Duration::from_secs(2), |e| {
        count(e, connected) == 3
    })
    .await;
    stop(handle, cancel).await;
    assert_eq!(count(&events, connected), 3);
    let args = args.lock().unwrap().clone();
    let mut total = 0;
    for a in &args {
        let chars = a.to_string().len();
        assert!(chars <= 21_000, "{chars}");
        total += a.as_array().unwrap().len();
    }
    assert_eq!(total, 1500);
}

/// A minimal protocol for the generic loop: `{"sub":N}` frames acknowledged by `{"ack":N}`,
/// data `{"liq":[qty, ts_ms]}`, with a REST fallback.
#[derive(Debug)]
struct TestProtocol {
    frames: usize,
    interval: Duration,
    fallback: Option<Arc<dyn LiquidationPoller>>,
}

fn test_row(qty: f64, ts_ms: u64, source: LiquidationSource, ts_init: u64) -> Liquidation {
    Liquidation {
        instrument_id: InstrumentId::new_unchecked("BTCUSDT-PERP.BINANCE"),
        side: PositionSide::Long,
        order_side: "SELL".into(),
        quantity: qty,
        price: 100.0,
        value: qty * 100.0,
        source,
        method: None,
        trade_id: None,
        ts_event: ts_ms * 1_000_000,
        ts_init,
    }
}

impl WsProtocol for TestProtocol {
    fn venue(&self) -> Venue {
        ccxt_registry::venue("binance")
    }
    fn stream(&self) -> &str {
        "test"
    }
    fn url(&self, root: &str) -> String {
        format!("{root}/test")
    }
    fn subscribe_frames(&self) -> Vec<String> {
        (0..self.frames)
            .map(|i| format!(r#"{{"sub":{i}}}"#))
            .collect()
    }
    fn send_interval(&self) -> Duration {
        self.interval
    }
    fn ping_frame(&self, _seq: u64) -> Option<String> {
        None
    }
    fn classify(&self, text: &str, ts_init: u64) -> Inbound {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
            return Inbound::Malformed(text.to_string());
        };
        if v.get("ack").is_some() {
            Inbound::Ack
        } else if let Some(l) = v.get("liq") {
            Inbound::Liquidations(vec![test_row(
                l[0].as_f64().unwrap_or(0.0),
                l[1].as_u64().unwrap_or(0),
                LiquidationSource::Ws,
                ts_init,
            )])
        } else {
            Inbound::Other
        }
    }
    fn fallback(&self) -> Option<Arc<dyn LiquidationPoller>> {
        self.fallback.clone()
    }
}

#[tokio::test]
async fn subscribe_frames_are_paced_by_the_protocols_send_interval() {
    let _serial = SERIAL.lock().await;
    let times: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let t = times.clone();
    let server = serve(move |_, mut ws| {
        let t = t.clone();
        async move {
            for i in 0..4 {
                recv_text(&mut ws).await;
                t.lock().unwrap().push(Instant::now());
                send(&mut ws, format!(r#"{{"ack":{i}}}"#)).await;
            }
            until_closed(&mut ws).await;
        }
    })
    .await;
    let protocol = TestProtocol {
        frames: 4,
        interval: 60 * MS,
        fallback: None,
    };
    let (handle, mut rx, cancel) = start(vec![SourceConfig::Custom {
        ws: settings(&server.url),
        connections: vec![Arc::new(protocol)],
    }]);
    let events = collect_until(&mut rx, Duration::from_secs(2), |e| {
        count(e, connected) == 1
    })
    .await;
    stop(handle, cancel).await;
    assert_eq!(count(&events, connected), 1, "all four acknowledged");
    let times = times.lock().unwrap().clone();
    for w in times.windows(2) {
        assert!(w[1] - w[0] >= 55 * MS, "{:?}", w[1] - w[0]);
    }
}

/// A fallback that returns one liquidation per poll and records the windows asked for.
#[derive(Debug, Default)]
struct FakeFallback {
    windows: Mutex<Vec<(u64, u64)>>,
    n: AtomicU64,
}

#[async_trait::async_trait]
impl LiquidationPoller for FakeFallback {
    fn venue(&self) -> Venue {
        ccxt_registry::venue("binance")
    }
    fn stream(&self) -> &str {
        "test fallback"
    }
    fn interval(&self) -> Duration {
        50 * MS
    }
    fn max_catch_up(&self) -> Duration {
        Duration::from_secs(60)
    }
    async fn poll(&self, start_ns: u64, end_ns: u64) -> Result<Polled, FetchError> {
        self.windows.lock().unwrap().push((start_ns, end_ns));
        let k = self.n.fetch_add(1, Ordering::SeqCst);
        Ok(Polled {
            rows: vec![test_row(
                1000.0 + k as f64,
                end_ns / 1_000_000,
                LiquidationSource::Poll,
                now_ns(),
            )],
            covered_until_ns: end_ns,
            malformed: vec![],
        })
    }
}

#[tokio::test]
async fn a_socket_down_longer_than_fallback_after_is_bridged_by_the_rest_fallback() {
    let _serial = SERIAL.lock().await;
    let up = Arc::new(AtomicBool::new(false));
    let u = up.clone();
    let server = serve(move |_, mut ws| {
        let up = u.load(Ordering::SeqCst);
        async move {
            if !up {
                drop(ws); // the venue is down: connections die at once
                return;
            }
            recv_text(&mut ws).await;
            send(&mut ws, r#"{"ack":0}"#).await;
            send(&mut ws, r#"{"liq":[1,5]}"#).await;
            until_closed(&mut ws).await;
        }
    })
    .await;
    let fallback = Arc::new(FakeFallback::default());
    let protocol = TestProtocol {
        frames: 1,
        interval: Duration::ZERO,
        fallback: Some(fallback.clone()),
    };
    let mut ws = settings(&server.url);
    ws.fallback_after = Some(150 * MS);
    let t0 = now_ns();
    let (handle, mut rx, cancel) = start(vec![SourceConfig::Custom {
        ws,
        connections: vec![Arc::new(protocol)],
    }]);
    let before_up = collect_for(&mut rx, 500 * MS).await;
    up.store(true, Ordering::SeqCst);
    let after_up = collect_until(&mut rx, Duration::from_secs(2), |e| {
        rows(e).iter().any(|r| r.source == LiquidationSource::Ws)
    })
    .await;
    stop(handle, cancel).await;

    let polled = rows(&before_up);
    assert!(polled.len() >= 3, "{before_up:?}");
    assert!(polled.iter().all(|r| r.source == LiquidationSource::Poll));
    assert_eq!(count(&before_up, connected), 0);
    let windows = fallback.windows.lock().unwrap().clone();
    // The first poll reaches back to the start of the gap (the task's start), less overlap.
    assert!(
        windows[0].0 <= t0 + 50_000_000 - 10_000_000_000,
        "{windows:?}"
    );
    // Windows follow each other without holes.
    for w in windows.windows(2) {
        assert!(w[1].0 <= w[0].1, "{windows:?}");
    }
    // When the socket is back: a last poll up to the subscription, then the socket alone.
    let connected_at = after_up.iter().position(connected).expect("connected");
    assert!(
        rows(&after_up[connected_at..])
            .iter()
            .all(|r| r.source == LiquidationSource::Ws)
    );
    assert_eq!(
        gaps(&after_up).len(),
        0,
        "the fallback covered the outage: {after_up:?}"
    );
    let polls_at_connect = windows.len();
    tokio::time::sleep(150 * MS).await;
    assert_eq!(
        fallback.windows.lock().unwrap().len(),
        polls_at_connect,
        "polling stopped"
    );
}

#[tokio::test]
async fn without_a_fallback_the_outage_is_a_gap_and_shutdown_while_down_records_it() {
    let _serial = SERIAL.lock().await;
    let server = serve(|_, ws| async move { drop(ws) }).await;
    let protocol = TestProtocol {
        frames: 1,
        interval: Duration::ZERO,
        fallback: None,
    };
    let mut ws = settings(&server.url);
    ws.fallback_after = Some(50 * MS);
    let t0 = now_ns();
    let (handle, mut rx, cancel) = start(vec![SourceConfig::Custom {
        ws,
        connections: vec![Arc::new(protocol)],
    }]);
    let events = collect_for(&mut rx, 300 * MS).await;
    assert_eq!(gaps(&events).len(), 0, "a gap is recorded when it ends");
    let t1 = Instant::now();
    stop(handle, cancel).await;
    assert!(
        t1.elapsed() < 500 * MS,
        "stops promptly even while backing off"
    );
    let mut late = Vec::new();
    while let Ok(e) = rx.try_recv() {
        late.push(e);
    }
    let gaps = gaps(&late);
    assert_eq!(
        gaps.len(),
        1,
        "the open gap is recorded up to the shutdown: {late:?}"
    );
    assert!(gaps[0].start_ns >= t0 && gaps[0].start_ns < t0 + 200_000_000);
    assert!(gaps[0].end_ns >= t0 + 300_000_000);
    assert!(server.connections() >= 3);
}

#[tokio::test]
async fn cancellation_during_the_subscription_handshake_is_prompt() {
    let _serial = SERIAL.lock().await;
    let server = serve(|_, mut ws| async move {
        recv_text(&mut ws).await; // never acknowledged
        until_closed(&mut ws).await;
    })
    .await;
    let mut ws = settings(&server.url);
    ws.ack_timeout = Duration::from_secs(30);
    let (handle, mut rx, cancel) = start(vec![bybit(ws, &["BTCUSDT"])]);
    tokio::time::sleep(100 * MS).await;
    let t0 = Instant::now();
    stop(handle, cancel).await;
    assert!(t0.elapsed() < 1500 * MS);
    let mut events = Vec::new();
    while let Ok(e) = rx.try_recv() {
        events.push(e);
    }
    assert_eq!(count(&events, connected), 0);
}

#[tokio::test]
async fn a_dropped_receiver_stops_the_tasks() {
    let _serial = SERIAL.lock().await;
    let server = serve(|_, mut ws| async move {
        recv_text(&mut ws).await;
        send(&mut ws, BYBIT_ACK).await;
        for t in 0..1000 {
            send(&mut ws, bybit_liquidation("BTCUSDT", t, 1.0)).await;
            tokio::time::sleep(MS).await;
        }
        until_closed(&mut ws).await;
    })
    .await;
    let (handle, rx, _cancel) = start(vec![bybit(settings(&server.url), &["BTCUSDT"])]);
    tokio::time::sleep(50 * MS).await;
    drop(rx);
    tokio::time::timeout(Duration::from_secs(2), handle.join())
        .await
        .expect("tasks stop when nobody listens");
}

#[tokio::test]
async fn server_pings_keep_a_quiet_binance_connection_alive_and_are_answered() {
    // Binance's keep-alive: the server pings, the client answers (tungstenite queues the pong
    // and sends it as the loop keeps reading); each ping also resets the watchdog.
    let pongs = Arc::new(AtomicUsize::new(0));
    let p = pongs.clone();
    let server = serve(move |_, mut ws| {
        let pongs = p.clone();
        async move {
            binance_ack(&mut ws).await;
            let mut tick = tokio::time::interval(60 * MS);
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        if futures::SinkExt::send(&mut ws, Message::Ping(b"hb".to_vec().into())).await.is_err() {
                            return;
                        }
                    }
                    msg = futures::StreamExt::next(&mut ws) => match msg {
                        Some(Ok(Message::Pong(payload))) => {
                            assert_eq!(&payload[..], b"hb");
                            pongs.fetch_add(1, Ordering::SeqCst);
                        }
                        Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                        Some(Ok(_)) => {}
                    },
                }
            }
        }
    })
    .await;
    let mut ws = settings(&server.url);
    ws.heartbeat = 100 * MS; // watchdog 200 ms, pings every 60 ms
    let (handle, mut rx, cancel) = start(vec![SourceConfig::Feed {
        ws: Some(ws),
        feed: Arc::new(ccxt_binance::liquidations::BinanceFeed),
        symbols: None,
    }]);
    let events = collect_for(&mut rx, 700 * MS).await;
    stop(handle, cancel).await;
    assert_eq!(count(&events, connected), 1);
    assert_eq!(count(&events, disconnected), 0, "{events:?}");
    assert!(pongs.load(Ordering::SeqCst) >= 5, "pings answered");
}

#[tokio::test]
async fn a_tls_failure_is_a_connection_error_not_a_crash() {
    // wss:// against a plain TCP peer: the TLS handshake fails, the loop backs off and
    // retries, and the shutdown records the stretch never covered.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let attempts = Arc::new(AtomicUsize::new(0));
    let a = attempts.clone();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            a.fetch_add(1, Ordering::SeqCst);
            let _ =
                tokio::io::AsyncWriteExt::write_all(&mut tcp, b"HTTP/1.1 400 Bad\r\n\r\n").await;
        }
    });
    let (handle, mut rx, cancel) = start(vec![bybit(
        settings(&format!("wss://127.0.0.1:{port}")),
        &["BTCUSDT"],
    )]);
    let events = collect_for(&mut rx, 300 * MS).await;
    stop(handle, cancel).await;
    assert_eq!(count(&events, connected), 0);
    assert!(attempts.load(Ordering::SeqCst) >= 2, "retried");
    let mut late = Vec::new();
    while let Ok(e) = rx.try_recv() {
        late.push(e);
    }
    let gaps = gaps(&late);
    assert_eq!(gaps.len(), 1);
    assert!(
        gaps[0]
            .reason
            .starts_with("cannot connect to wss://127.0.0.1:"),
        "{}",
        gaps[0].reason
    );
}
