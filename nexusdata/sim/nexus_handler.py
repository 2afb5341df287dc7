"""The Nexus side: ``{"id","action","event",...}`` requests in, ``{"event","data"}`` pushes out.

The document defines no acknowledgement, pong or error format, so every request gets a small
echo: ``{"id","action","event","status":"OK"}`` (``PING`` answered with action ``PONG``), or
``"status":"ERROR"`` plus a ``message`` for a request the simulator cannot serve: a bad one, or
a subscription to a symbol or book it does not serve. The ``refusal_code`` and
``refusal_error`` quirks answer refusals in the shapes other servers use instead.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import random
from collections.abc import AsyncGenerator, Hashable
from collections.abc import Set as AbstractSet
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson
from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from ..protocol import nexus, urls
from ..protocol.nexus import MAX_DEPTH
from ..protocol.session import dumps
from .account import Account
from .connection import Connection, Recorder, every, ticks
from .market import Market
from .quirks import REFUSAL_CODE, REFUSAL_ERROR, Wire

log = logging.getLogger("nexusdata.sim")

ORDER_BACKLOG = 1_000
"""Orders queued for a client that reads too slowly before newer ones are dropped."""


class BadRequest(ValueError):
    """A request the simulator refuses: ``str()`` is the ``message`` of the default
    ``"status": "ERROR"`` reply, :attr:`code` and :attr:`summary` what the refusal quirks send."""

    code = 10001
    """The refusal's code in the quirks' shapes (10001: a bad request)."""

    def __init__(self, message: str, summary: str | None = None) -> None:
        super().__init__(message)
        self.summary = message if summary is None else summary


class UnknownSymbol(BadRequest):
    """A subscription to a symbol the simulator does not serve."""

    code = 10003

    def __init__(self, symbol: str, message: str | None = None) -> None:
        super().__init__(f"unknown symbol {symbol!r}" if message is None else message, "symbol not found")


class UnknownBook(BadRequest):
    """A risk subscription to a book the simulator does not serve."""

    code = 10004

    def __init__(self, book: str) -> None:
        super().__init__(f"unknown book {book!r}", "book not found")


class NexusService:
    """What every Nexus connection shares: the token, what is served, the market, the account
    and its order flow.

    The account trades at ``rate`` while at least one order or risk subscription is open (so a
    fresh simulator's first order subscriber sees the seeded sequence from its start); each order
    goes to every order subscription. Subscriptions to a symbol not in ``symbols`` (or a risk
    book not in ``books``) are refused.
    """

    def __init__(
        self, market: Market, rate: float, token: str, *, symbols: AbstractSet[str], books: AbstractSet[str], wire: Wire
    ) -> None:
        self.market = market
        self.rate = rate
        self.token = token
        self.symbols = symbols
        self.books = books
        self.wire = wire
        self.account = Account(market, market.seed)
        self._queues: set[asyncio.Queue[str]] = set()
        self._listeners = 0
        self._trading: asyncio.Task[None] | None = None

    def handshake(self, connection: ServerConnection, request: Request) -> Response | None:
        """HTTP 401 for a request without the token (the document's only credential)."""
        token = dict(parse_qsl(urlsplit(request.path).query)).get(urls.TOKEN_PARAM)
        if token is None or not hmac.compare_digest(token.encode(), self.token.encode()):
            log.info("Nexus handshake refused: %s missing or wrong", urls.TOKEN_PARAM)
            return connection.respond(HTTPStatus.UNAUTHORIZED, f"{urls.TOKEN_PARAM} missing or wrong\n")
        return None

    def connect(self, ws: ServerConnection, number: int, record: Recorder | None) -> NexusConnection:
        return NexusConnection(ws, number, record, self)

    def require_symbol(self, kind: str, symbol: str) -> None:
        """Refuse a ``kind`` (``depth``, ``risk``) subscription to a symbol not served."""
        if symbol not in self.symbols:
            raise UnknownSymbol(symbol)

    def book(self, symbol: str, depth: int) -> AsyncGenerator[str, None]:
        """Books of ``symbol`` at ``rate``; the level noise is seeded per symbol."""
        self.require_symbol("depth", symbol)
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

    def risk(self, symbol: str, book: str) -> AsyncGenerator[str, None]:
        """The position rows of ``symbol`` in ``book`` at ``rate`` (the account trades meanwhile)."""
        self.require_symbol("risk", symbol)
        if book not in self.books:
            raise UnknownBook(book)
        return self._positions(symbol, book)

    async def _positions(self, symbol: str, book: str) -> AsyncGenerator[str, None]:
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

    def __init__(self, ws: ServerConnection, number: int, record: Recorder | None, service: NexusService) -> None:
        super().__init__(ws, number, record, service.wire)
        self.service = service

    async def receive(self, frame: str | bytes) -> None:
        try:
            request = orjson.loads(frame)
        except orjson.JSONDecodeError:
            request = None
        if not isinstance(request, dict):
            await self._refuse({}, BadRequest("not a JSON object"))
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
            await self._refuse(request, refusal)

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
            return self.service.book(request["symbol"], depth)
        if event == nexus.RISK_POSITION:
            return self.service.risk(request["symbol"], request["book"])
        return self.service.orders()

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

    async def _refuse(self, request: dict[str, Any], refusal: BadRequest) -> None:
        """Answer a request the simulator refuses, in the shape the quirks select (both refusal
        quirks together: both shapes' fields in one reply)."""
        quirks = self.wire.quirks
        if not quirks & {REFUSAL_CODE, REFUSAL_ERROR}:
            await self._answer(request, "ERROR", str(refusal))
            return
        reply: dict[str, Any] = {"id": request.get("id")}
        if REFUSAL_CODE in quirks:
            reply |= {"code": refusal.code, "msg": refusal.summary}
        if REFUSAL_ERROR in quirks:
            reply["error"] = {"code": refusal.code, "message": refusal.summary}
        await self.send(reply)
