"""A connection's timers, sans I/O: keep-alive pings, the stall probe, housekeeping, the close.

:class:`Deadlines` never reads a clock: the transport passes the time in (``now``, in seconds of
any monotonic clock) and learns what is due (:meth:`Deadlines.due`) and how long it may block
waiting for data (:meth:`Deadlines.timeout`). That puts every timeout's rule in one place that
tests drive with plain numbers, no sockets and no sleeps.
"""

from __future__ import annotations

import enum
from typing import Final

TICK: Final = 0.2
"""Seconds between housekeeping checks (silent subscriptions, the session's queued requests);
also the longest a read blocks, so a request to stop is noticed within it."""

CLOSE_TIMEOUT: Final = 2.0
"""Seconds a clean stop waits for the server's answer to unsubscribe/logout."""


class Action(enum.Enum):
    """What a deadline asks the transport to do now."""

    HOUSEKEEPING = "housekeeping"
    """Check for silent subscriptions and send what the session queued."""
    PING = "ping"
    """Send the feed's application ping (``ping_interval`` passed since the last one)."""
    PROBE = "probe"
    """No frame for ``stall_timeout``: send a websocket ping and an application ping."""
    STALLED = "stalled"
    """The probe went unanswered for ``pong_timeout``: the connection is dead."""
    CLOSE_TIMED_OUT = "close timed out"
    """The server did not answer the clean stop within the close timeout: close anyway."""


class Deadlines:
    """One connection's deadlines, started at ``now`` (when the connection opened).

    Every frame received calls :meth:`on_frame`; after each read the transport performs what
    :meth:`due` returns, in order, and then blocks at most :meth:`timeout` for the next data.
    Once :meth:`begin_close` was called only the close deadline counts.
    """

    def __init__(
        self,
        now: float,
        *,
        ping_interval: float,
        stall_timeout: float,
        pong_timeout: float,
        tick: float = TICK,
        close_timeout: float = CLOSE_TIMEOUT,
    ) -> None:
        self._ping_interval = ping_interval
        self._stall_timeout = stall_timeout
        self._pong_timeout = pong_timeout
        self._tick = tick
        self._close_timeout = close_timeout
        self.last_frame = now
        """When the newest frame arrived (the connection's start until one does)."""
        self._tick_at = now + tick
        self._ping_at = now + ping_interval
        self._dead_at: float | None = None  # set while a stall probe awaits an answer
        self._close_by: float | None = None

    def on_frame(self, now: float) -> None:
        """Frames arrived at ``now``: the connection is alive (a pending probe is answered)."""
        self.last_frame = now
        self._dead_at = None

    def begin_close(self, now: float) -> None:
        """A clean stop started at ``now``: from here on only the close deadline counts."""
        self._close_by = now + self._close_timeout

    @property
    def closing(self) -> bool:
        """Whether :meth:`begin_close` was called."""
        return self._close_by is not None

    def due(self, now: float) -> list[Action]:
        """What to do at ``now``, in the order to do it (often nothing). Each deadline returned
        is moved on as if done, so a second call at the same time returns nothing new, except
        :attr:`Action.STALLED` and :attr:`Action.CLOSE_TIMED_OUT`, which end the connection."""
        if self._close_by is not None:
            return [Action.CLOSE_TIMED_OUT] if now >= self._close_by else []
        actions: list[Action] = []
        if now >= self._tick_at:
            actions.append(Action.HOUSEKEEPING)
            self._tick_at = now + self._tick
        if now >= self._ping_at:
            actions.append(Action.PING)
            self._ping_at = now + self._ping_interval
        if self._dead_at is None:
            if now >= self.last_frame + self._stall_timeout:
                actions.append(Action.PROBE)
                self._dead_at = now + self._pong_timeout
        elif now >= self._dead_at:
            actions.append(Action.STALLED)
        return actions

    def timeout(self, now: float) -> float:
        """Seconds from ``now`` to the next deadline (0 when one is due): how long the transport
        may block waiting for data. At most the housekeeping tick until the close begins."""
        if self._close_by is not None:
            return max(self._close_by - now, 0.0)
        stall = self.last_frame + self._stall_timeout if self._dead_at is None else self._dead_at
        return max(min(self._tick_at, self._ping_at, stall) - now, 0.0)

    def silent_for(self, now: float) -> float:
        """Seconds since the newest frame (or the connection's start)."""
        return now - self.last_frame
