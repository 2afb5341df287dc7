"""nexusdata: live Nexus market, order and risk data and ChaiNext indices as pandas DataFrames.

>>> import nexusdata as nd
>>> df = nd.stream_depth("BTCUSDT", seconds=60)          # doctest: +SKIP
>>> idx = nd.collect_index("pair_index_v3", 1, seconds=30)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .analytics import bars, pair_weights, tidy_depth, top_of_book, wide
from .collectors import collect_index, collect_orders, collect_risk, stream_depth
from .errors import (
    ArgumentError,
    AuthenticationError,
    ConnectionFailedError,
    NexusDataError,
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
from .reader import read_recording
from .record import record
from .replay import replay

if TYPE_CHECKING:
    from .compaction import compact
    from .contact import check, format_transcript
    from .heatmap import plot_depth_heatmap
    from .plots import plot_depth, plot_pair_weights

__all__ = [
    "ArgumentError",
    "AuthenticationError",
    "ConnectionFailedError",
    "LiveHandle",
    "NexusDataError",
    "ServerError",
    "SubscriptionError",
    "__version__",
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
    "plot_depth",
    "plot_depth_heatmap",
    "plot_pair_weights",
    "read_recording",
    "record",
    "replay",
    "stop_live",
    "stream_depth",
    "tidy_depth",
    "top_of_book",
    "wide",
]


def __getattr__(name: str) -> Any:
    """The static charts, the first-contact check, compaction and ``__version__``, found on first
    use: matplotlib, the check's transcript, the compactor and the package metadata are loaded by
    what needs them, not by ``import nexusdata``."""
    if name in ("plot_depth", "plot_pair_weights"):
        from . import plots

        return getattr(plots, name)
    if name == "plot_depth_heatmap":
        from . import heatmap

        return heatmap.plot_depth_heatmap
    if name in ("check", "format_transcript"):
        from . import contact

        return getattr(contact, name)
    if name == "compact":
        from . import compaction

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
