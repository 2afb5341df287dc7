"""Compaction of a recording: the small files of each closed partition merged into files of about
a target size, swapped in atomically for every reader, resumable after a kill.

A recorder writes one small file per partition and flush; a day of one symbol is thousands of
them. :func:`compact` rewrites each closed partition (``feed=/<key>=/date=D``, ``D`` before a
given day and nothing written in it for a while) as follows, one partition at a time:

1. The partition's small files (under half the target size) are merged, sorted by
   ``received_at``, into new files written with the recorder's own writer
   (:func:`nexusdata.recording.layout.parquet_file`) into a staging directory,
   ``DIR/.compact/feed=…/<key>=…/date=D/swap/``, next to hard links of the partition's other
   files: the staging directory is the partition as it will be.
2. ``plan.json`` beside it records the files merged and written, whole or not at all.
3. One system call, ``renameat2(RENAME_EXCHANGE)``, swaps the staging directory and the
   partition's directory: a reader listing the partition finds the old files or the new ones,
   never both and never neither.
4. The old directory, now the staging one, is removed, then ``plan.json``.

Everything under ``DIR/.compact`` is hidden from readers (pyarrow, Spark and Dask skip a path
with a part that starts with ``.``; DuckDB skips nothing, but its ``DIR/feed=X/*/*/*.parquet``
never reaches ``DIR/.compact``). Where the file system has no exchange (NFS, SMB), the swap is
two renames, and for that instant a reader finds the partition missing (``atomic=False``).
A query that listed a partition's old files before the swap and opens one after it fails with a
missing file, never a wrong answer: a listing and the opens are not one step. A kill at any point leaves either no ``plan.json`` (nothing visible changed: the staging
directory is dropped) or one, and then where the first new file is tells whether the swap
happened: the next run finishes the clean-up or drops the staging directory, before anything
else. One compaction runs at a time per dataset (a lock file, ``DIR/.compact/lock``).
"""

from __future__ import annotations

import errno
import functools
import json
import logging
import math
import os
import shutil
import signal
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from ..checks import positive_int
from ..errors import ArgumentError, NexusDataError
from ..kinds import renamed
from ..protocol import TABLES, Table
from .layout import day_argument, file_schema, parquet_file, partitions, recorded_feeds, recording_root, sync, write_whole

if TYPE_CHECKING:
    import pyarrow.parquet as pq

log = logging.getLogger("nexusdata.compaction")

WORK = ".compact"
"""The directory under a recording's root where compactions stage their files (hidden from readers)."""
SMALL = 0.5
"""A file under this fraction of the target size is small: it is merged with the others."""
MAX_GROUP_ROWS = 1 << 20
"""Rows per row group of a merged file at most (pyarrow's default)."""
IDLE = 600.0
"""Seconds a partition must have gone unwritten to count as closed, by default."""
CRASH_AT = "NEXUSDATA_COMPACT_CRASH_AT"
"""For tests: the environment variable naming a step (see :func:`_step`) where the process kills
itself with SIGKILL, as a power cut or the out-of-memory killer would."""
STEPS = ("written", "planned", "checked", "moved-aside", "swapped", "cleaned")
"""The named points of one partition's compaction, in order (``moved-aside`` only where the
file system cannot swap two directories in one call)."""


@dataclass(frozen=True)
class CompactionSummary:
    """What a compaction did."""

    path: Path
    closed: int
    """Partitions before the ``before`` day that were looked at."""
    partitions: int
    """Partitions compacted."""
    files_before: int
    """Small files merged."""
    files_after: int
    """Files written in their place."""
    rows: int
    """Rows moved from the former into the latter."""
    bytes_before: int
    bytes_after: int
    seconds: float
    skipped: tuple[str, ...] = ()
    """Partitions left as they were, each with the reason: still being written (or written to
    during the compaction), or holding a directory, which no recorder writes."""
    resumed: tuple[str, ...] = ()
    """Compactions a kill interrupted, finished (``…: finished``) or undone (``…: undone``) first."""
    atomic: bool = True
    """Whether every swap was one atomic exchange (False: the file system had none and two
    renames left the partition empty for a moment; see docs/recording.md)."""

    def __str__(self) -> str:
        text = (
            f"compacted {self.partitions} of {self.closed} closed partition(s) under {self.path}: {self.files_before} files"
            f" ({_mib(self.bytes_before)}) into {self.files_after} ({_mib(self.bytes_after)}), {self.rows} rows,"
            f" in {self.seconds:.1f}s"
        )
        text += "".join(f"\n  resumed: {line}" for line in self.resumed)
        text += "".join(f"\n  skipped: {line}" for line in self.skipped)
        if not self.atomic:
            text += "\n  warning: no atomic directory exchange on this file system; each swap took two renames"
        return text


