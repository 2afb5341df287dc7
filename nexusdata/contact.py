"""``nd.check`` and ``nexusdata check``, the first contact with a server: one short connection,
explained step by step.

For a first contact with a real server. It connects once (no retry), authenticates, subscribes
to one symbol (Nexus depth) or topic id (ChaiNext), waits for a few pushes and stops cleanly,
then returns a **transcript**: a DataFrame with one row per step (what happened, whether it
went well, and what to do when it did not), so that a wrong token, path, port, certificate or
symbol shows at once. ``trace=FILE`` writes the whole conversation as JSON lines, secrets
redacted, which ``nexusdata sim --replay-trace FILE`` serves back: a bug report becomes a test.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

import orjson
import pandas as pd

from .checks import positive_int, positive_number
from .config import ENV, Endpoint, Options, split_conn
from .errors import ArgumentError, AuthenticationError, Cause, NexusDataError, SubscriptionError
from .feed import Arrival, Feed
from .kinds import Kind, Subscription, checkable, renamed
from .protocol import SERVICES, chainext
from .protocol.session import Reply, Secrets
from .protocol.urls import redact
from .proxies import Proxy, Route, is_address, route, target
from .run import run as run_feed
from .transport.connection import ConnectionEvent, Handshake
from .transport.failures import Failure, status_text

STEPS = ("configuration", "proxy", "handshake", "login", "subscribe", "first pushes", "counts", "rate", "clock", "verdict")
"""Every step a transcript can have, in order (``proxy`` through a proxy only, ``login`` for
ChaiNext only; a failed run stops at the step that failed, then gives the counts and the verdict)."""
COLUMNS = ("step", "ok", "detail", "hint")
MARKS = {True: "✓", False: "✗", None: "·"}
"""The mark of a step in :func:`format_transcript`: passed, failed, information only."""
DEFAULT_MAX_FAILURES = 1
"""Connection attempts a check makes unless ``max_failures=`` says otherwise: it reports, it does
not retry."""
SHOWN_PUSHES = 2
"""Pushes the ``first pushes`` step shows (its first row each)."""
SHOWN_CHARS = 110
"""Characters of a shown row (or of any detail) before it is cut."""
CLOCK_WARNING = 60.0
"""Seconds between this machine's clock and the server's beyond which the ``clock`` step warns."""
TIME_COLUMNS = ("time", "update_time", "coin_update_time")
"""Columns holding the server's time of a push (depth, the index topics, pair_index_v3)."""
_META = ("received_at", "connection")


@dataclass(frozen=True)
class Step:
    """One row of the transcript (``ok`` ``None``: information only)."""

    step: str
    ok: bool | None
    detail: str
    hint: str = ""


@dataclass(frozen=True)
class Run:
    """What a check's connection left behind; the steps are read from it."""

    endpoint: Endpoint
    options: Options
    route: Route
    tunnelled: bool  # the proxy opened its tunnel
    kind: Kind
    subscription: Any
    sources: str
    seconds: float
    pushes: int
    elapsed: float
    started_ns: int
    error: Exception | None
    attempt: Failure | None  # the newest failed attempt to connect
    handshake: Handshake | None
    events: list[ConnectionEvent]
    replies: list[Reply]
    stats: dict[str, int]
    arrivals: list[Arrival]
    frame: pd.DataFrame

    @property
    def service(self) -> str:
        return self.endpoint.service

    @property
    def pushed(self) -> int:
        """Data pushes received."""
        return self.stats["messages"]

    def reply(self, request: str) -> Reply | None:
        """The first reply to a request whose label starts with ``request`` (``login``, ``subscribe``)."""
        return next((r for r in self.replies if r.request.startswith(request)), None)

    @property
    def logged_in(self) -> bool:
        """Whether ChaiNext accepted the login."""
        login = self.reply("login")
        return login is not None and login.outcome != "refused"

    @property
    def failure(self) -> str:
        """The newest failed attempt's reason (``""``: none)."""
        return next((e.reason for e in reversed(self.events) if e.event == "connect_failed"), "")

    @property
    def cause(self) -> Cause | None:
        """Why the run failed (``None``: it did not): its error's cause, else its newest failed
        attempt's, else, when nothing came, that nothing came."""
        if isinstance(self.error, NexusDataError) and self.error.cause is not None:
            return self.error.cause
        if self.attempt is not None and (self.error is not None or self.handshake is None):
            return self.attempt.cause
        if self.error is None:
            return None if self.pushed else Cause.SILENT
        return Cause.OTHER


