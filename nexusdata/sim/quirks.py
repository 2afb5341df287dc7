"""Quirks: ways a real server may differ from the documents where they are silent, on request.

``Simulator(quirks="batched,pretty")`` keeps the documents' meaning but changes how messages are
written, so a client can be proven against both. :class:`Wire` writes every message of one
simulator: the documents' compact JSON by default (byte for byte what the protocol layer's
builders give), or rewritten as the quirks say.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncGenerator, Iterable, Sequence
from typing import Any

import orjson

from ..errors import ArgumentError
from ..protocol.session import dumps

STRING_CODES = "string_codes"
REFUSAL_CODE = "refusal_code"
REFUSAL_ERROR = "refusal_error"
REPLY_OPS = "reply_ops"
BATCHED = "batched"
FRAGMENTED = "fragmented"
PRETTY = "pretty"
EXTRA_FIELDS = "extra_fields"
RELOGIN_2004 = "relogin_2004"
MICRO_TIMES = "micro_times"

QUIRKS: dict[str, str] = {
    STRING_CODES: 'ChaiNext reply codes are numeric strings ("code": "2001")',
    REFUSAL_CODE: 'Nexus refusals are {"id", "code": 10003, "msg": "symbol not found"}',
    REFUSAL_ERROR: 'Nexus refusals are {"id", "error": {"code": 10003, "message": "symbol not found"}}',
    REPLY_OPS: 'ChaiNext replies carry the request\'s op ("login", not "loginResponse")',
    BATCHED: "2 or 3 consecutive pushes of a subscription in one frame, their payloads in one list",
    FRAGMENTED: "every data frame in 3 websocket fragments, with a websocket ping between them",
    PRETTY: "every JSON message indented, with a space after each colon",
    EXTRA_FIELDS: "unknown fields (seq, server) in every message and payload object, payload key first",
    RELOGIN_2004: "after a session expiry (2010) the login is kept, so logging in again gets 2004",
    MICRO_TIMES: "push times in microseconds (16 digits), coin_index/index updateTime in nanoseconds",
}
"""Every quirk by name, with what the server then does."""

BATCH_SIZES = (2, 3)
"""Pushes per frame with ``batched``, in turn."""
SERVER = "sim"
"""The value of the unknown ``server`` field that ``extra_fields`` adds."""
PAYLOADS = ("data", "args")
"""The payload key of each feed's messages (Nexus, ChaiNext)."""
TIME_KEYS = frozenset({"time", "orderTime", "executeTime", "updateTime", "coinUpdateTime", "pairUpdateTime", "timestamp"})
"""Push fields holding an epoch time."""
FINER = {13: 1_000, 10: 1_000_000_000}
"""``micro_times``: the factor for an epoch of this many digits (ms → µs, s → ns)."""
_RESHAPING = frozenset({BATCHED, PRETTY, EXTRA_FIELDS, MICRO_TIMES})
"""Quirks that rewrite a push's text."""
_WRITING = frozenset({PRETTY, EXTRA_FIELDS})
"""Quirks that change how any JSON message is written out."""


def select_quirks(quirks: str | Iterable[str] | None) -> frozenset[str]:
    """The quirks named by ``quirks``: one name, names separated by commas, or an iterable of
    names (``None``: none). Unknown names are an :class:`ArgumentError` listing them."""
    if quirks is None:
        return frozenset()
    names: list[object] = [quirks]  # not a string nor an iterable: refused below
    if isinstance(quirks, str):
        names = list(quirks.split(","))
    elif isinstance(quirks, Iterable):
        names = list(quirks)
    if not all(isinstance(name, str) for name in names):
        raise ArgumentError(f"quirks must be a name, comma-separated names or an iterable of names, got {quirks!r}")
    chosen = frozenset(str(name).strip() for name in names) - {""}
    unknown = sorted(chosen - QUIRKS.keys())
    if unknown:
        raise ArgumentError(f"quirks: unknown {', '.join(unknown)}; known quirks are {', '.join(QUIRKS)}")
    return chosen


