"""The embedded simulator, exercised over real loopback sockets with the plain websocket-client.

Every wait is a ``recv`` with a timeout and every loop is bounded, so a broken simulator fails
fast instead of hanging.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
import websocket

from nexusdata.errors import NexusDataError
from nexusdata.protocol import chainext
from nexusdata.sim import SYMBOLS, SentPush, Simulator
from nexusdata.sim.account import BOOKS, TRADED, Account
from nexusdata.sim.market import Market

pytestmark = pytest.mark.timeout(30)

RECV_TIMEOUT = 3.0
MAX_FRAMES = 500
DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")
ORDER_KEYS = {
    "clientOrderId", "cp", "cpOrderid", "cpOrders", "executeAmount", "executeTime", "executeVolume", "orderId",
    "orderResult", "orderTime", "orderType", "orderVolume", "pendingVolume", "side", "status", "symbol", "timeInForce",
}  # fmt: skip
CHILD_KEYS = {
    "commission", "cp", "cpOrderid", "executeAmount", "executeTime", "executeVolume", "executions", "orderComment",
    "orderId", "orderResult", "orderTime", "orderType", "orderVolume", "pendingVolume", "side", "status", "symbol",
    "timeInForce",
}  # fmt: skip
EXECUTION_KEYS = {
    "commissionCurrency", "cp", "cpOrderId", "executeAmount", "executeId", "executePrice", "executeTime",
    "executeVolume", "orderId", "orderType", "side", "symbol",
}  # fmt: skip
RISK_KEYS = {
    "amount", "book", "broker", "dailyAmount", "dailyVolume", "grossAmount", "hedgePl", "hedgeVolume", "mtmAmount",
    "netPl", "netVolume", "symbol", "volume",
}  # fmt: skip
TIME_KEYS = {"time", "orderTime", "executeTime", "updateTime", "coinUpdateTime", "pairUpdateTime", "timestamp"}


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(seed=1, rate=50.0, record_sent=True) as simulator:
        yield simulator


@contextmanager
def connect(url: str) -> Iterator[websocket.WebSocket]:
    assert url.startswith("ws://127.0.0.1:")
    ws = websocket.create_connection(url, timeout=RECV_TIMEOUT)
    try:
        yield ws
    finally:
        ws.close()


def nexus(sim: Simulator) -> Any:
    return connect(f"{sim.nexus_url}?X-API-TOKEN={sim.token}")


def send(ws: websocket.WebSocket, message: Any) -> None:
    ws.send(json.dumps(message))


def recv(ws: websocket.WebSocket) -> Any:
    return json.loads(ws.recv())


def until(ws: websocket.WebSocket, match: Callable[[Any], bool]) -> Any:
    """The first message ``match`` accepts, skipping others (pushes) on the way."""
    for _ in range(MAX_FRAMES):
        message = recv(ws)
        if match(message):
            return message
    raise AssertionError("expected message never came")


def request(ws: websocket.WebSocket, message: dict[str, Any]) -> dict[str, Any]:
    """Send a Nexus request and return the reply echoing its id."""
    send(ws, message)
    return until(ws, lambda m: "status" in m and m.get("id") == message.get("id"))


def pushes(ws: websocket.WebSocket, field: str, kind: str, n: int) -> list[Any]:
    """The next ``n`` messages whose ``field`` (Nexus ``event``, ChaiNext ``op``) is ``kind``."""
    return [until(ws, lambda m: m.get(field) == kind) for _ in range(n)]


def pushes_by_kind(ws: websocket.WebSocket, field: str, n: int, *kinds: str) -> list[list[Any]]:
    """The first ``n`` messages of each kind, read in one pass so that none of one kind is
    skipped while waiting for another."""
    got: dict[str, list[Any]] = {kind: [] for kind in kinds}
    for _ in range(MAX_FRAMES):
        if all(len(v) >= n for v in got.values()):
            return [got[kind][:n] for kind in kinds]
        message = recv(ws)
        if message.get(field) in got and "status" not in message:  # a Nexus reply echoes the event too
            got[message[field]].append(message)
    raise AssertionError("expected messages never came")


def without_times(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_times(v) for k, v in value.items() if k not in TIME_KEYS}
    if isinstance(value, list):
        return [without_times(v) for v in value]
    return value


# -- Nexus ------------------------------------------------------------------------------------------


def test_nexus_handshake_needs_the_token(sim: Simulator) -> None:
    for url in (sim.nexus_url, f"{sim.nexus_url}?X-API-TOKEN=wrong", f"{sim.nexus_url}?token={sim.token}"):
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            websocket.create_connection(url, timeout=RECV_TIMEOUT)
        assert refused.value.status_code == 401
    with pytest.raises(websocket.WebSocketBadStatusException) as missing:
        websocket.create_connection(f"ws://127.0.0.1:{sim.port}/elsewhere", timeout=RECV_TIMEOUT)
    assert missing.value.status_code == 404
    with nexus(sim) as ws:
        reply = request(ws, {"id": "7", "action": "PING", "event": ""})
        assert reply == {"id": "7", "action": "PONG", "event": "", "status": "OK"}


@pytest.mark.parametrize(("symbol", "depth"), [("BTCUSDT", 5), ("ETHUSDT", 1), ("DOGEUSDT", 20)])
def test_depth_is_well_formed_and_never_crosses(sim: Simulator, symbol: str, depth: int) -> None:
    with nexus(sim) as ws:
        sub = {"id": "1", "action": "SUBSCRIBE", "event": "API_MARKETDEPTH", "symbol": symbol, "depth": depth}
        assert request(ws, sub)["status"] == "OK"
        for push in pushes(ws, "event", "API_MARKETDEPTH", 5):
            book = push["data"]
            assert set(book) == {"asks", "bids", "symbol"} and book["symbol"] == symbol
            assert len(book["asks"]) == len(book["bids"]) == depth
            for level in book["asks"] + book["bids"]:
                assert set(level) == {"cp", "price", "time", "volume"}
                assert re.fullmatch(r"\d+\.\d{2}", level["price"]) and re.fullmatch(r"\d+\.\d{4}", level["volume"])
                assert re.fullmatch(r"\d{13}", level["time"]) and level["cp"]
            asks = [Decimal(level["price"]) for level in book["asks"]]
            bids = [Decimal(level["price"]) for level in book["bids"]]
            assert bids[0] < asks[0] and bids[-1] > 0
            assert asks == sorted(set(asks)) and bids == sorted(set(bids), reverse=True)


def test_nexus_bad_requests_get_errors_and_keep_the_connection(sim: Simulator) -> None:
    depth = {"action": "SUBSCRIBE", "event": "API_MARKETDEPTH", "symbol": "BTCUSDT"}
    bad: list[dict[str, Any]] = [
        {"id": "a", "action": "JUMP", "event": "API_ORDER"},
        {"id": "b", "action": "SUBSCRIBE", "event": "API_NOTHING"},
        {"id": "c", **depth},
        {"id": "d", **depth, "depth": 0},
        {"id": "e", **depth, "depth": "5"},
        {"id": "f", "action": "SUBSCRIBE", "event": "API_MARKETDEPTH", "depth": 5},
        {"id": "g", "action": "SUBSCRIBE", "event": "API_RISK_POSITION", "symbol": "BTCUSDT"},
        {"id": "h", "action": "UNSUBSCRIBE", "event": "API_ORDER"},
    ]
    with nexus(sim) as ws:
        for message in bad:
            reply = request(ws, message)
            assert reply["status"] == "ERROR" and reply["message"]
            assert (reply["action"], reply["event"]) == (message["action"], message["event"])
        for junk in ("not json", "[1, 2]", '"text"'):
            ws.send(junk)
            assert recv(ws) == {"id": None, "action": None, "event": None, "status": "ERROR", "message": "not a JSON object"}
        assert request(ws, {"id": 9, **depth, "depth": 2}) == {
            "id": 9, "action": "SUBSCRIBE", "event": "API_MARKETDEPTH", "status": "OK",
        }  # fmt: skip
        assert pushes(ws, "event", "API_MARKETDEPTH", 1)


def test_nexus_refuses_what_it_does_not_serve(sim: Simulator) -> None:
    """A typo is refused (the default shape: an ERROR echo naming it) and starts no stream; every
    symbol of ``SYMBOLS`` and both books are served."""
    depth = {"action": "SUBSCRIBE", "event": "API_MARKETDEPTH", "depth": 1}
    risk = {"action": "SUBSCRIBE", "event": "API_RISK_POSITION"}
    refused = [
        ({"id": "1", **depth, "symbol": "FOOBAR"}, "unknown symbol 'FOOBAR'"),
        ({"id": "2", **depth, "symbol": "btcusdt"}, "unknown symbol 'btcusdt'"),
        ({"id": "3", **risk, "symbol": "BTCUSD", "book": "A"}, "unknown symbol 'BTCUSD'"),
        ({"id": "4", **risk, "symbol": "BTCUSDT", "book": "a"}, "unknown book 'a'"),
    ]
    assert SYMBOLS == ("BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT", "DOGEUSDT", "LTCUSDT", "DOTUSDT", "BNBUSDT")
    with nexus(sim) as ws:
        for message, why in refused:
            send(ws, message)
            assert recv(ws) == {
                "id": message["id"],
                "action": "SUBSCRIBE",
                "event": message["event"],
                "status": "ERROR",
                "message": why,
            }
        assert request(ws, {"id": "5", "action": "PING", "event": ""})["action"] == "PONG"  # nothing pushed meanwhile
        for n, symbol in enumerate(SYMBOLS):
            assert request(ws, {"id": f"d{n}", **depth, "symbol": symbol})["status"] == "OK"
        for book in BOOKS:
            assert request(ws, {"id": f"r{book}", **risk, "symbol": "SOLUSDT", "book": book})["status"] == "OK"
        served: set[str] = set()
        for _ in range(MAX_FRAMES):
            message = recv(ws)
            if message.get("event") == "API_MARKETDEPTH" and "data" in message:
                served.add(message["data"]["symbol"])
            if served == set(SYMBOLS):
                break
        assert served == set(SYMBOLS)


def test_unsubscribe_stops_the_pushes(sim: Simulator) -> None:
    with nexus(sim) as ws:
        sub = {"id": "1", "action": "SUBSCRIBE", "event": "API_MARKETDEPTH", "symbol": "BTCUSDT", "depth": 3}
        request(ws, sub)
        pushes(ws, "event", "API_MARKETDEPTH", 2)
        assert request(ws, {**sub, "id": "2", "action": "UNSUBSCRIBE"})["status"] == "OK"
        send(ws, {"id": "3", "action": "PING", "event": ""})
        assert recv(ws)["action"] == "PONG"  # nothing of the subscription after its OK
        assert request(ws, {**sub, "id": "4", "action": "UNSUBSCRIBE"})["status"] == "ERROR"


def test_orders_add_up(sim: Simulator) -> None:
    with nexus(sim) as ws:
        request(ws, {"id": "1", "action": "SUBSCRIBE", "event": "API_ORDER"})
        orders = [order for push in pushes(ws, "event", "API_ORDER", 6) for order in push["data"]]
    ids = [int(order["orderId"]) for order in orders]
    assert ids == sorted(set(ids))
    for order in orders:
        assert set(order) == ORDER_KEYS
        assert (order["cp"], order["cpOrderid"], order["status"], order["orderResult"]) == ("", "0", "EXECUTED", "FILLED")
        assert order["orderType"] == "MARKET" and order["timeInForce"] == "IOC" and order["side"] in ("BUY", "SELL")
        assert Decimal(order["pendingVolume"]) == Decimal(order["orderVolume"]) - Decimal(order["executeVolume"]) == 0
        assert 1 <= len(order["cpOrders"]) <= 3
        for child in order["cpOrders"]:
            assert set(child) == CHILD_KEYS and child["orderId"] == order["orderId"]
            assert Decimal(child["pendingVolume"]) == Decimal(child["orderVolume"]) - Decimal(child["executeVolume"])
            for execution in child["executions"]:
                assert set(execution) == EXECUTION_KEYS and execution["cpOrderId"] == child["cpOrderid"]
                price, volume = Decimal(execution["executePrice"]), Decimal(execution["executeVolume"])
                assert Decimal(execution["executeAmount"]) == price * volume
                assert execution["executeTime"] <= child["executeTime"]
            for field in ("executeVolume", "executeAmount"):
                assert Decimal(child[field]) == sum(Decimal(e[field]) for e in child["executions"])
        for field in ("executeVolume", "executeAmount"):
            assert Decimal(order[field]) == sum(Decimal(c[field]) for c in order["cpOrders"])
        numbers = [order["orderId"], *(c["cpOrderid"] for c in order["cpOrders"])]
        numbers += [e["executeId"] for c in order["cpOrders"] for e in c["executions"]]
        assert all(re.fullmatch(r"\d{19}", n) for n in numbers)
        assert re.fullmatch(r"\d{13}", order["orderTime"]) and order["orderTime"] <= order["executeTime"]


def test_risk_rows_have_the_documented_fields(sim: Simulator) -> None:
    with nexus(sim) as ws:
        request(ws, {"id": "1", "action": "SUBSCRIBE", "event": "API_RISK_POSITION", "symbol": "ETHUSDT", "book": "B"})
        for push in pushes(ws, "event", "API_RISK_POSITION", 3):
            (row,) = push["data"]
            assert set(row) == RISK_KEYS
            assert (row["symbol"], row["book"], row["broker"]) == ("ETHUSDT", "B", "HOTCOINEX")
            assert all(DECIMAL.match(row[k]) for k in RISK_KEYS - {"symbol", "book", "broker"})
            assert Decimal(row["netPl"]) == Decimal(row["mtmAmount"]) - Decimal(row["amount"])


def test_positions_follow_the_fills() -> None:
    market = Market(3)
    account = Account(market, 3)
    for _ in range(30):
        before = {(s, b): account.positions(s, b)[0] for s in TRADED for b in BOOKS}
        order = account.trade()
        book = order["cpOrders"][0]["orderComment"][1]  # "[A:<orderId>.0": the book the order traded in
        (row,) = account.positions(order["symbol"], book)
        sign = 1 if order["side"] == "BUY" else -1
        volume, amount = Decimal(order["executeVolume"]), Decimal(order["executeAmount"])
        moved = {k: Decimal(row[k]) - Decimal(before[order["symbol"], book][k]) for k in RISK_KEYS - {"symbol", "book", "broker"}}
        assert (moved["netVolume"], moved["dailyVolume"], moved["volume"]) == (sign * volume, sign * volume, volume)
        assert (moved["amount"], moved["dailyAmount"], moved["grossAmount"]) == (sign * amount, sign * amount, amount)
        mid = Decimal(market.mid_cents(order["symbol"])) / 100
        assert Decimal(row["mtmAmount"]) == Decimal(row["netVolume"]) * mid


# -- ChaiNext ---------------------------------------------------------------------------------------


def login(ws: websocket.WebSocket, sim: Simulator, sign_time: Any = None, **changes: Any) -> dict[str, Any]:
    when = int(time.time()) if sign_time is None else sign_time
    args = {"signTime": when, "apiKey": sim.api_key, "signature": chainext.sign(sim.api_key, sim.api_secret, int(when))}
    send(ws, chainext.message("login", {**args, **changes}))
    return until(ws, lambda m: m["op"] == "loginResponse")["args"]


def ask(ws: websocket.WebSocket, op: str, topic: Any = None, sid: Any = None, **args: Any) -> dict[str, Any]:
    """Send a subscribe/unsubscribe (or any op) and return the reply's args, skipping pushes."""
    if topic is not None:
        args["topic"] = topic
    if sid is not None:
        args["id"] = sid
    send(ws, chainext.message(op, args))
    return until(ws, lambda m: m.get("op") in (f"{op}Response", "error"))["args"]


