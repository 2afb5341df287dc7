"""One measurement in a fresh process, printed as one JSON line: rate, CPU time (every thread's,
user and system), rows, bytes per row and peak RSS above the interpreter's baseline (taken after a short warm-up run of the same approach,
so one-time costs such as lazy imports and thread pools are not counted).

    python -m benchmarks.measure APPROACH FEED PORT MESSAGES

APPROACH is ``floor`` (websocket-client, ``skip_utf8_validation=True``, ``recv`` +
``json.loads``, nothing kept), ``naive`` (a DataFrame and ``pd.concat`` per message),
``nexusdata`` (the collector, end to end, its DataFrame included), ``live`` (a live handle) or
``record`` (the recorder, to Parquet); a live chart's cost is measured by
:mod:`benchmarks.plot_cost`. FEED is ``depth`` or
``pair_index_v3``. The parent, :mod:`benchmarks.__main__`, alternates them.
"""

from __future__ import annotations

import asyncio
import gc
import json
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import pandas as pd
import websocket

import nexusdata as nd
from nexusdata.protocol import chainext, nexus
from nexusdata.protocol.session import dumps


def rss_bytes() -> int:
    """Current resident set size (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def reset_peak_rss() -> None:
    """Start the high-water mark of the resident set size afresh (Linux 4.0 and later), so that
    the peak measured is the measured run's, not the warm-up's."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def cpu_seconds() -> float:
    """CPU time of this process so far, every thread's, user and system."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_bytes() -> int:
    """Highest resident set size since :func:`reset_peak_rss` (Linux)."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))


def bare_connection(port: int, feed: str) -> websocket.WebSocket:
    """A plain websocket-client connection, logged in and subscribed."""
    if feed == "depth":
        ws = websocket.create_connection(f"ws://127.0.0.1:{port}/api/realtime?X-API-TOKEN=t", skip_utf8_validation=True)
        ws.send(dumps(nexus.depth("BTCUSDT", 5).request("SUBSCRIBE", "1")))
        return ws
    ws = websocket.create_connection(f"ws://127.0.0.1:{port}/websocket", skip_utf8_validation=True)
    ws.send(dumps(chainext.login_request("k", "s", time.time())))
    ws.recv()
    ws.send(dumps(chainext.IndexSubscription("pair_index_v3", "1").request("subscribe")))
    ws.recv()
    return ws


def floor(port: int, feed: str, messages: int) -> pd.DataFrame | None:
    ws = bare_connection(port, feed)
    recv, loads = ws.recv, json.loads
    for _ in range(messages):
        loads(recv())
    ws.close()
    return None


def naive(port: int, feed: str, messages: int) -> pd.DataFrame:
    ws = bare_connection(port, feed)
    df = pd.DataFrame()
    for _ in range(messages):
        msg = json.loads(ws.recv())
        if feed == "depth":
            rows = [{**level, "side": side} for side in ("bids", "asks") for level in msg["data"][side]]
        else:
            rows = [{**msg["args"], **pair} for pair in msg["args"]["pairInfos"]]
        df = pd.concat([df, pd.DataFrame(rows)], ignore_index=True)
    ws.close()
    return df


def collector(port: int, feed: str, messages: int) -> pd.DataFrame:
    if feed == "depth":
        return nd.stream_depth("BTCUSDT", seconds=float("inf"), max_messages=messages, url=f"ws://127.0.0.1:{port}", token="t")
    return nd.collect_index(
        "pair_index_v3",
        "1",
        seconds=float("inf"),
        max_messages=messages,
        url=f"ws://127.0.0.1:{port}/websocket",
        api_key="k",
        api_secret="s",
    )


def connection_options(port: int, feed: str) -> dict[str, Any]:
    """The collectors' ``url`` and credentials for the flood server."""
    if feed == "depth":
        return {"url": f"ws://127.0.0.1:{port}", "token": "t"}
    return {"url": f"ws://127.0.0.1:{port}/websocket", "api_key": "k", "api_secret": "s"}


LAPS: list[tuple[float, float]] = []
"""Start and end of the timed part (clock and CPU), where an approach times only part of its run."""


def live(port: int, feed: str, messages: int) -> pd.DataFrame:
    """A live handle on an asyncio loop (as in a notebook kernel), timed over ``messages``
    pushes once running."""

    async def run() -> pd.DataFrame:
        conn = connection_options(port, feed)
        handle = nd.live_depth("BTCUSDT", **conn) if feed == "depth" else nd.live_index("pair_index_v3", "1", **conn)
        with handle:
            start = handle.feed.accepted
            LAPS.append((time.perf_counter(), cpu_seconds()))
            while handle.feed.accepted < start + messages:
                await asyncio.sleep(0.01)
            LAPS.append((time.perf_counter(), cpu_seconds()))
            return handle.frame()

    return asyncio.run(run())


def recorder(port: int, feed: str, messages: int) -> None:
    """The recorder writing ``messages`` pushes to Parquet."""
    with tempfile.TemporaryDirectory() as out:
        keys = ("BTCUSDT",) if feed == "depth" else ("1",)
        nd.record(out, feed, *keys, max_messages=messages, progress=False, **connection_options(port, feed))


APPROACHES: dict[str, Callable[[int, str, int], pd.DataFrame | None]] = {
    "floor": floor,
    "naive": naive,
    "nexusdata": collector,
    "live": live,
    "record": recorder,
}


def main() -> None:
    approach, feed, port, messages = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    APPROACHES[approach](port, feed, 100 if approach == "naive" else 3000)  # warm up: imports, pools, arenas
    gc.collect()
    baseline = rss_bytes()
    reset_peak_rss()
    LAPS.clear()
    start, cpu = time.perf_counter(), cpu_seconds()
    df = APPROACHES[approach](port, feed, messages)
    if LAPS:
        (start, cpu), end = LAPS[-2], LAPS[-1]
    else:
        end = (time.perf_counter(), cpu_seconds())
    result: dict[str, Any] = {
        "approach": approach,
        "feed": feed,
        "messages": messages,
        "seconds": end[0] - start,
        "cpu_seconds": end[1] - cpu,
        "peak_rss_above_baseline": peak_rss_bytes() - baseline,
    }
    if df is not None:
        result["rows"] = len(df)
        result["frame_bytes"] = int(df.memory_usage(index=False, deep=False).sum())
    print(json.dumps(result))


if __name__ == "__main__":
    main()
