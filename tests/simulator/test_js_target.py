"""The JavaScript target gives the numpy engine's numbers (relative 1e-9) in headless Chromium.

Every bundled model, the batch test models and every conformance model the batch backend runs are
compiled to JavaScript with their bounded constants as per-run parameters, and run in one browser
session at the defaults and at random draws within bounds; every variable at every saved time is
compared with the numpy engine's, and so are the blow-up flags. Time inputs (shared series and
per-run series between grid points) are checked on the main model and a data-variable model.
What the target cannot write is refused with the construct and the variable named.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from carespiral.pysd_runner.batch import TimeInput, UnsupportedConstructError, compile_model
from carespiral.pysd_runner.batch.js_target import (
    JsUnsupportedError,
    compile_js,
    generate_js,
)

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent
BUNDLED = sorted((REPO / "models").glob("*.mdl"))
LOCAL = [TESTS / "batch" / "models" / f"{m}.mdl"
         for m in ("constructs", "blowup", "division", "delay3_short", "loop_smooth")]
CONF = TESTS / "conformance"
CONFORMANCE = sorted((CONF / "models").glob("*/*.mdl"))
MODELS = BUNDLED + LOCAL + CONFORMANCE
RTOL = 1e-9


def draws(bm, n: int, seed: int) -> pd.DataFrame:
    """The defaults, then uniform draws of every constant with finite declared bounds."""
    rng = np.random.default_rng(seed)
    cols = {}
    for p in bm.parameters:
        lo, hi = p.lower, p.upper
        if lo is not None and hi is not None and np.isfinite(lo) and np.isfinite(hi) and hi > lo:
            cols[p.name] = np.concatenate([[p.default], rng.uniform(lo, hi, n)])
    return pd.DataFrame(cols)


@pytest.fixture(scope="module")
def js_page(browser, sim, tmp_path_factory):
    """A blank page holding the JavaScript runtime (the models are sent to it one by one)."""
    return sim.runtime_page(browser, tmp_path_factory.mktemp("js-target"))


def run_js(driver, sim, js, P_rows: list[dict], T_rows: list[dict] | None = None):
    """Run the compiled model once per parameter row in the page: (outputs, blow-ups) per run."""
    T_rows = T_rows or [{} for _ in P_rows]
    script = (
        f"var M = ({js.source})(window.RT); var P = arguments[0], T = arguments[1], out = [];"
        "for (var i = 0; i < P.length; i++) {"
        " var Ti = {}; Object.keys(T[i]).forEach(function (k) {"
        "  Ti[k] = {t: T[i][k].t, v: T[i][k].v, mode: T[i][k].mode}; });"
        f" var r = M.simulate(P[i], Ti, {js.t0!r}, {js.dt!r}, {js.nsteps}, {js.save_every});"
        " out.push([window.enc(r.outputs), r.blowup]); }"
        "return out;")
    res = driver.execute_script(script, P_rows, T_rows)
    n_t = js.nsteps // js.save_every + 1
    return [(sim.decode(text, (len(js.outputs), n_t)), blow) for text, blow in res]


def assert_equal_runs(got, ds, js, what: str) -> None:
    for i, (values, blow) in enumerate(got):
        for j, name in enumerate(js.outputs):
            ref = ds[name].to_numpy()[i]
            scale = np.nanmax(np.abs(ref[np.isfinite(ref)])) if np.isfinite(ref).any() else 0.0
            np.testing.assert_allclose(values[j], ref, rtol=RTOL, atol=1e-12 * scale,
                                       equal_nan=True, err_msg=f"{what}, run {i}: {name}")
        t = ds["blowup_time"].to_numpy()[i]
        if np.isnan(t):
            assert blow is None, (what, i, blow)
        else:
            assert blow is not None and blow["time"] == t, (what, i, blow, t)
            assert blow["variable"] == ds["blowup_variable"].to_numpy()[i]
            assert blow["kind"] == ds["blowup_kind"].to_numpy()[i]


@pytest.mark.browser
@pytest.mark.parametrize("mdl", MODELS, ids=[f"{p.parent.name}/{p.stem}"
                                             if p.parent.parent == CONF / "models" else p.stem
                                             for p in MODELS])
def test_js_equals_numpy(js_page, sim, mdl):
    from carespiral.errors import CarespiralError

    try:  # what the batch backend refuses (named), the JavaScript target refuses alike
        bm = compile_model(mdl)
        frame = draws(bm, 3, seed=1606)
        ds = bm.run(frame if len(frame.columns) else None, engine="numpy",
                    outputs=[v for v in bm.variables
                             if bm.program.names[v] not in bm.program.control.values()])
    except CarespiralError as exc:
        with pytest.raises(type(exc)):
            compile_js(compile_model(mdl))
        return
    if bm.prepare(frame if len(frame.columns) else None, engine="numpy").grid is not None:
        # a time step or SAVEPER that changes over time: the page runs one step size, so it
        # refuses the model, saying so (the batch engines run it: tests/batch/test_control_time)
        with pytest.raises(CarespiralError, match=r"TIME STEP or SAVEPER changes over time"):
            compile_js(bm, params=list(frame.columns))
        return
    js = compile_js(bm, params=list(frame.columns))
    id_rows = [{js.params[c]: float(row[c]) for c in frame.columns} for _, row in frame.iterrows()]
    id_rows = id_rows or [{}]
    if js.random is not None:  # the numpy batch's runs: seed 0, positions 0, 1, ...
        id_rows = [{**r, js.random[0]: 0.0, js.random[1]: float(i)} for i, r in enumerate(id_rows)]
    assert_equal_runs(run_js(js_page, sim, js, id_rows), ds, js, mdl.stem)


@pytest.mark.browser
def test_time_inputs_equal_numpy(js_page, sim):
    # shared series (np.interp, here between grid points) and per-run series (TimeInput's
    # formula); a data variable given only as a time input
    bm = compile_model(REPO / "models" / "workforce_spiral.mdl")
    shock = "Referral Rate"
    knots = np.array([0.0, 40.3, 43.1, 49.7, 120.0, 240.0])
    shared = np.array([250.0, 250.0, 331.3, 270.2, 250.0, 290.5])
    per_run = np.stack([shared, 2 * shared, shared[::-1]], axis=1)
    js = compile_js(bm, inputs=[shock], outputs=bm.stocks)
    nid = js.inputs[shock]
    for values, mode in ((shared, "interp"), (per_run, "linear")):
        ds = bm.run(None, n=3, inputs={shock: TimeInput(knots, values)}, outputs=bm.stocks,
                    engine="numpy")
        T = [{nid: {"t": knots.tolist(),
                    "v": (values if values.ndim == 1 else values[:, i]).tolist(),
                    "mode": mode}} for i in range(3)]
        assert_equal_runs(run_js(js_page, sim, js, [{}, {}, {}], T), ds, js, f"input {mode}")
    data = compile_model(TESTS / "batch" / "models" / "datavar.mdl")
    js = compile_js(data, inputs=["Drain"])
    t = np.array([0.0, 3.0, 7.5, 12.0])
    v = np.array([0.0, 0.2, 0.05, 1.0])
    ds = data.run(None, inputs={"Drain": TimeInput(t, v)}, outputs=list(js.outputs),
                  engine="numpy")
    T = [{js.inputs["Drain"]: {"t": t.tolist(), "v": v.tolist()}}]
    assert_equal_runs(run_js(js_page, sim, js, [{}], T), ds, js, "data variable")


# ---- refusals: named construct and variable (no browser needed) -----------------------------


def test_lowering_refusals_reach_the_js_target():
    models = TESTS / "batch" / "models"
    with pytest.raises(UnsupportedConstructError) as err:
        compile_js(compile_model(models / "unsupported.mdl"))
    assert "GET TIME VALUE" in str(err.value) and err.value.variable


def test_unknown_function_is_refused_with_its_variable():
    bm = compile_model(TESTS / "conformance" / "models" / "teacup" / "teacup.mdl")
    prog = bm.program
    nid = prog.names["Heat Loss to Room"]
    aux = dict(prog.aux)
    aux[nid] = dataclasses.replace(aux[nid], code=f"rt.no_such_function({aux[nid].code}, 1.0)")
    odd = dataclasses.replace(prog, aux=aux)
    with pytest.raises(JsUnsupportedError) as err:
        generate_js(odd, (), (), [nid])
    assert err.value.variable == "Heat Loss to Room"
    assert "rt.no_such_function" in str(err.value)
    assert isinstance(err.value, UnsupportedConstructError)


def test_a_construct_the_target_does_not_know_is_refused():
    # a lowered program with a field this target was not written for (as subscripts add) is
    # refused, never translated as if the field were absent
    bm = compile_model(TESTS / "conformance" / "models" / "teacup" / "teacup.mdl")
    prog = bm.program

    @dataclasses.dataclass
    class Wider(type(prog)):  # type: ignore[misc]
        dims: dict = dataclasses.field(default_factory=dict)

    wide = Wider(**{f.name: getattr(prog, f.name) for f in dataclasses.fields(prog)},
                 dims={"Teacup Temperature": ("cup",)})
    with pytest.raises(JsUnsupportedError, match=r"Program\.dims"):
        generate_js(wide, (), (), [])
    empty = Wider(**{f.name: getattr(prog, f.name) for f in dataclasses.fields(prog)})
    assert "function simulate" in generate_js(empty, (), (), [])


def test_names_and_grid_follow_the_batch_model():
    bm = compile_model(REPO / "models" / "workforce_spiral.mdl")
    js = compile_js(bm, params=["referral_rate"], inputs=["Funded Establishment"],
                    outputs=["Caseload"])
    assert js.params == {"Referral Rate": bm.program.names["Referral Rate"]}
    assert list(js.outputs) == ["Caseload"]
    job = bm.prepare(None, outputs=["Caseload"], engine="numpy")
    assert (js.t0, js.dt, js.nsteps, js.save_every) == (job.t0, job.dt, job.nsteps,
                                                         job.save_every)
    assert js.times == job.times.tolist()
    with pytest.raises(Exception, match="both as a parameter and a time input"):
        compile_js(bm, params=["Referral Rate"], inputs=["Referral Rate"])
    json.dumps(js.params)


def test_a_random_call_the_target_cannot_read_is_refused():
    # RANDOM calls compile (test_random.py); one whose call site is not a whole-number literal
    # (never lowered so, but a program edited by hand could hold it) is refused, named
    bm = compile_model(TESTS / "batch" / "models" / "random.mdl")
    prog = bm.program
    nid = prog.names["Uniform Draw"]
    aux = dict(prog.aux)
    code = aux[nid].code
    assert code.startswith("rt.random_uniform(")
    aux[nid] = dataclasses.replace(aux[nid], code=code.replace(code.split(", ")[-2], "time"))
    with pytest.raises(JsUnsupportedError, match="a RANDOM call") as err:
        generate_js(dataclasses.replace(prog, aux=aux), (), (), [nid])
    assert err.value.variable == "Uniform Draw"
    assert "function simulate" in generate_js(prog, (), (), [nid])


@pytest.mark.browser
def test_allocate_available_with_a_type_per_run(js_page, sim):
    """ALLOCATE AVAILABLE whose profile type is given per run: each of the four curves (and
    their solve) in the page as in the numpy engine."""
    bm = compile_model(TESTS / "batch" / "models" / "allocation_kind.mdl")
    frame = pd.DataFrame({"Kind A": [1.0, 2.0, 3.0, 4.0]})
    ds = bm.run(frame, engine="numpy", outputs=[
        v for v in bm.variables if bm.program.names[v] not in bm.program.control.values()])
    assert np.isfinite(ds["Available[A]"].to_numpy()).all()
    js = compile_js(bm, params=["Kind A"])
    rows = [{js.params["Kind A"]: k} for k in frame["Kind A"]]
    assert_equal_runs(run_js(js_page, sim, js, rows), ds, js, "allocation_kind")
