"""The pair weights of ``pair_index_v3`` as a time × pair table."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..checks import categorical, datetimes, floats, whole_numbers
from ..errors import ArgumentError
from ..frames import frame_with
from ..frames.book import push_ids

V3 = "a pair_index_v3 DataFrame (collect_index('pair_index_v3')'s columns)"
_NEEDS = ("received_at", "underlying_cid", "exchange", "pair_symbol", "pair_weight", "pair_status")


def pair_weights(v3: pd.DataFrame, *, id: str | int | None = None, on: str = "received_at") -> pd.DataFrame:
    """The ``pair_index_v3`` pair weights as a table: one row per push, indexed by ``on``
    (``"received_at"``, or the exchange time ``"coin_update_time"``, also called
    ``"exchange"``), one column per exchange pair, named ``exchange:pair_symbol`` in order of
    first appearance.

    The columns have two levels, ``field`` and ``pair``: ``result["weight"]`` is the weights
    (NaN where the push did not list the pair) and ``result["status"]`` the pair statuses
    (int16: 1 enabled, 2 dropped, 3 disabled, 0 where the push did not list the pair). A frame
    holding several coins (``underlying_cid``) needs ``id=`` to pick one.
    """
    frame_with(v3, "v3", V3, _NEEDS)
    times = ("received_at", "exchange", "coin_update_time")
    if on not in times:
        raise ArgumentError(f"on must be one of {', '.join(map(repr, times))}, got {on!r}")
    on = "coin_update_time" if on == "exchange" else on
    frame_with(v3, "v3", V3, (on,))
    ids = pd.unique(v3["underlying_cid"].dropna())
    if id is not None:
        if isinstance(id, bool) or not isinstance(id, (str, int)) or str(id) not in {str(i) for i in ids}:
            raise ArgumentError(
                f"id must be one of the frame's underlying_cid ({', '.join(map(str, ids)) or 'none'}), got {id!r}"
            )
        v3 = v3[v3["underlying_cid"].astype(str) == str(id)]
    elif len(ids) > 1:
        raise ArgumentError(f"id must be given: v3 holds several coins (underlying_cid {', '.join(map(str, ids))})")
    received = datetimes(v3["received_at"], "v3's received_at")
    push, first = push_ids(received.asi8, np.zeros(len(v3), dtype=np.int8))
    exchange, symbol = categorical(v3["exchange"]), categorical(v3["pair_symbol"])
    listed = np.flatnonzero((exchange.codes >= 0) | (symbol.codes >= 0))  # a push without pairs keeps an empty row
    span = len(symbol.categories) + 1  # codes + 1: 0 for a missing exchange or pair symbol
    pair, unique = pd.factorize((exchange.codes[listed].astype(np.int64) + 1) * span + symbol.codes[listed] + 1)
    names = [  # a loop over the pairs, not the rows
        f"{exchange.categories[e - 1] if e else ''}:{symbol.categories[s - 1] if s else ''}"
        for e, s in zip(*np.divmod(unique, span))
    ]
    slot = push[listed] * len(names) + pair
    if len(np.unique(slot)) != len(slot):
        raise ArgumentError("v3 must list each pair once per push; some pushes repeat a pair (the same rows concatenated twice?)")
    shape = (len(first), len(names))
    weight, status = np.full(shape, np.nan), np.zeros(shape, dtype=np.int16)
    weight.ravel()[slot] = floats(v3["pair_weight"], "v3's pair_weight")[listed]
    status.ravel()[slot] = whole_numbers(v3["pair_status"], "v3's pair_status", -32768, 32767)[listed]
    index = datetimes(v3[on], f"v3's {on}").take(first).rename(on)
    pairs = pd.Index(names, dtype=object, name="pair")
    table: Any = pd.concat(
        {"weight": pd.DataFrame(weight, index=index, columns=pairs), "status": pd.DataFrame(status, index=index, columns=pairs)},
        axis=1,
        names=["field"],
    )
    return table
