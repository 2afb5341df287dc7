"""The simulator misbehaving on request: quirks, the handshake's Date header and trace playback,
exercised over real loopback sockets with the plain websocket-client.

Each test asserts the exact wire shape a quirk produces, so a client can be proven against it.
Every wait is a ``recv`` with a timeout and every loop is bounded.
"""

from __future__ import annotations

import json
import re
import time
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
import websocket
from test_sim import (
    MAX_FRAMES,
    RECV_TIMEOUT,
    ask,
    connect,
    login,
    nexus,
    recv,
    request,
    send,
    until,
)

from nexusdata.protocol import chainext
from nexusdata.sim import QUIRKS, Simulator, trace
from nexusdata.sim.faults import Faults

pytestmark = pytest.mark.timeout(30)

DEPTH = {"action": "SUBSCRIBE", "event": "API_MARKETDEPTH", "depth": 2}
RISK = {"action": "SUBSCRIBE", "event": "API_RISK_POSITION"}
SILENCE = 0.3
"""Seconds of quiet taken as "nothing more comes" (only where nothing is expected)."""


def subscribe(ws: websocket.WebSocket, sim: Simulator, topic: str, sid: str) -> None:
    """Log in and subscribe (codes as numbers or, with ``string_codes``, as strings)."""
    assert str(login(ws, sim)["code"]) == "2001"
    assert str(ask(ws, "subscribe", topic, sid)["code"]) == "2001"


def silent(ws: websocket.WebSocket) -> bool:
    """Whether nothing arrives for :data:`SILENCE` seconds."""
    ws.settimeout(SILENCE)
    try:
        ws.recv()
    except websocket.WebSocketTimeoutException:
        return True
    finally:
        ws.settimeout(RECV_TIMEOUT)
    return False


# -- choosing quirks --------------------------------------------------------------------------------


def test_quirks_are_named_and_checked() -> None:
    assert set(QUIRKS) == {
        "string_codes", "refusal_code", "refusal_error", "reply_ops", "batched", "fragmented", "pretty",
        "extra_fields", "relogin_2004", "micro_times",
    }  # fmt: skip
    assert all(text and "\n" not in text for text in QUIRKS.values())
    assert Simulator().quirks == frozenset()
    assert Simulator(quirks="pretty").quirks == {"pretty"}
    assert Simulator(quirks="pretty, batched,").quirks == {"pretty", "batched"}
    assert Simulator(quirks=("micro_times", "reply_ops")).quirks == {"micro_times", "reply_ops"}
    # unknown quirks and quirks not given as strings: test_bad_input.py


# -- refusals in each shape -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quirks", "shape"),
    [
        ("refusal_code", lambda rid, code, text: {"id": rid, "code": code, "msg": text}),
        ("refusal_error", lambda rid, code, text: {"id": rid, "error": {"code": code, "message": text}}),
        (
            "refusal_code,refusal_error",
            lambda rid, code, text: {"id": rid, "code": code, "msg": text, "error": {"code": code, "message": text}},
        ),
    ],
)
def test_nexus_refusals_in_each_shape(quirks: str, shape: Any) -> None:
    with Simulator(quirks=quirks) as sim, nexus(sim) as ws:
        send(ws, {"id": "1", **DEPTH, "symbol": "FOOBAR"})
        assert recv(ws) == shape("1", 10003, "symbol not found")
        send(ws, {"id": "2", **RISK, "symbol": "BTCUSDT", "book": "Z"})
        assert recv(ws) == shape("2", 10004, "book not found")
        send(ws, {"id": "3", **DEPTH, "symbol": "BTCUSDT", "depth": 0})
        assert recv(ws) == shape("3", 10001, "depth must be an integer from 1 to 100")
        ws.send("not json")
        assert recv(ws) == shape(None, 10001, "not a JSON object")
        assert request(ws, {"id": "4", "action": "PING", "event": ""})["status"] == "OK"  # successes keep their echo


