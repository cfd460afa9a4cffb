"""The peer of the backfill comparison: ccxt (async) fetching the same history from the simulator.

Run by `cargo bench -p ccxt-cli --bench compare`, which starts the simulator, runs ccxt-cli and this
script on the same workload and measures both (CPU seconds, wall time, peak RSS). It can be run
alone against a running simulator:

    python crates/cli/benches/ccxt_peer.py --url http://127.0.0.1:9100 --kind oi \
        --symbols BTC/USDT:USDT,ETH/USDT:USDT --from-ms 1764547200000 --to-ms 1767052800000 [--limits]

* `--kind oi`: 5-minute open-interest history (`fetch_open_interest_history`); `--kind funding`:
  settled funding rates (`fetch_funding_rate_history`); both for every symbol on Binance USD-M and
  Bybit linear, all symbols and both exchanges at once (`asyncio.gather`), every page through
  ccxt's unified method, `[from, to]` both inclusive, with each exchange's page size (Binance OI 500
  rows, funding 1000; Bybit OI and funding 200).
* Every REST root of the exchange (`urls['api']`) points at `--url`; only the linear markets are
  loaded (the simulator serves no spot or inverse listing).
* `--limits` turns ccxt's own rate limiter on (`enableRateLimit`); without it requests go out
  as fast as the event loop sends them.
* Rows are counted, not kept (ccxt-cli stores its rows; keeping nothing is in ccxt's favour).

Prints one JSON line: rows per exchange, requests sent, errors, ccxt's version.
"""

import argparse
import asyncio
import json
import re
import sys

import ccxt.async_support as ccxt

OI_PERIOD_MS = 5 * 60 * 1000
BINANCE_OI_PAGE = 500
BINANCE_FUNDING_PAGE = 1000
BYBIT_PAGE = 200


def point_at(exchange, url):
    """Every REST root of `exchange` (a nested dict of URLs) rewritten to the simulator."""

    def rewrite(node):
        if isinstance(node, dict):
            return {k: rewrite(v) for k, v in node.items()}
        if isinstance(node, str):
            return re.sub(r"^https?://[^/]+", url.rstrip("/"), node)
        return node

    exchange.urls["api"] = rewrite(exchange.urls["api"])


def make(name, url, limits):
    options = {"fetchMarkets": {"types": ["linear"]}, "defaultType": "swap"}
    exchange = getattr(ccxt, name)({"enableRateLimit": limits, "options": options, "timeout": 60000})
    point_at(exchange, url)
    return exchange


class Counter:
    def __init__(self):
        self.rows = 0
        self.requests = 0


async def binance_oi(ex, symbol, start, end, n):
    cur = start
    while cur <= end:
        until = min(cur + (BINANCE_OI_PAGE - 1) * OI_PERIOD_MS, end)
        page = await ex.fetch_open_interest_history(symbol, "5m", cur, BINANCE_OI_PAGE, {"until": until})
        n.requests += 1
        n.rows += len(page)
        cur = until + 1


async def binance_funding(ex, symbol, start, end, n):
    cur = start
    while cur <= end:
        page = await ex.fetch_funding_rate_history(symbol, cur, BINANCE_FUNDING_PAGE, {"until": end})
        n.requests += 1
        n.rows += len(page)
        if len(page) < BINANCE_FUNDING_PAGE:
            break
        cur = max(r["timestamp"] for r in page) + 1


async def bybit_backwards(fetch, start, end, n):
    """Bybit answers the newest `limit` rows up to `endTime`: walk back from `end`."""
    cur = end
    while cur >= start:
        page = await fetch(start, cur)
        n.requests += 1
        n.rows += len(page)
        if len(page) < BYBIT_PAGE:
            break
        cur = min(r["timestamp"] for r in page) - 1


async def bybit_oi(ex, symbol, start, end, n):
    async def fetch(since, until):
        return await ex.fetch_open_interest_history(symbol, "5m", since, BYBIT_PAGE, {"until": until})

    await bybit_backwards(fetch, start, end, n)


async def bybit_funding(ex, symbol, start, end, n):
    async def fetch(since, until):
        return await ex.fetch_funding_rate_history(symbol, since, BYBIT_PAGE, {"until": until})

    await bybit_backwards(fetch, start, end, n)


JOBS = {
    ("binance", "oi"): binance_oi,
    ("binance", "funding"): binance_funding,
    ("bybit", "oi"): bybit_oi,
    ("bybit", "funding"): bybit_funding,
}


async def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", required=True, help="the simulator, e.g. http://127.0.0.1:9100")
    p.add_argument("--kind", choices=["oi", "funding"], required=True)
    p.add_argument("--symbols", required=True, help="unified symbols, comma-separated")
    p.add_argument("--from-ms", type=int, required=True)
    p.add_argument("--to-ms", type=int, required=True)
    p.add_argument("--exchanges", default="binance,bybit")
    p.add_argument("--limits", action="store_true", help="ccxt's own rate limiter on")
    args = p.parse_args()
    symbols = [s for s in args.symbols.split(",") if s]
    exchanges = {name: make(name, args.url, args.limits) for name in args.exchanges.split(",")}
    counters = {name: Counter() for name in exchanges}
    errors = []

    async def one(name, symbol):
        try:
            await JOBS[(name, args.kind)](exchanges[name], symbol, args.from_ms, args.to_ms, counters[name])
        except Exception as e:  # report and go on, as ccxt-cli does per symbol
            errors.append(f"{name} {symbol}: {type(e).__name__}: {e}"[:300])

    try:
        await asyncio.gather(*(ex.load_markets() for ex in exchanges.values()))
        await asyncio.gather(*(one(name, s) for name in exchanges for s in symbols))
    finally:
        await asyncio.gather(*(ex.close() for ex in exchanges.values()))
    print(
        json.dumps(
            {
                "ccxt": ccxt.__version__,
                "rows": sum(c.rows for c in counters.values()),
                "requests": sum(c.requests for c in counters.values()),
                "by_exchange": {name: {"rows": c.rows, "requests": c.requests} for name, c in counters.items()},
                "errors": errors,
            }
        )
    )
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
