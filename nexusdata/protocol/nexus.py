"""The Nexus broker feed: requests, pushes and the per-connection session (sans-I/O).

Authentication is the ``X-API-TOKEN`` query parameter of the URL (see :mod:`.urls`); once
connected the client subscribes with ``{"id","action","event",...}`` requests and receives
``{"event","data"}`` pushes. The document gives no format for acknowledgements, pongs or errors,
so any other message is logged and counted, never fatal.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from ..errors import Cause, SubscriptionError
from .replies import is_reply, judge
from .session import Push, Session, Stranger, batch, dumps
from .tables import DEPTH, ORDERS, RISK, Table
from .urls import NEXUS_PATH

log = logging.getLogger("nexusdata.protocol")

MARKETDEPTH = "API_MARKETDEPTH"
ORDER = "API_ORDER"
RISK_POSITION = "API_RISK_POSITION"
EVENTS: tuple[str, ...] = (MARKETDEPTH, ORDER, RISK_POSITION)

Action = Literal["SUBSCRIBE", "UNSUBSCRIBE"]

MAX_DEPTH = 100
"""The deepest book a depth subscription asks for and the simulator serves (the document sets no
limit; this keeps a push bounded)."""

_MAX_PENDING = 256  # requests remembered to recognise their replies

DEFAULT_TABLES: dict[str, Table] = {MARKETDEPTH: DEPTH, ORDER: ORDERS, RISK_POSITION: RISK}
"""The table each event's pushes fill by default."""

FIRST_KEYS: dict[str, bytes] = {MARKETDEPTH: b'{"asks":', ORDER: b'[{"clientOrderId":', RISK_POSITION: b'[{"amount":'}
"""How each event's ``data`` starts in the document's examples: a frame starting exactly so is
a push, known without decoding it (a server writing keys in another order is decoded first)."""

_REQUEST_KEYS = frozenset({"id", "action", "status"})
SUCCESS_CODES = frozenset({0, 200})
"""Reply codes taken as success (the document defines none: these are the common ones)."""


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

    @property
    def label(self) -> str:
        """The subscription in a few words, for logs and messages: ``API_MARKETDEPTH BTCUSDT``."""
        return " ".join(str(part) for part in (self.event, self.symbol, self.book) if part is not None)

    @property
    def marker(self) -> bytes | None:
        """Text each of its pushes carries (the quoted symbol), to tell it from others of its kind."""
        return None if self.symbol is None else dumps(self.symbol).encode()

    def hint(self) -> str:
        """What to check when the server refuses it or says nothing."""
        if self.event == ORDER:
            return "check that the token may see the account's orders (or there is no order activity now)"
        what = "symbol" if self.book is None else "symbol and book"
        return f"check the {what} (the server's spelling, e.g. BTCUSDT) and that the token has permission for {self.event}"

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


def looks_like(message: Mapping[str, Any]) -> bool:
    """Whether a decoded message has Nexus's shape: an ``event`` or ``action``, no ``args``."""
    return ("event" in message or "action" in message) and "args" not in message


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


def _prefixes(subscriptions: Iterable[NexusSubscription]) -> tuple[tuple[bytes, str], ...]:
    """How the pushes of ``subscriptions`` start, for :meth:`Session.peek` (one per kind)."""
    return tuple(
        {
            (b'{"event":"%s","data":%s' % (s.event.encode(), FIRST_KEYS[s.event]), s.event)
            for s in subscriptions
            if s.event in FIRST_KEYS
        }
    )


