"""The fast path: a batch of raw push frames straight into typed columns with Arrow's C++ JSON
reader, never making a Python object per value.

It explodes a :class:`~nexusdata.protocol.tables.Table` exactly as ``Table.flatten`` does (same
rows, same order, same values); the tests hold the two paths equal. Whatever Arrow cannot read
as one consistent batch (a value of another type, a wrong shape, junk) raises
:class:`NotColumnar`, and the caller takes the element-wise path for that batch.

Each column is typed once, where the reader left it (the children of every list under a level's
keys one after the other), and only the typed numbers, codes and strings are then put in the
table's row order by one index computed in linear time: no sort, and no copy of the nested
structs.
"""

from __future__ import annotations

from typing import IO, Any, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from ..protocol.tables import Field, Level, Table
from .columns import ARROW_CONVERTERS, POOL, Array, NotColumnar, labels, take

_MAX_NESTING = 256  # well under orjson's 1024: deeper batches are judged by the reference path
_READ = pj.ReadOptions(use_threads=False, block_size=1 << 24)
"""One block, parsed on the calling thread (which Arrow's reader lets go of the GIL meanwhile): a
batch is typed off the connection's thread already, and splitting it across Arrow's pool cost
more CPU on this 2-core machine than it saved time."""


def read_frames(table: Table, frames: list[bytes]) -> tuple[dict[str, Array], np.ndarray]:
    """Typed columns of ``table`` for the pushes in ``frames`` (whole JSON messages, payload
    under ``table.envelope``) and, per row, the index of the frame it came from."""
    try:
        text = cast(IO[bytes], pa.BufferReader(_lines(frames)))  # read in place, not copied (the stubs: a file object)
        batch = pj.read_json(text, read_options=_READ, memory_pool=POOL)
        if batch.num_rows != len(frames) or table.envelope not in batch.column_names:
            raise NotColumnar("frames do not map one to one onto rows")
        if _nesting(batch.schema) > _MAX_NESTING:
            raise NotColumnar("nested deeper than the element-wise decoder reads")
        if not _all_finite(batch):
            raise NotColumnar("a number beyond a double's range (or NaN): not JSON orjson reads")
        column = batch.column(table.envelope)
        # one block makes one chunk, taken as it is (combine_chunks copies it; the stubs type chunk() wrong)
        items = cast("pa.Array[Any]", column.chunk(0)) if column.num_chunks == 1 else column.combine_chunks()
        push = np.arange(len(frames))
        if pa.types.is_list(items.type):
            push = pc.list_parent_indices(items, memory_pool=POOL).to_numpy()
            items = cast("pa.Array[Any]", pc.list_flatten(items, memory_pool=POOL))
        _expect_objects(items)
        return _explode(table, items, push)
    except (pa.ArrowException, UnicodeDecodeError, RecursionError) as exc:
        # Arrow is more lenient than JSON (invalid UTF-8, NaN): the reference path decides.
        raise NotColumnar(f"{type(exc).__name__}: {exc}"[:200]) from None


def _lines(frames: list[bytes]) -> bytes:
    """The frames as newline-delimited JSON. A newline inside a frame (JSON whitespace, which
    would split it) is looked for in all of them at once (``find`` is ``memchr``: a tenth of
    ``count``'s time, a fifth of a test per frame)."""
    if b"".join(frames).find(b"\n") < 0:
        return b"\n".join(frames)
    return b"\n".join(f.replace(b"\n", b" ") for f in frames)


def _nesting(schema: pa.Schema) -> int:
    """How deep the batch's JSON nests (its deepest type), walked without recursion."""
    deepest, stack = 0, [(f.type, 1) for f in schema]
    while stack:
        kind, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((kind.field(i).type, depth + 1) for i in range(kind.num_fields))
    return deepest


def _all_finite(batch: pa.Table) -> bool:
    """Whether every floating-point value anywhere in the batch is finite (Arrow reads 1e400 as
    infinity and accepts NaN; the element-wise path rejects such a push)."""
    stack: list[pa.Array[Any]] = [chunk for c in batch.columns if _has_floats(c.type) for chunk in c.chunks]
    while stack:
        array = stack.pop()
        kind = array.type
        if pa.types.is_floating(kind):
            if pc.all(pc.is_finite(array)).as_py() is False:  # None: all null
                return False
        elif pa.types.is_struct(kind):
            stack.extend(cast(pa.StructArray, array).field(i) for i in range(kind.num_fields) if _has_floats(kind.field(i).type))
        elif pa.types.is_list(kind):
            stack.append(cast("pa.ListArray[Any]", array).flatten())
    return True


def _has_floats(kind: pa.DataType) -> bool:
    """Whether a value of type ``kind`` holds a floating-point number somewhere."""
    if pa.types.is_floating(kind):
        return True
    return any(_has_floats(kind.field(i).type) for i in range(kind.num_fields))


def _expect_objects(array: pa.Array[Any]) -> None:
    """Every item an object: a null or a scalar where an object belongs is for the reference
    path to single out as malformed."""
    if not (pa.types.is_struct(array.type) or pa.types.is_null(array.type)) or array.null_count:
        raise NotColumnar(f"expected objects, got {array.type} with {array.null_count} nulls")


