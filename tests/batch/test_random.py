"""RANDOM functions: PySD's distributions, reproducible per run, independent across runs.

Reference answers: the distributions PySD draws from (scipy.stats: uniform, truncnorm,
truncexpon with PySD's parameters), checked by Kolmogorov-Smirnov tests on seeded draws;
scipy's normal quantile function; Euler's algebra for a stock fed by the draws.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

from carespiral.errors import CarespiralError
from carespiral.pysd_runner.batch import compile_model
from carespiral.pysd_runner.batch import random_streams as rs
from carespiral.pysd_runner.batch import scalar_runtime as srt

N = 1_000
DRAWS = ["Uniform Draw", "Normal Draw", "Exponential Draw", "Unit Draw", "Second Unit Draw"]
LAWS = {  # PySD's translation of each call in random.mdl
    "Uniform Draw": stats.uniform(2, 3),
    "Normal Draw": stats.truncnorm((-1 - 1) / 2, (4 - 1) / 2, loc=1, scale=2),
    "Exponential Draw": stats.truncexpon((6 - 1) / 2, loc=1, scale=2),
    "Unit Draw": stats.uniform(0, 1),
    "Second Unit Draw": stats.uniform(0, 1),
}


@pytest.fixture(scope="module")
def bm(request):
    from pathlib import Path

    return compile_model(Path(__file__).parent / "models" / "random.mdl")


@pytest.fixture(scope="module")
def runs(bm):
    return {e: bm.run(n=N, seed=11, outputs=[*DRAWS, "Accumulated"], engine=e)
            for e in ("numpy", "numba")}


@pytest.mark.parametrize("engine", ["numpy", "numba"])
def test_draws_follow_pysds_distributions(runs, engine) -> None:
    ds = runs[engine]
    for var, law in LAWS.items():
        x = ds[var].to_numpy()
        lo, hi = law.support()
        assert np.all((x >= lo) & (x <= hi)), var
        for t in (0, 7, 20):  # across runs at one time, and along one run over time
            assert stats.kstest(x[:, t], law.cdf).pvalue > 1e-3, (var, t)
        assert stats.kstest(x[0], law.cdf).pvalue > 1e-3, var


def test_engines_agree_and_batching_does_not_change_a_draw(bm, runs) -> None:
    for var in DRAWS:
        np.testing.assert_allclose(runs["numba"][var], runs["numpy"][var], rtol=1e-12)
    chunked = bm.run(n=N, seed=11, outputs=DRAWS, engine="numpy", chunk_size=37)
    one, two = (bm.run(n=N, seed=11, outputs=DRAWS, engine="numba", threads=t) for t in (1, 2))
    for var in DRAWS:
        np.testing.assert_array_equal(chunked[var], runs["numpy"][var])
        np.testing.assert_array_equal(one[var], runs["numba"][var])
        np.testing.assert_array_equal(two[var], runs["numba"][var])
    # a chunk run elsewhere (a Dask task) keeps its runs' positions, hence their streams
    job = bm.prepare(pd.DataFrame(index=range(10)), outputs=DRAWS, engine="numpy", seed=11,
                     first_run=500)
    part = bm.run_rows(job, 0, 10)
    np.testing.assert_array_equal(part["Normal Draw"], runs["numpy"]["Normal Draw"][500:510])
    # another run's parameters never change a run's draws
    params = pd.DataFrame({"Normal Mean": [1.0] * 5})
    other = params.copy()
    other.loc[1:, "Normal Mean"] = 3.0
    a = bm.run(params, seed=11, outputs=DRAWS, engine="numpy")
    b = bm.run(other, seed=11, outputs=DRAWS, engine="numpy")
    np.testing.assert_array_equal(a["Normal Draw"][0], b["Normal Draw"][0])
    assert not np.array_equal(a["Normal Draw"][1], b["Normal Draw"][1])


@pytest.mark.parametrize("engine", ["numpy", "numba"])
def test_rows_given_their_streams_draw_those_runs_numbers(bm, runs, engine) -> None:
    """Row i with streams[i] = s draws what run s of the one-call ensemble drew, rows sharing a
    stream draw the same numbers (common random numbers), on either engine."""
    streams = np.array([7, 3, 7, 0, 999])
    ds = bm.run(pd.DataFrame(index=range(5)), seed=11, outputs=DRAWS, engine=engine,
                streams=streams)
    for var in DRAWS:
        np.testing.assert_allclose(ds[var].to_numpy(), runs["numpy"][var][streams],
                                   rtol=1e-12, atol=0)


def test_chunks_on_a_cluster_keep_each_rows_stream(bm, runs) -> None:
    import distributed  # a core dependency: missing is a failure

    streams = np.array([5, 5, 1, 8, 0])
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        ds = bm.run(pd.DataFrame(index=range(5)), seed=11, outputs=["Unit Draw"],
                    engine="numpy", streams=streams, scheduler=client, chunk_size=2)
    np.testing.assert_array_equal(ds["Unit Draw"].to_numpy(),
                                  runs["numpy"]["Unit Draw"][streams])


@pytest.mark.parametrize(("streams", "first_run", "what"), [
    (np.array([0, -1]), 0, "whole numbers from 0"),
    (np.array([0.0, 1.5]), 0, "whole numbers from 0"),
    (np.array([0, 1, 2]), 0, "one position per row"),
    (np.array([0, 1]), 4, "either first_run or streams"),
])
def test_bad_streams_are_refused(bm, streams, first_run, what) -> None:
    with pytest.raises(CarespiralError, match=what):
        bm.run(n=2, seed=1, streams=streams, first_run=first_run)


def test_streams_are_independent(bm, runs) -> None:
    u = runs["numpy"]["Unit Draw"].to_numpy()
    v = runs["numpy"]["Second Unit Draw"].to_numpy()
    w = bm.run(n=N, seed=12, outputs=["Unit Draw"], engine="numpy")["Unit Draw"].to_numpy()
    limit = 4 / np.sqrt(N)  # four standard errors of a correlation of independent draws
    pairs = {
        "runs": (u[:-1, 5], u[1:, 5]),  # neighbouring runs at one time
        "steps": (u[:, 5], u[:, 6]),  # one run at neighbouring times
        "call sites": (u[:, 5], v[:, 5]),  # two RANDOM calls of the same run
        "seeds": (u[:, 5], w[:, 5]),  # the same run under another seed
    }
    for what, (a, b) in pairs.items():
        assert abs(np.corrcoef(a, b)[0, 1]) < limit, what
    assert not np.array_equal(u, w)


def test_a_new_draw_each_step_is_what_the_stock_integrates(bm) -> None:
    ds = bm.run(n=3, seed=5, saveper=0.5, outputs=["Uniform Draw", "Accumulated"],
                engine="numpy")
    draw, stock = ds["Uniform Draw"].to_numpy(), ds["Accumulated"].to_numpy()
    np.testing.assert_array_equal(stock[:, 1:], np.cumsum(draw[:, :-1] * 0.5, axis=1))
    assert len(np.unique(draw[0])) == draw.shape[1]  # every step its own draw


def test_normal_quantile_matches_scipy() -> None:
    p = np.concatenate([np.logspace(-300, -1, 400), np.linspace(0.01, 0.99, 999),
                        1 - np.logspace(-16, -1, 200)])
    np.testing.assert_allclose(rs._ndtri(p), special.ndtri(p), rtol=1e-13)
    np.testing.assert_allclose([srt._s_ndtri(x) for x in p], special.ndtri(p), rtol=1e-13)


def test_far_truncation_stays_within_bounds() -> None:
    # both bounds far above the mean: drawn from the mirror image, where the CDF is not 1 - tiny
    x = rs.random_normal(8.0, 8.5, 0.0, 1.0, 0, np.arange(2000.0), 99, 0)
    law = stats.truncnorm(8, 8.5)
    assert np.all((x >= 8) & (x <= 8.5))
    assert stats.kstest(x, law.cdf).pvalue > 1e-3


@pytest.mark.parametrize("seed", [-1, 1.5, True, 2 ** 53])
def test_a_bad_seed_is_refused(bm, seed) -> None:
    with pytest.raises(CarespiralError, match="seed"):
        bm.run(n=2, seed=seed)
