"""The sans-I/O frame protocol with plain bytes: server frames written by the `websockets`
library's own server protocol (the reference) are split at every byte, and every frame the
client writes is decoded back by it, masking checked."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.frames import Frame, Opcode
from websockets.protocol import Protocol, Side, State

from nexusdata.protocol.websocket import (
    BINARY,
    CLOSE,
    MAX_MESSAGE,
    PONG,
    TEXT,
    ClientFrames,
    Message,
    ProtocolError,
    close_reason,
    mask,
)

SIZES = [0, 1, 125, 126, 127, 65535, 65536, 70000]  # every length encoding and its edges


def server_bytes(*frames: Frame) -> bytes:
    """What a websockets server writes for these frames (unmasked, as servers must)."""
    protocol = Protocol(Side.SERVER, state=State.OPEN, max_size=None)
    for frame in frames:
        protocol.send_frame(frame)
    return b"".join(protocol.data_to_send())


def client_frames(data: bytes) -> list[Frame]:
    """Decode what the client wrote with websockets' server protocol, which rejects an unmasked
    frame: the frames come back unmasked."""
    protocol = Protocol(Side.SERVER, state=State.OPEN, max_size=None)
    protocol.receive_data(data)
    assert protocol.parser_exc is None, protocol.parser_exc
    return protocol.events_received()


def payload_of(size: int) -> bytes:
    return bytes(range(256)) * (size // 256) + bytes(range(size % 256))


def feed(frames: ClientFrames, data: bytes, cuts: list[int]) -> list[Message]:
    """Every message ``data`` gives when it arrives in pieces cut at ``cuts`` (sorted)."""
    bounds = [0, *cuts, len(data)]
    return [m for a, b in zip(bounds, bounds[1:]) for m in frames.receive_data(data[a:b])]


# -- receiving -------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_lengths_of_every_encoding(size: int) -> None:
    payload = payload_of(size)
    data = server_bytes(Frame(Opcode.TEXT, payload), Frame(Opcode.BINARY, b"x"))
    assert ClientFrames().receive_data(data) == [(TEXT, payload), (BINARY, b"x")]


STREAM = [
    Frame(Opcode.TEXT, b'{"event":"API_MARKETDEPTH","data":{}}'),  # 7-bit length
    Frame(Opcode.TEXT, b"y" * 300),  # 16-bit length
    Frame(Opcode.BINARY, b""),
    Frame(Opcode.CLOSE, (1000).to_bytes(2, "big")),
]


def test_every_split_point_gives_the_same_messages() -> None:
    data = server_bytes(*STREAM)
    want = [(TEXT, STREAM[0].data), (TEXT, STREAM[1].data), (BINARY, b""), (CLOSE, STREAM[3].data)]
    for cut in range(len(data) + 1):
        assert feed(ClientFrames(), data, [cut]) == want, cut


def test_one_byte_at_a_time() -> None:
    data = server_bytes(*STREAM)
    assert feed(ClientFrames(), data, list(range(1, len(data)))) == [(f.opcode.value, f.data) for f in STREAM]


def test_a_64_bit_length_split_inside_its_header_and_payload() -> None:
    payload = payload_of(70_000)
    data = server_bytes(Frame(Opcode.TEXT, b"a"), Frame(Opcode.TEXT, payload), Frame(Opcode.TEXT, b"b"))
    start = 3  # the second frame's header: 2 bytes, 8 of length
    cuts = [*range(start, start + 12), 40_000, len(data) - 4, len(data) - 3]
    for cut in cuts:
        assert feed(ClientFrames(), data, [cut]) == [(TEXT, b"a"), (TEXT, payload), (TEXT, b"b")], cut


def test_a_large_frame_arriving_in_pieces_is_returned_once_complete() -> None:
    payload = b"z" * 200_000
    data = server_bytes(Frame(Opcode.TEXT, payload), Frame(Opcode.TEXT, b"next"))
    frames = ClientFrames()
    got = [frames.receive_data(data[a:b]) for a, b in itertools.pairwise([0, 3, 1_000, 50_000, 120_000, 199_990, len(data)])]
    assert got == [[], [], [], [], [], [(TEXT, payload), (TEXT, b"next")]]


@pytest.mark.parametrize("kind", [Opcode.TEXT, Opcode.BINARY])
def test_fragmented_message_with_a_ping_in_between(kind: Opcode) -> None:
    data = server_bytes(
        Frame(kind, b"hel", fin=False),
        Frame(Opcode.PING, b"p"),
        Frame(Opcode.CONT, b"lo ", fin=False),
        Frame(Opcode.CONT, b"world"),
    )
    frames = ClientFrames()
    assert feed(frames, data, [4, 9]) == [(kind.value, b"hello world")]
    [pong] = client_frames(frames.data_to_send())
    assert (pong.opcode, pong.data) == (Opcode.PONG, b"p")


def test_a_fragmented_message_ends_before_the_next_one() -> None:
    data = server_bytes(Frame(Opcode.TEXT, b"a", fin=False), Frame(Opcode.CONT, b"b"), Frame(Opcode.TEXT, b"c"))
    assert ClientFrames().receive_data(data) == [(TEXT, b"ab"), (TEXT, b"c")]


def test_ping_queues_a_pong_with_its_payload_and_is_not_returned() -> None:
    frames = ClientFrames()
    assert frames.data_to_send() == b""
    assert frames.receive_data(server_bytes(Frame(Opcode.PING, b"one"), Frame(Opcode.PING, b""))) == []
    assert [(f.opcode, f.data) for f in client_frames(frames.data_to_send())] == [(Opcode.PONG, b"one"), (Opcode.PONG, b"")]
    assert frames.data_to_send() == b""  # taken once


def test_pong_and_close_are_returned() -> None:
    close = (1001).to_bytes(2, "big") + b"bye"
    data = server_bytes(Frame(Opcode.PONG, b"x"), Frame(Opcode.CLOSE, close))
    assert ClientFrames().receive_data(data) == [(PONG, b"x"), (CLOSE, close)]


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"\x81\x85abcdhello", "masked"),  # servers must not mask
        (b"\xc1\x01x", "reserved"),  # no extension was negotiated
        (b"\x80\x01x", "continuation frame without a start"),
        (b"\x83\x00", "unknown opcode 3"),  # reserved data opcode
        (b"\x8b\x00", "unknown opcode 11"),  # reserved control opcode
        (b"\x81\x7f" + (MAX_MESSAGE + 1).to_bytes(8, "big"), f"over the {MAX_MESSAGE}-byte limit"),
    ],
)
def test_protocol_errors(data: bytes, reason: str) -> None:
    with pytest.raises(ProtocolError, match=f"^protocol error: .*{reason}"):
        ClientFrames().receive_data(data)


def test_the_limit_is_checked_from_the_header_alone() -> None:
    frames = ClientFrames(max_message=100)
    assert frames.receive_data(server_bytes(Frame(Opcode.TEXT, b"x" * 100))) == [(TEXT, b"x" * 100)]
    with pytest.raises(ProtocolError, match="a 101-byte frame is over the 100-byte limit"):
        frames.receive_data(b"\x81\x7e\x00\x65")  # no payload yet


def test_close_reason() -> None:
    assert close_reason(b"") == "no code"
    assert close_reason((1000).to_bytes(2, "big")) == "code 1000"
    assert close_reason((1011).to_bytes(2, "big") + b"server \xff error") == "code 1011 server \ufffd error"


# -- sending ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_sent_text_of_every_length_is_masked_as_a_server_expects(size: int) -> None:
    text = "é" * (size // 2) + "x" * (size % 2)  # two bytes per é: the length counted in bytes
    frames = ClientFrames()
    frames.send_text(text)
    [frame] = client_frames(frames.data_to_send())
    assert (frame.opcode, frame.data, frame.fin) == (Opcode.TEXT, text.encode(), True)


@pytest.mark.parametrize(
    "send, opcode, payload",
    [
        (lambda f: f.send_ping(), Opcode.PING, b""),
        (lambda f: f.send_ping(b"probe"), Opcode.PING, b"probe"),
        (lambda f: f.send_close(), Opcode.CLOSE, (1000).to_bytes(2, "big")),
        (lambda f: f.send_close(1001, "going away"), Opcode.CLOSE, (1001).to_bytes(2, "big") + b"going away"),
    ],
)
def test_ping_and_close_frames(send: Callable[[ClientFrames], None], opcode: Opcode, payload: bytes) -> None:
    frames = ClientFrames()
    send(frames)
    [frame] = client_frames(frames.data_to_send())
    assert (frame.opcode, frame.data) == (opcode, payload)


def test_the_rfc_example_with_its_masking_key() -> None:
    """RFC 6455 section 5.7: a masked "Hello" with key 37 fa 21 3d."""
    frames = ClientFrames(mask_key=lambda n: bytes.fromhex("37fa213d")[:n])
    frames.send_text("Hello")
    assert frames.data_to_send() == bytes.fromhex("818537fa213d7f9f4d5158")


def test_every_frame_takes_a_fresh_key() -> None:
    keys = iter([b"\x00\x00\x00\x00", b"\x01\x02\x03\x04"])
    frames = ClientFrames(mask_key=lambda n: next(keys))
    frames.send_text("ab")
    frames.send_text("ab")
    assert frames.data_to_send() == b"\x81\x82\x00\x00\x00\x00ab" + b"\x81\x82\x01\x02\x03\x04" + bytes(
        (ord("a") ^ 1, ord("b") ^ 2)
    )


@pytest.mark.parametrize("size", [0, 1, 2, 3, 4, 5, 7, 8, 9, 1000, 65537])
def test_mask_is_the_byte_wise_xor(size: int) -> None:
    payload, key = payload_of(size), b"\x9a\x00\xff\x11"
    masked = mask(payload, key)
    assert masked == bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    assert mask(masked, key) == payload


# -- any split of any stream -----------------------------------------------------------------------

_LENGTHS = st.one_of(st.integers(0, 130), st.integers(65_530, 65_540))  # around every encoding's edges


@st.composite
def streams(draw: st.DrawFn) -> tuple[list[Frame], list[Message], list[bytes]]:
    """Frames a server may send, the messages they make and the pongs they ask for."""
    frames: list[Frame] = []
    messages: list[Message] = []
    pongs: list[bytes] = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["text", "binary", "fragmented", "ping", "pong"]))
        payload = payload_of(draw(_LENGTHS))
        if kind == "ping":
            payload = payload[:125]  # a control frame's limit
            frames.append(Frame(Opcode.PING, payload))
            pongs.append(payload)
        elif kind == "pong":
            frames.append(Frame(Opcode.PONG, payload[:125]))
            messages.append((PONG, payload[:125]))
        elif kind == "fragmented":
            cut = draw(st.integers(0, len(payload)))
            frames += [Frame(Opcode.TEXT, payload[:cut], fin=False), Frame(Opcode.CONT, payload[cut:])]
            messages.append((TEXT, payload))
        else:
            opcode = Opcode.TEXT if kind == "text" else Opcode.BINARY
            frames.append(Frame(opcode, payload))
            messages.append((opcode.value, payload))
    return frames, messages, pongs


@settings(max_examples=300, deadline=None)
@given(stream=streams(), data=st.data())
def test_any_split_of_any_stream_gives_the_same_messages_and_pongs(
    stream: tuple[list[Frame], list[Message], list[bytes]], data: st.DataObject
) -> None:
    frames, messages, pongs = stream
    raw = server_bytes(*frames)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=8)))
    protocol = ClientFrames()
    assert feed(protocol, raw, cuts) == messages
    assert [(f.opcode, f.data) for f in client_frames(protocol.data_to_send())] == [(Opcode.PONG, p) for p in pongs]
