"""The blocking collectors: one call, one DataFrame.

Each checks its arguments, starts a :class:`~nexusdata.feed.Feed` in the background, blocks until
``seconds`` pass or ``max_messages`` pushes arrive (a KeyboardInterrupt ends it early with what
arrived), stops cleanly and returns the typed DataFrame, all through one run loop
(:func:`nexusdata.run.run`). Its ``attrs["nexusdata"]`` holds the run's counters and gap log. While it blocks it can show a progress bar (``progress=``) and, in
Jupyter, a live chart (``plot=True``), both updated from the waiting thread.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

import pandas as pd

from . import kinds
from .config import split_conn
from .errors import ArgumentError
from .feed import LIVE_READS, Feed
from .kinds import (
    KINDS,
    Kind,
    OrderRows,
    Subscription,
    check_flag,
    check_run,
    keyword_only,
    order_view,
)
from .progress import RunProgress, in_kernel
from .run import raise_feed_error, run, run_attrs

if TYPE_CHECKING:
    from .widgets import LivePlot

log = logging.getLogger("nexusdata")


@keyword_only(1, "seconds")
def stream_depth(
    symbol: str,
    seconds: float = 60,
    depth: int = 5,
    *,
    max_messages: int | None = None,
    progress: bool = True,
    plot: bool = False,
    **conn: Any,
) -> pd.DataFrame:
    """Collect ``symbol``'s aggregated order book: one row per price level per push, with
    ``side`` ("bid"/"ask") and ``level`` (0 = best). ``plot=True`` shows the live depth chart
    in Jupyter while it collects."""
    kind = KINDS["depth"]
    return _collect(kind, kind.subscription(symbol, depth), seconds, max_messages, conn, progress, plot)


def collect_orders(
    seconds: float = 60,
    *,
    max_messages: int | None = None,
    rows: OrderRows = "orders",
    progress: bool = True,
    **conn: Any,
) -> pd.DataFrame:
    """Collect the account's order results: one row per parent order update, or with
    ``rows="cp_orders"`` one per child order, ``rows="executions"`` one per execution (each
    carrying its parent's ``client_order_id`` and ``parent_order_id``)."""
    kind = order_view(rows)
    return _collect(kind, kind.subscription(), seconds, max_messages, conn, progress, False)


def collect_risk(
    symbol: str,
    book: str,
    seconds: float = 60,
    *,
    max_messages: int | None = None,
    progress: bool = True,
    **conn: Any,
) -> pd.DataFrame:
    """Collect the risk position of ``symbol`` in ``book``: one row per position row pushed."""
    kind = KINDS["risk"]
    return _collect(kind, kind.subscription((symbol, book)), seconds, max_messages, conn, progress, False)


def collect_index(
    topic: str,
    id: str | int,
    seconds: float = 60,
    *,
    max_messages: int | None = None,
    progress: bool = True,
    plot: bool = False,
    **conn: Any,
) -> pd.DataFrame:
    """Collect a ChaiNext topic for one coin or index ``id``. ``pair_index`` and
    ``pair_index_v3`` give one row per exchange pair per push (the pair's status is
    ``pair_status``). ``plot=True`` (``pair_index_v3``) shows the live pair weight chart in
    Jupyter while it collects."""
    kind = kinds.topic(topic)
    return _collect(kind, kind.subscription(id), seconds, max_messages, conn, progress, plot)


def wants_chart(kind: Kind, plot: object) -> bool:
    """Whether ``plot=True`` asks for a live chart: one must exist for ``kind`` and be drawn from
    the main thread."""
    if not check_flag(plot, "plot"):
        return False
    if not kind.chart:
        charted = " and ".join(k.name for k in KINDS.values() if k.chart)
        raise ArgumentError(f"plot=True draws {charted} data only, not {kind.name}")
    if threading.current_thread() is not threading.main_thread():
        raise ArgumentError("plot=True draws from the calling thread, which must be the main thread")
    return True


def _collect(
    kind: Kind, subscription: Subscription, seconds: Any, max_messages: Any, conn: dict[str, Any], progress: Any, plot: Any
) -> pd.DataFrame:
    seconds, limit = check_run(seconds, max_messages)
    endpoint, options, _ = split_conn(kind.service, conn)
    charted = wants_chart(kind, plot)
    label = kind.label(subscription)
    push = subscription.kind
    feed = Feed(endpoint, [subscription], {push: kind.table}, options, max_messages=limit, arrivals=LIVE_READS if charted else 1)
    bar = RunProgress(label, seconds, limit, enabled=check_flag(progress, "progress"))
    chart = _show_chart(feed, push, kind) if charted else None
    outcome = run(feed, seconds, bar=bar, on_tick=None if chart is None else chart.refresh)  # as the throttle allows
    if chart is not None:
        chart.refresh(force=True)  # the final state stays on screen
    rows = feed.take_dataframe()  # no second copy of the data on the way out
    rows.attrs["nexusdata"] = run_attrs(feed, outcome.interrupted)
    raise_feed_error(feed, rows)
    explain_empty(feed, rows, seconds, label)
    return rows


def explain_empty(feed: Feed, rows: pd.DataFrame, seconds: float, label: str) -> None:
    """A run that ended without error but without rows says why, in the log and in
    ``attrs["nexusdata"]["warnings"]``: never an unexplained empty result."""
    if len(rows) or feed.accepted or feed.warnings():
        return  # rows, or a warning already said (in the log and in attrs) when it happened
    reason = (
        f"no push arrived for {label} in {seconds:g}s and the server neither refused nor answered the"
        " subscription: check the symbol or id, the permissions of the credentials, or run `nexusdata check`"
    )
    rows.attrs["nexusdata"]["warnings"].append(reason)
    log.warning("empty result: %s", reason)


def _show_chart(feed: Feed, push: str, kind: Kind) -> LivePlot | None:
    """Display a live chart of ``feed`` in Jupyter; elsewhere say why there is none."""
    if not in_kernel():
        log.warning("plot=True shows a live chart in Jupyter only; plot the result with nd.plot_depth / nd.plot_pair_weights")
        return None
    from IPython.display import display

    from .widgets import (
        LivePlot,  # matplotlib and ipywidgets are loaded only when a chart is shown
    )

    chart = LivePlot.of(feed, push, kind.name)
    display(chart)
    return chart
