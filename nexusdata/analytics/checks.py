"""The argument checks the analytics share: a DataFrame of the right table, typed columns."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..errors import ArgumentError


def datetimes(column: pd.Series, label: str) -> pd.DatetimeIndex:
    """A column of times as a DatetimeIndex (no copy), else an :class:`ArgumentError`."""
    if not pd.api.types.is_datetime64_any_dtype(column.dtype):
        raise ArgumentError(f"{label} must be times (datetime64), got dtype {column.dtype}")
    return pd.DatetimeIndex(column)


def floats(column: pd.Series, label: str) -> np.ndarray:
    """A column of numbers as float64 (NaN where missing), else an :class:`ArgumentError`."""
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
    """A column of whole numbers in ``low..high`` as int64, else an :class:`ArgumentError`."""
    values = column.to_numpy()
    if not np.issubdtype(values.dtype, np.integer):
        numbers = floats(column, label)
        if not np.all(np.isfinite(numbers) & (numbers == np.round(numbers))):
            raise ArgumentError(f"{label} must be whole numbers from {low} to {high}, got dtype {column.dtype}")
        values = numbers
    values = values.astype(np.int64, copy=False)
    if len(values) and (values.min() < low or values.max() > high):
        bad = values[(values < low) | (values > high)][0]
        raise ArgumentError(f"{label} must be whole numbers from {low} to {high}, got {bad}")
    return values


def positive_int(value: Any, argument: str) -> int:
    """``value`` as a whole number >= 1, else an :class:`ArgumentError`."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ArgumentError(f"{argument} must be a whole number >= 1, got {value!r}")
    return int(value)
