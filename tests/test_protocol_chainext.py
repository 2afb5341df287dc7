"""The ChaiNext half of the sans-I/O protocol layer, checked against the examples of
``chainext-websocket-api.zh.md``, kept verbatim under ``tests/fixtures/spec/`` with its examples
(how the client reads it: docs/protocols.md)."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re

import orjson
import pytest
from spec_examples import CHAINEXT_DOC, FIXTURES, compact, load, raw, short

from nexusdata.errors import (
    AuthenticationError,
    NexusDataError,
    ServerError,
    SubscriptionError,
)
from nexusdata.protocol import chainext, tables
from nexusdata.protocol.chainext import ChaiNextSession, IndexSubscription

API_KEY = "ak-7f3c2b1e"
API_SECRET = "S3cr3t-0a9b8c7d6e5f4a3b2c1d"
NOW = 1558863246.75  # signTime = 1558863246

JSON_FIXTURES = [
    "chainext_login_success",
    "chainext_login_failure",
    "chainext_logout",
    "chainext_logout_response",
    "chainext_ping",
    "chainext_pong",
    "chainext_subscribe",
    "chainext_subscribe_success",
    "chainext_subscribe_failure",
    "chainext_unsubscribe",
    "chainext_unsubscribe_success",
    "chainext_unsubscribe_failure",
    "chainext_push_coin_index",
    "chainext_push_pair_index",
    "chainext_push_index",
    "chainext_push_coin_index_v3",
    "chainext_push_pair_index_v3",
]


def doc_signature(api_key: str, api_secret: str, time_now: str) -> str:
    """The document's Python sample, verbatim apart from taking the time as an argument."""

    def hmac_sha256(key, value):
        message = value.encode("utf-8")
        return hmac.new(key.encode("utf-8"), message, digestmod=hashlib.sha256).hexdigest()

    return hmac_sha256(api_secret, "blockchain" + api_key + time_now)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


COIN = IndexSubscription("coin_index", "1")
PAIR = IndexSubscription("pair_index", "18")
V3 = IndexSubscription("pair_index_v3", "1")


def session(*subs, clock=None) -> chainext.ChaiNextSession:
    return chainext.ChaiNextSession(subs or (COIN,), API_KEY, API_SECRET, clock=clock or Clock(NOW))


def frames(s) -> list[dict]:
    return [orjson.loads(f) for f in s.take_outbox()]


def reply(op: str, code: int, info: str | None = None, **extra) -> str:
    return json.dumps({"op": op, "args": {**extra, "info": info or chainext.CODES.get(code, "?"), "code": code}})


def sub_reply(sub: IndexSubscription, code: int, op: str = "subscribeResponse", info: str | None = None) -> str:
    return reply(op, code, info, topic=sub.topic, id=sub.id)


def logged_in(*subs, clock=None) -> chainext.ChaiNextSession:
    """A session whose login succeeded, outbox emptied (the subscribes are queued, not answered)."""
    s = session(*subs, clock=clock)
    s.start()
    assert s.receive(raw("chainext_login_success")) is None
    s.take_outbox()
    return s


def subscribed(*subs) -> chainext.ChaiNextSession:
    s = logged_in(*subs)
    for sub in s.subscriptions:
        s.receive(sub_reply(sub, 2001))
    assert s.active == set(s.subscriptions)
    return s


def no_secret(text: str, *extra: str) -> bool:
    return all(secret not in text for secret in (API_SECRET, *extra))


# --- fixtures are the document's examples --------------------------------------------------------


@pytest.mark.parametrize("name", JSON_FIXTURES)
def test_fixture_is_valid_json_object(name):
    message = load(name)
    assert set(message) == {"op", "args"}
    assert orjson.loads(raw(name)) == message


def test_fixtures_are_verbatim_copies_of_the_document_examples():
    text = CHAINEXT_DOC.read_text(encoding="utf-8")
    blocks = [re.sub(r"\s+", "", b) for b in re.findall(r"```[a-z]*\n(.*?)```", text, re.S)]
    names = ["chainext_login_template", None, *JSON_FIXTURES]
    assert len(blocks) == len(names)
    for name, block in zip(names, blocks):
        if name is None:  # the Python signing sample
            assert "hmac.new" in block
            continue
        path = FIXTURES / (f"{name}.txt" if name.endswith("template") else f"{name}.json")
        assert re.sub(r"\s+", "", path.read_text(encoding="utf-8")) == block, name


