"""The bad input table: every public function rejects bad arguments (types, empty, negative,
unknown topic or feed, malformed URL, missing credentials, bad options) with a ``ValueError``
(:class:`nexusdata.ArgumentError`) that names the argument and says what is accepted, before any
connection is opened or thread started.

``python tests/test_bad_input.py`` prints the table as Markdown, with each error's message, for
docs/errors.md.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Callable, Iterator, NamedTuple

import pandas as pd
import pytest

import nexusdata as nd
from nexusdata.sim import Simulator

Conns = dict[str, Any]  # "nexus" and "chainext" credentials, "dir" an empty directory, "file" a file
ACCEPTED = re.compile(r"must|one of|accepted|needs|pass |takes no|only")  # the message says what is accepted


class Case(NamedTuple):
    function: str
    bad: str  # the bad argument as written in the table
    call: Callable[[Conns], Any]
    names: str  # what the message must name


# -- what every connecting function shares: the connection keywords --------------------------------

NEXUS_CALLS: dict[str, Callable[[Conns, dict[str, Any]], Any]] = {
    "stream_depth": lambda c, kw: nd.stream_depth("BTCUSDT", seconds=0.5, **kw),
    "collect_orders": lambda c, kw: nd.collect_orders(seconds=0.5, **kw),
    "collect_risk": lambda c, kw: nd.collect_risk("BTCUSDT", "A", seconds=0.5, **kw),
    "live_depth": lambda c, kw: nd.live_depth("BTCUSDT", **kw),
    "live_orders": lambda c, kw: nd.live_orders(**kw),
    "live_risk": lambda c, kw: nd.live_risk("BTCUSDT", "A", **kw),
    'record("depth")': lambda c, kw: nd.record(c["dir"], "depth", "BTCUSDT", seconds=0.5, **kw),
}
CHAINEXT_CALLS: dict[str, Callable[[Conns, dict[str, Any]], Any]] = {
    "collect_index": lambda c, kw: nd.collect_index("coin_index", "1", seconds=0.5, **kw),
    "live_index": lambda c, kw: nd.live_index("coin_index", "1", **kw),
    'record("coin_index")': lambda c, kw: nd.record(c["dir"], "coin_index", "1", seconds=0.5, **kw),
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
            {"url": "NEXUSDATA_CHAINEXT_URL", "api_key": "NEXUSDATA_CHAINEXT_API_KEY",
             "api_secret": "NEXUSDATA_CHAINEXT_API_SECRET"},
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
    for i, value in enumerate(values):
        shown = "pd.DataFrame()" if isinstance(value, pd.DataFrame) else repr(value)
        case = Case(function, f"{name}={shown}", lambda c, value=value: call(c, value), names or name)
        cases.append(case)
    return cases


N, C = "nexus", "chainext"
SECONDS = [0, -1, math.nan, math.inf, "10", True, None]
MAX_MESSAGES = [0, -1, 1.5, True, "3"]
FLAGS = ["yes", 1, None]
OWN: list[Any] = [
    *_own("stream_depth", lambda c, v: nd.stream_depth(v, seconds=0.5, **c[N]), "symbol", ["", "  ", None, 123]),
    *_own("stream_depth", lambda c, v: nd.stream_depth("BTCUSDT", seconds=0.5, depth=v, **c[N]), "depth",
          [0, -1, 101, 2.5, True, "5"]),  # fmt: skip
    *_own("stream_depth", lambda c, v: nd.stream_depth("BTCUSDT", seconds=v, **c[N]), "seconds", SECONDS),
    *_own("stream_depth", lambda c, v: nd.stream_depth("BTCUSDT", max_messages=v, **c[N]), "max_messages", MAX_MESSAGES),
    *_own("stream_depth", lambda c, v: nd.stream_depth("BTCUSDT", progress=v, **c[N]), "progress", FLAGS),
    *_own("stream_depth", lambda c, v: nd.stream_depth("BTCUSDT", plot=v, **c[N]), "plot", FLAGS),
    *_own("collect_orders", lambda c, v: nd.collect_orders(rows=v, **c[N]), "rows", ["fills", "", None]),
    *_own("collect_orders", lambda c, v: nd.collect_orders(seconds=v, **c[N]), "seconds", [0, -1]),
    *_own("collect_risk", lambda c, v: nd.collect_risk(v, "A", **c[N]), "symbol", ["", None]),
    *_own("collect_risk", lambda c, v: nd.collect_risk("BTCUSDT", v, **c[N]), "book", ["", None, 5]),
    *_own("collect_risk", lambda c, v: nd.collect_risk("BTCUSDT", "A", max_messages=v, **c[N]), "max_messages", [0]),
    *_own("collect_index", lambda c, v: nd.collect_index(v, "1", **c[C]), "topic",
          ["nope", None, "COIN_INDEX", ["coin_index"]]),  # fmt: skip
    *_own("collect_index", lambda c, v: nd.collect_index("coin_index", v, **c[C]), "id", ["", None, -1, True, 1.5, ["1"]]),
    *_own("collect_index", lambda c, v: nd.collect_index("coin_index", "1", plot=v, **c[C]), "plot", ["yes", True]),
    *_own("collect_index", lambda c, v: nd.collect_index("coin_index", "1", seconds=v, **c[C]), "seconds", [0]),
    *_own("live_depth", lambda c, v: nd.live_depth(v, **c[N]), "symbol", ["", None]),
    *_own("live_depth", lambda c, v: nd.live_depth("BTCUSDT", depth=v, **c[N]), "depth", [0, 101]),
    *_own("live_depth", lambda c, v: nd.live_depth("BTCUSDT", max_rows=v, **c[N]), "max_rows", [0, -1, 1.5, "10"]),
    *_own("live_orders", lambda c, v: nd.live_orders(rows=v, **c[N]), "rows", ["fills"]),
    *_own("live_orders", lambda c, v: nd.live_orders(max_rows=v, **c[N]), "max_rows", [0]),
    *_own("live_risk", lambda c, v: nd.live_risk("BTCUSDT", v, **c[N]), "book", ["", None]),
    *_own("live_index", lambda c, v: nd.live_index(v, "1", **c[C]), "topic", ["nope", ["index"]]),
    *_own("live_index", lambda c, v: nd.live_index("coin_index", v, **c[C]), "id", ["", -1]),
    *_own("record", lambda c, v: nd.record(c["dir"], v, "BTCUSDT", seconds=0.5, **c[N]), "feed", ["nope", None, "DEPTH"]),
    *_own("record", lambda c, v: nd.record(c[v], "depth", "BTCUSDT", seconds=0.5, **c[N]), "out", ["file"]),
    *_own('record("depth")', lambda c, v: nd.record(c["dir"], "depth", *v, seconds=0.5, **c[N]), "keys", [(), ("",)],
          names="symbol"),  # fmt: skip
    *_own('record("orders")', lambda c, v: nd.record(c["dir"], "orders", *v, seconds=0.5, **c[N]), "keys",
          [("BTCUSDT",)], names="takes no"),  # fmt: skip
    *_own('record("risk")', lambda c, v: nd.record(c["dir"], "risk", *v, seconds=0.5, **c[N]), "keys",
          [(("BTCUSDT", ""),)], names="book"),  # fmt: skip
    *_own('record("coin_index")', lambda c, v: nd.record(c["dir"], "coin_index", *v, seconds=0.5, **c[C]), "keys",
          [(), ("",)], names="id"),  # fmt: skip
    *_own("record", lambda c, v: nd.record(c["dir"], "depth", "BTCUSDT", depth=v, seconds=0.5, **c[N]), "depth", [0]),
    *_own("record", lambda c, v: nd.record(c["dir"], "depth", "BTCUSDT", seconds=v, **c[N]), "seconds", [0, -1, "1"]),
    *_own("record", lambda c, v: nd.record(c["dir"], "depth", "BTCUSDT", max_messages=v, **c[N]), "max_messages", [0]),
    *_own("record", lambda c, v: nd.record(c["dir"], "depth", "BTCUSDT", flush_seconds=v, **c[N]), "flush_seconds", [0]),
    *_own("record", lambda c, v: nd.record(c["dir"], "depth", "BTCUSDT", flush_rows=v, **c[N]), "flush_rows", [0, 1.5]),
    *_own("record", lambda c, v: nd.record(c["dir"], "depth", "BTCUSDT", progress=v, **c[N]), "progress", ["no"]),
    *_own("replay", lambda c, v: nd.replay(v), "path", ["/no/such/recording"]),
    *_own("replay", lambda c, v: nd.replay(c["dir"], speed=v), "speed", [0, -1, "fast"]),
    *_own("read_recording", lambda c, v: nd.read_recording(v), "path", ["/no/such/recording"]),
    *_own("read_recording", lambda c, v: nd.read_recording(c["dir"], v), "feed", ["nope"]),
    *_own("gap_log", lambda c, v: nd.gap_log(v), "source", [42, pd.DataFrame()]),
    *_own("plot_depth", lambda c, v: nd.plot_depth(v), "depth", [pd.DataFrame(), 42], "DataFrame"),
    *_own("plot_pair_weights", lambda c, v: nd.plot_pair_weights(v), "v3", [pd.DataFrame(), 42], "DataFrame"),
]
CASES: list[Any] = [*_connection_cases(), *OWN]


def _id(case: Any) -> str:
    case = case.values[0] if hasattr(case, "values") else case
    return f"{case.function}[{case.bad}]"


@pytest.fixture(scope="module")
def server() -> Iterator[Simulator]:
    with Simulator(seed=17) as sim:
        yield sim


@pytest.fixture
def conns(server: Simulator, tmp_path: Path) -> Conns:
    file = tmp_path / "file"
    file.write_text("not a directory")
    (tmp_path / "out").mkdir()
    return {"nexus": server.nexus, "chainext": server.chainext, "dir": str(tmp_path / "out"), "file": str(file)}


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_bad_argument_is_refused_before_connecting(case: Case, server: Simulator, conns: Conns, no_thread_leak: None) -> None:
    before = server.connections_total
    with pytest.raises(ValueError) as refused:
        case.call(conns)
    message = str(refused.value)
    assert isinstance(refused.value, nd.ArgumentError), type(refused.value)
    assert case.names in message, message
    assert ACCEPTED.search(message), message
    assert server.connections_total == before and not nd.live_handles()
    assert server.token not in message and server.api_secret not in message


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
            conns = {"nexus": sim.nexus, "chainext": sim.chainext, "dir": f"{tmp}/out", "file": f"{tmp}/file"}
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
