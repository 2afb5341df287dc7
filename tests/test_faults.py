"""The client under every fault the simulator injects, over real loopback sockets: what it
received is checked push by push against what the simulator sent.

"Sent while connected", defined strictly (see :func:`audit`): every push the simulator wrote on
a connection arrives exactly once, in order, on one client connection, with no hole; only pushes
written just before an abrupt TCP drop (or after the client gave up on a stalled connection) may be
missing, and only at the end of that connection.
Each test stops the simulator before the client, so every other connection ends with the
server's close frame behind its last push, and nothing may be missing there at all.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
import pandas as pd
import pytest

import nexusdata as nd
from nexusdata.config import split_conn
from nexusdata.feed import Feed
from nexusdata.protocol import IndexSubscription, Table, nexus, tables
from nexusdata.sim import SentPush, Simulator
from nexusdata.sim.faults import JUNK_KINDS, Faults

pytestmark = pytest.mark.timeout(60)

FAST = {"stall_timeout": 0.5, "pong_timeout": 0.5, "backoff_base": 0.05, "backoff_cap": 0.5, "connect_timeout": 2.0}
"""Connection options that make a test's reconnects quick."""
WAIT = 15.0  # seconds any one wait may take before the test fails
UNKNOWN_JUNK = {"unknown_event"}  # junk counted as unknown; every other kind is malformed


# -- the audit: what was received against what was sent -------------------------------------------


@dataclass
class Delivery:
    """How the pushes a simulator sent arrived in a client's DataFrame (counts of pushes)."""

    sent: int
    received: int
    duplicates: int  # sent pushes that arrived more than once
    unexpected: int  # rows that match no sent push
    torn: int  # pushes only some of whose rows arrived
    holes: int  # pushes missing although a later push of the same connection arrived
    reordered: int  # server connections whose pushes arrived out of order
    split: int  # server connections whose pushes arrived on more than one client connection
    tail: dict[int, int] = field(default_factory=dict)  # pushes after the last one received, per connection
    client: dict[int, int] = field(default_factory=dict)  # server connection -> client connection

    def lost(self, aborted: Sequence[int] = ()) -> int:
        """Pushes sent while connected and never received: holes anywhere, and the tail of every
        connection that did not end in an abrupt drop (``aborted``)."""
        return self.holes + sum(n for c, n in self.tail.items() if c not in aborted)

    def assert_exact(self, aborted: Sequence[int] = ()) -> None:
        """Nothing lost, duplicated, torn, reordered, split or made up."""
        assert (self.lost(aborted), self.duplicates, self.unexpected, self.torn, self.reordered, self.split) == (
            0, 0, 0, 0, 0, 0,
        ), self  # fmt: skip


def _canonical(kind: str, value: Any) -> Any:
    """A cell as the same plain value whether it comes raw from the JSON or typed from the
    DataFrame (the dtypes of docs/schemas.md), so sent and received rows can be matched exactly."""
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value):
        return 0 if kind == "int" else None
    if kind == "float":
        return float(f"{float(value):.12g}")
    if kind == "time":
        if isinstance(value, pd.Timestamp):
            return value.value // 1_000_000
        epoch = int(value)
        return None if epoch == 0 else epoch * 1000 if epoch < 100_000_000_000 else epoch
    if kind in ("int", "position"):
        return int(value)
    return str(value)


def _row_keys(columns: dict[str, list[Any]], table: Table) -> list[int]:
    canonical = [[_canonical(kind, v) for v in columns[name]] for name, kind in table.columns]
    return [hash(row) for row in zip(*canonical)]


def sent_rows(sent: Sequence[SentPush], table: Table, first: int = 0) -> pd.DataFrame:
    """One row per row the client should make of ``sent``: its key, the push's number (``first``
    for ``sent[0]``, and on) and the server's connection number."""
    payloads = []
    for push in sent:
        message = orjson.loads(push.text)
        payloads.append(message.get("data", message.get("args")))
    columns, push_of_row = table.flatten(payloads)
    return pd.DataFrame(
        {
            "key": _row_keys(columns, table),
            "push": [first + i for i in push_of_row],
            "server": [sent[i].connection for i in push_of_row],
        }
    )


