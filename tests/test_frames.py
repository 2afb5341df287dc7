"""The frames layer: the Arrow fast path equals the element-wise reference path, whatever the
pushes look like, and TableBuffer keeps order, times, connections and its row bound."""

from __future__ import annotations

import json
import random
import threading
import tracemalloc
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spec_examples import TABLE_SOURCE, load
from waiting import WAIT, wait_until

from nexusdata.frames import TableBuffer
from nexusdata.frames import buffer as buffer_module
from nexusdata.frames.arrow_json import read_frames
from nexusdata.frames.buffer import ARROW_FROM, Chunk, build_dataframe, build_table, schema, type_elementwise
from nexusdata.frames.columns import ARROW_TYPES, CONVERTERS, NotColumnar, to_arrow
from nexusdata.protocol import nexus, tables
from nexusdata.sim.indices import IndexStream
from nexusdata.sim.market import Market

_NAT = np.iinfo(np.int64).min

TABLE_FIXTURE = {tables.TABLES[name]: example for name, example in TABLE_SOURCE.items()}


def reference(table: tables.Table, frames: list[bytes]) -> tuple[dict[str, Any], np.ndarray]:
    """The element-wise path: decode, flatten in Python, convert each value."""
    columns, push = table.flatten([orjson.loads(f)[table.envelope] for f in frames])
    return {name: CONVERTERS[kind](columns[name]) for name, kind in table.columns}, np.asarray(push)


def assert_same(table: tables.Table, a: tuple[dict[str, Any], np.ndarray], b: tuple[dict[str, Any], np.ndarray]) -> None:
    np.testing.assert_array_equal(a[1], b[1])
    for name, _ in table.columns:
        x, y = pd.Series(a[0][name]), pd.Series(b[0][name])
        assert x.dtype == y.dtype or isinstance(x.dtype, pd.CategoricalDtype), (name, x.dtype, y.dtype)
        if isinstance(x.dtype, pd.CategoricalDtype):  # category order may differ; values may not
            x, y = x.astype(object), y.astype(object)
        pd.testing.assert_series_equal(x, y, check_names=False, obj=name)


def sim_frames(table: tables.Table, n: int = 50) -> list[bytes]:
    market, rng = Market(3), random.Random(3)
    if table.envelope == "data":
        return [orjson.dumps(nexus.push(nexus.MARKETDEPTH, market.book("BTCUSDT", 5, rng))) for _ in range(n)]
    stream = IndexStream(table.name, "11" if table.name == "index" else "1", market)
    return [stream.next().encode() for _ in range(n)]


@pytest.mark.parametrize("table", list(TABLE_FIXTURE), ids=lambda t: t.name)
def test_arrow_path_equals_reference_on_spec_examples(table: tables.Table) -> None:
    frame = json.dumps(load(TABLE_FIXTURE[table])).encode()
    frames = [frame, frame.replace(b"\n", b"")]
    assert_same(table, read_frames(table, frames), reference(table, frames))


@pytest.mark.parametrize(
    "table",
    [tables.DEPTH, tables.COIN_INDEX, tables.PAIR_INDEX, tables.INDEX, tables.COIN_INDEX_V3, tables.PAIR_INDEX_V3],
    ids=lambda t: t.name,
)
def test_arrow_path_equals_reference_on_simulated_pushes(table: tables.Table) -> None:
    frames = sim_frames(table)
    assert_same(table, read_frames(table, frames), reference(table, frames))