# -- ChaiNext replies -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quirks", "named", "code"),
    [
        ("string_codes", lambda op: f"{op}Response", str),
        ("reply_ops", lambda op: op, int),
        ("string_codes,reply_ops", lambda op: op, str),
    ],
)
def test_chainext_reply_names_and_codes(quirks: str, named: Any, code: Any) -> None:
    with Simulator(quirks=quirks) as sim, connect(sim.chainext_url) as ws:
        sign_time = int(time.time())
        signed = {
            "signTime": sign_time,
            "apiKey": sim.api_key,
            "signature": chainext.sign(sim.api_key, sim.api_secret, sign_time),
        }
        exchanges = [
            (chainext.message("subscribe", {"topic": "coin_index", "id": "0"}), named("subscribe"), {"topic": "coin_index", "id": "0", "info": chainext.CODES[2010], "code": code(2010)}),
            (chainext.message("login", signed), named("login"), {"info": "success", "code": code(2001)}),
            (chainext.message("subscribe", {"topic": "coin_index", "id": "99"}), named("subscribe"), {"topic": "coin_index", "id": "99", "info": "coin absent", "code": code(3007)}),
            (chainext.message("dance", {}), named("dance"), {"info": "event absent", "code": code(3001)}),
            ("{not json", "error", {"info": "data transfer error", "code": code(2009)}),
            (chainext.message("logout", {}), named("logout"), {"info": "success", "code": code(2001)}),
        ]  # fmt: skip
        for message, op, args in exchanges:
            ws.send(message if isinstance(message, str) else json.dumps(message))
            assert recv(ws) == {"op": op, "args": args}
        send(ws, chainext.message("ping", {}))
        assert recv(ws) == {"op": "pong", "args": None}  # the documented pong stays


@pytest.mark.parametrize(("quirks", "again"), [(None, 2001), ("relogin_2004", 2004)])
def test_session_expiry_and_logging_in_again(quirks: str | None, again: int) -> None:
    """With ``relogin_2004`` the server says 2010 but keeps the login: logging in again on the
    connection is a double login, subscribing works; a new connection logs in normally."""
    with Simulator(rate=50.0, quirks=quirks, faults={1: Faults(expire_after=2)}) as sim:
        with connect(sim.chainext_url) as ws:
            subscribe(ws, sim, "coin_index", "0")
            expired = until(ws, lambda m: m["op"] == "error")
            assert expired == {"op": "error", "args": {"info": chainext.CODES[2010], "code": 2010}}
            assert login(ws, sim)["code"] == again
            assert ask(ws, "subscribe", "coin_index", "0")["code"] == 2001
        with connect(sim.chainext_url) as ws:
            assert login(ws, sim)["code"] == 2001


# -- how messages are written -----------------------------------------------------------------------


def test_pretty_indents_every_message() -> None:
    with Simulator(rate=50.0, quirks="pretty") as sim:
        with nexus(sim) as ws:
            send(ws, {"id": "1", **DEPTH, "symbol": "BTCUSDT"})
            reply, push = ws.recv(), ws.recv()
            assert reply == '{\n  "id": "1",\n  "action": "SUBSCRIBE",\n  "event": "API_MARKETDEPTH",\n  "status": "OK"\n}'
            assert isinstance(push, str) and push.startswith('{\n  "event": "API_MARKETDEPTH",\n  "data": {\n    "asks": [')
            assert push == orjson.dumps(json.loads(push), option=orjson.OPT_INDENT_2).decode()
        with connect(sim.chainext_url) as ws:
            subscribe(ws, sim, "coin_index_v3", "2")
            text = ws.recv()
            assert isinstance(text, str) and text.startswith('{\n  "op": "coin_index_v3",\n  "args": {\n')
            assert re.search(r'\n    "price": \d+\.\d{20},\n', text)  # not one of the v3 price's digits lost


