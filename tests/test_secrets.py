"""No token, API secret or login signature in any log line (DEBUG and up, every logger), exception
message, traceback or repr, whatever happens on the wire: good and refused credentials, drops,
failed connections, and a server that echoes the secrets back in malformed frames.

A secret counts as leaked if any 12 consecutive characters of it show, raw or URL-encoded
(log lines cut frames short, so a leak may be partial).
"""

from __future__ import annotations

import logging
import time
import traceback
from typing import Any, Iterable, Iterator
from urllib.parse import quote

import pytest

import nexusdata as nd
from nexusdata.config import split_conn
from nexusdata.feed import Feed
from nexusdata.protocol import chainext, nexus
from nexusdata.protocol.chainext import ChaiNextSession, IndexSubscription
from nexusdata.protocol.nexus import NexusSession
from nexusdata.sim import Simulator
from nexusdata.sim.faults import Faults

pytestmark = pytest.mark.timeout(60)

TOKEN = "tok+en/with=url-special_chars.0123456789"  # changes when URL-encoded
URLSAFE_TOKEN = "WHZWUFAxWlV0bzdMMzl5N1dmYy1zAbCdEf"  # what the simulator and most servers issue
API_SECRET = "s3cret/api+secret=value-0123456789abcdef"
API_KEY = "public-api-key"
WINDOW = 12
LIBRARIES = ("nexusdata", "websocket", "websockets", "asyncio")
"""Loggers a user turns to DEBUG. Their children that print raw frames (the wire loggers) keep
the level the package gives them, as they do under ``logging.basicConfig(level=logging.DEBUG)``."""
FAST = {"backoff_base": 0.05, "backoff_cap": 0.2, "stall_timeout": 0.5, "pong_timeout": 0.5}


def leaks(text: str, secrets: Iterable[str]) -> list[str]:
    """The secrets of which any ``WINDOW`` consecutive characters appear in ``text``."""
    found = []
    for secret in secrets:
        for form in {secret, quote(secret, safe=""), quote(secret)}:
            if any(form[i : i + WINDOW] in text for i in range(max(1, len(form) - WINDOW + 1))):
                found.append(secret)
                break
    return found


def signatures(since: float, until: float) -> list[str]:
    """Every signature the client can have sent between ``since`` and ``until`` (one a second)."""
    return [chainext.sign(API_KEY, API_SECRET, t) for t in range(int(since) - 2, int(until) + 3)]


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(seed=16, rate=50, record_sent=True, token=TOKEN, api_key=API_KEY, api_secret=API_SECRET) as s:
        yield s


@pytest.mark.parametrize("token", [URLSAFE_TOKEN, TOKEN], ids=["urlsafe", "url_special"])
def test_no_secret_in_any_log_line(token: str, caplog: pytest.LogCaptureFixture) -> None:
    with Simulator(seed=16, rate=50, token=token, api_key=API_KEY, api_secret=API_SECRET) as sim:
        check_logs(sim, token, caplog)


def check_logs(sim: Simulator, token: str, caplog: pytest.LogCaptureFixture) -> None:
    for name in (None, *LIBRARIES):  # what "log everything" means to a user
        caplog.set_level(logging.DEBUG, logger=name)
    start = time.time()
    errors: list[BaseException] = []
    # Good credentials, with every connection dropped after a few pushes and every kind of junk,
    # including a server echoing the handshake path (the token) and the login (the signature).
    sim.faults.select(Faults(drop_after=12, junk_every=2))
    nd.stream_depth("BTCUSDT", seconds=1.0, **FAST, **sim.nexus)
    nd.collect_index("coin_index", "1", seconds=1.0, **FAST, **sim.chainext)
    assert sim.faults.wait_for("echo", 2, timeout=0)
    # Refused credentials, and an unreachable server.
    with pytest.raises(nd.AuthenticationError) as refused_token:
        nd.stream_depth("BTCUSDT", seconds=10, url=sim.nexus_url, token=token[:-1])
    with pytest.raises(nd.AuthenticationError) as refused_secret:
        nd.collect_index("coin_index", "1", seconds=10, url=sim.chainext_url, api_key=API_KEY, api_secret=API_SECRET[:-1])
    sim.stop()
    with pytest.raises(nd.ConnectionFailedError) as unreachable:
        nd.stream_depth("BTCUSDT", seconds=10, max_failures=2, **FAST, url=sim.nexus_url, token=token)
    errors += [refused_token.value, refused_secret.value, unreachable.value]

    secrets = [token, token[:-1], API_SECRET, API_SECRET[:-1], *signatures(start, time.time())]
    assert "X-API-TOKEN=***" in caplog.text  # URLs are logged, redacted
    assert "malformed frame ignored" in caplog.text and "bad request" in caplog.text  # the echoes were logged
    assert not leaks(caplog.text, secrets)
    for error in errors:
        shown = "".join(traceback.format_exception(error)) + repr(error) + repr(error.args)
        assert not leaks(shown, secrets), shown


