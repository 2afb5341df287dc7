"""One service connection in one background thread, upgraded to a websocket by websocket-client.

The thread connects, lets the protocol session log in and subscribe, keeps the connection alive
(application pings, a stall probe), hands data pushes to ``on_pushes`` a batch at a time (all
that one socket read brought) and, when the connection
drops, reconnects with backoff and a fresh session (so it logs in and subscribes again). The
rules live in the sans-I/O protocol layer (framing in :mod:`~nexusdata.protocol.websocket`, the
timers in :mod:`~nexusdata.protocol.deadlines`, the feed in the session); the thread only moves
bytes and the time between them and the socket. Errors
that retrying cannot fix (refused credentials or subscriptions, too many failed attempts) end the
thread and are kept in :attr:`Connection.error` for the caller's thread to raise.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..config import Endpoint, Options
from ..errors import Cause, ConnectionFailedError, NexusDataError, SubscriptionError
from ..protocol import Session
from ..protocol.deadlines import CLOSE_TIMEOUT, Action, Deadlines
from ..protocol.session import Reply
from ..protocol.websocket import BINARY, CLOSE, TEXT, Message, close_reason
from ..proxies import Route, route, target
from .backoff import Backoff
from .failures import Failure, describe, diagnose
from .sockets import connect_directly, open_tunnel, start_tls
from .wire import ConnectionLost, Wire

if TYPE_CHECKING:
    import websocket

log = logging.getLogger("nexusdata.transport")

PushHandler = Callable[[dict[str, list[bytes]], int, int], None]
"""``on_pushes(pushes, received_at_ns, connection_number)``, called on the connection's thread
with the data pushes of one socket read (their raw frames by kind, each kind's in order) and the
time the read returned."""

Tracer = Callable[[str, str], None]
"""``trace(direction, text)``: called on the connection's thread for every text frame sent
(``"sent"``) or received (``"received"``) and every connection event (``"event"``), secrets
scrubbed; for ``nexusdata check --trace``."""

MAX_REPLIES = 1000
"""Replies a connection keeps in its reply log (the newest; a ping's pong every 30 s fills it in
about eight hours)."""


@dataclass(frozen=True)
class Handshake:
    """What the websocket handshake told: the HTTP status, the TLS version (``None`` for
    ``ws://``), the server's ``Server`` header and the local clock's offset from its ``Date``
    header in seconds (local minus server; ``None`` without one)."""

    status: int
    tls: str | None
    server: str | None
    clock_offset: float | None


@dataclass(frozen=True)
class ConnectionEvent:
    """One line of the gap log: what happened to the connection, when and why."""

    time: float  # epoch seconds
    connection: int  # connection number it concerns (0: none yet)
    event: str  # "connected", "disconnected", "stalled", "connect_failed", "silent", "refused", "subscribed", "unsubscribed", "closed"
    reason: str


class Connection:
    """A self-healing connection to one endpoint with a fixed set of subscriptions."""

    def __init__(
        self,
        endpoint: Endpoint,
        subscriptions: Iterable[Any],
        on_pushes: PushHandler,
        options: Options | None = None,
        name: str = "nexusdata",
        done: threading.Event | None = None,
        trace: Tracer | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.subscriptions = tuple(subscriptions)
        self.options = options or Options()
        self._on_pushes = on_pushes
        self._backoff = Backoff(self.options.backoff_base, self.options.backoff_cap)
        self._stopping = threading.Event()
        self.ready = threading.Event()
        """Set while a connection is up with every subscription in place."""
        self.done = done or threading.Event()
        """Set when the thread has ended (stopped, or failed: see :attr:`error`); may be shared
        with an owner that sets it for its own reasons too."""
        self.error: NexusDataError | None = None
        self.number = 0
        self.messages = 0
        self.malformed = 0
        self.unknown = 0
        self.events: list[ConnectionEvent] = []
        self.replies: deque[Reply] = deque(maxlen=MAX_REPLIES)
        """The server's answers to this connection's requests, over every connection (newest kept)."""
        self.refused: dict[Any, SubscriptionError] = {}
        """Subscriptions the server refused: they end alone and are not asked for again."""
        self.failure: Failure | None = None
        """The newest failed attempt to connect, with its cause and advice."""
        self.handshake: Handshake | None = None
        """The newest connection's handshake."""
        self.route: Route | None = None
        """How the newest attempt reached the server: directly or through which proxy, and why."""
        self.tunnelled = False
        """Whether the newest attempt's proxy opened its tunnel (so a failure after it is the server's)."""
        self._trace = trace
        self.waiting_seconds = 0.0
        """Time the connection's thread has spent waiting for data: the room ingestion has (a
        live chart draws more while the thread mostly waits)."""
        self._session: Session | None = None
        self._changes: list[tuple[str, Any]] = []  # ("subscribed" | "unsubscribed", subscription), not yet sent
        self._changing = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"{name}-{endpoint.service}", daemon=True)

    # -- control, from the user's thread ---------------------------------------------------------

    def start(self) -> Connection:
        """Start the background thread; returns at once."""
        self._thread.start()
        return self

    def subscribe(self, subscription: Any) -> bool:
        """Add ``subscription``: sent on the open connection within a tick, and part of every
        connection after it. Whether it was new (a refused one may be asked for again)."""
        with self._changing:
            if subscription in self.subscriptions:
                return False
            self.subscriptions = (*self.subscriptions, subscription)
            self.refused.pop(subscription, None)
            self._changes.append(("subscribed", subscription))
        return True

    def unsubscribe(self, subscription: Any) -> bool:
        """Drop ``subscription``: unsubscribed on the open connection within a tick, and left out
        of every connection after it. Whether it was subscribed."""
        with self._changing:
            if subscription not in self.subscriptions:
                return False
            self.subscriptions = tuple(s for s in self.subscriptions if s != subscription)
            self._changes.append(("unsubscribed", subscription))
        return True

    def stop_soon(self) -> None:
        """Ask the thread to unsubscribe and close, without waiting (safe from its own
        callbacks: a feed that has all the pushes it wants calls it from ``on_pushes``)."""
        self._stopping.set()

    def stop(self, timeout: float | None = None) -> None:
        """Unsubscribe, close and join the thread (within ``timeout`` seconds, by default long
        enough for a pending connect attempt and a clean close)."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(self.options.connect_timeout + CLOSE_TIMEOUT + 2 if timeout is None else timeout)

    @property
    def alive(self) -> bool:
        """Whether the background thread is running."""
        return self._thread.is_alive()

    @property
    def reconnects(self) -> int:
        """Connections opened after the first one."""
        return max(self.number - 1, 0)

    @property
    def connected(self) -> bool:
        return self._session is not None

    def __repr__(self) -> str:
        state = "failed" if self.error else "connected" if self.connected else "stopped" if not self.alive else "connecting"
        return f"<Connection {self.endpoint.display_url} {state} #{self.number} messages={self.messages}>"

    # -- the thread ------------------------------------------------------------------------------

    def _note(self, event: str, reason: str) -> None:
        self.events.append(ConnectionEvent(time.time(), self.number, event, reason))
        if self._trace is not None:
            self._trace("event", reason if reason.startswith("HTTP ") else f"{event}: {reason}")
        level = logging.INFO if event in ("connected", "closed", "subscribed", "unsubscribed") else logging.WARNING
        log.log(level, "%s %s (connection %d): %s", self.endpoint.display_url, event, self.number, reason)

    def _run(self) -> None:
        # websocket-client (and ssl) load with the first connection, not with import nexusdata
        import websocket

        failures = 0
        try:
            while not self._stopping.is_set():
                try:
                    ws = self._connect()
                except (OSError, websocket.WebSocketException) as exc:
                    failures += 1
                    proxy = self.route.proxy if self.route else None
                    failure = diagnose(exc, self.endpoint.service, self.endpoint.display_url, self.options.connect_timeout, proxy)
                    self.failure = failure
                    self._note("connect_failed", failure.reason)
                    if failure.permanent is not None:  # retrying cannot fix it
                        raise failure.permanent from None
                else:
                    healthy = self._serve(ws)
                    if self.error is not None or self._stopping.is_set():
                        return
                    failures = 0 if healthy else failures + 1
                limit = self.options.max_failures
                if limit is not None and failures >= limit:
                    self.error = self._failed(
                        f"gave up on {self.endpoint.display_url} after {failures} consecutive failed attempts"
                        f" (last: {self.events[-1].reason if self.events else 'unknown'})"
                    )
                    return
                if failures and self._stopping.wait(self._backoff.delay(failures)):
                    return
        except NexusDataError as exc:
            self.error = exc
        except Exception as exc:  # a bug must not leave the caller waiting: surface it
            log.exception("connection thread failed")
            self.error = NexusDataError(f"connection thread failed: {describe(exc)}")
        finally:
            if self.error is None:
                self._never_connected()
            self.ready.clear()
            self.done.set()

    def _never_connected(self) -> None:
        """Stopped before any attempt got a connection up: that is an error, whatever the
        run's length, so it never ends in an unexplained empty result."""
        failed = [e for e in self.events if e.event == "connect_failed"]
        if self.number == 0 and failed:
            self.error = self._failed(
                f"could not connect to {self.endpoint.display_url} ({len(failed)} attempt(s) in"
                f" {failed[-1].time - failed[0].time:.1f}s): {failed[-1].reason}"
            )

    def _failed(self, message: str) -> ConnectionFailedError:
        """The run's error after attempts that all failed: the newest one's cause and advice (a
        connection that broke again and again: :attr:`Cause.DROPPED <nexusdata.errors.Cause>`)."""
        newest = self.failure if self.failure is not None and self.events[-1].event == "connect_failed" else None
        if newest is None:
            return ConnectionFailedError(message).because(Cause.DROPPED, Cause.DROPPED.advise())
        return ConnectionFailedError(message).because(newest.cause, newest.advice)

    def _connect(self) -> websocket.WebSocket:
        import websocket

        opts = self.options
        url = self.endpoint.connect_url
        host, port = target(url)
        self.route, self.tunnelled = route(url, opts.proxy, os.environ), False
        if self.route.proxy is None:
            sock = connect_directly(host, port, opts.connect_timeout)
        else:
            sock = open_tunnel(self.route.proxy, host, port, opts.connect_timeout)
            self.tunnelled = True
        if urlsplit(url).scheme == "wss":
            sock = start_tls(sock, host, opts.ca_file)
        ws = websocket.create_connection(
            url,
            timeout=opts.connect_timeout,
            skip_utf8_validation=True,  # orjson validates while decoding; pure-Python checks cost 10x
            enable_multithread=False,
            suppress_origin=True,
            socket=sock,  # the handshake only: the socket (and the route) are ours, websocket-client closes it on failure
        )
        self.handshake = _handshake(ws)
        return ws

    def _serve(self, ws: websocket.WebSocket) -> bool:
        """Run one connection until it drops or the thread is asked to stop. Returns whether it
        was healthy (delivered data or stayed up past the stall timeout)."""
        wire, session = self._open(ws)
        opts = self.options
        started = time.monotonic()
        deadlines = Deadlines(
            started, ping_interval=opts.ping_interval, stall_timeout=opts.stall_timeout, pong_timeout=opts.pong_timeout
        )
        pushes_before = self.messages
        try:
            session.start()
            self._flush(wire, session)
            outcome: bool | None = None
            while outcome is None:
                outcome = self._step(wire, session, deadlines, pushes_before)
            return outcome
        except ConnectionLost as exc:
            self._note("disconnected", str(exc))
        except OSError as exc:
            self._note("disconnected", describe(exc))
        finally:
            self._close(wire, session)
        return self.messages > pushes_before or time.monotonic() - started > opts.stall_timeout

    def _open(self, ws: websocket.WebSocket) -> tuple[Wire, Session]:
        """Number the new connection, make its session with the subscriptions wanted now and
        note it in the gap log."""
        self.number += 1
        assert ws.sock is not None, "create_connection returns an open connection"
        wire = Wire(ws.sock, self.options.max_message)
        with self._changing:  # the changes so far are in the set this session starts with
            session = self.endpoint.session([s for s in self.subscriptions if s not in self.refused])
            self._changes.clear()
        session.clock_offset = self.handshake.clock_offset if self.handshake else None
        self._session = session
        tls = f" ({self.handshake.tls})" if self.handshake and self.handshake.tls else ""
        self._note("connected", f"handshake complete{tls}")
        return wire, session

    def _step(self, wire: Wire, session: Session, deadlines: Deadlines, pushes_before: int) -> bool | None:
        """One read and what follows it: its pushes delivered, the ready flag kept, a stop begun,
        the timers run. The connection's outcome once it is over (see :meth:`_serve`), else ``None``."""
        waited = time.monotonic()
        messages = wire.read(deadlines.timeout(waited))
        now = time.monotonic()
        self.waiting_seconds += now - waited
        if messages:
            deadlines.on_frame(now)
            if not self._deliver(wire, session, messages, deadlines.closing):
                return self._end_session(session)
        if wire.failure is not None:  # after the pushes before the bad frame
            raise ConnectionLost(f"{wire.failure} (closed with {wire.failure.code})")
        if not deadlines.closing:
            self._follow(wire, session, deadlines, now)
        if deadlines.closing:  # done once the server answered, or at the close deadline
            if session.finished or Action.CLOSE_TIMED_OUT in deadlines.due(now):
                self._note("closed", "stopped by the caller")
                return True
            return None
        return self._keep_alive(wire, session, deadlines, now, pushes_before)

    def _follow(self, wire: Wire, session: Session, deadlines: Deadlines, now: float) -> None:
        """Mirror the session's readiness in :attr:`ready` (it drops while ChaiNext logs in again
        after code 2010), and begin a clean close once a stop was asked for (checked per read:
        a stop is noticed at once)."""
        if session.ready != self.ready.is_set():
            if session.ready:
                self.ready.set()
            else:
                self.ready.clear()
        if self._stopping.is_set():
            self.ready.clear()
            session.finish()
            self._flush(wire, session)
            deadlines.begin_close(now)

    def _keep_alive(self, wire: Wire, session: Session, deadlines: Deadlines, now: float, pushes_before: int) -> bool | None:
        """Do what the timers ask for now (keep-alive, stall detection, housekeeping); the
        connection's outcome if that ends it (stalled, or the session cannot go on), else ``None``."""
        for action in deadlines.due(now):
            if action is Action.STALLED:
                self._note("stalled", f"no frame for {deadlines.silent_for(now):.1f}s, probe unanswered")
                return self.messages > pushes_before
            if action is Action.HOUSEKEEPING:
                self._apply_changes(session)
                for silence in session.silent(session.clock()):
                    self._note("silent", silence.message)
                if session.error is not None:
                    return self._end_session(session)
            elif action is Action.PING:
                session.ping()
            elif action is Action.PROBE:
                wire.ping()
                session.ping()
            self._flush(wire, session)
        return None

    def _close(self, wire: Wire, session: Session) -> None:
        """Keep what the session learnt (counters, replies, refusals) and release the socket."""
        self.malformed += session.malformed
        self.unknown += session.unknown
        self.replies.extend(session.replies)
        for sub, refusal in session.refused.items():
            if sub not in self.refused:
                self.refused[sub] = refusal
                self._note("refused", str(refusal))
        self._session = None
        self.ready.clear()
        wire.close()

    def _apply_changes(self, session: Session) -> None:
        """Send the subscriptions added or dropped since the last tick, and log each in the gap log."""
        with self._changing:
            changes, self._changes = self._changes, []
        for change, subscription in changes:
            if change == "subscribed":
                session.add(subscription)
            else:
                session.remove(subscription)
            self._note(change, subscription.label)

    def _end_session(self, session: Session) -> bool:
        """The session cannot go on: keep its error for the caller, or note why it needs a fresh
        connection (which then counts as a failed attempt)."""
        if session.error is not None:
            self.error = session.error
        else:
            self._note("disconnected", session.reconnect or "the session asked for a fresh connection")
        return False

    def _deliver(self, wire: Wire, session: Session, messages: list[Message], closing: bool) -> bool:
        """Hand one read's data pushes to ``on_pushes`` (unless closing) and its other frames to
        the session, sending what it answers. Returns whether the session can go on; a close
        frame raises :class:`ConnectionLost` once the pushes before it are handed over."""
        if self._trace is not None:
            self._trace_read(session, messages)
        pushes: dict[str, list[bytes]] = {}
        sole = session.push_prefix
        if sole is not None:  # a flood's read: pushes of the one kind alone, told in one comprehension
            prefix, only = sole
            frames = [data for opcode, data in messages if opcode == TEXT and data.startswith(prefix)]
            if len(frames) == len(messages):
                pushes[only], messages = frames, []
        peek, frames_of = session.peek, session.frames_of
        closed: str | None = None
        for opcode, data in messages:
            if opcode == TEXT:
                kind = peek(data)
                if kind is not None:
                    pushes.setdefault(kind, []).append(data)
                    continue
                for kind, frame in frames_of(data):
                    pushes.setdefault(kind, []).append(frame)
                if session.error is not None or session.reconnect is not None:
                    return False
                if session.outbox:
                    self._flush(wire, session)
            elif opcode == BINARY:
                session.reject("binary frame", data)
            elif opcode == CLOSE:
                closed = close_reason(data)
                break
        if pushes and not closing:
            if session.awaiting:
                session.saw_frames(
                    [kind for kind, frames in pushes.items() for _ in frames], [f for fs in pushes.values() for f in fs]
                )
            self.messages += sum(map(len, pushes.values()))
            self._on_pushes(pushes, time.time_ns(), self.number)
        if closed is not None:
            raise ConnectionLost(f"server closed the connection ({closed})")
        return True

    def _flush(self, wire: Wire, session: Session) -> None:
        for frame in session.take_outbox():
            if self._trace is not None:
                self._trace("sent", session.scrub(frame))
            wire.send_text(frame)

    def _trace_read(self, session: Session, messages: list[Message]) -> None:
        """Hand a read's frames to the tracer, secrets scrubbed."""
        assert self._trace is not None
        for opcode, data in messages:
            if opcode == TEXT:
                self._trace("received", session.scrub(data.decode("utf-8", "replace")))
            elif opcode == CLOSE:
                self._trace("event", f"close frame: {close_reason(data)}")
            elif opcode == BINARY:
                self._trace("event", f"binary frame of {len(data)} bytes")

    def replies_so_far(self) -> list[Reply]:
        """The reply log: every finished connection's replies and the live one's."""
        session = self._session
        return [*self.replies, *(session.replies if session else ())]

    def stats(self) -> dict[str, int]:
        """Counters so far: connection number, data pushes, malformed and unknown frames."""
        session = self._session
        return {
            "connection": self.number,
            "reconnects": self.reconnects,
            "messages": self.messages,
            "malformed": self.malformed + (session.malformed if session else 0),
            "unknown": self.unknown + (session.unknown if session else 0),
        }


def _handshake(ws: websocket.WebSocket) -> Handshake:
    import ssl
    from email.utils import parsedate_to_datetime

    """What an open connection's handshake told (see :class:`Handshake`)."""
    headers = {k.lower(): v for k, v in (ws.getheaders() or {}).items()}
    offset = None
    if headers.get("date"):
        try:
            offset = time.time() - parsedate_to_datetime(headers["date"]).timestamp()
        except (TypeError, ValueError):
            offset = None
    sock = ws.sock
    tls = sock.version() if isinstance(sock, ssl.SSLSocket) else None
    return Handshake(ws.getstatus() or 101, tls, headers.get("server"), offset)
