"""Collector throughput against the bare websocket-client loop, measured in one run.

Starts ``benchmarks.flood_server`` in a separate process, then alternates rounds of:

- floor: websocket-client (``skip_utf8_validation=True``), ``recv`` + ``json.loads``, nothing kept;
- naive: one small DataFrame and ``pd.concat`` per message (a small sample: it is slow);
- nexusdata: ``stream_depth`` / ``collect_index("pair_index_v3")`` with ``max_messages``,
  end to end, the returned DataFrame included;

and prints messages/s, rows/s, bytes per row and each ratio against the floor of the same run
(best of the rounds, which is the least disturbed by the machine's other work).

    python -m benchmarks.throughput [--messages 100000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from contextlib import contextmanager
from typing import Callable, Iterator

import pandas as pd
import websocket

import nexusdata as nd
from nexusdata.protocol import chainext, nexus
from nexusdata.protocol.session import dumps


@contextmanager
def flood_server() -> Iterator[int]:
    """The flood server in its own process; yields its port."""
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks.flood_server"], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line.startswith("PORT "):
            raise RuntimeError(f"flood server did not start: {line!r}")
        yield int(line.split()[1])
    finally:
        proc.terminate()
        proc.wait(10)


def _open(port: int, feed: str) -> websocket.WebSocket:
    """A bare websocket-client connection, logged in and subscribed."""
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


def floor(port: int, feed: str, messages: int) -> float:
    """Seconds for the bare loop to receive and decode ``messages`` pushes."""
    ws = _open(port, feed)
    start = time.perf_counter()
    recv, loads = ws.recv, json.loads
    for _ in range(messages):
        loads(recv())
    elapsed = time.perf_counter() - start
    ws.close()
    return elapsed


def naive(port: int, feed: str, messages: int) -> float:
    """Seconds for the notebook way: a DataFrame per message, concatenated as it arrives."""
    ws = _open(port, feed)
    df = pd.DataFrame()
    start = time.perf_counter()
    for _ in range(messages):
        msg = json.loads(ws.recv())
        if feed == "depth":
            rows = [{**lv, "side": side} for side in ("bids", "asks") for lv in msg["data"][side]]
        else:
            rows = [{**msg["args"], **p} for p in msg["args"]["pairInfos"]]
        df = pd.concat([df, pd.DataFrame(rows)], ignore_index=True)
    elapsed = time.perf_counter() - start
    ws.close()
    return elapsed


def ours(port: int, feed: str, messages: int) -> tuple[float, pd.DataFrame]:
    """Seconds for the nexusdata collector, end to end, and its DataFrame."""
    start = time.perf_counter()
    if feed == "depth":
        df = nd.stream_depth("BTCUSDT", seconds=float("inf"), max_messages=messages,
                             url=f"ws://127.0.0.1:{port}", token="t")
    else:
        df = nd.collect_index("pair_index_v3", "1", seconds=float("inf"), max_messages=messages,
                              url=f"ws://127.0.0.1:{port}/websocket", api_key="k", api_secret="s")
    return time.perf_counter() - start, df


def best(rounds: int, run: Callable[[], float]) -> float:
    return min(run() for _ in range(rounds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=100_000, help="pushes per measured run")
    parser.add_argument("--naive-messages", type=int, default=2_000, help="pushes for the per-message concat run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; the best of each is kept")
    args = parser.parse_args()
    m = args.messages
    print(f"{'feed':<14} {'approach':<22} {'msgs/s':>10} {'rows/s':>11} {'B/row':>6} {'vs floor':>9}")
    with flood_server() as port:
        for feed in ("depth", "pair_index_v3"):
            floors: list[float] = []
            mine: list[float] = []
            frame = pd.DataFrame()
            for _ in range(args.rounds):  # alternate, so drift in machine load hits both alike
                floors.append(floor(port, feed, m))
                elapsed, frame = ours(port, feed, m)
                mine.append(elapsed)
            floor_rate = m / min(floors)
            rows_per_msg = len(frame) / m
            naive_rate = args.naive_messages / naive(port, feed, args.naive_messages)
            ours_rate = m / min(mine)
            size = frame.memory_usage(index=False, deep=False).sum() / max(len(frame), 1)
            for name, rate, bpr in (
                ("floor (ws-client+json)", floor_rate, None),
                (f"naive concat ({args.naive_messages})", naive_rate, None),
                ("nexusdata", ours_rate, size),
            ):
                bpr_text = f"{bpr:6.1f}" if bpr is not None else f"{'':6}"
                print(f"{feed:<14} {name:<22} {rate:10.0f} {rate * rows_per_msg:11.0f} {bpr_text} {rate / floor_rate:9.2f}")


if __name__ == "__main__":
    main()
