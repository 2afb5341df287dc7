"""Every connection timer with a fake clock: the time is a number the test passes in, so each
deadline is checked to the exact instant, with no socket and no sleep."""

from __future__ import annotations

import pytest

from nexusdata.protocol.deadlines import CLOSE_TIMEOUT, TICK, Action, Deadlines

HOUSEKEEPING, PING, PROBE, STALLED, CLOSE_TIMED_OUT = (
    Action.HOUSEKEEPING,
    Action.PING,
    Action.PROBE,
    Action.STALLED,
    Action.CLOSE_TIMED_OUT,
)
T0 = 1000.0  # the connection's start on the fake monotonic clock


def deadlines(ping: float = 30.0, stall: float = 10.0, pong: float = 5.0) -> Deadlines:
    return Deadlines(T0, ping_interval=ping, stall_timeout=stall, pong_timeout=pong)


def quiet_socket(d: Deadlines, until: float, frames_at: tuple[float, ...] = ()) -> list[tuple[float, Action]]:
    """What a transport over a socket that brings frames only at ``frames_at`` does for
    ``until`` seconds: each read blocks for :meth:`Deadlines.timeout` (or returns at the next
    frame), then the due actions are taken. Returns them with their times since the start;
    stops at one that ends the connection."""
    now, taken = T0, []
    arrivals = sorted(frames_at)
    for _ in range(10_000):  # far more reads than any test needs
        wake = now + d.timeout(now)
        if arrivals and arrivals[0] <= wake:
            now = arrivals.pop(0)
            d.on_frame(now)
        else:
            now = wake
        if now - T0 > until:
            return taken
        for action in d.due(now):
            taken.append((round(now - T0, 6), action))
            if action in (STALLED, CLOSE_TIMED_OUT):
                return taken
    raise AssertionError("the loop did not reach its end")


def test_nothing_is_due_at_the_start_and_the_first_wait_is_a_tick() -> None:
    d = deadlines()
    assert d.due(T0) == []
    assert d.timeout(T0) == pytest.approx(TICK)
    assert not d.closing


def test_housekeeping_every_tick_while_quiet() -> None:
    d = deadlines()
    assert d.due(T0 + TICK - 1e-9) == []
    assert d.due(T0 + TICK) == [HOUSEKEEPING]
    assert d.due(T0 + TICK) == []  # moved on: not twice for one tick
    assert d.timeout(T0 + TICK) == pytest.approx(TICK)
    assert d.due(T0 + 2.5 * TICK) == [HOUSEKEEPING]  # late: the next one a tick after it ran
    assert d.timeout(T0 + 2.5 * TICK) == pytest.approx(TICK)


def test_housekeeping_also_while_frames_flow() -> None:
    d = deadlines()
    d.on_frame(T0 + 0.1)
    d.on_frame(T0 + TICK)
    assert d.due(T0 + TICK) == [HOUSEKEEPING]


def test_application_ping_every_interval_even_while_frames_flow() -> None:
    d = deadlines(ping=3.0, stall=100.0)
    pings = []
    for step in range(1, 101):  # a frame every 0.1 s for 10 s, then due() as the transport does
        now = T0 + step / 10
        d.on_frame(now)
        if PING in d.due(now):
            pings.append(round(now - T0, 6))
    assert pings == [3.0, 6.0, 9.0]


def test_the_wait_ends_at_the_ping_when_it_comes_before_the_tick() -> None:
    d = deadlines(ping=0.05)
    assert d.timeout(T0) == pytest.approx(0.05)
    assert d.due(T0 + 0.05) == [PING]


def test_a_quiet_connection_is_probed_after_the_stall_timeout_then_declared_stalled() -> None:
    d = deadlines(ping=100.0, stall=1.0, pong=0.5)
    taken = [(t, a) for t, a in quiet_socket(d, until=10.0) if a is not HOUSEKEEPING]
    assert taken == [(1.0, PROBE), (1.5, STALLED)]
    assert d.silent_for(T0 + 1.5) == pytest.approx(1.5)


def test_probe_not_before_the_stall_timeout() -> None:
    d = deadlines(stall=1.0)
    assert PROBE not in d.due(T0 + 1.0 - 1e-9)
    assert PROBE in d.due(T0 + 1.0)
    assert PROBE not in d.due(T0 + 1.1)  # one probe at a time