def received_rows(frame: pd.DataFrame, table: Table) -> pd.DataFrame:
    """One row per row of a client's DataFrame, in order: its key and the client connection."""
    columns = {name: frame[name].tolist() for name, _ in table.columns}
    return pd.DataFrame({"key": _row_keys(columns, table), "client": frame["connection"].to_numpy()})


def audit(sent: Sequence[SentPush], received: pd.DataFrame, table: Table) -> Delivery:
    """Compare ``received`` (a client's DataFrame of ``table``) with the pushes ``sent`` of that
    table's kind, row by row: each row is identified by its content (every sim push is unique:
    timestamps, prices and ids), so the check needs nothing from the client but its rows."""
    return audit_rows(sent_rows(sent, table), received_rows(received, table))


def audit_rows(rows: pd.DataFrame, received: pd.DataFrame) -> Delivery:
    """:func:`audit` on the row keys of both sides (:func:`sent_rows`, :func:`received_rows`)."""
    assert not rows["key"].duplicated().any(), "two sent rows are identical: the audit cannot tell them apart"
    matched = received.merge(rows, on="key", how="left", sort=False)  # in the received order
    unexpected = int(matched["push"].isna().sum())
    matched = matched.dropna(subset=["push"]).astype({"push": "int64", "server": "int64"})
    copies = matched.groupby("key").size()
    duplicates = matched[matched["key"].isin(copies[copies > 1].index)]["push"].nunique()
    size = rows.groupby("push").size()
    arrived = matched.drop_duplicates("key").groupby("push").size().reindex(size.index, fill_value=0)
    whole = set(arrived[arrived == size].index)
    torn = int(((arrived > 0) & (arrived < size)).sum())
    holes, tail, client, reordered, split = 0, {}, {}, 0, 0
    for server, pushes in rows.drop_duplicates("push").groupby("server")["push"]:
        order = list(pushes)
        got_here = [i for i, p in enumerate(order) if p in whole]
        last = got_here[-1] if got_here else -1
        holes += last + 1 - len(got_here)
        tail[int(server)] = len(order) - 1 - last
        on = matched[matched["server"] == server]
        reordered += int(not on["push"].is_monotonic_increasing)
        clients = on["client"].unique()
        split += int(len(clients) > 1)
        if len(clients):
            client[int(server)] = int(clients[0])
    return Delivery(
        sent=len(size), received=len(whole), duplicates=duplicates, unexpected=unexpected, torn=torn,
        holes=holes, reordered=reordered, split=split, tail=tail, client=client,
    )  # fmt: skip


def test_audit_catches_loss_duplicates_and_strangers(sim: Simulator) -> None:
    """The audit is not vacuous: doctored DataFrames fail it in the right way."""
    df = nd.stream_depth("BTCUSDT", seconds=10, max_messages=6, **sim.nexus)
    number = sim.connections_total
    sent = [s for s in sim.sent if s.connection == number][:6]
    assert audit(sent, df, tables.DEPTH) == Delivery(6, 6, 0, 0, 0, 0, 0, 0, {number: 0}, {number: 1})
    pushes = [group for _, group in df.groupby("received_at")]
    assert audit(sent, pd.concat(pushes[:3]), tables.DEPTH).tail == {number: 3}
    assert audit(sent, pd.concat(pushes[:2] + pushes[3:]), tables.DEPTH).holes == 1
    assert audit(sent, pd.concat([*pushes, pushes[4]]), tables.DEPTH).duplicates == 1
    assert audit(sent, pd.concat([pushes[1], pushes[0], *pushes[2:]]), tables.DEPTH).reordered == 1
    assert audit(sent, pd.concat([*pushes[:5], pushes[5].iloc[:1]]), tables.DEPTH).torn == 1
    stranger = pushes[0].assign(price=pushes[0]["price"] + 1)
    assert audit(sent, pd.concat([*pushes, stranger]), tables.DEPTH).unexpected == len(stranger)
    assert audit(sent, pushes[0].assign(connection=2).pipe(lambda p: pd.concat([p, *pushes[1:]])), tables.DEPTH).split == 1


