"""The ChaiNext index feed: signed login, subscriptions, codes and pushes (sans-I/O).

Every message is ``{"op", "args"}``. A connection logs in (HMAC-SHA256 over
``"blockchain" + apiKey + signTime`` keyed by the API secret), then subscribes by ``topic`` and
``id``; each reply carries a ``code`` from :data:`CODES`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from ..errors import AuthenticationError, Cause, ServerError, SubscriptionError
from .replies import Verdict, code_of, is_reply, judge
from .session import SILENT_AFTER, Push, Session, Silence, Stranger, batch, dumps
from .tables import COIN_INDEX, COIN_INDEX_V3, INDEX, PAIR_INDEX, PAIR_INDEX_V3, Table
from .urls import CHAINEXT_PATH

log = logging.getLogger("nexusdata.protocol")

TOPICS: dict[str, Table] = {
    "coin_index": COIN_INDEX,
    "pair_index": PAIR_INDEX,
    "index": INDEX,
    "coin_index_v3": COIN_INDEX_V3,
    "pair_index_v3": PAIR_INDEX_V3,
}
"""The subscribable topics and the table each fills."""

FIRST_KEYS: dict[str, bytes] = {
    "coin_index": b'{"cid":',
    "pair_index": b'{"symbol":',
    "index": b'{"indexId":',
    "coin_index_v3": b'{"underlyingSymbol":',
    "pair_index_v3": b'{"underlyingSymbol":',
}
"""How each topic's ``args`` start in the document's examples: a frame starting exactly so is a
push, known without decoding it (a server writing keys in another order is decoded first)."""

SUCCESS = 2001
DOUBLE_LOGIN = 2004
LOGIN_AGAIN = 2010
SIGNATURE_CODES = frozenset({2003, 2012})
"""Login refusals a bad signature gives: a wrong secret, or a clock off by more than the window."""
SIGN_WINDOW = 300
"""Seconds ``signTime`` may be off the server's clock (the document's five minutes)."""
LOGIN_WAIT = 5.0
"""Seconds to wait for a login reply nexusdata recognises before subscribing anyway."""
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
LOGGED_IN = frozenset({SUCCESS})

_REPLY_OPS = {"login": "login", "subscribe": "subscribe", "unsubscribe": "unsubscribe", "logout": "logout", "pong": "ping"}


def answered_op(op: str) -> str | None:
    """The request a reply's op answers, whatever the server calls it: ``loginResponse``,
    ``login``, ``login_response`` and ``LoginAck`` all answer ``login``; ``pong`` answers ``ping``."""
    name = op.lower().replace("_", "").replace("-", "")
    for suffix in ("response", "resp", "reply", "ack", "result"):
        if name.endswith(suffix) and name != suffix:
            name = name[: -len(suffix)]
            break
    return _REPLY_OPS.get(name)


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


def code_error(code: int | str | None, info: str | None, context: str, detail: str = "") -> ServerError:
    """The exception for a failure ``code`` in reply to ``context`` (login, subscribe, ...), with
    its :class:`~nexusdata.errors.Cause`. ``info`` must already be safe to show (see
    :meth:`Session.safe`); ``detail`` says what to check."""
    text = info or (CODES.get(code, "unknown code") if isinstance(code, int) else "no code")
    shown = f"{code} {text}" if code is not None else text
    said = f"{shown}; {detail}" if detail else shown
    if context == "login":
        cause = Cause.SIGNATURE if code in SIGNATURE_CODES else Cause.CREDENTIALS
        advice = cause.advise(detail=detail) if detail else ""  # the credentials' advice needs the service: nd.check adds it
        return AuthenticationError(f"ChaiNext refused the login: {said}", code, info).because(cause, advice)
    if context.startswith("subscribe"):
        error = SubscriptionError(f"ChaiNext refused {context}: {said}", code, info)
        return error.because(Cause.SUBSCRIPTION, Cause.SUBSCRIPTION.advise(said=shown, detail=detail))
    return ServerError(f"ChaiNext answered {context} with {said}", code, info)


def clock_hint(offset: float | None) -> str:
    """What a refused signature likely means, given the local clock's offset from the server's."""
    if offset is None:
        return (
            "check the API key and secret, and that this machine's clock is right (the signature holds"
            " the time and the server accepts 5 minutes either way; it sent no Date header to compare with)"
        )
    if abs(offset) > SIGN_WINDOW * 0.8:
        return (
            f"this machine's clock is {abs(offset):.0f}s {'ahead of' if offset > 0 else 'behind'} the server's"
            f" (its Date header) and ChaiNext accepts a signTime within {SIGN_WINDOW // 60} minutes: set the clock right (NTP)"
        )
    return f"check the API key and secret (this machine's clock agrees with the server's within {abs(offset):.0f}s)"


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

    @property
    def label(self) -> str:
        """The subscription in a few words: ``coin_index 1``."""
        return f"{self.topic} {self.id}"

    @property
    def marker(self) -> bytes:
        """Text its pushes carry (the id's digits), to tell them loosely from others of its topic:
        a false match only spares a silence warning."""
        return self.id.encode()

    def request(self, op: str) -> dict[str, Any]:
        return message(op, {"topic": self.topic, "id": self.id})


def _prefixes(subscriptions: Iterable[IndexSubscription]) -> tuple[tuple[bytes, str], ...]:
    """How the pushes of ``subscriptions`` start, for :meth:`Session.peek` (one per kind)."""
    return tuple(
        {
            (b'{"op":"%s","args":%s' % (s.topic.encode(), FIRST_KEYS[s.topic]), s.topic)
            for s in subscriptions
            if s.topic in FIRST_KEYS
        }
    )


def looks_like(message: Mapping[str, Any]) -> bool:
    """Whether a decoded message has ChaiNext's shape: an ``op`` with ``args``, no ``event``."""
    return "op" in message and "args" in message and "event" not in message


class ChaiNextSession(Session[IndexSubscription]):
    """One ChaiNext connection: log in, subscribe once logged in, log in again on code 2010,
    unsubscribe and log out on finish. Replies are recognised under any op that names their
    request (``loginResponse``, ``login``, ...) with codes as numbers or numeric strings."""

    object_kinds = frozenset(TOPICS)
    title = "ChaiNext"
    path = CHAINEXT_PATH

    def __init__(
        self,
        subscriptions: Iterable[IndexSubscription],
        api_key: str,
        api_secret: str,
        clock: Callable[[], float] = time.time,
        strangers: Iterable[Stranger] = (),
    ) -> None:
        self.subscriptions = tuple(subscriptions)
        super().__init__(secrets=(api_secret,), clock=clock, push_prefixes=_prefixes(self.subscriptions), strangers=strangers)
        self._key = api_key
        self._secret = api_secret
        self.logged_in = False
        self.active: set[IndexSubscription] = set()
        self._stopping = False
        self._relogins = 0
        self._relogging = False  # logging in again after a 2010
        self._login_sent: float | None = None  # while a login waits for its reply
        self._assumed = False  # no recognisable login reply came: subscribed anyway
        self._unrecognised: str | None = None  # the newest message not understood, for messages

    @property
    def ready(self) -> bool:
        return self.logged_in and self.active.issuperset(s for s in self.subscriptions if s not in self.refused)

    def _login(self) -> None:
        now = self.clock()
        request = login_request(self._key, self._secret, now)
        self._secrets.add(request["args"]["signature"])
        self.outbox.append(dumps(request))
        self._login_sent = now

    def start(self) -> None:
        self._login()

    def add(self, sub: IndexSubscription) -> None:
        if sub in self.subscriptions:
            return
        self.subscriptions = (*self.subscriptions, sub)
        self._push_prefixes = _prefixes(self.subscriptions)
        self.refused.pop(sub, None)
        if self.logged_in and not self._stopping and not self._relogging:
            self.outbox.append(dumps(sub.request("subscribe")))
            self.expect(sub, sub.marker)

    def remove(self, sub: IndexSubscription) -> None:
        if sub not in self.subscriptions:
            return
        self.subscriptions = tuple(s for s in self.subscriptions if s != sub)
        self.heard(sub)  # no longer awaited
        self.refused.pop(sub, None)
        if sub in self.active:  # answered: its reply takes it out of active
            self.outbox.append(dumps(sub.request("unsubscribe")))

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

    def encode_push(self, kind: str, payload: Any) -> bytes:
        return orjson.dumps(message(kind, payload))

    def silence_hint(self, sub: IndexSubscription, seconds: float) -> str:
        return (
            f"ChaiNext sent no push and no reply for subscribe {sub.label} in {seconds:.0f}s: check that id"
            f" {sub.id!r} exists for {sub.topic} and that the API key has permission for it"
        )

    def silent(self, now: float) -> list[Silence]:
        """Besides silent subscriptions: a login with no recognisable reply after
        :data:`LOGIN_WAIT` seconds subscribes anyway (once); if the subscriptions then stay
        silent too, the session ends with an error that says so."""
        found: list[Silence] = []
        seen = f" (the newest message not understood: {self._unrecognised})" if self._unrecognised else ""
        if self._login_sent is not None and not self.logged_in and now - self._login_sent >= LOGIN_WAIT:
            self._login_sent, self._assumed, self.logged_in = None, True, True
            found.append(
                Silence(None, f"ChaiNext sent no login reply nexusdata recognises in {LOGIN_WAIT:.0f}s{seen}; subscribing anyway")
            )
            self._subscribe()
        late = super().silent(now)
        if self._assumed and late and not self.pushed and not self.active:
            self.error = ServerError(
                f"ChaiNext never answered the login in a form nexusdata recognises and sent nothing within"
                f" {SILENT_AFTER:.0f}s of subscribing{seen}; run `nexusdata check chainext --trace FILE` and report the trace"
            )
        return found + late

    def _subscribe(self) -> None:
        for sub in self.subscriptions:
            if sub not in self.active and sub not in self.refused:
                self.outbox.append(dumps(sub.request("subscribe")))
                self.expect(sub, sub.marker)

    def _sub_of(self, args: dict[str, Any], active: bool = False) -> IndexSubscription | None:
        """The subscription a reply is about: its topic and id, or when the reply names none,
        the only one it can be about (the one pending, or with ``active`` the one active)."""
        topic, id_ = args.get("topic"), args.get("id")
        if isinstance(topic, str) and isinstance(id_, (str, int)) and not isinstance(id_, bool):
            return IndexSubscription(topic, str(id_))
        if active:
            candidates = list(self.active)
        else:
            candidates = [s for s in self.subscriptions if s not in self.active and s not in self.refused]
        return candidates[0] if len(candidates) == 1 else None

    def dispatch(self, message: dict[str, Any], frame: bytes | str) -> Push | None:
        op = message.get("op")
        args = message.get("args")
        if not isinstance(op, str):
            if self.stranger(message, frame):
                return None
            return self.reject("no op", frame)
        if op in TOPICS:
            if (isinstance(args, dict) and not is_reply(args)) or batch(args):
                return op, args
            if args is None or not is_reply(args):
                return self.reject(f"{op} without args of the right shape", frame)
            answered: str | None = "subscribe"  # a reply under the topic's op
        else:
            answered = answered_op(op)
        if args is not None and not isinstance(args, dict):
            return self.reject("args of the wrong shape", frame)
        fields = {**{k: v for k, v in message.items() if k not in ("op", "args")}, **(args or {})}
        if code_of(fields.get("code")) == LOGIN_AGAIN:
            self.log_reply(answered or op, Verdict("refused", LOGIN_AGAIN, self.safe(fields.get("info"))), frame)
            return self._relogin(op)
        if answered is None and self._login_sent is not None and is_reply(fields):
            answered = "login"  # the login's reply under an op of its own
        handler = self._replies.get(answered) if answered else None
        if handler is None:
            self._unrecognised = self.preview(frame)
            return self.ignore("unknown op", frame)
        handler(fields, frame)
        return None

    @property
    def _replies(self) -> dict[str, Callable[[dict[str, Any], bytes | str], None]]:
        """The handler of each request's reply, by the request it answers."""
        return {
            "login": self._login_reply,
            "ping": self._pong,
            "subscribe": self._subscribe_reply,
            "unsubscribe": self._unsubscribe_reply,
            "logout": self._logout_reply,
        }

    def _pong(self, fields: dict[str, Any], frame: bytes | str) -> None:
        self.log_reply("ping", Verdict("ok", None, None), frame)

    def _unsubscribe_reply(self, fields: dict[str, Any], frame: bytes | str) -> None:
        sub = self._sub_of(fields, active=True)
        verdict = judge(fields, UNSUBSCRIBED)
        self.log_reply(f"unsubscribe {sub.label}" if sub else "unsubscribe", verdict, frame)
        if verdict.outcome == "refused":
            log.warning("unsubscribe answered %s %s", verdict.code, self.safe(verdict.text))
        elif sub is not None:
            self.active.discard(sub)

    def _logout_reply(self, fields: dict[str, Any], frame: bytes | str) -> None:
        verdict = judge(fields, LOGGED_OUT)
        self.log_reply("logout", verdict, frame)
        if verdict.outcome == "refused":
            log.warning("logout answered %s %s", verdict.code, self.safe(verdict.text))
        self.logged_in = False
        self.finished = True

    def _login_reply(self, fields: dict[str, Any], frame: bytes | str) -> None:
        verdict = judge(fields, LOGGED_IN)
        self.log_reply("login", verdict, frame)
        self._login_sent = None
        if verdict.outcome == "refused":
            if verdict.code == DOUBLE_LOGIN and self._relogging:
                self.reconnect = "ChaiNext answered the login after a 2010 with 2004 (double login): logging in afresh"
                return
            hint = clock_hint(self.clock_offset) if verdict.code in SIGNATURE_CODES else ""
            self.error = code_error(verdict.code, self.safe(verdict.text), "login", hint)
            return
        self.logged_in, self._relogging = True, False
        if self._stopping:
            self.finish()
        else:
            self._subscribe()
        return

    def _subscribe_reply(self, fields: dict[str, Any], frame: bytes | str) -> None:
        sub = self._sub_of(fields)
        verdict = judge(fields, SUBSCRIBED)
        label = f"subscribe {sub.label}" if sub else "subscribe"
        self.log_reply(label, verdict, frame)
        if sub is not None and sub not in self.subscriptions:
            self.ignore("reply for a subscription not asked for", frame)
            return
        if verdict.outcome == "refused":
            detail = f"check that id {sub.id!r} exists for {sub.topic} and that the API key may read it" if sub else ""
            error = code_error(verdict.code, self.safe(verdict.text), label, detail)
            if sub is None:
                self.error = error  # no telling which subscription it ends: all of them
            else:
                assert isinstance(error, SubscriptionError)
                self.refuse(sub, error)
            return
        if sub is None:
            self.ignore("subscribe reply naming no subscription", frame)
            return
        self.active.add(sub)
        self.heard(sub)
        if self.ready:
            self._relogins = 0  # a full recovery: a later 2010 starts a new count
        return

    def _relogin(self, op: str) -> Push | None:
        """Code 2010: the server forgot the login (session expiry). Log in again; the login
        reply then resubscribes whatever is not active."""
        log.info("ChaiNext asked to log in again (2010 in %s)", self.safe(op))
        self._relogins += 1
        if self._relogins > MAX_RELOGINS:
            self.error = code_error(LOGIN_AGAIN, CODES[LOGIN_AGAIN], "login")
            return None
        self.logged_in = False
        self._relogging = True
        self.active.clear()
        self._login()
        return None
