"""Telling a server's reply to a request apart: success, refusal, or a plain acknowledgement.

The Nexus document defines no reply at all and the ChaiNext one defines codes but real servers
vary in how they send them (numbers or numeric strings, other key names, an ``error`` object),
so both feeds judge replies by one documented rule (docs/protocols.md, "Replies"):

1. **success** when the code is one of the feed's success codes, or the status or text says
   so (``success``, ``ok``, ``true``; ``"success": true``);
2. else a **refusal** when the reply carries an ``error`` (non-empty), ``"success": false``, a
   code that is not a success code, or a status or text with a failure word (``error``,
   ``fail``, ``invalid``, ``not found``, ``denied``, ...);
3. else an **acknowledgement** (an echo with nothing to judge by): not a refusal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Outcome = Literal["ok", "refused", "ack"]

CODE_KEYS = ("code", "errorCode", "error_code", "errcode", "retCode", "ret_code")
TEXT_KEYS = ("info", "msg", "message", "errmsg", "err_msg", "reason", "description", "detail")
STATUS_KEYS = ("status", "result", "state")
SUCCESS_WORDS = frozenset({"success", "succeeded", "successful", "ok", "true", "subscribed", "unsubscribed", "done"})
FAILURE_WORDS = (
    "error",
    "fail",
    "invalid",
    "not found",
    "absent",
    "denied",
    "refuse",
    "reject",
    "unknown",
    "unauthori",
    "forbidden",
    "not exist",
    "no such",
    "wrong",
    "expired",
    "not allowed",
    "illegal",
)
REPLY_KEYS = frozenset({*CODE_KEYS, *TEXT_KEYS, "error", "success"})
"""Keys that mark a message as a reply rather than a data push (no documented push has one)."""


@dataclass(frozen=True)
class Verdict:
    """A reply judged: its outcome, the server's code (an ``int`` when it is a number or a
    numeric string) and its text (``None`` when it has none)."""

    outcome: Outcome
    code: int | str | None
    text: str | None


def code_of(value: object) -> int | str | None:
    """A reply's code as an ``int`` when it is a whole number or a numeric string (``"2001"``),
    else the string it is, else ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit() and text.isascii():
            return int(text)
        return text or None
    return None


def _first(fields: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        if fields.get(key) not in (None, ""):
            return fields[key]
    return None


def judge(fields: Mapping[str, Any], success_codes: frozenset[int]) -> Verdict:
    """Judge a reply's fields (for ChaiNext its ``args``, for Nexus the message) by the rule above."""
    error = fields.get("error")
    nested = error if isinstance(error, Mapping) else {}
    raw_code = _first(fields, CODE_KEYS)
    code = code_of(raw_code if raw_code is not None else _first(nested, CODE_KEYS))
    text_value = _first(fields, TEXT_KEYS) or _first(nested, TEXT_KEYS) or (error if isinstance(error, str) else None)
    status = _first(fields, STATUS_KEYS)
    text = text_value if isinstance(text_value, str) else None
    words = [w.strip().lower() for w in (text_value, status) if isinstance(w, str)]
    if code in success_codes or fields.get("success") is True or any(w in SUCCESS_WORDS for w in words):
        return Verdict("ok", code, text)
    refused = (
        (error not in (None, "", False, {}, []))
        or fields.get("success") is False
        or (code is not None and code not in success_codes)
        or any(bad in w for w in words for bad in FAILURE_WORDS)
    )
    if text is None and isinstance(status, str):
        text = status
    return Verdict("refused" if refused else "ack", code, text)


def is_reply(payload: object) -> bool:
    """Whether a push-shaped message's payload is really a reply (it has a code, text or
    error key, which no documented push has)."""
    return isinstance(payload, Mapping) and not REPLY_KEYS.isdisjoint(payload)
