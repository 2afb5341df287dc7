"""OHLC bars of any price series the collectors return: an index's price, a pair's price on one
exchange, or a depth frame's mid price."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ArgumentError
from ..frames import schema
from ..protocol import tables
from .book import WIDE_COLUMN, any_book, top_frame


@dataclass(frozen=True)
class Series:
    """A price column of a table: the columns telling its series apart, and its exchange time."""

    keys: tuple[str, ...]
    exchange: str
    per_push: bool = False  # a push-level value repeated on each exploded row: one per push


_TOP = Series(("symbol",), "time")
_PAIR = Series(("cid", "market", "pair"), "timestamp")
_V3_PAIR = Series(("underlying_cid", "exchange", "pair_symbol"), "pair_update_time")
_INDEX = Series(("index_id",), "update_time")

PRICES: dict[str, dict[str, Series]] = {
    "depth": {name: _TOP for name in ("mid", "microprice", "bid_price", "ask_price", "spread", "spread_bps", "imbalance")},
    "pair_index": {"latest": Series(("cid",), "update_time", per_push=True), "price": _PAIR},
    "coin_index": {"latest": Series(("cid",), "update_time")},
    "index": {"last_price": _INDEX, "market_cap": _INDEX, "turnover24h": _INDEX},
    "pair_index_v3": {
        "price": Series(("underlying_cid",), "coin_update_time", per_push=True),
        "pair_price": _V3_PAIR,
        "transferred_price": _V3_PAIR,
    },
    "coin_index_v3": {"price": Series(("underlying_cid",), "update_time")},
}
"""Per table, the price columns bars are made of; the first is the default. Depth frames are
first turned into :func:`~nexusdata.top_of_book`'s columns."""

_BAR_COLUMNS = ("open", "high", "low", "close", "count")


def table_of(frame: Any) -> str:
    """Which table's DataFrame ``frame`` is, by its columns (a depth frame also as :func:`wide`'s
    or :func:`top_of_book`'s result)."""
    accepted = ", ".join(PRICES)
    if not isinstance(frame, pd.DataFrame):
        raise ArgumentError(f"frame must be a DataFrame of {accepted} (a collector's columns), got {type(frame).__name__}")
    columns = set(frame.columns)
    if {"received_at", "symbol", "mid"} <= columns or {"received_at", "symbol", "side", "level"} <= columns:
        return "depth"
    if {"received_at", "symbol"} <= columns and any(WIDE_COLUMN.fullmatch(str(c)) for c in columns):
        return "depth"
    for name in PRICES:  # pair_index before coin_index, whose columns it holds
        if name != "depth" and {column for column, _ in schema(tables.TABLES[name])} <= columns:
            return name
    raise ArgumentError(
        f"frame must be a DataFrame of {accepted} (a collector's columns, for depth also nd.wide's or"
        f" nd.top_of_book's result); its columns are {', '.join(map(str, frame.columns)) or 'none'}"
    )


def bars(frame: pd.DataFrame, freq: Any = "1min", *, price: str | None = None, on: str = "received_at") -> pd.DataFrame:
    """OHLC bars of a price series: one row per series and bar, ``open, high, low, close`` and
    ``count`` (the prices in the bar).

    ``frame`` is a collector's DataFrame (or a live handle's ``frame()``, or ``read_recording``'s
    result) of an index topic, or of depth (also :func:`wide`'s or :func:`top_of_book`'s
    result). ``price`` picks the column (default: ``latest`` for ``coin_index`` and
    ``pair_index``, ``last_price`` for ``index``, ``price`` for the v3 topics, the ``mid`` price
    for depth). ``on`` is ``"received_at"`` or the exchange time: ``"exchange"`` or the column
    itself (``update_time``, ``coin_update_time``, ``timestamp``, ``pair_update_time``, or
    depth's ``time``, the later quote time of the best levels).

    The frame's series are told apart by their key columns (``symbol``; ``cid``; ``index_id``;
    ``underlying_cid``; for an exchange's price also the exchange and pair), which lead the
    result, followed by the bar's start (named as ``on``'s column). Bars are left-closed, as
    :meth:`pandas.DataFrame.resample` makes them, with the same edges for every series (from
    midnight UTC of the frame's first day); a bar without a price between a series' first and
    last has ``count`` 0 and NaN prices. Rows without a price or time are left out.
    """
    name = table_of(frame)
    offset = _offset(freq)
    choices = PRICES[name]
    price = next(iter(choices)) if price is None else price
    if price not in choices:
        raise ArgumentError(f"price must be one of {', '.join(choices)} for a {name} DataFrame, got {price!r}")
    series = choices[price]
    times = ("received_at", "exchange", series.exchange)
    if on not in times:
        raise ArgumentError(f"on must be one of {', '.join(map(repr, times))} for {price} of a {name} DataFrame, got {on!r}")
    on = series.exchange if on == "exchange" else on
    if name == "depth" and "mid" not in frame.columns:
        frame = top_frame(any_book(frame, "frame"), 1)
    missing = [c for c in (*series.keys, on, price) if c not in frame.columns]
    if missing:
        raise ArgumentError(f"frame must have the columns {', '.join(missing)} for these bars; it lacks them")
    if series.per_push:
        frame = frame[~frame.duplicated(["received_at", *series.keys])]
    data = frame[[*series.keys, on, price]].dropna(subset=[on, price])
    parts = []
    # one set of bin edges for every series (calendar frequencies have theirs already)
    edges = {"origin": data[on].min().floor("D")} if len(data) and isinstance(offset, pd.offsets.Tick) else {}
    for key, rows in data.groupby(list(series.keys), observed=True, sort=True):  # one resample per series
        bar = rows.resample(offset, on=on, **edges)[price].agg(["first", "max", "min", "last", "count"])
        bar.columns = list(_BAR_COLUMNS)
        bar = bar.reset_index()
        for i, (column, value) in enumerate(zip(series.keys, key)):
            bar.insert(i, column, value)
        parts.append(bar)
    columns = [*series.keys, on, *_BAR_COLUMNS]
    if not parts:
        empty = {c: frame[c].iloc[:0] for c in (*series.keys, on)}
        return pd.DataFrame({**empty, **{c: np.empty(0) for c in _BAR_COLUMNS[:4]}, "count": np.empty(0, dtype=np.int64)})
    result = pd.concat(parts, ignore_index=True)[columns]
    for column in series.keys:  # the keys' own dtypes (a category stays one)
        result[column] = result[column].astype(frame[column].dtype)
    return result


def _offset(freq: Any) -> pd.DateOffset:
    try:
        offset = pd.tseries.frequencies.to_offset(freq)
    except (TypeError, ValueError):
        offset = None
    if offset is None or offset.n <= 0:
        raise ArgumentError(f"freq must be a positive pandas frequency such as '1min', '5s' or '1h', got {freq!r}")
    return offset