def test_fixtures_keep_the_exact_number_text():
    assert '"price": 136.09593600171444922377,' in raw("chainext_push_pair_index_v3")
    assert '"price": 135.57500000000000000000,' in raw("chainext_push_coin_index_v3")
    assert '"lastPrice":"733.5075872479424850213940004"' in raw("chainext_push_index")


# --- login ---------------------------------------------------------------------------------------


def test_sign_matches_the_documents_python_sample():
    for key, secret, t in [("key", "secret", 1558863246), (API_KEY, API_SECRET, 1700000000), ("", "", 0)]:
        assert chainext.sign(key, secret, t) == doc_signature(key, secret, str(t))


def test_sign_known_vector():
    # computed once with the document's sample: hmac_sha256("secret", "blockchain" + "key" + "1558863246")
    expected = "1604e277475655904f2ad1bfbca706c7722fe4e171804013842ea717cc0f189f"
    assert chainext.sign("key", "secret", 1558863246) == expected


def test_sign_depends_on_every_input():
    base = chainext.sign("key", "secret", 1558863246)
    assert chainext.sign("key2", "secret", 1558863246) != base
    assert chainext.sign("key", "secret2", 1558863246) != base
    assert chainext.sign("key", "secret", 1558863247) != base
    assert re.fullmatch(r"[0-9a-f]{64}", base)


def test_login_request_has_exactly_the_documented_keys_and_types():
    template = (FIXTURES / "chainext_login_template.txt").read_text(encoding="utf-8")
    with pytest.raises(json.JSONDecodeError):  # the document's example leaves signTime empty
        json.loads(template)
    documented = re.findall(r'"(\w+)"\s*:', template)
    assert documented == ["op", "args", "signTime", "apiKey", "signature"]
    assert '"op": "login"' in template

    s = session(clock=Clock(NOW))
    assert s.outbox == []
    s.start()
    (frame,) = s.take_outbox()
    message = orjson.loads(frame)
    assert list(message) == ["op", "args"]
    assert message["op"] == "login"
    args = message["args"]
    assert list(args) == ["signTime", "apiKey", "signature"]
    assert type(args["signTime"]) is int and re.fullmatch(r"\d{10}", str(args["signTime"]))
    assert args["signTime"] == int(NOW) == 1558863246
    assert re.search(r'"signTime":1558863246[,}]', frame)  # the digits, not a string or a float
    assert args["apiKey"] == API_KEY
    assert args["signature"] == doc_signature(API_KEY, API_SECRET, "1558863246")
    assert API_SECRET not in frame
    assert not s.logged_in


def test_login_request_function():
    assert chainext.login_request("key", "secret", 1558863246.999) == {
        "op": "login",
        "args": {
            "signTime": 1558863246,
            "apiKey": "key",
            "signature": "1604e277475655904f2ad1bfbca706c7722fe4e171804013842ea717cc0f189f",
        },
    }


def test_login_success_queues_the_subscriptions_in_order():
    s = session(COIN, PAIR, V3)
    s.start()
    s.take_outbox()
    assert s.receive(raw("chainext_login_success")) is None
    assert s.logged_in and s.error is None
    out = frames(s)
    assert out == [sub.request("subscribe") for sub in (COIN, PAIR, V3)]
    assert out[0] == load("chainext_subscribe")
    assert (s.malformed, s.unknown) == (0, 0)


def test_subscribe_frame_is_the_document_example_text():
    s = session(COIN)
    s.start()
    s.take_outbox()
    s.receive(raw("chainext_login_success").encode())
    assert s.take_outbox() == [compact(load("chainext_subscribe"))]


LOGIN_REFUSALS = [2002, 2003, 2004, 2005, 2011, 2012, 2013]


@pytest.mark.parametrize("code", LOGIN_REFUSALS)
def test_login_refused_sets_an_authentication_error(code):
    s = session(COIN)
    s.start()
    (login,) = frames(s)
    signature = login["args"]["signature"]
    info = chainext.CODES[code]
    assert s.receive(json.dumps({"op": "loginResponse", "args": {"info": info, "code": code}})) is None
    assert isinstance(s.error, AuthenticationError)
    assert isinstance(s.error, NexusDataError)
    assert s.error.code == code
    assert s.error.info == info
    assert str(code) in str(s.error)
    assert no_secret(str(s.error), signature) and no_secret(repr(s.error), signature)
    assert not s.logged_in
    assert s.outbox == []  # no subscription on a refused login


