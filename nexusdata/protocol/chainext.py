"""The ChaiNext index feed: signed login, subscriptions, codes and pushes (sans-I/O).

Every message is ``{"op", "args"}``. A connection logs in (HMAC-SHA256 over
``"blockchain" + apiKey + signTime`` keyed by the API secret), then subscribes by ``topic`` and
``id``; each reply carries a ``code`` from :data:`CODES`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
import time
from typing import Any, Callable, Iterable

from ..errors import AuthenticationError, ServerError, SubscriptionError
from .session import Push, Session, dumps
from .tables import COIN_INDEX, COIN_INDEX_V3, INDEX, PAIR_INDEX, PAIR_INDEX_V3, Table

log = logging.getLogger("nexusdata.protocol")

TOPICS: dict[str, Table] = {
    "coin_index": COIN_INDEX,
    "pair_index": PAIR_INDEX,
    "index": INDEX,
    "coin_index_v3": COIN_INDEX_V3,
    "pair_index_v3": PAIR_INDEX_V3,
}
"""The subscribable topics and the table each fills."""

SUCCESS = 2001
LOGIN_AGAIN = 2010
MAX_RELOGINS = 3  # 2010s in a row without getting every subscription back before giving up

CODES: dict[int, str] = {
    2001: "success",
    2002: "wrong param",
    2003: "wrong password",
    2004: "double login",
    2005: "unauthorized access, please contact ChaiNext for permission",
    2006: "logout success",
    2009: "data transfer error",
    2010: "login status error, please login again",
    2011: "unknown error",
    2012: "login error",
    2013: "user absent",
    3001: "event absent",
    3002: "success",
    3004: "unsubscribe success",
    3005: "already subscribed",
    3006: "topic absent",
    3007: "coin absent",
    3008: "coin not subscribed",
    3009: "index not subscribed",
    3010: "index absent",
}
"""Every response code the document lists, with its text."""

SUBSCRIBED = frozenset({SUCCESS, 3002, 3005})
"""Subscribe replies that leave the subscription active (3005: it already was)."""
UNSUBSCRIBED = frozenset({SUCCESS, 3004, 3008, 3009})
"""Unsubscribe replies that leave it inactive (3008/3009: it already was)."""
LOGGED_OUT = frozenset({SUCCESS, 2006})


def sign(api_key: str, api_secret: str, sign_time: int) -> str:
    """The login signature: hex HMAC-SHA256 of ``"blockchain" + api_key + sign_time``."""
    message = f"blockchain{api_key}{sign_time}".encode()
    return hmac.new(api_secret.encode(), message, hashlib.sha256).hexdigest()


def login_request(api_key: str, api_secret: str, now: float) -> dict[str, Any]:
    """A signed login request; ``signTime`` is ``now`` in whole seconds."""
    sign_time = int(now)
    return {
        "op": "login",
        "args": {"signTime": sign_time, "apiKey": api_key, "signature": sign(api_key, api_secret, sign_time)},
    }


def message(op: str, args: Any) -> dict[str, Any]:
    """Any ChaiNext message: requests, replies and pushes share this shape."""
    return {"op": op, "args": args}


def reply(op: str, code: int, info: str | None = None, **extra: Any) -> dict[str, Any]:
    """A server reply such as ``loginResponse`` (used by the simulator); ``info`` defaults to the
    code's documented text."""
    return message(op, {**extra, "info": CODES.get(code, "unknown error") if info is None else info, "code": code})


def code_error(code: int | None, info: str | None, context: str) -> ServerError:
    """The exception for a failure ``code`` in reply to ``context`` (login, subscribe, ...).
    ``info`` must already be safe to show (see :meth:`Session.safe`)."""
    text = info or (CODES.get(code, "unknown code") if code is not None else "no code")
    if context == "login":
        return AuthenticationError(f"ChaiNext refused the login: {code} {text}", code, info)
    if context.startswith("subscribe"):
        return SubscriptionError(f"ChaiNext refused {context}: {code} {text}", code, info)
    return ServerError(f"ChaiNext answered {context} with {code} {text}", code, info)


@dataclass(frozen=True)
class IndexSubscription:
    """One ChaiNext subscription: a topic and the coin or index id."""

    topic: str
    id: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "id", str(self.id))  # replies are matched by the id's text

    @property
    def kind(self) -> str:
        """The push kind this subscription produces (the topic)."""
        return self.topic

    def request(self, op: str) -> dict[str, Any]:
        return message(op, {"topic": self.topic, "id": self.id})


