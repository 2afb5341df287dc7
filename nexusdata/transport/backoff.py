"""Reconnect delays: capped exponential backoff with jitter.

"Equal jitter": half the exponential delay is fixed and half random, so many clients dropped at
once by a server restart spread out, yet none retries at once in a tight loop.
"""

from __future__ import annotations

import random


class Backoff:
    """Delays for consecutive failed attempts: ``base * 2**(n-1)`` capped at ``cap``, jittered."""

    def __init__(self, base: float, cap: float, rng: random.Random | None = None) -> None:
        self.base = base
        self.cap = cap
        self._rng = rng or random.Random()

    def delay(self, failures: int) -> float:
        """Seconds to wait after ``failures`` consecutive failures (``failures`` >= 1)."""
        ceiling = min(self.cap, self.base * 2 ** min(max(failures - 1, 0), 30))
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)
