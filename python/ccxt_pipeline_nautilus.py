"""
NautilusTrader bindings for the ccxt-pipeline Parquet catalog (tested with nautilus_trader 1.221.0 and 1.231.0).

Importing this module is all that is needed; it

* defines the custom data classes ``OpenInterest`` (``data/custom_open_interest/``) and
  ``Liquidation`` (``data/custom_liquidation/``);
* registers an Arrow codec for the built-in ``FundingRateUpdate`` (``data/funding_rate_update/``)
  when the installed NautilusTrader has none (1.221, 1.222). Newer versions read that directory
  natively and are left alone;
* registers an Arrow decoder for the built-in ``IndexPriceUpdate`` (``data/index_price_update/``):
  NautilusTrader writes that layout but its catalog raises ``NotImplementedError`` reading it (1.221
  and 1.231 alike). The layout stays NautilusTrader's own; only reading is added, writing is left
  to NautilusTrader. Bars (``data/bar/``) and mark prices (``data/mark_price_update/``) are read
  natively.

Usage::

    import ccxt_pipeline_nautilus as ccxt
    from nautilus_trader.model.data import FundingRateUpdate, IndexPriceUpdate, MarkPriceUpdate
    from nautilus_trader.persistence.catalog import ParquetDataCatalog

    catalog = ParquetDataCatalog("catalog")
    iid = "BTCUSDT-PERP.BINANCE"

    funding = catalog.query(FundingRateUpdate, identifiers=[iid])   # list[FundingRateUpdate]
    settled = [f for f in funding if ccxt.funding_kind(f) == "settled"]

    oi = catalog.query(ccxt.OpenInterest, identifiers=[iid],
                       start="2025-01-02", end="2025-01-03")        # list[CustomData]
    print(oi[0].data.open_interest)                                 # .data is the OpenInterest
    liqs = catalog.custom_data(ccxt.Liquidation, instrument_ids=[iid])

    bars = catalog.bars(bar_types=["BTCUSDT-PERP.BINANCE-1-HOUR-LAST-EXTERNAL"])  # list[Bar]
    marks = catalog.query(MarkPriceUpdate, identifiers=[iid])       # native
    index = catalog.query(IndexPriceUpdate, identifiers=[iid])      # through this module

Caveats:

* Query funding rates and index prices **one instrument at a time** (``identifiers=[iid]``).
  ``FundingRateUpdate`` and ``IndexPriceUpdate`` files keep the instrument ID only in the Arrow
  schema metadata, and pyarrow gives a decoder the metadata of the *first* file of a multi-file
  dataset, so a query spanning several instrument directories labels every row with the first
  instrument. (``OpenInterest``/``Liquidation`` store
  ``instrument_id`` as a column and do not have this problem.)
* A query over several instruments returns rows grouped by instrument, not merged by ``ts_init``;
  sort them yourself (``BacktestNode`` does).
* ``FundingRateUpdate`` in 1.221 has no ``interval`` attribute, so the stored funding interval is
  dropped there (it is kept on versions whose ``FundingRateUpdate`` accepts ``interval``). Read the
  Parquet files directly (pandas, DuckDB) if you need it.
* ``next_funding_ns`` tells the two kinds of funding row apart: ``None`` = a settled rate, charged
  at ``ts_event``; set = a live estimate of the rate to be charged at ``next_funding_ns``.
"""

import json
from decimal import Decimal
from typing import Optional

import pyarrow as pa

from nautilus_trader.core.data import Data
from nautilus_trader.model.custom import customdataclass
from nautilus_trader.model.data import FundingRateUpdate
from nautilus_trader.model.data import IndexPriceUpdate
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.objects import Price
from nautilus_trader.serialization.arrow import serializer as _serializer
from nautilus_trader.serialization.arrow.serializer import list_schemas
from nautilus_trader.serialization.arrow.serializer import register_arrow


__all__ = ["Liquidation", "OpenInterest", "StreamGap", "funding_kind", "register", "register_index_price"]

_TS = [pa.field("ts_event", pa.uint64(), False), pa.field("ts_init", pa.uint64(), False)]


@customdataclass
class OpenInterest(Data):
    """
    Open interest of one instrument at one time (``data/custom_open_interest/<instrument_id>/``).

    instrument_id : InstrumentId
        The instrument (required).
    open_interest : float
        Open interest in base units (contracts x contract size), as the venue reports it.
    open_interest_value : float or None
        The same as USD notional; ``None`` when the venue gave no value and no mark price was known.

    ``ts_event`` is the venue time of the figure, ``ts_init`` when it was received (equal to
    ``ts_event`` for history); both UNIX nanoseconds.
    """

    instrument_id: InstrumentId
    open_interest: float = 0.0
    open_interest_value: Optional[float] = None

    # The exact layout ccxt-pipeline writes, so `catalog.write_data` produces the same files.
    _schema = pa.schema([
        pa.field("instrument_id", pa.string(), False),
        pa.field("open_interest", pa.float64(), False),
        pa.field("open_interest_value", pa.float64(), True),
        *_TS,
    ])


