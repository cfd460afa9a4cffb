from datetime import datetime, timezone

import polars as pl

# ts_event and ts_init are uint64 nanoseconds: cast to Int64, then to a UTC datetime.
ts = pl.col("ts_event").cast(pl.Int64).cast(pl.Datetime("ns", "UTC"))
start = datetime(2025, 1, 2, 6, tzinfo=timezone.utc)
end = datetime(2025, 1, 2, 9, tzinfo=timezone.utc)

oi = pl.scan_parquet("catalog/data/custom_open_interest/*/*.parquet").with_columns(ts.alias("ts_event"))
liq = pl.scan_parquet("catalog/data/custom_liquidation/*/*.parquet").with_columns(ts.alias("ts_event"))
# funding_rate_update files have no instrument_id column: take it from the file's directory.
# `rate` is the exact decimal as a JSON string in bytes (b'"0.0001"'): keep it as text.
funding = pl.scan_parquet("catalog/data/funding_rate_update/*/*.parquet", include_file_paths="path").select(
    pl.col("path").str.extract(r"funding_rate_update/([^/]+)/", 1).alias("instrument_id"),
    ts.alias("ts_event"),
    pl.col("rate").cast(pl.String).str.strip_chars('"').alias("rate"),
    "interval",
    pl.when(pl.col("next_funding_ns").is_null()).then(pl.lit("settled")).otherwise(pl.lit("estimate")).alias("kind"),
)

# Liquidations per hour, 2025-01-02 06:00 to 09:00 UTC (end excluded), all instruments.
print(
    liq.filter(pl.col("ts_event").is_between(start, end, closed="left"))
    .group_by(pl.col("ts_event").dt.truncate("1h").alias("hour"))
    .agg(pl.len().alias("n"), pl.col("value").sum().round(0).alias("usd"))
    .sort("hour")
    .collect()
)
# The last open interest of each BTC instrument before 06:00.
print(
    oi.filter(pl.col("ts_event") < start, pl.col("instrument_id").str.starts_with("BTC"))
    .sort("ts_event")
    .group_by("instrument_id")
    .last()
    .select("instrument_id", "ts_event", "open_interest")
    .sort("instrument_id")
    .collect()
)
print(funding.filter(pl.col("instrument_id") == "BTCUSDT-PERP.BINANCE").sort("ts_event").tail(3).collect())
