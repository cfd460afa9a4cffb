import json
from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

# Keep nullable integer columns (next_funding_ns, interval) as integers: by default pandas turns a
# uint64 column with nulls into float64, which corrupts nanosecond timestamps.
INT_TYPES = {pa.uint64(): pd.UInt64Dtype(), pa.uint16(): pd.UInt16Dtype()}.get


def load(kind: str, root: str = "catalog") -> pd.DataFrame:
    path = f"{root}/data/{kind}"
    # funding_rate_update files have no instrument_id column: take it from the directory name.
    part = ds.partitioning(pa.schema([("instrument_id", pa.string())])) if kind == "funding_rate_update" else None
    df = ds.dataset(path, format="parquet", partitioning=part).to_table().to_pandas(types_mapper=INT_TYPES)
    df["ts_event"] = pd.to_datetime(df["ts_event"].astype("int64"), unit="ns", utc=True)
    return df


oi = load("custom_open_interest")
liq = load("custom_liquidation")
funding = load("funding_rate_update")
funding["rate"] = funding["rate"].map(lambda b: Decimal(json.loads(b)))  # b'"0.0001"' -> Decimal('0.0001'), exact
funding["kind"] = funding["next_funding_ns"].isna().map({True: "settled", False: "estimate"})

print(oi.groupby("instrument_id")["open_interest_value"].last().head(3))
print(liq.groupby(["instrument_id", "side"])["value"].sum().head(4))
print(funding[funding["instrument_id"] == "BTCUSDT-PERP.BINANCE"]
      [["ts_event", "rate", "interval", "next_funding_ns", "kind"]].tail(3).to_string())