def check(
    service: str | None = None,
    *,
    symbol: str = "BTCUSDT",
    depth: int = 5,
    topic: str = "coin_index",
    id: str | int = "1",
    seconds: float = 10.0,
    pushes: int = 5,
    trace: str | os.PathLike[str] | None = None,
    feed: str | None = None,
    **conn: Any,
) -> pd.DataFrame:
    """Connect once to ``service`` (``"nexus"`` or ``"chainext"``; ``feed=`` is its former name, which
    warns), authenticate, subscribe to
    ``symbol`` (Nexus depth) or ``topic`` ``id`` (ChaiNext) and wait until ``pushes`` pushes
    arrived or ``seconds`` passed, then return the transcript (columns ``step``, ``ok``,
    ``detail``, ``hint``; ``attrs["nexusdata"]`` holds ``passed``, ``verdict``, ``error``, ``proxy`` and the
    counters). ``**conn`` takes the collectors' credentials and connection options (one attempt
    unless ``max_failures=`` says otherwise). ``trace=PATH`` writes every frame and event as JSON
    lines. Bad arguments raise :class:`~nexusdata.ArgumentError` before anything connects."""
    service = renamed(service, feed, "feed", "service")
    kind, subscription = _target(service, symbol, depth, topic, id)
    name = kind.service
    seconds = positive_number(seconds, "seconds")
    pushes = positive_int(pushes, "pushes")
    endpoint, options, _ = split_conn(name, {"max_failures": DEFAULT_MAX_FAILURES, **conn})
    way = route(endpoint.connect_url, options.proxy, os.environ)
    scrub = scrubber(endpoint, way.proxy)
    sources = _sources(name, conn)
    with _tracing(trace, name, scrub) as tracer:
        run = _run(endpoint, options, way, subscription, kind, seconds, pushes, sources, tracer)
    return transcript(run, scrub)


def _target(service: object, symbol: object, depth: object, topic: object, id: object) -> tuple[Kind, Subscription]:
    """The checked kind the service is checked with (``topic`` where it has several), and its subscription."""
    if not isinstance(service, str) or service not in SERVICES:
        raise ArgumentError(f"service must be one of {', '.join(map(repr, SERVICES))}, got {service!r}")
    choices = checkable(service)
    kind = next((k for k in choices if k.name == topic), choices[0])
    if len(choices) > 1 and kind.name != topic:
        raise ArgumentError(f"topic must be one of {', '.join(k.name for k in choices)}, got {topic!r}")
    return kind, kind.subscription(symbol if kind.key == "symbol" else id, depth)


def _sources(feed: str, conn: Mapping[str, Any]) -> str:
    """Where the credentials came from: the arguments, or their environment variables."""
    given = [key for key in ENV[feed] if conn.get(key) is not None]
    parts = [f"{', '.join(given)} from the arguments"] if given else []
    return ", ".join(parts + [f"{key} from {variable}" for key, variable in ENV[feed].items() if key not in given])


def scrubber(endpoint: Endpoint, proxy: Proxy | None = None) -> Callable[[str], str]:
    """A function that masks the endpoint's secrets and the proxy's password (every form of
    them) and secret-looking URL parameters in a text: a second guard over what the transport
    already scrubbed."""
    secrets = Secrets((*endpoint.secrets, proxy.password if proxy else ""))

    def scrub(text: str) -> str:
        return redact(secrets.scrub(text))

    return scrub


class TraceWriter:
    """The tracer of a check: writes each frame and event as one JSON line of the format
    ``Simulator(trace=)`` serves back (``t`` seconds since the check started)."""

    def __init__(self, file: IO[bytes], feed: str, scrub: Callable[[str], str]) -> None:
        self._file = file
        self._feed = feed
        self._scrub = scrub
        self._started = time.monotonic()
        self.connection: Callable[[], int] = lambda: 1
        """The current connection's number (set once the feed exists)."""

    def __call__(self, direction: str, text: str) -> None:
        if self._file.closed:  # a connection thread that outlived its stop: the check is over
            return
        line = {
            "t": round(time.monotonic() - self._started, 6),
            "connection": max(self.connection(), 1),
            "feed": self._feed,
            "dir": direction,
            "text": self._scrub(text),
        }
        self._file.write(orjson.dumps(line) + b"\n")


