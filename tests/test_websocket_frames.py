"""The sans-I/O frame protocol with plain bytes: server frames written by the `websockets`
library's own server protocol (the reference) are split at every byte, and every frame the
client writes is decoded back by it, masking checked. Every rule of RFC 6455 a server may break
(tests/conformance.py) fails the connection with its close code after the messages before it,
as `websockets`' own client does on the same bytes."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from conformance import CLOSES, LIMIT, VIOLATIONS, Case, close_body, frame
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
    close_reason,
    mask,
)

SIZES = [0, 1, 125, 126, 127, 65535, 65536, 70000]  # every length encoding and its edges


def server_bytes(*frames: Frame) -> bytes:
    """What a websockets server writes for these frames (unmasked, as servers must)."""
    protocol = Protocol(Side.SERVER, state=State.OPEN, max_size=None)
    for each in frames:
        protocol.send_frame(each)
    return b"".join(protocol.data_to_send())


def client_frames(data: bytes) -> list[Frame]:
    """Decode what the client wrote with websockets' server protocol, which rejects an unmasked
    frame: the frames come back unmasked."""
    protocol = Protocol(Side.SERVER, state=State.OPEN, max_size=None)
    protocol.receive_data(data)
    assert protocol.parser_exc is None, protocol.parser_exc
    return protocol.events_received()


def payload_of(size: int) -> bytes:
    """``size`` bytes of every value: a binary payload."""
    return bytes(range(256)) * (size // 256) + bytes(range(size % 256))


def text_of(size: int) -> bytes:
    """``size`` bytes of UTF-8 with 1- to 4-byte characters (a cut may fall inside one)."""
    return "aé€𝄞".encode() * (size // 10) + b"x" * (size % 10)


def feed(frames: ClientFrames, data: bytes, cuts: list[int]) -> list[Message]:
    """Every message ``data`` gives when it arrives in pieces cut at ``cuts`` (sorted)."""
    bounds = [0, *cuts, len(data)]
    return [m for a, b in zip(bounds, bounds[1:]) for m in frames.receive_data(data[a:b])]


# -- receiving -------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_lengths_of_every_encoding(size: int) -> None:
    payload = text_of(size)
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
    payload = text_of(70_000)
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


def test_pong_and_close_are_returned_and_the_close_echoed() -> None:
    close = (1001).to_bytes(2, "big") + b"bye"
    data = server_bytes(Frame(Opcode.PONG, b"x"), Frame(Opcode.CLOSE, close))
    frames = ClientFrames()
    assert frames.receive_data(data) == [(PONG, b"x"), (CLOSE, close)]
    assert [(f.opcode, f.data) for f in client_frames(frames.data_to_send())] == [(Opcode.CLOSE, close)]
    assert frames.close_received and frames.close_sent and frames.failure is None


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
        payload = (text_of if kind in ("text", "fragmented") else payload_of)(draw(_LENGTHS))
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


# -- the rules a server may break (tests/conformance.py) -------------------------------------------

BEFORE = [b'{"event":"API_MARKETDEPTH","data":{"n":1}}', '{"é":"€𝄞"}'.encode()]  # ASCII and not
AFTER = b'{"event":"API_MARKETDEPTH","data":{"n":2}}'


def stream(case: Case) -> bytes:
    """Valid messages, the case's frames, then a valid message no client may read any more."""
    return b"".join(frame(0x1, m) for m in BEFORE) + case.data + frame(0x1, AFTER)


def sent_close(data: bytes) -> tuple[int | None, bytes] | None:
    """The code and reason of the close frame among the frames a client wrote (None: none; a
    code of None: an empty close frame)."""
    closes = [f.data for f in client_frames(data) if f.opcode is Opcode.CLOSE]
    assert len(closes) <= 1, closes
    if not closes:
        return None
    body = closes[0]
    return (int.from_bytes(body[:2], "big") if body else None), body[2:]


def ours(case: Case, data: bytes, cuts: list[int]) -> tuple[list[Message], int | None]:
    """The messages nexusdata's frames return and the close code they send."""
    frames = ClientFrames(max_message=case.max_message or MAX_MESSAGE)
    messages = feed(frames, data, cuts)
    close = sent_close(frames.data_to_send())
    assert close is not None, "no close frame sent"
    return [m for m in messages if m[0] != PONG], close[0]


def reference(case: Case, data: bytes) -> tuple[list[Message], int | None]:
    """What the `websockets` library's client does with the same bytes: the messages its
    application reads (its connection decodes text and fails with 1007 where that fails) and the
    close code it sends."""
    protocol = Protocol(Side.CLIENT, state=State.OPEN, max_size=case.max_message or MAX_MESSAGE)
    protocol.receive_data(data)
    messages: list[Message] = []
    parts: list[bytes] = []
    opcode = Opcode.TEXT
    for event in protocol.events_received():
        if event.opcode in (Opcode.TEXT, Opcode.BINARY):
            opcode, parts = event.opcode, [event.data]
        elif event.opcode is Opcode.CONT:
            parts.append(event.data)
        elif event.opcode is Opcode.CLOSE:
            messages.append((CLOSE, event.data))
            continue
        else:
            continue  # pings (answered), pongs
        if event.fin:
            payload = b"".join(parts)
            if opcode is Opcode.TEXT:
                try:
                    payload.decode()
                except UnicodeDecodeError:
                    return messages, 1007
            messages.append((opcode.value, payload))
    close = sent_close(b"".join(protocol.data_to_send()))
    assert close is not None, "websockets sent no close frame"
    return messages, close[0]


