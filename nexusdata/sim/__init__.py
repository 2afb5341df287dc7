"""An embedded websocket simulator of both feeds, for tests, demos and offline work.

``with Simulator(seed=0) as sim:`` serves Nexus at ``sim.nexus_url`` (token ``sim.token``) and
ChaiNext at ``sim.chainext_url`` (``sim.api_key`` / ``sim.api_secret``) on one local port, with
seeded random-walk data in the documents' exact shapes. It serves the Nexus :data:`SYMBOLS`
and refuses others; ``quirks`` (names from :data:`QUIRKS`) make it misbehave as real servers may.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .market import SYMBOLS
from .quirks import QUIRKS

if TYPE_CHECKING:
    from .server import SentPush, Simulator

__all__ = ["QUIRKS", "SYMBOLS", "SentPush", "Simulator"]


def __getattr__(name: str) -> Any:
    """``Simulator`` and ``SentPush``, imported on first use: the server (``websockets`` and
    asyncio) is loaded only by what runs one, not by the command line's help or the quirk names."""
    if name in ("SentPush", "Simulator"):
        from . import server

        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
