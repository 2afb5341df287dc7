"""nexusdata: live Nexus market, order and risk data and ChaiNext indices as pandas DataFrames.

>>> import nexusdata as nd
>>> df = nd.stream_depth("BTCUSDT", seconds=60)          # doctest: +SKIP
>>> idx = nd.collect_index("pair_index_v3", 1, seconds=30)  # doctest: +SKIP
"""

from importlib.metadata import PackageNotFoundError, version

from .check import check, format_transcript
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
from .plots import plot_depth, plot_pair_weights
from .reader import read_recording
from .record import record
from .replay import replay

try:
    __version__ = version("nexusdata")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "ArgumentError",
    "AuthenticationError",
    "ConnectionFailedError",
    "LiveHandle",
    "NexusDataError",
    "ServerError",
    "SubscriptionError",
    "__version__",
    "check",
    "collect_index",
    "collect_orders",
    "collect_risk",
    "format_transcript",
    "gap_log",
    "live_depth",
    "live_handles",
    "live_index",
    "live_orders",
    "live_risk",
    "plot_depth",
    "plot_pair_weights",
    "read_recording",
    "record",
    "replay",
    "stop_live",
    "stream_depth",
]