def test_extra_fields_and_another_key_order() -> None:
    with Simulator(rate=50.0, quirks="extra_fields") as sim:
        with nexus(sim) as ws:
            send(ws, {"id": "1", **DEPTH, "symbol": "ETHUSDT"})
            reply, push = recv(ws), recv(ws)
            assert list(reply) == ["status", "event", "action", "id", "seq", "server"] and reply["server"] == "sim"
            assert list(push) == ["data", "event", "seq", "server"] and push["seq"] > reply["seq"]
            assert set(push["data"]) == {"asks", "bids", "symbol", "server"}
        with connect(sim.chainext_url) as ws:
            send(ws, chainext.message("ping", {}))
            assert list(recv(ws)) == ["args", "op", "seq", "server"]
            subscribe(ws, sim, "pair_index", "18")
            push = until(ws, lambda m: m["op"] == "pair_index")
            assert list(push) == ["args", "op", "seq", "server"] and push["args"]["server"] == "sim"


def _epochs(value: Any, keys: frozenset[str]) -> list[Any]:
    """Every value under one of ``keys``, at any depth."""
    if isinstance(value, dict):
        return [v for k, v in value.items() if k in keys] + [e for v in value.values() for e in _epochs(v, keys)]
    if isinstance(value, list):
        return [e for v in value for e in _epochs(v, keys)]
    return []


def _near_now(epoch: Any, digits: int, per_second: int) -> bool:
    return re.fullmatch(rf"\d{{{digits}}}", str(epoch)) is not None and abs(int(epoch) / per_second - time.time()) < 3600


def test_micro_times() -> None:
    nexus_times = frozenset({"time", "orderTime", "executeTime"})
    with Simulator(rate=50.0, quirks="micro_times") as sim:
        with nexus(sim) as ws:
            send(ws, {"id": "1", **DEPTH, "symbol": "BTCUSDT"})
            send(ws, {"id": "2", "action": "SUBSCRIBE", "event": "API_ORDER"})
            book = until(ws, lambda m: m.get("event") == "API_MARKETDEPTH" and "data" in m)
            order = until(ws, lambda m: m.get("event") == "API_ORDER" and "data" in m)
        stamps = _epochs(book, nexus_times) + _epochs(order, nexus_times)
        assert len(stamps) >= 8 and all(isinstance(s, str) and _near_now(s, 16, 10**6) for s in stamps)
        with connect(sim.chainext_url) as ws:
            subscribe(ws, sim, "coin_index", "0")
            assert ask(ws, "subscribe", "pair_index", "0")["code"] == 2001
            coin = until(ws, lambda m: m["op"] == "coin_index")["args"]
            pair = until(ws, lambda m: m["op"] == "pair_index")["args"]
    assert isinstance(coin["updateTime"], int) and _near_now(coin["updateTime"], 19, 10**9)
    pair_stamps = _epochs(pair, frozenset({"updateTime", "timestamp"}))
    assert len(pair_stamps) >= 4 and all(isinstance(s, int) and _near_now(s, 16, 10**6) for s in pair_stamps)


# -- batches and fragments --------------------------------------------------------------------------


def _batches(ws: websocket.WebSocket, field: str, kind: str, n: int) -> list[str]:
    """The next ``n`` frames of pushes of ``kind``, as text."""
    frames: list[str] = []
    for _ in range(MAX_FRAMES):
        text = ws.recv()
        assert isinstance(text, str)
        if json.loads(text).get(field) == kind and len(frames) < n:
            frames.append(text)
        if len(frames) == n:
            return frames
    raise AssertionError("expected batches never came")


