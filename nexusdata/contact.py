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

from . import kinds
from .config import (
    ENV,
    Endpoint,
    Options,
    Service,
    positive_int,
    positive_number,
    split_conn,
)
from .errors import ArgumentError, AuthenticationError, SubscriptionError
from .feed import Arrival, Feed
from .kinds import KINDS, Kind, Subscription
from .protocol import chainext
from .protocol.session import Reply, Secrets
from .protocol.urls import CHAINEXT_PATH, NEXUS_PATH, redact
from .run import run as run_feed
from .transport.connection import ConnectionEvent, Handshake
from .transport.failures import status_text

STEPS = ("configuration", "handshake", "login", "subscribe", "first pushes", "counts", "rate", "clock", "verdict")
"""Every step a transcript can have, in order (``login`` for ChaiNext only; a failed run stops
at the step that failed, then gives the counts and the verdict)."""
COLUMNS = ("step", "ok", "detail", "hint")
MARKS = {True: "✓", False: "✗", None: "·"}
"""The mark of a step in :func:`format_transcript`: passed, failed, information only."""
SERVICES: tuple[Service, ...] = ("nexus", "chainext")
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
    subscription: Any
    sources: str
    seconds: float
    pushes: int
    elapsed: float
    started_ns: int
    error: Exception | None
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
    def said(self) -> str:
        """Everything the run said about failing, lower-cased, for the hints to match."""
        return f"{self.error or ''} {self.failure}".lower()


def check(
    feed: str,
    *,
    symbol: str = "BTCUSDT",
    depth: int = 5,
    topic: str = "coin_index",
    id: str | int = "1",
    seconds: float = 10.0,
    pushes: int = 5,
    trace: str | os.PathLike[str] | None = None,
    **conn: Any,
) -> pd.DataFrame:
    """Connect once to ``feed`` (``"nexus"`` or ``"chainext"``), authenticate, subscribe to
    ``symbol`` (Nexus depth) or ``topic`` ``id`` (ChaiNext) and wait until ``pushes`` pushes
    arrived or ``seconds`` passed, then return the transcript (columns ``step``, ``ok``,
    ``detail``, ``hint``; ``attrs["nexusdata"]`` holds ``passed``, ``verdict``, ``error`` and the
    counters). ``**conn`` takes the collectors' credentials and connection options (one attempt
    unless ``max_failures=`` says otherwise). ``trace=PATH`` writes every frame and event as JSON
    lines. Bad arguments raise :class:`~nexusdata.ArgumentError` before anything connects."""
    kind, subscription = _target(feed, symbol, depth, topic, id)
    name = kind.service
    seconds = positive_number(seconds, "seconds")
    pushes = positive_int(pushes, "pushes")
    endpoint, options, _ = split_conn(name, {"max_failures": DEFAULT_MAX_FAILURES, **conn})
    scrub = scrubber(endpoint)
    sources = _sources(name, conn)
    with _tracing(trace, name, scrub) as tracer:
        run = _run(endpoint, options, subscription, kind, seconds, pushes, sources, tracer)
    return transcript(run, scrub)


def _target(service: object, symbol: object, depth: object, topic: object, id: object) -> tuple[Kind, Subscription]:
    """The checked kind the service is checked with, and its subscription."""
    if service == "nexus":
        return KINDS["depth"], KINDS["depth"].subscription(symbol, depth)
    if service == "chainext":
        kind = kinds.topic(topic)
        return kind, kind.subscription(id)
    raise ArgumentError(f"feed must be one of {', '.join(map(repr, SERVICES))}, got {service!r}")


def _sources(feed: str, conn: Mapping[str, Any]) -> str:
    """Where the credentials came from: the arguments, or their environment variables."""
    given = [key for key in ENV[feed] if conn.get(key) is not None]
    parts = [f"{', '.join(given)} from the arguments"] if given else []
    return ", ".join(parts + [f"{key} from {variable}" for key, variable in ENV[feed].items() if key not in given])


def scrubber(endpoint: Endpoint) -> Callable[[str], str]:
    """A function that masks the endpoint's secrets (every form of them) and secret-looking URL
    parameters in a text: a second guard over what the transport already scrubbed."""
    secrets = Secrets((endpoint.token, endpoint.api_secret))

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
        subscription,
        sources,
        seconds,
        pushes,
        outcome.elapsed,
        started_ns,
        feed.error,
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
        **run.stats,
        "replies": len(run.replies),
        "seconds": round(run.elapsed, 3),
    }
    return frame


def failed_step(run: Run) -> str | None:
    """The step of the conversation the run failed at (``None``: none did)."""
    error = run.error
    if run.handshake is None:
        return "handshake"
    if isinstance(error, AuthenticationError) or (run.service == "chainext" and not run.logged_in and not run.pushed):
        return "login"
    if isinstance(error, SubscriptionError) or (error is not None and not run.pushed):
        return "subscribe"
    if error is not None or not run.pushed:
        return "first pushes"
    return None


