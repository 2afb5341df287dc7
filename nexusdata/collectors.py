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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from . import kinds
from .charts import charted_kinds, charts_of
from .checks import check_flag
from .config import split_conn
from .errors import ArgumentError
from .feed import LIVE_READS, Feed
from .kinds import (
    KINDS,
    Kind,
    OrderRows,
    Subscription,
    check_run,
    keys,
    keyword_only,
    order_view,
)
from .progress import RunProgress, in_kernel
from .run import TICK, Outcome, raise_feed_error, run, run_attrs

if TYPE_CHECKING:
    from .widgets import LivePlot

log = logging.getLogger("nexusdata")


Plan = Mapping[Kind, tuple[Subscription, ...]]
"""What one call collects on one connection: the subscriptions of each kind."""


@keyword_only(1, "seconds")
def stream_depth(
    symbol: str | Sequence[str],
    seconds: float = 60,
    depth: int = 5,
    *,
    max_messages: int | None = None,
    progress: bool = True,
    plot: bool = False,
    **conn: Any,
) -> pd.DataFrame:
    """Collect the aggregated order book of ``symbol`` (or of each symbol of a list, on one
    connection): one row per price level per push, with ``symbol``, ``side`` ("bid"/"ask") and
    ``level`` (0 = best). ``plot=True`` shows the live depth chart of one symbol in Jupyter while
    it collects."""
    return Collection.of(depth_plan(symbol, depth), seconds, max_messages, conn, progress, plot).run()


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
    return Collection.of(orders_plan(rows), seconds, max_messages, conn, progress, False).run()


def collect_risk(
    symbol: str | Sequence[str],
    book: str,
    seconds: float = 60,
    *,
    max_messages: int | None = None,
    progress: bool = True,
    **conn: Any,
) -> pd.DataFrame:
    """Collect the risk position of ``symbol`` (or of each symbol of a list) in ``book``: one row
    per position row pushed."""
    return Collection.of(risk_plan(symbol, book), seconds, max_messages, conn, progress, False).run()


def collect_index(
    topic: str | Mapping[str, Any],
    id: str | int | Sequence[str | int] | None = None,
    seconds: float = 60,
    *,
    max_messages: int | None = None,
    progress: bool = True,
    plot: bool = False,
    **conn: Any,
) -> Any:
    """Collect a ChaiNext topic for one coin or index ``id`` (or each id of a list, on one
    connection). ``pair_index`` and ``pair_index_v3`` give one row per exchange pair per push (the
    pair's status is ``pair_status``). ``plot=True`` (``pair_index_v3``, one id) shows the live
    pair weight chart in Jupyter while it collects.

    Several topics at once: ``collect_index({"coin_index": ["1", "2"], "pair_index_v3": "1"})``
    subscribes to all of them on one connection and returns a dict of one DataFrame per topic."""
    return Collection.of(
        index_plan(topic, id), seconds, max_messages, conn, progress, plot, several=isinstance(topic, Mapping)
    ).run()


def depth_plan(symbol: Any, depth: Any) -> Plan:
    """The checked plan of :func:`stream_depth`."""
    kind = KINDS["depth"]
    return {kind: kind.subscriptions(keys(symbol), depth)}


def orders_plan(rows: Any) -> Plan:
    """The checked plan of :func:`collect_orders`."""
    kind = order_view(rows)
    return {kind: kind.subscriptions([])}


def risk_plan(symbol: Any, book: Any) -> Plan:
    """The checked plan of :func:`collect_risk`."""
    kind = KINDS["risk"]
    return {kind: kind.subscriptions([(one, book) for one in keys(symbol)])}


def index_plan(topic: Any, id: Any) -> Plan:
    """The checked plan of :func:`collect_index`: one topic's ids, or a mapping of topics to ids."""
    if isinstance(topic, Mapping):
        if id is not None:
            raise ArgumentError("give the ids in the mapping ({topic: ids}), not as id=")
        if not topic:
            raise ArgumentError("the mapping must name at least one topic: {topic: ids}")
        return {kinds.topic(name): kinds.topic(name).subscriptions(keys(ids)) for name, ids in topic.items()}
    kind = kinds.topic(topic)
    if id is None:
        raise ArgumentError(
            f"id must be a coin or index id of {kind.name} (string or whole number >= 0) or a list of them, got None"
        )
    return {kind: kind.subscriptions(keys(id))}


def wants_chart(plan: Plan, plot: object) -> bool:
    """Whether ``plot=True`` asks for a live chart: one must exist for the one kind and one
    subscription collected, and be drawn from the main thread."""
    if not check_flag(plot, "plot"):
        return False
    kind = next(iter(plan))
    if len(plan) > 1 or not kind.chart:
        raise ArgumentError(f"plot=True draws {charted_kinds()} data only, not {', '.join(k.name for k in plan)}")
    if len(plan[kind]) > 1:
        raise ArgumentError(f"plot=True draws one symbol or id; collect {kind.labels(plan[kind])} without it and plot each")
    if threading.current_thread() is not threading.main_thread():
        raise ArgumentError("plot=True draws from the calling thread, which must be the main thread")
    return True


