"""Property tests: no frame makes a session raise, and flattening either works or fails only with
the TypeError/AttributeError the caller uses to single out a bad payload.

Inputs come from three sources:

- arbitrary text and bytes;
- arbitrary JSON values built with ``st.recursive``;
- the spec examples (``tests/fixtures/spec``) mutated: keys dropped or renamed, values of the wrong
  type, huge numbers and out-of-range number literals, deep nesting, other response codes,
  invalid UTF-8, lone surrogates, truncation.

Hypothesis costs about a millisecond per example on the CI machines, so the mutations are driven
by one drawn seed (``random.Random(seed)``) instead of a strategy per decision: a failing example
is reproduced from the seed it reports.
"""

from __future__ import annotations

import copy
import json
import os
import random
from typing import Any

import orjson
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from spec_examples import TABLE_SOURCE, load

from nexusdata.errors import ConnectionFailedError, ServerError
from nexusdata.frames import TableBuffer
from nexusdata.frames.buffer import schema
from nexusdata.protocol import chainext, nexus, tables
from nexusdata.protocol.chainext import ChaiNextSession, IndexSubscription
from nexusdata.protocol.nexus import NexusSession
from nexusdata.protocol.replies import code_of, is_reply
from nexusdata.protocol.session import batch

TOKEN = "WHZWUFAxWlV0bzdMMzl5N1dmYy1z"
API_KEY = "fuzz-key"
API_SECRET = "fuzz-secret-9f8e7d"

EXAMPLES = int(os.environ.get("NEXUSDATA_FUZZ_EXAMPLES", "1500"))
"""Examples per fuzz test: enough for every run (a new random seed each time) to keep the default
suite under 5 minutes; ``NEXUSDATA_FUZZ_EXAMPLES=20000 pytest tests/test_fuzz_protocol.py`` digs
deeper."""

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


def _load(name: str) -> dict[str, Any]:
    return load(name)


NEXUS_NAMES = (
    "nexus_push_depth",
    "nexus_push_order",
    "nexus_push_risk",
    "nexus_ping",
    "nexus_subscribe_depth",
    "nexus_subscribe_order",
    "nexus_subscribe_risk",
)
CHAINEXT_NAMES = (
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
)
CLOCK = 1630055515.1095
SENT_IDS = ("1630055515109", "1630055515110", "1630055515111")  # what start() sends at CLOCK
NEXUS_MESSAGES = [_load(n) for n in NEXUS_NAMES] + [{"id": i, "result": None} for i in SENT_IDS]
CHAINEXT_MESSAGES = [_load(n) for n in CHAINEXT_NAMES] + [
    chainext.reply(op, 2010, topic="coin_index", id="1") for op in ("subscribeResponse", "unsubscribeResponse")
]
PAYLOADS = [(m.get("data", m.get("args"))) for m in (_load(n) for n in sorted(set(TABLE_SOURCE.values())))]


def _keys_of(value: Any, out: set[str]) -> set[str]:
    if isinstance(value, dict):
        out.update(value)
        for v in value.values():
            _keys_of(v, out)
    elif isinstance(value, list):
        for v in value:
            _keys_of(v, out)
    return out


KNOWN_KEYS = sorted(_keys_of(NEXUS_MESSAGES + CHAINEXT_MESSAGES, {"code", "info", "topic", "id", "side", "cpOrderId"}))
KNOWN_STRINGS = sorted(
    {
        *nexus.EVENTS,
        *chainext.TOPICS,
        "loginResponse",
        "subscribeResponse",
        "unsubscribeResponse",
        "logoutResponse",
        "pong",
        "ping",
        "login",
        "1",
        "18",
        "SUBSCRIBE",
        "",
        *SENT_IDS,
        TOKEN,
        API_SECRET,
    }
)
CODES = sorted(chainext.CODES)
HUGE_NUMBERS = [10**30, -(10**30), 2**63, 2**64, -(2**63) - 1, 1e308, -1e308, 5e-324, 10**400, -(10**400)]
HUGE_LITERALS = ["1e400", "-1e400", "1" * 500, "-" + "9" * 400, "0." + "1" * 400, "1E+9999", "NaN", "Infinity"]
ODD_CHARS = "aZ09 _-.:/\\\"'\n\t\x00\x1f\u00e9\u4e2d\u200b\U0001f600"

