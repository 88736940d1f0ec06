"""The page's RANDOM functions are the batch backend's random streams (`random_streams`).

In headless Chromium: the 53 bits of u for a table of (seed, run position, call site, step),
from zero to the largest values the batch takes, are the Python function's exactly; the four
distributions equal numpy's on edge arguments (truncations, both bounds above the mean, far
tails, zero spreads, shifts below the minimum); erfc equals scipy's; and a model compiled to
JavaScript gives the numpy engine's numbers (relative 1e-9) at the same seed and positions, on
the conformance model `Query_file` and on `models/random_draws.mdl` (each function, a draw in
an initial value, bounds moving with a stock), at seed 0 and at another seed, which changes them.
"""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import erfc

from carespiral.pysd_runner.batch import compile_model
from carespiral.pysd_runner.batch import random_streams as rs
from carespiral.pysd_runner.batch.js_random import site_halves
from carespiral.pysd_runner.batch.js_target import compile_js

pytestmark = pytest.mark.browser

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
MODELS = {"Query_file": HERE.parent / "conformance" / "models" / "Query_file" / "Query_file.mdl",
          "random_draws": HERE / "models" / "random_draws.mdl"}
RTOL = 1e-9
BIG = 2 ** 53 - 1  # the largest seed and run position the batch accepts (exact doubles)


def b64(a) -> str:
    return base64.b64encode(np.ascontiguousarray(a, dtype="<f8").tobytes()).decode()


def unb64(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<f8")


@pytest.fixture(scope="module")
def page(browser, sim, tmp_path_factory):
    return sim.runtime_page(browser, tmp_path_factory.mktemp("random"))


def js_apply(driver, call: str, columns: list[np.ndarray]) -> np.ndarray:
    """`call` (JS, of c[0][i], c[1][i], ...) at every row of the columns, in the browser."""
    script = ("var c = arguments[0].map(window.dec), out = new Float64Array(c[0].length);"
              f"for (var i = 0; i < out.length; i++) out[i] = {call};"
              "return window.enc([out]);")
    return unb64(driver.execute_script(script, [b64(col) for col in columns]))


def test_unit_bits_equal_python(page):
    sites = [0, 1, 2 ** 32 - 1, 2 ** 32, 2 ** 63 - 1, 2 ** 64 - 1,
             rs.site_id("v_stock", 0, None), rs.site_id("v_draw", 3, 7.0)]
    rows = [(seed, run, site, k) for seed in (0, 1, 2 ** 32 + 5, BIG)
            for run in (0, 1, 99, 2 ** 32 - 1, BIG - 1) for site in sites
            for k in (0, 1, 7, 2 ** 31, 2 ** 40)]
    seed, run, site, k = (np.array(c, dtype=object) for c in zip(*rows, strict=True))
    halves = np.array([site_halves(int(s)) for s in site], dtype=float)
    got = js_apply(page, "window.RT.unit(c[0][i], c[1][i], c[2][i], c[3][i], c[4][i])",
                   [seed.astype(float), run.astype(float), halves[:, 0], halves[:, 1],
                    k.astype(float)])
    want = np.array([rs.random_0_1(s, r, int(si), int(kk))[0] for s, r, si, kk in rows])
    assert len(set(want.tolist())) == len(rows)  # the table covers distinct draws
    np.testing.assert_array_equal(got, want)  # every bit


def test_distributions_equal_numpy(page):
    rng = np.random.default_rng(5)
    n = 400
    seed, run, k = rng.integers(0, 1000, n), rng.integers(0, 50, n), rng.integers(0, 5000, n)
    site = rs.site_id("v_x", 1, 3.0)
    hi, lo = site_halves(site)
    common = [seed.astype(float), run.astype(float), np.full(n, float(hi)), np.full(n, float(lo)),
              k.astype(float)]

    def call(name: str, m: int) -> str:  # m arguments of the law, then the stream's five
        return f"window.RT.{name}(" + ", ".join(f"c[{j}][i]" for j in range(m + 5)) + ")"

    def check(got, want, what):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=0, equal_nan=True, err_msg=what)

    # normal: inside, one-sided, both bounds above (or below) the mean, far tails, sd ~ 0
    lo_n = rng.choice([-np.inf, -3.0, 0.5, 2.0, 8.0, 30.0, -40.0], n)
    with np.errstate(invalid="ignore"):  # -inf + inf: a NaN bound, which propagates
        hi_n = lo_n + rng.choice([0.5, 2.0, 10.0, np.inf], n)
    mean = rng.choice([0.0, 1.0, -2.0], n)
    sd = rng.choice([1.0, 0.3, 2.5, 1e-7], n)
    got = js_apply(page, call("randomNormal", 4), [lo_n, hi_n, mean, sd, *common])
    check(got, np.array([rs.random_normal(a, b, m, s, sd_, r, site, int(kk))[0]
                         for a, b, m, s, sd_, r, kk in
                         zip(lo_n, hi_n, mean, sd, seed, run, k, strict=True)]), "RANDOM NORMAL")
    lo_e = rng.choice([0.0, 1.0, 3.0], n)
    hi_e = lo_e + rng.choice([0.5, 4.0, np.inf], n)
    shift = rng.choice([0.0, 0.5, 2.0], n)
    stretch = rng.choice([1.0, 0.2, 3.0, 1e-7], n)
    got = js_apply(page, call("randomExponential", 4), [lo_e, hi_e, shift, stretch, *common])
    check(got, np.array([rs.random_exponential(a, b, s, t, sd_, r, site, int(kk))[0]
                         for a, b, s, t, sd_, r, kk in
                         zip(lo_e, hi_e, shift, stretch, seed, run, k, strict=True)]),
          "RANDOM EXPONENTIAL")
    got = js_apply(page, call("randomUniform", 2), [lo_e, hi_e + 1.0, *common])
    check(got, np.array([rs.random_uniform(a, b, sd_, r, site, int(kk))[0]
                         for a, b, sd_, r, kk in zip(lo_e, hi_e + 1.0, seed, run, k,
                                                     strict=True)]), "RANDOM UNIFORM")


