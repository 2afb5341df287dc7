"""Soak: a Nexus depth feed and a ChaiNext pair_index_v3 feed (what the collectors run) against a
simulator that drops every connection every few seconds and slips junk frames between pushes,
for minutes. It reports as it goes and at the end: pushes sent vs received, lost, duplicated,
reconnects, peak RSS and threads.

Excluded from the default run. Five minutes, a drop every five seconds::

    NEXUSDATA_SOAK_SECONDS=300 NEXUSDATA_SOAK_DROP_SECONDS=5 python -m pytest -m soak -s tests/test_soak.py

Memory stays flat by design, so that a leak would show: the simulator's sent log is taken and
the feeds' rows are read every report (each feed keeps at most ``MAX_ROWS``), both reduced to
integer row keys for the final audit (:func:`test_faults.audit_rows`). Log records are formatted
and counted, not kept: pytest keeps every record of a test for its report, which over minutes of
junk frames would measure pytest.
"""

from __future__ import annotations

import logging
import os
import resource
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import psutil
import pytest
from test_faults import FAST, UNKNOWN_JUNK, Delivery, audit_rows, received_rows, sent_rows

from nexusdata.config import split_conn
from nexusdata.feed import Feed
from nexusdata.protocol import IndexSubscription, Table, nexus, tables
from nexusdata.sim import SentPush, Simulator
from nexusdata.sim.faults import Faults

SECONDS = float(os.environ.get("NEXUSDATA_SOAK_SECONDS", "300"))
DROP_SECONDS = float(os.environ.get("NEXUSDATA_SOAK_DROP_SECONDS", "5"))
REPORT_SECONDS = float(os.environ.get("NEXUSDATA_SOAK_REPORT_SECONDS", "15"))
RATE = float(os.environ.get("NEXUSDATA_SOAK_RATE", "20"))
JUNK_EVERY = 15  # pushes per connection between junk frames: every kind a few times a connection
MAX_ROWS = 8_000  # rows a feed keeps between reports (a report reads far fewer new ones)
MIB = 2**20


@dataclass
class Stream:
    """One feed under soak and what has been read of it so far (as row keys)."""

    name: str
    feed: Feed
    table: Table
    kind: str
    sent: list[pd.DataFrame] = field(default_factory=list)
    received: list[pd.DataFrame] = field(default_factory=list)
    pushes_sent: int = 0
    last_seen: Any = None

    def take(self, sent: list[SentPush]) -> None:
        """Key what the simulator sent (already taken from its log) and what arrived since."""
        mine = [s for s in sent if s.kind == self.kind]
        if mine:
            self.sent.append(_compact(sent_rows(mine, self.table, first=self.pushes_sent)))
            self.pushes_sent += len(mine)
        frame = self.feed.dataframe()
        if self.last_seen is not None:
            assert frame.empty or frame["received_at"].iloc[0] <= self.last_seen, "rows were trimmed unread"
            frame = frame[frame["received_at"] > self.last_seen]
        if not frame.empty:
            self.last_seen = frame["received_at"].iloc[-1]
            self.received.append(_compact(received_rows(frame, self.table)))

    def audit(self) -> Delivery:
        return audit_rows(pd.concat(self.sent, ignore_index=True), pd.concat(self.received, ignore_index=True))


