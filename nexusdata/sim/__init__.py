"""An embedded websocket simulator of both feeds, for tests, demos and offline work.

``with Simulator(seed=0) as sim:`` serves Nexus at ``sim.nexus_url`` (token ``sim.token``) and
ChaiNext at ``sim.chainext_url`` (``sim.api_key`` / ``sim.api_secret``) on one local port, with
seeded random-walk data in the documents' exact shapes. It serves the Nexus :data:`SYMBOLS`
and refuses others; ``quirks`` (names from :data:`QUIRKS`) make it misbehave as real servers may.
"""

from .market import SYMBOLS
from .quirks import QUIRKS
from .server import SentPush, Simulator

__all__ = ["QUIRKS", "SYMBOLS", "SentPush", "Simulator"]
