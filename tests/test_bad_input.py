"""The bad input table: every public function rejects bad arguments (types, empty, negative,
unknown topic or feed, malformed URL, missing credentials, bad options) with a ``ValueError``
(:class:`nexusdata.ArgumentError`) that names the argument and says what is accepted, before any
connection is opened or thread started.

``python tests/test_bad_input.py`` prints the table as Markdown, with each error's message, for
docs/errors.md.

Below the table, under the same checks, the bad arguments first tested beside each function's
behaviour (collectors, live handles, ``record``, ``check``, the reader, replay, plots); then those
checked otherwise: a live chart's options, the command line's usage errors (exit status 2) and
the simulator's own arguments.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd
import pytest
from test_check import run_cli
from test_sim_quirks import GOOD, write_trace
from waiting import wait_until

import nexusdata as nd
from nexusdata.cli import EXIT_USAGE, main
from nexusdata.errors import ArgumentError
from nexusdata.frames import build_dataframe
from nexusdata.heatmap import volume_grid
from nexusdata.protocol import tables
from nexusdata.sim import Simulator

Conns = dict[str, Any]
""""nexus" and "chainext" credentials, "dir" an empty directory, "file" a file, "new" a path that
must stay absent; for the gathered cases "recording" a recording of depth and pair_index_v3, and
"depth" and "v3" DataFrames read from it."""
ACCEPTED = re.compile(r"must|one of|accepted|needs|pass |takes no|only")  # the message says what is accepted


class Case(NamedTuple):
    function: str
    bad: str  # the bad argument as written in the table
    call: Callable[[Conns], Any]
    names: str  # what the message must name
    match: str | None = None  # a regular expression the message must match too
    says: str | None = None  # how it says what is accepted, when not in the words of ACCEPTED


# -- what every connecting function shares: the connection keywords --------------------------------

NEXUS_CALLS: dict[str, Callable[[Conns, dict[str, Any]], Any]] = {
    "stream_depth": lambda c, kw: nd.stream_depth("BTCUSDT", seconds=0.5, **kw),
    "collect_orders": lambda c, kw: nd.collect_orders(seconds=0.5, **kw),
    "collect_risk": lambda c, kw: nd.collect_risk("BTCUSDT", "A", seconds=0.5, **kw),
    "live_depth": lambda c, kw: nd.live_depth("BTCUSDT", **kw),
    "live_orders": lambda c, kw: nd.live_orders(**kw),
    "live_risk": lambda c, kw: nd.live_risk("BTCUSDT", "A", **kw),
    'record("depth")': lambda c, kw: nd.record(c["dir"], "depth", "BTCUSDT", seconds=0.5, **kw),
    "astream_depth": lambda c, kw: asyncio.run(nd.astream_depth("BTCUSDT", seconds=0.5, **kw)),
}
CHAINEXT_CALLS: dict[str, Callable[[Conns, dict[str, Any]], Any]] = {
    "collect_index": lambda c, kw: nd.collect_index("coin_index", "1", seconds=0.5, **kw),
    "live_index": lambda c, kw: nd.live_index("coin_index", "1", **kw),
    'record("coin_index")': lambda c, kw: nd.record(c["dir"], "coin_index", "1", seconds=0.5, **kw),
    "acollect_index": lambda c, kw: asyncio.run(nd.acollect_index("coin_index", "1", seconds=0.5, **kw)),
}
OPTIONS: list[tuple[str, Any, str]] = [
    ("ping_interval", 0, "ping_interval"),
    ("stall_timeout", -1, "stall_timeout"),
    ("pong_timeout", "5", "pong_timeout"),
    ("max_failures", 0, "max_failures"),
    ("max_failures", 1.5, "max_failures"),
    ("backoff_base", math.nan, "backoff_base"),
    ("backoff_cap", math.inf, "backoff_cap"),
    ("connect_timeout", True, "connect_timeout"),
    ("ca_file", "/no/such/ca.pem", "ca_file"),
    ("max_message", 0, "max_message"),
    ("max_message", 1.5, "max_message"),
    ("proxy", "https://proxy.example:3128", "proxy"),
    ("proxy", "socks5://proxy.example", "proxy"),
    ("proxy", "proxy.example:3128", "proxy"),
    ("proxy", True, "proxy"),
    ("colour", "red", "colour"),
]
URLS: list[tuple[Any, str]] = ["http://127.0.0.1:1", "ws://", "ws://127.0.0.1:99999", "ws://[::1", "127.0.0.1:8080", 42]


def _with(feed: str, **changes: Any) -> Callable[[Conns], dict[str, Any]]:
    """The feed's good credentials with ``changes`` (``None`` removes a keyword)."""

    def conn(c: Conns) -> dict[str, Any]:
        merged = {**c[feed], **changes}
        return {k: v for k, v in merged.items() if v is not None}

    return conn


