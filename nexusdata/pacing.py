"""When a live chart may draw its next frame: at most ``max_fps`` frames a second, and in the long
run no more than a share of the time spent drawing (a small share while ingestion is busy, a
larger one while it is calm), paced by a credit earned at that share and spent by each frame's
CPU time.

:class:`Pacing` never reads a clock: the chart passes in the time, the CPU seconds a frame took
and how long the connection thread has waited for data, so every rule is tested with plain
numbers (``tests/test_pacing.py``), as :class:`~nexusdata.protocol.deadlines.Deadlines` is.
"""

from __future__ import annotations

import math

CALM_SHARE = 0.35
"""The share of the time drawing may take while ingestion is calm (the connection thread spent
more than :data:`CALM_WAITING` of the time since the last frame waiting for data): the feed
then has room, and the chart moves more often."""

CALM_WAITING = 0.5
"""Share of the time the connection thread waits for data above which ingestion counts as calm."""

CREDIT = 0.04
"""CPU seconds of drawing a chart may save up while it has nothing to draw (two frames' worth or
so: more would be spent in one burst when data comes back): a frame is allowed while its
credit, earned at the drawing share in force, is not negative, and costs its CPU time. In the
long run drawing takes no more than the share; a rare full draw is paid for by the frames
after it, not by a running mean that slows every later one."""

DEBT = 0.1
"""The most CPU seconds a chart's credit may owe: after a full draw (0.2-0.4 s) a busy feed's chart
waits at most 2 s at a twentieth, not the 4-8 s the draw cost; full draws are rare (limits
change with hysteresis), so the share holds over a longer run."""

FIRST_LAYOUTS = 2
"""Frames laying the figure out at the start (the empty chart, the first push) that are not
charged to the credit."""


class Pacing:
    """The redraw pacing of one live chart, on the caller's clock (seconds, monotonic).

    Call :meth:`allows` whenever the chart could draw (it earns the credit since the last call)
    and, after each refresh it allowed that went on to read data (a frame drawn or not),
    :meth:`spent`. ``share`` is the share of the time drawing may
    take until the next frame: ``draw_share`` while ingestion is busy, at least
    :data:`CALM_SHARE` while it is calm (``calm``)."""

    def __init__(self, now: float, waited: float, *, max_fps: float, draw_share: float) -> None:
        self.max_fps = max_fps
        self.draw_share = draw_share
        self.share = draw_share
        self.calm = True
        self.credit = 0.0
        """CPU seconds drawing may take now: earned at ``share`` a second, spent by frames."""
        self.layouts = 0
        """Frames that laid the figure out."""
        self._credited_at = now
        self._next_at = -math.inf
        self._ingestion = (now, waited)  # when the last refresh began, and the connection's waiting then
        self._drawing = 0.0  # CPU seconds the last refresh took

    def allows(self, now: float) -> bool:
        """Earn the credit since the last call (keeping at most :data:`CREDIT`); whether a frame
        may be drawn at ``now``: not sooner than :meth:`spent` allows, and no debt."""
        self.credit = min(CREDIT, self.credit + (now - self._credited_at) * self.share)
        self._credited_at = now
        return now >= self._next_at and self.credit >= 0

    def spent(self, now: float, cost: float, waited: float, *, laid_out: bool = False) -> None:
        """A refresh began at ``now`` and took ``cost`` CPU seconds (``laid_out``: its frame laid
        the figure out); ``waited`` is the seconds the connection thread has waited for data so
        far. The next frame may come ``1 / max_fps`` after this one began.

        The cost is charged to the credit (down to -:data:`DEBT`), except for the first
        :data:`FIRST_LAYOUTS` layouts. Ingestion was calm if the connection thread waited more
        than :data:`CALM_WAITING` of the time since the last refresh began, that refresh's own
        drawing left out (while the chart holds the GIL the thread cannot wait for data, even on
        a calm feed)."""
        self.layouts += laid_out
        if not (laid_out and self.layouts <= FIRST_LAYOUTS):
            self.credit = max(self.credit - cost, -DEBT)
        then, before = self._ingestion
        self._ingestion = (now, waited)
        span = now - then - self._drawing
        self.calm = span > 0 and (waited - before) / span > CALM_WAITING
        self.share = max(self.draw_share, CALM_SHARE) if self.calm else self.draw_share
        self._drawing = cost
        self._next_at = now + 1 / self.max_fps
