"""The blocking collectors of the contract: one call, one DataFrame.

Each checks its arguments, starts a :class:`~nexusdata.feed.Feed` in the background, blocks until
``seconds`` pass or ``max_messages`` pushes arrive (a KeyboardInterrupt ends it early with what
arrived), stops cleanly and returns the typed DataFrame. Its ``attrs["nexusdata"]`` holds the
run's counters and gap log. While it blocks it can show a progress bar (``progress=``) and, in
Jupyter, a live chart (``plot=True``), both updated from the waiting thread.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, Callable, Literal

import pandas as pd

from .config import Feed as FeedName
from .config import nonempty_str, positive_int, positive_number, split_conn
from .errors import ArgumentError, ConnectionFailedError
from .feed import Feed
from .plots import CHARTS, Chart
from .progress import RunProgress, in_kernel
from .protocol import IndexSubscription, NexusSubscription, Table, chainext, nexus, tables

if TYPE_CHECKING:
    from .widgets import LivePlot

log = logging.getLogger("nexusdata")

OrderRows = Literal["orders", "cp_orders", "executions"]
ORDER_TABLES: dict[str, Table] = {"orders": tables.ORDERS, "cp_orders": tables.CP_ORDERS, "executions": tables.EXECUTIONS}
MAX_DEPTH = 100
LIVE_READS = 256
"""Socket reads a feed with a live chart or handle keeps for its push rate (the status line's)."""
_TICK = 0.2  # seconds between checks for Ctrl-C (and progress and chart updates) while a collector blocks
INTERRUPT_AGAIN = 3.0
"""Seconds after one Ctrl-C in which a second one raises instead of returning the rows so far
(so a script that loops over collections can be stopped)."""
_last_interrupt = -math.inf


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
    sub = depth_subscription(symbol, depth)
    return _collect("nexus", sub, tables.DEPTH, seconds, max_messages, conn, progress, plot, f"{sub.symbol} depth")


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
    return _collect("nexus", nexus.orders(), order_table(rows), seconds, max_messages, conn, progress, False, rows)


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
    sub = risk_subscription(symbol, book)
    return _collect("nexus", sub, tables.RISK, seconds, max_messages, conn, progress, False, f"{sub.symbol} {sub.book} risk")


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
    sub = index_subscription(topic, id)
    table = chainext.TOPICS[sub.topic]
    return _collect("chainext", sub, table, seconds, max_messages, conn, progress, plot, f"{sub.topic} {sub.id}")


def depth_subscription(symbol: object, depth: object) -> NexusSubscription:
    """A checked order-book subscription (symbol non-empty, depth from 1 to ``MAX_DEPTH``)."""
    return nexus.depth(nonempty_str(symbol, "symbol"), positive_int(depth, "depth", maximum=MAX_DEPTH))


def risk_subscription(symbol: object, book: object) -> NexusSubscription:
    """A checked risk position subscription (symbol and book non-empty)."""
    return nexus.risk(nonempty_str(symbol, "symbol"), nonempty_str(book, "book"))


def order_table(rows: object) -> Table:
    """The order table ``rows`` names (one of ``ORDER_TABLES``)."""
    if rows not in ORDER_TABLES:
        raise ArgumentError(f"rows must be one of {', '.join(map(repr, ORDER_TABLES))}, got {rows!r}")
    return ORDER_TABLES[str(rows)]


def index_subscription(topic: object, id: object) -> IndexSubscription:
    """A checked ChaiNext subscription (topic known, id a non-empty string or whole number)."""
    if not isinstance(topic, str) or topic not in chainext.TOPICS:
        raise ArgumentError(f"topic must be one of {', '.join(chainext.TOPICS)}, got {topic!r}")
    if isinstance(id, bool) or not isinstance(id, (str, int)) or (isinstance(id, int) and id < 0):
        raise ArgumentError(f"id must be a coin or index id (string or whole number >= 0), got {id!r}")
    return IndexSubscription(str(topic), nonempty_str(str(id), "id"))


def check_run(seconds: object, max_messages: object) -> tuple[float, int | None]:
    """Checked ``seconds`` (positive, may be ``inf`` when ``max_messages`` is set) and
    ``max_messages`` (``None`` or >= 1)."""
    limit = None if max_messages is None else positive_int(max_messages, "max_messages")
    return positive_number(seconds, "seconds", allow_inf=limit is not None), limit


def check_flag(value: object, name: str) -> bool:
    """``value`` if it is a bool, else an :class:`ArgumentError`."""
    if not isinstance(value, bool):
        raise ArgumentError(f"{name} must be True or False, got {value!r}")
    return value


def chart_for(table: Table, plot: object) -> Chart | None:
    """The live chart ``plot=True`` asks for (``None`` for ``plot=False``): it must exist for
    ``table`` and be drawn from the main thread."""
    if not check_flag(plot, "plot"):
        return None
    if table.name not in CHARTS:
        raise ArgumentError(f"plot=True draws {' and '.join(CHARTS)} data only, not {table.name}")
    if threading.current_thread() is not threading.main_thread():
        raise ArgumentError("plot=True draws from the calling thread, which must be the main thread")
    return CHARTS[table.name]


def wait_interruptibly(feed: Feed, seconds: float, on_tick: Callable[[], None] | None = None) -> None:
    """Block until ``seconds`` pass or the feed finishes, waking every tick (calling ``on_tick``)
    so that Ctrl-C (the notebook's stop button) is honoured at once on every platform."""
    deadline = time.monotonic() + seconds
    while not feed.wait(min(_TICK, max(deadline - time.monotonic(), 0))):
        if on_tick is not None:
            on_tick()
        if time.monotonic() >= deadline:
            return


def raise_feed_error(feed: Feed, frame: pd.DataFrame) -> None:
    """Raise the error that ended ``feed``, if any, keeping ``frame`` (what arrived before) on a
    :class:`ConnectionFailedError`."""
    error = feed.error
    if error is not None:
        if isinstance(error, ConnectionFailedError):
            error.frame = frame  # what arrived before the feed became unreachable is not lost
        raise error


def _collect(
    feed_name: FeedName,
    subscription: Any,
    table: Table,
    seconds: Any,
    max_messages: Any,
    conn: dict[str, Any],
    progress: Any,
    plot: Any,
    label: str,
) -> pd.DataFrame:
    seconds, limit = check_run(seconds, max_messages)
    endpoint, options, _ = split_conn(feed_name, conn)
    chart = chart_for(table, plot)
    kind = subscription.kind
    feed = Feed(endpoint, [subscription], {kind: table}, options, max_messages=limit, arrivals=LIVE_READS if chart else 1)
    bar = RunProgress(label, seconds, limit, enabled=check_flag(progress, "progress"))
    live_chart = _show_chart(feed, kind, chart) if chart else None

    def tick() -> None:
        said = feed.warnings()
        bar.update(time.monotonic() - started, feed.accepted, said[-1] if said else None)
        if live_chart is not None:
            live_chart.refresh()

    started = time.monotonic()
    feed.start()
    completed = interrupted = False
    try:
        wait_interruptibly(feed, seconds, tick)
        completed = feed.error is None
    except KeyboardInterrupt:
        interrupted = True
        interrupt_once()
    finally:
        feed.stop()
        said = feed.warnings()
        bar.update(time.monotonic() - started, feed.accepted, said[-1] if said else None)
        bar.close(completed)
    if live_chart is not None:
        live_chart.refresh(force=True)  # the final state stays on screen
    frame = feed.take_frame()  # no second copy of the data on the way out
    frame.attrs["nexusdata"] = run_attrs(feed, interrupted)
    raise_feed_error(feed, frame)
    explain_empty(feed, frame, seconds, label)
    return frame


def interrupt_once() -> None:
    """Ctrl-C (the notebook's stop button) stops a collection and returns what arrived; a second
    one within :data:`INTERRUPT_AGAIN` seconds raises, so a script looping over collections
    stops too."""
    global _last_interrupt
    now = time.monotonic()
    if now - _last_interrupt < INTERRUPT_AGAIN:
        _last_interrupt = -math.inf
        raise KeyboardInterrupt
    _last_interrupt = now
    log.warning("interrupted: returning what arrived so far (Ctrl-C again within %gs to stop a script)", INTERRUPT_AGAIN)


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


def explain_empty(feed: Feed, frame: pd.DataFrame, seconds: float, label: str) -> None:
    """A run that ended without error but without rows says why, in the log and in
    ``attrs["nexusdata"]["warnings"]``: never an unexplained empty result."""
    if len(frame) or feed.accepted or feed.warnings():
        return  # rows, or a warning already said (in the log and in attrs) when it happened
    reason = (
        f"no push arrived for {label} in {seconds:g}s and the server neither refused nor answered the"
        " subscription: check the symbol or id, the permissions of the credentials, or run `nexusdata check`"
    )
    frame.attrs["nexusdata"]["warnings"].append(reason)
    log.warning("empty result: %s", reason)


def _show_chart(feed: Feed, kind: str, chart: Chart) -> LivePlot | None:
    """Display a live chart of ``feed`` in Jupyter; elsewhere say why there is none."""
    if not in_kernel():
        log.warning("plot=True shows a live chart in Jupyter only; plot the result with nd.plot_depth / nd.plot_pair_weights")
        return None
    from IPython.display import display

    from .widgets import LivePlot  # ipywidgets is loaded only when a chart is shown

    live_chart = LivePlot(feed, kind, chart)
    display(live_chart)
    return live_chart
