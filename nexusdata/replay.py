"""``nd.replay``: a recording served over both feeds' protocols, so code written against the live
feeds (collectors, live handles, live plots) runs unchanged on recorded data."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .sim import Simulator


def replay(path: str | Path, speed: float = 1.0, **options: Any) -> Simulator:
    """Start a simulator serving the recording at ``path``, ``speed`` times faster than recorded
    (``float("inf")``: without pauses), and return it. Each subscription to a recorded symbol,
    id or the orders plays the recording from its start.

    Use it as a context manager (or call ``.stop()``); ``.nexus`` and ``.chainext`` are the
    keyword arguments to connect with::

        with nd.replay("rec", speed=10) as rp:
            df = nd.stream_depth("BTCUSDT", seconds=30, **rp.nexus)

    ``options`` go to :class:`~nexusdata.sim.Simulator` (``port``, ``token``, ``record_sent``, ...).
    """
    # the server is loaded when a replay starts, not with nexusdata
    from .sim import Simulator

    return Simulator(replay=path, speed=speed, **options).start()
