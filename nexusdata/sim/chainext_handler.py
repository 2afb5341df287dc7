"""The ChaiNext side: ``{"op","args"}`` messages, signed login, subscriptions and their codes.

Replies are ``<op>Response`` (``error`` for what has no op) with an integer ``code``, as the
document shows; the ``reply_ops`` and ``string_codes`` quirks change that, and ``relogin_2004``
keeps the login through a session expiry.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import AsyncGenerator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

import orjson
from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from ..protocol import chainext
from .connection import Connection, Recorder, every
from .indices import COINS, INDEX_TOPIC, INDICES, IndexStream
from .market import Market
from .quirks import RELOGIN_2004, REPLY_OPS, STRING_CODES, Wire

log = logging.getLogger("nexusdata.sim")

SIGN_WINDOW = 300
"""How far ``signTime`` may be from the server's clock, in seconds (the document's five minutes)."""
WRONG_PARAM, DOUBLE_LOGIN, DATA_ERROR, LOGIN_ERROR, USER_ABSENT = 2002, 2004, 2009, 2012, 2013
EVENT_ABSENT, ALREADY, TOPIC_ABSENT, COIN_ABSENT, COIN_NOT_SUBSCRIBED = 3001, 3005, 3006, 3007, 3008
INDEX_NOT_SUBSCRIBED, INDEX_ABSENT = 3009, 3010


@dataclass(frozen=True)
class ChaiNextService:
    """What every ChaiNext connection shares: the one account's credentials, the market, the
    pace, the coin and index ids served and how messages are written."""

    api_key: str
    api_secret: str
    market: Market
    rate: float
    clock_skew: float = 0.0
    coins: AbstractSet[str] = frozenset(COINS)
    indices: AbstractSet[str] = frozenset(INDICES)
    wire: Wire = field(default_factory=Wire)

    def __repr__(self) -> str:  # never show the secret
        return f"ChaiNextService(rate={self.rate})"

    def handshake(self, connection: ServerConnection, request: Request) -> Response | None:
        """Accept every upgrade: ChaiNext checks its credentials at the login message."""
        return None

    def connect(self, ws: ServerConnection, number: int, record: Recorder | None) -> ChaiNextConnection:
        return ChaiNextConnection(ws, number, record, self)

    def knows(self, topic: str, key: str) -> bool:
        """Whether ``key`` names a coin (or, for the ``index`` topic, an index) this service serves."""
        return key in (self.indices if topic == INDEX_TOPIC else self.coins)

    def frames(self, topic: str, key: str) -> AsyncGenerator[str, None]:
        """The pushes of one subscription, ``rate`` a second (a replay serves recorded ones)."""
        return every(self.rate, IndexStream(topic, key, self.market).next)

    def login_code(self, args: Any, logged_in: bool) -> int:
        """The code answering a login with ``args``."""
        if not isinstance(args, dict):
            return WRONG_PARAM
        sign_time, api_key, signature = args.get("signTime"), args.get("apiKey"), args.get("signature")
        if isinstance(sign_time, str) and sign_time.isascii() and sign_time.isdigit():
            sign_time = int(sign_time)
        if type(sign_time) is not int or not isinstance(api_key, str) or not isinstance(signature, str):
            return WRONG_PARAM
        if not hmac.compare_digest(api_key.encode(), self.api_key.encode()):
            return USER_ABSENT
        expected = chainext.sign(self.api_key, self.api_secret, sign_time)
        if not hmac.compare_digest(signature.encode(), expected.encode()):
            return LOGIN_ERROR
        if abs(sign_time - (time.time() + self.clock_skew)) > SIGN_WINDOW:
            return LOGIN_ERROR
        return DOUBLE_LOGIN if logged_in else chainext.SUCCESS


class ChaiNextConnection(Connection):
    """One ChaiNext client: logged out until a good login; subscriptions keyed (topic, id)."""

    def __init__(self, ws: ServerConnection, number: int, record: Recorder | None, service: ChaiNextService) -> None:
        super().__init__(ws, number, record, service.wire)
        self.service = service
        self.logged_in = False

    async def receive(self, frame: str | bytes) -> None:
        try:
            message = orjson.loads(frame)
        except orjson.JSONDecodeError:
            await self._reply(None, DATA_ERROR)
            return
        op = message.get("op") if isinstance(message, dict) else None
        args = message.get("args") if isinstance(message, dict) else None
        if op == "ping":
            await self.send(chainext.message("pong", None))
        elif op == "login":
            code = self.service.login_code(args, self.logged_in)
            if code == chainext.SUCCESS:
                self.logged_in = True
            else:
                log.info("ChaiNext login refused on connection %d: %d", self.number, code)
            await self._reply(op, code)
        elif op == "logout":
            await self.stop_streams()
            self.logged_in = False
            await self._reply(op, chainext.SUCCESS)
        elif op in ("subscribe", "unsubscribe"):
            await self._subscription(op, args if isinstance(args, dict) else {})
        else:
            await self._reply(op if isinstance(op, str) and op else None, EVENT_ABSENT)

    async def expire(self) -> bool:
        """Session expiry: stop every stream, forget the login and say so with code 2010 (the
        document names no message for it, so an ``error`` op); the client must log in again.
        With ``relogin_2004`` the login is not forgotten, so logging in again gets 2004."""
        await self.stop_streams()
        self.logged_in = RELOGIN_2004 in self.wire.quirks
        await self._reply(None, chainext.LOGIN_AGAIN)
        return True

    async def _reply(self, op: str | None, code: int, **extra: Any) -> None:
        """Answer the request ``op`` (``None``: what has no op) with ``code``: op
        ``<op>Response`` (``error``) and an integer code, or as the quirks say."""
        quirks = self.wire.quirks
        name = "error" if op is None else op if REPLY_OPS in quirks else f"{op}Response"
        reply = chainext.reply(name, code, **extra)
        if STRING_CODES in quirks:
            reply["args"]["code"] = str(code)
        await self.send(reply)

    async def _subscription(self, op: str, args: dict[str, Any]) -> None:
        """Answer a subscribe or unsubscribe, ``topic`` and ``id`` echoed as received. A stream
        starts after its success reply and stops before it, so no push precedes a subscribe's
        reply or follows an unsubscribe's."""
        topic: Any = args.get("topic")  # raw client input, checked below
        sid: Any = args.get("id")
        key = (topic, str(sid))
        index = topic == INDEX_TOPIC
        if not self.logged_in:
            code = chainext.LOGIN_AGAIN
        elif not isinstance(topic, str) or isinstance(sid, bool) or not isinstance(sid, (str, int)):
            code = WRONG_PARAM
        elif topic not in chainext.TOPICS:
            code = TOPIC_ABSENT
        elif not self.service.knows(topic, str(sid)):
            code = INDEX_ABSENT if index else COIN_ABSENT
        elif op == "subscribe":
            code = ALREADY if self.subscribed(key) else chainext.SUCCESS
        elif self.cancel(key):
            code = chainext.SUCCESS
        else:
            code = INDEX_NOT_SUBSCRIBED if index else COIN_NOT_SUBSCRIBED
        await self._reply(op, code, topic=topic, id=sid)
        if op == "subscribe" and code == chainext.SUCCESS:
            self.stream(key, topic, self.service.frames(topic, str(sid)))