@customdataclass
class Liquidation(Data):
    """
    A forced liquidation (``data/custom_liquidation/<instrument_id>/``).

    instrument_id : InstrumentId
        The instrument (required).
    side : str
        The liquidated position: ``"LONG"`` (the venue sold it) or ``"SHORT"`` (it bought it back).
    order_side : str
        The venue's raw side of the liquidation order (Binance ``SELL``, Bybit ``Buy``, Hyperliquid ``A``).
    quantity : float
        Quantity in base units.
    price : float
        Price (Binance average fill price, Bybit bankruptcy price, Hyperliquid fill price).
    value : float
        USD notional, ``quantity * price``.
    source : str
        ``"ws"`` (pushed by the venue's WebSocket) or ``"poll"`` (found by polling REST).
    method : str or None
        Hyperliquid's liquidation method (``"market"`` or ``"backstop"``); ``None`` for other venues.
    trade_id : str or None
        The venue's trade id when it gives one (Hyperliquid ``tid``); otherwise ``None``.

    ``ts_event`` is the venue time of the liquidation, ``ts_init`` when it was received; both UNIX ns.
    """

    instrument_id: InstrumentId
    side: str = "LONG"
    order_side: str = ""
    quantity: float = 0.0
    price: float = 0.0
    value: float = 0.0
    source: str = "ws"
    method: Optional[str] = None
    trade_id: Optional[str] = None

    _schema = pa.schema([
        pa.field("instrument_id", pa.string(), False),
        pa.field("side", pa.string(), False),
        pa.field("order_side", pa.string(), False),
        pa.field("quantity", pa.float64(), False),
        pa.field("price", pa.float64(), False),
        pa.field("value", pa.float64(), False),
        pa.field("source", pa.string(), False),
        pa.field("method", pa.string(), True),
        pa.field("trade_id", pa.string(), True),
        *_TS,
    ])


@customdataclass
class StreamGap(Data):
    """
    A stretch of time a liquidation stream did not cover (``data/custom_stream_gap/<VENUE>/``,
    one directory per venue: ``BINANCE``, ``BYBIT``, ``HYPERLIQUID``).

    venue : str
        ``"binance"``, ``"bybit"`` or ``"hyperliquid"``.
    stream : str
        Which stream (``!forceOrder@arr``, ``allLiquidation.BTCUSDT,...``, ``userFillsByTime 0x2e3d...``).
    gap_start_ns : int
        Last moment covered before the gap (the last frame received), UNIX ns.
    gap_end_ns : int
        First moment covered again (resubscribed, or the next successful poll), UNIX ns.
    reason : str
        Why (server closed, no frame for 2 heartbeats, subscription rejected, poll failed, ...).

    ``ts_event`` is the gap start, ``ts_init`` when the gap was recorded. Liquidations inside a gap are
    lost for good: no venue replays them. Query with ``identifiers=["BINANCE"]`` etc.
    """

    venue: str = ""
    stream: str = ""
    gap_start_ns: int = 0
    gap_end_ns: int = 0
    reason: str = ""

    _schema = pa.schema([
        pa.field("venue", pa.string(), False),
        pa.field("stream", pa.string(), False),
        pa.field("gap_start_ns", pa.uint64(), False),
        pa.field("gap_end_ns", pa.uint64(), False),
        pa.field("reason", pa.string(), False),
        *_TS,
    ])


def funding_kind(update: FundingRateUpdate) -> str:
    """
    ``"settled"`` (a rate charged at ``ts_event``; ``next_funding_ns is None``) or ``"estimate"``
    (a live estimate of the rate to be charged at ``next_funding_ns``).
    """
    return "settled" if update.next_funding_ns is None else "estimate"


# FundingRateUpdate codec, in the layout NautilusTrader >= 1.226 uses: `rate` is the decimal as a
# JSON string in binary (b'"0.0001"'), `interval` minutes, instrument ID in the schema metadata.
_FUNDING_SCHEMA = pa.schema([
    pa.field("rate", pa.binary(), False),
    pa.field("interval", pa.uint16(), True),
    pa.field("next_funding_ns", pa.uint64(), True),
    *_TS,
])