@dataclass
class Collection:
    """One collector's call: its plan checked, its feed, progress bar and chart made (nothing
    started), and how its DataFrames are made once it ran. The blocking collectors run it with
    :func:`nexusdata.run.run`, their asyncio forms (:mod:`nexusdata.aio`) on the event loop."""

    plan: Plan
    feed: Feed
    seconds: float
    label: str
    bar: RunProgress
    chart: LivePlot | None
    several: bool
    """Whether the result is a dict of one DataFrame per kind (a mapping of topics)."""

    @classmethod
    def of(
        cls, plan: Plan, seconds: Any, max_messages: Any, conn: dict[str, Any], progress: Any, plot: Any, *, several: bool = False
    ) -> Collection:
        """Check the run's arguments and make the feed of every subscription of ``plan`` on one
        connection."""
        seconds, limit = check_run(seconds, max_messages)
        services = {kind.service for kind in plan}
        endpoint, options, _ = split_conn(services.pop(), conn)
        charted = wants_chart(plan, plot)
        label = "; ".join(kind.labels(subs) for kind, subs in plan.items())
        subscriptions = [sub for subs in plan.values() for sub in subs]
        tables = {subs[0].kind: kind.table for kind, subs in plan.items()}
        feed = Feed(endpoint, subscriptions, tables, options, max_messages=limit, arrivals=LIVE_READS if charted else 1)
        bar = RunProgress(label, seconds, limit, enabled=check_flag(progress, "progress"))
        kind, subs = next(iter(plan.items()))
        chart = _show_chart(feed, subs[0].kind, kind) if charted else None
        return cls(plan, feed, seconds, label, bar, chart, several)

    @property
    def ticking(self) -> dict[str, Any]:
        """The run loop's ``on_tick`` and ``tick``: with a chart, as often as it may redraw (its
        throttle decides)."""
        if self.chart is None:
            return {}
        return {"on_tick": self.chart.refresh, "tick": min(TICK, 1 / self.chart.max_fps)}

    def run(self) -> Any:
        """Run it, blocking until it ends; its result."""
        return self.result(run(self.feed, self.seconds, bar=self.bar, **self.ticking))

    def result(self, outcome: Outcome) -> Any:
        """The DataFrame (or the dict of one per topic) of a run that ended with ``outcome``;
        raises the error that ended the feed, if any."""
        if self.chart is not None:
            self.chart.finish()  # the final state stays on screen, as a picture a saved notebook keeps
        feed = self.feed
        frames = {
            kind.name: feed.take_dataframe(subs[0].kind) for kind, subs in self.plan.items()
        }  # no second copy on the way out
        for kind, subs in self.plan.items():
            rows = frames[kind.name]
            rows.attrs["nexusdata"] = {
                **run_attrs(feed, outcome.interrupted),
                "subscriptions": subscription_counts(kind, subs, rows, feed),
            }
        first = next(iter(frames.values()))
        raise_feed_error(feed, first if len(frames) == 1 else None)
        for name, rows in frames.items():
            explain_empty(feed, rows, self.seconds, self.label if len(frames) == 1 else name)
        return frames if self.several else first


def subscription_counts(
    kind: Kind, subscriptions: Sequence[Subscription], rows: pd.DataFrame, feed: Feed
) -> list[dict[str, Any]]:
    """Per subscription: its label, the pushes and rows it brought (told apart by the kind's
    column: two books of one symbol share their counts) and the server's refusal, if it refused
    it (the others went on)."""
    refused = feed.connection.refused
    pushes: dict[Any, int]
    counts: dict[Any, int]
    stamps = rows["received_at"].array.asi8
    starts = np.flatnonzero(np.diff(stamps, prepend=stamps[:1] - 1))  # a push's rows share its received_at
    if kind.key is None:  # the orders: one subscription, every row
        pushes, counts = {None: len(starts)}, {None: len(rows)}
    else:  # the column is one of the push's own fields, so its first row tells whose push it is
        column = rows[kind.column]
        pushes, counts = _value_counts(column.iloc[starts]), _value_counts(column)
    return [
        {
            "subscription": kind.label(sub),
            "pushes": int(pushes.get(kind.value_of(sub) if kind.key else None, 0)),
            "rows": int(counts.get(kind.value_of(sub) if kind.key else None, 0)),
            "refused": str(refused[sub]) if sub in refused else None,
        }
        for sub in subscriptions
    ]


def _value_counts(values: pd.Series) -> dict[Any, int]:
    """Rows per value, by the value's text (counted on a categorical's codes or by Arrow: no
    Python string per row)."""
    return {str(value): int(count) for value, count in values.value_counts(dropna=True).items() if count}


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
        functions = " / ".join(f"nd.{entry.plot}" for entry in charts_of(kind.name))
        log.warning("plot=True shows a live chart in Jupyter only; plot the result with %s", functions)
        return None
    from IPython.display import display

    from .widgets import (  # matplotlib and ipywidgets are loaded only when a chart is shown
        LivePlot,
        Pick,
    )

    chart = LivePlot.of(feed, push, Pick.of(kind, feed.connection.subscriptions[0]))  # the first symbol or id
    display(chart)
    return chart