def test_chainext_login_codes(sim: Simulator) -> None:
    with connect(sim.chainext_url) as ws:
        send(ws, chainext.message("ping", {}))
        assert recv(ws) == {"op": "pong", "args": None}
        assert ask(ws, "subscribe", "coin_index", "1")["code"] == 2010
        send(ws, chainext.message("login", "nope"))
        assert recv(ws)["args"] == {"info": "wrong param", "code": 2002}
        assert login(ws, sim, signature=None)["code"] == 2002
        assert login(ws, sim, signTime="12ab")["code"] == 2002
        assert login(ws, sim, signTime=True)["code"] == 2002
        send(ws, chainext.message("login", {"apiKey": sim.api_key, "signature": "x"}))
        assert recv(ws)["args"]["code"] == 2002
        assert login(ws, sim, apiKey="someone-else")["code"] == 2013
        assert login(ws, sim, signature="0" * 64) == {"info": "login error", "code": 2012}
        assert login(ws, sim, sign_time=int(time.time()) + 400)["code"] == 2012
        assert login(ws, sim) == {"info": "success", "code": 2001}
        assert login(ws, sim) == {"info": "double login", "code": 2004}
    with connect(sim.chainext_url) as ws:
        assert login(ws, sim, sign_time=str(int(time.time())))["code"] == 2001


