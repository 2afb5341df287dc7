"""Reacting to data on a live handle: batches of what arrived since the last batch, iterated
(``for batch in live.batches(every=1.0)``, or ``async for``) or handed to a function in a worker
thread (``live.on_batch(fn)``).

A reader keeps a cursor into the handle's buffer (its rows are numbered in order of arrival): a
batch is the rows past the cursor, built when it is due, so nothing is copied while a reader
waits, each row is read once, and several readers of one handle each read every row. The first
batch starts with the oldest row the handle holds. A reader slower than the data does not hold
memory back: the handle keeps its newest ``max_rows`` rows as always, and a reader that falls
further behind loses the oldest rows it had not read, counted in the next batch's
``attrs["nexusdata"]["dropped"]`` and in :attr:`Batches.dropped` (a batch holds whole pushes
only). Iteration ends when the handle stops, after a last batch of what arrived before; if the
feed ended on an error, it is raised then.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager

import pandas as pd

from .checks import positive_int, positive_number
from .errors import ArgumentError, NexusDataError
from .feed import Feed, Listener, Signal
from .run import raise_feed_error

log = logging.getLogger("nexusdata.batches")

EVERY = 1.0
"""Seconds between batches by default."""

CALLBACK_WAIT = 10.0
"""Seconds a handle's ``stop()`` waits for each callback to take the last batch and return."""


class Batches:
    """Batches of a live handle's new rows, as DataFrames with the columns and dtypes of its
    ``frame()``: one every ``every`` seconds, or as soon as ``rows`` rows arrived, whichever
    comes first (a batch then holds every row that arrived: at least ``rows``, in whole pushes).
    No batch is empty. Iterate it once, with ``for`` or ``async for`` (see :mod:`nexusdata.batches`).

    Each batch's ``attrs["nexusdata"]`` holds its ``number`` (from 1), its ``first_row`` (the
    handle's row number of its first row) and the rows ``dropped`` before it (see
    :attr:`dropped`).
    """

    def __init__(self, feed: Feed, kind: str, every: object = EVERY, rows: object = None) -> None:
        self.every = None if every is None else positive_number(every, "every", unit="seconds")
        self.rows = None if rows is None else positive_int(rows, "rows")
        if self.every is None and self.rows is None:
            raise ArgumentError("give every= (seconds between batches) or rows= (rows a batch waits for), or both")
        self._feed = feed
        self._buffer = feed.buffers[kind]
        self._cursor = self._buffer.first
        self._due = time.monotonic() + (self.every or 0)
        self._wake: Listener | None = None
        self._closed = False
        self.count = 0
        """Batches handed out so far."""
        self.dropped = 0
        """Rows this reader lost because it fell more than the handle's ``max_rows`` behind."""
        self._unreported = 0

    def close(self) -> None:
        """End the iteration (from any thread): it stops at once, without a last batch."""
        self._closed = True
        wake = self._wake
        if wake is not None:
            wake()

    def __iter__(self) -> Iterator[pd.DataFrame]:
        wake = threading.Event()
        with self._woken_by(wake.set):
            while not self._closed:
                finished = self._feed.finished.is_set()
                batch = self._take() if finished or self._ready() else None
                if batch is not None:
                    yield batch
                if finished:
                    raise_feed_error(self._feed)
                    return
                wake.wait(self._timeout())
                wake.clear()

    def __aiter__(self) -> AsyncIterator[pd.DataFrame]:
        return self._batches_on_loop()

    async def _batches_on_loop(self) -> AsyncIterator[pd.DataFrame]:
        """As ``__iter__``, woken on the running loop by the feed's thread (no thread waits)."""
        from .aio import Waker

        waker = Waker()
        with self._woken_by(waker.set):
            while not self._closed:
                finished = self._feed.finished.is_set()
                batch = self._take() if finished or self._ready() else None
                if batch is not None:
                    yield batch
                if finished:
                    raise_feed_error(self._feed)
                    return
                await waker.wait(self._timeout())

    @contextmanager
    def _woken_by(self, wake: Listener) -> Iterator[None]:
        """``wake`` is called when the feed finishes, the reader is closed and, with ``rows``,
        after every socket read's pushes."""
        removers = [self._feed.finished.listen(wake)]
        if self.rows is not None:
            removers.append(self._feed.watch(wake))
        self._wake = wake
        try:
            yield
        finally:
            self._wake = None
            for remove in removers:
                remove()

    def _ready(self) -> bool:
        if self.every is not None and time.monotonic() >= self._due:
            return True
        return self.rows is not None and self._buffer.holds(self.rows, since=self._cursor)

    def _timeout(self) -> float | None:
        return None if self.every is None else max(self._due - time.monotonic(), 0.0)

    def _take(self) -> pd.DataFrame | None:
        """The rows past the cursor as the next batch (``None`` when there are none), the cursor
        moved past them."""
        if self.every is not None:
            self._due = time.monotonic() + self.every
        got = self._buffer.since(self._cursor)
        self.dropped += got.dropped
        self._unreported += got.dropped
        first = got.next - len(got.frame)
        self._cursor = got.next
        if got.frame.empty:
            return None
        self.count += 1
        got.frame.attrs["nexusdata"] = {"number": self.count, "first_row": first, "dropped": self._unreported}
        if self._unreported:
            log.warning("a batch reader fell behind: %d rows dropped before batch %d (max_rows)", self._unreported, self.count)
        self._unreported = 0
        return got.frame