def _connection_cases() -> list[Any]:
    cases = []
    for calls, feed, missing, wrong in (
        (NEXUS_CALLS, "nexus", {"url": "NEXUSDATA_NEXUS_URL", "token": "NEXUSDATA_NEXUS_TOKEN"}, {"token": 123}),
        (
            CHAINEXT_CALLS,
            "chainext",
            {
                "url": "NEXUSDATA_CHAINEXT_URL",
                "api_key": "NEXUSDATA_CHAINEXT_API_KEY",
                "api_secret": "NEXUSDATA_CHAINEXT_API_SECRET",
            },
            {"api_secret": b"bytes"},
        ),  # fmt: skip
    ):
        changes: list[tuple[str, dict[str, Any], str]] = [(f"no {k}", {k: None}, env) for k, env in missing.items()]
        changes += [(f"{k}=''", {k: ""}, env) for k, env in missing.items() if k != "url"]
        changes += [(f"{k}={v!r}", {k: v}, k) for k, v in wrong.items()]
        changes += [(f"url={u!r}", {"url": u}, "url") for u in URLS]
        changes += [(f"{k}={v!r}", {k: v}, word) for k, v, word in OPTIONS]
        for function, call in calls.items():
            for bad, change, word in changes:
                conn = _with(feed, **change)
                case = Case(function, bad, lambda c, call=call, conn=conn: call(c, conn(c)), word)
                cases.append(case)
    return cases


# -- each function's own arguments ----------------------------------------------------------------


def _own(
    function: str,
    call: Callable[[Conns, Any], Any],
    name: str,
    values: list[Any],
    names: str | None = None,
) -> list[Any]:
    """Cases passing each of ``values`` as argument ``name`` through ``call``; the message must
    contain ``names`` (by default ``name``)."""
    cases = []
    for value in values:
        shown = "pd.DataFrame()" if isinstance(value, pd.DataFrame) else repr(value)
        case = Case(function, f"{name}={shown}", lambda c, value=value: call(c, value), names or name)
        cases.append(case)
    return cases


