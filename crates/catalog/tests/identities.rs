//! Liquidation identities across many small writes (a stream's drains): every write searches
//! the files of the last five minutes for an earlier delivery, but reads each of them back
//! once while it is unchanged, and still finds a re-delivery after those files were compacted.
#![allow(clippy::unwrap_used)]

mod common;

use ccxt_model::{InstrumentId, Liquidation, LiquidationSource, PositionSide};
use common::backend::{Backend, Kind};

const BTC: &str = "BTCUSDT-LINEAR.BYBIT";
/// 2025-01-01T00:00:00Z.
const DAY: u64 = 1_735_689_600_000_000_000;
const SEC: u64 = 1_000_000_000;

/// The `n`th liquidation (no trade id: identified by its venue fields), received at `ts_init`.
fn liq(n: u64, ts_init: u64) -> Liquidation {
    Liquidation {
        instrument_id: InstrumentId::new_unchecked(BTC),
        side: PositionSide::Long,
        order_side: "Sell".into(),
        quantity: 0.001 * (n + 1) as f64,
        price: 94_000.5,
        value: 94.0005 * (n + 1) as f64,
        source: LiquidationSource::Ws,
        method: None,
        trade_id: None,
        ts_event: DAY + n * SEC,
        ts_init,
    }
}

/// Twenty writes a second apart, each a new file: every write searches the earlier ones for
/// a first delivery, from the identities the writer kept when it wrote them.
#[tokio::test]
async fn twenty_drains_read_each_earlier_file_back_once() {
    let b = Backend::new(Kind::S3).await;
    let (catalog, _) = b.open_writable().await;
    let before = b.sim().requests();
    for n in 0..20 {
        let report = catalog
            .write(vec![liq(n, DAY + n * SEC + 1)])
            .await
            .unwrap();
        assert_eq!((report.rows_added, report.files_written), (1, 1));
    }
    let gets = b.sim().requests().get - before.get;
    // The writer remembers the identities of the files it wrote: none is read back (190
    // file reads without the cache, 19 with it if written files were not remembered).
    assert_eq!(gets, 0, "{gets} GETs for 20 writes");
}

async fn a_re_delivery_is_dropped_across_drains_and_after_compaction(b: Backend) {
    let (catalog, _) = b.open_writable().await;
    for n in 0..10 {
        catalog
            .write(vec![liq(n, DAY + n * SEC + 1)])
            .await
            .unwrap();
    }
    // A reconnect replays liquidations 2 and 7 with later receive times: both are stored.
    let replay = vec![
        liq(2, DAY + 30 * SEC),
        liq(7, DAY + 30 * SEC),
        liq(10, DAY + 30 * SEC),
    ];
    let report = catalog.write(replay.clone()).await.unwrap();
    assert_eq!((report.rows_added, report.duplicates), (1, 2));
    // Compaction rewrites the files (new names, sizes and times): the cached identities of
    // the old files are dropped, the new file is read, and a replay is still found.
    let compacted = catalog.compact().await.unwrap();
    assert!(compacted.files_before > compacted.files_after);
    let report = catalog
        .write(vec![liq(5, DAY + 40 * SEC), liq(11, DAY + 40 * SEC)])
        .await
        .unwrap();
    assert_eq!((report.rows_added, report.duplicates), (1, 1));
    let stored: Vec<Liquidation> = common::read_all(&catalog, &[BTC]).await;
    let events: Vec<u64> = stored.iter().map(|l| (l.ts_event - DAY) / SEC).collect();
    assert_eq!(
        events,
        (0..12).collect::<Vec<_>>(),
        "every liquidation once"
    );
}

backends!(a_re_delivery_is_dropped_across_drains_and_after_compaction);
