"""The transport's frame I/O over a real socket pair: reads in batches, waits no longer than
asked, writes what the frames queue (a pong, a request, the close), and maps protocol errors and
the end of the stream to ``ConnectionLost``. Framing itself is tested in test_websocket_frames."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from websockets.frames import Frame, Opcode
from websockets.protocol import Protocol, Side, State

from nexusdata.protocol.websocket import BINARY, CLOSE, MAX_MESSAGE, PONG, TEXT, Message
from nexusdata.transport.wire import _SEND_TIMEOUT, ConnectionLost, Wire

WAIT = 5.0  # a read's timeout where data is on its way: long, as the test never waits it out


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    client, server = socket.socketpair()
    server.settimeout(WAIT)
    yield client, server
    client.close()
    server.close()


def server_bytes(*frames: Frame) -> bytes:
    """What a websockets server writes for these frames (unmasked, as servers must)."""
    protocol = Protocol(Side.SERVER, state=State.OPEN, max_size=None)
    for frame in frames:
        protocol.send_frame(frame)
    return b"".join(protocol.data_to_send())


def read_until(wire: Wire, count: int) -> list[Message]:
    """Read until ``count`` messages arrived (a large frame may take several reads)."""
    got: list[Message] = []
    for _ in range(1000):
        if len(got) >= count:
            return got
        got.extend(wire.read(WAIT) or [])
    raise AssertionError(f"{len(got)} of {count} messages after 1000 reads")


def client_frames(server: socket.socket, count: int) -> list[Frame]:
    """Decode ``count`` masked frames the client sent, with websockets' server protocol."""
    protocol = Protocol(Side.SERVER, state=State.OPEN, max_size=None)
    events: list[Frame] = []
    for _ in range(1000):
        if len(events) >= count:
            return events
        protocol.receive_data(server.recv(65536))
        events += protocol.events_received()
    raise AssertionError(f"{len(events)} of {count} frames after 1000 reads")


def test_a_burst_is_one_read(pair) -> None:
    client, server = pair
    payloads = [b'{"event":"API_MARKETDEPTH","data":{}}', b"y" * 300, b"z" * 70_000]
    server.sendall(server_bytes(*(Frame(Opcode.TEXT, p) for p in payloads), Frame(Opcode.BINARY, b"x")))
    assert read_until(Wire(client), 4) == [*((TEXT, p) for p in payloads), (BINARY, b"x")]


def test_a_frame_split_across_writes(pair) -> None:
    client, server = pair
    data = server_bytes(Frame(Opcode.TEXT, b"hello"), Frame(Opcode.TEXT, b"z" * 200_000))
    wire = Wire(client)
    server.sendall(data[:4])  # the first frame's header and part of its payload
    assert wire.read(WAIT) == []
    server.sendall(data[4:10])
    assert wire.read(WAIT) == [(TEXT, b"hello")]
    server.sendall(data[10:])
    assert read_until(wire, 1) == [(TEXT, b"z" * 200_000)]


def test_a_ping_is_answered_on_the_socket_at_once(pair) -> None:
    client, server = pair
    server.sendall(server_bytes(Frame(Opcode.TEXT, b"hel", fin=False), Frame(Opcode.PING, b"p"), Frame(Opcode.CONT, b"lo")))
    assert read_until(Wire(client), 1) == [(TEXT, b"hello")]
    [pong] = client_frames(server, 1)
    assert (pong.opcode, pong.data) == (Opcode.PONG, b"p")


def test_close_and_pong_are_returned(pair) -> None:
    client, server = pair
    server.sendall(server_bytes(Frame(Opcode.PONG, b""), Frame(Opcode.CLOSE, (1001).to_bytes(2, "big") + b"bye")))
    assert [op for op, _ in read_until(Wire(client), 2)] == [PONG, CLOSE]


def test_sent_frames_are_masked_frames_a_server_accepts(pair) -> None:
    client, server = pair
    wire = Wire(client)
    wire.send_text('{"op":"ping","args":{}}')
    wire.ping()
    got = [(f.opcode, f.data) for f in client_frames(server, 2)]
    assert got == [(Opcode.TEXT, b'{"op":"ping","args":{}}'), (Opcode.PING, b"")]


