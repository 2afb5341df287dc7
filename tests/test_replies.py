"""The reply rule, the reply log, silent subscriptions and ChaiNext's login tolerance, sans-I/O:
sessions driven with plain strings and a clock the test moves (no sockets, no sleeps)."""

from __future__ import annotations

import json

import pytest

from nexusdata.errors import ConnectionFailedError, ServerError, SubscriptionError
from nexusdata.protocol import SERVICES, chainext, nexus
from nexusdata.protocol.chainext import ChaiNextSession, IndexSubscription
from nexusdata.protocol.nexus import NexusSession
from nexusdata.protocol.replies import code_of, judge
from nexusdata.protocol.session import SILENT_AFTER

OK, NEXUS = frozenset({2001}), nexus.SUCCESS_CODES


class Clock:
    """A clock the test sets."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("fields", "codes", "outcome"),
    [
        ({"code": 2001, "info": "success"}, OK, "ok"),
        ({"code": "2001"}, OK, "ok"),
        ({"code": 9999, "info": "success"}, OK, "ok"),
        ({"status": "OK"}, NEXUS, "ok"),
        ({"success": True}, NEXUS, "ok"),
        ({"code": 0}, NEXUS, "ok"),
        ({"code": 3007, "info": "coin absent"}, OK, "refused"),
        ({"code": 10003, "msg": "symbol not found"}, NEXUS, "refused"),
        ({"error": {"code": 10003, "message": "symbol not found"}}, NEXUS, "refused"),
        ({"error": "bad symbol"}, NEXUS, "refused"),
        ({"success": False}, NEXUS, "refused"),
        ({"status": "ERROR", "message": "unknown symbol"}, NEXUS, "refused"),
        ({"msg": "Permission denied"}, NEXUS, "refused"),
        ({"id": "1", "action": "SUBSCRIBE"}, NEXUS, "ack"),
        ({}, OK, "ack"),
    ],
)
def test_the_reply_rule(fields: dict, codes: frozenset, outcome: str) -> None:
    assert judge(fields, codes).outcome == outcome


def test_codes_as_numbers_or_numeric_strings() -> None:
    assert [code_of(v) for v in (2001, "2001", " 3007 ", 2001.0, "E42", True, None, {"v": 1})] == [
        2001,
        2001,
        3007,
        2001,
        "E42",
        None,
        None,
        None,
    ]


@pytest.mark.parametrize(("op", "answers"), [("loginResponse", "login"), ("login", "login"), ("LOGIN_RESPONSE", "login"),
                                              ("subscribe_ack", "subscribe"), ("pong", "ping"), ("coin_index", None),
                                              ("response", None)])  # fmt: skip
def test_reply_ops_are_recognised_by_the_request_they_name(op: str, answers: str | None) -> None:
    assert chainext.answered_op(op) == answers


def test_a_nexus_subscription_silent_for_a_while_is_reported_once() -> None:
    clock = Clock()
    s = NexusSession([nexus.depth("NOSUCH")], token="secret-token", clock=clock)
    s.start()
    assert s.silent(clock()) == [] and s.awaiting
    clock.now += SILENT_AFTER - 0.1
    assert s.silent(clock()) == []
    clock.now += 0.2
    (silence,) = s.silent(clock())
    assert "NOSUCH" in silence.message and "permission" in silence.message
    clock.now += 60
    assert s.silent(clock()) == [] and not s.awaiting and s.error is None


def test_a_push_or_a_reply_means_a_subscription_is_not_silent() -> None:
    clock = Clock()
    s = NexusSession([nexus.depth("BTCUSDT"), nexus.depth("ETHUSDT")], token="t0k", clock=clock)
    s.start()
    ids = [json.loads(f)["id"] for f in s.take_outbox()]
    s.saw_frames(["API_MARKETDEPTH"], [b'{"event":"API_MARKETDEPTH","data":{"asks":[],"bids":[],"symbol":"BTCUSDT"}}'])
    s.receive(json.dumps({"id": ids[1], "status": "OK"}))
    clock.now += 60
    assert s.silent(clock()) == [] and [r.outcome for r in s.replies] == ["ok"]


def test_a_nexus_refusal_ends_its_subscription_alone_until_none_is_left() -> None:
    s = NexusSession([nexus.depth("BTCUSDT"), nexus.depth("NOSUCH")], token="t0k")
    s.start()
    good, bad = [json.loads(f)["id"] for f in s.take_outbox()]
    s.receive(json.dumps({"id": bad, "code": 10003, "msg": "symbol not found"}))
    assert s.error is None and list(s.refused) == [nexus.depth("NOSUCH")]
    s.finish()
    assert [json.loads(f)["symbol"] for f in s.take_outbox()] == ["BTCUSDT"]  # only the live one is unsubscribed
    s2 = NexusSession([nexus.depth("NOSUCH")], token="t0k")
    s2.start()
    (only,) = [json.loads(f)["id"] for f in s2.take_outbox()]
    s2.receive(json.dumps({"id": only, "error": {"code": 10003, "message": "symbol not found"}}))
    assert isinstance(s2.error, SubscriptionError) and s2.error.code == 10003


def test_a_chainext_login_without_a_recognisable_reply_subscribes_once_then_says_so() -> None:
    clock = Clock()
    s = ChaiNextSession([IndexSubscription("coin_index", "1")], "key", "secret", clock=clock)
    s.start()
    s.take_outbox()
    s.receive('{"op": "welcome", "data": {"hello": 1}}')  # no reply keys: not taken for the login
    clock.now += chainext.LOGIN_WAIT
    (waited,) = s.silent(clock())
    assert "no login reply" in waited.message and "welcome" in waited.message
    assert [json.loads(f)["op"] for f in s.take_outbox()] == ["subscribe"]
    clock.now += SILENT_AFTER
    assert s.silent(clock()) and isinstance(s.error, ServerError)
    assert "never answered the login" in str(s.error) and "secret" not in str(s.error)


def test_2004_answering_a_relogin_asks_for_a_fresh_connection() -> None:
    s = ChaiNextSession([IndexSubscription("coin_index", "1")], "key", "secret")
    s.start()
    s.receive(json.dumps(chainext.reply("loginResponse", 2001)))
    s.receive(json.dumps(chainext.reply("subscribeResponse", 2001, topic="coin_index", id="1")))
    s.receive(json.dumps(chainext.reply("error", 2010)))
    s.receive(json.dumps(chainext.reply("loginResponse", 2004)))
    assert s.error is None and s.reconnect is not None and "2004" in s.reconnect
    first = ChaiNextSession([IndexSubscription("coin_index", "1")], "key", "secret")
    first.start()
    first.receive(json.dumps(chainext.reply("loginResponse", 2004)))  # not after a 2010: refused credentials
    assert first.error is not None and first.error.code == 2004


@pytest.mark.parametrize(("offset", "says"), [(900.0, "900s ahead of"), (-400.0, "400s behind"), (3.0, "check the API key"),
                                              (None, "no Date header")])  # fmt: skip
def test_a_refused_signature_compares_the_clocks(offset: float | None, says: str) -> None:
    s = ChaiNextSession([IndexSubscription("coin_index", "1")], "key", "secret")
    s.clock_offset = offset
    s.start()
    s.receive(json.dumps(chainext.reply("loginResponse", 2012)))
    assert s.error is not None and says in str(s.error)


def test_the_other_feeds_messages_are_named() -> None:
    """Sessions made as the transport makes them, from the services' registry, which tells each
    the other services' message shapes."""
    n = SERVICES["nexus"].session([nexus.orders()], {"token": "t0k"})
    n.start()
    n.receive(json.dumps(chainext.reply("error", 3001)))
    assert isinstance(n.error, ConnectionFailedError) and "looks like a ChaiNext server" in str(n.error)
    c = SERVICES["chainext"].session([IndexSubscription("coin_index", "1")], {"api_key": "key", "api_secret": "secret"})
    c.start()
    c.receive(json.dumps({"id": None, "action": None, "event": None, "status": "ERROR", "message": "unknown action"}))
    assert isinstance(c.error, ConnectionFailedError) and "looks like a Nexus server" in str(c.error)


def test_an_echo_with_an_unknown_request_id_is_an_answer_not_a_malformed_push() -> None:
    """A server that renumbers requests (or a trace served back) echoes ids this session never
    sent: the echo still answers the subscription its event and symbol name."""
    s = NexusSession([nexus.depth("BTCUSDT")], token="t0k")
    s.start()
    s.receive(json.dumps({"id": "1", "action": "SUBSCRIBE", "event": "API_MARKETDEPTH", "status": "OK"}))
    s.receive(json.dumps({"id": "2", "action": "UNSUBSCRIBE", "event": "API_MARKETDEPTH", "status": "ERROR"}))
    assert (s.malformed, s.unknown) == (0, 0) and not s.awaiting and not s.refused
    assert [(r.request, r.outcome) for r in s.replies] == [
        ("subscribe API_MARKETDEPTH BTCUSDT", "ok"),
        ("unsubscribe API_MARKETDEPTH BTCUSDT", "refused"),
    ]