class BatchCallback:
    """``fn(batch)`` called in a worker thread of its own with each batch of a live handle
    (:class:`Batches`), until :meth:`remove` or until the handle stops (after a last batch).
    An exception ``fn`` raises is logged as a warning and counted in :attr:`errors` (the newest
    in :attr:`error`); the feed and the next batches go on."""

    def __init__(self, batches: Batches, fn: Callable[[pd.DataFrame], object], label: str) -> None:
        if not callable(fn):
            raise ArgumentError(f"fn must be a function taking a DataFrame, got {type(fn).__name__}")
        self.batches = batches
        self.fn = fn
        self.calls = 0
        """Calls of ``fn`` so far, failed ones included."""
        self.errors = 0
        """Calls of ``fn`` that raised."""
        self.error: str | None = None
        """The newest exception ``fn`` raised, as text (the exception itself would keep its batch alive)."""
        self.done = Signal()
        """Set when the worker thread has ended."""
        self._name = getattr(fn, "__qualname__", repr(fn))
        self._thread = threading.Thread(target=self._run, name=f"nexusdata-callback-{self._name}-{label}", daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        """Whether the worker thread still runs."""
        return self._thread.is_alive()

    @property
    def dropped(self) -> int:
        """Rows that never reached ``fn`` because it fell more than the handle's ``max_rows`` behind."""
        return self.batches.dropped

    def remove(self) -> None:
        """Stop calling ``fn`` (a call under way finishes first) and end the worker thread."""
        self.batches.close()
        self.join()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the worker thread to end (not from ``fn`` itself); whether it has."""
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        try:
            for batch in self.batches:
                self._call(batch)
        except NexusDataError:
            pass  # the feed ended on an error: the handle's frame() raises it, its status shows it
        finally:
            self.done.set()

    def _call(self, batch: pd.DataFrame) -> None:
        self.calls += 1
        try:
            self.fn(batch)
        except Exception as exc:
            self.errors += 1
            self.error = f"{type(exc).__name__}: {exc}"
            log.warning(
                "on_batch callback %s raised %s on batch %d (%d error(s) so far); the feed goes on",
                self._name,
                self.error,
                self.calls,
                self.errors,
                exc_info=self.errors == 1,  # the first one's traceback, not one per batch
            )

    def __repr__(self) -> str:
        state = "running" if self.running else "ended"
        return f"<BatchCallback {self._name} {state}: {self.calls} calls, {self.errors} errors, {self.dropped} rows dropped>"
