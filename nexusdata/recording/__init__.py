"""Recordings: the on-disk layout (:mod:`.layout`), writing a feed into it (:mod:`.writer`,
``nd.record``), reading it back (:mod:`.reader`, ``nd.read_recording``) and merging its small
files (:mod:`.compaction`, ``nd.compact``). Each module is imported on its own, so that reading
a recording loads no writer and compacting loads no Dask."""
