"""The Dask cluster the project's scale-out work runs on: one implementation for the model
search (``search.backend: dask``) and batch scoring (``kedro run --pipelines inference_dask``).

Either the scheduler a user already has (``tcp://host:8786``), or a ``LocalCluster`` on
127.0.0.1 without a dashboard, of single-threaded worker processes: the text cleaning and
scikit-learn's scoring hold the GIL, so processes, not threads, use the cores.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

logger = logging.getLogger(__name__)


class SchedulerUnreachableError(RuntimeError):
    """The configured Dask scheduler did not answer."""


@contextlib.contextmanager
def dask_client(
    scheduler: str | None, *, n_workers: int | None = None, purpose: str = "Dask work"
) -> Iterator[Any]:
    """A ``distributed.Client`` of the scheduler at ``scheduler``, or of a new ``LocalCluster``
    of ``n_workers`` worker processes (default: one per core), closed when the block ends."""
    # Imported here: a process that never uses Dask does not pay for importing distributed.
    from distributed import Client, LocalCluster  # noqa: PLC0415

    with _quiet_distributed(), contextlib.ExitStack() as stack:
        if scheduler:
            try:
                client = stack.enter_context(Client(scheduler))
            except OSError as error:  # distributed's connect timeout is an OSError too
                raise SchedulerUnreachableError(
                    f"Cannot reach the Dask scheduler at {scheduler} ({error}). Start it, "
                    "check the address and that this machine may reach its port, or give no "
                    "scheduler (null) to run on a LocalCluster here."
                ) from error
            logger.info("%s on the Dask scheduler at %s", purpose, scheduler)
        else:
            cluster = stack.enter_context(
                LocalCluster(
                    host="127.0.0.1",
                    dashboard_address=None,
                    n_workers=n_workers,
                    threads_per_worker=1,
                    processes=True,
                )
            )
            client = stack.enter_context(Client(cluster))
            logger.info("%s on a local Dask cluster of %d workers", purpose, len(cluster.workers))
        yield client


@contextlib.contextmanager
def _quiet_distributed() -> Iterator[None]:
    # distributed logs every step of a cluster's life at INFO (and a connection closed at
    # shutdown with a traceback); a run's log keeps its warnings and errors only.
    distributed_logger = logging.getLogger("distributed")
    previous = distributed_logger.level
    distributed_logger.setLevel(max(previous, logging.WARNING))
    try:
        yield
    finally:
        distributed_logger.setLevel(previous)