def _field(items: pa.Array[Any], field: Field) -> pa.Array[Any]:
    """``field`` of every item (null where absent), its alias filling the gaps."""
    value = _child(items, field.source)
    if field.alias is not None:
        alias = _child(items, field.alias)
        if value.null_count == len(value):
            value = alias
        elif alias.null_count != len(alias):
            value = pc.coalesce(value, alias.cast(value.type))
    return value


def _child(items: pa.Array[Any], name: str) -> pa.Array[Any]:
    if pa.types.is_struct(items.type) and items.type.get_field_index(name) >= 0:
        return cast("pa.Array[Any]", pc.struct_field(items, name))  # honours nulls of the parent (the stubs: Any)
    return pa.nulls(len(items))


def _typed(fields: tuple[Field, ...], items: pa.Array[Any]) -> dict[str, Array]:
    return {f.name: ARROW_CONVERTERS[f.type](_field(items, f)) for f in fields}


def _explode(table: Table, items: pa.Array[Any], push: np.ndarray) -> tuple[dict[str, Array], np.ndarray]:
    columns = _typed(table.fields, items)
    for depth, level in enumerate(table.levels):
        last = depth == len(table.levels) - 1
        children, order, parents, extra = _explode_level(level, items, last)
        columns = {name: take(values, parents) for name, values in columns.items()}
        push = push[parents]
        columns.update(extra)
        if last:  # typed where they lie, then put in order: numbers and codes move, not structs
            columns.update(
                {
                    name: values if order is None else take(values, order)
                    for name, values in _typed(level.fields, children).items()
                }
            )
        else:
            items = children if order is None else pc.take(children, pa.array(order), memory_pool=POOL)
            columns.update(_typed(level.fields, items))
    return columns, push


def _explode_level(
    level: Level, items: pa.Array[Any], last: bool
) -> tuple[pa.Array[Any], np.ndarray | None, np.ndarray, dict[str, Array]]:
    """The children under ``level.keys`` of every item, as the reader holds them (every list of
    the first key, then of the next, then a null child for each item kept without any), with
    the order that puts them as ``Table.flatten`` does (by parent, then key, then position;
    ``None`` when they are in it already), each row's parent in that order and its label and
    position columns."""
    if len(level.keys) > 1 and not last:
        raise NotColumnar("several keys are only read columnar on the last level")
    n = len(items)
    kids: list[pa.Array[Any]] = []
    lengths: list[np.ndarray] = []
    for key in level.keys:
        lists = _child(items, key)
        if pa.types.is_null(lists.type):
            lengths.append(np.zeros(n, dtype=np.int64))
            kids.append(pa.nulls(0))
            continue
        if not pa.types.is_list(lists.type):
            raise NotColumnar(f"{key} is not a list")
        lengths.append(pc.list_value_length(lists).fill_null(0).to_numpy().astype(np.int64, copy=False))
        flat = pc.list_flatten(lists, memory_pool=POOL)
        _expect_objects(flat)
        kids.append(flat)
    counts = np.sum(lengths, axis=0) if len(lengths) > 1 else lengths[0]
    lonely = np.flatnonzero(counts == 0) if level.keep_empty else np.zeros(0, dtype=np.int64)
    rows = counts
    if len(lonely):
        rows = counts.copy()
        rows[lonely] = 1
    starts = np.cumsum(rows) - rows  # where each parent's rows begin
    # where each child goes: its parent's start, past the parent's children of earlier keys
    spots: list[np.ndarray] = []
    tags: list[np.ndarray] = []
    positions: list[np.ndarray] = []
    before = starts
    for k, (size, kid) in enumerate(zip(lengths, kids)):
        first = np.cumsum(size) - size  # where each parent's list begins in ``kid``
        position = np.arange(len(kid), dtype=np.int64) - np.repeat(first, size)
        spots.append(np.repeat(before, size) + position)
        positions.append(position)
        tags.append(np.full(len(kid), k, dtype=np.int8))
        before = before + size
    if len(lonely):
        spots.append(starts[lonely])
        positions.append(np.full(len(lonely), -1, dtype=np.int64))
        tags.append(np.full(len(lonely), -1, dtype=np.int8))
        kids.append(pa.nulls(len(lonely)))
    shapes = {k.type for k in kids if not pa.types.is_null(k.type)}
    if len(shapes) > 1:
        raise NotColumnar("lists under several keys hold objects of different shapes")
    kind = next(iter(shapes), pa.null())
    present = [k if k.type == kind else k.cast(kind) for k in kids if len(k)]
    children = pa.concat_arrays(present, memory_pool=POOL) if len(present) > 1 else present[0] if present else pa.nulls(0)
    spot = np.concatenate(spots)
    total = len(spot)
    order: np.ndarray | None = None
    if len(kids) > 1 and total:  # several keys, or items kept without children: not in order yet
        order = np.empty(total, dtype=np.int64)
        order[spot] = np.arange(total, dtype=np.int64)
    parents = np.repeat(np.arange(n, dtype=np.int64), rows)
    extra: dict[str, Array] = {}
    if level.label:
        tag = np.concatenate(tags)
        extra[level.label] = labels(tag if order is None else tag[order], level.labels or level.keys)
    if level.position:
        position = np.concatenate(positions)
        extra[level.position] = np.minimum(position if order is None else position[order], 127).astype(np.int8)
    return children, order, parents, extra