@contextmanager
def _tracing(path: object, feed: str, scrub: Callable[[str], str]) -> Iterator[TraceWriter | None]:
    """A :class:`TraceWriter` on the file ``path`` (``None``: no trace), opened before anything
    connects so that a path that cannot be written is a bad argument."""
    if path is None:
        yield None
        return
    if not isinstance(path, (str, os.PathLike)):
        raise ArgumentError(f"trace must be a file path, got {type(path).__name__}")
    try:
        file = open(path, "wb")
    except OSError as exc:
        raise ArgumentError(f"trace must be a file path that can be written; {str(path)!r}: {exc.strerror}") from None
    with file:
        yield TraceWriter(file, feed, scrub)


def _run(
    endpoint: Endpoint,
    options: Options,
    way: Route,
    subscription: Any,
    kind: Kind,
    seconds: float,
    pushes: int,
    sources: str,
    tracer: TraceWriter | None,
) -> Run:
    """Connect, wait for the pushes, the end of ``seconds`` or a failure, stop cleanly."""
    push = subscription.kind
    feed = Feed(endpoint, [subscription], {push: kind.table}, options, max_messages=pushes, arrivals=pushes, trace=tracer)
    if tracer is not None:
        tracer.connection = lambda: feed.connection.number
    started_ns = time.time_ns()
    outcome = run_feed(feed, seconds, on_interrupt=None)  # a check interrupted has nothing to report
    connection = feed.connection
    return Run(
        endpoint,
        options,
        way,
        connection.tunnelled,
        kind,
        subscription,
        sources,
        seconds,
        pushes,
        outcome.elapsed,
        started_ns,
        feed.error,
        connection.failure,
        connection.handshake,
        list(connection.events),
        connection.replies_so_far(),
        feed.stats(),
        list(feed.arrivals[push]),
        feed.dataframe(),
    )


# -- the transcript ----------------------------------------------------------------------------------


def transcript(run: Run, scrub: Callable[[str], str] = redact) -> pd.DataFrame:
    """The transcript of ``run``: its steps as rows, every text passed through ``scrub``."""
    steps = _conversation(run) + _information(run)
    verdict = _verdict(run, steps)
    steps.append(verdict)
    frame = pd.DataFrame(
        {
            "step": pd.Series([s.step for s in steps], dtype="str"),
            "ok": pd.array([s.ok for s in steps], dtype="boolean"),
            "detail": pd.Series([scrub(s.detail) for s in steps], dtype="str"),
            "hint": pd.Series([scrub(s.hint) for s in steps], dtype="str"),
        }
    )
    frame.attrs["nexusdata"] = {
        "passed": bool(verdict.ok),
        "verdict": scrub(verdict.detail),
        "error": None if run.error is None else type(run.error).__name__,
        "proxy": None if run.route.proxy is None else run.route.proxy.display,
        **run.stats,
        "replies": len(run.replies),
        "seconds": round(run.elapsed, 3),
    }
    return frame


def failed_step(run: Run) -> str | None:
    """The step of the conversation the run failed at (``None``: none did)."""
    error = run.error
    if run.route.proxy is not None and not run.tunnelled:
        return "proxy"
    if run.handshake is None:
        return "handshake"
    if isinstance(error, AuthenticationError) or (run.endpoint.described.logs_in and not run.logged_in and not run.pushed):
        return "login"
    if isinstance(error, SubscriptionError) or (error is not None and not run.pushed):
        return "subscribe"
    if error is not None or not run.pushed:
        return "first pushes"
    return None


def _conversation(run: Run) -> list[Step]:
    """The steps of the conversation in order, up to the one that failed."""
    failed = failed_step(run)
    makers: dict[str, Callable[[Run, bool], Step]] = {"proxy": _proxy_step} if run.route.proxy is not None else {}
    makers["handshake"] = _handshake_step
    if run.endpoint.described.logs_in:
        makers["login"] = _login_step
    makers |= {"subscribe": _subscribe_step, "first pushes": _pushes_step}
    steps = [_configuration_step(run)]
    for name, make in makers.items():
        steps.append(make(run, name == failed))
        if name == failed:
            break
    return steps


def _failed(step: str, run: Run, detail: str) -> Step:
    """A failed step: what happened on one line, and the hint for the run's failure."""
    return Step(step, False, one_line(detail), hint_for(run))


def _configuration_step(run: Run) -> Step:
    """What is checked and how, and where the credentials came from (a variable set elsewhere
    is a common surprise)."""
    sub, options = run.subscription, run.options
    depth = f" depth {sub.depth}" if getattr(sub, "depth", None) else ""
    ca = f", CA file {options.ca_file}" if options.ca_file else ""
    return Step(
        "configuration",
        True,
        (
            f"{run.service} at {run.endpoint.display_url} ({run.sources}); {sub.label}{depth} until {run.pushes} pushes"
            f" or {run.seconds:g}s; connect timeout {options.connect_timeout:g}s, {options.max_failures or 'unlimited'} attempt(s){ca};"
            f" {run.route}"
        ),
    )