class NexusSession(Session[NexusSubscription]):
    """One Nexus connection: subscribe on open, unsubscribe on finish, route pushes by event."""

    object_kinds = frozenset({MARKETDEPTH})
    title = "Nexus"
    path = NEXUS_PATH

    def __init__(
        self,
        subscriptions: Iterable[NexusSubscription],
        token: str = "",
        clock: Callable[[], float] = time.time,
        strangers: Iterable[Stranger] = (),
    ) -> None:
        self.subscriptions = tuple(subscriptions)
        super().__init__(secrets=(token,), clock=clock, push_prefixes=_prefixes(self.subscriptions), strangers=strangers)
        self._ids = RequestIds()
        self._sent: dict[str, tuple[str, NexusSubscription | None]] = {}  # request id → (label, subscription)
        self._started = False

    @property
    def ready(self) -> bool:
        return self._started  # the document defines no acknowledgement to wait for

    def _send(self, body: dict[str, Any], label: str, sub: NexusSubscription | None = None) -> None:
        self._sent[body["id"]] = (label, sub)
        if len(self._sent) > _MAX_PENDING:  # a server that never replies must not grow this
            del self._sent[next(iter(self._sent))]
        self.outbox.append(dumps(body))

    def start(self) -> None:
        self._started = True
        for sub in self.subscriptions:
            self._send(sub.request("SUBSCRIBE", self._ids.next(self.clock())), f"subscribe {sub.label}", sub)
            self.expect(sub, sub.marker)

    def add(self, sub: NexusSubscription) -> None:
        if sub in self.subscriptions:
            return
        self.subscriptions = (*self.subscriptions, sub)
        self._push_prefixes = _prefixes(self.subscriptions)
        self.refused.pop(sub, None)
        if self._started:
            self._send(sub.request("SUBSCRIBE", self._ids.next(self.clock())), f"subscribe {sub.label}", sub)
            self.expect(sub, sub.marker)

    def remove(self, sub: NexusSubscription) -> None:
        if sub not in self.subscriptions:
            return
        self.subscriptions = tuple(s for s in self.subscriptions if s != sub)
        self.heard(sub)  # no longer awaited
        if self._started and self.refused.pop(sub, None) is None:
            self._send(sub.request("UNSUBSCRIBE", self._ids.next(self.clock())), f"unsubscribe {sub.label}")

    def ping(self) -> None:
        self._send(ping_request(self._ids.next(self.clock())), "ping")

    def finish(self) -> None:
        for sub in self.subscriptions:
            if sub not in self.refused:
                self._send(sub.request("UNSUBSCRIBE", self._ids.next(self.clock())), f"unsubscribe {sub.label}")
        self.finished = True  # the document defines no reply to wait for

    def encode_push(self, kind: str, payload: Any) -> bytes:
        return orjson.dumps(push(kind, payload))

    def silence_hint(self, sub: NexusSubscription, seconds: float) -> str:
        return f"Nexus sent no push and no reply for {sub.label} in {seconds:.0f}s: {sub.hint()}"

    def dispatch(self, message: dict[str, Any], frame: bytes | str) -> Push | None:
        event = message.get("event")
        known = isinstance(event, str) and event in DEFAULT_TABLES
        if known and "data" in message and not is_reply(message["data"]):
            data = message["data"]
            if event == MARKETDEPTH and not (isinstance(data, dict) or batch(data)):
                return self.reject(f"{event} data of the wrong shape", frame)
            if not isinstance(data, (list, dict)):
                return self.reject(f"{event} data of the wrong shape", frame)
            return str(event), data
        request_id = message.get("id")
        if isinstance(request_id, (str, int)) and not isinstance(request_id, bool) and str(request_id) in self._sent:
            label, sub = self._sent.pop(str(request_id))
            self._reply(message, frame, label, sub)
            return None
        if self.stranger(message, frame):
            return None
        echo = not _REQUEST_KEYS.isdisjoint(message)  # an answer echoing a request whose id we do not know
        if known and "data" not in message and not echo and not is_reply(message):
            return self.reject(f"{event} without data", frame)
        sub = self._about(message)
        if sub is not None or is_reply(message) or is_reply(message.get("data")):
            action = message.get("action")
            verb = action.lower() if isinstance(action, str) and action else "subscribe"
            label = f"{verb} {sub.label}" if sub else "unmatched reply"
            self._reply(message, frame, label, sub if verb == "subscribe" else None)  # only its subscribe's answer ends one
            return None
        return self.ignore("no known event", frame)

    def _reply(self, message: dict[str, Any], frame: bytes | str, label: str, sub: NexusSubscription | None) -> None:
        """Log a reply and act on it: a refused subscription ends (alone), an answered one is heard of."""
        fields = message["data"] if isinstance(message.get("data"), dict) else message
        verdict = judge(fields, SUCCESS_CODES)
        self.log_reply(label, verdict, frame)
        if sub is None:
            if label == "unmatched reply":
                self.ignore(f"a reply ({verdict.outcome}) matching no request", frame)
            return
        if verdict.outcome == "refused":
            text = self.safe(verdict.text)
            code = verdict.code if isinstance(verdict.code, int) else self.safe(verdict.code)
            said = " ".join(str(part) for part in (code, text) if part not in (None, "")) or "a refusal"
            error = SubscriptionError(f"Nexus refused {label}: {said}; {sub.hint()}", code, text)
            self.refuse(sub, error.because(Cause.SUBSCRIPTION, Cause.SUBSCRIPTION.advise(said=said, detail=sub.hint())))
        else:
            self.heard(sub)
        return

    def _about(self, message: dict[str, Any]) -> NexusSubscription | None:
        """The subscription a reply without a known request id is about: the one its ``event``
        and ``symbol`` (and ``book``) name, or the only one when it names none."""
        event, symbol, book = message.get("event"), message.get("symbol"), message.get("book")
        if event is None and symbol is None:
            return self.subscriptions[0] if len(self.subscriptions) == 1 and is_reply(message) else None
        matches = [
            s
            for s in self.subscriptions
            if (event is None or s.event == event) and (symbol is None or s.symbol == symbol) and (book is None or s.book == book)
        ]
        return matches[0] if len(matches) == 1 else None
