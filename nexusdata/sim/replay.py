"""Serving a recording instead of simulated data: ``Simulator(replay=DIR, speed=10)``.

A subscription to a recorded symbol, (symbol, book), topic and id, or to the orders, plays the
recorded pushes from the start, paced by their ``received_at`` gaps divided by ``speed``. Rows
are turned back into the protocol's wire shapes (``nexus.push``, ``chainext.message``) by
inverting the table's flattening, so a client reads back the recorded values. Anything not
recorded is refused the way each feed refuses: a refusal in the shape the quirks select (Nexus;
an unrecorded symbol as an unknown one) or code 3007/3010 (ChaiNext). A recording lists no risk
books, so every book of a recorded symbol is served (a book never recorded plays nothing).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncGenerator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from itertools import groupby, pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..checks import positive_number
from ..errors import ArgumentError
from ..frames.book import push_starts
from ..kinds import ORDER_VIEWS
from ..protocol import TABLES, Table, chainext, nexus
from ..protocol.session import dumps
from ..protocol.tables import Field, Level
from ..protocol.urls import CHAINEXT_PATH, NEXUS_PATH
from ..recording.layout import PARTITIONS, recorded_feeds, recorded_keys
from ..recording.reader import read_recording
from .chainext_handler import ChaiNextService
from .nexus_handler import BadRequest, NexusService, UnknownSymbol

Rows = list[dict[str, Any]]
Select = Callable[[pd.DataFrame], pd.DataFrame]

_BLOCK = 2048  # rows turned into wire values at a time
_LISTS = frozenset({nexus.ORDER, nexus.RISK_POSITION})
"""Kinds whose push carries a list of items; the others carry one object."""


@dataclass(frozen=True)
class Playback:
    """A recording to serve, checked up front: its path, the speed and what it holds."""

    path: Path
    speed: float
    catalogue: Mapping[str, frozenset[str]]  # feed → recorded symbols or ids

    @classmethod
    def open(cls, path: str | Path, speed: float = 1.0) -> Playback:
        """Check the recording and the speed (a multiple of real time; ``inf``: no pauses)."""
        speed = check_speed(speed)
        feeds = recorded_feeds(path)
        if not feeds:
            raise ArgumentError(f"replay must be a recording directory; nothing recorded under {str(path)!r}")
        return cls(Path(path), speed, {feed: frozenset(recorded_keys(path, feed)) for feed in feeds})

    def serve(self, services: Mapping[str, Any]) -> dict[str, Any]:
        """The simulator's services (by path) with their data taken from the recording."""
        simulated_nexus, simulated_chainext = services[NEXUS_PATH], services[CHAINEXT_PATH]
        state = {f.name: getattr(simulated_chainext, f.name) for f in fields(simulated_chainext)}
        return {
            NEXUS_PATH: ReplayNexusService(simulated_nexus, self),
            CHAINEXT_PATH: ReplayChaiNextService(**state, playback=self),
        }

    def has(self, feed: str, key: str) -> bool:
        return key in self.catalogue.get(feed, frozenset())

    def pushes(self, feed: str, kind: str, key: str | None, select: Select | None = None) -> AsyncGenerator[str, None]:
        """The recorded pushes of ``feed`` (for ``key``: a symbol or id; ``None``: all) as
        frames of ``kind``, paced."""
        return _paced(self._texts(feed, kind, key, select), self.speed)

    async def _texts(self, feed: str, kind: str, key: str | None, select: Select | None) -> AsyncGenerator[tuple[int, str], None]:
        option = {} if key is None else {PARTITIONS[feed][0]: key}
        if feed in ORDER_VIEWS:  # an order view is read as the orders' rows
            option["rows"] = feed
        table = "orders" if feed in ORDER_VIEWS else feed
        frame = await asyncio.to_thread(lambda: read_recording(self.path, table, **option))
        if select is not None:
            frame = select(frame)
        for item in wire_pushes(TABLES[feed], kind, frame):
            yield item


def check_speed(speed: object) -> float:
    """``speed`` as a float if it is a positive multiple of real time (``inf``: no pauses)."""
    return positive_number(speed, "speed", allow_inf=True, unit="times real time (inf: as fast as possible)")


async def _paced(texts: AsyncGenerator[tuple[int, str], None], speed: float) -> AsyncGenerator[str, None]:
    """The texts, each when its recorded time comes, ``speed`` times faster than recorded."""
    loop = asyncio.get_running_loop()
    origin: tuple[int, float] | None = None
    try:
        async for at, text in texts:
            if origin is None:
                origin = (at, loop.time())
            await asyncio.sleep(max(origin[1] + (at - origin[0]) / 1e9 / speed - loop.time(), 0.0))
            yield text
    finally:
        await texts.aclose()


