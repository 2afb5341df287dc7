"""Tidy tables: how a push's nested JSON becomes rows and columns.

A :class:`Table` names its columns, their kinds and the nesting to explode. Flattening works on a
batch of pushes at once, one list comprehension per column, so the per-row cost stays small; the
result is plain Python lists (no pandas here: typing the columns is the frames layer's job).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

ColumnType = Literal["float", "id", "category", "text", "time", "int", "position"]
"""How a column is typed by the frames layer.

- ``float``: decimal strings and JSON numbers → float64.
- ``id``: identifiers; exact digits as strings, never a float.
- ``category``: short repeated strings (symbols, sides, counterparties).
- ``text``: free text kept as strings.
- ``time``: epoch seconds (10 digits) or milliseconds (13 digits) → UTC timestamps; 0 → NaT.
- ``int``: small status codes → int16 (0 where absent).
- ``position``: index of an item within its list (order-book level) → int8.
"""

_EMPTY: dict[str, Any] = {}


def snake_case(name: str) -> str:
    """The API's camelCase field name in snake_case: ``executeVolume`` → ``execute_volume``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


@dataclass(frozen=True)
class Field:
    """One JSON field copied into one column."""

    source: str
    type: ColumnType
    name: str = ""
    alias: str | None = None  # another key the field may arrive under

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", snake_case(self.source))

    def values(self, items: list[dict[str, Any]]) -> list[Any]:
        """The field's value in every item (``None`` where absent)."""
        src = self.source
        if self.alias is None:
            return [it.get(src) for it in items]
        alias = self.alias
        return [it.get(src, it.get(alias)) for it in items]


@dataclass(frozen=True)
class Level:
    """One level of nesting to explode: the list(s) under ``keys`` in each parent item.

    With several keys (the order book's ``bids`` and ``asks``) the ``label`` column says which
    key a row came from; ``position`` names a column holding the item's index in its list.
    ``keep_empty`` keeps a parent that has no children as one row with empty child fields, so no
    push is lost from the table.
    """

    keys: tuple[str, ...]
    fields: tuple[Field, ...]
    labels: tuple[str, ...] = ()
    label: str | None = None
    position: str | None = None
    keep_empty: bool = False


@dataclass(frozen=True)
class Table:
    """A tidy view of one push type: root fields, then zero or more levels to explode.
    ``envelope`` is the key of the message holding the payload (Nexus ``data``, ChaiNext
    ``args``)."""

    name: str
    fields: tuple[Field, ...]
    levels: tuple[Level, ...] = ()
    envelope: str = "data"
    columns: tuple[tuple[str, ColumnType], ...] = field(init=False)

    def __post_init__(self) -> None:
        cols: list[tuple[str, ColumnType]] = [(f.name, f.type) for f in self.fields]
        for lv in self.levels:
            if lv.label:
                cols.append((lv.label, "category"))
            if lv.position:
                cols.append((lv.position, "position"))
            cols.extend((f.name, f.type) for f in lv.fields)
        names = [c for c, _ in cols]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate column in table {self.name}: {names}")
        object.__setattr__(self, "columns", tuple(cols))

    def flatten(self, payloads: Sequence[Any]) -> tuple[dict[str, list[Any]], list[int]]:
        """Explode a batch of push payloads into columns.

        Returns the columns (name → list, all the same length) and, for each row, the index of
        the payload it came from. A payload is a JSON object or a list of them (one root item
        each). Raises ``TypeError``/``AttributeError`` on a payload of the wrong shape: the
        caller then flattens one payload at a time to single out the malformed one.
        """
        push: list[int] = []
        roots: list[dict[str, Any]] = []
        for i, p in enumerate(payloads):
            if isinstance(p, list):
                roots.extend(p)
                push.extend([i] * len(p))
            else:
                roots.append(p)
                push.append(i)
        chain: list[list[dict[str, Any]]] = [roots]
        extra: dict[str, list[Any]] = {}
        for lv in self.levels:
            parent_rows: list[int] = []
            kids: list[dict[str, Any]] = []
            labels: list[Any] = []
            positions: list[int] = []
            keys = lv.keys
            tags = lv.labels or keys
            for r, parent in enumerate(chain[-1]):
                found = False
                for tag, key in zip(tags, keys):
                    lst = parent.get(key)
                    if lst:
                        n = len(lst)
                        kids.extend(lst)
                        parent_rows.extend([r] * n)
                        labels.extend([tag] * n)
                        positions.extend(range(n))
                        found = True
                    elif lst is not None and not isinstance(lst, list):
                        raise TypeError(f"{key} is not a list")
                if not found and lv.keep_empty:
                    kids.append(_EMPTY)
                    parent_rows.append(r)
                    labels.append(None)
                    positions.append(-1)
            chain = [[items[j] for j in parent_rows] for items in chain]
            chain.append(kids)
            push = [push[j] for j in parent_rows]
            extra = {k: [v[j] for j in parent_rows] for k, v in extra.items()}
            if lv.label:
                extra[lv.label] = labels
            if lv.position:
                extra[lv.position] = positions
        columns: dict[str, list[Any]] = {}
        for f in self.fields:
            columns[f.name] = f.values(chain[0])
        for depth, lv in enumerate(self.levels, start=1):
            if lv.label:
                columns[lv.label] = extra[lv.label]
            if lv.position:
                columns[lv.position] = extra[lv.position]
            for f in lv.fields:
                columns[f.name] = f.values(chain[depth])
        return columns, push