def _mutations() -> st.SearchStrategy[tuple[tables.Table, list[bytes]]]:
    """Batches of spec pushes with fields dropped, emptied, nulled or retyped."""

    def mutate(message: Any, rnd: random.Random) -> Any:
        if isinstance(message, dict):
            out = {}
            for k, v in message.items():
                roll = rnd.random()
                if roll < 0.05:
                    continue  # dropped
                if roll < 0.08:
                    out[k] = None
                elif roll < 0.10 and isinstance(v, list):
                    out[k] = []
                elif roll < 0.12 and isinstance(v, str) and v.replace(".", "").isdigit():
                    out[k] = float(v) if "." in v else int(v)  # a number where a string was
                else:
                    out[k] = mutate(v, rnd)
            return out
        if isinstance(message, list):
            return [mutate(v, rnd) for v in message]
        return message

    @st.composite
    def batch(draw: st.DrawFn) -> tuple[tables.Table, list[bytes]]:
        table = draw(st.sampled_from(list(TABLE_FIXTURE)))
        base = load(TABLE_FIXTURE[table])
        rnd = random.Random(draw(st.integers(0, 2**32)))
        frames = []
        for _ in range(draw(st.integers(1, 6))):
            message = mutate(base, rnd)
            message[table.envelope] = message.get(table.envelope) or base[table.envelope]
            frames.append(orjson.dumps(message))
        return table, frames

    return batch()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=_mutations())
def test_arrow_path_equals_reference_or_declines(case: tuple[tables.Table, list[bytes]]) -> None:
    """On any batch the fast path either gives exactly the reference result or declines
    (NotColumnar) so that the reference path runs; it never gives a different answer."""
    table, frames = case
    try:
        expected = reference(table, frames)
    except (TypeError, AttributeError, KeyError, ValueError):
        with pytest.raises(NotColumnar):
            read_frames(table, frames)
        return
    try:
        fast = read_frames(table, frames)
    except NotColumnar:
        return
    assert_same(table, fast, expected)


def test_buffer_falls_back_per_batch_and_drops_only_the_bad_push() -> None:
    good = sim_frames(tables.DEPTH, 3)
    bad = orjson.dumps(nexus.push(nexus.MARKETDEPTH, {"symbol": "BTCUSDT", "asks": 5, "bids": []}))
    buffer = TableBuffer(tables.DEPTH)
    buffer.extend([good[0], bad], 1_000, 1)
    buffer.extend(good[1:], 2_000, 2)
    df = buffer.dataframe()
    assert buffer.malformed == 1 and buffer.pushes == 4
    assert df["received_at"].nunique() == 3
    assert list(df.drop_duplicates("received_at")["connection"]) == [1, 2, 2]
    assert list(df.drop_duplicates("received_at")["received_at"].astype("int64")) == [1_000, 2_000, 2_001]


def test_buffer_keeps_arrival_order_and_unique_times_within_a_read() -> None:
    frames = sim_frames(tables.PAIR_INDEX_V3, 20)
    buffer = TableBuffer(tables.PAIR_INDEX_V3, chunk_frames=7)
    for i in range(0, 20, 5):
        buffer.extend(frames[i : i + 5], 10_000 * (i + 1), 1)
    df = buffer.dataframe()
    times = df.drop_duplicates("received_at")["received_at"]
    assert len(times) == 20 and times.is_monotonic_increasing
    expected = build_dataframe(tables.PAIR_INDEX_V3, [])
    assert list(df.dtypes.astype(str)) == list(expected.dtypes.astype(str))


def test_max_rows_bounds_the_buffer_keeping_the_newest() -> None:
    frames = sim_frames(tables.DEPTH, 40)  # 10 rows each
    buffer = TableBuffer(tables.DEPTH, chunk_frames=8, max_rows=95)
    for i, frame in enumerate(frames):
        buffer.extend([frame], i * 1_000, 1)
    df = buffer.dataframe()
    assert len(df) == 95
    assert df["received_at"].astype("int64").iloc[-1] == 39_000  # the newest push is kept


