"""One executor interface for parallel work: a local process pool, or a Dask distributed cluster.

`--executor` takes `local` (default, a process pool sized to the cores), `serial` (in-process, for debugging)
or `dask://HOST:PORT` (an existing Dask scheduler). All return a `concurrent.futures.Executor`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

from ayiq.core.errors import AyiqError

T = TypeVar("T")


class SerialExecutor(Executor):
    """Runs each task at submit time in this process: same interface, no parallelism."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        fut: Future[T] = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # a failed task is reported through its future, as in a pool
            fut.set_exception(exc)
        return fut


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


@contextmanager
def make_executor(spec: str | None = None, workers: int | None = None) -> Iterator[tuple[Executor, int]]:
    """Yield (executor, parallelism) for `spec`; the executor is shut down on exit."""
    spec = (spec or "local").strip()
    if spec == "serial":
        yield SerialExecutor(), 1
        return
    if spec in ("local", "process"):
        n = workers or default_workers()
        with ProcessPoolExecutor(max_workers=n) as pool:
            yield pool, n
        return
    if spec.startswith("dask://"):
        try:
            from distributed import Client
        except ImportError as exc:  # pragma: no cover - dask is a dependency
            raise AyiqError("the dask executor needs the 'distributed' package") from exc
        address = "tcp://" + spec.removeprefix("dask://")
        try:
            client: Any = Client(address, timeout=10, set_as_default=False)  # type: ignore[no-untyped-call]
        except OSError as exc:
            raise AyiqError(f"cannot reach the Dask scheduler at {address}: {exc}") from exc
        try:
            n = workers or max(1, sum(client.nthreads().values()))
            yield client.get_executor(), n
        finally:
            client.close()
        return
    raise AyiqError(f"unknown executor {spec!r}: use local, serial or dask://HOST:PORT")
