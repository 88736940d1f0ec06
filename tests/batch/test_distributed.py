"""Dask: same results whatever the chunking and workers, and a killed worker's chunks rerun."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import distributed
import numpy as np
import pytest

from carespiral.pysd_runner.batch import compile_model

MODEL = Path(__file__).resolve().parents[2] / "models" / "workforce_spiral.mdl"


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


def test_cluster_results_equal_in_process_results_even_when_a_worker_dies(client,
                                                                           helpers) -> None:
    bm = compile_model(MODEL)
    params = helpers.draws(bm.parameters, n=6000, seed=11)
    reduce = "final,max,annual_sum:Leaving"
    local = bm.run(params, reduce=reduce)

    killed: list[int] = []
    lost: list[str] = []  # the chunks the killed worker was running or had queued

    def kill_one_worker(done: int, total: int) -> None:
        # after a chunk comes back, kill a worker that is busy with another chunk (an idle one
        # would show nothing); if none is busy at this moment, try at the next chunk
        if killed:
            return
        busy = {addr: keys for addr, keys in client.processing().items() if keys}
        if not busy:
            return
        addr = next(iter(busy))
        pid = client.run(os.getpid, workers=[addr])[addr]
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)
        lost.extend(str(k) for k in busy[addr])

    remote = bm.run(params, reduce=reduce, scheduler=client, chunk_size=500,
                    progress=kill_one_worker)
    assert killed, "the test did not kill a worker"
    assert lost, "the killed worker had no chunk"  # so the complete result below needed a rerun
    with pytest.raises(ProcessLookupError):
        os.kill(killed[0], 0)  # the worker process is really gone
    assert remote.sizes["run"] == len(params)
    for v in local.data_vars:
        np.testing.assert_array_equal(remote[v].to_numpy(), local[v].to_numpy(), err_msg=v)
    # a second ensemble, differently chunked, on the healed cluster gives the same again
    again = bm.run(params, reduce=reduce, scheduler=client, chunk_size=1700)
    for v in local.data_vars:
        np.testing.assert_array_equal(again[v].to_numpy(), local[v].to_numpy(), err_msg=v)
