"""Serving a conversation trace back: ``Simulator(trace=PATH)``, so a user's bug report becomes a test.

A trace (written by ``nexusdata check --trace FILE``) is JSON lines, one per frame or event::

    {"t": 0.25, "connection": 1, "feed": "chainext", "dir": "received", "text": "{\\"op\\":...}"}

``t`` is seconds since the trace started, ``connection`` a 1-based number, ``dir`` ``sent``
(client to server), ``received`` (server to client) or ``event`` (a note; ``HTTP <status> ...``
is the handshake's answer), ``text`` the frame with its secrets redacted as ``***``.

Each client connection to a feed's path plays that feed's next recorded connection, the last one
again for every later client: its recorded handshake status if not 101, else its lines in
order: a ``sent`` line waits for the client's next frame (whatever it says; at most
:data:`CLIENT_WAIT` seconds), a ``received`` line is sent verbatim after the recorded gap from
the line before, divided by ``speed``. Then the connection stays open and silent. Any token and
any login are accepted, since the trace's are redacted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any, NamedTuple
from weakref import WeakKeyDictionary

import orjson
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from ..errors import ArgumentError
from ..protocol.urls import CHAINEXT_PATH, NEXUS_PATH
from .connection import Connection, Recorder
from .quirks import FRAGMENTED, Wire
from .replay import check_speed

log = logging.getLogger("nexusdata.sim")

SERVICE_PATHS: dict[str, str] = {"nexus": NEXUS_PATH, "chainext": CHAINEXT_PATH}
"""Each traced service's path."""
DIRECTIONS = ("sent", "received", "event")
CLIENT_WAIT = 10.0
"""Seconds a ``sent`` line waits for the client's frame before the script goes on without it."""
TRACE_KIND = "trace"
"""The kind of every frame a trace plays, in ``Simulator.sent``."""
_STATUS = re.compile(r"HTTP (\d{3})\b\s*(.*)")


class Line(NamedTuple):
    """One frame of a recorded connection: when, whether the client sent it, its text."""

    t: float
    sent: bool
    text: str


@dataclass(frozen=True)
class Script:
    """One recorded connection: when it started (its first line), its handshake answer if an
    event recorded one (status, reason), and its frames in order."""

    start: float
    status: tuple[int, str] | None
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class Trace:
    """A trace to serve, checked up front: its path, the speed and each feed's connections."""

    path: Path
    speed: float
    scripts: Mapping[str, tuple[Script, ...]]  # feed → its connections in number order

    @classmethod
    def open(cls, path: str | Path, speed: float = 1.0) -> Trace:
        """Read and check the trace; the speed is a multiple of real time (``inf``: no pauses)."""
        speed = check_speed(speed)
        scripts = read_trace(Path(path))
        if not scripts:
            raise ArgumentError(f"trace {str(path)!r} holds no connection")
        return cls(Path(path), speed, scripts)

    def serve(self, quirks: frozenset[str]) -> dict[str, TraceService]:
        """A service per traced path. Frames are played verbatim: of the quirks only
        ``fragmented``, which changes the framing and not the text, applies."""
        wire = Wire(quirks & {FRAGMENTED})
        return {SERVICE_PATHS[feed]: TraceService(scripts, self.speed, wire) for feed, scripts in self.scripts.items()}


def read_trace(path: Path) -> dict[str, tuple[Script, ...]]:
    """Each feed's recorded connections, in number order; an :class:`ArgumentError` naming the
    line for a line that is not a trace entry."""
    entries: dict[tuple[str, int], list[dict[str, Any]]] = {}
    try:
        with path.open("rb") as file:
            for number, raw in enumerate(file, 1):
                if raw.strip():
                    entry = _entry(raw, f"trace {str(path)!r} line {number}")
                    entries.setdefault((entry["feed"], entry["connection"]), []).append(entry)
    except OSError as exc:
        raise ArgumentError(f"trace must be a trace file (JSON lines); cannot read {str(path)!r}: {exc.strerror}") from None
    scripts: dict[str, list[Script]] = {}
    for (feed, _), found in sorted(entries.items()):
        scripts.setdefault(feed, []).append(_script(found))
    return {feed: tuple(found) for feed, found in scripts.items()}


