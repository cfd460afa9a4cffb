-- ts_event is a TIMESTAMP WITH TIME ZONE: compare it with a timestamp; rate is an exact DECIMAL(38, 8)
SELECT instrument_id, count(*) AS n, min(rate) AS min_rate, max(rate) AS max_rate
FROM 'funding.parquet'
WHERE ts_event >= TIMESTAMPTZ '2025-01-02 00:00:00+00' AND kind = 'settled'
GROUP BY ALL ORDER BY instrument_id LIMIT 3;

-- the Hive tree: venue and date come from the directory names
SELECT venue, date, side, count(*) AS n, round(sum(value)) AS usd
FROM read_parquet('liq/*/*/*.parquet', hive_partitioning = true)
WHERE date = DATE '2025-01-02'
GROUP BY ALL ORDER BY venue, side;

-- bars of three venues side by side: the closes of the first three hours of 2 January
SELECT strftime(ts_event AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M') AS close_time, venue, close, volume
FROM 'bars.parquet'
ORDER BY ts_event, venue LIMIT 6;