def _accepts_interval() -> bool:
    try:
        FundingRateUpdate(InstrumentId.from_str("X.Y"), Decimal(0), 0, 0, interval=60)
    except TypeError:
        return False
    return True


_WITH_INTERVAL = _accepts_interval()


def _decode_rate(raw) -> Decimal:
    text = raw.decode() if isinstance(raw, bytes) else raw
    return Decimal(json.loads(text) if text.startswith('"') else text)  # exact, never via float


def _decode_funding(table: pa.Table) -> list:
    meta = table.schema.metadata or {}
    if b"instrument_id" not in meta:
        raise ValueError("funding_rate_update file without 'instrument_id' schema metadata")
    instrument_id = InstrumentId.from_str(meta[b"instrument_id"].decode())
    out = []
    for row in table.to_pylist():
        extra = {"interval": row.get("interval")} if _WITH_INTERVAL else {}
        out.append(FundingRateUpdate(
            instrument_id=instrument_id,
            rate=_decode_rate(row["rate"]),
            ts_event=row["ts_event"],
            ts_init=row["ts_init"],
            next_funding_ns=row.get("next_funding_ns"),
            **extra,
        ))
    return out


def _encode_funding(update: FundingRateUpdate) -> pa.RecordBatch:
    rate = format(Decimal(str(update.rate)), "f")  # plain notation, never "1E-8"
    row = {
        "rate": json.dumps(rate).encode(),
        "interval": getattr(update, "interval", None),
        "next_funding_ns": update.next_funding_ns,
        "ts_event": update.ts_event,
        "ts_init": update.ts_init,
    }
    schema = _FUNDING_SCHEMA.with_metadata({"instrument_id": update.instrument_id.value})
    return pa.RecordBatch.from_pylist([row], schema=schema)


def register() -> bool:
    """
    Register the FundingRateUpdate Arrow codec unless NautilusTrader already has one. Idempotent;
    called at import. Returns True if this module's codec is the one in use.
    (``OpenInterest`` and ``Liquidation`` register themselves when the module is imported.)
    """
    current = list_schemas().get(FundingRateUpdate)
    if current is None:
        register_arrow(FundingRateUpdate, _FUNDING_SCHEMA, _encode_funding, _decode_funding)
        return True
    return current is _FUNDING_SCHEMA


register()


# IndexPriceUpdate: NautilusTrader's own layout (`value` FixedSizeBinary(16), the i128 raw
# value x 10^16 little-endian; `ts_event`, `ts_init`; metadata `instrument_id`,
# `price_precision`). Its catalog has the schema but maps the type to no decoder.
_FIXED_PRECISION = 16


def _raw_decimals(raw: int) -> int:
    """The decimals a raw value x 10^16 needs (16 minus its trailing zeros, at least 0)."""
    if raw == 0:
        return 0
    zeros = 0
    while zeros < _FIXED_PRECISION and raw % 10 ** (zeros + 1) == 0:
        zeros += 1
    return _FIXED_PRECISION - zeros


def _decode_index(table: pa.Table) -> list:
    meta = table.schema.metadata or {}
    for key in (b"instrument_id", b"price_precision"):
        if key not in meta:
            raise ValueError(f"index_price_update file without '{key.decode()}' schema metadata")
    instrument_id = InstrumentId.from_str(meta[b"instrument_id"].decode())
    precision = int(meta[b"price_precision"].decode())
    values = table.column("value").to_pylist()
    ts_event = table.column("ts_event").to_pylist()
    ts_init = table.column("ts_init").to_pylist()
    out = []
    for raw_bytes, event, init in zip(values, ts_event, ts_init):
        raw = int.from_bytes(raw_bytes, "little", signed=True)
        # pyarrow hands over the metadata of the first file only: a later file may carry more
        # decimals, so never fewer than the value needs.
        out.append(IndexPriceUpdate(
            instrument_id=instrument_id,
            value=Price.from_raw(raw, max(precision, _raw_decimals(raw))),
            ts_event=event,
            ts_init=init,
        ))
    return out


def register_index_price() -> bool:
    """
    Register the IndexPriceUpdate Arrow decoder, keeping NautilusTrader's schema (and its writer)
    as they are. Idempotent; called at import. Returns True if this module's decoder is in use.
    """
    decoders = getattr(_serializer, "_ARROW_DECODERS", {})
    if decoders.get(IndexPriceUpdate) not in (None, _decode_index):
        return False  # a NautilusTrader that decodes it itself, or someone else's decoder
    schema = list_schemas().get(IndexPriceUpdate)
    if schema is None:
        schema = pa.schema([pa.field("value", pa.binary(16), False), *_TS])
    register_arrow(IndexPriceUpdate, schema, None, _decode_index)
    return True


register_index_price()