def test_login_failure_fixture():
    s = session()
    s.start()
    s.receive(raw("chainext_login_failure"))
    assert isinstance(s.error, AuthenticationError)
    assert (s.error.code, s.error.info) == (2012, "login error")
    assert "2012" in str(s.error) and "login error" in str(s.error)


# --- subscriptions -------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [2001, 3002, 3005])
def test_subscribe_reply_activates(code):
    s = logged_in(COIN, PAIR)
    assert s.receive(sub_reply(COIN, code)) is None
    assert s.active == {COIN}
    assert s.error is None
    assert (s.malformed, s.unknown) == (0, 0)


def test_subscribe_fixtures():
    s = logged_in(COIN)
    s.receive(raw("chainext_subscribe_success"))
    assert s.active == {COIN}
    s = logged_in(COIN)
    s.receive(raw("chainext_subscribe_failure"))  # 3005 already subscribed: it is active
    assert s.active == {COIN} and s.error is None


def test_subscribe_reply_with_numeric_id_matches_the_string_id():
    s = logged_in(COIN)
    s.receive(json.dumps({"op": "subscribeResponse", "args": {"topic": "coin_index", "id": 1, "info": "success", "code": 2001}}))
    assert s.active == {COIN}


@pytest.mark.parametrize("code", [3001, 3006, 3007, 3010, 2005, 2002])
def test_subscribe_refused_sets_a_subscription_error(code):
    s = logged_in(COIN, PAIR)
    info = chainext.CODES[code]
    assert s.receive(sub_reply(PAIR, code, info=info)) is None
    refusal = s.refused[PAIR]
    assert isinstance(refusal, SubscriptionError) and isinstance(refusal, NexusDataError)
    assert not isinstance(refusal, AuthenticationError)
    assert (refusal.code, refusal.info) == (code, info)
    assert "pair_index" in str(refusal) and str(code) in str(refusal)
    assert s.error is None  # COIN goes on: a refusal ends only its own subscription
    s.receive(sub_reply(COIN, 2001))
    assert s.ready and s.active == {COIN}
    s.receive(sub_reply(COIN, code, info=info, op="subscribeResponse"))
    assert s.error is s.refused[COIN]  # the last one standing refused: the session ends
    assert no_secret(str(s.error))
    assert PAIR not in s.active


def test_refusal_for_a_subscription_not_asked_for_is_unknown_not_an_error():
    s = logged_in(COIN)
    assert s.receive(sub_reply(IndexSubscription("index", "11"), 3010)) is None
    assert s.error is None
    assert s.unknown == 1


def test_unsubscribe_fixtures():
    s = subscribed(COIN)
    s.receive(raw("chainext_unsubscribe_success"))
    assert s.active == set()
    s = subscribed(COIN)
    s.receive(raw("chainext_unsubscribe_failure"))  # 3008: it was not subscribed
    assert s.active == set()
    assert s.error is None


# --- 2010: log in again --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "op", ["loginResponse", "subscribeResponse", "unsubscribeResponse", "logoutResponse", "someOtherResponse"]
)
def test_code_2010_anywhere_logs_in_again_and_resubscribes(op):
    s = subscribed(COIN, PAIR)
    s.take_outbox()
    clock_later = 1558863300.2
    s.clock = Clock(clock_later)
    assert s.receive(reply(op, 2010, topic="coin_index", id="1")) is None
    (login,) = frames(s)
    assert login["op"] == "login"
    assert login["args"]["signTime"] == int(clock_later)
    assert login["args"]["signature"] == doc_signature(API_KEY, API_SECRET, str(int(clock_later)))
    assert not s.logged_in and s.active == set()
    assert s.error is None
    s.receive(raw("chainext_login_success"))
    assert s.logged_in
    assert frames(s) == [COIN.request("subscribe"), PAIR.request("subscribe")]
    assert (s.malformed, s.unknown) == (0, 0)


# --- finishing -----------------------------------------------------------------------------------


