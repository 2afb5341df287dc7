"""The Nexus broker feed: requests, pushes and the per-connection session (sans-I/O).

Authentication is the ``X-API-TOKEN`` query parameter of the URL (see :mod:`.urls`); once
connected the client subscribes with ``{"id","action","event",...}`` requests and receives
``{"event","data"}`` pushes. The document gives no format for acknowledgements, pongs or errors,
so any other message is logged and counted, never fatal.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
import time
from typing import Any, Callable, Iterable, Literal

from .session import Push, Session, dumps
from .tables import DEPTH, ORDERS, RISK, Table

log = logging.getLogger("nexusdata.protocol")

MARKETDEPTH = "API_MARKETDEPTH"
ORDER = "API_ORDER"
RISK_POSITION = "API_RISK_POSITION"
EVENTS: tuple[str, ...] = (MARKETDEPTH, ORDER, RISK_POSITION)

Action = Literal["SUBSCRIBE", "UNSUBSCRIBE"]

_MAX_PENDING = 256  # requests remembered to recognise their replies

DEFAULT_TABLES: dict[str, Table] = {MARKETDEPTH: DEPTH, ORDER: ORDERS, RISK_POSITION: RISK}
"""The table each event's pushes fill by default."""


@dataclass(frozen=True)
class NexusSubscription:
    """One Nexus subscription: depth needs ``symbol`` and ``depth``, risk ``symbol`` and ``book``."""

    event: str
    symbol: str | None = None
    depth: int | None = None
    book: str | None = None

    @property
    def kind(self) -> str:
        """The push kind this subscription produces."""
        return self.event

    def request(self, action: Action, request_id: str) -> dict[str, Any]:
        """The request body, fields in the order the document shows them."""
        body: dict[str, Any] = {"id": request_id, "action": action, "event": self.event}
        if self.symbol is not None:
            body["symbol"] = self.symbol
        if self.depth is not None:
            body["depth"] = self.depth
        if self.book is not None:
            body["book"] = self.book
        return body


def depth(symbol: str, levels: int = 5) -> NexusSubscription:
    """Subscription to the aggregated order book of ``symbol``."""
    return NexusSubscription(MARKETDEPTH, symbol=symbol, depth=levels)


def orders() -> NexusSubscription:
    """Subscription to the account's order results."""
    return NexusSubscription(ORDER)


def risk(symbol: str, book: str) -> NexusSubscription:
    """Subscription to the risk position of ``symbol`` in ``book``."""
    return NexusSubscription(RISK_POSITION, symbol=symbol, book=book)


class RequestIds:
    """Request ids as the examples use them: 13-digit millisecond strings, strictly increasing."""

    def __init__(self) -> None:
        self._last = 0

    def next(self, now: float) -> str:
        self._last = max(int(now * 1000), self._last + 1)
        return str(self._last)


def ping_request(request_id: str) -> dict[str, Any]:
    """The keep-alive request."""
    return {"id": request_id, "action": "PING", "event": ""}


def push(event: str, data: Any) -> dict[str, Any]:
    """A server push (used by the simulator)."""
    return {"event": event, "data": data}


class NexusSession(Session):
    """One Nexus connection: subscribe on open, unsubscribe on finish, route pushes by event."""

    def __init__(
        self, subscriptions: Iterable[NexusSubscription], token: str = "", clock: Callable[[], float] = time.time
    ) -> None:
        self.subscriptions = tuple(subscriptions)
        prefixes = {(b'{"event":"%s","data":' % s.event.encode(), s.event) for s in self.subscriptions}
        super().__init__(secrets=(token,), clock=clock, push_prefixes=prefixes)
        self._ids = RequestIds()
        self._sent: dict[str, str] = {}
        self._started = False

    @property
    def ready(self) -> bool:
        return self._started  # the document defines no acknowledgement to wait for

    def _send(self, body: dict[str, Any]) -> None:
        self._sent[body["id"]] = body["action"]
        if len(self._sent) > _MAX_PENDING:  # a server that never replies must not grow this
            del self._sent[next(iter(self._sent))]
        self.outbox.append(dumps(body))

    def start(self) -> None:
        self._started = True
        for sub in self.subscriptions:
            self._send(sub.request("SUBSCRIBE", self._ids.next(self.clock())))

    def ping(self) -> None:
        self._send(ping_request(self._ids.next(self.clock())))

    def finish(self) -> None:
        for sub in self.subscriptions:
            self._send(sub.request("UNSUBSCRIBE", self._ids.next(self.clock())))
        self.finished = True  # the document defines no reply to wait for

    def dispatch(self, message: dict[str, Any], frame: bytes | str) -> Push | None:
        event = message.get("event")
        known = isinstance(event, str) and event in DEFAULT_TABLES
        if known and "data" in message:
            data = message["data"]
            expected = dict if event == MARKETDEPTH else (list, dict)
            if not isinstance(data, expected):
                return self.reject(f"{event} data of the wrong shape", frame)
            return event, data
        request_id = message.get("id")
        if isinstance(request_id, (str, int)) and str(request_id) in self._sent:
            log.debug("reply to %s %s", self._sent.pop(str(request_id)), request_id)
            return None
        if known:
            return self.reject(f"{event} without data", frame)
        return self.ignore("no known event", frame)