# -- running a client against a faulty simulator ---------------------------------------------------


DEPTH = nexus.depth("BTCUSDT", 5)
COIN = IndexSubscription("coin_index", "1")


@contextmanager
def running(sim: Simulator, sub: Any, table: Table, **options: Any) -> Iterator[Feed]:
    """A feed of ``sub`` from ``sim`` (what every collector runs), stopped on exit."""
    feed_name = "nexus" if isinstance(sub, nexus.NexusSubscription) else "chainext"
    credentials = sim.nexus if feed_name == "nexus" else sim.chainext
    endpoint, opts, _ = split_conn(feed_name, {**credentials, **FAST, **options})
    feed = Feed(endpoint, [sub], {sub.kind: table}, opts).start()
    try:
        yield feed
    finally:
        feed.stop()
    assert feed.error is None, feed.error


def pushes_on(sim: Simulator, connection: int) -> int:
    return sum(s.connection == connection for s in sim.sent)


def wait_for_pushes(sim: Simulator, connection: int, n: int, timeout: float = WAIT) -> None:
    """Block until the simulator has sent ``n`` pushes on ``connection`` (woken by each push)."""
    deadline = time.monotonic() + timeout
    while pushes_on(sim, connection) < n:
        left = deadline - time.monotonic()
        assert left > 0, f"connection {connection} got {pushes_on(sim, connection)} of {n} pushes"
        sim.wait_for_sent(len(sim.sent) + 1, timeout=left)


def events(feed: Feed) -> list[tuple[str, int]]:
    return [(e.event, e.connection) for e in feed.connection.events]


def test_drop_without_close_frame(no_thread_leak: None) -> None:
    aborted = (1, 2, 3)
    with Simulator(seed=3, rate=50, record_sent=True, faults={n: Faults(drop_after=10) for n in aborted}) as sim:
        with running(sim, DEPTH, tables.DEPTH) as feed:
            assert sim.faults.wait_for("drop", 3, timeout=WAIT)
            wait_for_pushes(sim, 4, 10)
            sim.stop()  # connection 4 ends with a close frame behind its last push
        delivery = audit(sim.sent, feed.dataframe(), tables.DEPTH)
    delivery.assert_exact(aborted)
    assert [pushes_on(sim, n) for n in aborted] == [10, 10, 10]
    assert delivery.client == {1: 1, 2: 2, 3: 3, 4: 4}  # the connection column shows where the gaps are
    assert events(feed)[:8] == [
        ("connected", 1), ("disconnected", 1), ("connected", 2), ("disconnected", 2),
        ("connected", 3), ("disconnected", 3), ("connected", 4), ("disconnected", 4),
    ]  # fmt: skip
    assert all("without a close frame" in e.reason or "reset" in e.reason for e in feed.connection.events[1:6:2])
    print(f"\ndrop: {delivery}")


def test_rows_fall_between_their_connection_s_connect_and_disconnect() -> None:
    with Simulator(seed=4, rate=50, record_sent=True, faults=Faults(drop_after=8)) as sim:
        with running(sim, DEPTH, tables.DEPTH) as feed:
            assert sim.faults.wait_for("drop", 3, timeout=WAIT)
    df, gaps = feed.dataframe(), nd.gap_log(feed)
    for number, rows in df.groupby("connection"):
        up = gaps[(gaps["connection"] == number) & (gaps["event"] == "connected")]["time"]
        down = gaps[(gaps["connection"] == number) & (gaps["event"] != "connected")]["time"]
        assert len(up) == 1 and len(down) == 1, gaps
        assert up.iloc[0] <= rows["received_at"].min() and rows["received_at"].max() <= down.iloc[0]