N, C = "nexus", "chainext"
NO_DEPTH = build_dataframe(tables.DEPTH, [])  # a depth DataFrame without rows, typed as collected
SECONDS = [0, -1, math.nan, math.inf, "10", True, None]
MAX_MESSAGES = [0, -1, 1.5, True, "3"]
FLAGS = ["yes", 1, None]
OWN: list[Any] = [
    *_own("stream_depth", lambda c, v: nd.stream_depth(v, seconds=0.5, **c[N]), "symbol", ["", "  ", None, 123]),
    *_own(
        "stream_depth",
        lambda c, v: nd.stream_depth("BTCUSDT", seconds=0.5, depth=v, **c[N]),
        "depth",
        [0, -1, 101, 2.5, True, "5"],
    ),  # fmt: skip
    *_own("stream_depth", lambda c, v: nd.stream_depth("BTCUSDT", seconds=v, **c[N]), "seconds", SECONDS),
    *_own("stream_depth", lambda c, v: nd.stream_depth("BTCUSDT", max_messages=v, **c[N]), "max_messages", MAX_MESSAGES),
    *_own("stream_depth", lambda c, v: nd.stream_depth("BTCUSDT", progress=v, **c[N]), "progress", FLAGS),
    *_own("stream_depth", lambda c, v: nd.stream_depth("BTCUSDT", plot=v, **c[N]), "plot", FLAGS),
    *_own("collect_orders", lambda c, v: nd.collect_orders(rows=v, **c[N]), "rows", ["fills", "", None]),
    *_own("collect_orders", lambda c, v: nd.collect_orders(seconds=v, **c[N]), "seconds", [0, -1]),
    *_own("collect_risk", lambda c, v: nd.collect_risk(v, "A", **c[N]), "symbol", ["", None]),
    *_own("collect_risk", lambda c, v: nd.collect_risk("BTCUSDT", v, **c[N]), "book", ["", None, 5]),
    *_own("collect_risk", lambda c, v: nd.collect_risk("BTCUSDT", "A", max_messages=v, **c[N]), "max_messages", [0]),
    *_own(
        "collect_index", lambda c, v: nd.collect_index(v, "1", **c[C]), "topic", ["nope", None, "COIN_INDEX", ["coin_index"]]
    ),  # fmt: skip
    *_own("collect_index", lambda c, v: nd.collect_index("coin_index", v, **c[C]), "id", ["", None, -1, True, 1.5, [], [None]]),
    *_own("collect_index", lambda c, v: nd.collect_index("coin_index", "1", plot=v, **c[C]), "plot", ["yes", True]),
    *_own("collect_index", lambda c, v: nd.collect_index("coin_index", "1", seconds=v, **c[C]), "seconds", [0]),
    *_own("astream_depth", lambda c, v: asyncio.run(nd.astream_depth(v, seconds=0.5, **c[N])), "symbol", ["", None]),
    *_own("astream_depth", lambda c, v: asyncio.run(nd.astream_depth("BTCUSDT", seconds=v, **c[N])), "seconds", [0, "10"]),
    *_own("acollect_orders", lambda c, v: asyncio.run(nd.acollect_orders(rows=v, **c[N])), "rows", ["fills"]),
    *_own("acollect_risk", lambda c, v: asyncio.run(nd.acollect_risk("BTCUSDT", v, **c[N])), "book", [""]),
    *_own("acollect_index", lambda c, v: asyncio.run(nd.acollect_index(v, "1", **c[C])), "topic", ["nope"]),
    *_own("acollect_index", lambda c, v: asyncio.run(nd.acollect_index("coin_index", "1", plot=v, **c[C])), "plot", ["yes"]),
    *_own("live_depth", lambda c, v: nd.live_depth(v, **c[N]), "symbol", ["", None]),
    *_own("live_depth", lambda c, v: nd.live_depth("BTCUSDT", depth=v, **c[N]), "depth", [0, 101]),
    *_own("live_depth", lambda c, v: nd.live_depth("BTCUSDT", max_rows=v, **c[N]), "max_rows", [0, -1, 1.5, "10"]),
    *_own("live_orders", lambda c, v: nd.live_orders(rows=v, **c[N]), "rows", ["fills"]),
    *_own("live_orders", lambda c, v: nd.live_orders(max_rows=v, **c[N]), "max_rows", [0]),
    *_own("live_risk", lambda c, v: nd.live_risk("BTCUSDT", v, **c[N]), "book", ["", None]),
    *_own("live_index", lambda c, v: nd.live_index(v, "1", **c[C]), "topic", ["nope", ["index"]]),
    *_own("live_index", lambda c, v: nd.live_index("coin_index", v, **c[C]), "id", ["", -1]),
    *_own("record", lambda c, v: nd.record(c["dir"], v, "BTCUSDT", seconds=0.5, **c[N]), "kind", ["nope", None, "DEPTH"]),
    *_own("record", lambda c, v: nd.record(c[v], "depth", "BTCUSDT", seconds=0.5, **c[N]), "out", ["file"]),
    *_own(
        'record("depth")', lambda c, v: nd.record(c["dir"], "depth", *v, seconds=0.5, **c[N]), "keys", [(), ("",)], names="symbol"
    ),  # fmt: skip
    *_own(
        'record("orders")',
        lambda c, v: nd.record(c["dir"], "orders", *v, seconds=0.5, **c[N]),
        "keys",
        [("BTCUSDT",)],
        names="takes no",
    ),  # fmt: skip
    *_own(
        'record("risk")',
        lambda c, v: nd.record(c["dir"], "risk", *v, seconds=0.5, **c[N]),
        "keys",
        [(("BTCUSDT", ""),)],
        names="book",
    ),  # fmt: skip
    *_own(
        'record("coin_index")',
        lambda c, v: nd.record(c["dir"], "coin_index", *v, seconds=0.5, **c[C]),
        "keys",
        [(), ("",)],
        names="id",
    ),  # fmt: skip
    *_own("record", lambda c, v: nd.record(c["dir"], "depth", "BTCUSDT", depth=v, seconds=0.5, **c[N]), "depth", [0]),
    *_own("record", lambda c, v: nd.record(c["dir"], "depth", "BTCUSDT", seconds=v, **c[N]), "seconds", [0, -1, "1"]),
    *_own("record", lambda c, v: nd.record(c["dir"], "depth", "BTCUSDT", max_messages=v, **c[N]), "max_messages", [0]),
    *_own("record", lambda c, v: nd.record(c["dir"], "depth", "BTCUSDT", flush_seconds=v, **c[N]), "flush_seconds", [0]),
    *_own("record", lambda c, v: nd.record(c["dir"], "depth", "BTCUSDT", flush_rows=v, **c[N]), "flush_rows", [0, 1.5]),
    *_own("record", lambda c, v: nd.record(c["dir"], "depth", "BTCUSDT", progress=v, **c[N]), "progress", ["no"]),
    *_own("replay", lambda c, v: nd.replay(v), "path", ["/no/such/recording"]),
    *_own("replay", lambda c, v: nd.replay(c["dir"], speed=v), "speed", [0, -1, "fast"]),
    *_own("read_recording", lambda c, v: nd.read_recording(v), "path", ["/no/such/recording"]),
    *_own("read_recording", lambda c, v: nd.read_recording(c["dir"], v), "kind", ["nope"]),
    *_own("gap_log", lambda c, v: nd.gap_log(v), "source", [42, pd.DataFrame()]),
    *_own("plot_depth", lambda c, v: nd.plot_depth(v), "depth", [pd.DataFrame(), 42], "DataFrame"),
    *_own("plot_pair_weights", lambda c, v: nd.plot_pair_weights(v), "v3", [pd.DataFrame(), 42], "DataFrame"),
    *_own("plot_depth_heatmap", lambda c, v: nd.plot_depth_heatmap(v), "depth", [pd.DataFrame(), 42], "DataFrame"),
    *_own(
        "plot_depth_heatmap",
        lambda c, v: nd.plot_depth_heatmap(NO_DEPTH, price_bins=v),
        "price_bins",
        [0, 1.5, True, "120", 5000],
    ),  # fmt: skip
    *_own("plot_depth_heatmap", lambda c, v: nd.plot_depth_heatmap(NO_DEPTH, time_bins=v), "time_bins", [0, None]),
    *_own("plot_depth_heatmap", lambda c, v: nd.plot_depth_heatmap(NO_DEPTH, symbol=v), "symbol", ["", 5]),
]
CASES: list[Any] = [*_connection_cases(), *OWN]


