//! The captured Hyperliquid payloads in this crate's `fixtures/` (provenance in
//! `fixtures/SOURCES.md`), compiled into the unit tests.

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/", $name))
    };
}

/// `metaAndAssetCtxs` of the main dex (docs example: BTC, ETH, HPOS).
pub const META_AND_ASSET_CTXS: &str = fixture!("meta_and_asset_ctxs_docs.json");
/// `metaAndAssetCtxs` with `"dex": "xyz"` (docs example; null `premium`/`midPx`/`impactPxs`).
pub const META_AND_ASSET_CTXS_HIP3: &str = fixture!("meta_and_asset_ctxs_hip3_docs.json");
/// `meta` recorded on mainnet in 2023 (28 coins, including `kPEPE`).
pub const META_2023: &str = fixture!("meta_2023_sdk_cassette.json");
/// `allPerpMetas`: one meta per dex (main, `km`, `hyna`).
pub const ALL_PERP_METAS_HIP3: &str = fixture!("all_perp_metas_hip3.json");
/// `fundingHistory` of a HIP-3 coin (docs example).
pub const FUNDING_HISTORY_HIP3: &str = fixture!("funding_history_hip3_docs.json");
/// `perpDexs` (docs example: `null` for the main dex, then one builder dex).
pub const PERP_DEXS: &str = fixture!("perp_dexs_docs.json");
/// `perpsAtOpenInterestCap` (docs example).
pub const PERPS_AT_OI_CAP: &str = fixture!("perps_at_open_interest_cap_docs.json");
/// `predictedFundings` (live sample, with `fundingIntervalHours`).
pub const PREDICTED_FUNDINGS: &str = fixture!("predicted_fundings_chainstack.json");
/// `candleSnapshot` recorded on mainnet (kPEPE 1h, 24 candles, the last one unfinished).
pub const CANDLE_SNAPSHOT: &str = fixture!("candleSnapshot.json");
/// `candleSnapshot` docs example (BTC 15m).
pub const CANDLE_SNAPSHOT_DOCS: &str = fixture!("candleSnapshot_docs.json");
/// WebSocket `pong`.
pub const WS_PONG: &str = fixture!("ws_pong.json");
/// WebSocket subscription acknowledgement.
pub const WS_SUBSCRIPTION_RESPONSE: &str = fixture!("ws_subscription_response.json");
/// WebSocket `user` channel fill of a counterparty of a liquidation.
pub const WS_USER_FILL_LIQUIDATION: &str = fixture!("ws_user_fill_liquidation.json");

mod tests {
    #[test]
    fn every_capture_lives_in_the_crate_with_its_provenance() {
        ccxt_venue::testing::assert_captures_have_provenance(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures"),
        );
    }
}
