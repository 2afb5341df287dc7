"""nexusdata: live Nexus market, order and risk data and ChaiNext indices as pandas DataFrames.

>>> import nexusdata as nd
>>> df = nd.stream_depth("BTCUSDT", seconds=60)          # doctest: +SKIP
>>> idx = nd.collect_index("pair_index_v3", 1, seconds=30)  # doctest: +SKIP
>>> df = await nd.astream_depth("BTCUSDT", seconds=60)     # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .analytics import bars, pair_weights, tidy_depth, top_of_book, wide
from .batches import BatchCallback, Batches
from .charts import PLOTS
from .collectors import collect_index, collect_orders, collect_risk, stream_depth
from .errors import (
    ArgumentError,
    AuthenticationError,
    Cause,
    ConnectionFailedError,
    NexusDataError,
    ProxyError,
    ServerError,
    SubscriptionError,
)
from .gaps import gap_log
from .live import (
    LiveHandle,
    live_depth,
    live_handles,
    live_index,
    live_orders,
    live_risk,
    stop_live,
)
from .recording.reader import read_recording
from .recording.writer import record
from .replay import replay

if TYPE_CHECKING:
    from .aio import acollect_index, acollect_orders, acollect_risk, astream_depth
    from .contact import check, format_transcript
    from .heatmap import plot_depth_heatmap as plot_depth_heatmap  # the static charts typed (PLOTS finds them)
    from .plots import plot_depth as plot_depth
    from .plots import plot_pair_weights as plot_pair_weights
    from .recording.compaction import compact

__all__ = [
    "ArgumentError",
    "AuthenticationError",
    "BatchCallback",
    "Batches",
    "Cause",
    "ConnectionFailedError",
    "LiveHandle",
    "NexusDataError",
    "ProxyError",
    "ServerError",
    "SubscriptionError",
    "__version__",
    "acollect_index",
    "acollect_orders",
    "acollect_risk",
    "astream_depth",
    "bars",
    "check",
    "collect_index",
    "collect_orders",
    "collect_risk",
    "compact",
    "format_transcript",
    "gap_log",
    "live_depth",
    "live_handles",
    "live_index",
    "live_orders",
    "live_risk",
    "pair_weights",
    "read_recording",
    "record",
    "replay",
    "stop_live",
    "stream_depth",
    "tidy_depth",
    "top_of_book",
    "wide",
    *PLOTS,  # the static charts (plot_depth, plot_depth_heatmap, plot_pair_weights): nexusdata/charts.py
]


def __getattr__(name: str) -> Any:
    """The static charts (each in its display module, by the registry of charts), the
    first-contact check, compaction, the asyncio collectors and ``__version__``, found on first
    use: matplotlib, the check's transcript, the compactor, asyncio and the package metadata are
    loaded by what needs them, not by ``import nexusdata``."""
    if name in ("astream_depth", "acollect_orders", "acollect_risk", "acollect_index"):
        from . import aio

        return getattr(aio, name)
    if name in PLOTS:
        return getattr(importlib.import_module(f".{PLOTS[name].module}", __name__), name)
    if name in ("check", "format_transcript"):
        from . import contact

        return getattr(contact, name)
    if name == "compact":
        from .recording import compaction

        return compaction.compact
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("nexusdata")
        except PackageNotFoundError:  # running from a source tree that was never installed
            return "0+unknown"
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    """The module's names and the lazily loaded ones of ``__all__``, which :func:`__getattr__`
    finds on first use: tab completion offers them before they are loaded."""
    return sorted(set(globals()) | set(__all__))
