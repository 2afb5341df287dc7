"""Order books as arrays: one wide row per push and back, and the top of the book per push.

A depth DataFrame (one row per price level per push) becomes arrays of shape (pushes, 2 sides,
levels): each row's slot is computed from its push, side and level, and every field is scattered
into its array in one numpy assignment. No Python loop runs per row or per push.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..checks import categorical, datetimes, floats, positive_int, whole_numbers
from ..errors import ArgumentError
from ..frames import Chunk, build_dataframe, frame_with
from ..frames.book import SIDES, mid_price, push_ids, side_codes
from ..frames.columns import STR_DTYPE
from ..protocol import tables

FIELDS = ("price", "volume", "cp", "time")
"""The fields of a level, in the order of a wide row's columns."""
KEYS = ("received_at", "connection", "symbol")
"""The columns of a wide row that belong to the whole push."""
ROW_COLUMNS = ("received_at", "symbol", "side", "level", "price", "volume")
"""What a tidy depth DataFrame needs at least (``connection``, ``cp`` and ``time`` are carried when present)."""
WIDE_COLUMN = re.compile(r"(bid|ask)_(price|volume|cp|time)_(\d+)")
MAX_LEVEL = 127  # the level column is int8
NAT = np.iinfo(np.int64).min

DEPTH = "a depth DataFrame (stream_depth's columns)"
BOOK = "a depth DataFrame (stream_depth's columns) or nd.wide's result"


@dataclass
class Book:
    """Depth pushes as arrays of shape (pushes, 2, levels): side 0 the bids, 1 the asks; level 0
    the best. ``present`` marks the slots a tidy row fills."""

    keys: dict[str, Any]  # one value per push: received_at (DatetimeIndex), connection, symbol (Categorical)
    present: np.ndarray
    price: np.ndarray
    volume: np.ndarray
    cp: np.ndarray | None = None  # category codes of cp_dtype, -1 where missing
    cp_dtype: pd.CategoricalDtype | None = None
    time: np.ndarray | None = None  # int64 in time_dtype's unit, NAT where missing
    time_dtype: Any = None

    @property
    def levels(self) -> int:
        return int(self.present.shape[2])

    def fields(self) -> tuple[str, ...]:
        """The fields this book holds, in :data:`FIELDS` order."""
        return tuple(f for f in FIELDS if f in ("price", "volume") or getattr(self, f) is not None)


def times_of(values: np.ndarray, dtype: Any) -> pd.DatetimeIndex:
    """int64 times (NAT missing) as a DatetimeIndex of ``dtype``'s unit and time zone."""
    unit = dtype.unit if isinstance(dtype, pd.DatetimeTZDtype) else np.datetime_data(dtype)[0]
    index = pd.DatetimeIndex(values.view(f"datetime64[{unit}]"))
    tz = getattr(dtype, "tz", None)
    return index.tz_localize(tz) if tz is not None else index


def book_of_rows(depth: pd.DataFrame, argument: str, levels: int | None = None) -> Book:
    """The tidy depth rows' book, up to ``levels`` levels a side (all by default)."""
    received = datetimes(depth["received_at"], f"{argument}'s received_at")
    symbol = categorical(depth["symbol"])
    push, first = push_ids(received.asi8, symbol.codes)
    side = sides(depth["side"], argument)
    level = whole_numbers(depth["level"], f"{argument}'s level", 0, MAX_LEVEL)
    deepest = int(level.max()) + 1 if len(level) else 0
    width = deepest if levels is None else min(deepest, levels)
    rows = slice(None) if width == deepest else np.flatnonzero(level < width)
    slot = (push[rows] * 2 + side[rows]) * width + level[rows]
    shape = (len(first), 2, width)
    present = np.zeros(shape, dtype=bool).ravel()
    present[slot] = True
    repeated = len(slot) - int(np.count_nonzero(present))
    if repeated:
        raise ArgumentError(
            f"{argument} must hold one row per received_at, symbol, side and level; {repeated} rows repeat one"
            " (the same rows concatenated twice?)"
        )

    def scatter(values: np.ndarray, fill: Any) -> np.ndarray:
        out = np.full(len(present), fill, dtype=values.dtype)
        out[slot] = values[rows]
        return out.reshape(shape)

    keys: dict[str, Any] = {"received_at": received.take(first), "symbol": symbol.take(first)}
    if "connection" in depth.columns:
        keys["connection"] = depth["connection"].to_numpy()[first]
    book = Book(
        keys,
        present.reshape(shape),
        scatter(floats(depth["price"], f"{argument}'s price"), np.nan),
        scatter(floats(depth["volume"], f"{argument}'s volume"), np.nan),
    )
    if "cp" in depth.columns:
        cp = categorical(depth["cp"])
        book.cp, book.cp_dtype = scatter(cp.codes, -1), cp.dtype
    if "time" in depth.columns:
        time = datetimes(depth["time"], f"{argument}'s time")
        book.time, book.time_dtype = scatter(time.asi8, NAT), depth["time"].dtype
    return book


