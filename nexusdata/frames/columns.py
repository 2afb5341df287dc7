"""Typing flattened columns: plain Python lists in, compact numpy, pandas or Arrow arrays out.

Each column kind of :mod:`nexusdata.protocol.tables` has one converter. The common case goes
through Arrow's C++ conversions (parsing decimal strings, dictionary-encoding repeated ones),
which cost a third of numpy's per element; a column Arrow will not take as it is (mixed types,
junk) falls back to an element-wise path where a value that cannot be converted becomes a
missing value rather than failing the whole batch.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, TypeAlias, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api.types import union_categoricals

from ..protocol.tables import ColumnType

Array: TypeAlias = "np.ndarray | pd.Categorical | pa.Array[Any]"
"""A typed column: numpy for numbers and times, a categorical for categories, Arrow strings for
identifiers and text. Which of them a column holds follows from its kind (hence the casts below)."""

STR_DTYPE: Any = "str" if int(pd.__version__.split(".")[0]) >= 3 else object
"""pandas' default string dtype: ``str`` from pandas 3, plain ``object`` before."""

_SECONDS_LIMIT = 100_000_000_000  # below: a 10-digit epoch in seconds; above: milliseconds
_MS_LIMIT = 1e15  # beyond year 33000: not a time; NaT rather than an overflow
_US_FROM = 1e14  # from here up (15+ digits, from 1973 on): microseconds
_NS_FROM = 1e17  # from here up (18+ digits, from 1973 on): nanoseconds
_NAT = np.iinfo(np.int64).min


POOL = pa.system_memory_pool()
"""Arrow allocations of the frames layer: freed memory goes back to the system at once, where
Arrow's default pool keeps it for a while (and a collector's peak memory with it)."""

_ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError)


def _arrow_float(values: Sequence[Any]) -> np.ndarray | None:
    """``values`` (all numbers, or all decimal strings, and ``None``) as float64 by Arrow, or
    ``None`` when Arrow cannot take them as they are."""
    try:
        arr: pa.Array[Any] = pa.array(values)
        kind = arr.type
        if not (pa.types.is_string(kind) or pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_null(kind)):
            return None
        return pc.cast(arr, pa.float64(), memory_pool=POOL).to_numpy(zero_copy_only=False)
    except _ARROW_ERRORS:
        return None


