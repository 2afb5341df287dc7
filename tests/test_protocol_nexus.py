"""The Nexus half of the sans-I/O protocol layer, checked against the examples of
``nexus-websocket-api.zh.md``, kept verbatim under ``tests/fixtures/spec/`` with its examples
(how the client reads it: docs/protocols.md)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from spec_examples import NEXUS_DOC, compact, load, raw, short

from nexusdata.protocol import nexus, tables
from nexusdata.protocol.session import Session, dumps

TOKEN = "WHZWUFAxWlV0bzdMMzl5N1dmYy1z"  # the token of the document's example URL

NEXUS_FIXTURES = [
    "nexus_subscribe_depth",
    "nexus_push_depth",
    "nexus_subscribe_order",
    "nexus_push_order",
    "nexus_subscribe_risk",
    "nexus_push_risk",
    "nexus_ping",
]


class Clock:
    """A controllable clock: returns ``now`` (a fixed value or the next of a sequence)."""

    def __init__(self, *values: float) -> None:
        self.values = list(values)
        self.calls = 0

    def __call__(self) -> float:
        self.calls += 1
        return self.values.pop(0) if len(self.values) > 1 else self.values[0]


def session(*subs, clock=None, token=TOKEN) -> nexus.NexusSession:
    return nexus.NexusSession(subs, token=token, clock=clock or Clock(1630055515.1095))


# --- fixtures are the document's examples --------------------------------------------------------


@pytest.mark.parametrize("name", NEXUS_FIXTURES)
def test_fixture_is_valid_json_object(name):
    assert isinstance(load(name), dict)
    assert orjson.loads(raw(name)) == load(name)


def test_fixtures_are_verbatim_copies_of_the_document_examples():
    text = NEXUS_DOC.read_text(encoding="utf-8")
    blocks = [re.sub(r"\s+", "", b) for b in re.findall(r"```[a-z]*\n(.*?)```", text, re.S)]
    assert len(blocks) == len(NEXUS_FIXTURES)
    for name, block in zip(NEXUS_FIXTURES, blocks):
        assert re.sub(r"\s+", "", raw(name)) == block, name


def test_fixtures_keep_the_19_digit_ids_as_strings():
    text = raw("nexus_push_order")
    for digits in ("1513108459447745045", "1513108459472911381", "1513108462073399317"):
        assert f'"{digits}"' in text
    order = load("nexus_push_order")["data"][0]
    assert order["orderId"] == "1513108459447745045"
    assert order["cpOrders"][0]["executions"][0]["executeId"] == "1513108462073399317"


# --- requests ------------------------------------------------------------------------------------


def test_depth_subscription_equals_document_example():
    fixture = load("nexus_subscribe_depth")
    body = nexus.depth("BTCUSDT", 5).request("SUBSCRIBE", "1630055515109")
    assert body == fixture
    assert list(body) == list(fixture)  # the field order of the document
    assert dumps(body) == compact(fixture)
    assert type(body["depth"]) is int and type(body["id"]) is str


def test_order_subscription_equals_document_example():
    fixture = load("nexus_subscribe_order")
    body = nexus.orders().request("SUBSCRIBE", "1630055515109")
    assert body == fixture
    assert list(body) == list(fixture)
    assert dumps(body) == compact(fixture)


def test_risk_subscription_equals_document_example():
    fixture = load("nexus_subscribe_risk")
    body = nexus.risk("BTCUSDT", "A").request("SUBSCRIBE", "1630055515109")
    assert body == fixture
    assert list(body) == list(fixture)
    assert dumps(body) == compact(fixture)


@pytest.mark.parametrize(
    "sub, name",
    [
        (nexus.depth("BTCUSDT", 5), "nexus_subscribe_depth"),
        (nexus.orders(), "nexus_subscribe_order"),
        (nexus.risk("BTCUSDT", "A"), "nexus_subscribe_risk"),
    ],
)
def test_unsubscribe_is_the_same_body_with_unsubscribe_action(sub, name):
    expected = {**load(name), "action": "UNSUBSCRIBE"}
    assert sub.request("UNSUBSCRIBE", "1630055515109") == expected


def test_ping_request_equals_document_example():
    fixture = load("nexus_ping")
    assert nexus.ping_request("1630055936231") == fixture
    assert dumps(nexus.ping_request("1630055936231")) == compact(fixture)


def test_session_ping_uses_the_clock_for_a_13_digit_id():
    s = session(clock=Clock(1630055936.2315))
    s.ping()
    (frame,) = s.take_outbox()
    assert orjson.loads(frame) == load("nexus_ping")


def test_subscription_helpers():
    assert nexus.depth("ETHUSDT", 10) == nexus.NexusSubscription("API_MARKETDEPTH", symbol="ETHUSDT", depth=10)
    assert nexus.depth("ETHUSDT").depth == 5
    assert nexus.orders() == nexus.NexusSubscription("API_ORDER")
    assert nexus.risk("ETHUSDT", "B") == nexus.NexusSubscription("API_RISK_POSITION", symbol="ETHUSDT", book="B")
    assert [s.kind for s in (nexus.depth("X"), nexus.orders(), nexus.risk("X", "A"))] == list(nexus.EVENTS)
    assert set(nexus.DEFAULT_TABLES) == set(nexus.EVENTS)
    assert nexus.DEFAULT_TABLES["API_MARKETDEPTH"] is tables.DEPTH
    assert nexus.DEFAULT_TABLES["API_ORDER"] is tables.ORDERS
    assert nexus.DEFAULT_TABLES["API_RISK_POSITION"] is tables.RISK


def test_push_helper_builds_the_document_push_shape():
    fixture = load("nexus_push_depth")
    assert nexus.push("API_MARKETDEPTH", fixture["data"]) == fixture


def test_start_queues_one_subscribe_per_subscription_with_increasing_13_digit_ids():
    subs = (nexus.depth("BTCUSDT", 5), nexus.orders(), nexus.risk("BTCUSDT", "A"))
    s = session(*subs, clock=Clock(1630055515.1095))  # a clock that does not move
    assert s.outbox == []
    s.start()
    frames = s.take_outbox()
    assert s.outbox == []
    bodies = [orjson.loads(f) for f in frames]
    assert len(bodies) == 3
    ids = [b["id"] for b in bodies]
    assert all(isinstance(i, str) and re.fullmatch(r"\d{13}", i) for i in ids)
    assert [int(i) for i in ids] == [1630055515109, 1630055515110, 1630055515111]
    for body, sub, name in zip(bodies, subs, ("nexus_subscribe_depth", "nexus_subscribe_order", "nexus_subscribe_risk")):
        assert body == {**load(name), "id": body["id"]}
        assert body == sub.request("SUBSCRIBE", body["id"])
    assert not s.finished


def test_request_ids_stay_strictly_increasing_when_the_clock_goes_back():
    s = session(nexus.orders(), clock=Clock(1700000000.5, 1700000000.0, 1600000000.0, 1700000001.0, 1700000001.0))
    s.start()
    for _ in range(4):
        s.ping()
    ids = [int(orjson.loads(f)["id"]) for f in s.take_outbox()]
    assert len(ids) == 5
    assert all(b > a for a, b in zip(ids, ids[1:])), ids
    assert ids == [1700000000500, 1700000000501, 1700000000502, 1700000001000, 1700000001001]


def test_request_ids_follow_the_clock_when_it_moves_forward():
    ids = nexus.RequestIds()
    assert ids.next(1630055515.1095) == "1630055515109"
    assert ids.next(1630055516.0005) == "1630055516000"
    assert ids.next(1630055516.0005) == "1630055516001"


def test_finish_queues_unsubscribe_for_each_subscription_and_finishes():
    subs = (nexus.depth("BTCUSDT", 5), nexus.risk("BTCUSDT", "A"))
    s = session(*subs)
    s.start()
    s.take_outbox()
    s.finish()
    bodies = [orjson.loads(f) for f in s.take_outbox()]
    assert [b["action"] for b in bodies] == ["UNSUBSCRIBE", "UNSUBSCRIBE"]
    assert bodies[0] == {**load("nexus_subscribe_depth"), "action": "UNSUBSCRIBE", "id": bodies[0]["id"]}
    assert bodies[1] == {**load("nexus_subscribe_risk"), "action": "UNSUBSCRIBE", "id": bodies[1]["id"]}
    assert s.finished


# --- pushes --------------------------------------------------------------------------------------


PUSHES = [
    ("nexus_push_depth", "API_MARKETDEPTH"),
    ("nexus_push_order", "API_ORDER"),
    ("nexus_push_risk", "API_RISK_POSITION"),
]


@pytest.mark.parametrize("as_bytes", [False, True], ids=["str", "bytes"])
@pytest.mark.parametrize("name, event", PUSHES)
def test_receive_returns_the_push(name, event, as_bytes):
    s = session(nexus.depth("BTCUSDT"), nexus.orders(), nexus.risk("BTCUSDT", "A"))
    s.start()
    frame = raw(name).encode() if as_bytes else raw(name)
    result = s.receive(frame)
    assert result is not None
    kind, payload = result
    assert kind == event
    assert payload == load(name)["data"]
    assert (s.malformed, s.unknown, s.error) == (0, 0, None)


def _flatten_fixture(name, table):
    s = session()
    kind, payload = s.receive(raw(name))
    columns, push = table.flatten([payload])
    assert list(columns) == [c for c, _ in table.columns]
    assert len({len(v) for v in columns.values()}) == 1
    return columns, push


def _rows(columns):
    names = list(columns)
    return [dict(zip(names, vals)) for vals in zip(*columns.values())]


def test_depth_push_flattened_field_by_field():
    columns, push = _flatten_fixture("nexus_push_depth", tables.DEPTH)
    assert list(columns) == ["symbol", "side", "level", "price", "volume", "cp", "time"]
    assert push == [0, 0]
    assert _rows(columns) == [
        {
            "symbol": "BTCUSDT",
            "side": "bid",
            "level": 0,
            "price": "48614.00",
            "volume": "19.0000",
            "cp": "b2c2",
            "time": "1631948616845",
        },
        {
            "symbol": "BTCUSDT",
            "side": "ask",
            "level": 0,
            "price": "48694.00",
            "volume": "19.0000",
            "cp": "b2c2",
            "time": "1631948616845",
        },
    ]


def test_order_push_flattened_field_by_field():
    columns, push = _flatten_fixture("nexus_push_order", tables.ORDERS)
    assert push == [0]
    assert _rows(columns) == [
        {
            "client_order_id": "111",
            "account_id": None,
            "order_id": "1513108459447745045",
            "symbol": "BTCUSDT",
            "side": "SELL",
            "status": "EXECUTED",
            "order_type": "MARKET",
            "time_in_force": "IOC",
            "order_result": "FILLED",
            "order_volume": "0.01",
            "execute_volume": "0.01",
            "pending_volume": "0",
            "execute_amount": "485.77",
            "commission": None,
            "order_time": "1631950584467",
            "execute_time": "1631950584647",
            "cp": "",
            "cp_orderid": "0",
            "order_comment": None,
        }
    ]


def test_cp_order_rows_flattened_field_by_field():
    columns, push = _flatten_fixture("nexus_push_order", tables.CP_ORDERS)
    assert push == [0]
    assert _rows(columns) == [
        {
            "client_order_id": "111",
            "parent_order_id": "1513108459447745045",
            "order_id": "1513108459447745045",
            "symbol": "BTCUSDT",
            "side": "SELL",
            "status": "EXECUTED",
            "order_type": "MARKET",
            "time_in_force": "IOC",
            "order_result": "FILLED",
            "order_volume": "0.01",
            "execute_volume": "0.01",
            "pending_volume": "0",
            "execute_amount": "485.77",
            "commission": "0",
            "order_time": "1631950584476",  # the child's own time, not the parent's ...467
            "execute_time": "1631950584647",
            "cp": "b2c2",
            "cp_orderid": "1513108459472911381",
            "order_comment": "[B:1513108458764582445.0",
        }
    ]


def test_execution_rows_flattened_field_by_field():
    columns, push = _flatten_fixture("nexus_push_order", tables.EXECUTIONS)
    assert push == [0]
    assert _rows(columns) == [
        {
            "client_order_id": "111",
            "parent_order_id": "1513108459447745045",
            "execute_id": "1513108462073399317",
            "order_id": "1513108459447745045",
            "cp_order_id": "1513108459472911381",
            "cp": "b2c2",
            "symbol": "BTCUSDT",
            "side": "SELL",
            "order_type": "MARKET",
            "commission_currency": "USDT",
            "execute_price": "48577",
            "execute_volume": "0.01",
            "execute_amount": "485.77",
            "execute_time": "1631950584647",
        }
    ]


RISK_ROW = {
    "symbol": "BTCUSDT",
    "book": "A",
    "broker": "HOTCOINEX",
    "cp": None,
    "amount": "-7622.909246840000",
    "volume": "0.160100000000",
    "daily_amount": "485.77000000",
    "daily_volume": "-0.0100000000",
    "gross_amount": "-8045.534413060000",
    "hedge_pl": "0",
    "hedge_volume": "0",
    "mtm_amount": "-7598.827850000000",
    "net_pl": "9.63575597",
    "net_volume": "0.0100000000",
    "open_amount": None,
    "open_volume": None,
}


def test_risk_push_flattened_field_by_field_without_the_field_table_only_fields():
    columns, push = _flatten_fixture("nexus_push_risk", tables.RISK)
    assert push == [0]
    assert _rows(columns) == [RISK_ROW]


def test_risk_push_with_the_field_table_only_fields():
    message = load("nexus_push_risk")
    message["data"][0].update(cp="b2c2", openAmount="-12.5", openVolume="0.25")
    kind, payload = session().receive(orjson.dumps(message))
    assert kind == "API_RISK_POSITION"
    columns, push = tables.RISK.flatten([payload])
    assert _rows(columns) == [{**RISK_ROW, "cp": "b2c2", "open_amount": "-12.5", "open_volume": "0.25"}]


def test_batch_of_pushes_records_which_push_each_row_came_from():
    depth = load("nexus_push_depth")["data"]
    depth2 = {
        "symbol": "ETHUSDT",
        "bids": [{"cp": "x", "price": "3", "time": "1", "volume": "1"}, {"cp": "y", "price": "2", "time": "1", "volume": "2"}],
        "asks": [],
    }
    columns, push = tables.DEPTH.flatten([depth, depth2])
    assert push == [0, 0, 1, 1]
    assert columns["symbol"] == ["BTCUSDT", "BTCUSDT", "ETHUSDT", "ETHUSDT"]
    assert columns["side"] == ["bid", "ask", "bid", "bid"]
    assert columns["level"] == [0, 0, 0, 1]
    assert columns["cp"] == ["b2c2", "b2c2", "x", "y"]


def test_order_push_with_several_parents_and_single_object_data():
    order = load("nexus_push_order")["data"][0]
    other = {**order, "orderId": "1513108459447745046", "cpOrders": []}
    columns, push = tables.ORDERS.flatten([[order, other], other])
    assert push == [0, 0, 1]
    assert columns["order_id"] == ["1513108459447745045", "1513108459447745046", "1513108459447745046"]
    # a parent without children has no cp-order or execution row
    columns, push = tables.CP_ORDERS.flatten([[order, other]])
    assert push == [0] and columns["parent_order_id"] == ["1513108459447745045"]


def test_order_cp_order_id_alias_is_accepted():
    order = {k: v for k, v in load("nexus_push_order")["data"][0].items() if k != "cpOrderid"}
    order["cpOrderId"] = "42"
    columns, _ = tables.ORDERS.flatten([[order]])
    assert columns["cp_orderid"] == ["42"]


# --- replies, unknown and malformed frames ------------------------------------------------------


def test_reply_echoing_a_sent_id_is_not_unknown():
    s = session(nexus.depth("BTCUSDT"), nexus.orders())
    s.start()
    ids = [orjson.loads(f)["id"] for f in s.take_outbox()]
    assert s.receive(json.dumps({"id": ids[0], "result": "ok"})) is None
    assert s.receive(json.dumps({"id": int(ids[1]), "code": 0})) is None  # same digits as a number
    s.ping()
    (ping,) = s.take_outbox()
    assert s.receive(json.dumps({"id": orjson.loads(ping)["id"], "event": "PONG"})) is None
    assert (s.unknown, s.malformed) == (0, 0)


@pytest.mark.parametrize(
    "frame",
    [
        '{"id": "1", "result": "ok"}',  # an id this session never sent
        '{"result": null}',
        "{}",
        '{"event": "API_QUOTE", "data": {}}',  # an event the client does not subscribe to
        '{"event": null, "data": []}',
        '{"id": ["1630055515109"]}',
    ],
    ids=short,
)
def test_unrelated_message_is_counted_as_unknown(frame):
    s = session(nexus.depth("BTCUSDT"))
    s.start()
    assert s.receive(frame) is None
    assert (s.unknown, s.malformed) == (1, 0)


@pytest.mark.parametrize(
    "frame",
    [
        '{"event": "API_MARKETDEPTH", "data": []}',  # depth data must be one object
        '{"event": "API_MARKETDEPTH", "data": "BTCUSDT"}',
        '{"event": "API_MARKETDEPTH", "data": null}',
        '{"event": "API_ORDER", "data": "x"}',
        '{"event": "API_ORDER", "data": 1513108459447745045}',
        '{"event": "API_RISK_POSITION", "data": null}',
        '{"event": "API_RISK_POSITION", "data": true}',
    ],
    ids=short,
)
def test_push_with_wrong_shaped_data_is_malformed(frame):
    s = session()
    assert s.receive(frame) is None
    assert s.receive(frame.encode()) is None
    assert (s.malformed, s.unknown) == (2, 0)


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        "{",
        '{"event": "API_ORDER", "data": [}',
        "[]",
        '[{"event": "API_MARKETDEPTH", "data": {}}]',
        "42",
        "1.5",
        '"API_ORDER"',
        "null",
        "true",
        "",
        "   ",
        b"",
        b"\xff\xfe\x00",
        b'{"event": "API_ORDER", "data": ["\xc3\x28"]}',  # invalid UTF-8 inside a string
        "[" * 5000 + "]" * 5000,  # deeper than any JSON parser nests
        '{"event": "API_ORDER", "data": NaN}',
    ],
    ids=short,
)
def test_malformed_frames_never_raise_and_are_counted(frame):
    s = session(nexus.orders())
    assert s.receive(frame) is None
    assert (s.malformed, s.unknown) == (1, 0)


def test_data_around_junk_is_not_lost():
    s = session(nexus.depth("BTCUSDT"))
    frames = [raw("nexus_push_depth"), "garbage", '{"hello": 1}', raw("nexus_push_depth").encode()]
    results = [s.receive(f) for f in frames]
    assert [r[0] if r else None for r in results] == ["API_MARKETDEPTH", None, None, "API_MARKETDEPTH"]
    assert (s.malformed, s.unknown) == (1, 1)


@pytest.mark.parametrize("frame", ['{"event": [], "data": {}}', '{"event": {"a": 1}, "data": []}'])
def test_unhashable_event_does_not_raise(frame):
    s = session()
    assert s.receive(frame) is None
    assert s.malformed + s.unknown == 1


def test_a_very_deeply_nested_frame_does_not_crash_the_process():
    code = (
        "from nexusdata.protocol.nexus import NexusSession\n"
        "s = NexusSession([])\n"
        "assert s.receive('[' * 300000 + ']' * 300000) is None\n"
        "assert s.receive(b'{\"event\": \"API_ORDER\", \"data\": ' + b'[' * 300000 + b']' * 300000 + b'}') is None\n"
        "print(s.malformed + s.unknown)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=Path(__file__).parent.parent
    )
    assert done.returncode == 0, done.stderr[-500:]
    assert done.stdout.strip() == "2"


def test_preview_is_short_and_scrubbed():
    s = session()
    text = s.preview(TOKEN + "y" * 10_000)
    assert TOKEN not in text and "***" in text
    assert len(text) < 200 and "10028 chars" in text
    assert s.preview(b"\xffabc") == repr("\ufffdabc")


def test_session_without_token_scrubs_nothing():
    s = nexus.NexusSession([], token="")
    assert s.scrub("abc") == "abc"


def test_session_is_a_session():
    s = session()
    assert isinstance(s, Session)
    assert (s.malformed, s.unknown, s.error, s.finished, s.outbox) == (0, 0, None, False, [])


def test_ready_once_started():
    s = session(nexus.orders())
    assert not s.ready
    s.start()
    assert s.ready


def test_known_event_without_data_is_malformed():
    s = session(nexus.depth("BTCUSDT"))
    s.start()
    assert s.receive('{"event": "API_ORDER"}') is None
    assert (s.unknown, s.malformed) == (0, 1)


def test_peek_tells_a_documented_push_by_its_prefix_only():
    s = session(nexus.depth("BTCUSDT"), nexus.orders())
    assert s.peek(b'{"event":"API_MARKETDEPTH","data":{"asks":[]}}') == "API_MARKETDEPTH"
    assert s.peek(b'{"event":"API_ORDER","data":[{"clientOrderId":"1"}]}') == "API_ORDER"
    assert s.peek(b'{"event":"API_ORDER","data":[]}') is None  # no order in it: decode it
    assert s.peek(b'{"event":"API_MARKETDEPTH","data":{"code":10003}}') is None  # a reply, not a book
    assert s.peek(b'{"event":"API_RISK_POSITION","data":[]}') is None  # not subscribed
    assert s.peek(b'{"data":{}, "event":"API_MARKETDEPTH"}') is None  # other key order: decode it
    assert s.peek(b'{"event": "API_MARKETDEPTH", "data": {}}') is None  # other spacing: decode it
