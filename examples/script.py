"""A research script: nexusdata with asyncio, batches and a callback, against the embedded simulator.

    python examples/script.py

It needs no account: it starts the simulator on 127.0.0.1. Against the real servers, drop the
simulator and pass ``url=`` and the credentials (or set the ``NEXUSDATA_*`` variables, see
README.md). What it does (docs/scripts.md explains each part):

1. collects two seconds of BTCUSDT depth and the pair_index_v3 index at the same time, with
   ``await nd.astream_depth`` and ``await nd.acollect_index``, while a heartbeat task keeps
   running on the same event loop;
2. follows a live handle of two books batch by batch (``async for batch in live.batches()``),
   printing the newest mid and spread of each symbol;
3. meanwhile keeps a count of rows per symbol in a callback (``live.on_batch``), which runs in a
   worker thread of its own.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from typing import Any

import pandas as pd

import nexusdata as nd
from nexusdata.sim import Simulator


async def heartbeat(beats: list[float]) -> None:
    """Stands for the rest of a program sharing the loop: it keeps running while nexusdata collects."""
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(0.1)
        beats.append(loop.time())


async def main(nexus: dict[str, Any], chainext: dict[str, Any]) -> None:
    # 1. two collections at once on one loop, and the loop stays free
    beats: list[float] = []
    beating = asyncio.create_task(heartbeat(beats))
    depth, v3 = await asyncio.gather(
        nd.astream_depth("BTCUSDT", seconds=2, progress=False, **nexus),
        nd.acollect_index("pair_index_v3", "1", seconds=2, progress=False, **chainext),
    )
    beating.cancel()
    print(f"collected {len(depth):,} depth rows and {len(v3):,} pair_index_v3 rows; {len(beats)} heartbeats while collecting")

    # 2. and 3. a live handle: batches on the loop, and a callback in a worker thread
    rows_seen: Counter[str] = Counter()
    lock = threading.Lock()

    def count(batch: pd.DataFrame) -> None:  # called in the callback's own thread
        with lock:
            rows_seen.update(batch["symbol"].astype(str))

    async with nd.live_depth(["BTCUSDT", "ETHUSDT"], **nexus) as live:
        live.on_batch(count, every=0.5)
        async for batch in live.batches(every=0.5):
            top = nd.top_of_book(batch).groupby("symbol", observed=True).last()
            quotes = ", ".join(f"{symbol} mid {row.mid:,.2f} spread {row.spread_bps:.1f} bps" for symbol, row in top.iterrows())
            print(f"batch {batch.attrs['nexusdata']['number']}: {len(batch)} rows; {quotes}")
            if batch.attrs["nexusdata"]["number"] == 4:
                break
    # leaving `async with` stopped the handle; the callback took the last rows before it ended
    with lock:
        print("callback saw", dict(rows_seen), "rows per symbol")
    print("done")


if __name__ == "__main__":
    with Simulator(seed=0, rate=10) as sim:
        asyncio.run(main(sim.nexus, sim.chainext))