# -- gathered from the files of each function's behaviour: the same checks, in no table -----------

N_ONLY_URL: Callable[[Conns], dict[str, Any]] = lambda c: {"url": c["nexus"]["url"]}  # noqa: E731
GATHERED: list[Any] = [
    # blocking collectors (from test_collectors.py), `seconds` left at its default
    Case("stream_depth", "symbol=''", lambda c: nd.stream_depth("", **c[N]), "symbol"),
    Case("stream_depth", "depth=0", lambda c: nd.stream_depth("BTCUSDT", depth=0, **c[N]), "depth"),
    Case("stream_depth", "seconds=-1", lambda c: nd.stream_depth("BTCUSDT", seconds=-1, **c[N]), "seconds"),
    Case("stream_depth", "max_messages=0", lambda c: nd.stream_depth("BTCUSDT", max_messages=0, **c[N]), "max_messages"),
    Case("collect_index", "topic='nope'", lambda c: nd.collect_index("nope", "1", **c[C]), "topic"),
    Case("collect_index", "id=''", lambda c: nd.collect_index("coin_index", "", **c[C]), "id"),
    Case("collect_risk", "book=''", lambda c: nd.collect_risk("BTCUSDT", "", **c[N]), "book"),
    Case("collect_orders", "rows='fills'", lambda c: nd.collect_orders(rows="fills", **c[N]), "rows"),
    Case(
        "stream_depth",
        "url='http://127.0.0.1:1', token='t'",
        lambda c: nd.stream_depth("BTCUSDT", url="http://127.0.0.1:1", token="t"),
        "url",
    ),  # fmt: skip
    Case("stream_depth", "url only", lambda c: nd.stream_depth("BTCUSDT", **N_ONLY_URL(c)), "NEXUSDATA_NEXUS_TOKEN"),
    Case(
        "collect_index",
        "url and api_key only",
        lambda c: nd.collect_index("coin_index", "1", url=c[C]["url"], api_key="k"),
        "NEXUSDATA_CHAINEXT_API_SECRET",
    ),  # fmt: skip
    Case("collect_orders", "no credentials at all", lambda c: nd.collect_orders(seconds=1), "NEXUSDATA_NEXUS_URL"),
    Case("stream_depth", "colour='red'", lambda c: nd.stream_depth("BTCUSDT", colour="red", **c[N]), "colour"),
    # live handles (from test_live.py)
    Case("live_depth", "symbol=''", lambda c: nd.live_depth("", **c[N]), "symbol"),
    Case("live_depth", "depth=0", lambda c: nd.live_depth("BTCUSDT", depth=0, **c[N]), "depth"),
    Case("live_depth", "max_rows=0", lambda c: nd.live_depth("BTCUSDT", max_rows=0, **c[N]), "max_rows"),
    Case("live_orders", "rows='fills'", lambda c: nd.live_orders(rows="fills", **c[N]), "rows"),
    Case("live_risk", "book=' '", lambda c: nd.live_risk("BTCUSDT", " ", **c[N]), "book"),
    Case("live_index", "topic='nope'", lambda c: nd.live_index("nope", "1", **c[C]), "topic"),
    Case(
        "live_index",
        "url and api_key only",
        lambda c: nd.live_index("coin_index", "1", url=c[C]["url"], api_key="k"),
        "NEXUSDATA_CHAINEXT_API_SECRET",
    ),  # fmt: skip
    Case("live_depth", "colour='red'", lambda c: nd.live_depth("BTCUSDT", colour="red", **c[N]), "colour"),
    # record (from test_record.py), into a directory that must not be created
    *(
        Case(
            f'record("{feed}")',
            bad,
            lambda c, feed=feed, keys=keys, options=options, conn=conn: nd.record(c["new"], feed, *keys, **options, **conn(c)),
            word,
            says=r"per \(symbol, book\) pair" if feed == "risk" else None,
        )  # fmt: skip
        for feed, keys, options, conn, bad, word in [
            ("depths", ("BTCUSDT",), {}, lambda c: c[N], "kind='depths'", "kind"),
            ("depth", (), {}, lambda c: c[N], "no symbol", "symbol"),
            ("depth", ("",), {}, lambda c: c[N], "symbol ''", "symbol"),
            ("depth", ("BTCUSDT",), {"depth": 0}, lambda c: c[N], "depth=0", "depth"),
            ("orders", ("BTCUSDT",), {}, lambda c: c[N], "a symbol", "no symbol"),
            ("risk", ("BTCUSDT",), {}, lambda c: c[N], "a symbol without a book", "(symbol, book)"),
            ("pair_index_v3", (), {}, lambda c: c[C], "no id", "id"),
            ("depth", ("BTCUSDT",), {"seconds": 0}, lambda c: c[N], "seconds=0", "seconds"),
            ("depth", ("BTCUSDT",), {"max_messages": 0}, lambda c: c[N], "max_messages=0", "max_messages"),
            ("depth", ("BTCUSDT",), {"flush_seconds": -1}, lambda c: c[N], "flush_seconds=-1", "flush_seconds"),
            ("depth", ("BTCUSDT",), {"flush_rows": 0}, lambda c: c[N], "flush_rows=0", "flush_rows"),
            ("depth", ("BTCUSDT",), {"progress": None}, lambda c: c[N], "progress=None", "progress"),
            ("depth", ("BTCUSDT",), {}, N_ONLY_URL, "url only", "NEXUSDATA_NEXUS_TOKEN"),
            ("coin_index", ("1",), {"colour": "red"}, lambda c: c[C], "colour='red'", "colour"),
        ]
    ),
    # plot= and progress= of the blocking collectors (from test_widgets.py)
    Case(
        "collect_index",
        "plot=True for coin_index",
        lambda c: nd.collect_index("coin_index", 1, plot=True, **c[C]),
        "depth and pair_index_v3",
    ),  # fmt: skip
    Case("stream_depth", "plot='yes'", lambda c: nd.stream_depth("BTCUSDT", plot="yes", **c[N]), "plot"),
    Case("stream_depth", "progress=None", lambda c: nd.stream_depth("BTCUSDT", progress=None, **c[N]), "progress"),
    Case("collect_orders", "plot=True", lambda c: nd.collect_orders(plot=True, **c[N]), "plot"),
    Case(
        "stream_depth",
        "plot=True off the main thread",
        lambda c: in_a_thread(nd.stream_depth, "BTCUSDT", plot=True, **c[N]),
        "main thread",
    ),  # fmt: skip
    # check (from test_check.py)
    Case("check", "service='nexsus'", lambda c: nd.check("nexsus", **c[N]), "service must be one of 'nexus', 'chainext'"),
    Case("check", "pushes=0", lambda c: nd.check("nexus", pushes=0, **c[N]), "pushes must be a whole number"),
    Case(
        "check",
        "trace in a missing directory",
        lambda c: nd.check("chainext", trace=Path(c["new"], "such.jsonl"), **c[C]),
        "trace must be a file path that can be written",
    ),  # fmt: skip
    # read_recording (from test_reader.py)
    Case("read_recording", "no kind, several recorded", lambda c: nd.read_recording(c["recording"]), "kind must be given"),
    Case("read_recording", "kind='risk', not recorded", lambda c: nd.read_recording(c["recording"], "risk"), "recorded kinds"),
    Case(
        "read_recording",
        "id= for depth",
        lambda c: nd.read_recording(c["recording"], "depth", id="1"),
        "symbol=",
        says="select its partitions with",
    ),  # fmt: skip
    Case(
        "read_recording",
        "symbol= for pair_index_v3",
        lambda c: nd.read_recording(c["recording"], "pair_index_v3", symbol="ETH"),
        "id=",
        says="select its partitions with",
    ),  # fmt: skip
    Case("read_recording", "symbol=''", lambda c: nd.read_recording(c["recording"], "depth", symbol=""), "symbol"),
    Case(
        "read_recording",
        "start after end",
        lambda c: nd.read_recording(c["recording"], "depth", start="2026-11-23", end="2026-11-22"),
        "before end",
    ),  # fmt: skip
    Case(
        "read_recording",
        "start='yesterday-ish'",
        lambda c: nd.read_recording(c["recording"], "depth", start="yesterday-ish"),
        "start",
    ),  # fmt: skip
    Case(
        "read_recording",
        "a missing directory",
        lambda c: nd.read_recording(Path(c["recording"], "nowhere"), "depth"),
        "no directory",
    ),  # fmt: skip
    # replay (from test_replay.py)
    Case("replay", "an empty directory", lambda c: nd.replay(c["dir"], speed=1), "nothing recorded"),
    Case("replay", "a missing directory", lambda c: nd.replay(Path(c["dir"], "nowhere")), "no directory"),
    Case("replay", "speed=0 on a recording", lambda c: nd.replay(c["recording"], speed=0), "speed"),
    Case("replay", "speed=nan on a recording", lambda c: nd.replay(c["recording"], speed=float("nan")), "speed"),
    # plots given another table's frame (from test_plots.py)
    Case(
        "plot_pair_weights",
        "a depth frame",
        lambda c: nd.plot_pair_weights(c["depth"]),
        "pair_weight",
        match="pair_index_v3 DataFrame.*pair_weight",
    ),  # fmt: skip
    Case("plot_depth", "a pair_index_v3 frame", lambda c: nd.plot_depth(c["v3"]), "side", match="depth DataFrame.*side"),
    # the order-book heatmap (from test_heatmap.py): one symbol at a time, ranges that are ranges
    Case(
        "plot_depth_heatmap",
        "two symbols, no symbol=",
        lambda c: nd.plot_depth_heatmap(c["depth"]),
        "BTCUSDT, ETHUSDT",
        match="one symbol.*pass symbol=.*or filter",
    ),  # fmt: skip
    Case(
        "plot_depth_heatmap",
        "symbol='XRPUSDT', not in the frame",
        lambda c: nd.plot_depth_heatmap(c["depth"], symbol="XRPUSDT"),
        "XRPUSDT",
        match=r"symbol must be one of the frame's symbols \(BTCUSDT, ETHUSDT\)",
    ),  # fmt: skip
    Case(
        "plot_depth_heatmap",
        "a pair_index_v3 frame",
        lambda c: nd.plot_depth_heatmap(c["v3"]),
        "side",
        match="depth DataFrame.*side",
    ),  # fmt: skip
    *(
        Case("heatmap.volume_grid", bad, lambda c, options=options: volume_grid(c["depth"], symbol="BTCUSDT", **options), word)
        for bad, options, word in [
            ("prices=(5, 1)", {"prices": (5, 1)}, "prices"),
            ("prices=(1, nan)", {"prices": (1, math.nan)}, "prices"),
            ("prices='wide'", {"prices": "wide"}, "prices"),
            ("prices=(True, 2)", {"prices": (True, 2)}, "prices"),
            ("times=(end, start)", {"times": ("2026-01-02", "2026-01-01")}, "times"),
            ("times=('yesterday-ish', ...)", {"times": ("yesterday-ish", "2026-01-01")}, "times"),
            ("times=(None, ...)", {"times": (None, "2026-01-01")}, "times"),
            ("times=3", {"times": 3}, "times"),
        ]
    ),
]


