"""What splitting websocket frames costs per frame: ``python -m benchmarks.framing``.

The flood server's pushes (about 850 bytes of depth, 1,070 of ``pair_index_v3``), framed as a
server frames them and cut into the 256 KiB reads the transport makes, are split by:

- nexusdata's sans-I/O :class:`~nexusdata.protocol.websocket.ClientFrames`, which holds the
  server to RFC 6455 (UTF-8 of text included);
- the ``websockets`` library's sans-I/O client ``Protocol`` (``receive_data`` and
  ``events_received``), and the same with each text frame decoded, as its connection checks UTF-8
  (without the decode it would not be held to the same rules).

Also the UTF-8 check alone on each payload: ``bytes.isascii`` (what ClientFrames does first) and a
full ``decode`` (what it does only when a payload is not ASCII), and ClientFrames on payloads
that are not ASCII. CPU time (``process_time``), best of ``--rounds``: less disturbed by other
processes on a shared machine.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from websockets.protocol import Protocol, Side, State

from nexusdata.protocol.websocket import MAX_MESSAGE, ClientFrames

from .flood_server import batches, depth_frames, v3_frames

READ = 1 << 18  # bytes of one transport read


def reads(payloads: list[bytes]) -> list[bytes]:
    """The payloads framed as a server sends them, cut into reads of :data:`READ` bytes (frames
    split across reads, as the socket splits them)."""
    stream = b"".join(batches(payloads))
    return [stream[i : i + READ] for i in range(0, len(stream), READ)]


def ours(chunks: list[bytes]) -> int:
    frames = ClientFrames()
    return sum(len(frames.receive_data(chunk)) for chunk in chunks)


def websockets_protocol(chunks: list[bytes], decode: bool = False) -> int:
    protocol = Protocol(Side.CLIENT, state=State.OPEN, max_size=MAX_MESSAGE)
    count = 0
    for chunk in chunks:
        protocol.receive_data(chunk)
        events = protocol.events_received()
        if decode:
            for event in events:
                event.data.decode()
        count += len(events)
        protocol.data_to_send()
    return count


def per_frame(work: Callable[[], int], rounds: int) -> float:
    """Best nanoseconds of CPU per frame over ``rounds`` runs of ``work`` (which returns its frames)."""
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time_ns()
        frames = work()
        best = min(best, (time.process_time_ns() - start) / frames)
    return best


def measure(name: str, payloads: list[bytes], rounds: int) -> dict[str, float]:
    payloads = payloads * 10  # 20,000 frames
    chunks = reads(payloads)
    accented = [p.replace(b"{", '{"café":"€",'.encode(), 1) for p in payloads]
    accented_chunks = reads(accented)
    result = {
        "ClientFrames": per_frame(lambda: ours(chunks), rounds),
        "websockets Protocol": per_frame(lambda: websockets_protocol(chunks), rounds),
        "websockets Protocol + decode": per_frame(lambda: websockets_protocol(chunks, decode=True), rounds),
        "isascii alone": per_frame(lambda: sum(p.isascii() for p in payloads), rounds),
        "decode alone": per_frame(lambda: sum(1 for p in payloads if p.decode()), rounds),
        "ClientFrames, not ASCII": per_frame(lambda: ours(accented_chunks), rounds),
    }
    for label, ns in result.items():
        print(f"{name:<14} {label:<30} {ns:8.0f} ns a frame")
    return result


def main(rounds: int = 7) -> None:
    measure("depth", depth_frames(), rounds)
    measure("pair_index_v3", v3_frames(), rounds)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks.framing", description=__doc__)
    parser.add_argument("--rounds", type=int, default=7, help="runs of each; the best is kept (default 7)")
    main(parser.parse_args().rounds)