# --- the hypothesis strategies -------------------------------------------------------------------

scalars = (
    st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10)
    | st.sampled_from([None, True, False, *KNOWN_STRINGS, *CODES, *HUGE_NUMBERS])
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(KNOWN_KEYS) | st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=6,
)
seeds = st.integers(0, 2**32 - 1)

# --- seed-driven generators and mutations (plain Python: cheap per example) ---------------------


def rand_text(r: random.Random) -> str:
    if r.random() < 0.3:
        return r.choice(KNOWN_STRINGS)
    return "".join(r.choice(ODD_CHARS) for _ in range(r.randrange(12)))


def rand_scalar(r: random.Random) -> Any:
    pick = r.randrange(9)
    if pick == 0:
        return None
    if pick == 1:
        return r.random() < 0.5
    if pick == 2:
        return r.randint(-(2**70), 2**70)
    if pick == 3:
        return r.choice(HUGE_NUMBERS)
    if pick == 4:
        return r.uniform(-1e9, 1e9)
    if pick == 5:
        return r.choice(CODES)
    return rand_text(r)


def rand_json(r: random.Random, depth: int = 0) -> Any:
    roll = r.random()
    if depth >= 3 or roll < 0.5:
        return rand_scalar(r)
    if roll < 0.75:
        return [rand_json(r, depth + 1) for _ in range(r.randrange(4))]
    return {r.choice(KNOWN_KEYS) if r.random() < 0.7 else rand_text(r): rand_json(r, depth + 1) for _ in range(r.randrange(5))}


def deep(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value] if depth % 2 else {"a": value}
    return value


def _spots(value: Any) -> list[tuple[Any, Any]]:
    """Every (container, key) pair inside ``value``."""
    out: list[tuple[Any, Any]] = []
    stack = [value]
    while stack:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for k, v in items:
            out.append((node, k))
            stack.append(v)
    return out


_DEEP_TAG = "__fuzz_deep_{}__"


def mutate(value: Any, r: random.Random, deep_text: dict[str, str] | None) -> Any:
    """``value`` (a deep copy) with one to four random mutations. With ``deep_text`` a deep
    nesting becomes a placeholder filled in as text (deeper than Python's json can write)."""
    value = copy.deepcopy(value)
    for _ in range(r.randint(1, 4)):
        spots = _spots(value)
        if not spots:
            return value
        container, key = r.choice(spots)
        how = r.randrange(11)
        if how == 0:
            del container[key]
        elif how == 1:
            container[key] = rand_json(r)
        elif how == 2:
            container[key] = r.choice(HUGE_NUMBERS)
        elif how == 3:
            if deep_text is None:
                container[key] = deep(r.randint(1, 200))
            else:
                tag = _DEEP_TAG.format(len(deep_text))
                n = r.randint(1, 1500)
                opener, closer = r.choice([("[", "]"), ('{"a":', "}")])
                deep_text[f'"{tag}"'] = opener * n + r.choice(['"x"', "1", "null", "{}"]) + closer * n
                container[key] = tag
        elif how == 4:
            container[key] = r.choice([[container[key]], {"v": container[key]}])
        elif how == 5:
            container[key] = r.choice([[], {}, "", 0, None, False])
        elif how == 6:
            container[key] = json.dumps(container[key])
        elif how == 7 and isinstance(container, list):
            container.append(copy.deepcopy(container[key]))
        elif how == 8 and isinstance(container, dict):  # rename the key
            container[r.choice(KNOWN_KEYS) if r.random() < 0.5 else rand_text(r)] = container.pop(key)
        elif how == 9:  # another response code wherever a code lives
            for node, k in spots:
                if k == "code":
                    node[k] = r.choice(CODES)
        elif how == 10 and isinstance(container[key], (int, float)) and not isinstance(container[key], bool):
            container[key] = str(container[key])
    return value


