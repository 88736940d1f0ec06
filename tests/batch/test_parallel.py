"""The numba engine's threads: results are the same bits whatever the number of threads."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from carespiral.pysd_runner.batch import compile_model, numba_engine

REPO = Path(__file__).resolve().parents[2]


def test_threads_give_the_single_thread_bits(helpers) -> None:
    bm = compile_model(REPO / "models" / "collapse_spiral.mdl")
    params = helpers.draws(bm.parameters, n=300, seed=11)  # blocks of 150, 100 and 75 runs
    outs = ["Referrals", "Social Workers", "Caseload"]
    one = bm.run(params, outputs=outs, engine="numba", threads=1)
    for threads in (2, 3, 4):
        many = bm.run(params, outputs=outs, engine="numba", threads=threads)
        for v in one.data_vars:
            a, b = one[v].to_numpy(), many[v].to_numpy()
            assert np.array_equal(a, b, equal_nan=a.dtype != object), (threads, v)
    # summaries updated every step (annual sums) go through the same blocks
    red = "final,max,annual_sum:Referrals,above:Caseload:18"
    a = bm.run(params, outputs=outs, reduce=red, engine="numba", threads=1)
    b = bm.run(params, outputs=outs, reduce=red, engine="numba", threads=2)
    for v in a.data_vars:
        x, y = a[v].to_numpy(), b[v].to_numpy()
        assert np.array_equal(x, y, equal_nan=x.dtype != object), v


def test_blocks_cover_every_run_once() -> None:
    seen: list[tuple[int, int]] = []

    def kernel(lo: int, hi: int) -> int:
        seen.append((lo, hi))
        return hi - lo

    assert numba_engine.run_blocks(kernel, 1000, 3) == 1000
    assert sorted(seen) == [(0, 333), (333, 666), (666, 1000)]
    seen.clear()
    assert numba_engine.run_blocks(kernel, 100, 4) == 100  # too few runs: one block
    assert seen == [(0, 100)]
    assert numba_engine.default_threads() >= 1
