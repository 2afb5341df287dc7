"""Fault injection: what goes wrong on a simulator connection and when, counted in data pushes.

Select faults for every connection (``Simulator(faults=Faults(drop_after=20))``), per connection
number (``{2: Faults(stall_after=5)}``) or with a function of the number, and change the
selection for connections opened later with ``sim.faults.select(...)``. ``sim.faults.log`` lists
every fault injected, so a test can compare what a client received with what was sent around it.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from websockets.exceptions import ConnectionClosed

from ..checks import positive_int, positive_number
from ..errors import ArgumentError
from ..protocol import chainext, nexus
from ..protocol.session import dumps
from .connection import writable

if TYPE_CHECKING:
    from .connection import Connection

log = logging.getLogger("nexusdata.sim")

JUNK_KINDS: tuple[str, ...] = ("text", "wrong_shape", "binary", "huge", "unknown_event", "echo")
"""Bad frames the simulator can send between pushes:

- ``text``: a text frame that is not JSON;
- ``wrong_shape``: JSON of the pushed kind whose data has the wrong shape;
- ``binary``: a binary frame (both feeds speak text only);
- ``huge``: a :data:`HUGE_FRAME_BYTES` frame of the pushed kind with data of the wrong shape;
- ``unknown_event``: a well-formed message of an event (Nexus) or op (ChaiNext) nobody knows;
- ``echo``: a careless server's error quoting the handshake path (the Nexus token travels there)
  and the connection's first request (the ChaiNext login, with its signature): not JSON.
"""

HUGE_FRAME_BYTES = 4 * 2**20
"""Size of a ``huge`` junk frame: far beyond any real push, small enough for a test."""


@dataclass(frozen=True)
class Faults:
    """What goes wrong on one connection; every count is of data pushes sent on that connection.

    - ``drop_after``: abort the TCP connection (no close frame) right after this many pushes.
    - ``stall_after``: then go silent for ``stall_seconds``: no push, no reply and no pong (the
      server stops reading, so websocket pings go unanswered too, and stops its own keep-alive
      pings); afterwards it reads again and carries on if the client is still there.
    - ``junk_every``: after every this-many pushes send one bad frame, cycling through ``junk``
      (names from :data:`JUNK_KINDS`).
    - ``expire_after``: ChaiNext: then forget the login, as on session expiry: stop the streams
      and send code 2010, after which the client must log in and subscribe again. Nexus has no
      login to forget: ignored there.
    - ``send_buffer``: shrink the connection's send buffers (the kernel's and websockets') to
      about this many bytes, so a client that reads slowly fills them within moments; the server
      then waits for that client while its other connections carry on.
    """

    drop_after: int | None = None
    stall_after: int | None = None
    stall_seconds: float = 5.0
    junk_every: int | None = None
    junk: tuple[str, ...] = JUNK_KINDS
    expire_after: int | None = None
    send_buffer: int | None = None

    def __post_init__(self) -> None:
        for name in ("drop_after", "stall_after", "junk_every", "expire_after", "send_buffer"):
            if getattr(self, name) is not None:
                positive_int(getattr(self, name), name)
        positive_number(self.stall_seconds, "stall_seconds")
        junk = (self.junk,) if isinstance(self.junk, str) else tuple(self.junk)
        if not junk or any(kind not in JUNK_KINDS for kind in junk):
            raise ArgumentError(f"junk must name one or more of {', '.join(JUNK_KINDS)}, got {self.junk!r}")
        object.__setattr__(self, "junk", junk)


NO_FAULTS = Faults()

FaultSelection = Faults | Mapping[int, Faults] | Callable[[int], Faults | None] | None
"""Faults for every connection, by connection number, as a function of the number, or none."""


class Injected(NamedTuple):
    """One fault injected: the connection's number, the fault (``drop``, ``stall``, ``resume``,
    ``expire`` or a junk kind) and how many pushes that connection had sent by then."""

    connection: int
    fault: str
    pushes: int


class FaultPlan:
    """Which faults each new connection gets, and the log of every fault injected. Selected and
    read from any thread; applied on the simulator's event loop."""

    def __init__(self, selection: FaultSelection = None) -> None:
        self._changed = threading.Condition()
        self._log: list[Injected] = []
        self._selection: FaultSelection = None
        self.select(selection)

    def select(self, selection: FaultSelection) -> None:
        """Use ``selection`` for connections opened from now on."""
        if not (selection is None or isinstance(selection, (Faults, Mapping)) or callable(selection)):
            raise ArgumentError(
                "faults must be a Faults, a mapping from connection number to Faults, a function of the"
                f" connection number, or None; got {type(selection).__name__}"
            )
        if isinstance(selection, Mapping) and not all(isinstance(f, Faults) for f in selection.values()):
            raise ArgumentError("faults: every value of the mapping must be a Faults")
        with self._changed:
            self._selection = selection

    def for_connection(self, number: int) -> Faults:
        """The faults connection ``number`` gets."""
        with self._changed:
            selection = self._selection
        if isinstance(selection, Faults):
            return selection
        if isinstance(selection, Mapping):
            return selection.get(number, NO_FAULTS)
        faults = selection(number) if selection is not None else None
        if faults is not None and not isinstance(faults, Faults):
            raise ArgumentError(f"the faults function returned {type(faults).__name__} for connection {number}")
        return faults or NO_FAULTS

    def attach(self, connection: Connection) -> None:
        """Give ``connection`` its injector (before it runs)."""
        connection.injector = Injector(connection, self.for_connection(connection.number), self.note)

    @property
    def log(self) -> list[Injected]:
        """A copy of every fault injected so far, in order."""
        with self._changed:
            return list(self._log)

    def note(self, entry: Injected) -> None:
        """Log one injected fault (called by the injectors, on the simulator's loop)."""
        log.info("injected %s on connection %d after %d pushes", entry.fault, entry.connection, entry.pushes)
        with self._changed:
            self._log.append(entry)
            self._changed.notify_all()

    def wait_for(self, fault: str, count: int = 1, timeout: float | None = None) -> bool:
        """Block until ``fault`` has been injected ``count`` times; whether that happened in time."""
        with self._changed:
            return self._changed.wait_for(lambda: sum(e.fault == fault for e in self._log) >= count, timeout)

    def clear(self) -> None:
        """Forget the log (a fresh start of the simulator)."""
        with self._changed:
            self._log.clear()