def _conversation(run: Run) -> list[Step]:
    """The steps of the conversation in order, up to the one that failed."""
    failed = failed_step(run)
    makers: dict[str, Callable[[Run, bool], Step]] = {"handshake": _handshake_step}
    if run.service == "chainext":
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
            f" or {run.seconds:g}s; connect timeout {options.connect_timeout:g}s, {options.max_failures or 'unlimited'} attempt(s){ca}"
        ),
    )


def _handshake_step(run: Run, failed: bool) -> Step:
    """The websocket upgrade: status, TLS, server; for Nexus the token too (it is in the URL)."""
    shake = run.handshake
    if failed or shake is None:  # never None unless failed: a run without a handshake fails at it
        return _failed("handshake", run, run.failure or str(run.error or f"no connection within {run.seconds:g}s"))
    tls = shake.tls or "no TLS (ws://)"
    server = f", server {shake.server!r}" if shake.server else ""
    token = "; the token was accepted" if run.service == "nexus" else ""
    return Step("handshake", True, f"HTTP {status_text(shake.status)}, {tls}{server}{token}")


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
        none = " (the Nexus document defines none)" if run.service == "nexus" else ""
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


def _other_feed(run: Run) -> str:
    """The URL is the other feed's: say where each feed lives."""
    other = "chainext" if run.service == "nexus" else "nexus"
    return (
        f"this URL serves the other feed: Nexus is at {NEXUS_PATH}, ChaiNext at {CHAINEXT_PATH}; fix the URL, or"
        f" check it with `nexusdata check {other}`"
    )


def _advice(run: Run) -> str:
    """The advice an error message carries after its last ``; `` (``""``: none): the server's
    own text, which comes before it, may hold one too."""
    text = str(run.error or "")
    return text.rsplit("; ", 1)[1] if "; " in text else ""


def _refused_subscription(run: Run) -> str:
    """The server's refusal (code and text) and what to check, as the protocol layer says it for
    this feed's subscription."""
    error = run.error
    said = " ".join(str(p) for p in (getattr(error, "code", None), getattr(error, "info", None)) if p not in (None, ""))
    return f"the server refused the subscription ({said or 'no reason given'}): {_advice(run)}"


def _silent(run: Run) -> str:
    """No reply and no push: most often a symbol or id the server does not know, or no permission."""
    what = "symbol (as the server spells it)" if run.service == "nexus" else "topic and id"
    return (
        f"nothing arrived after subscribing: check the {what} and the permissions of the credentials; a quiet"
        " market may push nothing for a while (give it more seconds)"
    )


HINTS: tuple[tuple[Callable[[Run], bool], Callable[[Run], str]], ...] = (
    (lambda r: "looks like a" in r.said or "not a chainext endpoint" in r.said, _other_feed),
    (
        lambda r: isinstance(r.error, AuthenticationError) and r.service == "nexus",
        lambda r: (
            f"the server refused the token: check it (--token, token= or {ENV['nexus']['token']}) and that it was"
            " issued for this server"
        ),
    ),
    (
        lambda r: isinstance(r.error, AuthenticationError) and getattr(r.error, "code", None) in chainext.SIGNATURE_CODES,
        lambda r: f"the login signature was refused: {_advice(r) or 'check the API key and secret'}",
    ),
    (
        lambda r: isinstance(r.error, AuthenticationError),
        lambda r: (
            f"ChaiNext refused the login: check the API key (--api-key, api_key= or {ENV['chainext']['api_key']})"
            " and its permissions"
        ),
    ),
    (
        lambda r: "certificate was refused" in r.said,
        lambda r: (
            "the server's TLS certificate is not trusted here: if you trust it, pass --ca-file (ca_file=) the PEM"
            " bundle of the CA that signed it"
        ),
    ),
    (lambda r: "tls handshake failed" in r.said, lambda r: "is the server really wss:// (TLS)? a plain server needs a ws:// URL"),
    (
        lambda r: "no websocket endpoint at this path" in r.said,
        lambda r: f"wrong path: Nexus serves {NEXUS_PATH}, ChaiNext {CHAINEXT_PATH}; check the URL's path",
    ),
    (
        lambda r: "(dns" in r.said,  # not found, or not looked up now
        lambda r: "the host name does not resolve: check its spelling, and whether it needs a VPN or a company DNS",
    ),
    (
        lambda r: "connection refused" in r.said,
        lambda r: "nothing listens there: the server is down, or the port in the URL is wrong",
    ),
    (
        lambda r: "timed out" in r.said,
        lambda r: "no answer within the connect timeout: a firewall or proxy in the way, or the wrong host or port",
    ),
    (lambda r: isinstance(r.error, SubscriptionError), _refused_subscription),
    (lambda r: r.error is None and not r.pushed, _silent),
    (
        lambda r: r.error is not None,
        lambda r: _advice(r) or f"run `nexusdata check {r.service} --trace FILE` and report the trace",
    ),
)
"""What to do about a failed run: the hint of the first entry whose test matches, in order
(the other feed's URL before a refused handshake, a refused signature before other logins)."""


def hint_for(run: Run) -> str:
    """The hint for the way ``run`` failed (``""``: none applies)."""
    return next((hint(run) for matches, hint in HINTS if matches(run)), "")


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