class Wire:
    """How one simulator writes its messages under its quirks.

    Pushes arrive as text in the documents' shape (built by the feeds or read from a recording)
    and are rewritten only when a quirk asks; ``extra_fields`` numbers every message it writes.
    """

    def __init__(self, quirks: frozenset[str] = frozenset()) -> None:
        self.quirks = quirks
        self._reshaping = bool(quirks & _RESHAPING)
        self._seq = itertools.count(1)

    def reply(self, message: dict[str, Any]) -> str:
        """The text of a reply (``pretty`` and ``extra_fields`` apply)."""
        return self._encode(message)

    def frame(self, texts: Sequence[str]) -> str:
        """The frame carrying the pushes ``texts``: the one push as it is, or the pushes rewritten
        as the quirks say (batched into one list, finer times, extra fields, indented)."""
        if not self._reshaping:
            return texts[0]
        messages = [_exact_loads(text) for text in texts]
        message = _batch(messages) if BATCHED in self.quirks else messages[0]
        if MICRO_TIMES in self.quirks:
            message = _finer_times(message)
        return self._encode(message)

    async def batches(self, frames: AsyncGenerator[str, None]) -> AsyncGenerator[list[str], None]:
        """The pushes of ``frames`` grouped by frame: one each, or with ``batched`` 2 and 3 in
        turn (a group cut short by the end of the stream goes as it is)."""
        sizes = itertools.cycle(BATCH_SIZES if BATCHED in self.quirks else (1,))
        size, batch = next(sizes), []
        async for text in frames:
            batch.append(text)
            if len(batch) == size:
                yield batch
                size, batch = next(sizes), []
        if batch:
            yield batch

    def _encode(self, message: dict[str, Any]) -> str:
        """A message's text: compact as the protocol layer writes it, or as the quirks say."""
        if not self.quirks & _WRITING:
            return dumps(message)
        if EXTRA_FIELDS in self.quirks:
            message = self._extra_fields(message)
        return orjson.dumps(message, option=orjson.OPT_INDENT_2 if PRETTY in self.quirks else 0).decode()

    def _extra_fields(self, message: dict[str, Any]) -> dict[str, Any]:
        """The message with its keys in reverse order (so the payload comes first), then unknown
        ``seq`` and ``server`` fields; each object of its payload gains ``server`` too."""
        reordered = {key: _tagged(message[key]) if key in PAYLOADS else message[key] for key in reversed(message)}
        return {**reordered, "seq": next(self._seq), "server": SERVER}


def _exact_loads(text: str) -> dict[str, Any]:
    """A push decoded with every decimal number kept verbatim (v3 prices carry 20 decimals,
    more than a float holds), so that writing it again changes no digit."""
    message: dict[str, Any] = json.loads(text, parse_float=orjson.Fragment)
    return message


def _batch(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """One message whose payload lists the payloads of ``messages`` (a list payload, Nexus
    orders and risk rows, contributes its items)."""
    first = messages[0]
    key = next(k for k in PAYLOADS if k in first)
    items = [item for m in messages for item in (m[key] if isinstance(m[key], list) else [m[key]])]
    return {**first, key: items}


def _tagged(payload: Any) -> Any:
    """``payload`` with an unknown ``server`` field in its object, or in each object of its list."""
    if isinstance(payload, dict):
        return {**payload, "server": SERVER}
    if isinstance(payload, list):
        return [_tagged(item) if isinstance(item, dict) else item for item in payload]
    return payload


def _finer_times(value: Any) -> Any:
    """``value`` with every epoch under a time key in a finer unit (see :func:`_finer`)."""
    if isinstance(value, dict):
        return {k: _finer(v) if k in TIME_KEYS else _finer_times(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finer_times(item) for item in value]
    return value


def _finer(value: Any) -> Any:
    """A 13-digit epoch (ms) in microseconds, a 10-digit one (s) in nanoseconds, as the same
    type (string or number); anything else (``0`` for never) unchanged."""
    digits = value if isinstance(value, str) else str(value) if type(value) is int else ""
    if not (digits.isascii() and digits.isdigit()) or len(digits) not in FINER:
        return value
    finer = int(digits) * FINER[len(digits)]
    return str(finer) if isinstance(value, str) else finer