def test_close_sends_a_normal_close_once_and_releases_the_socket(pair) -> None:
    client, server = pair
    wire = Wire(client)
    wire.close()
    wire.close()  # harmless
    [close] = client_frames(server, 1)
    assert (close.opcode, close.data) == (Opcode.CLOSE, (1000).to_bytes(2, "big"))
    assert server.recv(10) == b""  # nothing after it: the socket is shut
    assert client.fileno() == -1


def test_close_after_the_peer_left_does_not_raise(pair) -> None:
    client, server = pair
    server.close()
    Wire(client).close()
    assert client.fileno() == -1


@pytest.mark.parametrize(
    "data, code, reason",
    [
        (b"\x81\x85abcdhello", 1002, "protocol error: masked frame from the server"),
        (b"\xc1\x01x", 1002, "protocol error: reserved bits"),
        (b"\x80\x01x", 1002, "protocol error: continuation frame"),
        (b"\x83\x00", 1002, "protocol error: unknown data opcode 3"),
        (b"\x81\x02\xc3\x28", 1007, "invalid UTF-8: text is not UTF-8"),
        (b"\x81\x7f" + (MAX_MESSAGE + 1).to_bytes(8, "big"), 1009, "message too big: "),
    ],
)
def test_a_broken_rule_is_answered_with_its_close_code_after_the_messages_before_it(
    pair, data: bytes, code: int, reason: str
) -> None:
    client, server = pair
    server.sendall(server_bytes(Frame(Opcode.TEXT, b"before")) + data)
    wire = Wire(client)
    assert wire.read(WAIT) == [(TEXT, b"before")]
    assert wire.failure is not None and str(wire.failure).startswith(reason) and wire.failure.code == code
    [close] = client_frames(server, 1)  # sent at once, before the transport closes
    assert close.opcode is Opcode.CLOSE and int.from_bytes(close.data[:2], "big") == code
    wire.close()
    assert server.recv(10) == b""  # no second close frame


def test_a_server_close_is_echoed_once(pair) -> None:
    client, server = pair
    server.sendall(server_bytes(Frame(Opcode.CLOSE, (4001).to_bytes(2, "big") + b"maintenance")))
    wire = Wire(client)
    assert wire.read(WAIT) == [(CLOSE, (4001).to_bytes(2, "big") + b"maintenance")]
    wire.close()
    [close] = client_frames(server, 1)
    assert (close.opcode, close.data) == (Opcode.CLOSE, (4001).to_bytes(2, "big") + b"maintenance")
    assert server.recv(10) == b""


def test_max_message_is_the_wires_limit(pair) -> None:
    client, server = pair
    server.sendall(server_bytes(Frame(Opcode.TEXT, b"x" * 101)))
    wire = Wire(client, max_message=100)
    assert wire.read(WAIT) == []
    assert str(wire.failure) == "message too big: 101-byte frame > 100"


def test_end_of_stream_without_close_frame(pair) -> None:
    client, server = pair
    server.close()
    with pytest.raises(ConnectionLost, match="without a close frame"):
        Wire(client).read(WAIT)


@pytest.mark.parametrize("timeout", [0.05, 0.0])
def test_a_quiet_socket_returns_none_after_the_timeout(pair, timeout: float) -> None:
    client, _ = pair
    start = time.monotonic()
    assert Wire(client).read(timeout) is None  # 0 still waits a moment instead of failing
    assert timeout <= time.monotonic() - start < 1.0


def test_a_write_does_not_inherit_a_short_read_timeout(pair) -> None:
    client, server = pair
    wire = Wire(client)
    assert wire.read(0.0) is None  # the socket's timeout is now a read's shortest wait
    wire.send_text("x")
    assert client.gettimeout() == _SEND_TIMEOUT  # a write may wait for the buffer that long
    assert client_frames(server, 1)[0].data == b"x"