def _mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"


def compact(
    path: str | Path,
    *,
    kind: str | None = None,
    before: Any = None,
    target_size: int = 128 * 2**20,
    idle: float = IDLE,
    feed: str | None = None,
) -> CompactionSummary:
    """Merge the small files of each closed partition of the recording at ``path`` into files of
    about ``target_size`` bytes, sorted by ``received_at``; readers running meanwhile see the old
    files or the new ones, never both or neither.

    A partition (``feed=…/symbol=…/date=D`` or ``…/id=…/…``) is closed when ``D`` is before
    ``before`` (a day: ``"YYYY-MM-DD"``, a :class:`datetime.date` or a midnight timestamp;
    default today in UTC, so never today's partition unless ``before`` names a later day) and
    nothing has been written in it for ``idle`` seconds (default 600): a partition still being
    written is skipped and reported. ``kind`` limits it to one subscription kind (``feed=`` is its
    former name, which warns). Files of at least half
    ``target_size`` stay as they are, so a second run changes nothing. An interrupted compaction
    (a kill, a power cut) is finished or undone first. Returns a :class:`CompactionSummary`.
    """
    root = recording_root(path)
    feeds = _feeds(root, renamed(kind, feed, "feed", "kind"))
    cutoff = datetime.now(timezone.utc).date() if before is None else day_argument(before, "before")
    target_size = positive_int(target_size, "target_size", unit="bytes")
    if isinstance(idle, bool) or not isinstance(idle, (int, float)) or not 0 <= idle < math.inf:
        raise ArgumentError(f"idle must be a number of seconds >= 0, got {idle!r}")
    started = time.monotonic()
    totals = _Totals(run=uuid.uuid4().hex[:8])  # in the names of the files written, as a recorder's run id
    with _lock(root):
        resumed = [_resume(root, work) for work in _interrupted(root)]
        for name in feeds:
            table = TABLES[name]
            for partition in partitions(root, name, last=cutoff - timedelta(days=1)):  # the days before cutoff
                totals.closed += 1
                _compact_partition(root, partition, table, target_size, idle, totals)
    summary = CompactionSummary(
        root,
        closed=totals.closed,
        partitions=totals.partitions,
        files_before=totals.files_before,
        files_after=totals.files_after,
        rows=totals.rows,
        bytes_before=totals.bytes_before,
        bytes_after=totals.bytes_after,
        seconds=time.monotonic() - started,
        skipped=tuple(totals.skipped),
        resumed=tuple(resumed),
        atomic=totals.atomic,
    )
    log.info("%s", summary)
    return summary


@dataclass
class _Totals:
    run: str
    closed: int = 0
    partitions: int = 0
    files_before: int = 0
    files_after: int = 0
    rows: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    atomic: bool = True
    skipped: list[str] = field(default_factory=list)


def _feeds(root: Path, feed: object) -> list[str]:
    """The feeds to compact: ``feed`` if recorded, else all of them."""
    feeds = recorded_feeds(root)
    if feed is None:
        return feeds
    if feed not in feeds:
        raise ArgumentError(f"kind must be one of the recorded kinds ({', '.join(feeds) or 'none'}), got {feed!r}")
    return [str(feed)]


