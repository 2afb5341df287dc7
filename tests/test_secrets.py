"""No token, API secret or login signature in any log line (DEBUG and up, every logger), exception
message, traceback or repr, whatever happens on the wire: good and refused credentials, drops,
failed connections, and a server that echoes the secrets back in malformed frames; and, with no
socket at all, in what each feed's session logs or raises for any frame (the sessions of the
protocol tests, test_protocol_nexus.py and test_protocol_chainext.py).

A secret counts as leaked if any 12 consecutive characters of it show, raw or URL-encoded
(log lines cut frames short, so a leak may be partial). A secret shorter than
``nexusdata.protocol.session.SHORT_SECRET`` counts as leaked where it shows as a whole token:
inside a word it is just letters ("x" in "nexus"), which masking would only garble.
"""

from __future__ import annotations

import json
import logging
import re
import time
import traceback
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
import pytest
import test_protocol_chainext as cx
import test_protocol_nexus as nx

import nexusdata as nd
from nexusdata.config import split_conn
from nexusdata.errors import AuthenticationError
from nexusdata.feed import Feed
from nexusdata.protocol import chainext, nexus
from nexusdata.protocol.chainext import ChaiNextSession, IndexSubscription
from nexusdata.protocol.nexus import NexusSession
from nexusdata.protocol.session import Secrets
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