class Tally(logging.Handler):
    """Formats every record, as a real handler would, and keeps only the count per level."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.counts: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.format(record)
        self.counts[record.levelname] += 1


def _compact(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.astype({c: np.int64 for c in rows.columns})


def _start(sim: Simulator, name: str, sub: Any, table: Table) -> Stream:
    feed_name = "nexus" if isinstance(sub, nexus.NexusSubscription) else "chainext"
    endpoint, options, _ = split_conn(feed_name, {**(sim.nexus if feed_name == "nexus" else sim.chainext), **FAST})
    feed = Feed(endpoint, [sub], {sub.kind: table}, options, max_rows=MAX_ROWS).start()
    return Stream(name, feed, table, sub.kind)


@pytest.mark.soak
@pytest.mark.timeout(SECONDS + 300)
def test_soak(monkeypatch: pytest.MonkeyPatch) -> None:
    process = psutil.Process()
    tally, package_log = Tally(), logging.getLogger("nexusdata")
    monkeypatch.setattr(package_log, "propagate", False)
    monkeypatch.setattr(package_log, "level", logging.INFO)
    monkeypatch.setattr(package_log, "handlers", [tally])
    faults = Faults(junk_every=JUNK_EVERY)
    with Simulator(seed=21, rate=RATE, record_sent=True, faults=faults) as sim:
        streams = [
            _start(sim, "depth", nexus.depth("BTCUSDT", 5), tables.DEPTH),
            _start(sim, "pair_index_v3", IndexSubscription("pair_index_v3", "1"), tables.PAIR_INDEX_V3),
        ]
        stop_dropping = threading.Event()
        drops: list[int] = []

        def drop_every_few_seconds() -> None:
            while not stop_dropping.wait(DROP_SECONDS):
                drops.append(sim.drop_connections())

        dropper = threading.Thread(target=drop_every_few_seconds, name="soak-dropper")
        print(f"\nsoak: {SECONDS:g}s, drop every {DROP_SECONDS:g}s, {RATE:g} pushes/s per feed, junk every {JUNK_EVERY}")
        print(f"{'t(s)':>6} {'sent':>7} {'recv':>7} {'conns':>6} {'drops':>6} {'rss MiB':>8} {'threads':>8} {'os thr':>7}")
        start = time.monotonic()
        dropper.start()
        threads: list[int] = []
        rss: list[float] = []
        try:
            while (elapsed := time.monotonic() - start) < SECONDS:
                time.sleep(min(REPORT_SECONDS, SECONDS - elapsed))  # a reporting cadence: nothing to wait for
                received = sum(s.feed.accepted for s in streams)  # before the log: every push is logged before it is sent
                sent = sim.take_sent()
                for stream in streams:
                    stream.take(sent)
                threads.append(threading.active_count())
                rss.append(process.memory_info().rss / MIB)
                print(
                    f"{time.monotonic() - start:6.0f} {sum(s.pushes_sent for s in streams):7d} {received:7d}"
                    f" {sim.connections_total:6d} {sum(drops):6d} {rss[-1]:8.1f} {threads[-1]:8d} {process.num_threads():7d}",
                    flush=True,
                )
        finally:
            stop_dropping.set()
            dropper.join()
            sim.stop()  # every last connection ends with a close frame behind its last push
            for stream in streams:
                stream.feed.stop()
        sent = sim.take_sent()
        for stream in streams:
            stream.take(sent)
            assert stream.feed.error is None, stream.feed.error

    junk = Counter(e.fault for e in sim.faults.log)
    print(f"junk frames sent: {dict(junk)}")
    totals = Counter[str]()
    for stream in streams:
        delivery = stream.audit()
        last = max(delivery.tail)  # each feed's last connection ended cleanly; the others were dropped
        aborted = [c for c in delivery.tail if c != last]
        stats = stream.feed.stats()
        cut = sum(delivery.tail[c] for c in aborted)
        junk_here = Counter(e.fault for e in sim.faults.log if e.connection in delivery.tail)
        unknown = sum(n for kind, n in junk_here.items() if kind in UNKNOWN_JUNK)
        print(
            f"{stream.name}: sent {delivery.sent}, received {delivery.received}, lost {delivery.lost(aborted)},"
            f" cut in flight by a drop {cut}, duplicates {delivery.duplicates}, unexpected {delivery.unexpected},"
            f" reordered {delivery.reordered}, reconnects {stats['reconnects']},"
            f" junk sent {junk_here.total()} (counted malformed {stats['malformed']} of {junk_here.total() - unknown},"
            f" unknown {stats['unknown']} of {unknown})"
        )
        delivery.assert_exact(aborted)
        totals.update(sent=delivery.sent, received=delivery.received, lost=delivery.lost(aborted), cut=cut)
    warm_at = min(len(rss) - 1, max(1, len(rss) // 4))  # the feeds' bounded buffers are full by then
    minutes = (len(rss) - 1 - warm_at) * REPORT_SECONDS / 60
    print(
        f"total: sent {totals['sent']}, received {totals['received']}, lost {totals['lost']},"
        f" cut in flight {totals['cut']}, duplicates 0"
    )
    growth = (rss[-1] - rss[warm_at]) / minutes if minutes else float("nan")
    print(
        f"rss MiB: first {rss[0]:.1f}, after warm-up {rss[warm_at]:.1f}, last {rss[-1]:.1f}"
        f" ({growth:+.2f} MiB/min since warm-up), max sampled {max(rss):.1f},"
        f" peak (ru_maxrss) {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f}"
    )
    held = sum(f.memory_usage(index=False).sum() for s in streams for f in (*s.sent, *s.received)) / MIB
    print(f"of which the audit's own row keys, kept for the final check: {held:.1f} MiB")
    print(f"threads: min {min(threads)}, max {max(threads)}")
    print(f"log records: {dict(tally.counts)}")
    assert min(threads) == max(threads), threads
    assert totals["lost"] == 0