@pytest.mark.parametrize(("skew", "code"), [(400.0, 2012), (-400.0, 2012), (250.0, 2001)])
def test_chainext_sign_time_window(skew: float, code: int) -> None:
    with Simulator(clock_skew=skew) as skewed, connect(skewed.chainext_url) as ws:
        assert login(ws, skewed)["code"] == code


def test_chainext_subscription_codes(sim: Simulator) -> None:
    with connect(sim.chainext_url) as ws:
        assert login(ws, sim)["code"] == 2001
        assert ask(ws, "subscribe", "weather", "1")["code"] == 3006
        assert ask(ws, "subscribe", "coin_index", "99") == {
            "topic": "coin_index",
            "id": "99",
            "info": "coin absent",
            "code": 3007,
        }
        assert ask(ws, "subscribe", "index", "99")["code"] == 3010
        assert ask(ws, "subscribe", "index", "18")["code"] == 3010
        assert ask(ws, "subscribe", sid="1")["code"] == 2002
        assert ask(ws, "subscribe", "coin_index")["code"] == 2002
        assert ask(ws, "subscribe", "coin_index", "1") == {"topic": "coin_index", "id": "1", "info": "success", "code": 2001}
        assert ask(ws, "subscribe", "coin_index", 1) == {
            "topic": "coin_index",
            "id": 1,
            "info": "already subscribed",
            "code": 3005,
        }
        assert ask(ws, "unsubscribe", "coin_index", "0") == {
            "topic": "coin_index",
            "id": "0",
            "info": "coin not subscribed",
            "code": 3008,
        }
        assert ask(ws, "unsubscribe", "index", "11")["code"] == 3009
        assert ask(ws, "unsubscribe", "index", "5")["code"] == 3010
        assert pushes(ws, "op", "coin_index", 2)
        assert ask(ws, "unsubscribe", "coin_index", "1")["code"] == 2001
        send(ws, chainext.message("ping", {}))
        assert recv(ws)["op"] == "pong"  # nothing of the subscription after its reply
        assert ask(ws, "subscribe", "index", "11")["code"] == 2001
        assert pushes(ws, "op", "index", 1)
        assert ask(ws, "logout") == {"code": 2001, "info": "success"}
        send(ws, chainext.message("ping", {}))
        assert recv(ws)["op"] == "pong"  # logout dropped the subscription
        assert ask(ws, "subscribe", "index", "11")["code"] == 2010