def _fields(column_type: ColumnType, *sources: str) -> tuple[Field, ...]:
    return tuple(Field(s, column_type) for s in sources)


# --- Nexus -------------------------------------------------------------------------------------

DEPTH = Table(
    "depth",
    fields=(Field("symbol", "category"),),
    levels=(
        Level(
            keys=("bids", "asks"),
            labels=("bid", "ask"),
            label="side",
            position="level",
            fields=(
                Field("price", "float"),
                Field("volume", "float"),
                Field("cp", "category"),
                Field("time", "time"),
            ),
        ),
    ),
)

_ORDER_CORE = (
    *_fields("id", "orderId"),
    *_fields("category", "symbol", "side", "status", "orderType", "timeInForce", "orderResult"),
    *_fields("float", "orderVolume", "executeVolume", "pendingVolume", "executeAmount", "commission"),
    *_fields("time", "orderTime", "executeTime"),
    Field("cp", "category"),
    Field("cpOrderid", "id", alias="cpOrderId"),
    Field("orderComment", "text"),
)

ORDERS = Table(
    "orders",
    fields=(Field("clientOrderId", "id"), Field("accountId", "id"), *_ORDER_CORE),
)

_PARENT_REF = (Field("clientOrderId", "id"), Field("orderId", "id", name="parent_order_id"))

CP_ORDERS = Table(
    "cp_orders",
    fields=_PARENT_REF,
    levels=(Level(keys=("cpOrders",), fields=_ORDER_CORE),),
)

EXECUTIONS = Table(
    "executions",
    fields=_PARENT_REF,
    levels=(
        Level(keys=("cpOrders",), fields=()),
        Level(
            keys=("executions",),
            fields=(
                *_fields("id", "executeId", "orderId", "cpOrderId"),
                *_fields("category", "cp", "symbol", "side", "orderType", "commissionCurrency"),
                *_fields("float", "executePrice", "executeVolume", "executeAmount"),
                Field("executeTime", "time"),
            ),
        ),
    ),
)

RISK = Table(
    "risk",
    fields=(
        *_fields("category", "symbol", "book", "broker", "cp"),
        *_fields(
            "float",
            "amount",
            "volume",
            "dailyAmount",
            "dailyVolume",
            "grossAmount",
            "hedgePl",
            "hedgeVolume",
            "mtmAmount",
            "netPl",
            "netVolume",
            "openAmount",
            "openVolume",
        ),
    ),
)

# --- ChaiNext ----------------------------------------------------------------------------------

_COIN = (Field("cid", "id"), *_fields("category", "symbol", "cmcSymbol"), Field("latest", "float"))

COIN_INDEX = Table("coin_index", fields=(*_COIN, Field("updateTime", "time")), envelope="args")

PAIR_INDEX = Table(
    "pair_index",
    envelope="args",
    fields=(*_COIN, Field("updateTime", "time")),
    levels=(
        Level(
            keys=("exchangeInfos",),
            keep_empty=True,
            fields=(
                *_fields("category", "market", "pair"),
                Field("price", "float"),
                Field("timestamp", "time"),
            ),
        ),
    ),
)

INDEX = Table(
    "index",
    envelope="args",
    fields=(
        Field("indexId", "id"),
        *_fields("float", "lastPrice", "marketCap", "turnover24h"),
        Field("updateTime", "time"),
    ),
)

_V3 = (
    Field("underlyingSymbol", "category"),
    Field("underlyingCid", "id"),
    Field("quoteSymbol", "category"),
    Field("quoteCid", "id"),
    Field("price", "float"),
    Field("status", "int"),
)

COIN_INDEX_V3 = Table("coin_index_v3", fields=(*_V3, Field("updateTime", "time")), envelope="args")

PAIR_INDEX_V3 = Table(
    "pair_index_v3",
    envelope="args",
    fields=(*_V3, Field("coinUpdateTime", "time")),
    levels=(
        Level(
            keys=("pairInfos",),
            keep_empty=True,
            fields=(
                *_fields("category", "exchange", "pairSymbol"),
                *_fields("float", "pairPrice", "transferredPrice"),
                Field("pairSide", "category", alias="side"),
                Field("pairWeight", "float"),
                Field("status", "int", name="pair_status"),
                Field("pairUpdateTime", "time"),
            ),
        ),
    ),
)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        DEPTH,
        ORDERS,
        CP_ORDERS,
        EXECUTIONS,
        RISK,
        COIN_INDEX,
        PAIR_INDEX,
        INDEX,
        COIN_INDEX_V3,
        PAIR_INDEX_V3,
    )
}
"""Every table by name."""
