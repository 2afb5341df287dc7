"""Websocket framing on an open socket, in batches.

websocket-client opens the connection (TCP, TLS, proxies, the HTTP upgrade) but reads each frame
with three or more small ``recv`` calls. Once open, the socket is read here in large chunks and
split into messages by the ``websockets`` library's sans-I/O protocol, so a burst of pushes costs
one system call and one timestamp instead of several per message.
"""

from __future__ import annotations

import logging
import socket

from websockets.frames import Close, Opcode
from websockets.protocol import Protocol, Side, State

_CHUNK = 1 << 18  # bytes asked of the socket per read
MAX_MESSAGE = 1 << 26
"""Largest message accepted (64 MiB); a larger one fails the connection (close code 1009)."""

# websockets logs every frame at DEBUG, login signatures included: keep its logger quieter than
# any root level a user may set.
_quiet = logging.getLogger("nexusdata.transport.wire")
_quiet.setLevel(logging.INFO)

Message = tuple[Opcode, bytes]


class ConnectionLost(Exception):
    """The peer went away or broke the protocol; ``str()`` says how."""


class Wire:
    """One open websocket connection's frames: read in batches, write through the protocol."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._protocol = Protocol(Side.CLIENT, state=State.OPEN, max_size=MAX_MESSAGE, logger=_quiet)
        self._fragments: list[bytes] = []
        self._fragmented: Opcode | None = None

    def read(self) -> list[Message] | None:
        """The complete messages that arrived (possibly none yet), or ``None`` when the socket's
        timeout passed without any byte. Control frames are returned too (``PING`` is answered
        already); fragmented messages are joined."""
        try:
            data = self._sock.recv(_CHUNK)
        except TimeoutError:
            return None
        protocol = self._protocol
        if not data:
            protocol.receive_eof()
            raise ConnectionLost("connection closed without a close frame")
        protocol.receive_data(data)
        if protocol.parser_exc is not None:
            self._flush()
            raise ConnectionLost(f"protocol error: {protocol.parser_exc}")
        messages: list[Message] = []
        for frame in protocol.events_received():
            opcode = frame.opcode
            if opcode is Opcode.CONT or not frame.fin:
                joined = self._assemble(opcode, frame.data, frame.fin)
                if joined is not None:
                    messages.append(joined)
            else:
                messages.append((opcode, frame.data))
        self._flush()  # pongs and close replies the protocol queued
        return messages

    def _assemble(self, opcode: Opcode, data: bytes, fin: bool) -> Message | None:
        if opcode is not Opcode.CONT:
            self._fragmented, self._fragments = opcode, []
        self._fragments.append(data)
        if not fin or self._fragmented is None:
            return None
        message = (self._fragmented, b"".join(self._fragments))
        self._fragmented, self._fragments = None, []
        return message

    def send_text(self, text: str) -> None:
        self._protocol.send_text(text.encode())
        self._flush()

    def ping(self) -> None:
        self._protocol.send_ping(b"")
        self._flush()

    def close(self) -> None:
        """Send a normal close frame if still possible (without waiting for the reply: a
        flooding server may take long to answer) and release the socket."""
        try:
            if self._protocol.state is State.OPEN:
                self._protocol.send_close(1000)
                self._flush()
        except OSError:
            pass  # the peer is already gone
        finally:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._sock.close()

    def _flush(self) -> None:
        out = self._protocol.data_to_send()
        if out:
            self._sock.sendall(b"".join(out))


def close_reason(data: bytes) -> str:
    """A close frame's code and reason as text."""
    try:
        close = Close.parse(data)
    except Exception:  # a malformed close frame still means the peer is closing
        return "no valid code"
    return f"code {close.code} {close.reason}".strip()
