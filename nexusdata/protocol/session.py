"""The sans-I/O session both feeds share: frames in, data pushes and frames to send out.

A :class:`Session` is one connection's protocol state. The transport feeds it every text frame it
receives and sends whatever lands in :attr:`Session.outbox`; the session never touches a socket,
or a thread, and takes the time from an injectable clock, which is what lets the tests drive it with plain strings.
"""

from __future__ import annotations

import logging
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, NamedTuple, Protocol, TypeVar
from urllib.parse import quote, quote_plus

import orjson

from ..errors import Cause, ConnectionFailedError, NexusDataError, SubscriptionError
from .replies import Verdict

log = logging.getLogger("nexusdata.protocol")

Push = tuple[str, Any]
"""A data push: (kind, payload). ``kind`` is the Nexus event or ChaiNext topic."""


class Stranger(NamedTuple):
    """Another service, as a session tells its server: its name, title, endpoint path and whether
    a message has its shape."""

    name: str
    title: str
    path: str
    looks_like: Callable[[Mapping[str, Any]], bool]


def serves(places: Iterable[tuple[str, str]]) -> str:
    """Where services' endpoints live, in words: ``Nexus serves /api/realtime, ChaiNext serves /websocket``."""
    return ", ".join(f"{title} serves {path}" for title, path in places)


_PREVIEW = 120
_REPLY_TEXT = 300  # characters of a reply kept in the reply log
SILENT_AFTER = 5.0
"""Seconds a subscription may go without a push or a reply before it is reported as silent."""


class Reply(NamedTuple):
    """One entry of the reply log: when a server's answer arrived, the request it answers
    (``subscribe API_MARKETDEPTH BTCUSDT``, ``login``, ``ping`` ...), how it was judged
    (``ok``, ``refused``, ``ack``), the server's code and the reply's text (secrets scrubbed)."""

    time: float
    request: str
    outcome: str
    code: int | str | None
    text: str


class Silence(NamedTuple):
    """A subscription that produced neither a push nor a reply in time, and the likely causes."""

    subscription: Subscribable | None  # None: the login itself went unanswered
    message: str


def dumps(message: Any) -> str:
    """Serialise a request the way both feeds expect: compact JSON text."""
    return orjson.dumps(message).decode()


def batch(data: Any) -> bool:
    """Whether a push's payload is a non-empty list of objects: several pushes in one frame."""
    return isinstance(data, list) and bool(data) and all(isinstance(item, dict) for item in data)


SHORT_SECRET = 8
"""Characters below which a secret is masked only where it stands as a whole token, not inside a
word: masking every ``x`` of a token ``x`` garbles the text (``ne***us``, ``/api/***altime``) and
hides nothing a guess would not find. Longer secrets are masked wherever they appear, glued to
other text too (a server may echo one inside a longer string)."""


class Secrets:
    """Masks secrets in text with ``***``, in every form a server may echo them: raw,
    percent-encoded, JSON-escaped. A secret of :data:`SHORT_SECRET` characters or more is masked
    wherever it appears; a shorter one where no letter, digit or ``_`` touches it on either side.
    ``add`` takes more (a login's signature)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._forms: dict[str, bool] = {}  # each form, and whether it is masked only as a whole token
        self._pattern: re.Pattern[str] | None = None
        self.add(*secrets)

    def add(self, *secrets: str) -> None:
        for secret in secrets:
            if secret:
                for form in (secret, quote(secret, safe=""), quote_plus(secret), dumps(secret)[1:-1]):
                    self._forms[form] = self._forms.get(form, True) and len(secret) < SHORT_SECRET
        # longest first: no form is left half masked by a shorter one that starts where it does
        alternatives = (
            rf"(?<!\w){re.escape(form)}(?!\w)" if whole else re.escape(form)
            for form, whole in sorted(self._forms.items(), key=lambda item: len(item[0]), reverse=True)
        )
        self._pattern = re.compile("|".join(alternatives)) if self._forms else None

    def scrub(self, text: str) -> str:
        """``text`` with every secret masked."""
        return self._pattern.sub("***", text) if self._pattern is not None else text


class Subscribable(Protocol):
    """What a session needs of its feed's subscriptions (frozen dataclasses, so hashable)."""

    @property
    def kind(self) -> str:
        """The push kind the subscription produces."""
        ...


SubT = TypeVar("SubT", bound=Subscribable)