def test_a_push_that_starts_right_but_is_broken_is_dropped_alone() -> None:
    """Frames recognised by their prefix skip decoding on arrival; a broken one is still
    singled out when its batch is typed."""
    good = sim_frames(tables.DEPTH, 2)
    broken = b'{"event":"API_MARKETDEPTH","data":{"symbol":"BTC'
    buffer = TableBuffer(tables.DEPTH)
    buffer.extend([good[0], broken, good[1]], 5_000, 1)
    df = buffer.dataframe()
    assert buffer.malformed == 1
    assert list(df.drop_duplicates("received_at")["received_at"].astype("int64")) == [5_000, 5_002]


def test_a_dataframe_is_built_with_no_more_memory_than_it_holds() -> None:
    """Joining chunks allocates the DataFrame's columns and nothing beside them (making times
    UTC-aware once copied each time column twice, a third above the result for depth), and the
    DataFrame shares no memory with the buffer, which goes on holding its rows."""
    buffer = TableBuffer(tables.DEPTH, typists=0, waiting=10**6)
    frames = sim_frames(tables.DEPTH, 50)
    for i in range(40):
        buffer.extend(frames, i * 10**9, 1)
    assert buffer.rows == 20_000  # every push typed
    chunks = list(buffer._chunks)
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        df = build_dataframe(tables.DEPTH, chunks)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    held = int(df.memory_usage(index=False, deep=True).sum())
    assert len(df) == 20_000 and peak - before < 1.1 * held
    assert str(df["received_at"].dtype) == "datetime64[ns, UTC]" and str(df["time"].dtype).endswith(", UTC]")
    first = buffer.dataframe()["received_at"].iloc[0]
    df.loc[0, "received_at"] = pd.Timestamp("2001-01-01", tz="UTC")  # the user's copy, not the buffer's rows
    assert buffer.dataframe()["received_at"].iloc[0] == first


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=_mutations())
def test_arrow_table_holds_the_dataframes_values(case: tuple[tables.Table, list[bytes]]) -> None:
    """What the recorder writes (build_table) is what a collector returns (build_dataframe): same
    columns, the documented Arrow types, the same values, missing values as nulls."""
    table, frames = case
    buffer = TableBuffer(table, chunk_frames=2)  # several chunks, with differing categories
    buffer.extend(frames, 1_000, 1)
    chunks = buffer.take_chunks()
    frame, data = build_dataframe(table, chunks), build_table(table, chunks)
    assert data.column_names == list(frame.columns)
    for name, kind in schema(table):
        plain = ARROW_TYPES[kind]
        kept = data.column(name).type
        assert kept.value_type.equals(plain) if kind == "category" else kept.equals(plain), name
        expected = pa.array(frame[name].astype(object) if kind == "category" else frame[name], from_pandas=True)
        assert data.column(name).cast(plain).to_pylist() == expected.cast(plain).to_pylist(), name


@pytest.mark.parametrize(
    ("kind", "values"),
    [
        ("float", np.array([1.5, np.nan, -2.0])),
        ("float", np.array([1.5, 3.0, -2.0])),
        ("time", np.array([1_700_000_000_123, _NAT, 5], dtype=np.int64).view("datetime64[ms]")),
        ("time", np.array([1_700_000_000_123, 0, 5], dtype=np.int64).view("datetime64[ms]")),
        ("received_at", np.array([10**18, 10**18 + 1], dtype=np.int64).view("datetime64[ns]")),
        ("category", pd.Categorical(["bid", None, "ask"])),
        ("category", pd.Categorical(["bid", "ask", "ask"])),
        ("int", np.array([1, -3, 200], dtype=np.int16)),
    ],
)
def test_to_arrow_makes_nan_and_nat_null_and_takes_the_rest_as_it_is(kind: str, values: Any) -> None:
    """Columns without a missing value are handed to Arrow without Arrow's search for them;
    with one, it is a null. Either way the values and the documented type are those of the
    reference conversion (Arrow's own, from pandas)."""
    data = to_arrow(kind, values)
    plain = ARROW_TYPES[kind]
    if kind == "category":
        reference = pa.array(values.astype(object), type=plain, from_pandas=True)
        assert data.type.value_type.equals(plain)
        data = data.cast(plain)
    else:
        reference = pa.array(values, type=plain, from_pandas=True)
    assert data.type.equals(plain) and data.to_pylist() == reference.to_pylist()
    assert data.null_count == sum(v is None for v in reference.to_pylist())


