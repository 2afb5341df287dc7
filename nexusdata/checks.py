"""The checks every layer makes of its arguments and of the columns of the DataFrames it is given:
each accepts what it should and otherwise raises an :class:`~nexusdata.errors.ArgumentError`
naming the argument (or column) and what is accepted, in the same words wherever it is made."""

from __future__ import annotations

import math
from typing import Any, cast

import numpy as np
import pandas as pd

from .errors import ArgumentError

# -- arguments -------------------------------------------------------------------------------


def positive_number(
    value: object, name: str, *, allow_inf: bool = False, unit: str = "seconds", maximum: float = math.inf
) -> float:
    """``value`` as a float if it is a positive number (of ``unit``, up to ``maximum``), else an
    :class:`ArgumentError`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or not 0 < value <= maximum:
        of = f" of {unit}" if unit else ""
        up_to = f" up to {maximum:g}" if maximum < math.inf else ""
        raise ArgumentError(f"{name} must be a positive number{of}{up_to}, got {value!r}")
    if math.isinf(value) and not allow_inf:
        raise ArgumentError(f"{name} must be finite, got {value!r}")
    return float(value)


def positive_int(value: object, name: str, *, maximum: int | None = None, unit: str = "") -> int:
    """``value`` as an int if it is a whole number (a Python or numpy integer, of ``unit``) from 1
    to ``maximum``, else an :class:`ArgumentError`."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1 or (maximum and value > maximum):
        of = f" of {unit}" if unit else ""
        accepted = f"from 1 to {maximum}" if maximum else ">= 1"
        raise ArgumentError(f"{name} must be a whole number{of} {accepted}, got {value!r}")
    return int(value)


def nonempty_str(value: object, name: str) -> str:
    """``value`` stripped if it is a non-empty string, else an :class:`ArgumentError`."""
    if not isinstance(value, str) or not value.strip():
        raise ArgumentError(f"{name} must be a non-empty string, got {value!r}")
    return value.strip()


def check_flag(value: object, name: str) -> bool:
    """``value`` if it is a bool, else an :class:`ArgumentError`."""
    if not isinstance(value, bool):
        raise ArgumentError(f"{name} must be True or False, got {value!r}")
    return value


# -- columns ---------------------------------------------------------------------------------
# ``label`` names the column as a message shows it: "depth's price", "v3's received_at".


def datetimes(column: pd.Series, label: str) -> pd.DatetimeIndex:
    """A column of times as a DatetimeIndex (no copy)."""
    _times(column, label)
    return pd.DatetimeIndex(column)


def nanoseconds(column: pd.Series, label: str) -> np.ndarray:
    """A column of times as int64 nanoseconds since the epoch, UTC (NaT: the int64 minimum),
    without a copy per value."""
    _times(column, label)
    times = column.array
    if not isinstance(times, pd.arrays.DatetimeArray):  # Arrow-backed
        times = pd.DatetimeIndex(column).array
    return cast(np.ndarray, times.as_unit("ns").asi8)


def _times(column: pd.Series, label: str) -> None:
    if not pd.api.types.is_datetime64_any_dtype(column.dtype):
        raise ArgumentError(f"{label} must be times (datetime64), got dtype {column.dtype}")


def floats(column: pd.Series, label: str) -> np.ndarray:
    """A column of numbers as float64 (NaN where missing; float64 as it is, without a copy)."""
    if column.dtype == np.float64:
        return column.to_numpy()
    try:
        return column.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise ArgumentError(f"{label} must be numbers, got dtype {column.dtype}") from exc


def categorical(column: pd.Series) -> pd.Categorical:
    """A column as a Categorical: its own when it is one (no copy), else its values encoded."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.array
    return pd.Categorical(column)


def whole_numbers(column: pd.Series, label: str, low: int, high: int) -> np.ndarray:
    """A column of whole numbers in ``low..high`` as int64."""
    values: Any = column.to_numpy()
    if not np.issubdtype(values.dtype, np.integer):
        numbers = floats(column, label)
        if not np.all(np.isfinite(numbers) & (numbers == np.round(numbers))):
            raise ArgumentError(f"{label} must be whole numbers from {low} to {high}, got dtype {column.dtype}")
        values = numbers
    values = values.astype(np.int64, copy=False)
    if len(values) and (values.min() < low or values.max() > high):
        bad = values[(values < low) | (values > high)][0]
        raise ArgumentError(f"{label} must be whole numbers from {low} to {high}, got {bad}")
    return cast(np.ndarray, values)
