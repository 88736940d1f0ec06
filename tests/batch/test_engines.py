"""The numba engine gives the numpy engine's numbers (relative 1e-12), flags and summaries.

Both engines compile the same lowered equations; numba as a loop over runs and steps. Every
bundled model, the test models and a sample of the conformance models (scalar and subscripted)
are run by both with the defaults and random draws within bounds, compared variable by variable.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from carespiral.errors import CarespiralError, UnknownNameError
from carespiral.pysd_runner.batch import TimeInput, compile_model, numba_engine
from carespiral.pysd_runner.batch import model as batch_model

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent
BUNDLED = sorted((REPO / "models").glob("*.mdl"))
LOCAL = [TESTS / "batch" / "models" / f"{m}.mdl"
         for m in ("constructs", "blowup", "division", "delay3_short", "loop_smooth",
                   "subscripted", "order_and_division")]
CONF = TESTS / "conformance"
# A sample of conformance models with random draws of their constants (tests/conformance runs
# the whole suite through both engines against Vensim's output, at the defaults).
SAMPLE = {"teacup", "delay_pipeline", "delays", "forecast", "lookups", "sample_if_true",
          "smooth", "trend", "input_functions", "subscripted_flows", "subscript_mapping_vensim",
          "subscripted_xidz", "macro_stock", "subscript_aggregation"}
CONFORMANCE = [CONF / "models" / r["name"] / Path(r["source_path"]).name
               for r in csv.DictReader((CONF / "manifest.csv").open(encoding="utf-8"))
               if r["name"] in SAMPLE]
RTOL = 1e-12


def assert_same(a, b, what: str) -> None:
    """Equal within RTOL, near zero within RTOL of the variable's scale (a rate of change made by
    subtracting near-equal numbers keeps only the last bits' differences of exp/log between the
    engines, as the conformance suite judges them), NaN where the other is NaN."""
    assert set(a.data_vars) == set(b.data_vars)
    assert a.attrs["blowups"] == b.attrs["blowups"]
    for v in a.data_vars:
        x, y = a[v].to_numpy(), b[v].to_numpy()
        if x.dtype == object:  # blow-up variable and kind
            assert (x == y).all(), f"{what}: {v}"
            continue
        finite = np.abs(x[np.isfinite(x)])
        scale = float(finite.max()) if finite.size else 0.0
        np.testing.assert_allclose(y, x, rtol=RTOL, atol=max(RTOL * scale, 1e-300),
                                   equal_nan=True,
                                   err_msg=f"{what}: {v}")


def both(bm, params, **kw):
    a = bm.run(params, engine="numpy", **kw)
    b = bm.run(params, engine="numba", **kw)
    assert a.attrs["engine"] == "numpy" and b.attrs["engine"] == "numba"
    return a, b


def params_for(bm, helpers, n: int = 3) -> pd.DataFrame | None:
    draws = helpers.draws(bm.parameters, n=n, seed=20261128)
    if draws.empty:
        return None
    defaults = {p.name: p.default for p in bm.parameters if p.name in draws}
    return pd.concat([pd.DataFrame([defaults]), draws], ignore_index=True)


@pytest.mark.parametrize("mdl", BUNDLED + LOCAL, ids=[p.stem for p in BUNDLED + LOCAL])
def test_engines_agree_on_bundled_and_test_models(mdl, helpers) -> None:
    bm = compile_model(mdl)
    a, b = both(bm, params_for(bm, helpers, n=4))
    assert_same(a, b, mdl.stem)


@pytest.mark.parametrize("mdl", CONFORMANCE, ids=[p.parent.name for p in CONFORMANCE])
def test_engines_agree_on_conformance_models(mdl, helpers) -> None:
    bm = compile_model(mdl)
    a, b = both(bm, params_for(bm, helpers))
    assert_same(a, b, mdl.parent.name)


def test_summaries_chunks_and_offsets_agree(helpers) -> None:
    bm = compile_model(REPO / "models" / "collapse_spiral.mdl")
    params = helpers.draws(bm.parameters, n=40, seed=7)
    outs = ["Referrals", "Social Workers", "Awaiting Assessment", "Caseload"]
    red = ("final,max,min,mean,above:Caseload:18,below:Social Workers:2000,annual_sum,"
           "annual_mean,annual_end")
    a, b = both(bm, params, outputs=outs, reduce=red, period_offset=6)
    assert len(a.data_vars) > 30
    assert_same(a, b, "summaries")
    # chunking changes nothing: numba in chunks of 7 runs gives the same bits as in one chunk
    c = bm.run(params, outputs=outs, reduce=red, period_offset=6, engine="numba", chunk_size=7)
    for v in b.data_vars:
        x, y = b[v].to_numpy(), c[v].to_numpy()
        assert np.array_equal(x, y, equal_nan=x.dtype != object), v
    # and every run alone gives what it gives in the batch
    single = bm.run(params.iloc[[13]], outputs=outs, engine="numba")
    whole = bm.run(params, outputs=outs, engine="numba")
    for v in outs:
        assert np.array_equal(single[v].to_numpy()[0], whole[v].to_numpy()[13]), v


def test_saveper_and_time_inputs_agree(helpers) -> None:
    bm = compile_model(helpers.models / "blowup.mdl")
    # per-run inputs (times x runs) and a shared input, with a coarser SAVEPER
    times = np.linspace(0, 10, 11)
    per_run = TimeInput(times, np.stack([np.linspace(0, s, 11) for s in (0.5, 1.0, 2.0)],
                                        axis=1))
    a, b = both(bm, pd.DataFrame(index=range(3)), inputs={"Drain": per_run}, saveper=2)
    assert_same(a, b, "per-run time input")
    shared = pd.Series(np.linspace(0, 1, 11), index=times)
    a, b = both(bm, pd.DataFrame(index=range(2)), inputs={"Drain": shared})
    assert_same(a, b, "shared time input")


def test_blowups_are_flagged_alike(helpers) -> None:
    bm = compile_model(helpers.models / "blowup.mdl")
    # run 0 healthy, run 1 explodes (not finite), run 2 is drained below zero (negative)
    params = pd.DataFrame({"Growth Rate": [0.01, 10.0, 0.0], "Drain": [0.0, 0.0, 5.0]})
    a, b = both(bm, params)
    assert a.attrs["blowups"] == 2
    assert list(b["blowup_kind"].to_numpy()) == ["", "not finite", "negative"]
    assert_same(a, b, "blowups")


def test_auto_uses_numba_for_large_batches_only(helpers) -> None:
    bm = compile_model(REPO / "models" / "workforce_spiral.mdl")
    small = bm.run(n=2, outputs=["Social Workers"])
    large = bm.run(n=batch_model.AUTO_NUMBA_RUNS, outputs=["Social Workers"], reduce="final")
    assert small.attrs["engine"] == "numpy"
    assert large.attrs["engine"] == "numba"


def test_numba_missing_is_a_clear_error(monkeypatch, helpers) -> None:
    bm = compile_model(helpers.models / "division.mdl")
    monkeypatch.setattr(numba_engine, "available", lambda: False)
    with pytest.raises(CarespiralError, match="pip install numba"):
        bm.run(n=2, engine="numba")
    # the default then falls back to numpy, whatever the batch size
    ds = bm.run(n=batch_model.AUTO_NUMBA_RUNS)
    assert ds.attrs["engine"] == "numpy"


def test_unknown_engine_is_refused(helpers) -> None:
    bm = compile_model(helpers.models / "division.mdl")
    with pytest.raises(UnknownNameError, match="numba"):
        bm.run(n=1, engine="numbaa")


def test_generated_source_is_stable() -> None:
    # the source is the on-disk cache key: it must not depend on set order or on the process
    bm = compile_model(REPO / "models" / "collapse_spiral.mdl")
    prog = bm.program
    outs = [prog.names["Referrals"], prog.names["Caseload"]]
    params = {prog.names["Referral Threshold"]}
    one = numba_engine.generate_numba(prog, params, set(), outs, False).source
    two = numba_engine.generate_numba(prog, set(params), set(), list(outs), False).source
    assert one == two and "@nb.njit(cache=True" in one


def test_auto_falls_back_to_numpy_when_numba_refuses(monkeypatch, helpers) -> None:
    def refuse(*args, **kwargs):
        raise numba_engine.NumbaUnavailableError("numba cannot compile this model (test)")

    bm = compile_model(helpers.models / "division.mdl")
    monkeypatch.setattr(numba_engine, "generate_numba", refuse)
    ds = bm.run(n=batch_model.AUTO_NUMBA_RUNS)
    assert ds.attrs["engine"] == "numpy"
    with pytest.raises(CarespiralError, match="cannot compile this model"):
        bm.run(n=2, engine="numba")


def test_model_run_batch_takes_the_engine_with_a_scenario() -> None:
    from carespiral.pysd_runner import load

    m = load("workforce_spiral")
    params = pd.DataFrame({"establishment": [150.0, 170.0, 190.0]})
    a = m.run_batch(params, scenario="demand_surge", engine="numpy")
    b = m.run_batch(params, scenario="demand_surge", engine="numba")
    assert b.attrs["engine"] == "numba" and "date" in b.coords
    assert_same(a, b, "workforce_spiral demand_surge")