def sides(column: pd.Series, argument: str) -> np.ndarray:
    """Each row's side: 0 bid, 1 ask."""
    codes = side_codes(column)
    wrong = codes < 0
    if wrong.any():
        raise ArgumentError(f"{argument}'s side must be 'bid' or 'ask', got {column[wrong].iloc[0]!r}")
    return codes.astype(np.int64)


def book_of_wide(wide: pd.DataFrame, argument: str, levels: int | None = None) -> Book:
    """The book of a wide DataFrame, up to ``levels`` levels a side (all by default). A slot is
    present where any of its fields is."""
    slots: dict[tuple[int, str, int], Any] = {}
    for name in wide.columns:
        match = WIDE_COLUMN.fullmatch(str(name))
        if match and (levels is None or int(match[3]) < levels):
            slots[SIDES.index(match[1]), match[2], int(match[3])] = name
    width = max((level for _, _, level in slots), default=-1) + 1
    if width > MAX_LEVEL + 1:
        raise ArgumentError(f"{argument}'s levels must be from 0 to {MAX_LEVEL}, got {width - 1}")
    shape = (len(wide), 2, width)
    keys: dict[str, Any] = {
        "received_at": datetimes(wide["received_at"], f"{argument}'s received_at"),
        "symbol": categorical(wide["symbol"]),
    }
    if "connection" in wide.columns:
        keys["connection"] = whole_numbers(wide["connection"], f"{argument}'s connection", 0, 2**31 - 1).astype(np.int32)
    book = Book(keys, np.zeros(shape, dtype=bool), np.full(shape, np.nan), np.full(shape, np.nan))
    found = {field for _, field, _ in slots}
    if "cp" in found:
        cps = {key: categorical(wide[name]) for key, name in slots.items() if key[1] == "cp"}
        dtype = next(iter(cps.values())).dtype
        if any(c.dtype != dtype for c in cps.values()):  # columns of differing categories: their union
            dtype = pd.CategoricalDtype(pd.api.types.union_categoricals(list(cps.values()), ignore_order=True).categories)
        book.cp, book.cp_dtype = np.full(shape, -1, dtype=np.int32), dtype
    if "time" in found:
        first = next(name for key, name in slots.items() if key[1] == "time")
        book.time, book.time_dtype = np.full(shape, NAT, dtype=np.int64), wide[first].dtype
    for (side, field, level), name in slots.items():
        label = f"{argument}'s {name}"
        if field in ("price", "volume"):
            values: np.ndarray = floats(wide[name], label)
            getattr(book, field)[:, side, level] = values
            book.present[:, side, level] |= ~np.isnan(values)
        elif field == "cp":
            values = categorical(wide[name]).set_categories(book.cp_dtype.categories).codes  # type: ignore[union-attr]
            book.cp[:, side, level] = values  # type: ignore[index]
            book.present[:, side, level] |= values >= 0
        else:
            unit = times_of(np.empty(0, dtype=np.int64), book.time_dtype).unit
            values = datetimes(wide[name], label).as_unit(unit).asi8
            book.time[:, side, level] = values  # type: ignore[index]
            book.present[:, side, level] |= values != NAT
    return book


