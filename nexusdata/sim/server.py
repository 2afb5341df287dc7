"""The simulator: one ``websockets`` server on its own thread and event loop, serving both feeds
on one port, routed by path (``/api/realtime`` Nexus, ``/websocket`` ChaiNext)."""

from __future__ import annotations

import asyncio
import logging
import secrets
import ssl
import threading
import time
from collections.abc import Iterable, Mapping
from email.utils import formatdate
from functools import partial
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import urlsplit

from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

from ..checks import positive_number
from ..errors import ArgumentError, NexusDataError
from ..protocol import urls
from ..protocol.urls import CHAINEXT_PATH
from .account import BOOKS
from .chainext_handler import ChaiNextService
from .connection import Service
from .faults import FaultPlan, FaultSelection
from .indices import COINS, INDICES
from .market import SYMBOLS, Market
from .nexus_handler import NexusService
from .quirks import Wire, select_quirks
from .replay import Playback
from .trace import Trace

if TYPE_CHECKING:
    from typing_extensions import Self

log = logging.getLogger("nexusdata.sim")

_wire_log = logging.getLogger("nexusdata.sim.wire")
_wire_log.setLevel(logging.WARNING)  # websockets' debug lines echo request lines and frames: tokens, signatures

CLOSE_TIMEOUT = 1.0
"""Seconds ``stop()`` waits for a client to answer the close frame before cutting it off."""


class SentPush(NamedTuple):
    """One data push as sent: the connection's number, the Nexus event or ChaiNext topic
    (``trace`` for a frame a trace plays), the text of the frame that carried it (with the
    ``batched`` quirk several pushes share one frame: one entry each)."""

    connection: int
    kind: str
    text: str


