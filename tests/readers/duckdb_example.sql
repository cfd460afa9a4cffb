-- open interest: one row per instrument
SELECT instrument_id, count(*) AS n, max(open_interest) AS max_oi, count(open_interest_value) AS with_value
FROM read_parquet('catalog/data/custom_open_interest/*/*.parquet')
GROUP BY ALL ORDER BY instrument_id LIMIT 3;

-- liquidations: notional by side
SELECT instrument_id, side, count(*) AS n, round(sum(value)) AS usd
FROM read_parquet('catalog/data/custom_liquidation/*/*.parquet')
GROUP BY ALL ORDER BY instrument_id, side LIMIT 4;

-- funding: instrument from the directory, rate from the JSON-string bytes (exact up to 12 decimals)
SELECT regexp_extract(filename, 'funding_rate_update/([^/]+)/', 1) AS instrument_id,
       make_timestamp_ns(ts_event::BIGINT) AS ts_event,
       CAST(trim(decode(rate), '"') AS DECIMAL(18, 12)) AS rate,
       interval,
       CASE WHEN next_funding_ns IS NULL THEN 'settled' ELSE 'estimate' END AS kind
FROM read_parquet('catalog/data/funding_rate_update/*/*.parquet', filename = true)
WHERE instrument_id = 'BTCUSDT-PERP.BINANCE'
ORDER BY ts_event DESC LIMIT 3;

-- a time window: ts_event is a uint64 of nanoseconds; compare it with epoch_ns(TIMESTAMP …)
-- and show it with make_timestamp_ns. Liquidations per hour, 2025-01-02 06:00 to 09:00 UTC:
SELECT time_bucket(INTERVAL 1 HOUR, make_timestamp_ns(ts_event::BIGINT)) AS hour,
       count(*) AS n, round(sum(value)) AS usd
FROM read_parquet('catalog/data/custom_liquidation/*/*.parquet')
WHERE ts_event >= epoch_ns(TIMESTAMP '2025-01-02 06:00:00')
  AND ts_event <  epoch_ns(TIMESTAMP '2025-01-02 09:00:00')
GROUP BY ALL ORDER BY hour;