def _entry(raw: bytes, where: str) -> dict[str, Any]:
    """One line's entry, checked."""
    try:
        entry = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ArgumentError(f"{where}: not JSON") from None
    if not isinstance(entry, dict):
        raise ArgumentError(f"{where}: not a JSON object")
    t, connection = entry.get("t"), entry.get("connection")
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or t < 0:
        raise ArgumentError(f"{where}: t must be a number of seconds >= 0, got {t!r}")
    if isinstance(connection, bool) or not isinstance(connection, int) or connection < 1:
        raise ArgumentError(f"{where}: connection must be a whole number >= 1, got {connection!r}")
    if entry.get("feed") not in SERVICE_PATHS:
        raise ArgumentError(f"{where}: feed must be one of {', '.join(SERVICE_PATHS)}, got {entry.get('feed')!r}")
    if entry.get("dir") not in DIRECTIONS:
        raise ArgumentError(f"{where}: dir must be one of {', '.join(DIRECTIONS)}, got {entry.get('dir')!r}")
    if not isinstance(entry.get("text"), str):
        raise ArgumentError(f"{where}: text must be a string, got {entry.get('text')!r}")
    return entry


def _script(entries: list[dict[str, Any]]) -> Script:
    """One connection's script from its entries in file order."""
    statuses = [m for e in entries if e["dir"] == "event" and (m := _STATUS.match(e["text"]))]
    status = None
    if statuses:
        code = int(statuses[0][1])
        status = (code, statuses[0][2] or _phrase(code))
    lines = tuple(Line(float(e["t"]), e["dir"] == "sent", e["text"]) for e in entries if e["dir"] != "event")
    return Script(float(entries[0]["t"]), status, lines)


def _phrase(code: int) -> str:
    """The standard reason phrase of an HTTP status code ("" for a code HTTP does not define)."""
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return ""


class TraceService:
    """One feed's recorded connections, each played to one client connection in turn (the last
    one to every later connection)."""

    def __init__(self, scripts: tuple[Script, ...], speed: float, wire: Wire) -> None:
        self.scripts = scripts
        self.speed = speed
        self.wire = wire
        self._handshakes = 0
        self._assigned: WeakKeyDictionary[ServerConnection, Script] = WeakKeyDictionary()

    def handshake(self, connection: ServerConnection, request: Request) -> Response | None:
        """Take the next script: answer with its recorded handshake status unless that was 101,
        else accept whatever the credentials."""
        script = self.scripts[min(self._handshakes, len(self.scripts) - 1)]
        self._handshakes += 1
        if script.status is not None and script.status[0] != HTTPStatus.SWITCHING_PROTOCOLS:
            code, reason = script.status
            log.info("trace: handshake answered %d %s as recorded", code, reason)
            refusal = connection.respond(HTTPStatus.INTERNAL_SERVER_ERROR, f"{code} {reason}\n")
            return dataclasses.replace(refusal, status_code=code, reason_phrase=reason)
        self._assigned[connection] = script
        return None

    def connect(self, ws: ServerConnection, number: int, record: Recorder | None) -> TraceConnection:
        return TraceConnection(ws, number, record, self.wire, self._assigned.pop(ws), self.speed)


class TraceConnection(Connection):
    """One client connection playing one recorded connection."""

    def __init__(
        self, ws: ServerConnection, number: int, record: Recorder | None, wire: Wire, script: Script, speed: float
    ) -> None:
        super().__init__(ws, number, record, wire)
        self.script = script
        self.speed = speed

    async def run(self) -> None:
        """Play the script, then stay open and silent until the client goes."""
        try:
            await self._play()
        except ConnectionClosed:
            return
        await super().run()

    async def receive(self, frame: str | bytes) -> None:
        """Once the script is over, a client frame gets no answer."""

    async def _play(self) -> None:
        """Each line in turn: wait for the client's frame, or send the recorded one when its gap
        from the line before (divided by the speed) has passed. Faults count played frames."""
        push = self.push if self.injector is None else self.injector.push
        previous = self.script.start
        for line in self.script.lines:
            if line.sent:
                await self._client_frame()
            else:
                await asyncio.sleep(max(line.t - previous, 0.0) / self.speed)
                await push(TRACE_KIND, [line.text])
            previous = line.t

    async def _client_frame(self) -> None:
        """Wait for the client's next frame, at most :data:`CLIENT_WAIT` seconds."""
        try:
            await asyncio.wait_for(self.ws.recv(), CLIENT_WAIT)
        except TimeoutError:
            log.info("trace: connection %d sent nothing for %g s; playing on", self.number, CLIENT_WAIT)