def _proxy_step(run: Run, failed: bool) -> Step:
    """The tunnel through the proxy: opened, or how the proxy refused (before the server had a say)."""
    proxy = run.route.proxy
    assert proxy is not None, "a run without a proxy has no proxy step"
    if failed:
        return _failed("proxy", run, run.failure or str(run.error or f"no tunnel within {run.seconds:g}s"))
    host, port = target(run.endpoint.connect_url)
    lookup = "" if is_address(host) else " (the proxy looked the name up)" if proxy.remote_dns else " (the name looked up here)"
    return Step("proxy", True, f"the {proxy.protocol} proxy at {proxy.address} opened a tunnel to {host}:{port}{lookup}")


def _handshake_step(run: Run, failed: bool) -> Step:
    """The websocket upgrade: status, TLS, server; for Nexus the token too (it is in the URL)."""
    shake = run.handshake
    if failed or shake is None:  # never None unless failed: a run without a handshake fails at it
        return _failed("handshake", run, run.failure or str(run.error or f"no connection within {run.seconds:g}s"))
    tls = shake.tls or "no TLS (ws://)"
    server = f", server {shake.server!r}" if shake.server else ""
    described = run.endpoint.described
    accepted = (
        ""
        if described.logs_in
        else f"; the {' and '.join(described.credentials)} {'was' if len(described.credentials) == 1 else 'were'} accepted"
    )
    return Step("handshake", True, f"HTTP {status_text(shake.status)}, {tls}{server}{accepted}")


def _login_step(run: Run, failed: bool) -> Step:
    """ChaiNext's reply to the signed login."""
    reply = run.reply("login")
    if failed:
        return _failed("login", run, reply.text if reply else str(run.error or f"no login reply in {run.elapsed:.1f}s"))
    if reply is None:
        return Step("login", None, "no login reply nexusdata recognises; it subscribed anyway and pushes came")
    return Step("login", True, one_line(reply.text))


def _subscribe_step(run: Run, failed: bool) -> Step:
    """The reply to the subscription; none is information only (Nexus defines no reply)."""
    reply = run.reply("subscribe")
    if failed:
        return _failed("subscribe", run, reply.text if reply and reply.outcome == "refused" else str(run.error))
    if reply is None:
        described = run.endpoint.described
        none = "" if described.defines_replies else f" (the {described.title} document defines none)"
        return Step("subscribe", None, f"no reply{none}")
    return Step("subscribe", True, one_line(reply.text))


def _pushes_step(run: Run, failed: bool) -> Step:
    """How many pushes came and how soon, and the first ones as typed rows: proof they parse."""
    if failed:
        if run.pushed:
            return _failed("first pushes", run, f"{run.pushed} push(es), then: {run.error}")
        silence = next((e.reason for e in run.events if e.event == "silent"), "")
        return _failed("first pushes", run, f"no push in {run.elapsed:.1f}s" + (f": {silence}" if silence else ""))
    first = (run.arrivals[0].received_ns - run.started_ns) / 1e9 if run.arrivals else 0.0
    shown = " | ".join(_push_text(rows) for _, rows in list(run.frame.groupby("received_at", sort=True))[:SHOWN_PUSHES])
    return Step("first pushes", True, f"{run.pushed} of the {run.pushes} wanted, the first {first:.2f}s after the start: {shown}")


def _push_text(rows: pd.DataFrame) -> str:
    """One push as its first row's values, cut short."""
    row = rows.drop(columns=list(_META)).iloc[0]
    return cut(" ".join(f"{column}={_value(value)}" for column, value in row.items()), SHOWN_CHARS)


def _value(value: Any) -> str:
    """A cell as shown: times in ISO form to the millisecond (``Z`` for UTC), the rest as is."""
    if isinstance(value, pd.Timestamp):
        return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return str(value)


def _information(run: Run) -> list[Step]:
    """The counts, and for a run that got pushes or a handshake the rate and the clock."""
    steps = [_counts_step(run)]
    if run.pushed:
        steps.append(_rate_step(run))
    if run.pushed or (run.handshake and run.handshake.clock_offset is not None):
        steps.append(_clock_step(run))
    return steps