class Simulator:
    """A local server speaking the Nexus and ChaiNext feeds, with seeded, reproducible data.

    ``rate`` is the number of data pushes per second per subscription. Credentials default to
    fresh random values. ``clock_skew`` (seconds) is added to the server's clock when checking a
    ChaiNext ``signTime`` and to the ``Date`` header of every handshake answer.
    ``record_sent`` keeps every data push sent in :attr:`sent`.
    ``faults`` selects what goes wrong on which connection (see :mod:`nexusdata.sim.faults`;
    :attr:`faults` changes it later and logs what was injected). ``ssl_context`` (a server
    context with a certificate loaded) serves ``wss://`` instead of ``ws://``. ``replay`` (a
    directory written by :func:`nexusdata.record`) serves that recording instead of simulated
    data, ``speed`` times faster than recorded (see :mod:`nexusdata.sim.replay`); ``trace`` (a
    file written by ``nexusdata check --trace``) plays that conversation back instead (see
    :mod:`nexusdata.sim.trace`).
    Use as a context manager, or call :meth:`start` and :meth:`stop`.

    What is served: Nexus ``symbols`` (default :data:`~nexusdata.sim.SYMBOLS`) and risk
    ``books`` (default ``A``, ``B``), ChaiNext ``coins`` and ``indices`` (default the
    catalogue's ids); a subscription to anything else is refused. ``quirks`` (names from
    :data:`~nexusdata.sim.QUIRKS`, as one name, comma-separated names or an iterable) makes
    the server differ from the documents where they are silent, as real servers may; by default
    it is faithful to them.

    Reproducibility: with the same ``seed``, each subscription's stream gives the same values
    (timestamps aside). Streams that share a price path (books and orders of one symbol, risk
    rows, which follow the account's fills) interleave on it, so what they show together depends
    on timing.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
        rate: float = 10.0,
        token: str | None = None,
        api_key: str | None = None,
        api_secret: str | None = None,
        record_sent: bool = False,
        clock_skew: float = 0.0,
        faults: FaultSelection = None,
        ssl_context: ssl.SSLContext | None = None,
        replay: str | Path | None = None,
        speed: float = 1.0,
        symbols: Iterable[str] = SYMBOLS,
        books: Iterable[str] = BOOKS,
        coins: Iterable[str] | None = None,
        indices: Iterable[str] | None = None,
        quirks: str | Iterable[str] | None = None,
        trace: str | Path | None = None,
    ) -> None:
        rate = positive_number(rate, "rate", unit="pushes per second")
        if replay is not None and trace is not None:
            raise ArgumentError("replay and trace cannot both be served: give one of them")
        self.host = host
        self.seed = seed
        self.rate = float(rate)
        self.record_sent = record_sent
        self.clock_skew = clock_skew
        self.faults = FaultPlan(faults)
        self.ssl_context = ssl_context
        self.symbols = names(symbols, "symbols")
        self.books = names(books, "books")
        self.coins = names(COINS if coins is None else coins, "coins")
        self.indices = names(INDICES if indices is None else indices, "indices")
        self.quirks = select_quirks(quirks)
        self.playback = None if replay is None else Playback.open(replay, speed)
        self.trace = None if trace is None else Trace.open(trace, speed)
        self.token = secrets.token_urlsafe(24) if token is None else token
        self.api_key = secrets.token_urlsafe(12) if api_key is None else api_key
        self.api_secret = secrets.token_urlsafe(24) if api_secret is None else api_secret
        self._port = port
        self._lifecycle = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._changed = threading.Condition()  # guards the bookkeeping below
        self._live: dict[int, ServerConnection] = {}
        self._total = 0
        self._sent: list[SentPush] = []
        self._taken = 0  # pushes handed out by take_sent

    def __repr__(self) -> str:
        state = "running" if self._thread is not None else "stopped"
        return f"<Simulator {self.host}:{self.port} seed={self.seed} rate={self.rate:g} {state}>"

    # -- addresses and credentials ------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port listened on: the one picked for port 0 once started, kept across a restart."""
        return self._port

    @property
    def nexus_url(self) -> str:
        """The Nexus realtime URL, without the token."""
        return f"{self._scheme}://{self.host}:{self.port}{urls.NEXUS_PATH}"

    @property
    def chainext_url(self) -> str:
        return f"{self._scheme}://{self.host}:{self.port}{CHAINEXT_PATH}"

    @property
    def _scheme(self) -> str:
        return "ws" if self.ssl_context is None else "wss"

    @property
    def nexus(self) -> dict[str, str]:
        """``url`` and ``token``, ready to pass as keyword arguments."""
        return {"url": self.nexus_url, "token": self.token}

    @property
    def chainext(self) -> dict[str, str]:
        """``url``, ``api_key`` and ``api_secret``, ready to pass as keyword arguments."""
        return {"url": self.chainext_url, "api_key": self.api_key, "api_secret": self.api_secret}

    # -- life cycle ---------------------------------------------------------------------------------

    def start(self, *, fresh: bool = True) -> Simulator:
        """Start serving; returns once the server listens. Starting a running simulator does nothing.
        Connection numbers, the sent log and the fault log start afresh unless ``fresh=False``."""
        with self._lifecycle:
            if self._thread is not None:
                return self
            with self._changed:
                self._live.clear()
                if fresh:
                    self._total = self._taken = 0
                    self._sent.clear()
                    self.faults.clear()
            self._error = None
            ready = threading.Event()
            thread = threading.Thread(target=self._run, args=(ready,), name="nexusdata-sim", daemon=True)
            thread.start()
            ready.wait()
            if self._error is not None:
                thread.join()
                raise self._error
            self._thread = thread
            log.info("simulator listening on %s:%d (seed %s, %g pushes/s)", self.host, self.port, self.seed, self.rate)
        return self

    def stop(self) -> None:
        """Close every connection, stop the server and join its thread. Idempotent."""
        with self._lifecycle:
            thread, loop, stopping = self._thread, self._loop, self._stopping
            if thread is None or loop is None or stopping is None:
                return
            try:
                loop.call_soon_threadsafe(stopping.set)
            except RuntimeError:  # the loop already ended on its own (logged by _run)
                pass
            thread.join()
            self._thread = self._loop = self._stopping = None
            log.info("simulator on port %d stopped", self.port)

    def restart(self, downtime: float = 0.0) -> Simulator:
        """Restart on the same port, as clients see a server restart: every connection is closed
        (with a close frame), nothing listens for ``downtime`` seconds, then the server listens
        again, its market started over from the seed. Connection numbers, the sent log and the
        fault log carry on."""
        self.stop()
        time.sleep(downtime)
        return self.start(fresh=False)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None) -> None:
        self.stop()

    # -- connections --------------------------------------------------------------------------------

    @property
    def connection_count(self) -> int:
        """Websocket connections open now."""
        with self._changed:
            return len(self._live)

    @property
    def connections_total(self) -> int:
        """Websocket connections accepted (handshake succeeded) since :meth:`start`."""
        with self._changed:
            return self._total

    @property
    def sent(self) -> list[SentPush]:
        """A copy of every data push sent so far (empty unless ``record_sent``)."""
        with self._changed:
            return list(self._sent)

    def wait_for_connections(self, n: int, timeout: float | None = None) -> bool:
        """Block until at least ``n`` connections are open; whether that happened in time."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self._live) >= n, timeout)

    def wait_for_sent(self, n: int, timeout: float | None = None) -> bool:
        """Block until at least ``n`` data pushes have been sent since :meth:`start`; whether that
        happened in time. Needs ``record_sent=True``."""
        if not self.record_sent:
            raise NexusDataError("wait_for_sent needs Simulator(record_sent=True)")
        with self._changed:
            return self._changed.wait_for(lambda: self._taken + len(self._sent) >= n, timeout)

    def take_sent(self) -> list[SentPush]:
        """Remove and return the pushes recorded so far, for long runs that check as they go
        (:meth:`wait_for_sent` still counts them)."""
        with self._changed:
            sent, self._sent = self._sent, []
            self._taken += len(sent)
        return sent

    def drop_connections(self) -> int:
        """Cut every client connection abruptly (TCP abort, no close frame); how many were cut."""
        with self._lifecycle:
            if self._loop is None:
                return 0
            return asyncio.run_coroutine_threadsafe(self._abort_all(), self._loop).result()

    # -- on the server's thread ---------------------------------------------------------------------

    def _run(self, ready: threading.Event) -> None:
        try:
            asyncio.run(self._serve(ready))
        except Exception as exc:
            if ready.is_set():
                log.exception("simulator stopped on an error")
            else:
                self._error = exc
        finally:
            ready.set()

    def _services(self) -> Mapping[str, Service]:
        """The services of one run by path: simulated (a fresh market), a recording or a trace."""
        if self.trace is not None:
            return self.trace.serve(self.quirks)
        market, wire = Market(self.seed), Wire(self.quirks)
        services: dict[str, Service] = {
            urls.NEXUS_PATH: NexusService(market, self.rate, self.token, symbols=self.symbols, books=self.books, wire=wire),
            CHAINEXT_PATH: ChaiNextService(
                self.api_key, self.api_secret, market, self.rate, self.clock_skew, self.coins, self.indices, wire
            ),
        }
        return services if self.playback is None else self.playback.serve(services)

    async def _serve(self, ready: threading.Event) -> None:
        services = self._services()
        self._stopping = asyncio.Event()
        async with serve(
            partial(self._handle, services),
            self.host,
            self._port,
            process_request=partial(self._check_request, services),
            process_response=self._date,
            compression=None,
            close_timeout=CLOSE_TIMEOUT,
            logger=_wire_log,
            ssl=self.ssl_context,
        ) as server:
            self._port = server.sockets[0].getsockname()[1]
            self._loop = asyncio.get_running_loop()
            ready.set()
            await self._stopping.wait()

    def _check_request(self, services: Mapping[str, Service], connection: ServerConnection, request: Request) -> Response | None:
        """Route the handshake to its service (404 off the services' paths), which accepts or refuses it."""
        service = services.get(urlsplit(request.path).path)
        if service is None:
            return connection.respond(HTTPStatus.NOT_FOUND, "no such endpoint\n")
        return service.handshake(connection, request)

    def _date(self, connection: ServerConnection, request: Request, response: Response) -> None:
        """Date every handshake answer by the server's clock (``clock_skew`` included), so a
        client can compare its clock with the server's as it could with a real one."""
        if "Date" in response.headers:
            del response.headers["Date"]
        response.headers["Date"] = formatdate(time.time() + self.clock_skew, usegmt=True)

    async def _handle(self, services: Mapping[str, Service], ws: ServerConnection) -> None:
        path = urlsplit(ws.request.path).path if ws.request else ""
        with self._changed:
            self._total += 1
            number = self._total
            self._live[number] = ws
            self._changed.notify_all()
        log.debug("connection %d opened on %s", number, path)
        try:
            connection = services[path].connect(ws, number, self._record if self.record_sent else None)
            self.faults.attach(connection)
            await connection.run()
        finally:
            with self._changed:
                del self._live[number]
                self._changed.notify_all()
            log.debug("connection %d closed", number)

    def _record(self, number: int, kind: str, text: str) -> None:
        with self._changed:
            self._sent.append(SentPush(number, kind, text))
            self._changed.notify_all()

    async def _abort_all(self) -> int:
        with self._changed:
            live = list(self._live.values())
        for ws in live:
            ws.transport.abort()
        log.info("dropped %d connection(s)", len(live))
        return len(live)


def names(value: object, name: str) -> frozenset[str]:
    """``value`` as a set of names if it is a non-empty iterable of non-empty strings, else an
    :class:`ArgumentError` (a lone string is refused: its letters are no names)."""
    items = list(value) if isinstance(value, Iterable) and not isinstance(value, (str, bytes)) else []
    if not items or not all(isinstance(item, str) and item for item in items):
        raise ArgumentError(f"{name} must be a non-empty iterable of non-empty strings, e.g. ('A', 'B'); got {value!r}")
    return frozenset(items)