def test_chainext_unknown_ops_and_junk(sim: Simulator) -> None:
    with connect(sim.chainext_url) as ws:
        send(ws, chainext.message("dance", {}))
        assert recv(ws) == {"op": "danceResponse", "args": {"info": "event absent", "code": 3001}}
        send(ws, {"args": {}})
        assert recv(ws) == {"op": "error", "args": {"info": "event absent", "code": 3001}}
        ws.send("{not json")
        assert recv(ws) == {"op": "error", "args": {"info": "data transfer error", "code": 2009}}
        send(ws, chainext.message("ping", {}))
        assert recv(ws)["op"] == "pong"


def subscribed(ws: websocket.WebSocket, sim: Simulator, *subs: tuple[str, str]) -> None:
    assert login(ws, sim)["code"] == 2001
    for topic, sid in subs:
        assert ask(ws, "subscribe", topic, sid)["code"] == 2001


def test_chainext_push_shapes(sim: Simulator) -> None:
    with connect(sim.chainext_url) as ws:
        subscribed(ws, sim, ("coin_index", "0"), ("pair_index", "18"), ("index", "11"))
        (coin,) = [p["args"] for p in pushes(ws, "op", "coin_index", 1)]
        assert set(coin) == {"cid", "symbol", "cmcSymbol", "latest", "updateTime"}
        assert (coin["cid"], coin["symbol"], coin["cmcSymbol"]) == (0, "BTC", "bitcoin")
        assert DECIMAL.match(coin["latest"]) and re.fullmatch(r"\d{10}", str(coin["updateTime"]))
        (pair,) = [p["args"] for p in pushes(ws, "op", "pair_index", 1)]
        assert set(pair) == {"symbol", "cmcSymbol", "latest", "updateTime", "cid", "exchangeInfos"}
        assert (pair["cid"], pair["symbol"]) == (18, "BNB") and re.fullmatch(r"\d{13}", str(pair["updateTime"]))
        assert 3 <= len(pair["exchangeInfos"]) <= 5
        for info in pair["exchangeInfos"]:
            assert set(info) == {"market", "pair", "price", "timestamp"} and DECIMAL.match(info["price"])
            assert isinstance(info["timestamp"], int) and re.fullmatch(r"\d{13}", str(info["timestamp"]))
        (index,) = [p["args"] for p in pushes(ws, "op", "index", 1)]
        assert set(index) == {"indexId", "lastPrice", "marketCap", "turnover24h", "updateTime"} and index["indexId"] == 11
        assert all(DECIMAL.match(index[k]) for k in ("lastPrice", "marketCap", "turnover24h"))
        assert re.fullmatch(r"\d{10}", str(index["updateTime"]))


