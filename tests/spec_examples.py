"""The spec documents' example messages, shared by the protocol, tables, frames and fuzz tests.

The feeds' two original documents are kept verbatim beside the examples (``*.zh.md``), so the
tests that check the examples against them need nothing outside the repository."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures" / "spec"
NEXUS_DOC = FIXTURES / "nexus-websocket-api.zh.md"
CHAINEXT_DOC = FIXTURES / "chainext-websocket-api.zh.md"

TABLE_SOURCE = {
    "depth": "nexus_push_depth",
    "orders": "nexus_push_order",
    "cp_orders": "nexus_push_order",
    "executions": "nexus_push_order",
    "risk": "nexus_push_risk",
    "coin_index": "chainext_push_coin_index",
    "pair_index": "chainext_push_pair_index",
    "index": "chainext_push_index",
    "coin_index_v3": "chainext_push_coin_index_v3",
    "pair_index_v3": "chainext_push_pair_index_v3",
}
"""Which example push each table reads."""


def raw(name: str) -> str:
    """An example's text exactly as in the document."""
    return (FIXTURES / f"{name}.json").read_text(encoding="utf-8")


def load(name: str) -> Any:
    """An example, decoded."""
    return json.loads(raw(name))


def compact(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def short(value: Any) -> str:
    """A readable test id for a frame."""
    text = repr(value)
    return text if len(text) <= 50 else f"{text[:40]}...<{len(text)} chars>"