@pytest.mark.parametrize("case", VIOLATIONS, ids=lambda c: c.name)
def test_a_broken_rule_fails_with_its_code_after_the_messages_before_it(case: Case) -> None:
    data = stream(case)
    for cuts in ([], list(range(1, len(data)))):  # in one read, and a byte at a time
        frames = ClientFrames(max_message=case.max_message or MAX_MESSAGE)
        messages = feed(frames, data, cuts)
        assert messages[: len(BEFORE)] == [(TEXT, m) for m in BEFORE]  # delivered, not thrown away
        assert (TEXT, AFTER) not in messages  # nothing is read after the bad frame
        assert frames.failure is not None and frames.failure.code == case.code
        assert case.rule in str(frames.failure)
        code, reason = sent_close(frames.data_to_send()) or (None, b"")
        assert code == case.code and reason.decode() == frames.failure.rule[:123]
        assert frames.receive_data(frame(0x1, AFTER)) == [] and frames.data_to_send() == b""  # over


@pytest.mark.parametrize("case", VIOLATIONS + CLOSES, ids=lambda c: c.name)
def test_websockets_client_does_the_same(case: Case) -> None:
    data = stream(case)
    assert ours(case, data, []) == reference(case, data)


@pytest.mark.parametrize("case", CLOSES, ids=lambda c: c.name)
def test_a_valid_close_is_echoed_and_ends_the_reading(case: Case) -> None:
    frames = ClientFrames()
    messages = frames.receive_data(stream(case))
    body = case.data[2:]
    assert messages == [*((TEXT, m) for m in BEFORE), (CLOSE, body)]  # the push after the close is not read
    assert sent_close(frames.data_to_send()) == (case.code, body[2:])
    assert frames.failure is None and frames.close_received


def test_every_message_type_rule_has_a_distinct_reason() -> None:
    """The gap log names the rule: no two kinds of violation read alike."""
    reasons = {c.rule for c in VIOLATIONS}
    assert len(reasons) >= 20


def test_a_close_inside_a_fragmented_message_is_a_close() -> None:
    """RFC 6455 section 5.4 lets control frames come between fragments; `websockets` fails such a
    close with 1002 instead, the one place nexusdata keeps to the RFC where they differ."""
    frames = ClientFrames()
    body = close_body(1001, b"going away")
    assert frames.receive_data(frame(0x1, b'{"a":', fin=False) + frame(0x8, body)) == [(CLOSE, body)]
    assert frames.failure is None and sent_close(frames.data_to_send()) == (1001, b"going away")


def test_a_ping_of_125_bytes_is_answered() -> None:
    frames = ClientFrames()
    assert frames.receive_data(frame(0x9, b"p" * 125)) == []
    assert [(f.opcode, f.data) for f in client_frames(frames.data_to_send())] == [(Opcode.PONG, b"p" * 125)]


def test_a_character_split_between_fragments_is_text() -> None:
    text = "κόσμε €𝄞".encode()
    data = b"".join(frame(0x0 if i else 0x1, text[i : i + 1], fin=i == len(text) - 1) for i in range(len(text)))
    frames = ClientFrames()
    assert frames.receive_data(data) == [(TEXT, text)] and frames.failure is None


def test_binary_is_not_held_to_utf8() -> None:
    assert ClientFrames().receive_data(frame(0x2, b"\xff\xfe")) == [(BINARY, b"\xff\xfe")]


def test_a_fragment_flood_fails_once_the_message_passes_the_limit() -> None:
    """65 fragments of 1 MiB: refused as the 65th announces itself, before its payload comes,
    so at most the limit is ever held."""
    chunk = b"x" * (1 << 20)
    frames = ClientFrames()
    for i in range(64):
        assert frames.receive_data(frame(0x0 if i else 0x1, chunk, fin=False)) == []
    assert frames.failure is None
    assert frames.receive_data(frame(0x0, chunk, fin=False)[:10]) == []  # the header alone
    assert frames.failure is not None and frames.failure.code == 1009
    assert str(frames.failure) == f"message too big: fragmented message of over {65 << 20} bytes > {MAX_MESSAGE}"


def test_a_frame_over_the_limit_is_refused_from_its_header() -> None:
    frames = ClientFrames(max_message=100)
    assert frames.receive_data(server_bytes(Frame(Opcode.TEXT, b"x" * 100))) == [(TEXT, b"x" * 100)]
    assert frames.receive_data(b"\x81\x7e\x00\x65") == []  # no payload yet
    assert str(frames.failure) == "message too big: 101-byte frame > 100"


def test_a_long_reason_is_cut_to_fit_the_close_frame() -> None:
    frames = ClientFrames()
    frames.send_close(1002, "é" * 100)  # 200 bytes: cut at a character's edge
    [close] = client_frames(frames.data_to_send())
    assert len(close.data) <= 125 and close.data[2:].decode() == "é" * 61


def test_a_connection_closes_once() -> None:
    frames = ClientFrames()
    frames.receive_data(frame(0x8, close_body(1000)))
    frames.send_close(1000)  # the stop after the server's close: already answered
    assert len(client_frames(frames.data_to_send())) == 1
    assert frames.receive_data(frame(0x9, b"late")) == [] and frames.data_to_send() == b""  # no pong after a close


def test_limits_apply_per_message() -> None:
    """Two messages of 3,000 bytes under a 4,096-byte limit: the limit is not a running total."""
    frames = ClientFrames(max_message=LIMIT)
    text = b"y" * 3000
    data = frame(0x1, text[:1500], fin=False) + frame(0x0, text[1500:]) + frame(0x1, text)
    assert frames.receive_data(data) == [(TEXT, text), (TEXT, text)] and frames.failure is None