@contextmanager
def _lock(root: Path) -> Iterator[None]:
    """Hold ``DIR/.compact/lock`` (an advisory lock the system drops when the process dies)."""
    work = root / WORK
    work.mkdir(exist_ok=True)
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; one compaction at a time is then the caller's care
        yield
        return
    with open(work / "lock", "a+b") as file:
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise NexusDataError(f"another compaction of {root} is running (it holds {work / 'lock'})") from None
        try:
            yield
        finally:
            fcntl.flock(file.fileno(), fcntl.LOCK_UN)


def _step(point: str) -> None:
    """A named point of a partition's compaction (:data:`STEPS`), where a test may stop it: with
    ``NEXUSDATA_COMPACT_CRASH_AT=point`` in the environment the process kills itself here with
    SIGKILL (nothing is cleaned up, as after a power cut)."""
    if os.environ.get(CRASH_AT) == point:
        os.kill(os.getpid(), signal.SIGKILL)


def _is_part(name: str) -> bool:
    """A data file of a partition, as readers see it (not hidden, a Parquet file)."""
    return name.startswith("part-") and name.endswith(".parquet")


def _compact_partition(root: Path, partition: Path, table: Table, target: int, idle: float, totals: _Totals) -> None:
    relative = partition.relative_to(root).as_posix()
    with os.scandir(partition) as scan:
        listed = list(scan)
    entries = {e.name: e.stat(follow_symlinks=False) for e in listed}
    if any(e.is_dir(follow_symlinks=False) for e in listed):
        totals.skipped.append(f"{relative}: holds a directory, which no recorder writes")
        return
    inputs = sorted(n for n, s in entries.items() if _is_part(n) and s.st_size < target * SMALL)
    if len(inputs) < 2:
        return
    newest = max([partition.stat().st_mtime, *(s.st_mtime for s in entries.values())])
    quiet = time.time() - newest
    if quiet < idle:
        totals.skipped.append(f"{relative}: written {max(quiet, 0):.0f}s ago, less than idle={idle:g}s")
        return
    kept = sorted(n for n in entries if n not in inputs)
    work = root / WORK / relative
    staging = work / "swap"
    staging.mkdir(parents=True)
    outputs, rows = _merge(partition, inputs, staging, table, target, totals.run)
    if not outputs:  # files without rows: nothing to merge
        _undo(work)
        return
    for name in kept:
        _link(partition / name, staging / name)
    sync(staging)
    plan = {"partition": relative, "inputs": inputs, "kept": kept, "outputs": outputs, "rows": rows}
    write_whole(work / "plan.json", json.dumps(plan, indent=1).encode())
    _step("planned")
    if sorted(os.listdir(partition)) != sorted(inputs + kept):
        _undo(work)  # a writer came back: the partition is not closed
        totals.skipped.append(f"{relative}: written during the compaction")
        return
    _step("checked")
    totals.atomic &= _swap(partition, work)
    _step("swapped")
    _finish(partition, work, plan)
    totals.partitions += 1
    totals.files_before += len(inputs)
    totals.files_after += len(outputs)
    totals.rows += rows
    totals.bytes_before += sum(entries[n].st_size for n in inputs)
    totals.bytes_after += sum((partition / n).stat().st_size for n in outputs)
    log.info("compacted %s: %d files into %d, %d rows", relative, len(inputs), len(outputs), rows)


