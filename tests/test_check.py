"""``nd.check`` and ``nexusdata check``: a passing transcript against the simulator, one table of
failures each with its exit status and hint (rendered for docs/errors.md by running this file),
and ``--trace`` files that hold no secret and play back as the same check."""

from __future__ import annotations

import io
import re
import socket
import ssl
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from ipaddress import ip_address
from pathlib import Path
from typing import NamedTuple

import orjson
import pytest
from cryptography import x509
from proxy_servers import FORBIDDEN, HttpProxy, http_proxy
from test_tls import self_signed

import nexusdata as nd
from nexusdata.cli import EXIT_CREDENTIALS, EXIT_ERROR, EXIT_OK, main
from nexusdata.contact import STEPS
from nexusdata.protocol import chainext
from nexusdata.sim import QUIRKS, Simulator

pytestmark = pytest.mark.timeout(60)

FEEDS = ("nexus", "chainext")
QUICK = {"seconds": 5.0, "pushes": 3}
WRONG_TOKEN, WRONG_SECRET = "wrong-token-4f1c", "wrong-secret-9d2e"
PROXY_LOGIN, WRONG_PROXY_PASSWORD = "analyst:proxy-secret-77a1", "wrong-proxy-secret-5e0b"


class Servers(NamedTuple):
    """What the failure cases connect to."""

    sim: Simulator  # a plain simulator of both feeds
    tls: Simulator  # wss:// with a self-signed certificate
    silent: Simulator  # accepts the subscription, then says nothing
    closed: int  # a port nothing listens on
    proxy: HttpProxy  # an HTTP proxy asking for PROXY_LOGIN

    def conn(self, feed: str) -> list[str]:
        """The plain simulator's credentials for ``feed`` as flags."""
        if feed == "nexus":
            return [f"--url={self.sim.nexus_url}", f"--token={self.sim.token}"]
        return [f"--url={self.sim.chainext_url}", f"--api-key={self.sim.api_key}", f"--api-secret={self.sim.api_secret}"]

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.sim.token, self.sim.api_secret, self.tls.token, WRONG_TOKEN, WRONG_SECRET, PROXY_LOGIN, WRONG_PROXY_PASSWORD)

    def proxy_url(self, password: str) -> str:
        """The proxy's URL with its user and ``password``."""
        return self.proxy.url.replace("://", f"://{PROXY_LOGIN.split(':')[0]}:{password}@")


def closed_port() -> int:
    """A loopback port nothing listens on (just released by the kernel)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def silent_trace(path: Path) -> Path:
    """A trace whose server takes the client's first frame and then says nothing."""
    lines = [
        {"t": 0.0, "connection": 1, "feed": "nexus", "dir": "event", "text": "connected: handshake complete"},
        {"t": 0.01, "connection": 1, "feed": "nexus", "dir": "sent", "text": "{}"},
    ]
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    return path


@contextmanager
def servers(directory: Path) -> Iterator[Servers]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*self_signed(directory, "loopback", x509.IPAddress(ip_address("127.0.0.1"))))
    with (
        Simulator(seed=5, rate=50) as sim,
        Simulator(seed=5, rate=50, ssl_context=context) as tls,
        Simulator(trace=silent_trace(directory / "silent.jsonl")) as silent,
        http_proxy(directory, PROXY_LOGIN) as proxy,
    ):
        yield Servers(sim, tls, silent, closed_port(), proxy)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    with servers(tmp_path_factory.mktemp("check")) as found:
        yield found


def run_cli(argv: list[str]) -> tuple[int, str]:
    """``nexusdata ARGV`` in this process: the exit status and everything it wrote."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        status = main(argv)
    return status, out.getvalue() + err.getvalue()


# -- passing --------------------------------------------------------------------------------------


def expected_steps(feed: str) -> list[str]:
    """The steps of a passing check of ``feed`` without a proxy."""
    return [s for s in STEPS if (s != "login" or feed == "chainext") and s != "proxy"]


@pytest.mark.parametrize("feed", FEEDS)
def test_check_passes_against_the_simulator(sim: Simulator, feed: str) -> None:
    df = nd.check(feed, **QUICK, **getattr(sim, feed))
    assert list(df.columns) == ["step", "ok", "detail", "hint"]
    assert list(df["step"]) == expected_steps(feed)
    assert not df["ok"].eq(False).any(), df.to_string()  # NA: information only
    assert df["ok"].iloc[-1] and (df["hint"] == "").all()
    attrs = df.attrs["nexusdata"]
    assert attrs["passed"] is True and attrs["error"] is None and attrs["messages"] == 3 and attrs["connection"] == 1
    text = nd.format_transcript(df)
    assert text.splitlines()[-1].startswith("✓ PASSED") and "3 of the 3 wanted" in text
    assert sim.token not in text and sim.api_secret not in text


@pytest.mark.parametrize("feed", FEEDS)
def test_check_passes_against_every_quirk_at_once(feed: str) -> None:
    with Simulator(seed=6, rate=50, quirks=list(QUIRKS)) as quirky:
        df = nd.check(feed, **QUICK, **getattr(quirky, feed))
    assert df.attrs["nexusdata"]["passed"], nd.format_transcript(df)
    assert df.attrs["nexusdata"]["malformed"] == 0


def test_nexusdata_check_with_sim_exits_0_and_traces(tmp_path: Path) -> None:
    trace = tmp_path / "trace.jsonl"
    done = subprocess.run(
        ["nexusdata", "check", "chainext", "--sim", "--pushes", "3", "--trace", str(trace)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == EXIT_OK, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1].startswith("✓ PASSED: chainext")
    steps = [line for line in lines if not line.startswith(" ")]  # hints are indented
    assert len(steps) == len(expected_steps("chainext"))
    assert all(line[2:].startswith(step) and line[0] in "✓·" for line, step in zip(steps[:-1], expected_steps("chainext")))
    assert sum(1 for _ in trace.open()) >= 6


# -- failing --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One way a first connection fails: how ``nexusdata check`` is run, its exit status, the step
    it fails at and words its hint must have."""

    name: str
    argv: Callable[[Servers], list[str]]
    status: int
    step: str
    hint: str


