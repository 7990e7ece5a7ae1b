"""The one sync <-> async bridge: an asyncio loop in a daemon thread.

Acquisition (asyncua, pymodbus) is asynchronous; the notebook-facing API is synchronous. Sync code
runs coroutines with :func:`sync`, which submits them to one shared event loop living in a daemon
thread. This works the same in a script, a service thread and inside Jupyter (whose own loop is
already running in the main thread and is never touched).

Examples
--------
>>> import asyncio
>>> async def answer():
...     await asyncio.sleep(0)
...     return 42
>>> sync(answer())
42
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["get_loop", "submit", "sync"]

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None


def get_loop() -> asyncio.AbstractEventLoop:
    """The shared background loop, started on first use."""
    global _loop, _thread
    with _lock:
        if _loop is None or _loop.is_closed() or _thread is None or not _thread.is_alive():
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def _run() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                loop.run_forever()

            thread = threading.Thread(target=_run, name="historian-io", daemon=True)
            thread.start()
            ready.wait()
            _loop, _thread = loop, thread
        return _loop


def submit(coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
    """Schedule ``coro`` on the background loop and return a concurrent Future at once."""
    loop = get_loop()
    if _in_loop_thread(loop):
        coro.close()
        raise RuntimeError("historian._sync.submit() called from the historian I/O thread itself")
    return asyncio.run_coroutine_threadsafe(coro, loop)


def sync(coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
    """Run ``coro`` on the background loop and wait for its result (re-raising its error).

    A ``KeyboardInterrupt`` while waiting cancels the coroutine before propagating.
    """
    future = submit(coro)
    try:
        return future.result(timeout)
    except concurrent.futures.TimeoutError:
        future.cancel()
        raise TimeoutError(f"operation did not finish within {timeout} s") from None
    except KeyboardInterrupt:
        future.cancel()
        raise


def _in_loop_thread(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
