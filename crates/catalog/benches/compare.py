"""
Time the query of `cargo bench -p ccxt-catalog --bench catalog` with Python readers.

The bench leaves a 500-instrument x 30-day open-interest catalog in target/bench-catalog and
times one instrument-day: SYM0250USDT-PERP.BINANCE, ts_init in [2025-01-16T00:00:00Z,
2025-01-16T23:59:59.999999999Z] (inclusive), 667 rows. This script runs the same query with

  (a) pyarrow.dataset over the instrument directory + ts_init filter (reads all 30 footers);
  (b) pyarrow on the files whose name interval overlaps the query, pruned the way our Rust
      reader does it (list the directory, parse the names, open only overlapping files);
  (c) DuckDB read_parquet('<instrument dir>/*.parquet') WHERE ts_init BETWEEN ...;
  (d) DuckDB read_parquet on the files pruned as in (b);
  (e) NautilusTrader ParquetDataCatalog.query(OpenInterest, ...) via python/ccxt_pipeline_nautilus.py
      (returns 667 CustomData objects; the others return an Arrow table).

Every call includes its own directory listing, like the Rust query. Each method runs in its own
process: once ("first": cold process, imports and catalog/connection setup not timed, files in
the OS page cache) and then 50 more times (median). All methods must return 667 rows.

Run from the repository root (needs pyarrow, duckdb and nautilus_trader 1.221):

    PYTHONPATH=python /tmp/ntvenv/bin/python crates/catalog/benches/compare.py [CATALOG]

CATALOG defaults to target/bench-catalog.
"""

import calendar
import importlib
import os
import statistics
import subprocess
import sys
import time

import duckdb
import pyarrow as pa
import pyarrow.dataset as pds

INSTRUMENT = "SYM0250USDT-PERP.BINANCE"
START = 1_736_985_600_000_000_000  # 2025-01-16T00:00:00Z
END = START + 86_400_000_000_000 - 1  # inclusive
EXPECTED_ROWS = 667
REPEATS = 50


def parse_file_name(name):
    """Closed ts_init interval of a NautilusTrader file name, or None (crates/catalog/src/naming.rs)."""
    if not name.endswith(".parquet"):
        return None
    parts = name[: -len(".parquet")].split("_")
    if len(parts) != 2:
        return None
    try:
        start, end = map(parse_file_ts, parts)
    except ValueError:
        return None
    return (start, end) if start <= end else None


def parse_file_ts(s):
    # 2025-01-16T00-00-00-000000000Z
    if len(s) != 30 or s[-1] != "Z" or s[19] != "-":
        raise ValueError(s)
    secs = calendar.timegm(time.strptime(s[:19], "%Y-%m-%dT%H-%M-%S"))
    return secs * 1_000_000_000 + int(s[20:29])


def pruned_files(directory):
    """Files that may hold rows in [START, END]: overlapping by name, plus any not named by us."""
    out = []
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".parquet"):
            continue
        r = parse_file_name(name)
        if r is None or (r[0] <= END and START <= r[1]):
            out.append(os.path.join(directory, name))
    return out


def methods(catalog):
    """label -> zero-argument function that runs the query and returns its row count."""
    directory = os.path.join(catalog, "data", "custom_open_interest", INSTRUMENT)
    listed = sum(n.endswith(".parquet") for n in os.listdir(directory))
    opened = len(pruned_files(directory))
    ts = pds.field("ts_init")
    expr = (ts >= pa.scalar(START, pa.uint64())) & (ts <= pa.scalar(END, pa.uint64()))

    def arrow(source):
        return pds.dataset(source, format="parquet").to_table(filter=expr).num_rows

    def duck(files):
        paths = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        sql = f"SELECT * FROM read_parquet([{paths}]) WHERE ts_init BETWEEN {START} AND {END}"
        return con.sql(sql).to_arrow_table().num_rows

    def nautilus():
        return len(nt.query(ccxt.OpenInterest, identifiers=[INSTRUMENT], start=START, end=END))

    con = duckdb.connect()
    ccxt = importlib.import_module("ccxt_pipeline_nautilus")  # needs PYTHONPATH=python
    nt = importlib.import_module("nautilus_trader.persistence.catalog").ParquetDataCatalog(catalog)
    nt_version = importlib.import_module("nautilus_trader").__version__
    return {
        f"(a) pyarrow.dataset, directory ({listed} files)": lambda: arrow(directory),
        f"(b) pyarrow, pruned by name ({opened} of {listed})": lambda: arrow(pruned_files(directory)),
        f"(c) DuckDB, glob ({listed} files)": lambda: duck([os.path.join(directory, "*.parquet")]),
        f"(d) DuckDB, pruned by name ({opened} of {listed})": lambda: duck(pruned_files(directory)),
        f"(e) NautilusTrader {nt_version} catalog.query": nautilus,
    }


def measure(catalog, index):
    """Time method number `index` (first call, then median of REPEATS) and print its row."""
    label, run = list(methods(catalog).items())[index]
    times, rows = [], set()
    for _ in range(REPEATS + 1):
        t = time.perf_counter()
        rows.add(run())
        times.append((time.perf_counter() - t) * 1e3)
    assert rows == {EXPECTED_ROWS}, f"{label}: rows {rows}, expected {EXPECTED_ROWS}"
    print(f"{label:<42} {times[0]:>9.2f} {statistics.median(times[1:]):>10.2f} {rows.pop():>6}")


def main():
    catalog = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/bench-catalog")
    if len(sys.argv) > 2:  # child: one method
        measure(catalog, int(sys.argv[2]))
        return
    print(f"{INSTRUMENT}, ts_init {START}..={END}, {catalog}")
    print(f"python {sys.version.split()[0]}, pyarrow {pa.__version__}, duckdb {duckdb.__version__}")
    print(f"{'method':<42} {'first ms':>9} {'median ms':>10} {'rows':>6}", flush=True)
    for index in range(len(methods(catalog))):  # each in a fresh process, so "first" is a cold start
        subprocess.run([sys.executable, __file__, catalog, str(index)], check=True)


if __name__ == "__main__":
    main()