CASES = (
    Case(
        "wrong token",
        lambda s: ["nexus", f"--url={s.sim.nexus_url}", f"--token={WRONG_TOKEN}"],
        EXIT_CREDENTIALS,
        "handshake",
        "the server refused the token",
    ),
    Case(
        "wrong API secret",
        lambda s: ["chainext", f"--url={s.sim.chainext_url}", f"--api-key={s.sim.api_key}", f"--api-secret={WRONG_SECRET}"],
        EXIT_CREDENTIALS,
        "login",
        "signature was refused: check the API key and secret",
    ),
    Case(
        "unknown symbol",
        lambda s: ["nexus", "--symbol", "FOOBAR", *s.conn("nexus")],
        EXIT_ERROR,
        "subscribe",
        "refused the subscription",
    ),
    Case(
        "refused topic id",
        lambda s: ["chainext", "--id", "999", *s.conn("chainext")],
        EXIT_ERROR,
        "subscribe",
        "3007 coin absent",
    ),
    Case(
        "nothing after subscribe",
        lambda s: ["nexus", f"--url={s.silent.nexus_url}", f"--token={WRONG_TOKEN}", "--seconds", "1"],
        EXIT_ERROR,
        "first pushes",
        "nothing arrived after subscribing",
    ),
    Case(
        "wrong path",
        lambda s: ["nexus", f"--url=ws://127.0.0.1:{s.sim.port}/nope", f"--token={s.sim.token}"],
        EXIT_ERROR,
        "handshake",
        "wrong path",
    ),
    Case(
        "host not found",
        lambda s: ["nexus", "--url", "ws://no-such-host.invalid", f"--token={s.sim.token}"],
        EXIT_ERROR,
        "handshake",
        "does not resolve",
    ),
    Case(
        "ChaiNext URL to check nexus",
        lambda s: ["nexus", f"--url={s.sim.chainext_url}", f"--token={s.sim.token}"],
        EXIT_ERROR,
        "subscribe",
        "the other feed",
    ),
    Case(
        "Nexus URL to check chainext",
        lambda s: ["chainext", f"--url={s.sim.nexus_url}", f"--api-key={s.sim.api_key}", f"--api-secret={s.sim.api_secret}"],
        EXIT_ERROR,
        "handshake",
        "the other feed",
    ),
    Case(
        "self-signed certificate",
        lambda s: ["nexus", f"--url={s.tls.nexus_url}", f"--token={s.tls.token}"],
        EXIT_ERROR,
        "handshake",
        "--ca-file",
    ),
    Case(
        "closed port",
        lambda s: ["nexus", f"--url=ws://127.0.0.1:{s.closed}", f"--token={WRONG_TOKEN}"],
        EXIT_ERROR,
        "handshake",
        "nothing listens there",
    ),
    Case(
        "proxy refuses the credentials (407)",
        lambda s: ["chainext", *s.conn("chainext"), f"--proxy={s.proxy_url(WRONG_PROXY_PASSWORD)}"],
        EXIT_ERROR,
        "proxy",
        "check user:password in proxy=",
    ),
    Case(
        "proxy refuses the server (403)",
        lambda s: [
            "nexus",
            f"--url=ws://{FORBIDDEN}:{s.sim.port}",
            f"--token={s.sim.token}",
            f"--proxy={s.proxy_url('proxy-secret-77a1')}",
        ],
        EXIT_ERROR,
        "proxy",
        "its rules do not allow this host or port",
    ),
    Case(
        "proxy host not found",
        lambda s: ["nexus", *s.conn("nexus"), "--proxy=http://no-such-proxy.invalid:3128"],
        EXIT_ERROR,
        "proxy",
        "the proxy's host name does not resolve",
    ),
    Case(
        "proxy not listening",
        lambda s: ["nexus", *s.conn("nexus"), f"--proxy=socks5h://127.0.0.1:{s.closed}"],
        EXIT_ERROR,
        "proxy",
        "nothing listens at the proxy's address",
    ),
)


