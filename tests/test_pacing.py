"""A live chart's redraw pacing with a fake clock: the time, each refresh's CPU seconds and the
connection thread's waiting are numbers the test passes in, so the frame rate cap, the credit,
its cap and debt limit, the free first layouts and the calm share are checked exactly, with no
chart, no feed and no sleep."""

from __future__ import annotations

import pytest

from nexusdata.pacing import CALM_SHARE, CALM_WAITING, CREDIT, DEBT, FIRST_LAYOUTS, Pacing

T0 = 1000.0  # the chart's creation on the fake monotonic clock
SHARE = 0.05


def pacing(max_fps: float = 20.0, share: float = SHARE) -> Pacing:
    return Pacing(T0, 0.0, max_fps=max_fps, draw_share=share)


def busy(p: Pacing, at: float, cost: float, *, laid_out: bool = False) -> None:
    """A refresh at ``at`` costing ``cost`` while the connection thread never waited (a flood)."""
    p.spent(at, cost, 0.0, laid_out=laid_out)


def test_the_first_frame_is_allowed_at_once_then_at_most_max_fps() -> None:
    p = pacing(max_fps=20.0)
    assert p.allows(T0)
    busy(p, T0, 0.0)
    assert not p.allows(T0 + 0.049)
    assert p.allows(T0 + 0.05)


def test_a_frame_is_paid_for_at_the_share_before_the_next() -> None:
    p = pacing()
    assert p.allows(T0)
    busy(p, T0, 0.02)  # owes 0.02 s of drawing: earned back at 0.05 s a second, in 0.4 s
    assert p.credit == pytest.approx(-0.02)
    assert not p.allows(T0 + 0.39)
    assert p.allows(T0 + 0.401)


def test_credit_saved_while_idle_is_capped() -> None:
    p = pacing()
    assert p.allows(T0 + 3600)  # an hour with nothing to draw saves CREDIT, no more
    assert p.credit == CREDIT
    busy(p, T0 + 3600, CREDIT * 0.75)  # a frame within the credit: the next comes at max_fps
    assert p.allows(T0 + 3600.05)
    busy(p, T0 + 3600.05, CREDIT)  # the credit spent: now it waits
    assert not p.allows(T0 + 3600.1)


def test_a_debt_stops_at_its_limit() -> None:
    p = pacing()
    assert p.allows(T0)
    busy(p, T0, 0.4)  # a full draw of 0.4 s owes DEBT, not 0.4 s
    assert p.credit == -DEBT
    wait = DEBT / SHARE
    assert not p.allows(T0 + wait - 0.01)
    assert p.allows(T0 + wait + 0.01)


def test_the_first_layouts_are_free_and_later_ones_charged() -> None:
    p = pacing()
    for i in range(FIRST_LAYOUTS):
        assert p.allows(T0 + i)
        busy(p, T0 + i, 0.3, laid_out=True)
        assert p.credit >= 0
    assert p.layouts == FIRST_LAYOUTS
    later = T0 + FIRST_LAYOUTS
    assert p.allows(later)
    busy(p, later, 0.3, laid_out=True)
    assert p.credit == -DEBT and p.layouts == FIRST_LAYOUTS + 1
    assert p.allows(later + 10)
    busy(p, later + 10, 0.03)  # a frame without a layout is charged too
    assert p.credit == pytest.approx(CREDIT - 0.03)


def test_a_calm_connection_raises_the_share_and_a_busy_one_lowers_it() -> None:
    p = pacing()
    assert p.calm and p.share == SHARE  # calm until measured, at the chart's own share
    p.spent(T0 + 1.0, 0.1, 0.8)  # the thread waited 0.8 of 1 s: calm
    assert p.calm and p.share == CALM_SHARE
    p.spent(T0 + 2.0, 0.1, 1.2)  # 0.4 of the 0.9 s outside the last refresh's drawing: busy
    assert not p.calm and p.share == SHARE
    # the last refresh's 0.1 s of drawing is left out: 0.46 s of waiting in 0.9 s is calm
    p.spent(T0 + 3.0, 0.0, 1.2 + 0.46)
    assert 0.46 / 0.9 > CALM_WAITING and p.calm and p.share == CALM_SHARE


def test_a_share_above_the_calm_one_is_kept_when_calm() -> None:
    p = pacing(share=0.5)
    p.spent(T0 + 1.0, 0.0, 1.0)
    assert p.calm and p.share == 0.5


def test_credit_is_earned_at_the_share_in_force() -> None:
    p = pacing()
    assert p.allows(T0)
    busy(p, T0, 0.1)  # owes DEBT
    assert not p.allows(T0 + 1.0)
    assert p.credit == pytest.approx(-DEBT + 1.0 * SHARE)
    p.spent(T0 + 1.0, 0.0, 0.9)  # a forced refresh finds the thread waited 0.9 of 0.9 s: calm
    assert p.share == CALM_SHARE
    assert not p.allows(T0 + 1.1)
    assert p.credit == pytest.approx(-DEBT + 1.0 * SHARE + 0.1 * CALM_SHARE)


@pytest.mark.parametrize("cost", [0.005, 0.02, 0.08])
def test_over_a_long_run_drawing_takes_the_share_at_most(cost: float) -> None:
    """A busy feed's chart asked to redraw every 1/20 s for 100 s, each frame costing ``cost``:
    the time spent drawing is the share (but for the last frame's debt), and the frames are as
    many as the share pays for, or max_fps allows."""
    p = pacing()
    now, frames = T0, 0
    for step in range(2000):
        now = T0 + step / 20
        if p.allows(now):
            busy(p, now, cost)
            frames += 1
    seconds = now - T0
    assert frames * cost <= SHARE * seconds + cost
    assert frames >= min(SHARE * seconds / cost, 20 * seconds) * 0.9
