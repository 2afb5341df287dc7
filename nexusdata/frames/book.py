"""Depth rows read as pushes, in numpy: where each push starts, each push's best bid and ask, the
mid price. The charts (:mod:`nexusdata.plots`, :mod:`nexusdata.heatmap`) and the book analytics
(:mod:`nexusdata.analytics.book`) all read a book through these, so a push and its top of book
mean the same everywhere.

A push is the rows sharing one ``received_at`` (and symbol, where a frame holds several); its
best bid and ask are the prices of its level-0 rows.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import pandas as pd

SIDES = ("bid", "ask")
"""The sides of a book, by their code: 0 the bids, 1 the asks."""


def push_starts(received: np.ndarray, *keys: np.ndarray) -> np.ndarray:
    """The first row of each push of rows whose pushes are adjacent: where ``received`` (or any of
    ``keys``, such as the symbol's codes) differs from the row before."""
    opens = np.empty(len(received), dtype=bool)
    opens[:1] = True
    np.not_equal(received[1:], received[:-1], out=opens[1:])
    for key in keys:
        opens[1:] |= key[1:] != key[:-1]
    return np.flatnonzero(opens)


def push_ids(received: np.ndarray, symbol: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's push (numbered in order of first appearance; a push is a ``received_at`` and
    ``symbol``), and each push's first row. Rows of a push need not be adjacent."""
    if len(received):
        # as collected, read back or held live: each push's rows adjacent, pushes in time order
        starts = push_starts(received, symbol)
        if np.all(received[starts[1:]] > received[starts[:-1]]):  # so no push is split in two
            opens = np.zeros(len(received), dtype=np.intp)
            opens[starts[1:]] = 1
            return np.cumsum(opens), starts
    push, _ = pd.factorize(received)
    if len(symbol) and symbol.min() != symbol.max():
        push, _ = pd.factorize(push.astype(np.int64) * (int(symbol.max()) + 2) + (symbol.astype(np.int64) + 1))
    if not len(push):
        return push, np.empty(0, dtype=np.intp)
    # codes are handed out in order of appearance: a push first appears where its code exceeds every earlier one
    before = np.maximum.accumulate(np.concatenate(([-1], push[:-1])))
    return push, np.flatnonzero(push > before)


def side_codes(column: pd.Series, rows: np.ndarray | slice | None = None) -> np.ndarray:
    """The side of each of ``rows`` of a ``side`` column (all by default) as its code in
    :data:`SIDES` (int8), -1 for anything else (a missing side too)."""
    picked = slice(None) if rows is None else rows
    if isinstance(column.dtype, pd.CategoricalDtype):  # a lookup by code (a str Index's get_indexer is slow)
        array: Any = column.array
        lookup = [SIDES.index(c) if c in SIDES else -1 for c in array.categories.tolist()]
        return cast(np.ndarray, np.array([*lookup, -1], dtype=np.int8)[array.codes[picked]])  # code -1 (missing): the last
    values = column.to_numpy()[picked]
    codes = np.full(len(values), -1, dtype=np.int8)
    for code, side in enumerate(SIDES):
        codes[values == side] = code
    return codes


def best_prices(starts: np.ndarray, rows: np.ndarray, sides: np.ndarray, price: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The best bid and ask of each push (NaN where it had no level 0 on that side), from the
    pushes' first rows ``starts``, the rows at level 0 ``rows`` (ascending) with their
    :func:`side_codes` ``sides``, and every row's ``price``."""
    push = np.searchsorted(starts, rows, side="right") - 1
    bid, ask = np.full(len(starts), np.nan), np.full(len(starts), np.nan)
    for code, best in enumerate((bid, ask)):
        on = sides == code
        best[push[on]] = price[rows[on]]
    return bid, ask


def mid_price(bid: np.ndarray, ask: np.ndarray) -> np.ndarray:
    """The mid price of best bids and asks: NaN where a side is missing."""
    return cast(np.ndarray, (bid + ask) / 2)
