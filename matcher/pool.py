"""One thread pool per process for the vectorised hot paths.

numpy and polars release the GIL in their loops, so blocks of pairs run in
parallel on threads. Creating a pool per call costs a thread start-up each
time and lets concurrent callers (a web service) multiply threads; this one
pool is made on first use and shared.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

_pool: ThreadPoolExecutor | None = None
_lock = threading.Lock()


def worker_pool() -> ThreadPoolExecutor:
    """The process's pool (at least two threads, at most the cores)."""
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2), thread_name_prefix="matcher")
        return _pool


def run_all(func, items, workers: int) -> list:
    """``[func(x) for x in items]``, on the shared pool when ``workers > 1``
    and there is more than one item. Tasks must not submit to the pool
    themselves (they would wait on their own queue)."""
    items = list(items)
    if workers <= 1 or len(items) <= 1:
        return [func(x) for x in items]
    return list(worker_pool().map(func, items))
