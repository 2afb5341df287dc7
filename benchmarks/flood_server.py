"""A flood server for benchmarks: speaks enough of both protocols to log in and subscribe, then
writes pre-built frames as fast as the socket takes them, so the client is what gets measured.

Run in its own process (``python -m benchmarks.flood_server``); it prints ``PORT <n>`` once
listening. Frames come from the simulator's own generators, so they have the real shapes.
"""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import orjson
from websockets.asyncio.server import ServerConnection, serve
from websockets.frames import Frame, Opcode

from nexusdata.protocol import chainext, nexus
from nexusdata.protocol.session import dumps
from nexusdata.sim.indices import IndexStream
from nexusdata.sim.market import Market

DISTINCT = 2000  # frames pre-built per feed, sent round-robin


def depth_frames(levels: int = 5) -> list[bytes]:
    market, rng = Market(0), random.Random(0)
    return [dumps(nexus.push(nexus.MARKETDEPTH, market.book("BTCUSDT", levels, rng))).encode() for _ in range(DISTINCT)]


def v3_frames() -> list[bytes]:
    stream = IndexStream("pair_index_v3", "1", Market(0))
    return [stream.next().encode() for _ in range(DISTINCT)]


BATCH = 64  # frames per socket write


def batches(payloads: list[bytes]) -> list[bytes]:
    """The payloads as text frames, framed once by the ``websockets`` library and joined
    ``BATCH`` to a write: sending then costs the server almost nothing, so the client is what
    the benchmark measures."""
    frames = [Frame(Opcode.TEXT, p).serialize(mask=False, extensions=()) for p in payloads]
    return [b"".join(frames[i : i + BATCH]) for i in range(0, len(frames), BATCH)]


async def blast(ws: ServerConnection, blobs: list[bytes]) -> None:
    """Write ``blobs`` round-robin as fast as the client reads (the transport's flow control
    pauses the loop), yielding after each write so that requests are answered promptly."""
    n = 0
    while True:
        ws.transport.write(blobs[n % len(blobs)])
        n += 1
        await ws.drain()
        await asyncio.sleep(0)


async def handle(ws: ServerConnection, depth: list[bytes], v3: list[bytes]) -> None:
    """Answer login/subscribe/unsubscribe/logout as the simulator does; blast between
    subscribe and unsubscribe."""
    flood: asyncio.Task[None] | None = None
    try:
        async for raw in ws:
            request = orjson.loads(raw)
            if request.get("action") == "SUBSCRIBE":
                flood = asyncio.create_task(blast(ws, depth))
            elif request.get("action") == "UNSUBSCRIBE" and flood:
                flood.cancel()
            elif request.get("op") == "login":
                await ws.send(dumps(chainext.reply("loginResponse", chainext.SUCCESS)))
            elif request.get("op") in ("subscribe", "unsubscribe"):
                if flood:
                    flood.cancel()
                await ws.send(dumps(chainext.reply(f"{request['op']}Response", chainext.SUCCESS, **request["args"])))
                if request["op"] == "subscribe":
                    flood = asyncio.create_task(blast(ws, v3))
            elif request.get("op") == "logout":
                await ws.send(dumps(chainext.reply("logoutResponse", chainext.SUCCESS)))
    except Exception:  # the client closing mid-blast is the normal end
        pass
    finally:
        if flood:
            flood.cancel()


@contextmanager
def running() -> Iterator[int]:
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


async def main() -> None:
    depth, v3 = batches(depth_frames()), batches(v3_frames())
    async with serve(lambda ws: handle(ws, depth, v3), "127.0.0.1", 0, compression=None, max_size=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        print(f"PORT {port}", flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
