"""RFC 6455 cases a server may get wrong, as the raw bytes it writes, and what a client must do.

Shared by the sans-I/O tests (tests/test_websocket_frames.py, which also run each case through
the ``websockets`` library's client as the reference) and the end-to-end ones
(tests/test_conformance.py, through ``nd.stream_depth`` against a raw server). The frames are
built by hand because ``websockets`` refuses to write a broken one. docs/protocols.md, "Websocket
conformance", lists the rules.
"""

from __future__ import annotations

from dataclasses import dataclass

CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def frame(
    opcode: int, payload: bytes = b"", *, fin: bool = True, rsv: int = 0, masked: bool = False, length: int | None = None
) -> bytes:
    """One server frame as written on the wire; ``length`` announces another length than the
    payload's (a header whose payload never comes)."""
    size = len(payload) if length is None else length
    mask_bit = 0x80 if masked else 0
    head = bytes(((0x80 if fin else 0) | rsv << 4 | opcode,))
    if size < 126:
        head += bytes((mask_bit | size,))
    elif size < 1 << 16:
        head += bytes((mask_bit | 126,)) + size.to_bytes(2, "big")
    else:
        head += bytes((mask_bit | 127,)) + size.to_bytes(8, "big")
    if masked:
        key = b"\x12\x34\x56\x78"
        head += key
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return head + payload


def close_body(code: int, reason: bytes = b"") -> bytes:
    return code.to_bytes(2, "big") + reason


@dataclass(frozen=True)
class Case:
    """A server writing ``data`` (after valid pushes): the client closes with ``code`` and names
    ``rule`` as the reason; a valid close is echoed (``rule`` empty)."""

    name: str
    data: bytes
    code: int | None  # the close code the client sends (None: an empty close frame, echoed)
    rule: str = ""
    max_message: int | None = None  # the client's max_message for this case (None: the default)

    @property
    def fails(self) -> bool:
        """Whether the client must fail the connection (else the server closed it validly)."""
        return bool(self.rule)


LIMIT = 4096
"""A small max_message for the size cases, so a test sends kilobytes, not 64 MiB."""

INVALID_CLOSE_CODES = (0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535)
VALID_CLOSE_CODES = (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999)

VIOLATIONS: list[Case] = [
    # control frames: at most 125 bytes, never fragmented
    Case("ping of 126 bytes", frame(PING, b"p" * 126), 1002, "ping payload 126 > 125 bytes"),
    Case("ping with FIN=0", frame(PING, b"p", fin=False), 1002, "fragmented ping frame"),
    Case("pong of 126 bytes", frame(PONG, b"p" * 126), 1002, "pong payload 126 > 125 bytes"),
    Case("close of 126 bytes", frame(CLOSE, close_body(1000, b"r" * 124)), 1002, "close payload 126 > 125 bytes"),
    Case("close with FIN=0", frame(CLOSE, close_body(1000), fin=False), 1002, "fragmented close frame"),
    # fragmentation
    Case(
        "text frame inside a fragmented message, FIN=1",
        frame(TEXT, b'{"a":', fin=False) + frame(TEXT, b"{}"),
        1002,
        "new data frame inside an unfinished fragmented message",
    ),
    Case(
        "text frame inside a fragmented message, FIN=0",
        frame(TEXT, b'{"a":', fin=False) + frame(TEXT, b"{", fin=False),
        1002,
        "new data frame inside an unfinished fragmented message",
    ),
    Case(
        "binary frame inside a fragmented message",
        frame(TEXT, b'{"a":', fin=False) + frame(BINARY, b"x"),
        1002,
        "new data frame inside an unfinished fragmented message",
    ),
    Case("continuation without a start", frame(CONT, b"x"), 1002, "continuation frame without a message to continue"),
    Case(
        "continuation after a finished message",
        frame(TEXT, b'{"a":', fin=False) + frame(CONT, b"1}") + frame(CONT, b"x"),
        1002,
        "continuation frame without a message to continue",
    ),
    # reserved bits, masking, opcodes
    *(Case(f"reserved bit RSV{i}", frame(TEXT, b"{}", rsv=1 << (3 - i)), 1002, "reserved bits") for i in (1, 2, 3)),
    Case("masked frame from the server", frame(TEXT, b"{}", masked=True), 1002, "masked frame from the server"),
    *(Case(f"data opcode {op}", frame(op, b"x"), 1002, f"unknown data opcode {op}") for op in range(3, 8)),
    *(Case(f"control opcode {op}", frame(op, b"x"), 1002, f"unknown control opcode {op}") for op in range(11, 16)),
    # limits
    Case("frame over max_message", frame(TEXT, length=LIMIT + 1), 1009, f"{LIMIT + 1}-byte frame > {LIMIT}", LIMIT),
    Case(
        "fragmented message over max_message",
        frame(TEXT, b"x" * 3000, fin=False) + frame(CONT, b"x" * 1000, fin=False) + frame(CONT, b"x" * 1000),
        1009,
        f"fragmented message of over 5000 bytes > {LIMIT}",
        LIMIT,
    ),
    Case("64-bit length with its top bit set", frame(TEXT, length=1 << 63), 1009, f"{1 << 63}-byte frame"),
    # UTF-8
    Case("text that is not UTF-8", frame(TEXT, b'{"a":"\xff"}'), 1007, "text is not UTF-8 (invalid start byte at byte 6)"),
    Case("text with a UTF-16 surrogate", frame(TEXT, b'"\xed\xa0\x80"'), 1007, "text is not UTF-8"),
    Case("text with an overlong encoding", frame(TEXT, b'"\xc0\xaf"'), 1007, "text is not UTF-8"),
    Case("text ending inside a character", frame(TEXT, b'"\xce\xba\xe1'), 1007, "text is not UTF-8 (unexpected end of data"),
    Case(
        "fragmented text that is not UTF-8",
        frame(TEXT, b'"\xce', fin=False) + frame(CONT, b"\xff", fin=False) + frame(CONT, b'"'),
        1007,
        "text is not UTF-8",
    ),
    # close payloads
    Case("close with a 1-byte payload", frame(CLOSE, b"\x03"), 1002, "close frame with a 1-byte payload"),
    *(
        Case(f"close code {code}", frame(CLOSE, close_body(code)), 1002, f"close code {code} is not one a server may send")
        for code in INVALID_CLOSE_CODES
    ),
    Case("close reason that is not UTF-8", frame(CLOSE, close_body(1000, b"bye \xff")), 1007, "text is not UTF-8"),
]
"""Every way a server breaks the framing rules: the client fails the connection."""

CLOSES: list[Case] = [
    Case("empty close", frame(CLOSE), None),
    *(Case(f"close with code {code}", frame(CLOSE, close_body(code, b"bye")), code) for code in VALID_CLOSE_CODES),
]
"""Valid closes from the server: echoed with the same code, then the client reconnects."""
