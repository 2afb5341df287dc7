"""Frames: columnar buffers that type pushes in chunks and build DataFrames (or Arrow tables) once."""

from .buffer import Chunk, TableBuffer, build_dataframe, build_table, frame_with, latest_push, schema

__all__ = ["Chunk", "TableBuffer", "build_dataframe", "build_table", "frame_with", "latest_push", "schema"]