def test_finish_unsubscribes_active_subscriptions_then_logs_out():
    s = logged_in(COIN, PAIR)
    s.receive(sub_reply(COIN, 2001))  # PAIR never answered: not active
    s.finish()
    out = frames(s)
    assert out == [load("chainext_unsubscribe"), load("chainext_logout")]
    assert not s.finished
    s.receive(raw("chainext_unsubscribe_success"))
    assert not s.finished
    assert s.receive(raw("chainext_logout_response")) is None
    assert s.finished and not s.logged_in
    assert (s.malformed, s.unknown, s.error) == (0, 0, None)


def test_finish_frames_are_the_document_texts():
    s = subscribed(COIN)
    s.take_outbox()
    s.finish()
    assert s.take_outbox() == [compact(load("chainext_unsubscribe")), compact(load("chainext_logout"))]


def test_finish_before_login_finishes_at_once():
    s = session(COIN)
    s.finish()
    assert s.finished
    assert s.outbox == []


def test_finish_while_login_pending_finishes_and_a_late_login_logs_out():
    s = session(COIN)
    s.start()
    s.take_outbox()
    s.finish()
    assert s.finished and s.outbox == []
    s.receive(raw("chainext_login_success"))
    assert frames(s) == [load("chainext_logout")]  # no subscription after a stop


def test_ping_is_the_document_example_and_pong_is_quiet():
    s = session()
    s.ping()
    assert s.take_outbox() == [compact(load("chainext_ping"))]
    assert orjson.loads(compact(load("chainext_ping"))) == load("chainext_ping")
    assert s.receive(raw("chainext_pong")) is None
    assert s.receive(b'{"op":"pong"}') is None
    assert (s.malformed, s.unknown, s.error) == (0, 0, None)


def test_reply_helper_builds_the_documented_replies():
    assert chainext.reply("loginResponse", 2001) == load("chainext_login_success")
    assert chainext.reply("loginResponse", 2012) == load("chainext_login_failure")
    assert chainext.reply("logoutResponse", 2001) == load("chainext_logout_response")
    assert chainext.reply("subscribeResponse", 2001, topic="coin_index", id="1") == load("chainext_subscribe_success")
    assert chainext.reply("subscribeResponse", 3005, topic="coin_index", id="1") == load("chainext_subscribe_failure")
    assert chainext.reply("unsubscribeResponse", 2001, topic="coin_index", id="1") == load("chainext_unsubscribe_success")
    assert chainext.reply("unsubscribeResponse", 3008, topic="coin_index", id="1") == load("chainext_unsubscribe_failure")
    assert chainext.message("pong", None) == load("chainext_pong")
    assert COIN.request("unsubscribe") == load("chainext_unsubscribe")


# --- every code mapped to its outcome -----------------------------------------------------------

DOCUMENTED_CODES = {
    2001: "success",
    2002: "wrong param",
    2003: "wrong password",
    2004: "double login",
    2005: "unauthorized access, please contact ChaiNext for permission",
    2006: "logout success",
    2009: "data transfer error",
    2010: "login status error, please login again",
    2011: "unknown error",
    2012: "login error",  # from the login-failure example
    2013: "user absent",
    3001: "event absent",
    3002: "success",
    3004: "unsubscribe success",
    3005: "already subscribed",
    3006: "topic absent",
    3007: "coin absent",
    3008: "coin not subscribed",
    3009: "index not subscribed",
    3010: "index absent",
}
ALL_CODES = sorted(chainext.CODES)


def test_codes_table_is_the_documents():
    assert chainext.CODES == DOCUMENTED_CODES


@pytest.mark.parametrize("code", ALL_CODES)
def test_every_code_in_a_login_reply(code):
    s = session(COIN)
    s.start()
    s.take_outbox()
    s.receive(reply("loginResponse", code))
    out = frames(s)
    if code == 2001 or chainext.CODES[code] == "success":  # success by code, or by info "success" (3002)
        assert s.logged_in and s.error is None and out == [COIN.request("subscribe")]
    elif code == 2010:
        assert s.error is None and [m["op"] for m in out] == ["login"]
    else:
        assert isinstance(s.error, AuthenticationError) and s.error.code == code and out == []
        assert not s.logged_in