def _sent_per_frame(sim: Simulator, kind: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for push in sim.sent:
        if push.kind == kind:
            counts[push.text] = counts.get(push.text, 0) + 1
    return counts


def test_batched_pushes_are_recorded_one_by_one() -> None:
    """Batches of 2 and 3 in turn, each push in ``sim.sent`` once (with its frame's text); the
    unsubscribe's reply fences the stream, so every frame sent is read."""
    with Simulator(rate=100.0, quirks="batched", record_sent=True) as sim:
        with nexus(sim) as ws:
            sub = {"id": "1", **DEPTH, "symbol": "SOLUSDT"}
            assert request(ws, sub)["status"] == "OK"
            frames = _batches(ws, "event", "API_MARKETDEPTH", 4)
            send(ws, {**sub, "id": "2", "action": "UNSUBSCRIBE"})
            for _ in range(MAX_FRAMES):
                text = ws.recv()
                assert isinstance(text, str)
                if json.loads(text).get("status") == "OK":
                    break
                frames.append(text)
        assert all(frame.startswith('{"event":"API_MARKETDEPTH","data":[{"asks":') for frame in frames)
        sizes = [len(json.loads(frame)["data"]) for frame in frames]
        assert sizes == [(2, 3)[i % 2] for i in range(len(frames))]
        assert _sent_per_frame(sim, "API_MARKETDEPTH") == {frame: size for frame, size in zip(frames, sizes)}
        with connect(sim.chainext_url) as ws:
            subscribe(ws, sim, "coin_index", "1")
            (text,) = _batches(ws, "op", "coin_index", 1)
    pushes = json.loads(text)["args"]
    assert text.startswith('{"op":"coin_index","args":[{"cid":1,') and len(pushes) == 2
    assert [p["symbol"] for p in pushes] == ["ETH", "ETH"] and pushes[0]["latest"] != pushes[1]["latest"]


def _frames_of_one_message(ws: websocket.WebSocket) -> list[tuple[int, int, bytes]]:
    """Raw frames (opcode, FIN, payload) up to the end of the next data message."""
    frames: list[tuple[int, int, bytes]] = []
    for _ in range(MAX_FRAMES):
        frame = ws.recv_frame()
        frames.append((frame.opcode, frame.fin, bytes(frame.data)))
        if frame.opcode in (websocket.ABNF.OPCODE_TEXT, websocket.ABNF.OPCODE_CONT) and frame.fin:
            return frames
    raise AssertionError("the message never ended")


def test_fragmented_frames_with_pings_between() -> None:
    text, cont, ping = websocket.ABNF.OPCODE_TEXT, websocket.ABNF.OPCODE_CONT, websocket.ABNF.OPCODE_PING
    with Simulator(rate=50.0, quirks="fragmented") as sim, nexus(sim) as ws:
        for message in ({"id": "1", "action": "PING", "event": ""}, {"id": "2", **DEPTH, "symbol": "BTCUSDT"}):
            send(ws, message)
            frames = _frames_of_one_message(ws)
            assert [(opcode, fin) for opcode, fin, _ in frames] == [(text, 0), (ping, 1), (cont, 0), (ping, 1), (cont, 1)]
            data = [payload for opcode, _, payload in frames if opcode != ping]
            assert all(data[:2]) and json.loads(b"".join(data))["id"] == message["id"]
        push = _frames_of_one_message(ws)
        assert [opcode for opcode, _, _ in push] == [text, ping, cont, ping, cont]
        assert json.loads(b"".join(p for o, _, p in push if o != ping))["event"] == "API_MARKETDEPTH"
        assert recv(ws)["event"] == "API_MARKETDEPTH"  # reassembled (and the pings answered) by the client


def test_quirks_combine() -> None:
    """Every message-writing quirk at once on v3 pushes: batched, fragmented, indented, extra
    fields, finer times, and still the v3 price's 20 decimals."""
    quirks = "batched,fragmented,pretty,extra_fields,micro_times,string_codes"
    with Simulator(rate=100.0, quirks=quirks, record_sent=True) as sim, connect(sim.chainext_url) as ws:
        subscribe(ws, sim, "pair_index_v3", "0")
        (text,) = _batches(ws, "op", "pair_index_v3", 1)
    assert text.startswith('{\n  "args": [\n    {\n      "underlyingSymbol": "BTC",')
    message = json.loads(text)
    assert list(message) == ["args", "op", "seq", "server"] and len(message["args"]) == 2
    assert len(re.findall(r'\n      "price": \d+\.\d{20},\n', text)) == 2
    assert all(_near_now(args["coinUpdateTime"], 16, 10**6) and args["server"] == "sim" for args in message["args"])
    assert sim.wait_for_sent(2, timeout=RECV_TIMEOUT) and sim.sent[0].text == sim.sent[1].text == text


# -- what is served ---------------------------------------------------------------------------------


def test_chosen_lists_are_served_and_nothing_else() -> None:
    with Simulator(rate=50.0, symbols=["FOOBAR"], books=["Z"], coins=["0", "77"], indices=["5"]) as sim:
        with nexus(sim) as ws:
            assert request(ws, {"id": "1", **DEPTH, "symbol": "BTCUSDT"})["message"] == "unknown symbol 'BTCUSDT'"
            assert request(ws, {"id": "2", **RISK, "symbol": "FOOBAR", "book": "A"})["message"] == "unknown book 'A'"
            assert request(ws, {"id": "3", **RISK, "symbol": "FOOBAR", "book": "Z"})["status"] == "OK"
            assert until(ws, lambda m: m.get("event") == "API_RISK_POSITION")["data"][0]["book"] == "Z"
        with connect(sim.chainext_url) as ws:
            subscribe(ws, sim, "coin_index", "77")
            assert ask(ws, "subscribe", "coin_index", "1")["code"] == 3007
            assert ask(ws, "subscribe", "index", "11")["code"] == 3010
            assert ask(ws, "subscribe", "index", "5")["code"] == 2001
            coin = until(ws, lambda m: m["op"] == "coin_index")["args"]
            index = until(ws, lambda m: m["op"] == "index")["args"]
    assert (coin["cid"], coin["symbol"]) == (77, "C77") and float(coin["latest"]) > 0
    assert index["indexId"] == 5 and float(index["lastPrice"]) > 0


# -- the handshake's Date ---------------------------------------------------------------------------


@pytest.mark.parametrize("skew", [-3600.0, 7200.0])
def test_handshake_date_follows_the_server_clock(skew: float) -> None:
    def offset(date: str) -> float:
        return parsedate_to_datetime(date).timestamp() - time.time()

    with Simulator(clock_skew=skew) as sim:
        for opened in (nexus(sim), connect(sim.chainext_url)):
            with opened as ws:
                headers = ws.getheaders()
                assert headers is not None and abs(offset(headers["date"]) - skew) < 5
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            websocket.create_connection(sim.nexus_url, timeout=RECV_TIMEOUT)
        assert refused.value.status_code == 401 and refused.value.resp_headers is not None
        assert abs(offset(refused.value.resp_headers["date"]) - skew) < 5


# -- trace playback ---------------------------------------------------------------------------------

LOGIN_REPLY = '{"op":"loginResponse","args":{"info":"success","code":2001}}'
SUB_REPLY = '{"op":"subscribeResponse","args":{"topic":"coin_index","id":"1","info":"success","code":2001}}'
PUSHES = [
    f'{{"op":"coin_index","args":{{"cid":1,"symbol":"ETH","cmcSymbol":"ethereum","latest":"300{n}.5","updateTime":1700000000}}}}'
    for n in range(3)
]
TRACE = [
    {"t": 0.0, "connection": 1, "feed": "chainext", "dir": "event", "text": "HTTP 101 Switching Protocols"},
    {"t": 0.01, "connection": 1, "feed": "chainext", "dir": "sent", "text": '{"op":"login","args":{"signature":"***"}}'},
    {"t": 0.02, "connection": 1, "feed": "chainext", "dir": "received", "text": LOGIN_REPLY},
    {"t": 0.03, "connection": 1, "feed": "chainext", "dir": "sent", "text": '{"op":"subscribe","args":{"topic":"coin_index","id":"1"}}'},
    {"t": 0.04, "connection": 1, "feed": "chainext", "dir": "received", "text": SUB_REPLY},
    {"t": 0.05, "connection": 1, "feed": "chainext", "dir": "received", "text": PUSHES[0]},
    {"t": 0.45, "connection": 1, "feed": "chainext", "dir": "received", "text": PUSHES[1]},
    {"t": 0.5, "connection": 2, "feed": "nexus", "dir": "event", "text": "HTTP 404 Not Found"},
    {"t": 0.6, "connection": 3, "feed": "nexus", "dir": "event", "text": "connected"},
    {"t": 0.7, "connection": 3, "feed": "nexus", "dir": "sent", "text": '{"id":"1","action":"PING","event":""}'},
    {"t": 0.8, "connection": 3, "feed": "nexus", "dir": "received", "text": "not JSON, served verbatim"},
    {"t": 0.9, "connection": 3, "feed": "nexus", "dir": "received", "text": PUSHES[2]},
]  # fmt: skip


def write_trace(path: Path, entries: list[Any]) -> Path:
    path.write_text("".join((e if isinstance(e, str) else json.dumps(e)) + "\n" for e in entries))
    return path


def test_trace_is_played_back(tmp_path: Path) -> None:
    """Connection 1 (ChaiNext) answers the client's frames with the recorded ones, paced by the
    recorded gaps over ``speed``, then stays silent; Nexus plays connections 2 (a refused
    handshake) and 3, then 3 again. Any credentials are accepted."""
    path = write_trace(tmp_path / "trace.jsonl", TRACE)
    with Simulator(trace=path, speed=2.0, record_sent=True) as sim:
        with connect(sim.chainext_url) as ws:
            send(ws, {"op": "login", "args": {"apiKey": "anyone"}})
            assert ws.recv() == LOGIN_REPLY
            send(ws, {"op": "subscribe", "args": {}})
            assert [ws.recv(), ws.recv()] == [SUB_REPLY, PUSHES[0]]
            started = time.monotonic()
            assert ws.recv() == PUSHES[1]
            assert time.monotonic() - started >= 0.4 / 2 * 0.8  # a lower bound only: a busy machine may stretch it
            assert silent(ws)
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            websocket.create_connection(f"{sim.nexus_url}?X-API-TOKEN=redacted", timeout=RECV_TIMEOUT)
        assert (refused.value.status_code, refused.value.status_message) == (404, "Not Found")
        for _ in range(2):
            with connect(sim.nexus_url) as ws:
                send(ws, {"id": "7", "action": "PING", "event": ""})
                assert [ws.recv(), ws.recv()] == ["not JSON, served verbatim", PUSHES[2]]
                assert silent(ws)
    assert [(s.kind, s.text) for s in sim.sent if s.connection == 1] == [("trace", LOGIN_REPLY), ("trace", SUB_REPLY), ("trace", PUSHES[0]), ("trace", PUSHES[1])]  # fmt: skip


def test_trace_goes_on_when_the_client_sends_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trace, "CLIENT_WAIT", 0.2)
    path = write_trace(tmp_path / "trace.jsonl", TRACE)
    with Simulator(trace=path, speed=float("inf"), quirks="fragmented,pretty") as sim, connect(sim.chainext_url) as ws:
        assert [ws.recv() for _ in range(4)] == [LOGIN_REPLY, SUB_REPLY, PUSHES[0], PUSHES[1]]  # verbatim: not indented


GOOD = {"t": 0.5, "connection": 1, "feed": "nexus", "dir": "received", "text": "x"}
"""A one-line trace (also the base of test_bad_input.py's bad trace lines)."""


def test_a_trace_without_a_chainext_connection_serves_no_chainext(tmp_path: Path) -> None:
    good = write_trace(tmp_path / "trace.jsonl", [GOOD])
    with Simulator(trace=good) as sim:  # no ChaiNext connection in the trace: nothing there
        with pytest.raises(websocket.WebSocketBadStatusException) as missing:
            websocket.create_connection(sim.chainext_url, timeout=RECV_TIMEOUT)
        assert missing.value.status_code == 404