def test_tail_is_the_newest_pushes_whole() -> None:
    """tail(n) returns exactly the rows of the newest n pushes held, across chunk boundaries and
    pending frames, and everything when fewer are held."""
    frames = sim_frames(tables.DEPTH, 40)
    buffer = TableBuffer(tables.DEPTH, chunk_frames=7)
    for i in range(0, 40, 3):
        buffer.extend(frames[i : i + 3], i * 1_000, 1)
    held = buffer.dataframe()
    times = held["received_at"].drop_duplicates()
    for pushes in (1, 5, 7, 13, 40, 100):
        expected = held[held["received_at"].isin(times.iloc[-pushes:])].reset_index(drop=True)
        pd.testing.assert_frame_equal(buffer.tail(pushes), expected, check_categorical=False)  # category order may differ
    assert buffer.tail(0).empty


def test_a_cursor_reads_every_row_once_across_chunks_and_pending_pushes() -> None:
    """since(n) returns the rows numbered n and after, typed as dataframe() types them: reading
    from cursor to cursor gives every row once, whatever chunk or pending push they are in."""
    frames = sim_frames(tables.DEPTH, 40)  # 10 rows each
    buffer = TableBuffer(tables.DEPTH, chunk_frames=7)
    cursor, parts = buffer.first, []
    for i in range(0, 40, 3):
        buffer.extend(frames[i : i + 3], (i + 1) * 1_000, 1)
        if i % 2:  # read every other time: some reads span two extends
            got = buffer.since(cursor)
            assert got.dropped == 0 and got.next == cursor + len(got.frame)
            parts.append(got.frame)
            cursor = got.next
    last = buffer.since(cursor)
    parts.append(last.frame)
    assert buffer.since(last.next).frame.empty
    whole = buffer.dataframe()
    assert all(list(part.dtypes.astype(str)) == list(whole.dtypes.astype(str)) for part in parts)
    pd.testing.assert_frame_equal(uncategorised(pd.concat(parts, ignore_index=True)), uncategorised(whole))
    assert last.next == len(whole) == 400


def test_holds_counts_rows_from_a_cursor_typing_pending_pushes_only_when_they_would_make_the_count() -> None:
    frames = sim_frames(tables.DEPTH, 40)  # 10 rows each
    buffer = TableBuffer(tables.DEPTH, chunk_frames=100)
    assert not buffer.holds(1, since=0)
    buffer.extend(frames[:2], 1_000, 1)
    assert buffer.holds(20, since=0) and not buffer.holds(21, since=0)  # nothing typed before: typed to count
    buffer.extend(frames[2:4], 2_000, 1)
    assert (
        not buffer.holds(41, since=0) and buffer.tail(10, pending=False).shape[0] == 20
    )  # 2 pending pushes make 40 at most: not typed
    assert buffer.holds(40, since=0) and buffer.tail(10, pending=False).shape[0] == 40  # they make it: typed
    assert buffer.holds(10, since=30) and not buffer.holds(11, since=30)