@pytest.mark.parametrize("code", ALL_CODES)
def test_every_code_in_a_subscribe_reply(code):
    s = logged_in(COIN)
    s.receive(sub_reply(COIN, code))
    out = frames(s)
    if code in (2001, 3002, 3005):
        assert s.active == {COIN} and s.error is None and out == []
    elif code == 2010:
        assert s.error is None and s.active == set() and [m["op"] for m in out] == ["login"]
    else:
        assert isinstance(s.error, SubscriptionError) and s.error.code == code
        assert s.active == set() and out == []


@pytest.mark.parametrize("code", ALL_CODES)
def test_every_code_in_an_unsubscribe_reply(code, caplog):
    caplog.set_level(logging.DEBUG, logger="nexusdata")
    s = subscribed(COIN)
    s.take_outbox()
    caplog.clear()
    s.receive(sub_reply(COIN, code, op="unsubscribeResponse"))
    out = frames(s)
    assert s.error is None
    if code in (2001, 3004, 3008, 3009) or chainext.CODES[code] == "success":
        assert s.active == set() and out == []
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    elif code == 2010:
        assert s.active == set() and [m["op"] for m in out] == ["login"]
    else:  # a failed unsubscribe is logged, and the subscription is still considered active
        assert s.active == {COIN} and out == []
        assert [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize("code", ALL_CODES)
def test_every_code_in_a_logout_reply(code, caplog):
    caplog.set_level(logging.DEBUG, logger="nexusdata")
    s = subscribed(COIN)
    s.finish()
    s.take_outbox()
    caplog.clear()
    s.receive(reply("logoutResponse", code))
    out = frames(s)
    assert s.error is None
    warned = [r for r in caplog.records if r.levelno >= logging.WARNING]
    if code == 2010:
        assert not s.finished and [m["op"] for m in out] == ["login"]
    else:
        assert s.finished and not s.logged_in and out == []
        assert bool(warned) == (code not in (2001, 2006) and chainext.CODES[code] != "success")


def test_code_error_mapping():
    assert type(chainext.code_error(2003, "wrong password", "login")) is AuthenticationError
    assert type(chainext.code_error(3007, "coin absent", "subscribe coin_index 9")) is SubscriptionError
    other = chainext.code_error(3008, None, "unsubscribe coin_index 9")
    assert type(other) is ServerError and other.code == 3008 and "coin not subscribed" in str(other)
    assert "no code" in str(chainext.code_error(None, None, "login"))


@pytest.mark.parametrize(("op", "active"), [("subscribeResponse", {COIN}), ("unsubscribeResponse", set())])
def test_a_reply_without_a_code_or_text_is_an_acknowledgement(op, active):
    s = subscribed(COIN) if op == "unsubscribeResponse" else logged_in(COIN)
    assert s.receive(f'{{"op": "{op}", "args": null}}') is None
    assert s.active == active and s.error is None
    assert s.replies[-1].outcome == "ack"


# --- pushes --------------------------------------------------------------------------------------

PUSHES = [
    ("chainext_push_coin_index", "coin_index"),
    ("chainext_push_pair_index", "pair_index"),
    ("chainext_push_index", "index"),
    ("chainext_push_coin_index_v3", "coin_index_v3"),
    ("chainext_push_pair_index_v3", "pair_index_v3"),
]


@pytest.mark.parametrize("as_bytes", [False, True], ids=["str", "bytes"])
@pytest.mark.parametrize("name, topic", PUSHES)
def test_receive_returns_the_push(name, topic, as_bytes):
    s = subscribed(IndexSubscription(topic, "1"))
    frame = raw(name).encode() if as_bytes else raw(name)
    kind, payload = s.receive(frame)
    assert kind == topic
    assert payload == load(name)["args"]
    assert (s.malformed, s.unknown, s.error) == (0, 0, None)


def test_topics_map_to_their_tables():
    assert chainext.TOPICS == {
        "coin_index": tables.COIN_INDEX,
        "pair_index": tables.PAIR_INDEX,
        "index": tables.INDEX,
        "coin_index_v3": tables.COIN_INDEX_V3,
        "pair_index_v3": tables.PAIR_INDEX_V3,
    }


def _rows(name, table):
    kind, payload = session().receive(raw(name))
    assert chainext.TOPICS[kind] is table
    columns, push = table.flatten([payload])
    assert list(columns) == [c for c, _ in table.columns]
    names = list(columns)
    return [dict(zip(names, vals)) for vals in zip(*columns.values())], push


def test_coin_index_push_flattened_field_by_field():
    rows, push = _rows("chainext_push_coin_index", tables.COIN_INDEX)
    assert push == [0]
    assert rows == [
        {"cid": 0, "symbol": "BTC", "cmc_symbol": "bitcoin", "latest": "7997.374999932528", "update_time": 1558863246}
    ]


def test_pair_index_push_flattened_field_by_field():
    rows, push = _rows("chainext_push_pair_index", tables.PAIR_INDEX)
    assert push == [0, 0, 0]
    parent = {"cid": 18, "symbol": "BNB", "cmc_symbol": "binance-coin", "latest": "0.3745", "update_time": 1558863261785}
    assert rows == [
        {**parent, "market": "Gate.io", "pair": "ICX_USDT", "price": "0.3727", "timestamp": 1558858217214},
        {**parent, "market": "OKEx", "pair": "ICX_USDT", "price": "0.3751", "timestamp": 1558863255151},
        {**parent, "market": "Binance", "pair": "ICX_USDT", "price": "0.3757", "timestamp": 1558863246025},
    ]


def test_index_push_flattened_field_by_field():
    rows, push = _rows("chainext_push_index", tables.INDEX)
    assert push == [0]
    assert rows == [
        {
            "index_id": 11,
            "last_price": "733.5075872479424850213940004",
            "market_cap": "205470844554.610094",
            "turnover24h": "55105586667.50589",
            "update_time": 1559285819,
        }
    ]


def test_coin_index_v3_push_flattened_field_by_field():
    rows, push = _rows("chainext_push_coin_index_v3", tables.COIN_INDEX_V3)
    assert push == [0]
    assert rows == [
        {
            "underlying_symbol": "CSI2-ETH",
            "underlying_cid": 210002,
            "quote_symbol": "USD",
            "quote_cid": 100000,
            "price": 135.575,
            "status": 1,
            "update_time": 1578188158000,
        }
    ]


def test_pair_index_v3_push_flattened_field_by_field():
    rows, push = _rows("chainext_push_pair_index_v3", tables.PAIR_INDEX_V3)
    assert push == [0]
    assert rows == [
        {
            "underlying_symbol": "ETH",
            "underlying_cid": 1,
            "quote_symbol": "USD",
            "quote_cid": 100000,
            "price": float("136.09593600171444922377"),
            "status": 1,
            "coin_update_time": 1578207030000,
            "exchange": "Bibox",
            "pair_symbol": "ETH_USDT",
            "pair_price": 0,
            "transferred_price": 0,
            "pair_side": "N",
            "pair_weight": 0,
            "pair_status": 2,
            "pair_update_time": 0,
        }
    ]
    assert rows[0]["price"] == 136.09593600171445  # the nearest float to the 23-digit number


# --- malformed and unknown frames ---------------------------------------------------------------


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        '{"op": "coin_index", "args": {',
        "[]",
        '[{"op": "coin_index", "args": {}}]',
        "42",
        "-1e5",
        '"pong"',
        "null",
        "false",
        "",
        "\n",
        b"",
        b"\xc3\x28",
        b'{"op": "\xff", "args": {}}',
        "[" * 3000 + "]" * 3000,
        "{}",  # no op
        '{"args": {"code": 2001}}',
        '{"op": null, "args": {}}',
        '{"op": 2001, "args": {}}',
        '{"op": "loginResponse", "args": [2001]}',
        '{"op": "loginResponse", "args": "success"}',
        '{"op": "coin_index", "args": null}',  # a push with args of the wrong type
        '{"op": "coin_index", "args": []}',
        '{"op": "pair_index_v3", "args": "x"}',
        '{"op": "index", "args": 11}',
    ],
    ids=short,
)
def test_malformed_frames_never_raise_and_are_counted(frame):
    s = logged_in(COIN)
    assert s.receive(frame) is None
    assert (s.malformed, s.unknown) == (1, 0)
    assert s.error is None and s.logged_in
    assert s.outbox == []


