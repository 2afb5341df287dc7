"""What both services' connections do alike: read requests, send replies, and run one push task per
subscription (paced, recorded, cancelled on unsubscribe or disconnect)."""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Hashable
from typing import Any, Protocol

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State

from .quirks import FRAGMENTED, Wire

log = logging.getLogger("nexusdata.sim")

Recorder = Callable[[int, str, str], None]
"""Called with (connection number, kind, frame text) for each data push written to the socket."""


async def ticks(rate: float) -> AsyncIterator[int]:
    """Yield at once, then ``rate`` times a second on a fixed schedule (a late tick does not
    shift the ones after it; after a long stall the schedule restarts rather than bursting)."""
    loop = asyncio.get_running_loop()
    period = 1.0 / rate
    start = loop.time()
    n = 0
    while True:
        yield n
        n += 1
        delay = start + n * period - loop.time()
        if delay < -period:
            start, n, delay = loop.time(), 0, 0.0
        await asyncio.sleep(max(delay, 0.0))


async def every(rate: float, build: Callable[[], str]) -> AsyncGenerator[str, None]:
    """The frames ``build`` makes, ``rate`` times a second."""
    async for _ in ticks(rate):
        yield build()


class Injector(Protocol):
    """What a connection needs of its faults (:class:`~nexusdata.sim.faults.Injector`): pushes
    go through it, which drops, stalls or garbles them when their time comes."""

    async def push(self, kind: str, texts: list[str]) -> None:
        """Send ``texts`` (pushes of ``kind``), or do what the faults say instead."""


class Service(Protocol):
    """What the server needs of a service (Nexus or ChaiNext): to vet a handshake and to serve a connection."""

    def handshake(self, connection: ServerConnection, request: Request) -> Response | None:
        """An HTTP response refusing the websocket upgrade, or ``None`` to accept it."""

    def connect(self, ws: ServerConnection, number: int, record: Recorder | None) -> Connection:
        """The connection object that serves ``ws``."""


class Connection(ABC):
    """One client connection: its number, its push tasks by subscription key, and sending
    (written as its :class:`~nexusdata.sim.quirks.Wire` says). The server may set
    :attr:`injector` (the connection's faults) before :meth:`run`."""

    def __init__(self, ws: ServerConnection, number: int, record: Recorder | None, wire: Wire) -> None:
        self.ws = ws
        self.number = number
        self.wire = wire
        self._record = record
        self._streams: dict[Hashable, asyncio.Task[None]] = {}
        self.injector: Injector | None = None
        self.first_request: str | bytes | None = None

    async def run(self) -> None:
        """Handle requests until the client goes; then stop every push task."""
        try:
            async for frame in self.ws:
                if self.first_request is None:
                    self.first_request = frame
                await self.receive(frame)
        except ConnectionClosed:
            pass
        finally:
            await self.stop_streams()

    @abstractmethod
    async def receive(self, frame: str | bytes) -> None:
        """Answer one client frame; never raises on bad input."""

    async def send(self, message: dict[str, Any]) -> None:
        """Send a reply (not a data push, so not recorded)."""
        await self.write(self.wire.reply(message))

    async def push(self, kind: str, texts: list[str]) -> None:
        """Send data pushes in one frame (several only with the ``batched`` quirk), each push
        recorded, with the frame's text, if the frame is written. ``send`` writes at once on a
        writable connection, then may wait for the buffer to drain: recording before that wait
        keeps a push cancelled while waiting (unsubscribe, close) in the log, and a push never
        written out of it."""
        frame = self.wire.frame(texts)
        if self._record is not None and writable(self.ws):
            for _ in texts:
                self._record(self.number, kind, frame)
        await self.write(frame)

    async def write(self, data: str | bytes) -> None:
        """Send one data frame: whole, or with the ``fragmented`` quirk in fragments that, once
        begun, are finished even if the sender is cancelled (a message cut off in the middle
        would break the connection, not just lose the message)."""
        if FRAGMENTED not in self.wire.quirks:
            await self.ws.send(data)
            return
        sending = asyncio.ensure_future(self.ws.send(self._fragments(data)))
        sending.add_done_callback(_retrieve)
        await asyncio.shield(sending)

    async def _fragments(self, data: str | bytes) -> AsyncIterator[str | bytes]:
        """``data`` in two halves with a websocket ping after each; ``websockets`` ends the
        message with an empty final continuation, so the client reads three fragments (text or
        binary with FIN clear, continuation, final continuation) with a ping between each."""
        half = len(data) // 2
        for part in (data[:half], data[half:]):
            yield part
            await self.ws.ping()

    async def expire(self) -> bool:
        """Forget the client's login, as a server does when a session expires; whether the feed
        had a login to forget (Nexus has none)."""
        return False

    def subscribed(self, key: Hashable) -> bool:
        return key in self._streams

    def stream(self, key: Hashable, kind: str, frames: AsyncGenerator[str, None]) -> None:
        """Push every frame of ``frames`` as data of ``kind`` until :meth:`cancel` (replacing any
        stream already under ``key``)."""
        self.cancel(key)
        self._streams[key] = asyncio.create_task(self._pump(kind, frames), name=f"sim push {self.number} {kind}")

    def cancel(self, key: Hashable) -> bool:
        """Stop the stream under ``key``; whether there was one."""
        task = self._streams.pop(key, None)
        if task is not None:
            task.cancel()
        return task is not None

    async def stop_streams(self) -> None:
        """Cancel every stream and wait until they have all finished."""
        tasks = list(self._streams.values())
        self._streams.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _pump(self, kind: str, frames: AsyncGenerator[str, None]) -> None:
        push = self.push if self.injector is None else self.injector.push
        batches = self.wire.batches(frames)
        try:
            async for batch in batches:
                await push(kind, batch)
        except ConnectionClosed:
            pass
        except Exception:
            log.exception("push stream %s on connection %d failed", kind, self.number)
        finally:
            await batches.aclose()  # run the generators' clean-up now, not at garbage collection
            await frames.aclose()


def writable(ws: ServerConnection) -> bool:
    """Whether ``ws.send`` writes a frame now: the connection is open and its transport not
    closing (after ``transport.abort()`` the state stays OPEN until ``connection_lost`` runs)."""
    return ws.state is State.OPEN and not ws.transport.is_closing()


def _retrieve(sending: asyncio.Future[None]) -> None:
    """Collect the outcome of a fragmented send whose sender was cancelled (a closed connection
    then raises with nobody waiting), so asyncio does not report it as never retrieved."""
    if not sending.cancelled():
        sending.exception()
