"""Transport: one service connection in one background thread (connect, authenticate, keep alive,
reconnect, stop cleanly)."""

from .backoff import Backoff
from .connection import Connection, ConnectionEvent

__all__ = ["Backoff", "Connection", "ConnectionEvent"]
