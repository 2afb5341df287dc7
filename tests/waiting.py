"""Waiting in tests without sleeping: on a condition, bounded in count and in time, and time
bounds that are the behaviour under test, with a margin no loaded machine eats.

Wait on an event where there is one (``threading.Event.wait``, ``feed.wait``,
``sim.wait_for_sent``, ``sim.faults.wait_for``); :func:`wait_until` is for what has none (pushes
accepted by the client, a file another process writes, a close the server has finished).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from nexusdata.config import Options

WAIT = 10.0
"""Seconds a condition that should hold within moments is given before the test fails."""


def wait_until(condition: Callable[[], object], timeout: float = WAIT, interval: float = 0.02) -> bool:
    """Poll ``condition`` every ``interval`` seconds until it is true; False if it is still false
    after ``timeout`` seconds (at most ``timeout / interval + 1`` polls)."""
    deadline = time.monotonic() + timeout
    for _ in range(math.ceil(timeout / interval) + 1):
        if condition():
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            break
        time.sleep(min(interval, left))
    return bool(condition())


@contextmanager
def well_before(given: float) -> Iterator[None]:
    """Assert that the block ends in under half of ``given``: the seconds the call in it was
    allowed, or would take if the behaviour under test were broken (a refusal retried, a
    collection run to its end). Only for a time bound that IS the behaviour (stopping early,
    failing at once); a call that runs its full time still fails, and a slow machine has many
    seconds of margin."""
    started = time.monotonic()
    yield
    took = time.monotonic() - started
    assert took < given / 2, f"took {took:.1f} s, not well before the {given:g} s it was given"


def giving_up(options: Options | None = None) -> float:
    """The least time the reconnects of ``options`` (by default the defaults) take to give up on
    a server that fails every attempt: ``max_failures - 1`` delays, each at least half its
    ceiling (equal jitter). What a refusal that were retried would cost."""
    options = options or Options()
    assert options.max_failures is not None
    return sum(min(options.backoff_cap, options.backoff_base * 2 ** (n - 1)) / 2 for n in range(1, options.max_failures))