def corrupt(text: str, r: random.Random) -> bytes | str:
    """The frame as str or bytes, sometimes damaged."""
    how = r.randrange(10)
    if how <= 2:
        return text
    if how <= 5:
        return text.encode()
    if how == 6:
        data = text.encode()
        at = r.randrange(len(data) + 1)
        return data[:at] + r.choice([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x80", b"\x00"]) + data[at:]
    if how == 7:
        at = r.randrange(len(text) + 1)
        return text[:at] + "\ud800" + text[at:]
    if how == 8:
        digits = [i for i, ch in enumerate(text) if ch.isdigit()]
        if digits:
            i = r.choice(digits)
            return text[:i] + r.choice(HUGE_LITERALS) + text[i + 1 :]
        return text
    return text[: r.randrange(len(text) + 1)]


def serialise(value: Any, r: random.Random, deep_text: dict[str, str] | None = None) -> str:
    text = json.dumps(value, ensure_ascii=r.random() < 0.5)
    for tag, nested in (deep_text or {}).items():
        text = text.replace(tag, nested)
    return text


def _mutated_frame(originals: list[Any], seed: int) -> bytes | str:
    r = random.Random(seed)
    deep_text: dict[str, str] = {}
    value = r.choice(originals)
    if r.random() < 0.9:
        value = mutate(value, r, deep_text)
    return corrupt(serialise(value, r, deep_text), r)


def _json_frame(value: Any, seed: int) -> bytes | str:
    r = random.Random(seed)
    return corrupt(serialise(value, r), r)


# Hypothesis favours 0 (and skews ``one_of`` towards the costlier branches), so the kind of input
# is picked by hand: about 10% st.recursive JSON, 7% arbitrary text or bytes, the rest mutations.
JSON_KINDS = (11, 12, 13)


@st.composite
def frames(draw, originals: list[Any]) -> bytes | str:
    kind = draw(st.integers(0, 29))
    if kind == 7:
        return draw(st.text(max_size=80))
    if kind == 8:
        return draw(st.binary(max_size=80))
    if kind in JSON_KINDS:
        return _json_frame(draw(json_values), draw(seeds))
    return _mutated_frame(originals, draw(seeds))


# --- the sessions --------------------------------------------------------------------------------

NOT_JSON = object()  # what _decode returns for a frame that is not JSON


def _decode(frame: bytes | str) -> Any:
    try:
        return orjson.loads(frame)
    except orjson.JSONDecodeError:
        return NOT_JSON


def _receive(session, frame):
    """``session.receive(frame)`` with the decoded message, for the assertions."""
    return session.receive(frame), _decode(frame)


NEXUS_SUBS = (nexus.depth("BTCUSDT", 5), nexus.orders(), nexus.risk("BTCUSDT", "A"))


@FUZZ
@given(frame=frames(NEXUS_MESSAGES))
def test_nexus_session_never_raises(frame):
    s = NexusSession(NEXUS_SUBS, token=TOKEN, clock=lambda: CLOCK)
    s.start()
    assert tuple(orjson.loads(f)["id"] for f in s.take_outbox()) == SENT_IDS
    result, message = _receive(s, frame)
    counters = (s.malformed, s.unknown)
    assert s.outbox == []
    if s.error is not None:  # only a ChaiNext-shaped message is taken as the wrong server
        assert isinstance(s.error, ConnectionFailedError) and {"op", "args"} <= set(message) and "event" not in message
        return

    if message is NOT_JSON or not isinstance(message, dict):
        assert result is None and counters == (1, 0)
        return
    event, data = message.get("event"), message.get("data")
    known = isinstance(event, str) and event in nexus.EVENTS
    if known and "data" in message and not is_reply(data):
        shaped = (isinstance(data, dict) or batch(data)) if event == nexus.MARKETDEPTH else isinstance(data, (list, dict))
        if shaped:
            assert result == (event, data) and counters == (0, 0)
        else:
            assert result is None and counters == (1, 0)
        return
    assert result is None
    rid = message.get("id")
    echoed = isinstance(rid, (str, int)) and not isinstance(rid, bool) and str(rid) in SENT_IDS
    if echoed:
        assert counters == (0, 0) and s.replies
    else:  # a reply without a request id, an unknown message, or a known event without data
        assert sum(counters) <= 1


SUBS = (IndexSubscription("coin_index", "1"), IndexSubscription("pair_index_v3", "1"))
REPLIES = ("loginResponse", "subscribeResponse", "unsubscribeResponse", "logoutResponse")


@FUZZ
@given(frame=frames(CHAINEXT_MESSAGES), state=st.sampled_from(["new", "logged_in", "stopping"]))
@example(frame=b'{"op":"loginResponse","args":{"code":"2010"}}', state="logged_in")  # a code as text: log in again
def test_chainext_session_never_raises(frame, state):
    s = ChaiNextSession(SUBS, API_KEY, API_SECRET, clock=lambda: CLOCK)
    s.start()
    if state != "new":
        s.receive(orjson.dumps(chainext.reply("loginResponse", 2001)))
        s.receive(orjson.dumps(chainext.reply("subscribeResponse", 2001, topic="coin_index", id="1")))
    if state == "stopping":
        s.finish()
    s.take_outbox()
    result, message = _receive(s, frame)
    counters = (s.malformed, s.unknown)
    assert s.error is None or isinstance(s.error, (ServerError, ConnectionFailedError))
    for out in s.outbox:  # whatever it queued is a valid request
        assert orjson.loads(out)["op"] in ("login", "subscribe", "unsubscribe", "logout")
    assert API_SECRET not in "".join(s.outbox)

    if message is NOT_JSON or not isinstance(message, dict):
        assert result is None and counters == (1, 0)
        return
    op, args = message.get("op"), message.get("args")
    if isinstance(op, str) and op in chainext.TOPICS:
        if (isinstance(args, dict) and not is_reply(args)) or batch(args):
            assert result == (op, args) and counters == (0, 0)
        else:
            assert result is None and sum(counters) <= 1
        return
    assert result is None
    if not isinstance(op, str) or (args is not None and not isinstance(args, dict)):
        assert counters == (1, 0) or isinstance(s.error, ConnectionFailedError)
    elif op == "pong":
        assert counters == (0, 0) and s.replies[-1].request == "ping"
    elif chainext.answered_op(op) is None and not (args and code_of(args.get("code")) == chainext.LOGIN_AGAIN) and state != "new":
        assert counters == (0, 1)
    else:
        assert s.malformed + s.unknown <= 1


# --- the data path: frames that start like a push skip the session --------------------------------
# ``Session.peek`` sends a frame that starts exactly as the documents show pushes (compact JSON,
# ``{"event":"API_MARKETDEPTH","data":`` ...) straight to the frames layer, which parses it with
# the rest of its batch. Damage after that prefix must cost that one push and nothing else.

PUSHES = [m for m in NEXUS_MESSAGES + CHAINEXT_MESSAGES if "data" in m or m.get("op") in chainext.TOPICS]
DATA_PATH_SESSIONS = {
    "nexus": NexusSession([nexus.depth("BTCUSDT"), nexus.orders(), nexus.risk("BTCUSDT", "A")], token=TOKEN),
    "chainext": ChaiNextSession([IndexSubscription(t, "1") for t in chainext.TOPICS], API_KEY, API_SECRET),
}
DATA_PATH_TABLES = {**nexus.DEFAULT_TABLES, **chainext.TOPICS}


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _push_frame(message: dict[str, Any], seed: int) -> bytes:
    """The push ``message`` as compact JSON, its payload mutated and the text after the push
    prefix sometimes damaged (the prefix itself intact, so :meth:`Session.peek` takes it)."""
    r = random.Random(seed)
    envelope = "data" if "event" in message else "args"
    head = _compact(message)[: _compact(message).index(f'"{envelope}":') + len(envelope) + 3]
    deep_text: dict[str, str] = {}
    payload = mutate(message[envelope], r, deep_text) if r.random() < 0.9 else message[envelope]
    text = serialise(payload, r, deep_text) + "}"
    rest = corrupt(text[1:], r)  # the payload's first character may be part of the prefix ("{")
    data = text[0].encode() + (rest if isinstance(rest, bytes) else rest.encode("utf-8", "surrogatepass"))
    # Invalid UTF-8 after the prefix is pinned by test_a_bad_push_costs_that_push_only[invalid_utf8].
    return head.encode() + data.decode("utf-8", "replace").encode()


def _reference_rows(table: tables.Table, envelope: str, frame: bytes) -> int | None:
    """Rows the push makes when decoded and flattened on its own; ``None``: malformed (it does
    not flatten, or puts a list or object where a column wants a value)."""
    decoded = _decode(frame)
    try:
        columns, push = table.flatten([decoded[envelope]]) if isinstance(decoded, dict) else (None, None)
    except (TypeError, AttributeError, KeyError):
        return None
    if columns is None or any(isinstance(v, (list, dict)) for values in columns.values() for v in values):
        return None
    return len(push)


READ_AT = 1_000  # ns: the read's time; its n-th frame is stamped n ns later


@settings(FUZZ, max_examples=max(EXAMPLES // 3, 1))
@given(which=st.integers(0, 2**16), batch=st.lists(seeds, min_size=1, max_size=6))
# frames/columns.py converts absurd epoch values (1e308) with numpy warnings, then drops them: noise.
@pytest.mark.filterwarnings("ignore:overflow encountered in multiply:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning")
def test_push_frames_become_rows_or_malformed_pushes(which, batch):
    """A socket read's worth of push frames (fuzzed, then a good one) in one buffer: each becomes
    exactly the rows its JSON makes or one malformed push; nothing is raised, nothing else lost."""
    message = PUSHES[which % len(PUSHES)]
    feed, envelope = ("nexus", "data") if "event" in message else ("chainext", "args")
    kind = message.get("event", message.get("op"))
    fuzzed = (_push_frame(message, seed) for seed in batch)
    # Frames mutated out of push shape go to Session.receive (fuzzed above) instead.
    frames = [f for f in fuzzed if DATA_PATH_SESSIONS[feed].peek(f) == kind]
    frames.append(_compact(message).encode())
    expected = [_reference_rows(DATA_PATH_TABLES[kind], envelope, f) for f in frames]
    buffer = TableBuffer(DATA_PATH_TABLES[kind])
    buffer.extend(frames, READ_AT, 1)
    df = buffer.dataframe()
    assert list(df.columns) == [name for name, _ in schema(DATA_PATH_TABLES[kind])]
    stamps = ((df["received_at"] - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(1, "ns")).value_counts()
    assert [int(stamps.get(READ_AT + i, 0)) for i in range(len(frames))] == [n or 0 for n in expected]
    assert buffer.malformed == expected.count(None)


_PAIR = '{"op":"pair_index","args":{"symbol":"BNB","cmcSymbol":"binance-coin","latest":"0.3745","updateTime":1558863261785,"cid":18,"exchangeInfos":%s}}'
_V3 = '{"op":"coin_index_v3","args":{"underlyingSymbol":%s,"underlyingCid":1,"quoteSymbol":"USD","quoteCid":100000,"price":%s,"status":1,"updateTime":1578207030000}}'
BAD_PUSHES = [
    pytest.param(tables.DEPTH, _compact(_load("nexus_push_depth")).replace('"cp":"', '"cp":"\udcff', 1), id="invalid_utf8"),
    pytest.param(tables.PAIR_INDEX, _PAIR % '[null,{"market":"OKEx","pair":"BNB"}]', id="null_then_item"),
    pytest.param(tables.COIN_INDEX_V3, _V3 % ("[" * 1000 + "1" + "]" * 1000, "1.5"), id="deep_nesting"),
    pytest.param(tables.RISK, '{"event":"API_RISK_POSITION","data":[null]}', id="null_item"),
    pytest.param(tables.COIN_INDEX_V3, _V3 % ('"ETH"', "NaN"), id="lenient_json"),
]


@pytest.mark.parametrize("table, bad", BAD_PUSHES)
def test_a_bad_push_costs_that_push_only(table, bad):
    """One push the reference path rejects, between two good ones: counted malformed, no rows,
    nothing raised, both good pushes kept."""
    source = _load(TABLE_SOURCE[table.name])
    good = _compact(source).encode()
    good_rows = len(table.flatten([source.get("data", source.get("args"))])[1])
    buffer = TableBuffer(table)
    buffer.extend([good, bad.encode("utf-8", "surrogateescape"), good], 1_000, 1)
    df = buffer.dataframe()
    assert (buffer.malformed, len(df)) == (1, 2 * good_rows)


# --- flattening ----------------------------------------------------------------------------------

ALL_TABLES = list(tables.TABLES.values())


def _check_flatten(table: tables.Table, batch: list[Any]) -> None:
    names = [c for c, _ in table.columns]
    try:
        columns, push = table.flatten(batch)
    except (TypeError, AttributeError):
        # the caller's way out: flattening one payload at a time singles out a bad one
        assert any(_fails(table, p) for p in batch), "the batch failed but every payload flattens on its own"
        return
    assert list(columns) == names
    assert all(len(v) == len(push) for v in columns.values())
    assert push == sorted(push) and all(0 <= i < len(batch) for i in push)
    # the batch is the concatenation of its payloads flattened one by one
    for i, p in enumerate(batch):
        single, single_push = table.flatten([p])
        rows = [j for j, k in enumerate(push) if k == i]
        assert single_push == [0] * len(rows)
        for name in names:
            assert single[name] == [columns[name][j] for j in rows], name


def _fails(table: tables.Table, payload: Any) -> bool:
    try:
        table.flatten([payload])
    except (TypeError, AttributeError):
        return True
    return False


def _batch(seed: int) -> list[Any]:
    r = random.Random(seed)
    batch = []
    for _ in range(r.randrange(5)):
        roll = r.random()
        if roll < 0.2:
            batch.append(copy.deepcopy(r.choice(PAYLOADS)))
        elif roll < 0.85:
            batch.append(mutate(r.choice(PAYLOADS), r, None))
        else:
            batch.append(rand_json(r))
    return batch


@st.composite
def payload_batches(draw) -> list[Any]:
    kind = draw(st.integers(0, 29))
    if kind in JSON_KINDS:
        return [*_batch(draw(seeds))[:2], draw(json_values)]
    return _batch(draw(seeds))


@FUZZ
@given(batch=payload_batches())
def test_every_table_flattens_into_equal_columns_or_raises_the_documented_errors(batch):
    for table in ALL_TABLES:
        _check_flatten(table, batch)


def test_fixture_payloads_flatten_without_error():
    for name, source in TABLE_SOURCE.items():
        message = _load(source)
        payload = message.get("data", message.get("args"))
        columns, push = tables.TABLES[name].flatten([payload])
        assert push and all(len(v) == len(push) for v in columns.values())


def test_mutations_reach_the_interesting_paths():
    """The generators are not vacuous: over a fixed set of seeds they produce pushes, replies,
    unknown and malformed frames for both sessions and both outcomes of flatten."""
    outcomes: dict[str, set[str]] = {"nexus": set(), "chainext": set()}
    for seed in range(400):
        r = random.Random(seed)
        for feed, originals, make in (
            ("nexus", NEXUS_MESSAGES, lambda: NexusSession(NEXUS_SUBS, token=TOKEN, clock=lambda: CLOCK)),
            ("chainext", CHAINEXT_MESSAGES, lambda: ChaiNextSession(SUBS, API_KEY, API_SECRET, clock=lambda: CLOCK)),
        ):
            s = make()
            s.start()
            s.take_outbox()
            deep_text: dict[str, str] = {}
            frame = corrupt(serialise(mutate(r.choice(originals), r, deep_text), r, deep_text), r)
            result, _ = _receive(s, frame)
            if result is not None:
                outcomes[feed].add("push")
            elif s.malformed:
                outcomes[feed].add("malformed")
            elif s.unknown:
                outcomes[feed].add("unknown")
            else:
                outcomes[feed].add("handled")
    for feed in outcomes:
        assert {"push", "malformed", "unknown", "handled"} <= outcomes[feed], (feed, outcomes[feed])
    flat = {(t.name, _fails(t, p)) for seed in range(200) for p in _batch(seed) for t in ALL_TABLES}
    for table in ALL_TABLES:
        assert (table.name, True) in flat and (table.name, False) in flat