def _counts_step(run: Run) -> Step:
    """Information: a malformed frame among good pushes is worth a report, not a failed check."""
    s = run.stats
    detail = (
        f"{s['messages']} pushes, {len(run.replies)} replies, {s['unknown']} unknown and {s['malformed']} malformed"
        f" frames over {s['connection']} connection(s) in {run.elapsed:.1f}s"
    )
    unread = (
        f"frames it could not read: run `nexusdata check {run.service} --trace FILE` and report the trace"
        if s["malformed"]
        else ""
    )
    return Step("counts", None, detail, unread)


def _rate_step(run: Run) -> Step:
    """Pushes per second after the first read (the first one only starts the clock)."""
    reads = run.arrivals
    span = (reads[-1].received_ns - reads[0].received_ns) / 1e9 if reads else 0.0
    if span <= 0:
        return Step("rate", None, f"all {run.pushed} push(es) came in one read: no rate to tell")
    later = sum(a.pushes for a in reads[1:])
    return Step("rate", None, f"{later / span:.1f} pushes/s ({later} push(es) in the {span:.2f}s after the first)")


def _clock_step(run: Run) -> Step:
    """How late pushes arrive by the server's own times, and this clock against the server's
    ``Date`` header (ChaiNext signatures depend on it)."""
    parts, hint = [], ""
    column = next((c for c in TIME_COLUMNS if c in run.frame.columns), None)
    lag = pd.Timedelta((run.frame["received_at"] - run.frame[column]).median()) if column is not None else pd.NaT
    if pd.notna(lag):
        parts.append(f"pushes received a median {lag.total_seconds():.3f}s after their {column}")
    offset = run.handshake.clock_offset if run.handshake else None
    if offset is not None:
        side = "ahead of" if offset >= 0 else "behind"
        parts.append(f"by the handshake's Date header this clock is {abs(offset):.1f}s {side} the server's (whole seconds)")
        if abs(offset) > CLOCK_WARNING:
            hint = (
                f"this machine's clock is {abs(offset):.0f}s off the server's: set it right (NTP); ChaiNext refuses a"
                f" login signed more than {chainext.SIGN_WINDOW // 60} minutes off"
            )
    return Step("clock", None, "; ".join(parts) or "no time to compare", hint)


def _verdict(run: Run, steps: list[Step]) -> Step:
    """Passed when no step failed, else the first failed step and what it said."""
    failing = next((s for s in steps if s.ok is False), None)
    if failing is None:
        return Step(
            "verdict",
            True,
            (
                f"PASSED: {run.service} at {run.endpoint.display_url} gave {run.pushed} push(es) of {run.subscription.label}"
                f" in {run.elapsed:.1f}s"
            ),
        )
    return Step("verdict", False, f"FAILED at {failing.step}: {failing.detail}")


# -- hints ------------------------------------------------------------------------------------------

WHAT_TO_CHECK = {"symbol": "symbol (as the server spells it)", "id": "topic and id"}
"""What names a silent subscription, by its kind's key."""


def hint_for(run: Run) -> str:
    """What to do about the way ``run`` failed (``""``: it did not): the advice of its cause
    (:class:`~nexusdata.errors.Cause`), as its error or failed attempt gave it, else filled in
    for this run."""
    cause = run.cause
    if cause is None:
        return ""
    error = run.error
    if isinstance(error, NexusDataError) and error.cause is cause and error.advice:
        return error.advice
    if run.attempt is not None and run.attempt.cause is cause:
        return run.attempt.advice
    key = run.kind.key or run.endpoint.described.key
    return cause.advise(**run.endpoint.described.advice_context, what=WHAT_TO_CHECK.get(key, key))


def one_line(text: str) -> str:
    """``text`` on one line (a pretty-printed reply has several), cut short."""
    return cut(" ".join(text.split()), SHOWN_CHARS * 3)


def cut(text: str, size: int) -> str:
    """``text`` cut to ``size`` characters, with ``…`` when it was longer."""
    return text if len(text) <= size else text[: size - 1] + "…"


def format_transcript(frame: pd.DataFrame) -> str:
    """The transcript as text: a mark (✓ passed, ✗ failed, · information), the step and what
    happened per line, an indented ``hint:`` line where there is one, and the verdict last."""
    width = max(len(step) for step in frame["step"])
    lines = []
    for step, passed, detail, hint in zip(frame["step"], frame["ok"], frame["detail"], frame["hint"]):
        ok = None if pd.isna(passed) else bool(passed)
        if step == "verdict":
            lines.append(f"{MARKS[ok]} {detail}")
            continue
        lines.append(f"{MARKS[ok]} {step:<{width}}  {detail}")
        if hint:
            lines.append(f"  {'':<{width}}  hint: {hint}")
    return "\n".join(lines)
