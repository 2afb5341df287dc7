"""Shared fixtures: a simulator per test module, clean environment, thread-leak guard; child
processes that run this checkout's package."""

from __future__ import annotations

import os
import signal
import sysconfig
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from nexusdata.sim import Simulator

CREDENTIAL_ENV = (
    "NEXUSDATA_NEXUS_URL",
    "NEXUSDATA_NEXUS_TOKEN",
    "NEXUSDATA_CHAINEXT_URL",
    "NEXUSDATA_CHAINEXT_API_KEY",
    "NEXUSDATA_CHAINEXT_API_SECRET",
)
PROXY_ENV = ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY")


ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def _children_run_this_checkout() -> Iterator[None]:
    """Child processes (the ``nexusdata`` console script, ``python -m nexusdata.cli``, a shell
    recipe, a notebook's kernel) run the package under test: this checkout first on their
    ``PYTHONPATH`` and the console scripts of the interpreter running the tests first on ``PATH``,
    whether or not its environment is activated or installed from this checkout."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", str(ROOT), prepend=os.pathsep)
        patch.setenv("PATH", sysconfig.get_path("scripts"), prepend=os.pathsep)
        yield


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees credentials or proxy settings from the machine it runs on."""
    for name in CREDENTIAL_ENV + PROXY_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    """A simulator shared by a test module, pushing fast enough for short tests."""
    with Simulator(seed=7, rate=50.0, record_sent=True) as s:
        yield s


@pytest.fixture
def fresh_sim() -> Iterator[Simulator]:
    """A simulator of the test's own, for tests that count connections or drop them."""
    with Simulator(seed=11, rate=50.0, record_sent=True) as s:
        yield s


@pytest.fixture
def no_thread_leak() -> Iterator[None]:
    """Fails the test if it leaves a nexusdata thread running."""
    before = set(threading.enumerate())
    yield
    leaked = [t for t in threading.enumerate() if t not in before and t.is_alive() and t.name.startswith("nexusdata")]
    assert not leaked, f"threads left behind: {leaked}"


@pytest.fixture
def stop_button() -> Iterator[Callable[[], None]]:
    """Presses the notebook's stop button: SIGINT to this process, raising KeyboardInterrupt in
    the main thread. Python's own SIGINT handler is installed for the test, because a process
    started as a background job of a shell inherits SIGINT ignored (and then keeps running)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield lambda: os.kill(os.getpid(), signal.SIGINT)
    finally:
        signal.signal(signal.SIGINT, previous)
