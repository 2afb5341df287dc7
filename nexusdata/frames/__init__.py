"""Frames: columnar buffers that type pushes in chunks and build DataFrames once."""

from .buffer import Chunk, TableBuffer, build_frame, schema

__all__ = ["Chunk", "TableBuffer", "build_frame", "schema"]