def uncategorised(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with its categories as strings: parts with different categories concatenate so."""
    return df.astype({name: str for name in df.columns if isinstance(df[name].dtype, pd.CategoricalDtype)})


def test_a_cursor_left_behind_by_max_rows_counts_what_it_lost_and_reads_whole_pushes() -> None:
    """Rows dropped by max_rows before a reader read them are counted, and the rest of a push cut
    in two by the bound is counted with them: a reader gets whole pushes only."""
    frames = sim_frames(tables.DEPTH, 40)  # 10 rows each
    buffer = TableBuffer(tables.DEPTH, chunk_frames=4, max_rows=95)
    for i, frame in enumerate(frames[:5]):
        buffer.extend([frame], (i + 1) * 1_000, 1)
    first = buffer.since(0)
    assert (len(first.frame), first.next, first.dropped) == (50, 50, 0)
    for i, frame in enumerate(frames[5:], start=5):
        buffer.extend([frame], (i + 1) * 1_000, 1)
    late = buffer.since(first.next)
    assert buffer.first == 400 - 95 and late.next == 400
    assert (len(late.frame), late.dropped) == (90, 400 - 50 - 90)  # the cut push's 5 rows count as dropped
    assert late.frame["received_at"].value_counts().eq(10).all()
    pd.testing.assert_frame_equal(late.frame, buffer.dataframe().iloc[5:].reset_index(drop=True), check_categorical=False)


@pytest.mark.parametrize("table", [tables.DEPTH, tables.PAIR_INDEX_V3], ids=lambda t: t.name)
def test_tail_where_is_the_newest_pushes_of_one_symbol_or_id(table: tables.Table) -> None:
    """tail(n, where=(column, value)): the rows of the newest n pushes holding ``value``, others
    skipped (and not counted), across chunks of one, several or none of them and pending frames."""
    market, rng = Market(3), random.Random(3)
    if table is tables.DEPTH:
        column, names = "symbol", ["BTCUSDT", "ETHUSDT", "SOLUSDT"]

        def frame(name: str) -> bytes:
            return orjson.dumps(nexus.push(nexus.MARKETDEPTH, market.book(name, 5, rng)))
    else:
        column, names = "underlying_cid", ["1", "2", "3"]
        streams = {name: IndexStream(table.name, name, market) for name in names}

        def frame(name: str) -> bytes:
            return streams[name].next().encode()

    # the first two alternate; the third only in the first pushes (a symbol unsubscribed since),
    # then a run of the first alone: a chunk (of 7) without the second
    order = [names[2]] * 3 + [names[i % 2] for i in range(30)] + [names[0]] * 10 + [names[1]] * 2
    buffer = TableBuffer(table, chunk_frames=7)
    for i, name in enumerate(order):
        buffer.extend([frame(name)], i * 1_000, 1)
    held = buffer.dataframe()
    for value in names:
        rows = held[held[column] == value]
        times = rows["received_at"].drop_duplicates()
        assert len(times) == order.count(value)
        for pushes in (1, 3, 8, 17, 100):
            expected = rows[rows["received_at"].isin(times.iloc[-pushes:])].reset_index(drop=True)
            got = buffer.tail(pushes, where=(column, value))
            pd.testing.assert_frame_equal(got, expected, check_categorical=False)
            assert got["received_at"].nunique() == min(pushes, len(times))
    assert buffer.tail(5, where=(column, "nowhere")).empty


def _typing_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("nexusdata-typing")]


def test_typing_threads_join_batches_in_order_and_end(no_thread_leak: None) -> None:
    """Batches sealed on the connection's thread are typed by the buffer's typing threads,
    side by side, and join in order: the rows equal those of typing everything at once, and
    no typing thread is left once the buffer has finished."""
    frames = sim_frames(tables.DEPTH, 10 * ARROW_FROM + 4)  # 10 rows each
    buffer = TableBuffer(tables.DEPTH, chunk_frames=ARROW_FROM, typists=2)
    at_once = TableBuffer(tables.DEPTH, chunk_frames=10**6)  # typed when read, on the reader's thread
    for i in range(0, len(frames), 8):  # reads of 8: a batch every ARROW_FROM / 8 reads, 4 pushes left over
        buffer.extend(frames[i : i + 8], i * 1_000, 1)
        at_once.extend(frames[i : i + 8], i * 1_000, 1)
    buffer.finish()
    assert _typing_threads() == []
    assert buffer.typed_rows == 10 * ARROW_FROM * 10  # the pushes of the 10 batches; the last 4 wait for a reader
    got, expected = buffer.dataframe(), at_once.dataframe()
    assert len(got) == len(frames) * 10 and got["received_at"].is_monotonic_increasing
    pd.testing.assert_frame_equal(got, expected, check_categorical=False)  # category order may differ


def test_a_calm_feed_is_typed_on_the_connection_thread(no_thread_leak: None) -> None:
    """A batch that took a second or more to fill is typed where it was sealed: no thread starts."""
    frames = sim_frames(tables.DEPTH, 2 * ARROW_FROM)
    buffer = TableBuffer(tables.DEPTH, chunk_frames=ARROW_FROM)
    for i, frame in enumerate(frames):
        buffer.extend([frame], i * 100_000_000, 1)  # 10 pushes a second
        assert _typing_threads() == []
    assert buffer.typed_rows == 2 * ARROW_FROM * 10


def test_the_connection_thread_waits_while_typing_falls_behind(monkeypatch: pytest.MonkeyPatch, no_thread_leak: None) -> None:
    """With ``waiting`` batches untyped, extend waits for the typing threads (memory stays
    bounded) and tail(pending=False) does not wait at all; once typing goes on, every push is
    there, in order."""
    gate = threading.Event()
    typed = buffer_module._type

    def held_up(table: tables.Table, batch: Any) -> Any:
        gate.wait(WAIT)
        return typed(table, batch)

    monkeypatch.setattr(buffer_module, "_type", held_up)
    frames = sim_frames(tables.DEPTH, ARROW_FROM)
    buffer = TableBuffer(tables.DEPTH, chunk_frames=ARROW_FROM, typists=2, waiting=2)
    returned: list[int] = []

    def connection_thread() -> None:
        for i in range(6):
            buffer.extend(frames, i * 1_000_000, 1)
            returned.append(i)

    reading = threading.Thread(target=connection_thread, name="test-connection")
    reading.start()
    try:
        assert wait_until(lambda: buffer.pushes == 3 * ARROW_FROM)  # the third batch is sealed...
        assert returned == [0, 1]  # ...and its extend waits: nothing is typed while the gate is shut
        newest: list[pd.DataFrame] = []
        peek = threading.Thread(target=lambda: newest.append(buffer.tail(5, pending=False)))
        peek.start()
        peek.join(WAIT)
        assert newest and newest[0].empty  # it returned at once, with what was typed: nothing yet
    finally:
        gate.set()
        reading.join(WAIT)
    assert returned == list(range(6))
    df = buffer.dataframe()
    assert len(df) == 6 * ARROW_FROM * 10 and df["received_at"].is_monotonic_increasing
    buffer.finish()
    assert _typing_threads() == []


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=_mutations())
def test_buffer_with_typing_threads_equals_the_reference(case: tuple[tables.Table, list[bytes]]) -> None:
    """Whatever the pushes, a buffer typing batches of them with its threads (Arrow's reader,
    or the reference path for a batch Arrow declines) holds exactly the rows the element-wise
    reference path makes of them, and counts the same pushes malformed."""
    table, batch = case
    frames = (batch * (ARROW_FROM + 8))[: ARROW_FROM + 8]  # a batch for Arrow's reader, a few left for the reader's path
    buffer = TableBuffer(table, chunk_frames=ARROW_FROM, typists=2)
    for i in range(0, len(frames), 5):
        buffer.extend(frames[i : i + 5], i, 1)  # the n-th frame of a read is stamped n ns later: frame i at i
    got = buffer.dataframe()
    columns, push, malformed = type_elementwise(table, frames)
    stamps = np.asarray(push, dtype=np.int64).view("datetime64[ns]")
    chunk = Chunk({"received_at": stamps, "connection": np.ones(len(push), dtype=np.int32), **columns}, len(push))
    assert buffer.malformed == malformed
    pd.testing.assert_frame_equal(got, build_dataframe(table, [chunk]), check_categorical=False)
    buffer.finish()
