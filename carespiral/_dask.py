"""The one way carespiral opens a Dask client: for the batch backend's chunks, an exploration's
chunks and the calibration of every local authority alike."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from carespiral.errors import CarespiralError

__all__ = ["open_client"]


def open_client(scheduler: Any) -> tuple[Any, Callable[[], None]]:
    """A `distributed.Client` and the function that closes what was opened for it.

    scheduler: "local" (a new local cluster, one single-threaded worker process per core, at
    most four), an address such as "tcp://host:8786", or a `distributed.Client` (used as it is;
    closing it is left to its owner).
    """
    from distributed import Client, LocalCluster

    if isinstance(scheduler, Client):
        return scheduler, lambda: None
    if scheduler == "local":
        workers = max(1, min(4, os.cpu_count() or 1))
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)

        def close() -> None:
            client.close()
            cluster.close()

        return client, close
    if isinstance(scheduler, str) and "://" in scheduler:
        try:
            client = Client(scheduler, timeout="20s")
        except OSError as exc:
            raise CarespiralError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        return client, client.close
    raise CarespiralError(f"scheduler {scheduler!r}: give 'local', an address such as "
                          "tcp://host:8786, or a distributed.Client")