def test_v3_prices_and_weights(sim: Simulator) -> None:
    raw_price = re.compile(r'"price":(-?\d+\.(\d+))[,}]')
    statuses: set[int] = set()
    with connect(sim.chainext_url) as ws:
        subscribed(ws, sim, ("coin_index_v3", "2"), ("pair_index_v3", "1"))
        for _ in range(MAX_FRAMES):
            text = ws.recv()
            assert isinstance(text, str)
            message = json.loads(text)
            if message["op"] not in ("coin_index_v3", "pair_index_v3"):
                continue
            args = message["args"]
            (number,) = raw_price.findall(text)
            assert len(number[1]) == 20 and isinstance(args["price"], float)
            assert (args["quoteSymbol"], args["quoteCid"], args["status"]) == ("USD", 100000, 1)
            if message["op"] == "coin_index_v3":
                assert (args["underlyingSymbol"], args["underlyingCid"]) == ("LTC", 2)
                assert re.fullmatch(r"\d{13}", str(args["updateTime"]))
                continue
            assert re.fullmatch(r"\d{13}", str(args["coinUpdateTime"])) and 5 <= len(args["pairInfos"]) <= 8
            enabled = [p for p in args["pairInfos"] if p["status"] == 1]
            assert enabled and abs(sum(p["pairWeight"] for p in enabled) - 1) < 1e-9
            mean = sum(p["pairWeight"] * p["transferredPrice"] for p in enabled)
            assert abs(Decimal(number[0]) - Decimal(mean)) < Decimal("1e-6")
            for p in args["pairInfos"]:
                statuses.add(p["status"])
                assert p["pairSide"] in ("B", "S", "N") and p["pairSymbol"].startswith("ETH_")
                if p["status"] == 2:
                    assert (p["pairPrice"], p["transferredPrice"], p["pairSide"], p["pairWeight"], p["pairUpdateTime"]) == (
                        0,
                        0,
                        "N",
                        0,
                        0,
                    )
                elif p["status"] == 3:
                    assert p["pairWeight"] == 0 and p["transferredPrice"] > 0
            if {1, 2, 3} <= statuses:
                break
        assert statuses == {1, 2, 3}


