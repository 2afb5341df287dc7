"""The ``nexusdata`` command line: help with examples everywhere, ``record`` and ``read`` end to
end against the simulator, and the documented exit statuses."""

from __future__ import annotations

import shlex
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from test_check import closed_port
from waiting import wait_until

import nexusdata as nd
from nexusdata.cli import (
    EXIT_CREDENTIALS,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    main,
)
from nexusdata.config import ENV
from nexusdata.sim import Simulator

COMMANDS = (
    [],
    ["demo"],
    ["sim"],
    ["check"],
    ["check", "nexus"],
    ["check", "chainext"],
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
    code = main(
        [
            "record",
            "depth",
            "BTCUSDT",
            "ETHUSDT",
            "--sim",
            "--sim-rate",
            "100",
            "--max-messages",
            "20",
            "--flush-seconds",
            "0.2",
            "--out",
            str(out),
            "--log-level",
            "INFO",
        ]
    )
    assert code == EXIT_OK
    assert "recorded 20 pushes (200 rows) of depth" in capsys.readouterr().out
    assert main(["read", str(out)]) == EXIT_OK
    summary = capsys.readouterr().out
    assert "BTCUSDT" in summary and "ETHUSDT" in summary and "pushes" in summary
    assert main(["read", str(out), "--kind", "depth", "--symbol", "ETHUSDT"]) == EXIT_OK
    glimpse = capsys.readouterr().out
    assert "symbol:category" in glimpse and "ETHUSDT" in glimpse and "BTCUSDT" not in glimpse
    csv = tmp_path / "depth.csv"
    assert main(["read", str(out), "--kind", "depth", "--csv", str(csv)]) == EXIT_OK
    exported = pd.read_csv(csv)
    recorded = nd.read_recording(out, "depth")
    assert list(exported.columns) == list(recorded.columns) and len(exported) == len(recorded) == 200
    assert exported["price"].tolist() == recorded["price"].tolist()


def test_credentials_from_the_environment(
    sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NEXUSDATA_CHAINEXT_URL", sim.chainext_url)
    monkeypatch.setenv("NEXUSDATA_CHAINEXT_API_KEY", sim.api_key)
    monkeypatch.setenv("NEXUSDATA_CHAINEXT_API_SECRET", sim.api_secret)
    assert main(["record", "index", "coin_index", "0", "1", "--max-messages", "6", "--out", str(tmp_path)]) == EXIT_OK
    assert "recorded 6 pushes" in capsys.readouterr().out
    assert sorted(nd.read_recording(tmp_path, "coin_index")["cid"].unique()) == ["0", "1"]


@pytest.mark.parametrize(
    "argv, code, words",
    [
        (["record", "index", "coin_index", "999", "--sim"], EXIT_ERROR, ["3007", "coin absent"]),
    ],
)  # the usage errors (exit status 2) are in test_bad_input.py
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


def test_sigterm_writes_what_arrived_and_exits_130(tmp_path: Path) -> None:
    """A recorder stopped by SIGTERM (kill, a service manager) flushes before exiting: the rows
    it reports are all in the dataset, although no flush interval had passed since the last file."""
    out = tmp_path / "rec"
    command = [
        sys.executable,
        "-m",
        "nexusdata.cli",
        "record",
        "depth",
        "BTCUSDT",
        "--sim",
        "--sim-rate",
        "200",
        "--flush-rows",
        "50",
        "--flush-seconds",
        "3600",
        "--out",
        str(out),
    ]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # No event crosses the process boundary: poll the directory, bounded.
        wait_until(lambda: any(out.rglob("*.parquet")) or proc.poll() is not None, timeout=60, interval=0.05)
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == EXIT_INTERRUPTED, stderr
    assert "(interrupted)" in stdout
    rows = int(stdout.split(" rows)")[0].rsplit("(", 1)[1])
    assert rows > 50 and len(nd.read_recording(out, "depth")) == rows


def wait_for_file(path: Path, proc: subprocess.Popen[str], seconds: float = 60) -> None:
    """Wait until ``path`` exists or ``proc`` ended, bounded (no event crosses the process
    boundary: poll)."""
    wait_until(lambda: path.exists() or proc.poll() is not None, timeout=seconds, interval=0.05)
    assert path.exists(), proc.communicate(timeout=30)


def env_of(path: Path) -> dict[str, str]:
    """The variables an ``--env-file`` exports."""
    return dict(word.split("=", 1) for line in path.read_text().splitlines() for word in shlex.split(line)[1:])


SIM_RECIPE = """
nexusdata sim --env-file sim.env --quirks pretty --symbols ETHUSDT > sim.out &
sim=$!
for i in $(seq 300); do [ -f sim.env ] && break; sleep 0.1; done
. ./sim.env
nexusdata check nexus --symbol ETHUSDT --pushes 2; echo "check ETHUSDT: $?"
nexusdata check nexus --symbol BTCUSDT; echo "check BTCUSDT: $?"
kill -TERM $sim; wait $sim; echo "sim: $?"
[ -e sim.env ] && echo "sim.env left behind" || echo "sim.env removed"
"""
"""docs/cli.md's recipe (with a longer bound for a loaded machine) and the flags it shapes the
simulator with: a background simulator, its variables sourced once it listens, SIGTERM."""


def test_sim_env_file_recipe_serves_its_quirks_and_symbols_then_exits_130(tmp_path: Path) -> None:
    done = subprocess.run(["bash", "-c", SIM_RECIPE], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    out = done.stdout
    assert "check ETHUSDT: 0" in out and "check BTCUSDT: 1" in out, out + done.stderr
    assert "sim: 130" in out and "sim.env removed" in out, out
    assert "token from NEXUSDATA_NEXUS_TOKEN" in out  # the credentials came from the sourced file
    assert '"status": "OK"' in out  # the pretty quirk: the subscribe reply is indented JSON
    assert "refused the subscription" in out and "BTCUSDT" in out
    assert "export NEXUSDATA_NEXUS_URL=" in (tmp_path / "sim.out").read_text()


def sim_process(*flags: str) -> subprocess.Popen[str]:
    """``nexusdata sim`` in a child process that honours Ctrl-C (SIGINT), as from a terminal even
    when the tests run as a background job (which starts children with SIGINT ignored)."""
    return subprocess.Popen(
        [sys.executable, "-m", "nexusdata.cli", "sim", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


@pytest.mark.parametrize("stop, status", [(signal.SIGINT, EXIT_INTERRUPTED), (None, EXIT_OK)], ids=["ctrl_c", "seconds"])
def test_sim_exit_statuses_and_env_file_lifetime(tmp_path: Path, stop: signal.Signals | None, status: int) -> None:
    env_file = tmp_path / "sim.env"
    proc = sim_process("--env-file", str(env_file), *(() if stop else ("--seconds", "1")))
    try:
        wait_for_file(env_file, proc)
        assert (
            set(env_of(env_file)) == {v for names in ENV.values() for v in names.values()}
            and oct(env_file.stat().st_mode & 0o777) == "0o600"
        )
        if stop is not None:
            proc.send_signal(stop)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == status, stderr
    assert not env_file.exists() and "serving" in stdout


def test_sim_replays_a_trace_and_exits_130_on_sigterm(sim: Simulator, tmp_path: Path) -> None:
    trace, env_file = tmp_path / "trace.jsonl", tmp_path / "sim.env"
    assert nd.check("nexus", trace=trace, pushes=3, **sim.nexus).attrs["nexusdata"]["passed"]
    proc = sim_process("--replay-trace", str(trace), "--env-file", str(env_file))
    try:
        wait_for_file(env_file, proc)
        env = env_of(env_file)
        again = nd.check("nexus", pushes=3, url=env["NEXUSDATA_NEXUS_URL"], token="anything")
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert again.attrs["nexusdata"]["passed"], nd.format_transcript(again)
    assert proc.returncode == EXIT_INTERRUPTED and f"serving the trace {trace} (nexus)" in stdout, stderr


def listening_port() -> tuple[socket.socket, int]:
    """A loopback socket listening on a port, so that another server cannot."""
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    return taken, int(taken.getsockname()[1])


@pytest.mark.parametrize(
    "port, status, words", [("taken", EXIT_ERROR, "address already in use")]
)  # a bad --port: test_bad_input.py
def test_sim_bad_port_is_a_one_line_error(port: str, status: int, words: str, capsys: pytest.CaptureFixture[str]) -> None:
    taken, free = listening_port()
    with taken:
        assert main(["sim", "--port", str(free) if port == "taken" else port, "--seconds", "1"]) == status
    err = capsys.readouterr().err
    assert err.startswith("nexusdata: error: ") and words in err and err.count("\n") == 1, err


def test_record_that_never_connected_exits_1_with_the_cause(tmp_path: Path) -> None:
    out = tmp_path / "rec"
    command = [
        "nexusdata",
        "record",
        "depth",
        "BTCUSDT",
        "--url",
        f"ws://127.0.0.1:{closed_port()}",
        "--token",
        "x-token",
        "--seconds",
        "3",
        "--out",
        str(out),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == EXIT_ERROR, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("nexusdata: error: could not connect") and "connection refused" in last
    assert "x-token" not in done.stderr and not list(out.rglob("*.parquet"))


def test_record_with_refused_subscriptions_exits_1_and_keeps_the_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["record", "index", "coin_index", "1", "999", "--sim", "--sim-rate", "50", "--max-messages", "3", "--out", str(tmp_path)]
    )
    assert code == EXIT_ERROR
    said = capsys.readouterr()
    assert "recorded 3 pushes" in said.out and "refused: ChaiNext refused subscribe coin_index 999: 3007" in said.out
    assert said.err.startswith("nexusdata: error: the server refused 1 subscription(s)")
    assert list(nd.read_recording(tmp_path, "coin_index")["cid"].unique()) == ["1"]


@pytest.mark.parametrize("extra", [[], ["--csv", "{tmp}/out.csv"]], ids=["glimpse", "csv"])
def test_read_matching_nothing_exits_1_and_says_what_is_there(
    tmp_path: Path, extra: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    rec = tmp_path / "rec"
    assert main(["record", "depth", "BTCUSDT", "--sim", "--sim-rate", "50", "--max-messages", "2", "--out", str(rec)]) == EXIT_OK
    capsys.readouterr()
    argv = ["read", str(rec), "--symbol", "NOSUCH", *(a.replace("{tmp}", str(tmp_path)) for a in extra)]
    assert main(argv) == EXIT_ERROR
    said = capsys.readouterr()
    assert said.out == "" and not (tmp_path / "out.csv").exists()
    assert said.err.startswith("nexusdata: error: no rows match --symbol NOSUCH; the recording holds depth BTCUSDT: 20 rows")


def test_an_order_view_is_recorded_and_read_with_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rec"
    code = main(["record", "orders", "--rows", "executions", "--sim", "--sim-rate", "50", "--max-messages", "3",
                 "--out", str(out), "--no-progress"])  # fmt: skip
    assert code == EXIT_OK and (out / "feed=executions").is_dir()
    capsys.readouterr()
    assert main(["read", str(out), "--kind", "orders", "--rows", "executions"]) == EXIT_OK
    said = capsys.readouterr().out
    assert "rows x" in said and "execute_volume" in said
    assert main(["read", str(out), "--kind", "orders", "--rows", "cp_orders"]) == EXIT_USAGE  # not recorded: says what is
    assert "recorded kinds (executions), got 'cp_orders'" in capsys.readouterr().err
