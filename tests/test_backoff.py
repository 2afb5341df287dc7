"""Reconnect delays (capped, jittered exponential backoff) and giving up after ``max_failures``
consecutive failed attempts with a clear :class:`~nexusdata.ConnectionFailedError`."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pandas as pd
import pytest

import nexusdata as nd
from nexusdata.sim import Simulator
from nexusdata.sim.faults import Faults
from nexusdata.transport import Backoff

pytestmark = pytest.mark.timeout(30)


@pytest.mark.parametrize("base, cap", [(0.5, 30.0), (0.05, 0.2), (1.0, 1.0), (2.0, 1.0)])
def test_delays_grow_double_cap_and_jitter(base: float, cap: float) -> None:
    backoff = Backoff(base, cap, random.Random(1))
    for failures in range(1, 16):
        ceiling = min(cap, base * 2 ** (failures - 1))
        delays = [backoff.delay(failures) for _ in range(300)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays), (failures, min(delays), max(delays))
        assert max(delays) - min(delays) > ceiling / 4  # jittered: clients dropped together spread out
    assert backoff.delay(10**6) <= cap  # no overflow after a very long outage
    assert backoff.delay(0) <= base  # never waits longer before a first retry than after it


def test_default_jitter_differs_between_clients() -> None:
    assert len({Backoff(0.5, 30).delay(3) for _ in range(20)}) > 1


@pytest.fixture
def closed_port() -> Iterator[str]:
    """A loopback URL where nothing listens (a simulator's port, just released)."""
    with Simulator() as sim:
        url = sim.nexus_url
    yield url


def test_gives_up_after_max_failures(closed_port: str, no_thread_leak: None) -> None:
    with pytest.raises(nd.ConnectionFailedError) as failed:
        nd.stream_depth("BTCUSDT", seconds=30, url=closed_port, token="secret-token", max_failures=5,
                        backoff_base=0.05, backoff_cap=0.2)  # fmt: skip
    error = failed.value
    assert "after 5 consecutive failed attempts" in str(error) and "connection refused: nothing listens on" in str(error)
    assert "secret-token" not in str(error) and "X-API-TOKEN=***" in str(error)
    assert isinstance(error, ConnectionError) and isinstance(error, nd.NexusDataError)
    assert isinstance(error.frame, pd.DataFrame) and error.frame.empty and "price" in error.frame.columns
    gaps = nd.gap_log(error)
    assert list(gaps["event"]) == ["connect_failed"] * 5
    waited = gaps["time"].diff().dt.total_seconds().iloc[1:].tolist()
    floors = [min(0.2, 0.05 * 2 ** (n - 1)) / 2 for n in range(1, 5)]  # each wait is at least half its ceiling
    assert all(w >= f - 0.002 for w, f in zip(waited, floors)), (waited, floors)


def test_an_upgrade_refused_for_a_wrong_path_is_not_retried(no_thread_leak: None) -> None:
    with Simulator() as sim:
        with pytest.raises(nd.ConnectionFailedError) as failed:
            nd.stream_depth("BTCUSDT", seconds=30, url=f"ws://127.0.0.1:{sim.port}/elsewhere", token=sim.token,
                            max_failures=3, backoff_base=0.05)  # fmt: skip
    assert "404" in str(failed.value) and len(nd.gap_log(failed.value)) == 1


def test_max_failures_none_never_gives_up(closed_port: str, no_thread_leak: None) -> None:
    with pytest.raises(nd.ConnectionFailedError) as failed:  # it never connected: that is said at the end
        nd.stream_depth("BTCUSDT", seconds=1.0, url=closed_port, token="t", max_failures=None,
                        backoff_base=0.05, backoff_cap=0.1)  # fmt: skip
    gaps = nd.gap_log(failed.value)
    assert failed.value.frame.empty and (gaps["event"] == "connect_failed").sum() >= 5
    assert "could not connect" in str(failed.value) and "connection refused" in str(failed.value)


def test_a_connection_that_delivered_resets_the_count(no_thread_leak: None) -> None:
    """Dropped after every 5 pushes, yet never 2 failures in a row: each connection delivered."""
    with Simulator(rate=50, faults=Faults(drop_after=5)) as sim:
        df = nd.stream_depth("BTCUSDT", seconds=1.5, max_failures=2, backoff_base=0.05, **sim.nexus)
    assert df.attrs["nexusdata"]["reconnects"] >= 3 and df["connection"].nunique() >= 4
