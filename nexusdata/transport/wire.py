"""Websocket framing on an open socket, in batches.

websocket-client opens the connection (TCP, TLS, proxies, the HTTP upgrade) but reads each frame
with three or more small ``recv`` calls and a dozen Python calls. Once open, the socket is read
here in large chunks and split into frames in one tight loop: a burst of pushes costs one
system call and one timestamp. Only the server-to-client direction is parsed here (unmasked
frames, RFC 6455 section 5.2); frames this client sends are built and masked by
websocket-client's ``ABNF``.
"""

from __future__ import annotations

import socket

from websocket import ABNF

_CHUNK = 1 << 18  # bytes asked of the socket per read
MAX_MESSAGE = 1 << 26
"""Largest message accepted (64 MiB); a larger one fails the connection."""

TEXT, BINARY, CONT = ABNF.OPCODE_TEXT, ABNF.OPCODE_BINARY, ABNF.OPCODE_CONT
CLOSE, PING, PONG = ABNF.OPCODE_CLOSE, ABNF.OPCODE_PING, ABNF.OPCODE_PONG

Message = tuple[int, bytes]


class ConnectionLost(Exception):
    """The peer went away or broke the protocol; ``str()`` says how."""


class Wire:
    """One open websocket connection's frames: read in batches, written through ``ABNF``."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._pending: list[bytes] = []  # bytes of an incomplete frame, not yet joined
        self._pending_size = 0
        self._needed = 0  # bytes the incomplete frame needs in all (0: not known yet)
        self._fragments: list[bytes] = []
        self._fragmented: int | None = None
        self._closed = False

    def read(self) -> list[Message] | None:
        """The complete messages that arrived (possibly none yet), or ``None`` when the socket's
        timeout passed without any byte. Control frames are returned too (a ``PING`` is
        answered already); fragmented messages are joined."""
        try:
            data = self._sock.recv(_CHUNK)
        except TimeoutError:
            return None
        if not data:
            raise ConnectionLost("connection closed without a close frame")
        if self._pending:
            self._pending.append(data)
            self._pending_size += len(data)
            if self._pending_size < self._needed:
                return []  # a large frame still arriving: join once, when complete
            data = b"".join(self._pending)
            self._pending, self._pending_size, self._needed = [], 0, 0
        messages: list[Message] = []
        pos, size = 0, len(data)
        while size - pos >= 2:
            head, second = data[pos], data[pos + 1]
            if second & 0x80 or head & 0x70:
                raise ConnectionLost("protocol error: masked frame or reserved bits from the server")
            length, start = second & 0x7F, pos + 2
            if length == 126:
                if size - pos < 4:
                    break
                length, start = int.from_bytes(data[pos + 2 : pos + 4], "big"), pos + 4
            elif length == 127:
                if size - pos < 10:
                    break
                length, start = int.from_bytes(data[pos + 2 : pos + 10], "big"), pos + 10
            if length > MAX_MESSAGE:
                raise ConnectionLost(f"protocol error: a {length}-byte frame is over the {MAX_MESSAGE}-byte limit")
            end = start + length
            if end > size:
                self._needed = end - pos
                break
            self._frame(head & 0x0F, head & 0x80, data[start:end], messages)
            pos = end
        if pos < size:
            rest = data[pos:]
            self._pending, self._pending_size = [rest], len(rest)
        return messages

    def _frame(self, opcode: int, fin: int, payload: bytes, messages: list[Message]) -> None:
        if opcode == TEXT or opcode == BINARY:
            if fin:
                messages.append((opcode, payload))
            else:
                self._fragmented, self._fragments = opcode, [payload]
        elif opcode == CONT:
            if self._fragmented is None:
                raise ConnectionLost("protocol error: continuation frame without a start")
            self._fragments.append(payload)
            if fin:
                messages.append((self._fragmented, b"".join(self._fragments)))
                self._fragmented, self._fragments = None, []
        elif opcode == PING:
            self._send(payload, PONG)
        elif opcode in (CLOSE, PONG):
            messages.append((opcode, payload))
        else:
            raise ConnectionLost(f"protocol error: unknown opcode {opcode}")

    def send_text(self, text: str) -> None:
        self._send(text, TEXT)

    def ping(self) -> None:
        self._send(b"", PING)

    def close(self) -> None:
        """Send a normal close frame if still possible (without waiting for the reply: a
        flooding server may take long to answer) and release the socket."""
        try:
            if not self._closed:
                self._closed = True
                self._send((1000).to_bytes(2, "big"), CLOSE)
        except OSError:
            pass  # the peer is already gone
        finally:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._sock.close()

    def _send(self, payload: str | bytes, opcode: int) -> None:
        self._sock.sendall(ABNF.create_frame(payload, opcode).format())


def close_reason(data: bytes) -> str:
    """A close frame's code and reason as text."""
    if len(data) < 2:
        return "no code"
    return f"code {int.from_bytes(data[:2], 'big')} {data[2:].decode('utf-8', 'replace')}".strip()