def test_stall_is_detected_and_the_client_reconnects(no_thread_leak: None) -> None:
    with Simulator(seed=5, rate=50, record_sent=True, faults={1: Faults(stall_after=10, stall_seconds=1.5)}) as sim:
        with running(sim, DEPTH, tables.DEPTH) as feed:
            assert sim.faults.wait_for("stall", timeout=WAIT)
            wait_for_pushes(sim, 2, 20)
            sim.stop()
        delivery = audit(sim.sent, feed.dataframe(), tables.DEPTH)
    # The client gave up on connection 1; a push the server wrote there once the stall ended
    # could not arrive, but every push written before it went quiet did.
    delivery.assert_exact(aborted=[1])
    assert delivery.tail[1] == pushes_on(sim, 1) - 10 and delivery.client == {1: 1, 2: 2}
    stalled = [e for e in feed.connection.events if e.event == "stalled"]
    assert [e.connection for e in stalled] == [1] and "probe unanswered" in stalled[0].reason
    assert events(feed)[:3] == [("connected", 1), ("stalled", 1), ("connected", 2)]


def test_a_short_stall_is_ridden_out(no_thread_leak: None) -> None:
    with Simulator(seed=6, rate=50, record_sent=True, faults=Faults(stall_after=10, stall_seconds=0.3)) as sim:
        with running(sim, DEPTH, tables.DEPTH, stall_timeout=3.0) as feed:
            assert sim.faults.wait_for("resume", timeout=WAIT)
            wait_for_pushes(sim, 1, 30)
            sim.stop()
        delivery = audit(sim.sent, feed.dataframe(), tables.DEPTH)
    delivery.assert_exact()
    assert sim.connections_total == 1 and "stalled" not in [e for e, _ in events(feed)]


@pytest.mark.parametrize(
    "sub, table",
    [(DEPTH, tables.DEPTH), (nexus.orders(), tables.ORDERS), (COIN, tables.COIN_INDEX)],
    ids=["depth", "orders", "coin_index"],
)
def test_bad_frames_never_stop_ingestion(sub: Any, table: Table, no_thread_leak: None) -> None:
    with Simulator(seed=8, rate=50, record_sent=True, faults=Faults(junk_every=2)) as sim:
        with running(sim, sub, table) as feed:
            assert sim.faults.wait_for(JUNK_KINDS[-1], timeout=WAIT)  # every kind once, in order
            wait_for_pushes(sim, 1, 16)
            sim.stop()
        delivery = audit(sim.sent, feed.dataframe(), table)
    delivery.assert_exact()
    assert sim.connections_total == 1  # no bad frame cost the connection
    junk = Counter(e.fault for e in sim.faults.log)
    assert set(junk) == set(JUNK_KINDS)
    stats = feed.stats()
    unknown = sum(n for kind, n in junk.items() if kind in UNKNOWN_JUNK)
    assert (stats["malformed"], stats["unknown"]) == (junk.total() - unknown, unknown)


def test_session_expiry_logs_in_again_on_the_same_connection(no_thread_leak: None) -> None:
    with Simulator(seed=9, rate=50, record_sent=True, faults=Faults(expire_after=10)) as sim:
        with running(sim, COIN, tables.COIN_INDEX) as feed:
            assert sim.faults.wait_for("expire", timeout=WAIT)
            wait_for_pushes(sim, 1, 25)  # the sim pushes again only after a new login and subscribe
            sim.stop()
        delivery = audit(sim.sent, feed.dataframe(), tables.COIN_INDEX)
    delivery.assert_exact()
    assert sim.connections_total == 1 and delivery.client == {1: 1}
    assert [e for e, _ in events(feed)][:1] == ["connected"] and "stalled" not in str(events(feed))