def _merge(partition: Path, inputs: list[str], staging: Path, table: Table, target: int, run: str) -> tuple[list[str], int]:
    """Write the rows of ``inputs`` sorted by ``received_at`` into files of about ``target``
    bytes in ``staging``; their names and the rows written."""
    import pyarrow.parquet as pq  # loaded by what reads and writes files, not by import nexusdata

    schema = file_schema(table)
    files = [_FileInfo.of(partition / name, pq.read_metadata(partition / name)) for name in inputs]
    rows = sum(f.rows for f in files)
    per_row = max(sum(f.data_bytes for f in files) / max(rows, 1), 1.0)
    group_rows = int(min(MAX_GROUP_ROWS, max(1, target / per_row / 4)))  # a few row groups per file
    groups = _row_groups(files, schema, group_rows)
    group = next(groups, None)
    outputs: list[str] = []
    written = 0
    while group is not None:
        first = group.column("received_at")[0].value
        name = f"part-{first:020d}-{run}-{len(outputs):06d}.parquet"
        with parquet_file(staging / name, schema) as writer:
            while group is not None:
                writer.write_table(group)
                written += group.num_rows
                group = next(groups, None)
                if os.stat(str(writer.where)).st_size >= target:
                    break
        outputs.append(name)
        if len(outputs) == 1:
            _step("written")
    if written != rows:
        raise NexusDataError(f"compacting {partition}: wrote {written} rows of {rows}; nothing was changed")
    return outputs, written


@dataclass(frozen=True)
class _FileInfo:
    path: Path
    rows: int
    data_bytes: int
    first: int
    last: int

    @classmethod
    def of(cls, path: Path, metadata: pq.FileMetaData) -> _FileInfo:
        """A file's rows, compressed data size and ``received_at`` range, from its footer."""
        column = metadata.schema.names.index("received_at")
        groups = [metadata.row_group(i) for i in range(metadata.num_row_groups)]
        size = sum(g.column(c).total_compressed_size for g in groups for c in range(g.num_columns))
        bounds = []
        for group in groups:
            stats = group.column(column).statistics
            if stats is not None and stats.has_min_max and stats.min_raw is not None and stats.max_raw is not None:
                bounds.append((int(stats.min_raw), int(stats.max_raw)))
        if bounds and len(bounds) == len(groups):
            return cls(path, metadata.num_rows, size, min(b[0] for b in bounds), max(b[1] for b in bounds))
        import pyarrow.compute as pc  # no statistics: read the column
        import pyarrow.parquet as pq

        times = pq.ParquetFile(path).read(columns=["received_at"]).column(0).cast(pa.int64())
        return cls(path, metadata.num_rows, size, int(pc.min(times).as_py() or 0), int(pc.max(times).as_py() or 0))


def _row_groups(files: list[_FileInfo], schema: pa.Schema, size: int) -> Iterator[pa.Table]:
    """The rows of ``files`` sorted by ``received_at`` (stable: ties keep their file's order), in
    tables of ``size`` rows (the last one shorter). Files whose times do not overlap are read one
    at a time; only overlapping ones (recorders of the same key) are sorted together."""
    import pyarrow.parquet as pq

    pending: list[pa.Table] = []
    held = 0
    for cluster in _clusters(files):
        parts = [pq.ParquetFile(f.path).read(columns=schema.names).cast(schema) for f in cluster]
        data = parts[0] if len(parts) == 1 else pa.concat_tables(parts).sort_by("received_at")
        pending.append(data)
        held += data.num_rows
        while held >= size:
            joined = pa.concat_tables(pending)
            yield joined.slice(0, size).combine_chunks()
            pending, held = [joined.slice(size)], held - size
    if held:
        yield pa.concat_tables(pending).combine_chunks()


def _clusters(files: list[_FileInfo]) -> Iterator[list[_FileInfo]]:
    """``files`` in time order, in runs whose ``received_at`` ranges overlap."""
    cluster: list[_FileInfo] = []
    end = -1
    for info in sorted(files, key=lambda f: (f.first, f.path.name)):
        if cluster and info.first < end:
            cluster.append(info)
        else:
            if cluster:
                yield cluster
            cluster = [info]
        end = max(end, info.last)
    if cluster:
        yield cluster


def _link(source: Path, target: Path) -> None:
    """``target`` as a second name of ``source`` (a copy where the file system has no hard links)."""
    try:
        os.link(source, target, follow_symlinks=False)
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EXDEV, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
        shutil.copy2(source, target, follow_symlinks=False)


