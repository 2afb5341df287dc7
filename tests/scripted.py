"""A small websocket server a test scripts itself, for behaviours the simulator does not have.

``with scripted(handler) as url:`` serves ``handler(ws, number)`` for each connection on
127.0.0.1 (``websockets``' threaded server) and yields ``ws://127.0.0.1:PORT``. The handler reads
requests with ``ws.recv()`` and answers with ``ws.send()``; it returns when it is done (the
connection is then closed) or when the client goes away.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve

Handler = Callable[[ServerConnection, int], None]


@contextmanager
def scripted(handler: Handler) -> Iterator[str]:
    """Serve ``handler`` on a free loopback port until the block ends."""
    numbers = itertools.count(1)

    def run(ws: ServerConnection) -> None:
        try:
            handler(ws, next(numbers))
        except ConnectionClosed:
            pass

    with serve(run, "127.0.0.1", 0, compression=None) as server:
        thread = threading.Thread(target=server.serve_forever, name="scripted-server", daemon=True)
        thread.start()
        try:
            yield f"ws://127.0.0.1:{server.socket.getsockname()[1]}"
        finally:
            server.shutdown()
            thread.join(10)


def request(ws: ServerConnection, timeout: float = 5.0) -> dict[str, Any]:
    """The client's next request, decoded."""
    return json.loads(ws.recv(timeout))


def send(ws: ServerConnection, message: Any) -> None:
    """Send ``message`` as compact JSON (or as is when it is already text)."""
    ws.send(message if isinstance(message, str) else json.dumps(message, separators=(",", ":")))


def wait_closed(ws: ServerConnection, timeout: float = 10.0) -> None:
    """Read and drop the client's frames until it closes (or ``timeout`` seconds pass)."""
    try:
        while True:
            ws.recv(timeout)
    except (ConnectionClosed, TimeoutError):
        pass