def hint_of(output: str) -> str:
    """The hint line of a printed transcript."""
    return next(line.split("hint: ", 1)[1] for line in output.splitlines() if line.lstrip().startswith("hint: "))


def run_case(case: Case, served: Servers) -> tuple[int, str]:
    """Run a case's check; a host name lookup runs in a network namespace of its own
    (``unshare -n``), so it fails on this machine and no query leaves it."""
    argv = ["check", *case.argv(served)]
    if case.name not in ("host not found", "proxy host not found"):
        return run_cli(argv)
    done = subprocess.run(["unshare", "-n", sys.executable, "-m", "nexusdata.cli", *argv],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    return done.returncode, done.stdout + done.stderr


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name.replace(" ", "_"))
def test_failures_exit_non_zero_with_their_hint(served: Servers, case: Case) -> None:
    status, output = run_case(case, served)
    assert status == case.status, output
    failed = [line for line in output.splitlines() if line.startswith("✗")]
    assert failed[0][2:].startswith(f"{case.step} ") and failed[-1].startswith(f"✗ FAILED at {case.step}"), output
    assert case.hint in hint_of(output), output
    assert not any(secret in output for secret in served.secrets), output


def markdown_table() -> str:
    """The table for docs/errors.md: each case of :data:`CASES`, its exit status and its hint."""
    lines = ["| case | exit status | hint |", "|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp, servers(Path(tmp)) as found:
        for case in CASES:
            status, output = run_case(case, found)
            hint = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", hint_of(output)).replace("|", "\\|")
            lines.append(f"| {case.name} | {status} | {hint} |")
    return "\n".join(lines)


# -- traces ---------------------------------------------------------------------------------------


def trace_lines(path: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


@pytest.mark.parametrize("feed", FEEDS)
def test_trace_holds_every_frame_and_no_secret(sim: Simulator, feed: str, tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    df = nd.check(feed, trace=path, **QUICK, **getattr(sim, feed))
    lines = trace_lines(path)
    assert all(set(line) == {"t", "connection", "feed", "dir", "text"} for line in lines)
    assert {line["feed"] for line in lines} == {feed} and {line["connection"] for line in lines} == {1}
    times = [line["t"] for line in lines]
    assert times == sorted(times) and times[0] >= 0
    said = [line["dir"] for line in lines]
    assert said[0] == "event" and said.count("received") >= df.attrs["nexusdata"]["messages"] + df.attrs["nexusdata"]["replies"]
    text = path.read_text()
    assert sim.token not in text and sim.api_secret not in text
    if feed == "chainext":
        login = orjson.loads(next(line["text"] for line in lines if line["dir"] == "sent"))
        assert login["args"]["signature"] == "***"
        assert chainext.sign(sim.api_key, sim.api_secret, login["args"]["signTime"]) not in text


@pytest.mark.parametrize("feed", FEEDS)
def test_a_trace_served_back_passes_again(sim: Simulator, feed: str, tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    assert nd.check(feed, trace=path, **QUICK, **getattr(sim, feed)).attrs["nexusdata"]["passed"]
    with Simulator(trace=path) as replay:
        again = nd.check(feed, **QUICK, **getattr(replay, feed))
    assert again.attrs["nexusdata"]["passed"], nd.format_transcript(again)
    assert again.attrs["nexusdata"]["messages"] == 3


@pytest.mark.parametrize(
    "feed, wrong, step", [("nexus", {"token": WRONG_TOKEN}, "handshake"), ("chainext", {"api_secret": WRONG_SECRET}, "login")]
)
def test_a_failed_check_traced_fails_the_same_way_served_back(
    sim: Simulator, feed: str, wrong: dict[str, str], step: str, tmp_path: Path
) -> None:
    """A user's failing check, traced, is a test: the trace served back fails the same way."""
    path = tmp_path / "trace.jsonl"
    first = nd.check(feed, trace=path, **QUICK, **{**getattr(sim, feed), **wrong})
    with Simulator(trace=path) as replay:
        again = nd.check(feed, **QUICK, **getattr(replay, feed))
    for df in (first, again):
        assert df.attrs["nexusdata"]["error"] == "AuthenticationError"
        assert df.attrs["nexusdata"]["verdict"].startswith(f"FAILED at {step}")
    assert [re.sub(r"\d+", "N", h) for h in first["hint"]] == [re.sub(r"\d+", "N", h) for h in again["hint"]]


if __name__ == "__main__":
    print(markdown_table())
