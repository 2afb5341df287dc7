"""Seeded price paths and the Nexus order book built around them.

Every price in the simulator comes from a :class:`Walk` owned by the shared :class:`Market`.
Walks advance only when a push consumes them (a book, a trade, an index tick), never with the
clock, so the same seed gives the same values whatever the timing; timestamps are the only
values taken from the clock.
"""

from __future__ import annotations

import hashlib
import math
import random
import time
from typing import Any

CPS: tuple[str, ...] = ("b2c2", "cumberland", "galaxy", "wintermute")
"""Counterparties quoting the aggregated book and filling the account's orders."""

SYMBOLS: tuple[str, ...] = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT", "DOGEUSDT", "LTCUSDT", "DOTUSDT", "BNBUSDT")
"""The Nexus symbols the simulator serves by default (a subscription to another is refused)."""
START_PRICES: dict[str, float] = {"BTCUSDT": 48000.0, "ETHUSDT": 3000.0}


def now_ms() -> int:
    """The wall clock in epoch milliseconds (timestamps only, never data values)."""
    return time.time_ns() // 1_000_000


def start_price(symbol: str) -> float:
    """Where a symbol's path starts: known symbols at a realistic level, any other symbol at a
    level in [100, 10000) derived from its name (stable across runs, unlike ``hash``)."""
    if symbol in START_PRICES:
        return START_PRICES[symbol]
    digest = int.from_bytes(hashlib.sha256(symbol.encode()).digest()[:8], "big")
    return 100.0 + digest % 990_000 / 100


class Walk:
    """One price path: a Gaussian random walk in log-price, pulled gently back towards its start
    so that a long run stays in a plausible range (prices never reach zero)."""

    def __init__(self, start: float, rng: random.Random, sigma: float = 0.0005, pull: float = 0.001) -> None:
        self.start = start
        self.value = start
        self._rng = rng
        self._sigma = sigma
        self._pull = pull

    def step(self) -> float:
        """Advance one step and return the new price."""
        x = math.log(self.value / self.start)
        x += -self._pull * x + self._sigma * self._rng.gauss(0.0, 1.0)
        self.value = self.start * math.exp(x)
        return self.value


class Market:
    """All price paths of one simulator, created on first use, each seeded from ``seed`` and its
    name (so adding a path never changes another)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._walks: dict[str, Walk] = {}

    def walk(self, name: str, start: float | None = None) -> Walk:
        """The path called ``name`` (a Nexus symbol, or a ChaiNext coin or index key); ``start``
        defaults to :func:`start_price` of the name."""
        walk = self._walks.get(name)
        if walk is None:
            first = start_price(name) if start is None else start
            walk = self._walks[name] = Walk(first, random.Random(f"{self.seed}:walk:{name}"))
        return walk

    def mid_cents(self, symbol: str) -> int:
        """The symbol's current mid in cents, without advancing it."""
        return round(self.walk(symbol).value * 100)

    def book(self, symbol: str, depth: int, rng: random.Random) -> dict[str, Any]:
        """An aggregated order book around the symbol's next mid: ``depth`` levels a side, best
        first. Prices are whole cents, so the book never crosses and every side is strictly
        monotone after formatting."""
        mid = round(self.walk(symbol).step() * 100)
        half = max(1, round(mid * 0.0001))
        tick = max(1, round(mid * 0.00005))
        stamp = now_ms()
        ask = mid + half * rng.randint(1, 3)
        bid = mid - half * rng.randint(1, 3)
        asks, bids = [], []
        for level in range(depth):
            asks.append(_level(ask, level, rng, stamp))
            bids.append(_level(bid, level, rng, stamp))
            ask += tick * rng.randint(1, 4)
            bid -= tick * rng.randint(1, 4)
        return {"asks": asks, "bids": bids, "symbol": symbol}


def _level(cents: int, level: int, rng: random.Random, stamp: int) -> dict[str, str]:
    """One book level as the document shows it: decimal strings, millisecond time string."""
    volume = rng.uniform(0.05, 5.0) * (1 + level / 2)
    return {
        "cp": rng.choice(CPS),
        "price": f"{cents // 100}.{cents % 100:02d}",
        "time": str(stamp - rng.randint(0, 300)),
        "volume": f"{volume:.4f}",
    }