# -- the server itself ------------------------------------------------------------------------------


def test_credentials_and_addresses() -> None:
    one, two = Simulator(), Simulator(token="t", api_key="k", api_secret="s")
    assert len({one.token, two.token}) == 2 and one.api_secret != Simulator().api_secret
    with two:
        assert two.nexus == {"url": f"ws://127.0.0.1:{two.port}/api/realtime", "token": "t"}
        assert two.chainext == {"url": f"ws://127.0.0.1:{two.port}/websocket", "api_key": "k", "api_secret": "s"}
        assert two.port > 0 and two.start() is two
    with one:
        assert all(secret not in repr(one) for secret in (one.token, one.api_key, one.api_secret))


def test_sent_records_what_the_client_got(sim: Simulator) -> None:
    with nexus(sim) as ws:
        request(ws, {"id": "1", "action": "SUBSCRIBE", "event": "API_MARKETDEPTH", "symbol": "XRPUSDT", "depth": 2})
        texts = [ws.recv() for _ in range(2)]
        request(ws, {"id": "2", "action": "PING", "event": ""})  # the server has finished those sends
    assert sim.wait_for_sent(len(sim.sent), timeout=0)
    records = [s for s in sim.sent if s.text in texts]
    assert len(records) == 2 and all(isinstance(s, SentPush) and s.kind == "API_MARKETDEPTH" for s in records)
    assert len({s.connection for s in records}) == 1


