"""The one run loop of the blocking calls (collectors, ``record``, ``check``): start a feed, wait
until its time is up or it finishes, waking every tick for the progress bar, a live chart or a
recorder's flush and so that Ctrl-C (the notebook's stop button) is honoured at once on every
platform; then stop it cleanly, whatever happened.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from .errors import ConnectionFailedError
from .feed import Feed
from .progress import RunProgress

log = logging.getLogger("nexusdata")

TICK = 0.2
"""Seconds between wake-ups while a run blocks."""

SHOW_EVERY = 0.1
"""Seconds at least between two updates of the progress bar, however often a run wakes (a
recorder checks its rows more often than a bar need move)."""

INTERRUPT_AGAIN = 3.0
"""Seconds after one Ctrl-C in which a second one raises instead of returning the rows so far
(so a script that loops over collections can be stopped)."""
_last_interrupt = -math.inf


@dataclass(frozen=True)
class Outcome:
    """How a run ended: ``completed`` (time up or ``max_messages`` reached, without error),
    ``interrupted`` (Ctrl-C), after ``elapsed`` seconds."""

    completed: bool
    interrupted: bool
    elapsed: float


def run(
    feed: Feed,
    seconds: float,
    *,
    bar: RunProgress | None = None,
    on_tick: Callable[[], object] | None = None,
    more: Callable[[], str] | None = None,
    on_stop: Callable[[], object] | None = None,
    tick: float = TICK,
    on_interrupt: str | None = "returning what arrived so far",
) -> Outcome:
    """Run ``feed`` for ``seconds`` (``inf``: until it finishes) and stop it.

    Every ``tick`` it calls ``on_tick`` and brings ``bar`` up to date (with ``more()`` beside
    the counts; at most every :data:`SHOW_EVERY`); ``on_stop`` runs once the feed stopped, before the bar's last update (a
    recorder's last flush). Ctrl-C ends the run early with :attr:`Outcome.interrupted` set, logging
    ``on_interrupt`` (what happens to what arrived); a second one within
    :data:`INTERRUPT_AGAIN` seconds raises, as does the first one when ``on_interrupt`` is
    ``None``. The feed is stopped before this returns or raises.
    """
    started = time.monotonic()
    deadline = started + seconds
    shown = -math.inf

    def show(now: float, *, last: bool = False) -> None:
        nonlocal shown
        if last or now - shown >= SHOW_EVERY:
            shown = now
            show_progress(feed, bar, started, more)

    feed.start()
    completed = interrupted = False
    try:
        while not feed.wait(min(tick, max(deadline - time.monotonic(), 0))):
            if on_tick is not None:
                on_tick()
            now = time.monotonic()
            show(now)
            if now >= deadline:
                break
        completed = feed.error is None
    except KeyboardInterrupt:
        if on_interrupt is None:
            raise
        interrupted = True
        interrupt_once(on_interrupt)
    finally:
        feed.stop()
        if on_stop is not None:
            on_stop()
        if bar is not None:
            show(time.monotonic(), last=True)
            bar.close(completed)
    return Outcome(completed, interrupted, time.monotonic() - started)


def show_progress(feed: Feed, bar: RunProgress | None, started: float, more: Callable[[], str] | None = None) -> None:
    """Bring ``bar`` up to date with ``feed``: seconds since ``started`` (monotonic), messages,
    ``more()`` and the newest warning."""
    if bar is not None:
        said = feed.warnings()
        bar.update(time.monotonic() - started, feed.accepted, said[-1] if said else None, more() if more else "")


def interrupt_once(what: str) -> None:
    """Ctrl-C stops a run and keeps what arrived; a second one within :data:`INTERRUPT_AGAIN`
    seconds raises, so a script looping over runs stops too."""
    global _last_interrupt
    now = time.monotonic()
    if now - _last_interrupt < INTERRUPT_AGAIN:
        _last_interrupt = -math.inf
        raise KeyboardInterrupt
    _last_interrupt = now
    log.warning("interrupted: %s (Ctrl-C again within %gs to stop a script)", what, INTERRUPT_AGAIN)


def raise_feed_error(feed: Feed, rows: Any = None) -> None:
    """Raise the error that ended ``feed``, if any, keeping ``rows`` (the DataFrame of what
    arrived before) on a :class:`ConnectionFailedError`."""
    error = feed.error
    if error is not None:
        if isinstance(error, ConnectionFailedError) and rows is not None:
            error.frame = rows  # what arrived before the feed became unreachable is not lost
        raise error


def run_attrs(feed: Feed, interrupted: bool) -> dict[str, Any]:
    """A run's record for ``df.attrs["nexusdata"]``: counters, gap log, reply log, warnings and
    whether it was interrupted. Plain JSON values only: pandas writes attrs into Parquet metadata."""
    return {
        **feed.stats(),
        "interrupted": interrupted,
        "gaps": [asdict(e) for e in feed.connection.events],
        "replies": [r._asdict() for r in feed.connection.replies_so_far()],
        "warnings": feed.warnings(),
    }