def test_server_restart_on_the_same_port(no_thread_leak: None) -> None:
    with Simulator(seed=10, rate=50, record_sent=True) as sim:
        port = sim.port
        with running(sim, DEPTH, tables.DEPTH) as feed:
            wait_for_pushes(sim, 1, 10)
            sim.restart(downtime=0.5)
            wait_for_pushes(sim, 2, 10)
            sim.stop()
        delivery = audit(sim.sent, feed.dataframe(), tables.DEPTH)
    delivery.assert_exact()  # both connections ended with a close frame: nothing may be missing
    assert sim.port == port and delivery.client == {1: 1, 2: 2}
    kinds = [e for e, _ in events(feed)]
    assert kinds[:2] == ["connected", "disconnected"] and "code 1001" in feed.connection.events[1].reason
    assert kinds[2 : kinds.index("connected", 1)] == ["connect_failed"] * (kinds.index("connected", 1) - 2) != []


def test_slow_reader_fills_its_buffers_and_blocks_no_one(no_thread_leak: None) -> None:
    """A client that stops reading (its thread busy) fills the server's send buffers; the server
    then waits for it, pushing nothing more to it, while another client is served as usual; once
    it reads again it gets every push, in order."""
    release = threading.Event()

    class BusyFeed(Feed):
        def _on_pushes(self, *args: Any) -> None:  # the user's thread is busy: nothing is read meanwhile
            release.wait(WAIT)
            super()._on_pushes(*args)

    with Simulator(seed=12, rate=50, record_sent=True, faults={1: Faults(send_buffer=4096)}) as sim:
        endpoint, options, _ = split_conn("nexus", {**sim.nexus, **FAST})
        slow = BusyFeed(endpoint, [nexus.depth("BTCUSDT", 100)], {nexus.MARKETDEPTH: tables.DEPTH}, options).start()
        try:
            wait_for_pushes(sim, 1, 1)
            with running(sim, nexus.depth("ETHUSDT", 5), tables.DEPTH) as other:
                wait_for_pushes(sim, 2, 60)
                stuck = pushes_on(sim, 1)
                wait_for_pushes(sim, 2, 100)  # 40 more for the other client...
                assert pushes_on(sim, 1) == stuck  # ...and not one more for the slow one
                release.set()
                wait_for_pushes(sim, 1, stuck + 10)  # it reads again, so the server writes again
                sim.stop()
        finally:
            release.set()
            slow.stop()
    slow_sent = [s for s in sim.sent if s.connection == 1]
    audit(slow_sent, slow.dataframe(), tables.DEPTH).assert_exact()
    audit([s for s in sim.sent if s.connection == 2], other.dataframe(), tables.DEPTH).assert_exact()
    print(f"\nslow reader: {stuck} pushes, {sum(len(s.text) for s in slow_sent[:stuck]) / 1024:.0f} KiB held in buffers")


def test_collector_result_carries_the_gap_log(no_thread_leak: None) -> None:
    with Simulator(seed=13, rate=50, record_sent=True, faults=Faults(drop_after=10)) as sim:
        df = nd.collect_index("coin_index", "1", seconds=1.5, **FAST, **sim.chainext)
    gaps = nd.gap_log(df)
    assert list(gaps.columns) == ["time", "connection", "event", "reason"]
    assert isinstance(gaps["time"].dtype, pd.DatetimeTZDtype)
    reconnects = df.attrs["nexusdata"]["reconnects"]
    assert reconnects >= 1 and (gaps["event"] == "connected").sum() == reconnects + 1
    assert set(df["connection"]) <= set(gaps.loc[gaps["event"] == "connected", "connection"])
    assert sorted(set(df["connection"])) == list(range(1, df["connection"].max() + 1))


def test_live_handle_carries_the_gap_log(no_thread_leak: None) -> None:
    with Simulator(seed=18, rate=50, record_sent=True, faults={1: Faults(drop_after=5)}) as sim:
        handle = nd.live_depth("BTCUSDT", **FAST, **sim.nexus)
        try:
            assert sim.faults.wait_for("drop", timeout=WAIT)
            wait_for_pushes(sim, 2, 5)
        finally:
            handle.stop()
    gaps = nd.gap_log(handle)
    assert list(zip(gaps["event"], gaps["connection"]))[:3] == [("connected", 1), ("disconnected", 1), ("connected", 2)]
    assert set(handle.frame()["connection"]) == {1, 2}