def test_frames_postpone_the_probe() -> None:
    d = deadlines(ping=100.0, stall=1.0, pong=0.5)
    taken = [(t, a) for t, a in quiet_socket(d, until=10.0, frames_at=(T0 + 0.7, T0 + 1.6)) if a is not HOUSEKEEPING]
    assert taken == [(2.6, PROBE), (3.1, STALLED)]  # a stall timeout after the last frame
    assert d.silent_for(T0 + 3.1) == pytest.approx(1.5)


def test_any_frame_answers_the_probe() -> None:
    d = deadlines(ping=100.0, stall=1.0, pong=0.5)
    taken = [(t, a) for t, a in quiet_socket(d, until=3.0, frames_at=(T0 + 1.3,)) if a is not HOUSEKEEPING]
    assert taken == [(1.0, PROBE), (2.3, PROBE), (2.8, STALLED)]  # answered at 1.3, probed again a stall timeout later


def test_stalled_not_before_the_pong_timeout_and_then_on_every_call() -> None:
    d = deadlines(stall=1.0, pong=0.5)
    assert PROBE in d.due(T0 + 1.0)
    assert STALLED not in d.due(T0 + 1.5 - 1e-9)
    assert STALLED in d.due(T0 + 1.5)
    assert STALLED in d.due(T0 + 1.6)  # it ends the connection: it stays due


def test_everything_due_at_once_comes_in_order() -> None:
    d = deadlines(ping=1.0, stall=1.0)
    assert d.due(T0 + 1.0) == [HOUSEKEEPING, PING, PROBE]


def test_the_wait_is_zero_when_something_is_due_and_never_over_a_tick() -> None:
    d = deadlines(ping=0.7, stall=0.9, pong=0.3)
    assert d.timeout(T0 + 5.0) == 0.0  # a late transport: wake at once
    now = T0
    for _ in range(100):
        d.due(now)
        wait = d.timeout(now)
        assert 0 < wait <= TICK + 1e-12
        now += wait
        if now > T0 + 2:
            break
        d.on_frame(now)


def test_the_wait_ends_at_the_probe_and_then_at_the_pong_timeout() -> None:
    d = deadlines(ping=100.0, stall=0.25, pong=0.05)
    d.due(T0 + 0.2)
    assert d.timeout(T0 + 0.2) == pytest.approx(0.05)  # the probe is nearer than the next tick
    assert d.due(T0 + 0.25) == [PROBE]
    assert d.timeout(T0 + 0.25) == pytest.approx(0.05)  # then the pong timeout
    assert d.due(T0 + 0.3) == [STALLED]


def test_closing_counts_only_the_close_deadline() -> None:
    d = deadlines(ping=0.5, stall=0.5, pong=0.5)
    d.begin_close(T0 + 1.0)
    assert d.closing
    assert d.due(T0 + 1.0) == []  # no housekeeping, ping or probe while closing
    assert d.timeout(T0 + 1.0) == pytest.approx(CLOSE_TIMEOUT)
    assert d.due(T0 + 1.0 + CLOSE_TIMEOUT - 1e-9) == []
    assert d.timeout(T0 + 2.5) == pytest.approx(CLOSE_TIMEOUT - 1.5)
    assert d.due(T0 + 1.0 + CLOSE_TIMEOUT) == [CLOSE_TIMED_OUT]
    assert d.timeout(T0 + 1.0 + CLOSE_TIMEOUT + 1) == 0.0


def test_a_quiet_close_times_out_after_the_close_timeout() -> None:
    d = Deadlines(T0, ping_interval=30.0, stall_timeout=10.0, pong_timeout=5.0, close_timeout=0.75)
    d.begin_close(T0)
    assert quiet_socket(d, until=10.0) == [(0.75, CLOSE_TIMED_OUT)]


def test_a_custom_tick() -> None:
    d = Deadlines(T0, ping_interval=30.0, stall_timeout=10.0, pong_timeout=5.0, tick=1.5)
    assert [t for t, a in quiet_socket(d, until=5.0) if a is HOUSEKEEPING] == [1.5, 3.0, 4.5]