class Session(ABC, Generic[SubT]):
    """Per-connection protocol state machine shared by both feeds.

    Subclasses implement :meth:`start`, :meth:`dispatch`, :meth:`ping` and :meth:`finish`.
    ``error`` is set (never raised) when the server refuses credentials or a subscription, so the
    transport decides what to do with it.
    """

    subscriptions: tuple[SubT, ...] = ()
    object_kinds: frozenset[str] = frozenset()
    """Push kinds whose payload is one object (a list of them is a batch)."""
    title = ""
    """The service's name in messages (``Nexus``)."""
    path = ""
    """Where the service's endpoint lives (``/api/realtime``)."""

    def __init__(
        self,
        secrets: Iterable[str] = (),
        clock: Callable[[], float] = time.time,
        push_prefixes: Iterable[tuple[bytes, str]] = (),
        strangers: Iterable[Stranger] = (),
    ) -> None:
        self.clock = clock
        self._strangers = tuple(strangers)
        self._push_prefixes = tuple(push_prefixes)
        self.outbox: list[str] = []
        self.error: NexusDataError | None = None
        self.malformed = 0
        self.unknown = 0
        self.finished = False
        self._secrets = Secrets(secrets)
        self.replies: list[Reply] = []
        """Every answer to a request this session sent, in order (see :class:`Reply`)."""
        self.refused: dict[SubT, SubscriptionError] = {}
        """Subscriptions the server refused; the others go on (all refused: :attr:`error`)."""
        self.reconnect: str | None = None
        """Set (to the reason) when the session needs a fresh connection to go on."""
        self.clock_offset: float | None = None
        """Local clock minus the server's (seconds), from the handshake's ``Date`` header."""
        self.pushed = False
        self._pending: dict[SubT, float | None] = {}  # subscription → since when it is awaited
        self._markers: dict[SubT, bytes | None] = {}

    # -- what the transport calls ----------------------------------------------------------------

    @abstractmethod
    def start(self) -> None:
        """Queue the opening frames (login and/or subscriptions)."""

    @abstractmethod
    def ping(self) -> None:
        """Queue the feed's application-level ping."""

    @abstractmethod
    def finish(self) -> None:
        """Queue what a clean stop sends (unsubscribe, logout); ``finished`` turns true once the
        server has answered whatever needs an answer."""

    @abstractmethod
    def add(self, sub: SubT) -> None:
        """Subscribe to ``sub`` on this connection too (a live handle's ``subscribe``): its request
        is queued now if the session is under way, else it goes with the others."""

    @abstractmethod
    def remove(self, sub: SubT) -> None:
        """Stop ``sub`` on this connection (a live handle's ``unsubscribe``): its unsubscribe
        request is queued if it was subscribed."""

    @property
    @abstractmethod
    def ready(self) -> bool:
        """Whether every subscription is in place (sent, or acknowledged where the feed replies)."""

    def receive(self, frame: bytes | str) -> Push | None:
        """Parse one text frame. Returns the data push it carries, or ``None`` for anything else
        (replies, pongs, unknown or malformed frames, which are counted and logged)."""
        try:
            message = orjson.loads(frame)
        except orjson.JSONDecodeError:
            return self.reject("not JSON", frame)
        if not isinstance(message, dict):
            return self.reject("not a JSON object", frame)
        return self.dispatch(message, frame)

    def frames_of(self, frame: bytes) -> list[tuple[str, bytes]]:
        """The data pushes a frame that :meth:`peek` did not recognise carries, as (kind, frame)
        pairs ready for the buffers: none (a reply, pong, unknown or malformed frame), the frame
        itself, or one frame per push when the server batched several into one (a list
        payload for a kind whose push is one object)."""
        push = self.receive(frame)
        if push is None:
            return []
        kind, payload = push
        if isinstance(payload, list) and kind in self.object_kinds:
            return [(kind, self.encode_push(kind, item)) for item in payload]
        return [(kind, frame if isinstance(frame, bytes) else frame.encode())]

    @abstractmethod
    def encode_push(self, kind: str, payload: Any) -> bytes:
        """One push of ``kind`` as the frame a server would send for it alone."""

    def saw_frames(self, kinds: list[str], frames: list[bytes]) -> None:
        """Note a socket read's data pushes (called only while :attr:`awaiting`): a waiting
        subscription is heard of by a push of its kind, or, when several subscriptions share the
        kind, by one whose frame names the subscription's key."""
        self.pushed = True
        for sub in list(self._pending):
            marker = self._markers.get(sub)
            if any(k == sub.kind and (marker is None or marker in f) for k, f in zip(kinds, frames)):
                del self._pending[sub]

    @property
    def awaiting(self) -> bool:
        """Whether some subscription has produced neither a push nor a reply yet."""
        return bool(self._pending)

    def expect(self, sub: SubT, marker: bytes | None) -> None:
        """Start waiting to hear of ``sub`` (its subscribe request was just queued; the wait is
        timed from the next :meth:`silent` check); ``marker`` is text its pushes carry when
        several subscriptions share a kind."""
        self._pending[sub] = None
        shared = sum(s.kind == sub.kind for s in self.subscriptions) > 1
        self._markers[sub] = marker if shared else None

    def heard(self, sub: SubT) -> None:
        """``sub`` was answered (or pushed): it is not silent."""
        self._pending.pop(sub, None)

    def silent(self, now: float) -> list[Silence]:
        """Subscriptions silent for :data:`SILENT_AFTER` seconds, each reported once."""
        for sub, since in self._pending.items():
            if since is None:
                self._pending[sub] = now
        late = {sub: now - since for sub, since in self._pending.items() if since is not None and now - since >= SILENT_AFTER}
        for sub in late:
            del self._pending[sub]
        return [Silence(sub, self.silence_hint(sub, seconds)) for sub, seconds in late.items()]

    @abstractmethod
    def silence_hint(self, sub: SubT, seconds: float) -> str:
        """What a silent subscription likely means, in words the user can act on."""

    def log_reply(self, request: str, verdict: Verdict, frame: bytes | str) -> None:
        """Keep one answer in the reply log, secrets scrubbed and cut to a few hundred characters."""
        text = frame.decode("utf-8", "replace") if isinstance(frame, (bytes, bytearray)) else str(frame)
        self.replies.append(Reply(self.clock(), request, verdict.outcome, verdict.code, self.scrub(text)[:_REPLY_TEXT]))

    def refuse(self, sub: SubT, error: SubscriptionError) -> None:
        """The server refused ``sub``: it ends alone, unless it was the last one standing, when
        the refusal ends the session (:attr:`error`)."""
        self.heard(sub)
        self.refused[sub] = error
        log.warning("%s", error)
        if all(s in self.refused for s in self.subscriptions):
            self.error = error

    def peek(self, frame: bytes) -> str | None:
        """The kind of a data push whose text starts exactly as the documents show pushes
        (``{"event":"API_MARKETDEPTH","data":`` ...), told without decoding it; ``None`` for
        any other frame, which :meth:`receive` then decodes. A frame that starts right but is
        malformed further on is caught when its batch is typed."""
        for prefix, kind in self._push_prefixes:
            if frame.startswith(prefix):
                return kind
        return None

    @property
    def push_prefix(self) -> tuple[bytes, str] | None:
        """How every push of the subscribed kinds starts and their kind, when they are of one
        kind with a known start (the usual connection): a read of pushes alone is then told
        apart in one pass. ``None`` otherwise."""
        return self._push_prefixes[0] if len(self._push_prefixes) == 1 else None

    def take_outbox(self) -> list[str]:
        """The frames to send now, emptying the outbox."""
        out, self.outbox = self.outbox, []
        return out

    # -- for subclasses --------------------------------------------------------------------------

    @abstractmethod
    def dispatch(self, message: dict[str, Any], frame: bytes | str) -> Push | None:
        """Handle one decoded JSON object."""

    def stranger(self, message: Mapping[str, Any], frame: bytes | str) -> bool:
        """Whether ``message``, before any push, has another service's shape: the URL is that
        service's, and :attr:`error` says so (retrying cannot help)."""
        if self.pushed:
            return False
        other = next((s for s in self._strangers if s.looks_like(message)), None)
        if other is None:
            return False
        places = [(self.title, self.path), *((s.title, s.path) for s in self._strangers)]
        advice = Cause.OTHER_SERVICE.advise(paths=serves(places), other=other.name)
        self.error = ConnectionFailedError(
            f"the server answers in {other.title}'s message shape ({self.preview(frame)}): this looks like a"
            f" {other.title} server, not {self.title}; {advice}"
        ).because(Cause.OTHER_SERVICE, advice)
        return True

    def reject(self, reason: str, frame: bytes | str) -> Push | None:
        """Count and log a malformed frame; it never reaches the data. Returns ``None`` so a
        dispatcher can ``return self.reject(...)``."""
        self.malformed += 1
        log.warning("malformed frame ignored (%s): %s", reason, self.preview(frame))
        return None

    def ignore(self, reason: str, frame: bytes | str) -> Push | None:
        """Count and log a well-formed frame this client does not recognise (returns ``None``)."""
        self.unknown += 1
        log.info("unrecognised message ignored (%s): %s", reason, self.preview(frame))
        return None

    def preview(self, frame: bytes | str) -> str:
        """A short, secret-free excerpt of a frame for log lines (scrubbed whole, then cut, so
        no part of a secret can slide into view)."""
        text = frame.decode("utf-8", "replace") if isinstance(frame, (bytes, bytearray)) else str(frame)
        size = len(text)
        text = self.scrub(text)[:_PREVIEW]
        return f"{text!r}" + (f" … ({size} chars)" if size > _PREVIEW else "")

    def safe(self, value: object) -> str | None:
        """A value taken from a server frame, fit for a log line or an exception message:
        strings and numbers only (bounded, secrets scrubbed), anything else ``None``."""
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            return None
        return self.scrub(str(value))[:_PREVIEW]

    def scrub(self, text: str) -> str:
        """``text`` with every secret this session knows masked (see :class:`Secrets`)."""
        return self._secrets.scrub(text)