@pytest.mark.parametrize(
    "frame",
    [
        '{"op": "hello", "args": {}}',
        '{"op": "ping", "args": {}}',
        '{"op": "API_MARKETDEPTH", "args": null}',
        '{"op": "quote", "args": {"code": 2001}}',
    ],
    ids=short,
)
def test_unknown_ops_are_counted(frame):
    s = logged_in(COIN)
    assert s.receive(frame) is None
    assert (s.malformed, s.unknown) == (0, 1)
    assert s.error is None


def test_data_around_junk_is_not_lost():
    s = subscribed(COIN)
    results = [
        s.receive(f) for f in (raw("chainext_push_coin_index"), b"\xff", '{"op":"x","args":{}}', raw("chainext_push_coin_index"))
    ]
    assert [r and r[0] for r in results] == ["coin_index", None, None, "coin_index"]
    assert (s.malformed, s.unknown) == (1, 1)


UNHASHABLE = [
    '{"op": [], "args": {}}',
    '{"op": {"a": 1}, "args": {}}',
    '{"op": "subscribeResponse", "args": {"topic": "coin_index", "id": "1", "code": []}}',
    '{"op": "unsubscribeResponse", "args": {"topic": "coin_index", "id": "1", "code": {}}}',
    '{"op": "logoutResponse", "args": {"code": [2001]}}',
]


