from datetime import datetime, timezone

import polars as pl

# Typed columns: no casts. ts_event is Datetime("ns", "UTC"), rate a Decimal(38, 8).
funding = pl.read_parquet("funding.parquet")
liq = pl.scan_parquet("liq/**/*.parquet", hive_partitioning=True)  # adds venue and date columns

print(funding.schema["ts_event"], funding.schema["rate"])
print(
    funding.filter(pl.col("ts_event") >= datetime(2025, 1, 3, tzinfo=timezone.utc), pl.col("venue") == "binance")
    .select("ts_event", "symbol", "rate", "interval_minutes", "kind")
    .sort("ts_event", "symbol")
    .head(4)
)
print(
    liq.group_by("venue", "side")
    .agg(pl.len().alias("n"), pl.col("value").sum().round(0).cast(pl.Int64).alias("usd"))
    .sort("venue", "side")
    .collect()
)