class Injector:
    """Applies one connection's :class:`Faults` around its pushes, on the simulator's loop."""

    def __init__(self, connection: Connection, faults: Faults, note: Callable[[Injected], None]) -> None:
        self.connection = connection
        self.faults = faults
        self.pushes = 0
        self._note = note
        self._junk_sent = 0
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._tasks: set[asyncio.Task[None]] = set()
        if faults.send_buffer is not None:
            self._shrink_buffers(faults.send_buffer)

    async def push(self, kind: str, texts: list[str]) -> None:
        """Send one frame of pushes (waiting out a stall first), then inject what the counts it
        reached call for (a batch of pushes may pass a count: the fault follows the batch)."""
        await self._flowing.wait()
        await self.connection.push(kind, texts)
        before = self.pushes
        self.pushes += len(texts)
        faults, n = self.faults, self.pushes
        if faults.junk_every is not None and n // faults.junk_every > before // faults.junk_every:
            await self._send_junk(kind)
        if _passed(faults.expire_after, before, n):
            self._spawn(self._expire())  # it stops every stream, this one included: not from inside it
        if _passed(faults.stall_after, before, n):
            await self._stall()
        if _passed(faults.drop_after, before, n):
            self.connection.ws.transport.abort()
            self._injected("drop")

    def _injected(self, fault: str) -> None:
        self._note(Injected(self.connection.number, fault, self.pushes))

    def _spawn(self, job: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(job)
        self._tasks.add(task)  # the loop keeps only a weak reference
        task.add_done_callback(self._tasks.discard)

    async def _send_junk(self, kind: str) -> None:
        junk = self.faults.junk[self._junk_sent % len(self.faults.junk)]
        self._junk_sent += 1
        frame = junk_frame(junk, kind, self.connection)
        if writable(self.connection.ws):
            self._injected(junk)
        await self.connection.write(frame)

    async def _expire(self) -> None:
        try:
            if await self.connection.expire():
                self._injected("expire")
        except ConnectionClosed:
            pass

    async def _stall(self) -> None:
        ws = self.connection.ws
        self._flowing.clear()
        ws.transport.pause_reading()  # unread, no request is answered and no websocket ping gets a pong
        if ws.keepalive_task is not None:
            ws.keepalive_task.cancel()  # nor does the server ping
        self._injected("stall")
        await asyncio.sleep(self.faults.stall_seconds)
        if not ws.transport.is_closing():
            ws.transport.resume_reading()
            self._injected("resume")
        self._flowing.set()

    def _shrink_buffers(self, size: int) -> None:
        transport = self.connection.ws.transport
        transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)
        transport.set_write_buffer_limits(high=size)


def _passed(count: int | None, before: int, after: int) -> bool:
    """Whether the push count went past ``count`` (if set) from ``before`` to ``after``."""
    return count is not None and before < count <= after


def junk_frame(junk: str, kind: str, connection: Connection) -> str | bytes:
    """The bad frame ``junk`` (one of :data:`JUNK_KINDS`) for a connection pushing ``kind``, in
    its feed's message shape: Nexus ``{"event","data"}`` or ChaiNext ``{"op","args"}``."""
    is_nexus = kind in nexus.EVENTS
    message: Callable[[str, Any], dict[str, Any]] = nexus.push if is_nexus else chainext.message
    if junk == "text":
        return "this is not JSON {"
    if junk == "binary":
        return b"\x00\x01binary junk\xff"
    if junk == "wrong_shape":
        return dumps(message(kind, [["wrong", "shape"]]))
    if junk == "huge":
        return dumps(message(kind, "x" * HUGE_FRAME_BYTES))
    if junk == "unknown_event":
        return dumps(message("API_UNKNOWN_EVENT" if is_nexus else "unknown_event", {}))
    request = connection.first_request
    quoted = request.decode("utf-8", "replace") if isinstance(request, bytes) else request or ""
    path = connection.ws.request.path if connection.ws.request is not None else ""
    return f"bad request {path} {quoted}"