def _id(case: Any) -> str:
    case = case.values[0] if hasattr(case, "values") else case
    return f"{case.function}[{case.bad}]"


@pytest.fixture(scope="module")
def server() -> Iterator[Simulator]:
    with Simulator(seed=17) as sim:
        yield sim


@pytest.fixture(scope="module")
def recorded(server: Simulator, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame, pd.DataFrame]:
    """A recording of depth (two symbols) and pair_index_v3, and the two DataFrames in it."""
    root = tmp_path_factory.mktemp("recording")
    assert nd.record(root, "depth", "BTCUSDT", "ETHUSDT", max_messages=4, progress=False, **server.nexus).rows
    assert nd.record(root, "pair_index_v3", "1", max_messages=2, progress=False, **server.chainext).rows
    return root, nd.read_recording(root, "depth"), nd.read_recording(root, "pair_index_v3")


@pytest.fixture
def conns(server: Simulator, recorded: tuple[Path, pd.DataFrame, pd.DataFrame], tmp_path: Path) -> Conns:
    file = tmp_path / "file"
    file.write_text("not a directory")
    (tmp_path / "out").mkdir()
    root, depth, v3 = recorded
    return {"nexus": server.nexus, "chainext": server.chainext, "dir": str(tmp_path / "out"), "file": str(file),
            "new": str(tmp_path / "new"), "recording": str(root), "depth": depth, "v3": v3}  # fmt: skip