class ReplayNexusService(NexusService):
    """The Nexus feed of a recording: books, orders and risk rows as recorded, with the
    simulated feed's token and wire."""

    def __init__(self, simulated: NexusService, playback: Playback) -> None:
        super().__init__(
            simulated.market,
            simulated.rate,
            simulated.token,
            symbols=simulated.symbols,
            books=simulated.books,
            wire=simulated.wire,
        )
        self.playback = playback

    def require_symbol(self, feed: str, symbol: str) -> None:
        """Refuse a symbol the recording's ``feed`` does not hold, as an unknown symbol."""
        if not self.playback.has(feed, symbol):
            raise UnknownSymbol(symbol, f"{symbol} is not in the recording's {feed}")

    def book(self, symbol: str, depth: int) -> AsyncGenerator[str, None]:
        self.require_symbol("depth", symbol)
        return self.playback.pushes("depth", nexus.MARKETDEPTH, symbol, lambda f: f[f["level"] < depth])

    def orders(self) -> AsyncGenerator[str, None]:
        recorded = [feed for feed in ORDER_VIEWS if feed in self.playback.catalogue]
        if not recorded:
            raise BadRequest("the recording holds no orders")
        return self.playback.pushes(recorded[0], nexus.ORDER, None)

    def risk(self, symbol: str, book: str) -> AsyncGenerator[str, None]:
        self.require_symbol("risk", symbol)
        return self.playback.pushes("risk", nexus.RISK_POSITION, symbol, lambda f: f[f["book"] == book])


@dataclass(frozen=True, repr=False)
class ReplayChaiNextService(ChaiNextService):
    """The ChaiNext feed of a recording: every recorded topic and id."""

    playback: Playback = field(kw_only=True)

    def knows(self, topic: str, key: str) -> bool:
        return self.playback.has(topic, key)

    def frames(self, topic: str, key: str) -> AsyncGenerator[str, None]:
        return self.playback.pushes(topic, topic, key)


# -- rows back into pushes -------------------------------------------------------------------------


def wire_pushes(table: Table, kind: str, frame: pd.DataFrame) -> Iterator[tuple[int, str]]:
    """Each recorded push of ``frame`` (rows sharing ``received_at`` and ``connection``) as
    (received_at in ns, wire text of a ``kind`` push)."""
    if frame.empty:
        return
    received = frame["received_at"].dt.tz_convert(None).to_numpy().view(np.int64)
    connection = frame["connection"].to_numpy()
    starts = push_starts(received, connection)
    bounds = [*starts.tolist(), len(frame)]
    strings = kind in nexus.EVENTS  # Nexus sends numbers and times as strings
    block: Rows = []
    offset = end = 0
    for first, stop in pairwise(bounds):
        if stop > end:  # the next rows, a block at a time: never the whole recording as dicts
            offset = first
            block = _rows(table, frame.iloc[first : max(stop, first + _BLOCK)], strings)
            end = offset + len(block)
        items = unflatten(table, block[first - offset : stop - offset])
        data = items if kind in _LISTS else items[0]
        message = nexus.push(kind, data) if strings else chainext.message(kind, data)
        yield int(received[first]), dumps(message)


def _rows(table: Table, frame: pd.DataFrame, strings: bool) -> Rows:
    """The rows of ``frame`` as dicts of wire values (``None`` where missing)."""
    columns = {name: _wire(kind, frame[name], strings) for name, kind in table.columns}
    return [dict(zip(columns, values)) for values in zip(*columns.values())]


def _wire(kind: str, column: pd.Series, strings: bool) -> list[Any]:
    """One column's values as the wire carries them."""
    if kind == "time":
        ms = column.dt.tz_convert(None).to_numpy().astype("datetime64[ms]").view(np.int64)
        missing = column.isna().to_numpy()
        return [None if gone else (str(v) if strings else int(v)) for v, gone in zip(ms.tolist(), missing)]
    if kind == "float":
        return [None if math.isnan(v) else (repr(v) if strings else v) for v in column.to_numpy().tolist()]
    if kind in ("int", "position"):
        return column.to_numpy().tolist()
    return column.to_numpy(dtype=object, na_value=None).tolist()


def unflatten(table: Table, rows: Rows) -> Rows:
    """The items (root objects) whose flattening by ``table`` gives back ``rows``."""
    return _items(table.fields, table.levels, rows)


def _items(fields_: Sequence[Field], levels: Sequence[Level], rows: Rows) -> Rows:
    """Rebuild one nesting level: without deeper levels each row is an item; otherwise runs of
    rows sharing this level's values are one item, whose children are rebuilt from the run."""
    if not levels:
        return [_object(fields_, row) for row in rows]
    level, deeper = levels[0], levels[1:]
    names = [f.name for f in fields_]
    keys = dict(zip(level.labels or level.keys, level.keys))
    items = []
    for _, run in groupby(rows, key=lambda row: tuple(row[n] for n in names)):
        group = list(run)
        item = _object(fields_, group[0])
        children = [row for row in group if not (level.keep_empty and _empty(level, deeper, row))]
        for key in level.keys:
            mine = [row for row in children if (keys[row[level.label]] if level.label else level.keys[0]) == key]
            if mine:
                item[key] = _items(level.fields, deeper, mine)
        items.append(item)
    return items


def _object(fields_: Sequence[Field], row: dict[str, Any]) -> dict[str, Any]:
    return {f.source: row[f.name] for f in fields_ if row[f.name] is not None}


def _empty(level: Level, deeper: Sequence[Level], row: dict[str, Any]) -> bool:
    """Whether ``row`` is a parent kept without children (every child value missing; a status
    reads 0 when missing)."""
    kids = [f for lv in (level, *deeper) for f in lv.fields]
    return all(row[f.name] is None or (f.type == "int" and row[f.name] == 0) for f in kids)