def any_book(df: Any, argument: str, levels: int | None = None) -> Book:
    """The book of a tidy depth DataFrame or of a wide one (told apart by their columns)."""
    if isinstance(df, pd.DataFrame) and "side" not in df.columns and "level" not in df.columns:
        if any(WIDE_COLUMN.fullmatch(str(c)) for c in df.columns) or not {"price", "volume"} & set(df.columns):
            return book_of_wide(frame_with(df, argument, BOOK, ("received_at", "symbol")), argument, levels)
    return book_of_rows(frame_with(df, argument, BOOK, ROW_COLUMNS), argument, levels)


def wide_frame(book: Book, fields: Iterable[str]) -> pd.DataFrame:
    """One row per push: the keys, then per side (bids, asks), per level, the ``fields``."""
    columns: dict[str, Any] = {key: book.keys[key] for key in KEYS if key in book.keys}
    for s, side in enumerate(SIDES):
        for level in range(book.levels):
            for field in fields:
                values = getattr(book, field)[:, s, level]
                if field == "cp":
                    values = pd.Categorical.from_codes(values, dtype=book.cp_dtype)
                elif field == "time":
                    values = times_of(values, book.time_dtype)
                columns[f"{side}_{field}_{level}"] = values
    return pd.DataFrame(columns)


def tidy_frame(book: Book) -> pd.DataFrame:
    """The book's present slots as tidy depth rows, in the collectors' order (push by push, bids
    then asks, best level first) and with their exact columns and dtypes."""
    flat = np.flatnonzero(book.present.ravel())
    width = max(book.levels, 1)
    push, side, level = flat // (2 * width), flat // width % 2, flat % width
    received: pd.DatetimeIndex = book.keys["received_at"]
    order = [int(side[0]), 1 - int(side[0])] if len(side) and (side != side[0]).any() else [int(s) for s in side[:1]]
    if book.cp is not None:
        cp = pd.Categorical.from_codes(book.cp.ravel()[flat], dtype=book.cp_dtype)
    else:
        cp = pd.Categorical.from_codes(np.full(len(flat), -1), categories=pd.Index([], dtype=STR_DTYPE))
    time = book.time.ravel()[flat] if book.time is not None else np.full(len(flat), NAT, dtype=np.int64)
    time_unit = times_of(time[:0], book.time_dtype).unit if book.time is not None else "ms"
    columns: dict[str, Any] = {
        "received_at": received.asi8[push].view(f"datetime64[{received.unit}]"),
        "connection": np.asarray(book.keys["connection"], dtype=np.int32)[push],
        "symbol": pd.Categorical.from_codes(book.keys["symbol"].codes[push], dtype=book.keys["symbol"].dtype),
        "side": pd.Categorical.from_codes(
            side if order[:1] != [1] else 1 - side, categories=pd.Index([SIDES[s] for s in order], dtype=STR_DTYPE)
        ),
        "level": level.astype(np.int8),
        "price": book.price.ravel()[flat],
        "volume": book.volume.ravel()[flat],
        "cp": cp,
        "time": time.view(f"datetime64[{time_unit}]"),
    }
    return build_dataframe(tables.DEPTH, [Chunk(columns, len(flat))])


