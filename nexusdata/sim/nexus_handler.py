"""The Nexus side: ``{"id","action","event",...}`` requests in, ``{"event","data"}`` pushes out.

The document defines no acknowledgement, pong or error format, so every request gets a small
echo: ``{"id","action","event","status":"OK"}`` (``PING`` answered with action ``PONG``), or
``"status":"ERROR"`` plus a ``message`` for a request the simulator cannot serve.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any, AsyncGenerator, Hashable

import orjson
from websockets.asyncio.server import ServerConnection

from ..protocol import nexus
from ..protocol.session import dumps
from .account import Account
from .connection import Connection, Recorder, every, ticks
from .market import Market

log = logging.getLogger("nexusdata.sim")

MAX_DEPTH = 100
"""Deepest book served (the document sets no limit; this keeps a push bounded)."""
ORDER_BACKLOG = 1_000
"""Orders queued for a client that reads too slowly before newer ones are dropped."""


class BadRequest(ValueError):
    """A request the simulator answers with ``"status": "ERROR"``."""


class NexusFeed:
    """What every Nexus connection shares: the market, the account and its order flow.

    The account trades at ``rate`` while at least one order or risk subscription is open (so a
    fresh simulator's first order subscriber sees the seeded sequence from its start); each order
    goes to every order subscription.
    """

    def __init__(self, market: Market, rate: float) -> None:
        self.market = market
        self.rate = rate
        self.account = Account(market, market.seed)
        self._queues: set[asyncio.Queue[str]] = set()
        self._listeners = 0
        self._trading: asyncio.Task[None] | None = None

    def connect(self, ws: ServerConnection, number: int, record: Recorder | None) -> NexusConnection:
        return NexusConnection(ws, number, record, self)

    def book(self, symbol: str, depth: int) -> AsyncGenerator[str, None]:
        """Books of ``symbol`` at ``rate``; the level noise is seeded per symbol."""
        rng = random.Random(f"{self.market.seed}:book:{symbol}")
        return every(self.rate, lambda: dumps(nexus.push(nexus.MARKETDEPTH, self.market.book(symbol, depth, rng))))

    async def orders(self) -> AsyncGenerator[str, None]:
        """Every order the account places while this stream is open, one push each."""
        queue: asyncio.Queue[str] = asyncio.Queue(ORDER_BACKLOG)
        self._join(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._leave(queue)

    async def risk(self, symbol: str, book: str) -> AsyncGenerator[str, None]:
        """The position rows of ``symbol`` in ``book`` at ``rate`` (the account trades meanwhile)."""
        self._join(None)
        try:
            async for _ in ticks(self.rate):
                yield dumps(nexus.push(nexus.RISK_POSITION, self.account.positions(symbol, book)))
        finally:
            self._leave(None)

    def _join(self, queue: asyncio.Queue[str] | None) -> None:
        self._listeners += 1
        if queue is not None:
            self._queues.add(queue)
        if self._trading is None:
            self._trading = asyncio.create_task(self._trade(), name="sim account")

    def _leave(self, queue: asyncio.Queue[str] | None) -> None:
        self._listeners -= 1
        if queue is not None:
            self._queues.discard(queue)
        if not self._listeners and self._trading is not None:
            self._trading.cancel()
            self._trading = None

    async def _trade(self) -> None:
        async for _ in ticks(self.rate):
            text = dumps(nexus.push(nexus.ORDER, [self.account.trade()]))
            for queue in self._queues:
                if queue.full():
                    log.warning("a slow Nexus client lost an order push (backlog of %d)", ORDER_BACKLOG)
                else:
                    queue.put_nowait(text)


def _text(request: dict[str, Any], field: str) -> str:
    value = request.get(field)
    if not isinstance(value, str) or not value:
        raise BadRequest(f"{field} must be a non-empty string")
    return value


class NexusConnection(Connection):
    """One Nexus client."""

    def __init__(self, ws: ServerConnection, number: int, record: Recorder | None, feed: NexusFeed) -> None:
        super().__init__(ws, number, record)
        self.feed = feed

    async def receive(self, frame: str | bytes) -> None:
        try:
            request = orjson.loads(frame)
        except orjson.JSONDecodeError:
            request = None
        if not isinstance(request, dict):
            await self._answer({}, "ERROR", "not a JSON object")
            return
        action, event = request.get("action"), request.get("event")
        if action == "PING":
            await self._answer(request, "OK", action="PONG")
            return
        try:
            if action not in ("SUBSCRIBE", "UNSUBSCRIBE"):
                raise BadRequest(f"unknown action {action!r}")
            if event not in nexus.EVENTS:
                raise BadRequest(f"unknown event {event!r}")
            key = self._key(event, request)
            if action == "UNSUBSCRIBE":
                if not self.cancel(key):
                    raise BadRequest("not subscribed")
                await self._answer(request, "OK")
            else:
                frames = self._frames(event, request)
                await self._answer(request, "OK")
                self.stream(key, event, frames)
        except BadRequest as refusal:
            await self._answer(request, "ERROR", str(refusal))

    def _key(self, event: str, request: dict[str, Any]) -> Hashable:
        """The subscription a request names (a depth subscription is one per symbol)."""
        if event == nexus.MARKETDEPTH:
            return event, _text(request, "symbol")
        if event == nexus.RISK_POSITION:
            return event, _text(request, "symbol"), _text(request, "book")
        return (event,)

    def _frames(self, event: str, request: dict[str, Any]) -> AsyncGenerator[str, None]:
        if event == nexus.MARKETDEPTH:
            depth = request.get("depth")
            if type(depth) is not int or not 1 <= depth <= MAX_DEPTH:
                raise BadRequest(f"depth must be an integer from 1 to {MAX_DEPTH}")
            return self.feed.book(request["symbol"], depth)
        if event == nexus.RISK_POSITION:
            return self.feed.risk(request["symbol"], request["book"])
        return self.feed.orders()

    async def _answer(self, request: dict[str, Any], status: str, message: str | None = None, **echo: Any) -> None:
        reply = {
            "id": request.get("id"),
            "action": request.get("action"),
            "event": request.get("event"),
            **echo,
            "status": status,
        }
        if message is not None:
            reply["message"] = message
        await self.send(reply)