def test_wait_for_sent_counts_pushes() -> None:
    with Simulator(rate=50.0, record_sent=True) as sim, nexus(sim) as ws:
        assert not sim.wait_for_sent(1, timeout=0.05)
        request(ws, {"id": "1", "action": "SUBSCRIBE", "event": "API_ORDER"})
        assert sim.wait_for_sent(3, timeout=RECV_TIMEOUT) and len(sim.sent) >= 3


def test_connection_counts_and_drop() -> None:
    with Simulator(rate=50.0) as sim:
        assert sim.connection_count == 0 and not sim.wait_for_connections(1, timeout=0.05)
        with pytest.raises(NexusDataError):
            sim.wait_for_sent(1, timeout=0)  # not recording
        with nexus(sim) as first, connect(sim.chainext_url) as second:
            assert sim.wait_for_connections(2, timeout=RECV_TIMEOUT) and sim.connections_total == 2
            request(first, {"id": "1", "action": "SUBSCRIBE", "event": "API_MARKETDEPTH", "symbol": "BTCUSDT", "depth": 5})
            assert sim.drop_connections() == 2
            for ws in (first, second):
                with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionError)):
                    for _ in range(MAX_FRAMES):
                        opcode, _frame = ws.recv_data(control_frame=True)
                        assert opcode != websocket.ABNF.OPCODE_CLOSE, "a close frame was sent"
        with nexus(sim):
            assert sim.wait_for_connections(1, timeout=RECV_TIMEOUT) and sim.connections_total == 3


def first_values(seed: int) -> list[Any]:
    with Simulator(seed=seed, rate=100.0) as sim:
        with nexus(sim) as ws:
            # Both requests before reading anything: waiting for one reply would skip (and so
            # consume) pushes of the other stream, and how many depends on the machine's load.
            send(ws, {"id": "1", "action": "SUBSCRIBE", "event": "API_MARKETDEPTH", "symbol": "SOLUSDT", "depth": 4})
            send(ws, {"id": "2", "action": "SUBSCRIBE", "event": "API_ORDER"})
            book_pushes, order_pushes = pushes_by_kind(ws, "event", 4, "API_MARKETDEPTH", "API_ORDER")
            books = [p["data"] for p in book_pushes]
            orders = [p["data"] for p in order_pushes]
        with connect(sim.chainext_url) as ws:
            assert login(ws, sim)["code"] == 2001
            for topic, sid in (("pair_index_v3", "0"), ("coin_index", "1")):
                send(ws, chainext.message("subscribe", {"topic": topic, "id": sid}))
            v3_pushes, coin_pushes = pushes_by_kind(ws, "op", 3, "pair_index_v3", "coin_index")
            v3 = [p["args"] for p in v3_pushes]
            coin = [p["args"] for p in coin_pushes]
    return without_times([books, orders, v3, coin])


def test_same_seed_same_data() -> None:
    first = first_values(5)
    assert first == first_values(5)
    assert first != first_values(6)


def test_stop_closes_everything_and_leaves_no_threads() -> None:
    before = set(threading.enumerate())
    sim = Simulator()
    sim.start()
    frames: list[Any] = []
    with nexus(sim) as ws:
        request(ws, {"id": "1", "action": "SUBSCRIBE", "event": "API_ORDER"})

        def read() -> None:  # answers the close frame and hangs up, so stop() waits for no timeout
            try:
                for _ in range(MAX_FRAMES):
                    frames.append(ws.recv())
                    if frames[-1] == "":
                        ws.shutdown()
                        return
            except websocket.WebSocketException:
                frames.append(None)

        reader = threading.Thread(target=read)
        reader.start()
        sim.stop()
        reader.join(RECV_TIMEOUT)
        assert not reader.is_alive() and frames[-1] == ""  # a close frame, then the end
    sim.stop()
    assert set(threading.enumerate()) == before and sim.connection_count == 0
