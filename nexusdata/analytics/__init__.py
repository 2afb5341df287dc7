"""Book and index analytics on the collectors' DataFrames, vectorized (no Python loop per row).

They take a collector's DataFrame, a live handle's ``frame()`` or ``read_recording``'s result
alike (the same columns): :func:`wide` and :func:`tidy_depth` turn depth rows into one row per
push and back, :func:`top_of_book` gives mid, spread, microprice and imbalance per push,
:func:`bars` makes OHLC bars of any price series, :func:`pair_weights` tabulates the v3 pair
weights. docs/analytics.md has the column orders and examples.
"""

from .bars import bars
from .book import tidy_depth, top_of_book, wide
from .weights import pair_weights

__all__ = ["bars", "pair_weights", "tidy_depth", "top_of_book", "wide"]
