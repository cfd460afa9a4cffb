#!/usr/bin/env python
"""
NautilusTrader reads a ccxt-pipeline catalog in an S3 bucket through s3fs (run by .ci/run).

    python .ci/nautilus_s3_check.py s3://BUCKET/PREFIX --endpoint http://127.0.0.1:PORT --cli ccxt-cli

Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (and AWS_REGION, default
us-east-1), for s3fs, for NautilusTrader's Rust reader and for the CLI alike. The CLI is run with
CCXT_STORAGE__ENDPOINT=ENDPOINT (and CCXT_STORAGE__ALLOW_HTTP for http://).

For every dataset data/<class_dir>/<instrument_id or bar_type>/ in the bucket it checks that
  * NautilusTrader 1.221's ParquetDataCatalog("s3://...", fs_protocol="s3", fs_storage_options=...)
    returns one object per Parquet row of the dataset's files (read through s3fs), in ts_init order;
  * `ccxt-cli query <kind> --all --format json --catalog s3://...` returns the same number of rows
    for that instrument (bar type);
and that the CLI reports no dataset the bucket does not hold. Exits 1 listing every mismatch.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import subprocess
import sys

import pyarrow.parquet as pq
import s3fs

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

import ccxt_pipeline_nautilus as ccxt  # noqa: E402  (registers the codecs)
from nautilus_trader.model.data import Bar  # noqa: E402
from nautilus_trader.model.data import CustomData  # noqa: E402
from nautilus_trader.model.data import FundingRateUpdate  # noqa: E402
from nautilus_trader.model.data import IndexPriceUpdate  # noqa: E402
from nautilus_trader.model.data import MarkPriceUpdate  # noqa: E402
from nautilus_trader.persistence.catalog import ParquetDataCatalog  # noqa: E402

ccxt.register_index_price()

# class dir -> (NautilusTrader class, `ccxt-cli query` kind)
DATASETS = {
    "custom_open_interest": (ccxt.OpenInterest, "oi"),
    "funding_rate_update": (FundingRateUpdate, "funding"),
    "custom_liquidation": (ccxt.Liquidation, "liquidations"),
    "bar": (Bar, "bars"),
    "mark_price_update": (MarkPriceUpdate, "mark"),
    "index_price_update": (IndexPriceUpdate, "index"),
}
# Stream gaps are stored per venue, not per instrument: compared by total only.
GAPS = "custom_stream_gap"

UNITS = {"MINUTE": "m", "HOUR": "h", "DAY": "d", "WEEK": "w", "MONTH": "M"}


def bar_series(bar_type: str) -> tuple[str, str]:
    """`BTCUSDT-PERP.BINANCE-1-HOUR-MARK-EXTERNAL` -> ("1h", "mark")."""
    m = re.search(r"-(\d+)-(MINUTE|HOUR|DAY|WEEK|MONTH)-(LAST|MARK)-EXTERNAL$", bar_type)
    if m is None:
        raise ValueError(f"unexpected bar type {bar_type!r}")
    return f"{m.group(1)}{UNITS[m.group(2)]}", m.group(3).lower()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("catalog", help="s3://BUCKET/PREFIX")
    p.add_argument("--endpoint", required=True, help="the S3 server, e.g. http://127.0.0.1:9000")
    p.add_argument("--cli", required=True, help="the ccxt-cli binary")
    args = p.parse_args()

    if not args.catalog.startswith("s3://"):
        print(f"catalog must be an s3:// URL, got {args.catalog!r}")
        return 2
    key, secret = os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]
    region = os.environ.get("AWS_REGION", "us-east-1")
    storage_options = {
        "key": key,
        "secret": secret,
        "client_kwargs": {"endpoint_url": args.endpoint, "region_name": region},
    }
    # NautilusTrader reads bars and mark prices with its Rust backend (object_store), which takes
    # flat string options rather than s3fs's.
    rust_options = {
        "endpoint_url": args.endpoint,
        "access_key_id": key,
        "secret_access_key": secret,
        "region": region,
        "allow_http": str(args.endpoint.startswith("http://")).lower(),
    }
    fs = s3fs.S3FileSystem(**storage_options)
    root = args.catalog[len("s3://"):].rstrip("/")

    # The bucket's datasets and their Parquet row counts, read through s3fs.
    stored: dict[tuple[str, str], int] = {}
    for class_path in fs.ls(f"{root}/data", detail=False):
        class_dir = class_path.rsplit("/", 1)[-1]
        for ident_path in fs.ls(class_path, detail=False):
            files = [f for f in fs.find(ident_path) if f.endswith(".parquet")]
            if not files:
                continue
            rows = 0
            for f in files:
                with fs.open(f, "rb") as handle:
                    rows += pq.ParquetFile(handle).metadata.num_rows
            stored[(class_dir, ident_path.rsplit("/", 1)[-1])] = rows
    if not stored:
        print(f"FAIL: no Parquet files under {args.catalog}/data")
        return 1

    catalog = ParquetDataCatalog(
        args.catalog,
        fs_protocol="s3",
        fs_storage_options=storage_options,
        fs_rust_storage_options=rust_options,
    )

    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CCXT_")},
        "CCXT_STORAGE__ENDPOINT": args.endpoint,
        "AWS_REGION": region,
    }
    if args.endpoint.startswith("http://"):
        env["CCXT_STORAGE__ALLOW_HTTP"] = "true"

    def cli_rows(kind: str, *extra: str) -> list[dict]:
        cmd = [args.cli, "query", kind, *extra, "--from", "2000-01-01", "--format", "json",
               "--catalog", args.catalog]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} exited {out.returncode}: {out.stderr.strip()}")
        return json.loads(out.stdout) if out.stdout.strip() else []

    cli: dict[tuple[str, str], int] = collections.Counter()
    for class_dir, (_, kind) in DATASETS.items():
        if kind == "bars":
            series = {bar_series(ident) for (c, ident) in stored if c == "bar"}
            for interval, price in sorted(series):
                for row in cli_rows("bars", "--all", "--interval", interval, "--price", price):
                    cli[("bar", row["bar_type"])] += 1
        else:
            for row in cli_rows(kind, "--all"):
                cli[(class_dir, row["instrument_id"])] += 1
    if any(c == GAPS for (c, _) in stored):
        cli[(GAPS, "*")] = len(cli_rows("gaps"))

    errors = []
    checked = 0
    for (class_dir, ident), rows in sorted(stored.items()):
        label = f"{class_dir}/{ident}"
        if class_dir == GAPS:
            continue
        if class_dir not in DATASETS:
            errors.append(f"{label}: a dataset this check does not know")
            continue
        cls, kind = DATASETS[class_dir]
        data = catalog.query(data_cls=cls, identifiers=[ident])
        ts = [(d.data if isinstance(d, CustomData) else d).ts_init for d in data]
        in_order = all(a <= b for a, b in zip(ts, ts[1:]))
        from_cli = cli.get((class_dir, ident), 0)
        ok = len(data) == rows == from_cli and in_order
        checked += 1
        print(f"{'OK  ' if ok else 'FAIL'} {label}: nautilus={len(data)} parquet_rows={rows} "
              f"ccxt-cli query {kind}={from_cli}{'' if in_order else ' (not in ts_init order)'}")
        if not ok:
            errors.append(label)
    gap_rows = sum(rows for (c, _), rows in stored.items() if c == GAPS)
    if gap_rows:
        data = catalog.query(data_cls=ccxt.StreamGap)
        ok = len(data) == gap_rows == cli[(GAPS, "*")]
        checked += 1
        print(f"{'OK  ' if ok else 'FAIL'} {GAPS}: nautilus={len(data)} parquet_rows={gap_rows} "
              f"ccxt-cli query gaps={cli[(GAPS, '*')]}")
        if not ok:
            errors.append(GAPS)
    for (class_dir, ident) in sorted(set(cli) - set(stored)):
        if class_dir != GAPS:
            errors.append(f"{class_dir}/{ident}: ccxt-cli query reports rows the bucket has no files for")

    for e in errors:
        print(f"  MISMATCH {e}")
    print(f"{'FAILED' if errors else 'PASSED'}: {checked} datasets in {args.catalog} read through s3fs "
          f"({len(errors)} mismatches)")
    return 1 if errors else 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip the interpreter's finalization: with NautilusTrader's Rust reader (DataFusion) and
    # s3fs's event-loop thread alive, it ends in C++ `std::terminate` ("terminate called without
    # an active exception", SIGABRT) after everything passed.
    os._exit(code)