class ChaiNextSession(Session):
    """One ChaiNext connection: log in, subscribe once logged in, log in again on code 2010,
    unsubscribe and log out on finish."""

    def __init__(
        self,
        subscriptions: Iterable[IndexSubscription],
        api_key: str,
        api_secret: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.subscriptions = tuple(subscriptions)
        prefixes = {(b'{"op":"%s","args":{' % s.topic.encode(), s.topic) for s in self.subscriptions}
        super().__init__(secrets=(api_secret,), clock=clock, push_prefixes=prefixes)
        self._key = api_key
        self._secret = api_secret
        self.logged_in = False
        self.active: set[IndexSubscription] = set()
        self._stopping = False
        self._relogins = 0

    @property
    def ready(self) -> bool:
        return self.logged_in and self.active.issuperset(self.subscriptions)

    def _login(self) -> None:
        request = login_request(self._key, self._secret, self.clock())
        self._secrets += (request["args"]["signature"],)  # hex: it has no other form
        self.outbox.append(dumps(request))

    def start(self) -> None:
        self._login()

    def ping(self) -> None:
        self.outbox.append(dumps(message("ping", {})))

    def finish(self) -> None:
        self._stopping = True
        if not self.logged_in:
            self.finished = True
            return
        for sub in self.subscriptions:
            if sub in self.active:
                self.outbox.append(dumps(sub.request("unsubscribe")))
        self.outbox.append(dumps(message("logout", {})))

    def _subscribe(self) -> None:
        for sub in self.subscriptions:
            if sub not in self.active:
                self.outbox.append(dumps(sub.request("subscribe")))

    def _sub_of(self, args: dict[str, Any]) -> IndexSubscription | None:
        """The subscription a reply is about: its topic and id, or when the reply names none,
        the one subscription still pending (if exactly one is)."""
        topic, id_ = args.get("topic"), args.get("id")
        if isinstance(topic, str) and isinstance(id_, (str, int)) and not isinstance(id_, bool):
            return IndexSubscription(topic, str(id_))
        pending = [s for s in self.subscriptions if s not in self.active]
        return pending[0] if len(pending) == 1 else None

    def dispatch(self, message: dict[str, Any], frame: bytes | str) -> Push | None:
        op = message.get("op")
        args = message.get("args")
        if not isinstance(op, str) or (args is not None and not isinstance(args, dict)):
            return self.reject("no op or args of the wrong shape", frame)
        if op in TOPICS:
            if args is None:
                return self.reject(f"{op} without args", frame)
            return op, args
        if op == "pong":
            return None
        args = args or {}
        code = args.get("code")
        if isinstance(code, bool) or not isinstance(code, int):
            code = None
        info = self.safe(args.get("info"))
        if code == LOGIN_AGAIN:
            return self._relogin(op)
        if op == "loginResponse":
            if code == SUCCESS:
                self.logged_in = True
                if self._stopping:
                    self.finish()
                else:
                    self._subscribe()
            else:
                self.error = code_error(code, info, "login")
            return None
        if op in ("subscribeResponse", "unsubscribeResponse") and code is None:
            return self.reject(f"{op} without a code", frame)
        if op == "subscribeResponse":
            sub = self._sub_of(args)
            if code not in SUBSCRIBED and (sub is None or sub in self.subscriptions):
                self.error = code_error(code, info, f"subscribe {sub.topic} {sub.id}" if sub else "subscribe")
                return None
            if sub is None or sub not in self.subscriptions:
                return self.ignore("reply for a subscription not asked for", frame)
            self.active.add(sub)
            if self.ready:
                self._relogins = 0  # a full recovery: a later 2010 starts a new count
            return None
        if op == "unsubscribeResponse":
            sub = self._sub_of(args)
            if code in UNSUBSCRIBED and sub is not None:
                self.active.discard(sub)
            elif code not in UNSUBSCRIBED:
                log.warning("unsubscribe answered %s %s", code, info)
            return None
        if op == "logoutResponse":
            if code not in LOGGED_OUT:
                log.warning("logout answered %s %s", code, info)
            self.logged_in = False
            self.finished = True
            return None
        return self.ignore("unknown op", frame)

    def _relogin(self, op: str) -> Push | None:
        """Code 2010: the server forgot the login (session expiry). Log in again; the login
        reply then resubscribes whatever is not active."""
        log.info("ChaiNext asked to log in again (2010 in %s)", self.safe(op))
        self._relogins += 1
        if self._relogins > MAX_RELOGINS:
            self.error = code_error(LOGIN_AGAIN, CODES[LOGIN_AGAIN], "login")
            return None
        self.logged_in = False
        self.active.clear()
        self._login()
        return None
