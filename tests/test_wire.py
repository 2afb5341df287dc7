"""The batch frame reader against frames written by the `websockets` library's own server
protocol (the reference), over a real socket pair, split at every possible byte boundary."""

from __future__ import annotations

import socket
from typing import Iterator

import pytest
from websocket import ABNF
from websockets.frames import Frame, Opcode
from websockets.protocol import Protocol, Side, State

from nexusdata.transport.wire import BINARY, CLOSE, MAX_MESSAGE, PONG, TEXT, ConnectionLost, Wire


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    client, server = socket.socketpair()
    client.settimeout(0.5)
    server.settimeout(0.5)
    yield client, server
    client.close()
    server.close()


def server_bytes(*frames: Frame) -> bytes:
    """What a websockets server writes for these frames (unmasked, as servers must)."""
    protocol = Protocol(Side.SERVER, state=State.OPEN, max_size=None)
    for frame in frames:
        protocol.send_frame(frame)
    return b"".join(protocol.data_to_send())


def read_all(wire: Wire, server: socket.socket, data: bytes, cuts: list[int]) -> list[tuple[int, bytes]]:
    """Send ``data`` in pieces cut at ``cuts`` and collect every message read."""
    got: list[tuple[int, bytes]] = []
    bounds = [0, *cuts, len(data)]
    for a, b in zip(bounds, bounds[1:]):
        server.sendall(data[a:b])
        if b > a:
            messages = wire.read()
            assert messages is not None
            got.extend(messages)
    return got


def client_frame(server: socket.socket) -> ABNF:
    """Decode one masked frame the client sent, with websockets' server protocol."""
    protocol = Protocol(Side.SERVER, state=State.OPEN, max_size=None)
    while not (events := protocol.events_received()):
        protocol.receive_data(server.recv(65536))
    return events[0]


SIZES = [0, 1, 125, 126, 127, 65535, 65536, 70000]  # every length encoding and its edges


@pytest.mark.parametrize("size", SIZES)
def test_lengths_of_every_encoding(pair, size: int) -> None:
    client, server = pair
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    data = server_bytes(Frame(Opcode.TEXT, payload), Frame(Opcode.BINARY, b"x"))
    wire = Wire(client)
    got = read_all(wire, server, data, [])
    for _ in range(100):  # a large frame may take several reads
        if len(got) == 2:
            break
        got.extend(wire.read() or [])
    assert got == [(TEXT, payload), (BINARY, b"x")]


def test_every_split_point_gives_the_same_messages(pair) -> None:
    client, server = pair
    frames = [Frame(Opcode.TEXT, b'{"event":"API_MARKETDEPTH","data":{}}'), Frame(Opcode.TEXT, b"y" * 300)]
    data = server_bytes(*frames)
    for cut in range(1, len(data)):
        wire = Wire(client)
        assert read_all(wire, server, data, [cut]) == [(TEXT, f.data) for f in frames], cut


def test_fragmented_message_with_a_ping_in_between(pair) -> None:
    client, server = pair
    data = server_bytes(
        Frame(Opcode.TEXT, b"hel", fin=False),
        Frame(Opcode.PING, b"p"),
        Frame(Opcode.CONT, b"lo ", fin=False),
        Frame(Opcode.CONT, b"world"),
    )
    assert read_all(Wire(client), server, data, [4]) == [(TEXT, b"hello world")]
    pong = client_frame(server)  # answered at once, masked, with the ping's payload
    assert (pong.opcode, pong.data) == (Opcode.PONG, b"p")


def test_close_and_pong_are_returned(pair) -> None:
    client, server = pair
    data = server_bytes(Frame(Opcode.PONG, b""), Frame(Opcode.CLOSE, (1001).to_bytes(2, "big") + b"bye"))
    got = read_all(Wire(client), server, data, [])
    assert [op for op, _ in got] == [PONG, CLOSE]


def test_sent_frames_are_masked_text_a_server_accepts(pair) -> None:
    client, server = pair
    Wire(client).send_text('{"op":"ping","args":{}}')
    frame = client_frame(server)
    assert (frame.opcode, frame.data) == (Opcode.TEXT, b'{"op":"ping","args":{}}')


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"\x81\x85abcdhello", "masked"),  # servers must not mask
        (b"\xc1\x01x", "reserved"),  # no extension was negotiated
        (b"\x80\x01x", "continuation"),  # continuation with nothing to continue
        (b"\x83\x00", "opcode"),  # reserved opcode
        (b"\x81\x7f" + (MAX_MESSAGE + 1).to_bytes(8, "big"), "limit"),
    ],
)
def test_protocol_errors_end_the_connection(pair, data: bytes, reason: str) -> None:
    client, server = pair
    server.sendall(data)
    with pytest.raises(ConnectionLost, match=reason):
        Wire(client).read()


def test_end_of_stream_without_close_frame(pair) -> None:
    client, server = pair
    server.close()
    with pytest.raises(ConnectionLost, match="without a close frame"):
        Wire(client).read()


def test_quiet_socket_returns_none(pair) -> None:
    client, _ = pair
    client.settimeout(0.01)
    assert Wire(client).read() is None


def test_a_large_frame_arriving_in_pieces_is_joined_once_complete(pair) -> None:
    client, server = pair
    payload = b"z" * 200_000
    data = server_bytes(Frame(Opcode.TEXT, payload), Frame(Opcode.TEXT, b"next"))
    wire = Wire(client)
    got = read_all(wire, server, data, [3, 1_000, 50_000, 120_000, 199_990])
    for _ in range(100):
        if len(got) == 2:
            break
        got.extend(wire.read() or [])
    assert got == [(TEXT, payload), (TEXT, b"next")]
