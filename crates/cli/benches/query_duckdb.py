"""DuckDB doing what `ccxt-cli query oi --all --by-asset --every 1h` does, on the same files.

Run by `cargo bench -p ccxt-cli --bench query` when a Python with duckdb is found (the
benchmark prints its wall time and peak RSS next to ccxt-cli's); by hand:

    python query_duckdb.py CATALOG FROM_NS TO_NS

Per instrument and hour the last open interest (by ts_event), then per asset and hour the sum
in coins and USD and each venue's share of the coins, written as CSV to /dev/null as the CLI's
output is. The asset is the instrument id's symbol without the venue's quote/contract suffix
(the benchmark's generated ids: SYMkUSDT-PERP.BINANCE, SYMkUSDT-LINEAR.BYBIT,
SYMk-USD-PERP.HYPERLIQUID, SYMk-USDT-SWAP.OKX). Prints the number of result rows.
"""

import sys

import duckdb


def main() -> int:
    catalog, start, end = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    files = f"{catalog}/data/custom_open_interest/*/*.parquet"
    con = duckdb.connect()
    venues = [
        r[0]
        for r in con.execute(
            f"SELECT DISTINCT split_part(instrument_id, '.', 2) FROM read_parquet('{files}') ORDER BY 1"
        ).fetchall()
    ]
    shares = ", ".join(
        f"sum(coins) FILTER (WHERE venue = '{v}') / sum(coins) AS {v.lower()}_share" for v in venues
    )
    query = f"""
        WITH oi AS (
            SELECT instrument_id,
                   split_part(instrument_id, '.', 2) AS venue,
                   regexp_replace(split_part(instrument_id, '.', 1),
                       '(USDT-PERP|USDC-PERP|USDT-LINEAR|PERP-LINEAR|-USD-PERP|-USDT-SWAP|-USDC-SWAP)$', '') AS asset,
                   ts_event // 3600000000000 AS hour,
                   open_interest, open_interest_value, ts_event
            FROM read_parquet('{files}')
            WHERE ts_init BETWEEN {start} AND {end}
        ),
        last AS (
            SELECT asset, venue, instrument_id, hour,
                   arg_max(open_interest, ts_event) AS coins,
                   arg_max(open_interest_value, ts_event) AS usd
            FROM oi GROUP BY asset, venue, instrument_id, hour
        )
        SELECT asset, make_timestamp(CAST(hour AS BIGINT) * 3600000000) AS bucket,
               sum(coins) AS open_interest, sum(usd) AS open_interest_value, {shares}
        FROM last GROUP BY asset, hour ORDER BY asset, hour
    """
    copied = con.execute(f"COPY ({query}) TO '/dev/null' (FORMAT csv, HEADER)").fetchone()
    print(copied[0] if copied else 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
