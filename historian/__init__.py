"""historian: a time-series historian for industrial data.

Collect from PLCs (Modbus, OPC UA), qualify, store compressed in open Parquet files, resample and
correlate fast. Results are Arrow tables.

Examples
--------
>>> import historian, tempfile, os
>>> with historian.open(os.path.join(tempfile.mkdtemp(), "plant.hist")) as h:
...     _ = h.define("TIC-101.PV", unit="degC", kind="analog", lo=0, hi=200)
...     _ = h.write("TIC-101.PV", ["2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z"], [20.5, 20.7])
...     h.read("TIC-101.PV").num_rows
2
"""

from __future__ import annotations

from historian.errors import HistorianError
from historian.model import Tag, quality
from historian.model.times import local_time, milliseconds, seconds
from historian.progress import options

__version__ = "0.1.0"

__all__ = [
    "Historian",
    "HistorianError",
    "Tag",
    "__version__",
    "display",
    "errors",
    "import_history",
    "kernels",
    "local_time",
    "milliseconds",
    "open",
    "options",
    "quality",
    "repair",
    "replicate",
    "seconds",
    "summarize",
    "verify",
]


def __dir__() -> list[str]:
    """Module attributes plus the lazy public names, so tab completion shows ``open`` & co."""
    return sorted(set(globals()) | set(__all__))


def __getattr__(name: str):  # lazy: keep `import historian` light
    if name in ("Historian", "open"):
        from historian import api

        return getattr(api, name)
    if name == "summarize":
        from historian.query.retrieval import summarize

        return summarize
    if name == "repair":  # historian.repair(path, dry_run=True): docs/storage.md
        from historian.storage.repair import repair_store

        return repair_store
    if name == "replicate":  # historian.replicate(src, dst): docs/gateway.md
        from historian.gateway.replicate import replicate

        return replicate
    if name == "verify":  # historian.verify(path): the hash chain, docs/security.md
        from historian.storage.verify import verify_store

        return verify_store
    if name == "import_history":
        from historian.importing import import_history

        return import_history
    if name in ("kernels", "errors", "display"):
        import importlib

        return importlib.import_module(f"historian.{name}")
    raise AttributeError(f"module 'historian' has no attribute {name!r}")