def test_no_secret_in_logs(sim: Simulator, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    nd.stream_depth("BTCUSDT", seconds=10, max_messages=2, **sim.nexus)
    nd.collect_index("coin_index", "1", seconds=10, max_messages=2, **sim.chainext)
    with pytest.raises(nd.AuthenticationError):
        nd.stream_depth("BTCUSDT", seconds=10, url=sim.nexus_url, token="bad-" + sim.token)
    text = caplog.text
    assert sim.token not in text and sim.api_secret not in text
    assert "X-API-TOKEN=***" in text  # the URL is logged, redacted


# -- the sans-I/O sessions: every frame, no socket ---------------------------------------------------


def test_logs_never_contain_the_token(caplog):
    caplog.set_level(logging.DEBUG, logger="nexusdata")
    s = nx.session(nexus.depth("BTCUSDT"), nexus.orders())
    s.start()
    ids = [orjson.loads(f)["id"] for f in s.take_outbox()]
    frames = [
        f"not json {nx.TOKEN}",
        f'{{"event": "API_MARKETDEPTH", "data": "{nx.TOKEN}"}}',
        f'{{"event": "API_ORDER", "data": 1, "token": "{nx.TOKEN}"}}',
        f'{{"error": "bad token {nx.TOKEN}"}}',
        f'{{"id": "{ids[0]}", "token": "{nx.TOKEN}"}}',
        f'{{"event": "{nx.TOKEN}", "data": {{}}}}',
        f"[{json.dumps(nx.TOKEN)}]",
        ("x" * 1000 + nx.TOKEN).encode(),
        b"\xff" + nx.TOKEN.encode(),
    ]
    for frame in frames:
        assert s.receive(frame) is None
    assert s.malformed >= 5 and s.unknown >= 2
    assert len(caplog.records) >= len(frames) - 1
    assert nx.TOKEN not in caplog.text
    for record in caplog.records:
        assert nx.TOKEN not in record.getMessage()


def test_login_refusal_echoing_the_signature_keeps_it_out_of_the_message():
    s = cx.session()
    s.start()
    (login,) = cx.frames(s)
    signature = login["args"]["signature"]
    s.receive(json.dumps({"op": "loginResponse", "args": {"code": 2003, "info": f"bad signature {signature}"}}))
    assert isinstance(s.error, AuthenticationError)
    assert signature not in str(s.error)


def test_relogin_signature_is_scrubbed_from_logs(caplog):
    caplog.set_level(logging.DEBUG, logger="nexusdata")
    s = cx.subscribed(cx.COIN)
    s.clock = cx.Clock(1558863999.0)
    s.receive(cx.reply("subscribeResponse", 2010, topic="coin_index", id="1"))
    (login,) = cx.frames(s)
    signature = login["args"]["signature"]
    s.receive(f"junk {signature} {cx.API_SECRET}")
    assert s.malformed == 1
    assert cx.no_secret(caplog.text, signature)


def test_logs_never_contain_the_secret_or_signature(caplog):
    caplog.set_level(logging.DEBUG, logger="nexusdata")
    s = cx.session(cx.COIN)
    s.start()
    (login,) = cx.frames(s)
    signature = login["args"]["signature"]
    for frame in [
        f"not json {cx.API_SECRET} {signature}",
        f'{{"op": "coin_index", "args": "{cx.API_SECRET}"}}',
        f'{{"op": "loginResponse", "args": ["{signature}"]}}',
        f'{{"op": "{cx.API_KEY}", "args": {{"echo": "{signature}", "secret": "{cx.API_SECRET}"}}}}',
        f'{{"args": {{"signature": "{signature}"}}}}',
        f'{{"op": "loginResponse", "args": {{"code": 2001, "sig": "{signature}"}}}}',
        f'{{"op": "subscribeResponse", "args": {{"topic": "x", "id": "y", "code": 3007, "info": "{cx.API_SECRET}"}}}}',
        f'{{"op": "hello", "args": {{"x": "{cx.API_SECRET}"}}}}',
        ("{" * 100 + cx.API_SECRET).encode(),
        b"\xff" + signature.encode(),
    ]:
        assert s.receive(frame) is None
    assert s.malformed >= 5 and s.unknown >= 2
    assert caplog.records
    assert cx.no_secret(caplog.text, signature)
    for record in caplog.records:
        assert cx.no_secret(record.getMessage(), signature)


# Each of these frames reaches a log call that formats a value taken from the frame itself,
# not through the scrubbed preview.
LEAKY = {
    "unknown op": '{{"op": "{s}", "args": {{}}}}',
    "2010 in an op": '{{"op": "{s}", "args": {{"code": 2010}}}}',
    "unsubscribe failure": '{{"op": "unsubscribeResponse", "args": {{"topic": "{s}", "id": "1", "code": 3001}}}}',
    "logout failure": '{{"op": "logoutResponse", "args": {{"code": 2011, "info": "{s}"}}}}',
}


@pytest.mark.parametrize("path", list(LEAKY))
def test_secret_echoed_in_a_reply_stays_out_of_the_logs(path, caplog):
    caplog.set_level(logging.DEBUG, logger="nexusdata")
    s = cx.subscribed(cx.COIN)
    s.finish()
    s.receive(LEAKY[path].format(s=cx.API_SECRET))
    assert caplog.records
    assert cx.API_SECRET not in caplog.text


def test_preview_of_a_frame_repeating_a_long_secret_leaks_no_part_of_it(caplog):
    caplog.set_level(logging.DEBUG, logger="nexusdata")
    secret = "0123456789abcdef" * 4  # 64 characters, e.g. a hex API secret
    s = chainext.ChaiNextSession([cx.COIN], cx.API_KEY, secret)
    s.receive("x" + secret * 8)  # not JSON: logged through the preview
    assert s.malformed == 1
    assert secret[:16] not in caplog.text


# -- short secrets: masked as whole tokens, the text around them left as it is -----------------------


@pytest.mark.parametrize("token", ["x", "e"])
def test_a_short_token_is_masked_where_it_stands_not_inside_words(token: str, tmp_path: Path) -> None:
    """``nexusdata check --token x``: the transcript and the trace keep every word that merely
    contains the letter ("nexus", "/api/realtime", "Protocols"); the token itself shows nowhere
    as a token, in the URL or in any frame, and the check still passes."""
    trace = tmp_path / "trace.jsonl"
    with Simulator(seed=16, token=token) as sim:
        transcript = nd.check("nexus", url=sim.nexus_url, token=token, seconds=10, pushes=3, trace=trace)
    assert transcript.attrs["nexusdata"]["passed"]
    shown = nd.format_transcript(transcript)
    frames = trace.read_text()
    alone = re.compile(rf"(?<!\w){re.escape(token)}(?!\w)")
    for text in (shown, frames):
        assert not alone.search(text), alone.search(text)
        assert text.count("***") == text.count("X-API-TOKEN=***")  # masked where the token stood, nowhere else
    assert "nexus at ws://127.0.0.1" in shown and "/api/realtime?X-API-TOKEN=***" in shown
    assert "Switching Protocols" in shown and "API_MARKETDEPTH BTCUSDT" in shown


def test_short_secrets_are_masked_as_tokens_and_long_ones_anywhere() -> None:
    secrets = Secrets(["x", API_SECRET])
    text = f"nexus ?X-API-TOKEN=x&y=1 'x' x,x {API_SECRET} glued{API_SECRET}glued {quote(API_SECRET, safe='')} xx"
    assert secrets.scrub(text) == "nexus ?X-API-TOKEN=***&y=1 '***' ***,*** *** glued***glued *** xx"
    secrets.add("xx")
    assert secrets.scrub("xx x xxx") == "*** *** xxx"
