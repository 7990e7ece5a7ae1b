"""The files of one snapshot as a pyarrow dataset for ``h.sql`` (DuckDB scans it).

Each data file becomes fragments of consecutive row groups with the tag range they hold as
their guarantee (from the file's historian index), so a filter on ``tag`` that DuckDB pushes
into the scan skips the other tags' row groups unread. Page checksums are verified, as in
``h.read``. Data files are immutable with unique names: their fragments are cached.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from historian.errors import HistorianError, StoreError, first_line
from historian.storage.format import FILE_SCHEMA

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow.dataset as pads

    from historian.storage.store import Store

__all__ = ["FILES_SCHEMA", "StoreDataset"]

_FRAGMENT_CACHE_FILES = 4096

#: Schema of the snapshot's files as the views read them: one time unit (ns) for every file.
# (``tag`` as plain string: measured faster through the views than a dictionary column)
FILES_SCHEMA = FILE_SCHEMA.append(pa.field("text", pa.string()))  # old files lack it: null


class StoreDataset:
    """The data files of ``store`` as pyarrow datasets, one per snapshot's list of paths."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._fragment_cache: OrderedDict[str, list[Any]] = OrderedDict()
        self._cache_lock = threading.Lock()

    def dataset(self, paths: list[str]) -> pads.Dataset:
        """The snapshot's files as one pyarrow dataset, page checksums verified (as h.read).

        Each file becomes fragments of consecutive row groups, each with the tag range it holds
        as its guarantee (from the file's historian index), so a filter on ``tag`` that DuckDB
        hands to the scan skips the other tags' row groups without reading them.
        """
        import pyarrow.dataset as pads

        filesystem = self._store._fs.filesystem
        scan = pads.ParquetFragmentScanOptions(page_checksum_verification=True)
        fmt = pads.ParquetFileFormat(default_fragment_scan_options=scan)
        try:
            fragments = [frag for path in paths for frag in self._fragments_of(path, fmt)]
            return pads.FileSystemDataset(
                fragments, schema=FILES_SCHEMA, format=fmt, filesystem=filesystem
            )
        except HistorianError:
            raise
        except (pa.ArrowException, OSError) as exc:
            raise StoreError(
                f"h.sql cannot open the store's data files: {first_line(exc)} (check that the "
                "store is readable; `historian verify STORE` finds a missing or damaged file)"
            ) from exc

    def _fragments_of(self, path: str, fmt: pads.ParquetFileFormat) -> list[pads.Fragment]:
        """Fragments of one data file (cached: data files are immutable, with unique names)."""
        with self._cache_lock:
            cached = self._fragment_cache.get(path)
            if cached is not None:
                self._fragment_cache.move_to_end(path)
                return cached
        import pyarrow.dataset as pads

        data = self._store._files.get(path)  # the same opened, checked file as h.read
        fs = self._store._fs
        filesystem, where = fs.filesystem, fs.path(fs.rel(path))  # in pyarrow's terms
        starts = np.asarray(data.row_start)
        n, per_group = int(data.num_rows), int(data.rg_rows)
        groups = -(-n // per_group)
        # the tag of each row group's first and last row (files are sorted by tag, time)
        first = np.searchsorted(starts, np.arange(groups) * per_group, "right") - 1
        last = np.searchsorted(starts, np.minimum(np.arange(1, groups + 1) * per_group, n) - 1,
                               "right") - 1  # fmt: skip
        tag = pads.field("tag")
        out = []
        g = 0
        while g < groups:
            lo, hi = int(first[g]), int(last[g])
            g1 = g + 1
            if lo == hi:  # a run of row groups holding one tag
                while g1 < groups and first[g1] == lo and last[g1] == lo:
                    g1 += 1
                guarantee = tag == data.tags[lo]
            else:
                guarantee = (tag >= data.tags[lo]) & (tag <= data.tags[hi])
            out.append(fmt.make_fragment(where, filesystem, partition_expression=guarantee,
                                         row_groups=list(range(g, g1))))  # fmt: skip
            g = g1
        with self._cache_lock:
            self._fragment_cache[path] = out
            while len(self._fragment_cache) > _FRAGMENT_CACHE_FILES:
                self._fragment_cache.popitem(last=False)
        return out
