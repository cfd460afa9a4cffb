//! Every record type survives a write and a read unchanged, including extreme values, and
//! funding rates keep their exact decimal text.
#![allow(clippy::unwrap_used)]

mod common;

use ccxt_catalog::{Catalog, Storage};
use ccxt_model::{
    FundingRate, InstrumentId, Liquidation, LiquidationSource, OpenInterest, PositionSide,
};
use proptest::prelude::*;
use rust_decimal::Decimal;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn instrument() -> impl Strategy<Value = InstrumentId> {
    prop_oneof![
        Just("BTCUSDT-PERP.BINANCE"),
        Just("BTCUSDT-LINEAR.BYBIT"),
        Just("xyz_TSLA-USD-PERP.HYPERLIQUID"),
        Just("kPEPE-USD-PERP.HYPERLIQUID"),
    ]
    .prop_map(InstrumentId::new_unchecked)
}

fn finite() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(0.0),
        Just(f64::MAX),
        Just(f64::MIN),
        Just(f64::MIN_POSITIVE),
        Just(f64::EPSILON),
        Just(1e-300),
        proptest::num::f64::NORMAL,
    ]
}

fn ts() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(u64::MAX),
        Just(u64::MAX - 1),
        Just(1u64 << 63),
        any::<u64>(),
        1_600_000_000_000_000_000u64..1_900_000_000_000_000_000
    ]
}

fn decimal() -> impl Strategy<Value = Decimal> {
    (any::<i64>(), 0u32..=28).prop_map(|(m, scale)| Decimal::new(m, scale))
}

fn oi() -> impl Strategy<Value = OpenInterest> {
    (
        instrument(),
        finite(),
        proptest::option::of(finite()),
        ts(),
        ts(),
    )
        .prop_map(
            |(instrument_id, open_interest, open_interest_value, ts_event, ts_init)| OpenInterest {
                instrument_id,
                open_interest,
                open_interest_value,
                ts_event,
                ts_init,
            },
        )
}

fn funding() -> impl Strategy<Value = FundingRate> {
    (
        instrument(),
        decimal(),
        proptest::option::of(any::<u16>()),
        proptest::option::of(ts()),
        ts(),
        ts(),
    )
        .prop_map(
            |(instrument_id, rate, interval_minutes, next_funding_ns, ts_event, ts_init)| {
                FundingRate {
                    instrument_id,
                    rate,
                    interval_minutes,
                    next_funding_ns,
                    ts_event,
                    ts_init,
                }
            },
        )
}

fn liquidation() -> impl Strategy<Value = Liquidation> {
    (
        instrument(),
        any::<bool>(),
        "\\PC{0,12}",
        (finite(), finite(), finite()),
        any::<bool>(),
        proptest::option::of("\\PC{0,10}"),
        proptest::option::of("[0-9]{1,20}"),
        ts(),
        ts(),
    )
        .prop_map(
            |(
                instrument_id,
                long,
                order_side,
                (quantity, price, value),
                ws,
                method,
                trade_id,
                ts_event,
                ts_init,
            )| Liquidation {
                instrument_id,
                side: if long {
                    PositionSide::Long
                } else {
                    PositionSide::Short
                },
                order_side,
                quantity,
                price,
                value,
                source: if ws {
                    LiquidationSource::Ws
                } else {
                    LiquidationSource::Poll
                },
                method,
                trade_id,
                ts_event,
                ts_init,
            },
        )
}

/// Writes the rows and reads them back, sorted like the catalog sorts them.
fn round_trip<T: ccxt_catalog::CatalogRecord + std::fmt::Debug>(rows: Vec<T>) -> (Vec<T>, Vec<T>) {
    runtime().block_on(async {
        let catalog = Catalog::from_storage(Storage::in_memory());
        let mut expected = rows.clone();
        // Identical records are stored once, and so are records with the same venue identity
        // (the one received first is kept: the earliest ts_init, then the order of arrival).
        expected.sort_by_key(|r| r.ts_init());
        let mut unique: Vec<T> = Vec::new();
        let mut identities = std::collections::HashSet::new();
        for r in expected.drain(..) {
            let new = match r.identity() {
                Some(identity) => identities.insert((r.dataset(), identity.fingerprint())),
                None => !unique.contains(&r),
            };
            if new {
                unique.push(r);
            }
        }
        let mut ids: Vec<InstrumentId> = unique.iter().map(|r| r.dataset()).collect();
        ids.sort();
        ids.dedup();
        catalog.write(rows).await.unwrap();
        let query = ccxt_catalog::Query {
            instruments: ids.clone(),
            start: 0,
            end: u64::MAX,
            limit: None,
        };
        let (mut got, _) = catalog.query::<T>(&query).await.unwrap();
        let key = |r: &T| (r.ts_init(), ids.iter().position(|i| *i == r.dataset()));
        unique.sort_by_key(key);
        got.sort_by_key(key);
        (got, unique)
    })
}

fn same_multiset<T: PartialEq + std::fmt::Debug>(
    got: &[T],
    expected: &[T],
) -> Result<(), TestCaseError> {
    prop_assert_eq!(got.len(), expected.len());
    for e in expected {
        prop_assert!(got.contains(e), "missing {:?}", e);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn open_interest_round_trips(rows in proptest::collection::vec(oi(), 1..40)) {
        let (got, expected) = round_trip(rows);
        same_multiset(&got, &expected)?;
    }

    #[test]
    fn funding_round_trips_with_exact_decimals(rows in proptest::collection::vec(funding(), 1..40)) {
        let (got, expected) = round_trip(rows);
        same_multiset(&got, &expected)?;
        for g in &got {
            let e = expected.iter().find(|e| *e == g).unwrap();
            prop_assert_eq!(g.rate.to_string(), e.rate.to_string(), "scale and digits kept");
        }
    }

    #[test]
    fn liquidations_round_trip(rows in proptest::collection::vec(liquidation(), 1..40)) {
        let (got, expected) = round_trip(rows);
        same_multiset(&got, &expected)?;
    }
}

#[test]
fn venue_rate_strings_survive_exactly() {
    for text in [
        "0.00010000",
        "-0.00002",
        "0.0000125",
        "0.000100000000000000000001",
        "0",
        "-0.03",
        "4",
    ] {
        let rate: Decimal = text.parse().unwrap();
        let row = FundingRate {
            instrument_id: InstrumentId::new_unchecked("BTCUSDT-PERP.BINANCE"),
            rate,
            interval_minutes: Some(480),
            next_funding_ns: Some(1),
            ts_event: 1,
            ts_init: 1,
        };
        let (got, _) = round_trip(vec![row]);
        assert_eq!(got[0].rate.to_string(), text);
    }
}
