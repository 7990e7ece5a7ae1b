"""The storage engine: write-ahead log, immutable Parquet files, Delta commits, compaction.

The public entry point is :func:`historian.open`; :class:`~historian.storage.store.Store` holds
the engine and ``historian.api.Historian`` adds retrieval and queries on top.
"""
