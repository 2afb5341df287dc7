"""A websocket server that writes raw bytes, for the frames no well-behaved server library sends.

``with raw_server(script) as url:`` accepts connections on 127.0.0.1, does the opening handshake
with the ``websockets`` library's sans-I/O ``ServerProtocol`` and then hands each connection to
``script(peer, number)`` in its own thread. A :class:`Peer` writes bytes as they are (at once, or
one byte per write so the client reads every split) and reads the client's frames back with
``websockets``' own parser, which checks the client's masking.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from websockets.frames import Frame, Opcode
from websockets.protocol import Protocol, Side, State
from websockets.server import ServerProtocol


class Peer:
    """One accepted connection, after the handshake."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._protocol = Protocol(Side.SERVER, state=State.OPEN, max_size=None)
        self._frames: list[Frame] = []
        self.written = 0
        """Bytes the client accepted from :meth:`write` (until its side of the socket closed)."""

    def write(self, data: bytes, *, bytewise: bool = False) -> bool:
        """Write ``data`` at once or one byte per ``send``; False if the client stopped reading
        or left before all of it was written."""
        try:
            if not bytewise:
                self.sock.sendall(data)
                self.written += len(data)
                return True
            for i in range(len(data)):
                self.sock.sendall(data[i : i + 1])
                self.written += 1
        except OSError:
            return False
        return True

    def frame(self, timeout: float = 10.0) -> Frame | None:
        """The client's next frame (None when it closed the connection or ``timeout`` passed)."""
        deadline = time.monotonic() + timeout
        while not self._frames:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except (TimeoutError, OSError):
                return None
            if not data:
                return None
            self._protocol.receive_data(data)
            self._frames += self._protocol.events_received()
        return self._frames.pop(0)

    def request(self, timeout: float = 10.0) -> dict[str, Any]:
        """The client's next text message, decoded (pings and pongs skipped)."""
        for _ in range(100):
            got = self.frame(timeout)
            assert got is not None, "the client sent no request"
            if got.opcode is Opcode.TEXT:
                return json.loads(got.data)
        raise AssertionError("no text frame among 100 frames")

    def close_frame(self, timeout: float = 10.0) -> bytes | None:
        """The body of the client's close frame (skipping its other frames), or None if it left
        without one within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        for _ in range(10_000):
            got = self.frame(max(deadline - time.monotonic(), 0.0))
            if got is None:
                return None
            if got.opcode is Opcode.CLOSE:
                return got.data
        raise AssertionError("no close frame among 10,000 frames")


Script = Callable[[Peer, int], None]


@contextmanager
def raw_server(script: Script, connections: int = 10) -> Iterator[str]:
    """Serve ``script`` for up to ``connections`` connections on a free loopback port until the
    block ends; yields ``ws://127.0.0.1:PORT``. An exception in a script fails the block."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    stop = threading.Event()
    errors: list[BaseException] = []
    workers: list[threading.Thread] = []

    def serve(sock: socket.socket, number: int) -> None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            _handshake(sock)
            script(Peer(sock), number)
        except BaseException as exc:  # reported to the test, not lost in a thread
            errors.append(exc)
        finally:
            sock.close()

    def accept() -> None:
        for number in range(1, connections + 1):
            while not stop.is_set():
                try:
                    sock, _ = listener.accept()
                except TimeoutError:
                    continue
                worker = threading.Thread(target=serve, args=(sock, number), name=f"raw-server-{number}", daemon=True)
                workers.append(worker)
                worker.start()
                break

    acceptor = threading.Thread(target=accept, name="raw-server", daemon=True)
    acceptor.start()
    try:
        yield f"ws://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        acceptor.join(5)
        for worker in workers:
            worker.join(10)
        listener.close()
    if errors:
        raise errors[0]


def _handshake(sock: socket.socket) -> None:
    """Answer the client's upgrade request as ``websockets`` would."""
    protocol = ServerProtocol()
    sock.settimeout(10)
    for _ in range(100):
        protocol.receive_data(sock.recv(4096))
        events = protocol.events_received()
        if events:
            protocol.send_response(protocol.accept(events[0]))
            sock.sendall(b"".join(protocol.data_to_send()))
            return
    raise AssertionError("no upgrade request in 100 reads")