def _swap(partition: Path, work: Path) -> bool:
    """Put the staging directory in the partition's place and the partition's old directory at
    ``work/swap`` (one atomic exchange) or ``work/old`` (two renames, where the file system has
    no exchange: False)."""
    staging = work / "swap"
    if _exchange(staging, partition):
        sync(partition.parent)
        return True
    log.warning("%s: no atomic directory exchange here; swapping with two renames", partition)
    os.rename(partition, work / "old")
    _step("moved-aside")
    os.rename(staging, partition)
    sync(partition.parent)
    return False


def _finish(partition: Path, work: Path, plan: dict[str, Any]) -> None:
    """After the swap: move files a late writer put in the old directory into the partition (they
    were in no plan), then remove the old directory, then the plan."""
    old = work / "old" if (work / "old").exists() else work / "swap"
    if old.exists():
        known = set(plan["inputs"]) | set(plan["kept"])
        for name in sorted(os.listdir(old)):
            if _is_part(name) and name not in known:
                log.warning("%s: %s arrived during the compaction; moved into the compacted partition", plan["partition"], name)
                os.replace(old / name, partition / name)
        sync(partition)
        shutil.rmtree(old)
    _step("cleaned")
    (work / "plan.json").unlink()
    _remove_empty(work)


def _undo(work: Path) -> None:
    """Drop a compaction that has not swapped: the staging directory, then the plan."""
    shutil.rmtree(work / "swap", ignore_errors=True)
    (work / "plan.json").unlink(missing_ok=True)
    shutil.rmtree(work)
    _remove_empty(work.parent)


def _remove_empty(folder: Path) -> None:
    """Remove ``folder`` and its parents up to ``DIR/.compact`` while they are empty."""
    while folder.name != WORK and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


def _interrupted(root: Path) -> list[Path]:
    """The working directories interrupted compactions left (one per partition)."""
    return sorted(p for p in (root / WORK).glob("feed=*/*=*/date=*") if p.is_dir())


def _resume(root: Path, work: Path) -> str:
    """Finish or undo the compaction of one partition a kill interrupted; what was done."""
    relative = work.relative_to(root / WORK).as_posix()
    partition = root / relative
    plan_file = work / "plan.json"
    if not plan_file.exists():  # killed while staging: nothing visible changed
        shutil.rmtree(work)
        _remove_empty(work.parent)
        return f"{relative}: undone"
    plan = json.loads(plan_file.read_text())
    if not partition.exists():  # killed between the two renames of a swap without exchange
        if not (work / "swap").is_dir():
            raise NexusDataError(f"cannot resume the compaction of {relative}: neither it nor {work / 'swap'} exists")
        os.rename(work / "swap", partition)
    elif not (partition / plan["outputs"][0]).exists():  # killed before the swap
        _undo(work)
        return f"{relative}: undone"
    _finish(partition, work, plan)
    return f"{relative}: finished"


# -- the atomic exchange of two directories -------------------------------------------------------

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2  # Linux renameat2 flag
_RENAME_SWAP = 2  # macOS renamex_np flag
_UNSUPPORTED = {errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV}


@functools.lru_cache(maxsize=1)
def _exchanger() -> Callable[[bytes, bytes], int] | None:
    """The C library's call that swaps two paths in one step, or None."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    if sys.platform.startswith("linux") and hasattr(libc, "renameat2"):
        call = libc.renameat2
        return lambda a, b: int(call(_AT_FDCWD, a, _AT_FDCWD, b, _RENAME_EXCHANGE))
    if sys.platform == "darwin" and hasattr(libc, "renamex_np"):  # not exercised by the tests (Linux)
        swap = libc.renamex_np
        return lambda a, b: int(swap(a, b, _RENAME_SWAP))
    return None


def _exchange(a: Path, b: Path) -> bool:
    """Swap the directories ``a`` and ``b`` in one atomic step; False where the system or the file
    system cannot (NFS, SMB, Windows, an old kernel)."""
    call = _exchanger()
    if call is None:
        return False
    if call(os.fsencode(a), os.fsencode(b)) == 0:
        return True
    import ctypes

    code = ctypes.get_errno()
    if code in _UNSUPPORTED:
        return False
    raise OSError(code, os.strerror(code), str(b))