@pytest.mark.parametrize("frame", UNHASHABLE, ids=short)
def test_unhashable_op_or_code_does_not_raise(frame):
    s = logged_in(COIN)
    assert s.receive(frame) is None


DEEP = "[" * 1020 + '"x"' + "]" * 1020  # orjson accepts up to 1024 levels


@pytest.mark.parametrize(
    "frame",
    [
        '{"op": "subscribeResponse", "args": {"topic": "coin_index", "id": %s, "code": 3001}}' % DEEP,
        '{"op": "unsubscribeResponse", "args": {"topic": %s, "id": "1", "code": 2001}}' % DEEP,
        '{"op": "loginResponse", "args": {"code": 2003, "info": %s}}' % DEEP,
    ],
    ids=short,
)
def test_deeply_nested_reply_values_do_not_raise(frame):
    s = session(COIN)
    s.start()
    if "loginResponse" not in frame:
        s.receive(raw("chainext_login_success"))
    assert s.receive(frame) is None


# --- readiness and the 2010 budget ---------------------------------------------------------------


def test_ready_once_logged_in_and_every_subscription_is_active():
    s = session(COIN, PAIR)
    assert not s.ready
    s.start()
    assert not s.ready
    s.receive(raw("chainext_login_success"))
    assert not s.ready
    s.receive(sub_reply(COIN, 2001))
    assert not s.ready
    s.receive(sub_reply(PAIR, 3005))
    assert s.ready
    s.receive(reply("subscribeResponse", 2010, topic="coin_index", id="1"))
    assert not s.ready


def test_repeated_2010_without_recovery_gives_up_with_an_authentication_error():
    s = logged_in(COIN)
    for attempt in range(chainext.MAX_RELOGINS):
        s.receive(reply("loginResponse", 2010))
        assert [m["op"] for m in frames(s)] == ["login"], attempt
        assert s.error is None
    s.receive(reply("loginResponse", 2010))
    assert isinstance(s.error, AuthenticationError) and s.error.code == 2010
    assert frames(s) == []  # no endless login loop
    assert no_secret(str(s.error))


def test_2010_after_a_full_recovery_starts_a_new_count():
    s = subscribed(COIN)
    for _ in range(chainext.MAX_RELOGINS * 3):
        s.receive(sub_reply(COIN, 2010))
        assert [m["op"] for m in frames(s)] == ["login"]
        s.receive(raw("chainext_login_success"))
        assert frames(s) == [COIN.request("subscribe")]
        s.receive(sub_reply(COIN, 2001))
        assert s.ready
    assert s.error is None


def test_peek_tells_a_documented_push_by_its_prefix_only():
    s = ChaiNextSession([IndexSubscription("pair_index_v3", "1")], "k", "s")
    assert s.peek(b'{"op":"pair_index_v3","args":{"underlyingSymbol":"ETH"}}') == "pair_index_v3"
    assert s.peek(b'{"op":"pair_index_v3","args":{"price":1}}') is None  # another first key: decode it
    assert s.peek(b'{"op":"pair_index_v3","args":{"code":3007,"info":"coin absent"}}') is None  # a reply
    assert s.peek(b'{"op":"pair_index_v3","args":null}') is None
    assert s.peek(b'{"op":"coin_index","args":{}}') is None
    assert s.peek(b'{"op":"subscribeResponse","args":{}}') is None