def top_frame(book: Book, levels: int) -> pd.DataFrame:
    """Per push: the best levels, mid, spread, microprice and the imbalance over ``levels`` levels."""
    pushes = len(book.present)

    def best(values: np.ndarray | None, side: int, fill: Any) -> np.ndarray:
        if values is None or not book.levels:
            return np.full(pushes, fill)
        return values[:, side, 0]

    bid, ask = best(book.price, 0, np.nan), best(book.price, 1, np.nan)
    bid_volume, ask_volume = best(book.volume, 0, np.nan), best(book.volume, 1, np.nan)
    # a level not quoted adds nothing; a quoted level of unknown (NaN) volume makes the sum unknown
    quoted = np.where(book.present[:, :, :levels], book.volume[:, :, :levels], 0.0).sum(axis=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        mid = mid_price(bid, ask)
        spread = ask - bid
        derived = {
            "mid": mid,
            "spread": spread,
            "spread_bps": spread / mid * 10_000,
            "microprice": (bid * ask_volume + ask * bid_volume) / (bid_volume + ask_volume),
            "imbalance": (quoted[:, 0] - quoted[:, 1]) / (quoted[:, 0] + quoted[:, 1]),
        }
    columns: dict[str, Any] = {key: book.keys[key] for key in KEYS if key in book.keys}
    if book.time is not None:
        columns["time"] = times_of(np.maximum(best(book.time, 0, NAT), best(book.time, 1, NAT)), book.time_dtype)
    for s, side in enumerate(SIDES):
        columns[f"{side}_price"], columns[f"{side}_volume"] = (bid, bid_volume) if s == 0 else (ask, ask_volume)
        if book.cp is not None:
            columns[f"{side}_cp"] = pd.Categorical.from_codes(best(book.cp, s, -1), dtype=book.cp_dtype)
    return pd.DataFrame({**columns, **derived})


def wide(depth: pd.DataFrame, *, levels: int | None = None, fields: Iterable[str] | None = None) -> pd.DataFrame:
    """One row per push of a depth DataFrame (a collector's, a live handle's ``frame()``,
    ``read_recording``'s): ``received_at, connection, symbol``, then per side (bids, then asks),
    per level (best first), per field: ``bid_price_0, bid_volume_0, bid_cp_0, bid_time_0,
    bid_price_1, ..., ask_time_{N-1}``.

    N is the deepest level present (``levels`` caps it); a push quoting fewer levels has missing
    values (NaN, NaT) beyond them. ``fields`` picks and orders the fields of each level (default
    all of ``price, volume, cp, time`` the frame has). :func:`tidy_depth` turns the result back
    into the depth rows.
    """
    frame_with(depth, "depth", DEPTH, ROW_COLUMNS)
    if levels is not None:
        levels = positive_int(levels, "levels")
    book = book_of_rows(depth, "depth", levels)
    if fields is None:
        return wide_frame(book, book.fields())
    chosen = [fields] if isinstance(fields, str) else list(fields)
    wrong = [f for f in chosen if f not in book.fields()]
    if wrong or not chosen or len(set(chosen)) != len(chosen):
        raise ArgumentError(
            f"fields must be distinct names among {', '.join(book.fields())} (the depth's columns), got {fields!r}"
        )
    return wide_frame(book, chosen)


def tidy_depth(wide: pd.DataFrame) -> pd.DataFrame:
    """The depth rows of a wide DataFrame (:func:`wide`'s result): the collectors' columns,
    dtypes and row order, one row per level present (a level any of whose fields is present).
    ``tidy_depth(wide(depth))`` equals ``depth`` for a collector's DataFrame; fields the wide
    frame lacks come back missing (``cp`` NaN, ``time`` NaT)."""
    frame_with(wide, "wide", "a wide depth DataFrame (nd.wide's result)", KEYS)
    return tidy_frame(book_of_wide(wide, "wide"))


def top_of_book(depth: pd.DataFrame, levels: int = 1) -> pd.DataFrame:
    """Per push of a depth DataFrame (or of :func:`wide`'s result): ``received_at, connection,
    symbol, time``, the best ``bid_price, bid_volume, bid_cp, ask_price, ask_volume, ask_cp``,
    then ``mid, spread, spread_bps, microprice, imbalance``.

    ``time`` is the later quote time of the two best levels; ``microprice`` weighs each best
    price by the opposite side's volume; ``imbalance`` is (bid volume - ask volume) / (bid
    volume + ask volume) over levels 0 .. ``levels`` - 1, from -1 (only asks) to 1 (only bids).
    A one-sided push has NaN mid, spread and microprice. Columns the depth frame lacks
    (``connection``, ``cp``, ``time``) are left out.
    """
    levels = positive_int(levels, "levels")
    return top_frame(any_book(depth, "depth", levels), levels)
