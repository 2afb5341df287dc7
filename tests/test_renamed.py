"""Former names still work, with a DeprecationWarning (or a note on the command line), so that no
user's code breaks: ``service`` was ``feed`` in ``nd.check``, ``kind`` was ``feed`` in ``record``,
``read_recording``, ``compact``, ``RecordingSummary`` and the commands ``read`` and ``compact``."""

from __future__ import annotations

from pathlib import Path

import pytest

import nexusdata as nd
from nexusdata.cli import EXIT_OK, main
from nexusdata.sim import Simulator


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("renamed")
    with Simulator(seed=5, rate=50) as sim, pytest.warns(DeprecationWarning, match="feed= is deprecated: use kind="):
        summary = nd.record(
            out, feed="orders", max_messages=3, progress=False, **sim.nexus
        )  # no keys: the only call feed= could make
    with pytest.warns(DeprecationWarning, match=r"RecordingSummary.feed is deprecated"):
        assert summary.feed == summary.kind == "orders"
    return out


def test_record_read_and_compact_take_feed_as_kind(recording: Path) -> None:
    with pytest.warns(DeprecationWarning, match="feed= is deprecated: use kind="):
        former = nd.read_recording(recording, feed="orders")
    assert former.equals(nd.read_recording(recording, "orders")) and len(former)
    with pytest.warns(DeprecationWarning, match="feed= is deprecated: use kind="):
        assert nd.compact(recording, feed="orders", idle=0).closed == 0  # today's partition is not closed


def test_check_takes_feed_as_service() -> None:
    with Simulator(seed=5) as sim, pytest.warns(DeprecationWarning, match="feed= is deprecated: use service="):
        transcript = nd.check(feed="nexus", pushes=1, **sim.nexus)
    assert transcript.attrs["nexusdata"]["passed"]


def test_both_names_at_once_is_a_bad_argument(recording: Path) -> None:
    with pytest.raises(nd.ArgumentError, match="kind and feed are one argument"):
        nd.read_recording(recording, "orders", feed="orders")
    with pytest.raises(nd.ArgumentError, match="service and feed are one argument"):
        nd.check("nexus", feed="nexus", url="ws://127.0.0.1:9", token="t")


def test_the_commands_take_feed_as_kind(recording: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["read", str(recording), "--feed", "orders"]) == EXIT_OK
    captured = capsys.readouterr()
    assert "--feed is deprecated: use --kind" in captured.err and "rows x" in captured.out
