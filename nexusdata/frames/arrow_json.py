"""The fast path: a batch of raw push frames straight into typed columns with Arrow's C++ JSON
reader, never making a Python object per value.

It explodes a :class:`~nexusdata.protocol.tables.Table` exactly as ``Table.flatten`` does (same
rows, same order, same values); the tests hold the two paths equal. Whatever Arrow cannot read
as one consistent batch (a value of another type, a wrong shape, junk) raises
:class:`NotColumnar`, and the caller takes the element-wise path for that batch.
"""

from __future__ import annotations

import io
from typing import Any, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from ..protocol.tables import Field, Level, Table
from .columns import ARROW_CONVERTERS, POOL, Array, NotColumnar, take, to_category

_MAX_NESTING = 256  # well under orjson's 1024: deeper batches are judged by the reference path
_READ = pj.ReadOptions(use_threads=True, block_size=1 << 20)  # blocks may parse in parallel; Arrow unifies their types


def read_frames(table: Table, frames: list[bytes]) -> tuple[dict[str, Array], np.ndarray]:
    """Typed columns of ``table`` for the pushes in ``frames`` (whole JSON messages, payload
    under ``table.envelope``) and, per row, the index of the frame it came from."""
    text = b"\n".join(f.replace(b"\n", b" ") if b"\n" in f else f for f in frames)  # JSON newlines are whitespace
    try:
        batch = pj.read_json(io.BytesIO(text), read_options=_READ, memory_pool=POOL)
        if batch.num_rows != len(frames) or table.envelope not in batch.column_names:
            raise NotColumnar("frames do not map one to one onto rows")
        if _nesting(batch.schema) > _MAX_NESTING:
            raise NotColumnar("nested deeper than the element-wise decoder reads")
        if not _all_finite(batch):
            raise NotColumnar("a number beyond a double's range (or NaN): not JSON orjson reads")
        items = batch.column(table.envelope).combine_chunks()
        push = np.arange(len(frames))
        if pa.types.is_list(items.type):
            push = pc.list_parent_indices(items, memory_pool=POOL).to_numpy()
            items = pc.list_flatten(items, memory_pool=POOL)
        _expect_objects(items)
        return _explode(table, items, push)
    except (pa.ArrowException, UnicodeDecodeError, RecursionError) as exc:
        # Arrow is more lenient than JSON (invalid UTF-8, NaN): the reference path decides.
        raise NotColumnar(f"{type(exc).__name__}: {exc}"[:200]) from None


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
    stack: list[pa.Array[Any]] = [c.combine_chunks() for c in batch.columns]
    while stack:
        array = stack.pop()
        kind = array.type
        if pa.types.is_floating(kind):
            if pc.any(pc.invert(pc.is_finite(array))).as_py():
                return False
        elif pa.types.is_struct(kind):
            stack.extend(cast(pa.StructArray, array).field(i) for i in range(kind.num_fields))
        elif pa.types.is_list(kind):
            stack.append(cast("pa.ListArray[Any]", array).flatten())
    return True


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
    return {f.name: ARROW_CONVERTERS[f.kind](_field(items, f)) for f in fields}


def _explode(table: Table, items: pa.Array[Any], push: np.ndarray) -> tuple[dict[str, Array], np.ndarray]:
    columns = _typed(table.fields, items)
    for depth, level in enumerate(table.levels):
        last = depth == len(table.levels) - 1
        items, parents, extra = _explode_level(level, items, last)
        columns = {name: take(values, parents) for name, values in columns.items()}
        push = push[parents]
        columns.update(extra)
        columns.update(_typed(level.fields, items))
    return columns, push


def _explode_level(level: Level, items: pa.Array[Any], last: bool) -> tuple[pa.Array[Any], np.ndarray, dict[str, Array]]:
    """The children under ``level.keys`` of every item, ordered as ``Table.flatten`` orders
    them (by parent, then key, then position), with their parent rows and label/position."""
    if len(level.keys) > 1 and not last:
        raise NotColumnar("several keys are only read columnar on the last level")
    n = len(items)
    kids: list[pa.Array[Any]] = []
    parents: list[np.ndarray] = []
    tags: list[np.ndarray] = []
    positions: list[np.ndarray] = []
    counts = np.zeros(n, dtype=np.int64)
    for k, key in enumerate(level.keys):
        lists = _child(items, key)
        if pa.types.is_null(lists.type):
            continue
        if not pa.types.is_list(lists.type):
            raise NotColumnar(f"{key} is not a list")
        lengths = pc.list_value_length(lists).fill_null(0).to_numpy()
        flat = pc.list_flatten(lists, memory_pool=POOL)
        _expect_objects(flat)
        starts = np.cumsum(lengths) - lengths
        kids.append(flat)
        parents.append(np.repeat(np.arange(n), lengths))
        positions.append(np.arange(len(flat)) - np.repeat(starts, lengths))
        tags.append(np.full(len(flat), k))
        counts += lengths
    if level.keep_empty:
        lonely = np.flatnonzero(counts == 0)
        kids.append(pa.nulls(len(lonely)))
        parents.append(lonely)
        positions.append(np.full(len(lonely), -1))
        tags.append(np.full(len(lonely), -1))
    if len({k.type for k in kids if not pa.types.is_null(k.type)}) > 1:
        raise NotColumnar("lists under several keys hold objects of different shapes")
    kind = next((k.type for k in kids if not pa.types.is_null(k.type)), pa.null())
    children = pa.concat_arrays([pc.cast(k, kind, memory_pool=POOL) for k in kids], memory_pool=POOL) if kids else pa.nulls(0)
    parent = np.concatenate(parents) if parents else np.zeros(0, dtype=np.int64)
    tag = np.concatenate(tags) if tags else np.zeros(0, dtype=np.int64)
    position = np.concatenate(positions) if positions else np.zeros(0, dtype=np.int64)
    order = np.lexsort((position, np.where(tag < 0, len(level.keys), tag), parent))  # stable by parent, key, position
    # integer positions (pyarrow-stubs take the first overload of pa.array for an ndarray: booleans)
    children = pc.take(children, cast("pa.IntegerArray[Any]", pa.array(order)), memory_pool=POOL)
    parent, tag, position = parent[order], tag[order], position[order]
    extra: dict[str, Array] = {}
    if level.label:
        names = np.array([*(level.labels or level.keys), None], dtype=object)
        extra[level.label] = to_category(names[tag].tolist())
    if level.position:
        extra[level.position] = np.minimum(position, 127).astype(np.int8)
    return children, parent, extra
