import pandas as pd
import pyarrow.dataset as ds

# ts_event arrives as datetime64[ns, UTC]; decimal columns as exact decimal.Decimal objects.
bars = pd.read_parquet("bars.parquet")
liq = ds.dataset("liq", format="parquet", partitioning="hive").to_table().to_pandas()

print(bars.dtypes[["ts_event", "close", "volume"]].to_string())
print(bars[bars["venue"] == "binance"][["ts_event", "open", "close", "volume"]].head(3).to_string())
print(liq.groupby(["venue", "date"])["value"].sum().round(0).head(4).to_string())