def _float_one(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def to_float(values: Sequence[Any]) -> np.ndarray:
    """Decimal strings, numbers and ``None`` → float64 (NaN where not a number)."""
    fast = _arrow_float(values)
    if fast is not None:
        return fast
    return np.array([_float_one(v) for v in values], dtype=np.float64)


def _text(value: Any) -> str | None:
    if type(value) is str:
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None  # null, or a list/object where text belongs: missing, not its repr


def to_str(values: Sequence[Any]) -> pa.StringArray:
    """Identifiers and text with their exact characters (integers as their digits), kept as
    Arrow strings: compact, and neither the DataFrame nor a Parquet file needs them converted."""
    return pa.array([_text(v) for v in values], type=pa.string())


def to_category(values: Sequence[Any]) -> pd.Categorical:
    """Short repeated strings as a categorical (1 byte a row while under 128 distinct values)."""
    try:
        return _categorical(pa.array(values, type=pa.string()))
    except _ARROW_ERRORS:
        return pd.Categorical([_text(v) for v in values])


def _categorical(strings: pa.Array[Any]) -> pd.Categorical:
    # a DictionaryArray (pyarrow-stubs type dictionary_encode's result as its input's type)
    encoded = cast("pa.DictionaryArray[Any, Any]", pc.dictionary_encode(strings, memory_pool=POOL))
    indices = encoded.indices
    codes = (indices.fill_null(-1) if indices.null_count else indices).to_numpy(zero_copy_only=False)
    return _from_codes(codes, tuple(encoded.dictionary.to_pylist()))


def _from_codes(codes: np.ndarray, categories: tuple[Any, ...]) -> pd.Categorical:
    """A categorical of valid ``codes`` (-1: missing) into distinct ``categories``, without
    pandas checking every code again."""
    return pd.Categorical.from_codes(codes, dtype=_dtype(categories), validate=False)


@functools.lru_cache(maxsize=1024)
def _dtype(categories: tuple[Any, ...]) -> pd.CategoricalDtype:
    """The categorical dtype of ``categories``, made once: pandas checks a new one's categories
    for duplicates (0.1-0.2 ms, most of typing a small column), and the batches of a feed mostly
    hold the same few symbols, sides and venues."""
    return pd.CategoricalDtype(pd.Index(categories, dtype=STR_DTYPE))


def labels(tags: np.ndarray, names: Sequence[str]) -> pd.Categorical:
    """Which of ``names`` each row has, by its index in them (-1: none), as a categorical of
    all of ``names`` (a level's label: ``bid`` or ``ask``)."""
    return _from_codes(tags, tuple(names))


def to_time(values: Sequence[Any]) -> np.ndarray:
    """Epoch seconds, milliseconds, microseconds or nanoseconds (numbers or digit strings) →
    datetime64[ms]; 0 or missing → NaT. The unit is told by size: 10 digits are seconds, 13
    milliseconds, 16 microseconds, 19 nanoseconds."""
    return _epoch_ms(to_float(values))


def _epoch_ms(raw: np.ndarray) -> np.ndarray:
    if len(raw):
        low, high = raw.min(), raw.max()  # NaN if any is
        if _SECONDS_LIMIT <= low and high < _US_FROM:  # every value in milliseconds: the usual case
            return raw.astype(np.int64).view("datetime64[ms]")
    raw = np.where(raw >= _NS_FROM, raw / 1e6, np.where(raw >= _US_FROM, raw / 1e3, raw))
    valid = np.isfinite(raw) & (raw > 0) & (raw < _MS_LIMIT)
    ms = np.where(raw < _SECONDS_LIMIT, raw * 1000.0, raw)
    out = np.full(len(raw), _NAT, dtype=np.int64)
    out[valid] = ms[valid].astype(np.int64)
    return out.view("datetime64[ms]")


def to_int(values: Sequence[Any]) -> np.ndarray:
    """Small status codes → int16; missing or non-numeric → 0 (no documented code is 0)."""
    return _status(to_float(values))


def _status(raw: np.ndarray) -> np.ndarray:
    return np.where(np.isfinite(raw) & (np.abs(raw) <= 32767), raw, 0).astype(np.int16)


def to_position(values: Sequence[int]) -> np.ndarray:
    """Index within a list (order-book level) → int8; -1 marks a parent kept without children."""
    return np.minimum(np.array(values, dtype=np.int64), 127).astype(np.int8)


CONVERTERS: dict[ColumnType, Callable[[Sequence[Any]], Array]] = {
    "float": to_float,
    "id": to_str,
    "text": to_str,
    "category": to_category,
    "time": to_time,
    "int": to_int,
    "position": to_position,
}


class NotColumnar(Exception):
    """A batch Arrow cannot type as it is; the caller takes the element-wise path."""


def _arrow_of(arr: pa.Array[Any], *accepted: Callable[[pa.DataType], bool]) -> pa.Array[Any]:
    if pa.types.is_null(arr.type) or any(test(arr.type) for test in accepted):
        return arr
    raise NotColumnar(f"unexpected {arr.type}")


def _arrow_numbers(arr: pa.Array[Any]) -> np.ndarray:
    arr = _arrow_of(arr, pa.types.is_string, pa.types.is_integer, pa.types.is_floating)
    try:
        return pc.cast(arr, pa.float64(), memory_pool=POOL).to_numpy(zero_copy_only=False)
    except _ARROW_ERRORS as exc:
        raise NotColumnar(str(exc)) from None


def _arrow_strings(arr: pa.Array[Any]) -> pa.Array[Any]:
    return pc.cast(_arrow_of(arr, pa.types.is_string, pa.types.is_integer), pa.string(), memory_pool=POOL)


ARROW_CONVERTERS: dict[ColumnType, Callable[[pa.Array[Any]], Array]] = {
    "float": _arrow_numbers,
    "id": _arrow_strings,
    "text": _arrow_strings,
    "category": lambda arr: _categorical(_arrow_strings(arr)),
    "time": lambda arr: _epoch_ms(_arrow_numbers(arr)),
    "int": lambda arr: _status(_arrow_numbers(arr)),
}
"""The same conversions as :data:`CONVERTERS`, from Arrow arrays read by the JSON reader; they
raise :class:`NotColumnar` for anything the element-wise path would treat differently."""


def concat(kind: ColumnType, parts: Sequence[Array]) -> Array:
    """Join one column's chunks."""
    if not parts:
        return CONVERTERS[kind]([])
    if kind == "category":
        categoricals = cast("list[pd.Categorical]", list(parts))
        dtype = categoricals[0].dtype
        if all(c.dtype is dtype for c in categoricals):  # the usual case: dtypes are cached by their categories
            return pd.Categorical.from_codes(np.concatenate([c.codes for c in categoricals]), dtype=dtype, validate=False)
        return union_categoricals(categoricals)
    if kind in ("id", "text"):
        return pa.concat_arrays(cast("list[pa.Array[Any]]", list(parts)), memory_pool=POOL)
    return np.concatenate(parts)


def equal(values: Array, value: str) -> np.ndarray:
    """Where ``values`` (categories or Arrow strings: symbols, ids) hold ``value``, as a boolean
    array (missing values are not equal to anything)."""
    if isinstance(values, pd.Categorical):
        categories = values.categories
        if value not in categories:
            return np.zeros(len(values), dtype=bool)
        return cast(np.ndarray, values.codes == categories.get_loc(value))
    if isinstance(values, pa.Array):
        return pc.equal(values, pa.scalar(value)).fill_null(False).to_numpy(zero_copy_only=False)
    return cast(np.ndarray, values == value)


def take(values: Array, rows: np.ndarray) -> Array:
    """The values at ``rows`` (positions), whatever kind of array holds them."""
    if isinstance(values, pa.Array):
        return values.take(pa.array(rows))
    if isinstance(values, pd.Categorical):  # the codes alone: pandas would check the positions first
        return pd.Categorical.from_codes(values.codes[rows], dtype=values.dtype, validate=False)
    return cast(np.ndarray, values[rows])


ARROW_TYPES: dict[str, pa.DataType] = {
    "received_at": pa.timestamp("ns", tz="UTC"),
    "connection": pa.int32(),
    "float": pa.float64(),
    "id": pa.string(),
    "text": pa.string(),
    "category": pa.string(),
    "time": pa.timestamp("ms", tz="UTC"),
    "int": pa.int16(),
    "position": pa.int8(),
}
"""Arrow type of each column kind (and of ``received_at`` and ``connection``): plain types every
engine reads. A category is a string; :func:`to_arrow` keeps it dictionary-encoded."""


def to_arrow(kind: ColumnType | str, values: Array) -> pa.Array[Any]:
    """One joined column as Arrow, sharing numpy's memory where the layouts agree: categories
    stay dictionary-encoded, NaN and NaT become nulls. A column without them (the usual case)
    is handed over as it is: Arrow's search for them element by element took three quarters of
    a recorder's building of a table, and numpy finds that there are none in a tenth of it."""
    if kind == "category":
        values = cast(pd.Categorical, values)
        codes = values.codes
        categories = pa.array(values.categories.to_numpy(dtype=object), type=pa.string())
        missing = len(codes) > 0 and codes.min() < 0
        return pa.DictionaryArray.from_arrays(pa.array(codes, mask=codes < 0) if missing else pa.array(codes), categories)
    if isinstance(values, pa.Array):
        return values
    values = cast(np.ndarray, values)
    if _has_missing(values):
        return pa.array(values, type=ARROW_TYPES[kind], from_pandas=True)
    arrow_type = ARROW_TYPES[kind]
    # Arrow converts datetime64 value by value; the same values as int64 it takes as they are
    if isinstance(arrow_type, pa.TimestampType) and np.datetime_data(values.dtype)[0] == arrow_type.unit:
        return pa.array(values.view(np.int64)).view(arrow_type)
    return pa.array(values, type=arrow_type)


def _has_missing(values: np.ndarray) -> bool:
    """Whether ``values`` hold a NaN (floats) or a NaT (times): what Arrow makes null."""
    if values.dtype.kind == "f":
        return bool(np.isnan(values).any())
    if values.dtype.kind == "M":
        return bool(np.isnat(values).any())
    return False


def utc_times(values: np.ndarray) -> pd.DatetimeIndex:
    """Naive UTC ``datetime64`` values as UTC-aware times, sharing their memory: ``tz_localize``
    made two copies, which for the 8 bytes a row of a time column put 16 bytes a row on a
    DataFrame's peak memory. ``values`` must be an array of the caller's own (a column just
    joined), since the DataFrame writes into it."""
    unit = np.datetime_data(values.dtype)[0]
    # pandas-stubs spell the constructor's result typing.Self, which mypy reads as Any for Python 3.10
    return cast(pd.DatetimeIndex, pd.DatetimeIndex(values.view(np.int64), dtype=f"datetime64[{unit}, UTC]", copy=False))


def to_series_values(kind: ColumnType, values: Array) -> Any:
    """A chunk-joined column (an array of the caller's own) as it goes into the DataFrame (times
    become UTC-aware)."""
    if kind == "time":
        return utc_times(cast(np.ndarray, values))
    if kind in ("id", "text"):
        values = cast("pa.Array[Any]", values)
        # pandas takes an Arrow array as it is; pandas-stubs has no overload of pd.array for one
        return pd.array(values, dtype=STR_DTYPE) if STR_DTYPE is not object else values.to_numpy(zero_copy_only=False)  # type: ignore[call-overload]
    return values