def test_erfc_equals_scipy(page):
    x = np.concatenate([np.linspace(-8, 8, 641), [-np.inf, np.inf, np.nan, 0.0, -0.0, 1.999999,
                                                   2.0, 26.0, 26.6, 26.7, 40.0, -40.0]])
    got = js_apply(page, "window.RT.erfc(c[0][i])", [x])
    # a series and a continued fraction, not scipy's Cephes: within a few units in the 14th digit
    np.testing.assert_allclose(got, erfc(x), rtol=1e-13, atol=0, equal_nan=True)


def run_page(driver, js, rows: list[dict]) -> list[np.ndarray]:
    script = (f"var M = ({js.source})(window.RT), P = arguments[0], out = [];"
              "for (var i = 0; i < P.length; i++) {"
              f" var r = M.simulate(P[i], {{}}, {js.t0!r}, {js.dt!r}, {js.nsteps}, "
              f"{js.save_every}); out.push(window.enc(r.outputs)); }}"
              "return [out, M.random];")
    texts, ids = driver.execute_script(script, rows)
    assert tuple(ids) == js.random
    n_t = js.nsteps // js.save_every + 1
    return [unb64(t).reshape(len(js.outputs), n_t) for t in texts]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_draws_equal_numpy(page, name):
    bm = compile_model(MODELS[name])
    outputs = [v for v in bm.variables if bm.program.names[v] not in bm.program.control.values()]
    js = compile_js(bm, outputs=outputs)
    assert js.random is not None
    drawn = [v for v in outputs
             if "rt.random_" in getattr(bm.program.aux.get(bm.program.names[v]), "code", "")]
    assert drawn, "the model draws random numbers"
    runs = {}
    for seed in (0, 20261202):
        ds = bm.run(None, n=3, seed=seed, outputs=outputs, engine="numpy")
        rows = [{js.random[0]: float(seed), js.random[1]: float(i)} for i in range(3)]
        got = run_page(page, js, rows)
        for i in range(3):
            for j, v in enumerate(js.outputs):
                ref = ds[v].to_numpy()[i]
                np.testing.assert_allclose(got[i][j], ref, rtol=RTOL, atol=0, equal_nan=True,
                                           err_msg=f"{name}, seed {seed}, run {i}: {v}")
        runs[seed] = got
        # runs at different positions draw different numbers
        assert all(not np.array_equal(got[0][js_index(js, v)], got[1][js_index(js, v)])
                   for v in drawn)
    for v in drawn:  # and so does another seed
        assert not np.array_equal(runs[0][0][js_index(js, v)],
                                  runs[20261202][0][js_index(js, v)])


def js_index(js, name: str) -> int:
    return list(js.outputs).index(name)


def test_page_runs_are_keyed_as_a_batch(page):
    # the page's runs (simulator_core.js): the central run is position 0 with seed 0, posterior
    # draw i position i + 1, so a batch of [central, draw 0, draw 1] at seed 0 gives its numbers
    bm = compile_model(MODELS["random_draws"])
    names = ["Low", "Normal Mean"]
    js = compile_js(bm, params=names, outputs=["Level", "Normal Draw", "Uniform Draw"])
    rows = [[2.0, 2.0], [1.0, 3.5], [3.0, -0.5]]
    ds = bm.run(pd.DataFrame(rows, columns=names), seed=0, outputs=list(js.outputs),
                engine="numpy")
    n_t = js.nsteps // js.save_every + 1
    cfg = {"grid": {"t0": js.t0, "dt": js.dt, "nsteps": js.nsteps, "saveEvery": js.save_every,
                    "knots": [js.t0 + js.dt * i for i in range(js.nsteps + 1)]},
           "times": js.times, "calendar": None, "sliders": [], "shocks": [], "panels": [],
           "criteria": [], "outputs": [], "inputs": {}, "scenarioInputs": {}, "policyStart": 0,
           "params": js.params, "base": dict(zip(names, rows[0], strict=True)),
           "draws": {"names": names, "rows": rows[1:]}}
    core = (REPO / "reports" / "assets" / "simulator_core.js").read_text(encoding="utf-8")
    texts = page.execute_script(
        core + f"; var M = ({js.source})(window.RT);"
        "var C = window.CarespiralSimCore(arguments[0], M);"
        "return [-1, 0, 1].map(function (d) { return window.enc(C.runWith({}, d).outputs); });",
        cfg)
    for i, text in enumerate(texts):
        got = unb64(text).reshape(len(js.outputs), n_t)
        for j, v in enumerate(js.outputs):
            np.testing.assert_allclose(got[j], ds[v].to_numpy()[i], rtol=RTOL, atol=0,
                                       err_msg=f"page run {i - 1}: {v}")
