"""Websocket frames on an open socket: the I/O around :class:`~nexusdata.protocol.websocket.ClientFrames`.

websocket-client opens the connection (TCP, TLS, proxies, the HTTP upgrade) but reads each frame
with three or more small ``recv`` calls and a dozen Python calls. Once open, the socket is read
here in large chunks, which the sans-I/O :class:`ClientFrames` splits into messages in one tight
loop: a burst of pushes costs one system call and one timestamp. Whatever the frames queue (a
pong, a request, the close) is written right away.
"""

from __future__ import annotations

import socket

from ..protocol.websocket import MAX_MESSAGE, ClientFrames, Message, ProtocolError

_CHUNK = 1 << 18  # bytes asked of the socket per read
_MIN_WAIT = 0.001  # a read's shortest wait: poll() counts milliseconds, and 0 would unblock the socket
_SEND_TIMEOUT = 0.2  # seconds a write may wait for room in the socket's buffer before the connection fails


class ConnectionLost(Exception):
    """The peer went away or broke the protocol; ``str()`` says how."""


class Wire:
    """One open websocket connection's frames: read in batches, written as soon as queued."""

    def __init__(self, sock: socket.socket, max_message: int = MAX_MESSAGE) -> None:
        self._sock = sock
        self._frames = ClientFrames(max_message=max_message)
        self._closed = False

    def read(self, timeout: float) -> list[Message] | None:
        """The complete messages that arrived (possibly none yet), or ``None`` when ``timeout``
        seconds passed without any byte. Control frames are returned too (a ``PING`` is
        answered already, a ``CLOSE`` echoed); fragmented messages are joined. When the server
        broke a rule, the messages before the bad frame are returned and :attr:`failure` says
        why (the close frame with its code is sent already)."""
        sock = self._sock
        sock.settimeout(max(timeout, _MIN_WAIT))
        try:
            data = sock.recv(_CHUNK)
        except TimeoutError:
            return None
        if not data:
            raise ConnectionLost("connection closed without a close frame")
        messages = self._frames.receive_data(data)
        self._write()
        return messages

    @property
    def failure(self) -> ProtocolError | None:
        """The rule of RFC 6455 the server broke (the connection is then over), or ``None``."""
        return self._frames.failure

    def send_text(self, text: str) -> None:
        self._frames.send_text(text)
        self._write()

    def ping(self) -> None:
        self._frames.send_ping()
        self._write()

    def close(self) -> None:
        """Send a normal close frame unless one went out already (the echo of the server's, or
        the code of a broken rule), without waiting for the reply (a flooding server may take
        long to answer), and release the socket."""
        try:
            if not self._closed:
                self._closed = True
                self._frames.send_close()
                self._write()
        except OSError:
            pass  # the peer is already gone
        finally:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._sock.close()

    def _write(self) -> None:
        """Write whatever the frames queued (usually nothing)."""
        data = self._frames.data_to_send()
        if data:
            self._sock.settimeout(_SEND_TIMEOUT)
            self._sock.sendall(data)