def in_a_thread(function: Any, *args: Any, **kwargs: Any) -> Any:
    """``function(*args, **kwargs)`` called on a worker thread; its result or its exception."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(function, *args, **kwargs).result()


def assert_refused(case: Case, server: Simulator, conns: Conns) -> None:
    """The call raises :class:`nd.ArgumentError` (a ``ValueError``) naming the argument and
    saying what is accepted, before anything reached the server, a live handle was registered
    or a directory was created, and the message shows no secret."""
    before = server.connections_total
    try:
        with pytest.raises(ValueError) as refused:
            case.call(conns)
    finally:
        handles = nd.live_handles()
        nd.stop_live()  # a handle started by mistake must not outlive the test
    message = str(refused.value)
    assert isinstance(refused.value, nd.ArgumentError), type(refused.value)
    assert case.names in message, message
    assert case.match is None or re.search(case.match, message), message
    assert (re.compile(case.says) if case.says else ACCEPTED).search(message), message
    assert server.connections_total == before and not handles
    assert not Path(conns["new"]).exists()
    assert server.token not in message and server.api_secret not in message


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_bad_argument_is_refused_before_connecting(case: Case, server: Simulator, conns: Conns, no_thread_leak: None) -> None:
    assert_refused(case, server, conns)


@pytest.mark.parametrize("case", GATHERED, ids=[_id(c) for c in GATHERED])
def test_gathered_bad_argument_is_refused_before_connecting(
    case: Case, server: Simulator, conns: Conns, no_thread_leak: None
) -> None:
    assert_refused(case, server, conns)


# -- a live chart's options, refused on a handle that goes on collecting (from test_widgets.py and
# test_live.py) -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "start, option, accepted",
    [
        ("live_depth", {"max_fps": 0}, "max_fps must be a positive number of redraws a second"),
        ("live_depth", {"draw_share": 1.5}, "draw_share must be a positive number up to 1"),
        ("live_depth", {"draw_share": 0}, "draw_share must be a positive number up to 1"),
        ("live_depth", {"history": 0}, "history must be a whole number >= 1"),
        (
            "live_depth",
            {"device_pixel_ratio": "2"},
            "device_pixel_ratio must be a positive number of device pixels per CSS pixel",
        ),
        (
            "live_depth",
            {"device_pixel_ratio": 8},
            "device_pixel_ratio must be a positive number of device pixels per CSS pixel up to 4",
        ),
        ("live_depth", {"chart": "pie"}, "chart must be one of 'depth', 'heatmap' for depth data, got 'pie'"),
        ("live_depth", {"chart": "pair_weights"}, "chart must be one of 'depth', 'heatmap' for depth data"),
        (
            "live_depths",
            {"symbol": "SOLUSDT"},
            r"symbol must name one of this handle's subscriptions \(BTCUSDT depth, ETHUSDT depth\)",
        ),
        ("live_depths", {"symbol": ["BTCUSDT", "ETHUSDT"]}, "symbol must name one of this handle's subscriptions"),
        ("live_depth", {"id": 1}, "a depth chart is of one symbol: pass symbol=, not id="),
        ("live_orders", {}, "depth and pair_index_v3"),  # no chart of orders
    ],
)
def test_bad_chart_options_are_refused(sim: Simulator, start: str, option: dict[str, Any], accepted: str) -> None:
    """A chart option that would fail later (a division by zero in the throttle, an empty
    chart) is refused when the chart is made, and the handle keeps collecting."""
    handle = {
        "live_depth": lambda: nd.live_depth("BTCUSDT", **sim.nexus),
        "live_depths": lambda: nd.live_depth(["BTCUSDT", "ETHUSDT"], **sim.nexus),
        "live_orders": lambda: nd.live_orders(**sim.nexus),
    }[start]()
    with handle as live:
        with pytest.raises(nd.ArgumentError, match=accepted) as refused:
            live.plot(**option)
        assert sim.token not in str(refused.value) and sim.api_secret not in str(refused.value)
        drawn = live.feed.accepted
        assert wait_until(lambda: live.feed.accepted > drawn)


# -- a live handle's batch options, refused on a handle that goes on collecting (from
# test_batches.py) --------------------------------------------------------------------------------

BAD_BATCH_OPTIONS: list[tuple[Callable[[nd.LiveHandle], Any], str]] = [
    (lambda live: live.batches(every=0), "every must be a positive number of seconds, got 0"),
    (lambda live: live.batches(every=None), "give every= .* or rows= .*, or both"),
    (lambda live: live.batches(rows=0), "rows must be a whole number >= 1, got 0"),
    (lambda live: live.batches(rows=2.5), "rows must be a whole number >= 1, got 2.5"),
    (lambda live: live.on_batch(42), "fn must be a function taking a DataFrame, got int"),
    (lambda live: live.on_batch(print, every="1"), "every must be a positive number of seconds, got '1'"),
]


@pytest.mark.parametrize("call, accepted", BAD_BATCH_OPTIONS)
def test_bad_batch_options_are_refused_on_a_handle_that_goes_on(
    sim: Simulator, call: Callable[[nd.LiveHandle], Any], accepted: str, no_thread_leak: None
) -> None:
    with nd.live_depth("BTCUSDT", **sim.nexus) as live:
        with pytest.raises(nd.ArgumentError, match=accepted):
            call(live)
        assert live.callbacks == [] and live.running


# -- the command line: usage errors exit with status 2 (from test_cli.py and test_check.py) --------


@pytest.mark.parametrize(
    "argv, words",
    [
        (["record", "depth", "BTCUSDT", "--seconds", "-1"], ["seconds"]),
        (["record", "risk", "BTCUSDT", "--sim"], ["SYMBOL BOOK"]),
        (["record", "depth", "BTCUSDT"], ["NEXUSDATA_NEXUS_URL"]),
        (["record", "depth", "BTCUSDT", "--sim", "--token", "t"], ["--sim", "--token"]),
        (["read", "{tmp}", "--symbol", "BTCUSDT"], ["kind must be given", "depth, orders"]),
        (["read", "{tmp}/feed=depth"], ["nothing recorded"]),
        (["read", "{tmp}/nowhere"], ["no directory"]),
        (["sim", "--replay", "{tmp}/feed=depth"], ["nothing recorded"]),
    ],
)
def test_command_line_usage_errors_exit_2(
    argv: list[str], words: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "feed=depth").mkdir()
    (tmp_path / "feed=orders").mkdir()
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    if argv[0] == "record":
        argv += ["--out", str(tmp_path / "rec"), "--max-messages", "1"]
    assert main(argv) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("nexusdata: error: ") and all(w in err for w in words), err


def test_usage_errors_exit_2_from_argparse(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["record", "index", "pair_index_v4", "1", "--out", "x"])
    assert done.value.code == EXIT_USAGE and "invalid choice" in capsys.readouterr().err


@pytest.mark.parametrize("port", ["99999", "-1"])
def test_sim_bad_port_is_a_one_line_error(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "--port", port, "--seconds", "1"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("nexusdata: error: ") and "--port must be from 0 to 65535" in err and err.count("\n") == 1, err


def test_check_command_refuses_a_chainext_secret_for_nexus_before_connecting(server: Simulator) -> None:
    before = server.connections_total
    assert (
        run_cli(["check", "nexus", f"--url={server.nexus_url}", f"--token={server.token}", "--api-secret", "s"])[0] == EXIT_USAGE
    )
    assert server.connections_total == before


# -- the simulator's own arguments (from test_sim.py and test_sim_quirks.py) -----------------------


@pytest.mark.parametrize(
    "options, match",
    [
        ({"rate": 0}, "rate must be a positive number"),
        ({"quirks": ["pretty", "worse", "nope"]}, r"unknown nope, worse; known quirks are string_codes, "),
        ({"quirks": [3]}, "quirks must be"),
    ],
    ids=["rate", "unknown_quirks", "quirk_not_a_string"],
)
def test_simulator_options_are_checked(options: dict[str, Any], match: str) -> None:
    with pytest.raises(ArgumentError, match=match):
        Simulator(**options)


@pytest.mark.parametrize("name", ["symbols", "books", "coins", "indices"])
@pytest.mark.parametrize("value", [[], "BTCUSDT", [""], ["A", 3], 5])
def test_served_lists_are_checked(name: str, value: Any) -> None:
    with pytest.raises(ArgumentError, match=rf"^{name} must be a non-empty iterable of non-empty strings"):
        Simulator(**{name: value})


@pytest.mark.parametrize(
    ("bad", "word"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ({**GOOD, "t": -1}, "t must be"),
        ({**GOOD, "t": "0.5"}, "t must be"),
        ({**GOOD, "connection": 0}, "connection must be"),
        ({**GOOD, "connection": True}, "connection must be"),
        ({**GOOD, "feed": "binance"}, "feed must be one of nexus, chainext"),
        ({**GOOD, "dir": "sideways"}, "dir must be one of sent, received, event"),
        ({k: v for k, v in GOOD.items() if k != "text"}, "text must be a string"),
    ],
)
def test_a_bad_trace_line_is_named(tmp_path: Path, bad: Any, word: str) -> None:
    path = write_trace(tmp_path / "trace.jsonl", [GOOD, "", bad])
    with pytest.raises(ArgumentError, match=rf"line 3: {word}"):
        Simulator(trace=path)


@pytest.mark.parametrize(
    "options, match",
    [
        (lambda tmp: {"trace": tmp / "nowhere.jsonl"}, "cannot read"),
        (lambda tmp: {"trace": write_trace(tmp / "empty.jsonl", [])}, "holds no connection"),
        (lambda tmp: {"trace": write_trace(tmp / "trace.jsonl", [GOOD]), "speed": 0}, "speed"),
        (lambda tmp: {"trace": write_trace(tmp / "trace.jsonl", [GOOD]), "replay": tmp}, "replay and trace"),
    ],
    ids=["missing", "empty", "speed", "with_replay"],
)
def test_bad_trace_arguments(tmp_path: Path, options: Callable[[Path], dict[str, Any]], match: str) -> None:
    with pytest.raises(ArgumentError, match=match):
        Simulator(**options(tmp_path))


CREDENTIALS = ("url", "token", "api_key", "api_secret")
SHOWN_FOR_ALL = {"stream_depth": "every Nexus function", "collect_index": "every ChaiNext function"}
"""The doc table shows the connection keywords once per feed: they are checked alike everywhere."""


def markdown_table() -> str:
    """The table for docs/errors.md: function, bad argument, the error's message."""
    lines = ["| function | bad argument | message |", "|---|---|---|"]
    with Simulator(seed=17) as sim:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            Path(tmp, "file").write_text("x")
            Path(tmp, "out").mkdir()
            conns = {
                "nexus": sim.nexus,
                "chainext": sim.chainext,
                "dir": f"{tmp}/out",
                "file": f"{tmp}/file",
                "new": f"{tmp}/new",
            }
            for case in CASES:
                shared = case.bad.split("=")[0].removeprefix("no ") in {*(k for k, _, _ in OPTIONS), *CREDENTIALS}
                if shared and case.function not in SHOWN_FOR_ALL:
                    continue
                function = SHOWN_FOR_ALL[case.function] if shared else f"`{case.function}`"
                try:
                    case.call(conns)
                    message = "(accepted!)"
                except Exception as exc:
                    message = str(exc)
                message = message.replace(sim.nexus_url, "<url>").replace(sim.chainext_url, "<url>").replace("|", "\\|")
                message = re.sub(r"ws://127\.0\.0\.1:\d+", "ws://…", message).replace(tmp, "…")
                lines.append(f"| {function} | `{case.bad}` | {message} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_table())