def test_no_secret_in_reprs(sim: Simulator) -> None:
    endpoint, options, _ = split_conn("nexus", sim.nexus)
    chainext_endpoint, _, _ = split_conn("chainext", sim.chainext)
    feed = Feed(endpoint, [nexus.depth("BTCUSDT")], {nexus.MARKETDEPTH: nd.protocol.tables.DEPTH}, options)
    chainext_session = ChaiNextSession([IndexSubscription("coin_index", "1")], API_KEY, API_SECRET)
    chainext_session.start()  # it now holds a signature
    shown = [
        repr(endpoint), endpoint.display_url, repr(chainext_endpoint), repr(options), repr(feed),
        repr(feed.connection), repr(sim), repr(NexusSession([], token=TOKEN)), repr(chainext_session),
    ]  # fmt: skip
    signature = chainext_session.take_outbox()[0]
    secrets = [TOKEN, API_SECRET, signature[signature.index('"signature"') + 13 : -3]]
    assert "X-API-TOKEN=***" in endpoint.display_url
    assert not leaks("\n".join(shown), secrets), shown


@pytest.mark.parametrize(
    "conn",
    [
        {"url": f"http://127.0.0.1:1/api/realtime?X-API-TOKEN={TOKEN}", "token": TOKEN},
        {"url": f"ws://127.0.0.1:99999/?X-API-TOKEN={quote(TOKEN)}", "token": TOKEN},
        {"url": f"ws://127.0.0.1:1/?token={TOKEN}&signature={API_SECRET}", "token": TOKEN, "colour": "red"},
        {"url": "ws://127.0.0.1:1", "token": TOKEN, "ping_interval": -1},
    ],
    ids=["scheme", "port", "unknown_keyword", "option"],
)
def test_no_secret_in_argument_errors(conn: dict[str, Any]) -> None:
    with pytest.raises(ValueError) as bad:
        nd.stream_depth("BTCUSDT", seconds=1, **conn)
    shown = "".join(traceback.format_exception(bad.value))
    assert not leaks(shown, [TOKEN, API_SECRET]), shown


@pytest.mark.parametrize("encode", [True, False], ids=["percent_encoded", "raw_slash_makes_it_invalid"])
def test_no_password_from_the_url_shown(caplog: pytest.LogCaptureFixture, encode: bool) -> None:
    """A password in the URL's user part is hidden whether the URL connects (and fails) or is
    refused as invalid (a raw ``/`` in a password ends the host part)."""
    password = quote(API_SECRET, safe="") if encode else API_SECRET
    with Simulator() as closed:
        url = closed.nexus_url.replace("ws://", f"ws://user:pw-{password}@")
    expected = nd.ConnectionFailedError if encode else nd.ArgumentError
    with pytest.raises(expected) as failed:
        nd.stream_depth("BTCUSDT", seconds=10, url=url, token=URLSAFE_TOKEN, max_failures=1)
    assert not leaks(caplog.text + str(failed.value), [API_SECRET, password])
