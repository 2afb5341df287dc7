"""RFC 6455 end to end: ``nd.stream_depth`` against a raw server that breaks each rule of
tests/conformance.py between valid pushes, written at once or a byte at a time.

For every case the client must deliver every push before the bad frame (none is lost with the
error), read nothing after it on that connection, send the rule's close code (or echo a valid
close), name the rule in the gap log, and reconnect to collect the pushes of the next connection.
"""

from __future__ import annotations

import threading

import orjson
import psutil
import pytest
from conformance import CLOSES, VIOLATIONS, Case, frame
from rawserver import Peer, raw_server

import nexusdata as nd

pytestmark = pytest.mark.timeout(60)

BEFORE, AFTER = 3, 2  # pushes before the bad frame on the first connection, and on the second
FAST = {"backoff_base": 0.01, "backoff_cap": 0.05, "connect_timeout": 5.0, "progress": False}


def push(n: int) -> bytes:
    """A depth push whose one ask has price ``n``: which pushes arrived is read off the prices."""
    level = {"cp": "b2c2", "price": str(n), "time": "1631948616845", "volume": "1"}
    return orjson.dumps({"event": "API_MARKETDEPTH", "data": {"asks": [level], "bids": [level], "symbol": "BTCUSDT"}})


def pushes(numbers: range) -> bytes:
    return b"".join(frame(0x1, push(n)) for n in numbers)


class Script:
    """The server's side: valid pushes, the case's frames and pushes no client may read on the
    first connection; on the second, more pushes. Keeps the close frame the client sent first."""

    def __init__(self, case: Case, bytewise: bool) -> None:
        self.case = case
        self.bytewise = bytewise
        self.close: bytes | None = None
        self.answered = threading.Event()

    def __call__(self, peer: Peer, number: int) -> None:
        peer.request()  # the subscription
        if number == 1:
            data = pushes(range(BEFORE)) + self.case.data + pushes(range(100, 105))
            peer.write(data, bytewise=self.bytewise)
            self.close = peer.close_frame()
            self.answered.set()
        else:
            peer.write(pushes(range(BEFORE, BEFORE + AFTER)), bytewise=self.bytewise)
            peer.close_frame()  # until the client has all it wants and closes


def collect(script: Script) -> object:
    with raw_server(script) as url:
        return nd.stream_depth(
            "BTCUSDT",
            seconds=30,
            max_messages=BEFORE + AFTER,
            url=url,
            token="t",
            max_message=script.case.max_message or 1 << 26,
            **FAST,
        )


def check(script: Script) -> None:
    case = script.case
    df = collect(script)
    asks = df[df["side"] == "ask"]
    assert asks["price"].tolist() == list(range(BEFORE + AFTER))  # nothing lost before, nothing read after
    assert asks["connection"].tolist() == [1] * BEFORE + [2] * AFTER
    assert script.answered.is_set() and script.close is not None
    code = int.from_bytes(script.close[:2], "big") if script.close else None
    assert code == case.code
    gaps = nd.gap_log(df)
    [reason] = gaps.loc[(gaps["event"] == "disconnected") & (gaps["connection"] == 1), "reason"]
    if case.fails:
        assert case.rule in reason and reason.endswith(f"(closed with {case.code})"), reason
    else:
        assert reason.startswith("server closed the connection"), reason


@pytest.mark.parametrize("case", VIOLATIONS, ids=lambda c: c.name)
def test_a_broken_rule_in_one_read(case: Case) -> None:
    """The pushes, the bad frame and more pushes arrive in one read: the pushes before it are
    delivered, those after it are not."""
    check(Script(case, bytewise=False))


@pytest.mark.parametrize("case", VIOLATIONS[::3], ids=lambda c: c.name)
def test_a_broken_rule_written_a_byte_at_a_time(case: Case) -> None:
    check(Script(case, bytewise=True))


@pytest.mark.parametrize("case", [CLOSES[0], CLOSES[1], CLOSES[-1]], ids=lambda c: c.name)
def test_a_valid_close_is_echoed_and_the_client_reconnects(case: Case) -> None:
    check(Script(case, bytewise=False))


def test_a_fragment_flood_is_cut_off_at_max_message_and_memory_stays_bounded() -> None:
    """An endless fragmented message of 1 MiB fragments: the client refuses it with 1009 once it
    passes max_message (4 MiB here), and stops reading; it neither grows nor waits for the end."""
    limit, chunk = 4 << 20, b"x" * (1 << 20)
    flood = Case("flood", b"", 1009, "fragmented message of over", limit)
    process = psutil.Process()
    rss_before = process.memory_info().rss
    sent: list[int] = []

    class Flood(Script):
        def __call__(self, peer: Peer, number: int) -> None:
            if number > 1:
                return super().__call__(peer, number)
            peer.request()
            peer.write(pushes(range(BEFORE)) + frame(0x1, chunk, fin=False))
            for _ in range(1000):  # up to a GiB, if the client kept reading
                if not peer.write(frame(0x0, chunk, fin=False)):
                    break  # the client closed the connection
            sent.append(peer.written)
            self.close = peer.close_frame()
            self.answered.set()

    check(Flood(flood, bytewise=False))
    print(f"flood: {sent[0] / (1 << 20):.1f} MiB written before the client closed")
    assert sent[0] < limit + (32 << 20)  # the limit and the sockets' buffers, not the flood's GiB
    assert process.memory_info().rss - rss_before < 64 << 20
