"""The ``nexusdata`` command line: help with examples everywhere, ``record`` and ``read`` end to
end against the simulator, and the documented exit statuses."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import nexusdata as nd
from nexusdata.cli import EXIT_CREDENTIALS, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, main
from nexusdata.sim import Simulator

COMMANDS = (
    [],
    ["demo"],
    ["sim"],
    ["record"],
    ["record", "depth"],
    ["record", "orders"],
    ["record", "risk"],
    ["record", "index"],
    ["read"],
)


def test_version_from_the_console_script() -> None:
    done = subprocess.run(["nexusdata", "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == f"nexusdata {nd.__version__}"


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "nexusdata")
def test_help_on_every_command_has_examples_and_exit_statuses(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main([*command, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "nexusdata " + " ".join(command) in out.split("examples:")[1]
    assert "3 credentials refused" in out and "130 interrupted" in out
    assert "--log-level" in out


def test_record_then_read_summary_and_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rec"
    code = main(["record", "depth", "BTCUSDT", "ETHUSDT", "--sim", "--sim-rate", "100", "--max-messages", "20",
                 "--flush-seconds", "0.2", "--out", str(out), "--log-level", "INFO"])
    assert code == EXIT_OK
    assert "recorded 20 pushes (200 rows) of depth" in capsys.readouterr().out
    assert main(["read", str(out)]) == EXIT_OK
    summary = capsys.readouterr().out
    assert "BTCUSDT" in summary and "ETHUSDT" in summary and "pushes" in summary
    assert main(["read", str(out), "--feed", "depth", "--symbol", "ETHUSDT"]) == EXIT_OK
    glimpse = capsys.readouterr().out
    assert "symbol:category" in glimpse and "ETHUSDT" in glimpse and "BTCUSDT" not in glimpse
    csv = tmp_path / "depth.csv"
    assert main(["read", str(out), "--feed", "depth", "--csv", str(csv)]) == EXIT_OK
    exported = pd.read_csv(csv)
    recorded = nd.read_recording(out, "depth")
    assert list(exported.columns) == list(recorded.columns) and len(exported) == len(recorded) == 200
    assert exported["price"].tolist() == recorded["price"].tolist()


def test_credentials_from_the_environment(sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("NEXUSDATA_CHAINEXT_URL", sim.chainext_url)
    monkeypatch.setenv("NEXUSDATA_CHAINEXT_API_KEY", sim.api_key)
    monkeypatch.setenv("NEXUSDATA_CHAINEXT_API_SECRET", sim.api_secret)
    assert main(["record", "index", "coin_index", "0", "1", "--max-messages", "6", "--out", str(tmp_path)]) == EXIT_OK
    assert "recorded 6 pushes" in capsys.readouterr().out
    assert sorted(nd.read_recording(tmp_path, "coin_index")["cid"].unique()) == ["0", "1"]


@pytest.mark.parametrize(
    "argv, code, words",
    [
        (["record", "depth", "BTCUSDT", "--seconds", "-1"], EXIT_USAGE, ["seconds"]),
        (["record", "risk", "BTCUSDT", "--sim"], EXIT_USAGE, ["SYMBOL BOOK"]),
        (["record", "depth", "BTCUSDT"], EXIT_USAGE, ["NEXUSDATA_NEXUS_URL"]),
        (["record", "depth", "BTCUSDT", "--sim", "--token", "t"], EXIT_USAGE, ["--sim", "--token"]),
        (["record", "index", "coin_index", "999", "--sim"], EXIT_ERROR, ["3007", "coin absent"]),
        (["read", "{tmp}", "--symbol", "BTCUSDT"], EXIT_USAGE, ["feed must be given", "depth, orders"]),
        (["read", "{tmp}/feed=depth"], EXIT_USAGE, ["nothing recorded"]),
        (["read", "{tmp}/nowhere"], EXIT_USAGE, ["no directory"]),
        (["sim", "--replay", "{tmp}/feed=depth"], EXIT_USAGE, ["nothing recorded"]),
    ],
)
def test_exit_statuses(argv: list[str], code: int, words: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "feed=depth").mkdir()
    (tmp_path / "feed=orders").mkdir()
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    if argv[0] == "record":
        argv += ["--out", str(tmp_path / "rec"), "--max-messages", "1"]
    assert main(argv) == code
    err = capsys.readouterr().err
    assert err.startswith("nexusdata: error: ") and all(w in err for w in words), err


def test_refused_credentials_exit_3(sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["record", "depth", "BTCUSDT", "--url", sim.nexus_url, "--token", "wrong-token", "--out", str(tmp_path)])
    assert code == EXIT_CREDENTIALS
    err = capsys.readouterr().err
    assert err.startswith("nexusdata: credentials refused: ") and "wrong-token" not in err


def test_usage_errors_exit_2_from_argparse(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["record", "index", "pair_index_v4", "1", "--out", "x"])
    assert done.value.code == EXIT_USAGE and "invalid choice" in capsys.readouterr().err


def test_sigterm_writes_what_arrived_and_exits_130(tmp_path: Path) -> None:
    """A recorder stopped by SIGTERM (kill, a service manager) flushes before exiting: the rows
    it reports are all in the dataset, although no flush interval had passed since the last file."""
    out = tmp_path / "rec"
    command = [sys.executable, "-m", "nexusdata.cli", "record", "depth", "BTCUSDT", "--sim", "--sim-rate", "200",
               "--flush-rows", "50", "--flush-seconds", "3600", "--out", str(out)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not any(out.rglob("*.parquet")) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # no event crosses the process boundary: poll the directory, bounded
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == EXIT_INTERRUPTED, stderr
    assert "(interrupted)" in stdout
    rows = int(stdout.split(" rows)")[0].rsplit("(", 1)[1])
    assert rows > 50 and len(nd.read_recording(out, "depth")) == rows
