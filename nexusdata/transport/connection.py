"""One feed connection in one background thread, opened with websocket-client.

The thread connects, lets the protocol session log in and subscribe, keeps the connection alive
(application pings, a stall probe), hands data pushes to ``on_pushes`` a batch at a time (all
that one socket read brought) and, when the connection
drops, reconnects with backoff and a fresh session (so it logs in and subscribes again). Errors
that retrying cannot fix (refused credentials or subscriptions, too many failed attempts) end the
thread and are kept in :attr:`Connection.error` for the caller's thread to raise.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import websocket

from ..config import Endpoint, Options
from ..errors import AuthenticationError, ConnectionFailedError, NexusDataError
from ..protocol import Session
from ..protocol.urls import redact
from .backoff import Backoff
from .wire import BINARY, CLOSE, TEXT, ConnectionLost, Wire, close_reason

log = logging.getLogger("nexusdata.transport")

PushHandler = Callable[[list[str], list[bytes], int, int], None]
"""``on_pushes(kinds, frames, received_at_ns, connection_number)``, called on the connection's
thread with the data pushes of one socket read (their kinds and raw frames) and the time the
read returned."""

_TICK = 0.2  # seconds between housekeeping checks while the socket is quiet
_CLOSE_TIMEOUT = 2.0  # seconds to wait for the server's answer to unsubscribe/logout


@dataclass(frozen=True)
class ConnectionEvent:
    """One line of the gap log: what happened to the connection, when and why."""

    time: float  # epoch seconds
    connection: int  # connection number it concerns (0: none yet)
    event: str  # "connected", "disconnected", "stalled", "connect_failed", "closed"
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
        self.waiting_seconds = 0.0
        """Time the connection's thread has spent waiting for data: the room ingestion has (a
        live chart draws more while the thread mostly waits)."""
        self._session: Session | None = None
        self._thread = threading.Thread(target=self._run, name=f"{name}-{endpoint.feed}", daemon=True)

    # -- control, from the user's thread ---------------------------------------------------------

    def start(self) -> Connection:
        """Start the background thread; returns at once."""
        self._thread.start()
        return self

    def stop_soon(self) -> None:
        """Ask the thread to unsubscribe and close, without waiting (safe from its own
        callbacks: a feed that has all the pushes it wants calls it from ``on_pushes``)."""
        self._stopping.set()

    def stop(self, timeout: float | None = None) -> None:
        """Unsubscribe, close and join the thread (within ``timeout`` seconds, by default long
        enough for a pending connect attempt and a clean close)."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(self.options.connect_timeout + _CLOSE_TIMEOUT + 2 if timeout is None else timeout)

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
        level = logging.INFO if event in ("connected", "closed") else logging.WARNING
        log.log(level, "%s %s (connection %d): %s", self.endpoint.display_url, event, self.number, reason)

    def _run(self) -> None:
        failures = 0
        try:
            while not self._stopping.is_set():
                try:
                    ws = self._connect()
                except (OSError, websocket.WebSocketException) as exc:
                    failures += 1
                    self._note("connect_failed", _describe(exc))
                    if isinstance(exc, ssl.SSLCertVerificationError):  # retrying cannot fix it
                        raise ConnectionFailedError(
                            f"{self.endpoint.display_url}: the server's TLS certificate was refused"
                            f" ({exc.verify_message}); if you trust it, pass ca_file= the PEM bundle of"
                            " the CA that signed it"
                        ) from None
                else:
                    healthy = self._serve(ws)
                    if self.error is not None or self._stopping.is_set():
                        return
                    failures = 0 if healthy else failures + 1
                limit = self.options.max_failures
                if limit is not None and failures >= limit:
                    self.error = ConnectionFailedError(
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
            self.error = NexusDataError(f"connection thread failed: {_describe(exc)}")
        finally:
            self.ready.clear()
            self.done.set()

    def _connect(self) -> websocket.WebSocket:
        opts = self.options
        sslopt: dict[str, Any] = {"cert_reqs": ssl.CERT_REQUIRED, "check_hostname": True}
        if opts.ca_file:
            sslopt["ca_certs"] = opts.ca_file
        try:
            ws = websocket.create_connection(
                self.endpoint.connect_url,
                timeout=opts.connect_timeout,
                skip_utf8_validation=True,  # orjson validates while decoding; pure-Python checks cost 10x
                enable_multithread=False,
                sslopt=sslopt,
                suppress_origin=True,
            )
        except websocket.WebSocketBadStatusException as exc:
            if exc.status_code in (401, 403):
                raise AuthenticationError(
                    f"{self.endpoint.feed} refused the credentials at the handshake (HTTP {exc.status_code})",
                    exc.status_code,
                    "handshake refused",
                ) from None
            raise
        ws.settimeout(_TICK)  # reads wake at least this often for housekeeping
        return ws

    def _serve(self, ws: websocket.WebSocket) -> bool:
        """Run one connection until it drops or the thread is asked to stop. Returns whether it
        was healthy (delivered data or stayed up past the stall timeout)."""
        self.number += 1
        number = self.number
        wire = Wire(ws.sock)
        session = self.endpoint.session(self.subscriptions)
        self._session = session
        self._note("connected", "handshake complete")
        opts = self.options
        started = now = time.monotonic()
        last_frame = next_check = now
        next_ping = now + opts.ping_interval
        probe_at: float | None = None
        close_by: float | None = None
        pushes_before = self.messages
        receive, peek = session.receive, session.peek
        try:
            session.start()
            self._flush(wire, session)
            while True:
                waited = time.monotonic()
                messages = wire.read()
                now = time.monotonic()
                self.waiting_seconds += now - waited
                if messages:
                    last_frame, probe_at = now, None
                    kinds: list[str] = []
                    frames: list[bytes] = []
                    closed: str | None = None
                    for opcode, data in messages:
                        if opcode == TEXT:
                            kind = peek(data)
                            if kind is not None:
                                kinds.append(kind)
                                frames.append(data)
                                continue
                            push = receive(data)
                            if push is not None:
                                kinds.append(push[0])
                                frames.append(data)
                            elif session.error is not None:
                                self.error = session.error
                                return False
                            elif session.outbox:
                                self._flush(wire, session)
                        elif opcode == BINARY:
                            session.reject("binary frame", data)
                        elif opcode == CLOSE:
                            closed = close_reason(data)
                            break
                    if frames and close_by is None:
                        self.messages += len(frames)
                        self._on_pushes(kinds, frames, time.time_ns(), number)
                    if closed is not None:
                        raise ConnectionLost(f"server closed the connection ({closed})")
                if close_by is None and session.ready != self.ready.is_set():
                    if session.ready:
                        self.ready.set()
                    else:
                        self.ready.clear()  # logging in again after code 2010
                if close_by is None and self._stopping.is_set():  # checked per read: stop at once
                    self.ready.clear()
                    session.finish()
                    self._flush(wire, session)
                    close_by = now + _CLOSE_TIMEOUT
                if close_by is not None:  # closing: done once the server answered, or at the deadline
                    if session.finished or now >= close_by:
                        self._note("closed", "stopped by the caller")
                        return True
                    continue
                if now < next_check:
                    continue
                # Housekeeping, at most every tick: keep-alive, stall detection.
                next_check = now + _TICK
                if now >= next_ping:
                    session.ping()
                    self._flush(wire, session)
                    next_ping = now + opts.ping_interval
                if probe_at is None and now - last_frame >= opts.stall_timeout:
                    wire.ping()
                    session.ping()
                    self._flush(wire, session)
                    probe_at = now
                elif probe_at is not None and now - probe_at >= opts.pong_timeout:
                    self._note("stalled", f"no frame for {now - last_frame:.1f}s, probe unanswered")
                    return self.messages > pushes_before
        except ConnectionLost as exc:
            self._note("disconnected", str(exc))
        except OSError as exc:
            self._note("disconnected", _describe(exc))
        finally:
            self.malformed += session.malformed
            self.unknown += session.unknown
            self._session = None
            self.ready.clear()
            wire.close()
        return self.messages > pushes_before or time.monotonic() - started > opts.stall_timeout

    def _flush(self, wire: Wire, session: Session) -> None:
        for frame in session.take_outbox():
            wire.send_text(frame)

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


def _describe(exc: BaseException) -> str:
    """An exception as a short line that cannot carry a URL with a token in it."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {redact(text)}"[:200]
