"""The sans-I/O session both feeds share: frames in, data pushes and frames to send out.

A :class:`Session` is one connection's protocol state. The transport feeds it every text frame it
receives and sends whatever lands in :attr:`Session.outbox`; the session never touches a socket,
or a thread, and takes the time from an injectable clock, which is what lets the tests drive it with plain strings.
"""

from __future__ import annotations

import logging
import time
from urllib.parse import quote, quote_plus
from abc import ABC, abstractmethod
from typing import Any, Callable, Iterable

import orjson

from ..errors import NexusDataError

log = logging.getLogger("nexusdata.protocol")

Push = tuple[str, Any]
"""A data push: (kind, payload). ``kind`` is the Nexus event or ChaiNext topic."""

_PREVIEW = 120


def dumps(message: Any) -> str:
    """Serialise a request the way both feeds expect: compact JSON text."""
    return orjson.dumps(message).decode()


def secret_forms(secrets: Iterable[str]) -> tuple[str, ...]:
    """Each secret as it may appear in a frame or URL a server echoes: raw, percent-encoded,
    JSON-escaped. Longest first, so no form is left half replaced."""
    forms = {f for s in secrets if s for f in (s, quote(s, safe=""), quote_plus(s), dumps(s)[1:-1])}
    return tuple(sorted(forms, key=len, reverse=True))


class Session(ABC):
    """Per-connection protocol state machine shared by both feeds.

    Subclasses implement :meth:`start`, :meth:`dispatch`, :meth:`ping` and :meth:`finish`.
    ``error`` is set (never raised) when the server refuses credentials or a subscription, so the
    transport decides what to do with it.
    """

    def __init__(
        self, secrets: Iterable[str] = (), clock: Callable[[], float] = time.time, push_prefixes: Iterable[tuple[bytes, str]] = ()
    ) -> None:
        self.clock = clock
        self._push_prefixes = tuple(push_prefixes)
        self.outbox: list[str] = []
        self.error: NexusDataError | None = None
        self.malformed = 0
        self.unknown = 0
        self.finished = False
        self._secrets = secret_forms(secrets)

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

    def peek(self, frame: bytes) -> str | None:
        """The kind of a data push whose text starts exactly as the documents show pushes
        (``{"event":"API_MARKETDEPTH","data":`` ...), told without decoding it; ``None`` for
        any other frame, which :meth:`receive` then decodes. A frame that starts right but is
        malformed further on is caught when its batch is typed."""
        for prefix, kind in self._push_prefixes:
            if frame.startswith(prefix):
                return kind
        return None

    def take_outbox(self) -> list[str]:
        """The frames to send now, emptying the outbox."""
        out, self.outbox = self.outbox, []
        return out

    # -- for subclasses --------------------------------------------------------------------------

    @abstractmethod
    def dispatch(self, message: dict[str, Any], frame: bytes | str) -> Push | None:
        """Handle one decoded JSON object."""

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
        """``text`` with every secret this session knows replaced by ``***``."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text
