"""Where the CPU of one push goes, stage by stage: ``python -m benchmarks.stages``.

The flood server's pushes (:mod:`benchmarks.flood_server`: about 850 bytes of depth, 1,000 of
``pair_index_v3``) go through each stage of nexusdata's path in this process, without a socket,
by the code the connection and typing threads run:

- **framing**: :class:`~nexusdata.protocol.websocket.ClientFrames` splitting the transport's
  256 KiB reads into messages (UTF-8 checked);
- **hand-over**: the connection thread's hand-over of a read's pushes (``Connection._deliver``,
  the feed's routing, ``TableBuffer.extend``), the typing held back;
- **decode**: Arrow's JSON reader on a batch of 1,024 pushes, as a typing thread runs it;
- **flatten + type**: the rest of ``read_frames`` on that batch: each level's children typed
  where the reader left them (numbers parsed, categories encoded) and put in row order;
- **chunk**: the batch's ``received_at`` and ``connection`` columns and its chunk;
- **DataFrame**: ``take_dataframe`` joining 100,000 typed pushes into the collector's result.

Beside them, the bare loop's decoder (``json.loads``) and orjson on the same pushes. CPU time
(``process_time``: every thread of the process), microseconds a push, best of ``--rounds``: less
disturbed by other processes on a shared machine than a rate. What the stages leave out (the
socket's system calls, handing batches between threads, the garbage collector) is the
difference to the CPU a push that ``python -m benchmarks`` measures end to end.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.json as pj

from nexusdata.config import Endpoint
from nexusdata.feed import Feed
from nexusdata.frames import TableBuffer
from nexusdata.frames.arrow_json import _READ, _lines, read_frames
from nexusdata.frames.buffer import _Batch, _type
from nexusdata.frames.columns import POOL
from nexusdata.protocol import SERVICES, Table, chainext, nexus, tables
from nexusdata.protocol.websocket import ClientFrames

from .flood_server import depth_frames, v3_frames
from .framing import ours, reads

BATCH = 1024  # pushes a typing thread types at once (TableBuffer's chunk_frames)


def per_push(work: Callable[[], object], pushes: int, rounds: int) -> float:
    """Best microseconds of CPU per push over ``rounds`` runs of ``work``."""
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        work()
        best = min(best, (time.process_time() - start) / pushes * 1e6)
    return best


def hand_over(service: str, subscription: Any, kind: str, table: Table, chunks: list[bytes]) -> Callable[[], object]:
    """The connection thread's hand-over of every read in ``chunks`` to a fresh feed whose
    buffer only keeps the frames (its typing is measured on its own)."""
    frames = ClientFrames()
    messages = [frames.receive_data(chunk) for chunk in chunks]  # split once, beforehand

    def run() -> None:
        credentials = tuple((name, "x") for name in SERVICES[service].credentials)  # never used: nothing connects
        feed = Feed(Endpoint(service, "ws://127.0.0.1:9", credentials), [subscription], {kind: table})
        feed.buffers[kind].chunk_frames = 1 << 62  # never sealed: no typing
        session = feed.connection.endpoint.session([subscription])
        for read in messages:
            feed.connection._deliver(None, session, read, False)  # type: ignore[arg-type]  # pushes alone: no wire needed
        assert feed.accepted == sum(map(len, messages)), "every push handed over"

    return run


def joining(table: Table, pushes: list[bytes], rounds: int) -> float:
    """Best microseconds of CPU per push of ``take_dataframe`` over 100,000 typed pushes (typed
    again before each round: the join empties the buffer)."""
    best = float("inf")
    for _ in range(rounds):
        typed = TableBuffer(table)
        for i in range(5):
            typed.extend(pushes, i * 10**9, 1)
        assert typed.rows  # every push typed before the join is timed
        best = min(best, per_push(typed.take_dataframe, 5 * len(pushes), 1))
    return best


def measure(
    name: str, payloads: list[bytes], service: str, subscription: Any, kind: str, table: Table, rounds: int
) -> dict[str, float]:
    pushes = payloads * 10  # 20,000
    chunks = reads(pushes)
    batch = pushes[:BATCH]
    text = _lines(batch)
    result = {
        "framing (ClientFrames)": per_push(lambda: ours(chunks), len(pushes), rounds),
        "hand-over (deliver, feed, extend)": per_push(hand_over(service, subscription, kind, table, chunks), len(pushes), rounds),
        "decode (Arrow's JSON reader)": per_push(
            lambda: pj.read_json(pa.BufferReader(text), read_options=_READ, memory_pool=POOL), BATCH, rounds
        ),
        "decode + flatten + type (read_frames)": per_push(lambda: read_frames(table, batch), BATCH, rounds),
        "... + chunk (a typing thread's batch)": per_push(lambda: _type(table, _Batch(batch, [(0, 1, BATCH)])), BATCH, rounds),
        "DataFrame (take_dataframe)": joining(table, pushes, min(rounds, 3)),
        "json.loads (the bare loop's decode)": per_push(lambda: [json.loads(p) for p in batch], BATCH, rounds),
        "orjson.loads": per_push(lambda: [orjson.loads(p) for p in batch], BATCH, rounds),
    }
    for label, us in result.items():
        print(f"{name:<14} {label:<40} {us:6.2f} µs a push")
    return result


def main(rounds: int = 7) -> None:
    measure("depth", depth_frames(), "nexus", nexus.depth("BTCUSDT", 5), nexus.MARKETDEPTH, tables.DEPTH, rounds)
    v3 = chainext.IndexSubscription("pair_index_v3", "1")
    measure("pair_index_v3", v3_frames(), "chainext", v3, "pair_index_v3", tables.PAIR_INDEX_V3, rounds)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks.stages", description=__doc__)
    parser.add_argument("--rounds", type=int, default=7, help="runs of each; the best is kept (default 7)")
    main(parser.parse_args().rounds)
