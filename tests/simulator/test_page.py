"""The simulator page in headless Chromium: its runs equal the numpy engine's, its verdict the
collapse criteria's, its band the draws' quantiles; it draws, reacts, shares and fits screens.

The page builds each run's inputs itself (levers from a month, shocks, scenario series, draws);
here the same runs are built independently from what the page promises (a lever holds its new
value from the month chosen, a shock adds to or scales its variable for its months, a scenario's
series is `Scenario.series`) and run by the numpy engine.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from carespiral.exploration.criteria import COLLAPSE, default_criteria
from carespiral.pysd_runner.batch import TimeInput, compile_model

pytestmark = pytest.mark.browser
RTOL = 1e-9


def config_of(path) -> dict:
    text = path.read_text(encoding="utf-8")
    m = re.search(r'<script type="application/json" id="cs-sim-config">(.*?)</script>', text, re.S)
    return json.loads(m.group(1))


def numpy_runs(model, cfg, settings, draws=(None,), scenario=None,
               series=None) -> dict[str, np.ndarray]:
    """The page's runs by the numpy engine, in one batch: {output: runs x times}. `settings` is
    one page state for every draw, or a list of states (one run each, central values); `series`
    are inputs given over model time (drivers), handed to the engine as they are."""
    if isinstance(settings, dict):
        runs = [(settings, d) for d in draws]
    else:
        runs = [(st, None) for st in settings]
    bm = compile_model(model.mdl_path)
    dt = model.control("time_step")
    grid = np.arange(model.control("initial_time"), model.control("final_time") + dt / 2, dt)
    assert np.array_equal(grid, np.asarray(cfg["grid"]["knots"]))
    sliders = {s["name"]: s for s in cfg["sliders"]}
    names = cfg["draws"]["names"] if cfg["draws"] else []

    def own(name, d):
        return cfg["draws"]["rows"][d][names.index(name)] if d is not None and name in names \
            else cfg["base"][name]

    params = pd.DataFrame([{n: own(n, d) for n in cfg["params"]} for _, d in runs])
    inputs = {}
    for name in cfg["inputs"]:
        if series and name in series:
            inputs[name] = TimeInput(np.asarray(series[name].index, dtype=float),
                                     np.asarray(series[name], dtype=float))
            continue
        cols = []
        for st, d in runs:
            b = own(name, d)
            if scenario is not None and name in scenario.input_names:
                v = scenario.series(name, b, grid, dt)
            else:
                v = np.full(len(grid), b)
            s = sliders.get(name)
            lever = st.get("levers", {}).get(s["key"]) if s else None
            if lever and lever["value"] != s["start"]:
                new = lever["value"] if d is None else float(
                    np.clip(b + (lever["value"] - s["start"]), s["lower"], s["upper"]))
                v = np.where(grid >= lever["from"] - dt / 2, new, v)
            for sh in cfg["shocks"]:
                if st.get("shocks", {}).get(sh["key"]) and sh["name"] == name:
                    t0 = st["shockFrom"]
                    on = (grid >= t0 - dt / 2) & (grid < t0 + sh["months"] - dt / 2)
                    v = np.where(on, v + sh["amount"] if sh["op"] == "add" else
                                 v * sh["amount"], v)
            cols.append(v)
        inputs[name] = TimeInput(grid, cols[0] if len(cols) == 1 else np.stack(cols, axis=1))
    ds = bm.run(params if len(params.columns) else None, inputs=inputs, n=len(runs),
                outputs=[o["name"] for o in cfg["outputs"]], engine="numpy")
    return {o["name"]: ds[o["name"]].to_numpy() for o in cfg["outputs"]}


def page_central(browser, sim, cfg, settings) -> np.ndarray:
    browser.execute_script("window.carespiralSimulator.set(arguments[0]);", settings)
    return sim.outputs(browser, "return window.carespiralSimulator.central();",
                        len(cfg["outputs"]), len(cfg["times"]))


def assert_same(page: np.ndarray, ref: dict[str, np.ndarray], cfg, what: str) -> None:
    for j, o in enumerate(cfg["outputs"]):
        np.testing.assert_allclose(page[j], ref[o["name"]], rtol=RTOL, atol=0, equal_nan=True,
                                   err_msg=f"{what}: {o['name']}")


def random_settings(cfg, rng, month=None) -> dict:
    levers = {}
    for s in cfg["sliders"]:
        levers[s["key"]] = {"value": float(rng.uniform(s["lower"], s["upper"])),
                            "from": cfg["grid"]["t0"] if month is None else float(month)}
    return {"levers": levers}


@pytest.mark.parametrize("name", ["collapse_spiral", "workforce_spiral", "failure_demand"])
def test_page_runs_equal_the_numpy_engine(browser, sim, shots, pages, models, name):
    path, model = pages[name], models[name]
    cfg = config_of(path)
    check = sim.open(browser, path, shots)
    assert check.errors == [] and check.requests == []
    bm = compile_model(model.mdl_path)
    outs = [o["name"] for o in cfg["outputs"]]
    # defaults: the model as written
    ref = bm.run(outputs=outs, engine="numpy")
    assert_same(page_central(browser, sim, cfg, {}), {o: ref[o].to_numpy()[0] for o in outs}, cfg,
                f"{name} defaults")
    # random lever settings from the start: levers as plain constants for the numpy engine
    rng = np.random.default_rng(1602)
    settings = [random_settings(cfg, rng) for _ in range(3)]
    frame = pd.DataFrame([{s["name"]: st["levers"][s["key"]]["value"] for s in cfg["sliders"]}
                          for st in settings])
    ref = bm.run(frame, outputs=outs, engine="numpy")
    for i, st in enumerate(settings):
        assert_same(page_central(browser, sim, cfg, st), {o: ref[o].to_numpy()[i] for o in outs}, cfg,
                    f"{name} levers {i}")
    # levers from a later month and every shock: time inputs built here
    st = random_settings(cfg, rng, month=150)
    st["shocks"] = {sh["key"]: True for sh in cfg["shocks"]}
    st["shockFrom"] = 200.0
    ref = numpy_runs(model, cfg, st)
    assert_same(page_central(browser, sim, cfg, st), {k: v[0] for k, v in ref.items()}, cfg,
                f"{name} levers from month 150, shocks")


def _expected_regime(model, cfg, outputs: dict[str, np.ndarray]) -> tuple[str, float]:
    """The regime by the exploration's criteria (degraded: only the queue criterion holds)."""
    import xarray as xr

    ds = xr.Dataset({k: (("run", "time"), v[None, :]) for k, v in outputs.items()},
                    coords={"run": [0], "time": cfg["times"]})
    hits = {"collapse": [], "degraded": []}
    for c in default_criteria(model):
        c = c.bind(model)
        t = float(c.first_time(ds)[0])
        kind = "degraded" if c.variable == model.outputs.get("awaiting_assessment") else COLLAPSE
        if np.isfinite(t):
            hits[kind].append(t)
    for kind in ("collapse", "degraded"):
        if hits[kind]:
            return kind, min(hits[kind])
    return "sustainable", float("nan")


def test_verdict_follows_the_collapse_criteria(browser, sim, shots, pages, models):
    path, model = pages["collapse_spiral"], models["collapse_spiral"]
    cfg = config_of(path)
    sim.open(browser, path, shots)
    seen = set()
    burdens = (1.0, 1.04, 1.1, 1.2, 1.3, 1.5, 1.8, 2.2, 2.6, 3.0)
    states = [{"levers": {"compliance_burden": {"value": b, "from": 96.0}}} for b in burdens]
    ref = numpy_runs(model, cfg, states)
    for i, (burden, st) in enumerate(zip(burdens, states, strict=True)):
        kind, when = _expected_regime(model, cfg, {k: v[i] for k, v in ref.items()})
        browser.execute_script("window.carespiralSimulator.set(arguments[0]);", st)
        got = browser.execute_script("return window.carespiralSimulator.regime();")
        assert got["kind"] == kind, (burden, got, kind)
        if kind != "sustainable":
            assert got["time"] == when
        assert browser.find_element("id", "cs-badge").text.lower() == kind
        seen.add(kind)
    assert {"sustainable", "collapse"} <= seen


def test_degraded_means_only_the_queue_test_is_met(browser, sim, shots, models, tmp_path):
    # a page whose only test is the queue's: any run that meets it is degraded, never collapsed
    from carespiral.exploration.criteria import INITIAL, Threshold
    from carespiral.reports.simulator import simulator_page

    m = models["collapse_spiral"]
    queue = Threshold("awaiting_assessment", ">", 2.0, 12.0, relative_to=INITIAL)
    path = simulator_page(m, tmp_path / "queue.html", criteria=[queue])
    cfg = config_of(path)
    assert [c["kind"] for c in cfg["criteria"]] == ["degraded"]
    sim.open(browser, path, shots)
    st = {"levers": {"compliance_burden": {"value": 3.0, "from": 24.0}}}
    ref = numpy_runs(m, cfg, st)
    x = ref[m.outputs["awaiting_assessment"]][0]
    assert np.any(x > 2 * x[0])
    browser.execute_script("window.carespiralSimulator.set(arguments[0]);", st)
    got = browser.execute_script("return window.carespiralSimulator.regime();")
    import xarray as xr

    ds = xr.Dataset({queue.bind(m).variable: (("run", "time"), x[None, :])},
                    coords={"run": [0], "time": cfg["times"]})
    assert got["kind"] == "degraded"
    assert got["time"] == float(queue.bind(m).first_time(ds)[0])
    text = browser.find_element("id", "cs-verdict-text").text
    assert "children awaiting assessment above twice the starting level" in text


def test_calibrated_page_starts_at_the_fit_and_draws_a_band(browser, sim, shots, pages, models,
                                                            calibration_dir, haringey_drivers):
    from carespiral.calibration import load_result

    path, model = pages["calibrated"], models["collapse_spiral"]
    cfg = config_of(path)
    result = load_result(calibration_dir)
    check = sim.open(browser, path, shots)
    assert check.errors == [] and check.requests == []
    start = {s["name"]: s["start"] for s in cfg["sliders"]}
    assert start["Underlying Need"] == result.values["Underlying Need"]
    assert start["Establishment per Child"] == result.values["Establishment per Child"]
    assert cfg["base"]["Child Population"] == 60000.0
    assert len(cfg["draws"]["rows"]) == 120 >= 100
    scenario = model.scenario("baseline")
    # the central run reproduces the fitted run, with the baseline scenario's shocks
    st = {"levers": {"establishment": {"value": 0.004, "from": 230.0}}, "shocks": {"surge": True},
          "shockFrom": 240.0}
    ref = numpy_runs(model, cfg, st, scenario=scenario, series=haringey_drivers)
    assert_same(page_central(browser, sim, cfg, st), {k: v[0] for k, v in ref.items()}, cfg,
                "calibrated central")
    # the area's drivers over time matter: without them the run is another
    other = numpy_runs(model, cfg, st, scenario=scenario)
    assert not np.allclose(ref[cfg["outputs"][0]["name"]], other[cfg["outputs"][0]["name"]])
    sim.wait_for(browser, "return document.body.getAttribute('data-draws-state') === 'done' && "
                      "window.carespiralSimulator.band() !== null")
    draws = list(range(len(cfg["draws"]["rows"])))
    runs = numpy_runs(model, cfg, st, draws=draws, scenario=scenario, series=haringey_drivers)
    watch = browser.execute_script(
        "return Object.keys(window.carespiralSimulator.band()).map(Number);")
    n_t = len(cfg["times"])
    for o in watch:
        text = browser.execute_script(
            "var b = window.carespiralSimulator.band()[arguments[0]];"
            "return window.carespiralSimulator.encode([b.lo, b.hi]);", o)
        lo, hi = sim.decode(text, (2, n_t))
        q = np.quantile(runs[cfg["outputs"][o]["name"]], [0.05, 0.95], axis=0)
        np.testing.assert_allclose(lo, q[0], rtol=RTOL, err_msg=cfg["outputs"][o]["name"])
        np.testing.assert_allclose(hi, q[1], rtol=RTOL, err_msg=cfg["outputs"][o]["name"])
    assert any(np.any(q_hi > q_lo) for q_lo, q_hi in [sim.decode(browser.execute_script(
        "var b = window.carespiralSimulator.band()[arguments[0]];"
        "return window.carespiralSimulator.encode([b.lo, b.hi]);", o), (2, n_t)) for o in watch])
    note = browser.find_element("id", "cs-draws-note").text
    assert "Across 120 plausible versions of Haringey" in note
    counts = browser.execute_script("return window.carespiralSimulator.counts();")
    assert sum(counts.values()) == 120
    traces = browser.execute_script(
        "return document.getElementById('cs-plot-caseload').data.map(function (t) {"
        " return t.name; });")
    assert "90% of plausible runs" in traces


def test_moving_a_slider_changes_the_plot(browser, sim, shots, pages):
    path = pages["collapse_spiral"]
    sim.open(browser, path, shots)
    before = browser.execute_script(
        "return document.getElementById('cs-plot-backlog').data.find(function (t) {"
        " return t.name === 'your settings'; }).y.slice(-1)[0];")
    updates = int(browser.execute_script("return document.body.getAttribute('data-sim-updates')"))
    browser.execute_script(
        "var r = document.getElementById('cs-lever-compliance_burden');"
        "r.value = '1.8'; r.dispatchEvent(new Event('input', {bubbles: true}));")
    sim.wait_for(browser, f"return +document.body.getAttribute('data-sim-updates') > {updates};")
    after = browser.execute_script(
        "return document.getElementById('cs-plot-backlog').data.find(function (t) {"
        " return t.name === 'your settings'; }).y.slice(-1)[0];")
    assert after > 2 * before
    state = browser.execute_script("return window.carespiralSimulator.state();")
    assert state["levers"]["compliance_burden"]["value"] == 1.8
    assert "compliance_burden=1.8@" in browser.find_element("id", "cs-link").get_attribute("value")
    assert "compliance burden" in browser.find_element("id", "cs-driver").text.lower()
    # a shock button and the comparison overlay
    browser.find_element("id", "cs-shock-scandal").click()
    browser.find_element("id", "cs-compare").click()
    sim.wait_for(browser, "return document.getElementById('cs-plot-backlog').data.some(function (t) {"
                      " return t.name === 'untouched run'; });")
    assert browser.find_element("id", "cs-shock-scandal").get_attribute("aria-pressed") == "true"
    browser.find_element("id", "cs-reset").click()
    sim.wait_for(browser, "return window.carespiralSimulator.fragment() === '';")
    assert browser.find_element("id", "cs-badge").text == "Sustainable"


def test_a_link_reproduces_the_view(browser, sim, shots, pages):
    path = pages["collapse_spiral"]
    cfg = config_of(path)
    sim.open(browser, path, shots)
    st = {"levers": {"compliance_burden": {"value": 1.37, "from": 120.0},
                     "redesign": {"value": 0.6, "from": 150.0}},
          "shocks": {"freeze": True, "surge": True}, "shockFrom": 180.0, "compare": True}
    first = page_central(browser, sim, cfg, st)
    fragment = browser.execute_script("return window.carespiralSimulator.fragment();")
    assert "compliance_burden=1.37@2015-04" in fragment and "shocks=freeze,surge" in fragment
    sim.open(browser, path, shots, fragment=fragment)
    again = sim.outputs(browser, "return window.carespiralSimulator.central();",
                         len(cfg["outputs"]), len(cfg["times"]))
    assert np.array_equal(first, again, equal_nan=True)
    assert browser.execute_script("return window.carespiralSimulator.state().compare;")
    assert browser.find_element("id", "cs-lever-compliance_burden-from") \
        .get_attribute("value") == "2015-04"
    # pasting a link into a page showing another view (here reset) gives the linked view
    browser.find_element("id", "cs-reset").click()
    sim.wait_for(browser, "return window.carespiralSimulator.fragment() === '';")
    browser.find_element("id", "cs-paste").send_keys("file:///elsewhere/sim.html#" + fragment)
    browser.find_element("id", "cs-open").click()
    sim.wait_for(browser, f"return window.carespiralSimulator.fragment() === {json.dumps(fragment)};")
    pasted = sim.outputs(browser, "return window.carespiralSimulator.central();",
                          len(cfg["outputs"]), len(cfg["times"]))
    assert np.array_equal(first, pasted, equal_nan=True)


def test_tipping_points_are_marked_on_the_sliders(browser, sim, shots, pages, tipping, models):
    path = pages["collapse_spiral"]
    sim.open(browser, path, shots)
    marks = dict(browser.execute_script(
        "return Array.from(document.querySelectorAll('.cs-lever')).map(function (b) {"
        " var t = b.querySelector('.cs-tip');"
        " return [b.getAttribute('data-key'), t ? +t.getAttribute('data-value') : null]; });"))
    # the first loss of the steady state above the starting value (not the lower fold)
    assert marks["compliance_burden"] == 1.23
    assert marks["underlying_need"] == 0.0371
    assert marks["redesign"] is None
    cfg = config_of(path)
    s = next(s for s in cfg["sliders"] if s["key"] == "compliance_burden")
    p = models["collapse_spiral"].parameter("Compliance Burden")  # its declared bounds
    assert (s["lower"], s["upper"]) == (p.lower, p.upper)
    units = browser.find_element("id", "cs-lever-compliance_burden-units").text
    assert units.endswith(f"; from {p.lower:g} to {p.upper:g}")
    left = browser.execute_script(
        "var w = document.querySelector('[data-key=compliance_burden] .cs-range-wrap');"
        "var t = w.querySelector('.cs-tip').getBoundingClientRect();"
        "var r = w.getBoundingClientRect(); return [(t.left + t.width / 2 - r.left) / r.width];")[0]
    assert left == pytest.approx((1.23 - s["lower"]) / (s["upper"] - s["lower"]), abs=0.03)
    note = browser.find_element("css selector", "[data-key=compliance_burden] .cs-tip-note").text
    assert note.startswith("Tipping point at 1.23")
    browser.execute_script("window.carespiralSimulator.set(arguments[0]);",
                           {"levers": {"compliance_burden": {"value": 1.5, "from": 0}}})
    note = browser.find_element("css selector", "[data-key=compliance_burden] .cs-tip-note").text
    assert note.startswith("Past the tipping point (1.23)")


@pytest.mark.parametrize("width", [1280, 800])
def test_page_draws_without_errors_or_network_and_fits_the_screen(browser, sim, shots, pages, width):
    for name in ("collapse_spiral", "calibrated", "workforce_spiral"):
        check = sim.open(browser, pages[name], shots, width=width, screenshot=True)
        assert check.status == "rendered", (name, check.status)
        assert check.errors == [], (name, check.errors)
        assert check.requests == [], (name, check.requests)
        assert check.overflow <= 0, f"{name} is {check.overflow}px wider than {width}px"
        assert len(check.figures) >= 3
        for fig in check.figures:
            assert fig["svg"] and fig["points"] > 0, fig
            assert 250 < fig["width"] <= width, (name, fig)
        assert sim.page_errors(browser) == []


def test_published_figures_are_drawn_only_at_the_models_scale(browser, sim, shots, pages):
    # the teaching model is a mid-sized authority: England's caseload (a ratio) is comparable,
    # England's 30,000 social workers are not
    sim.open(browser, pages["workforce_spiral"], shots)
    shown = browser.execute_script("return window.carespiralSimulator.dataShown();")
    assert shown["caseload:0"] is True
    assert shown["workforce:0"] is False
    cap = browser.find_element("css selector", "#cs-plot-workforce + figcaption").text
    assert "left out" in cap
    sim.open(browser, pages["collapse_spiral"], shots)
    shown = browser.execute_script("return window.carespiralSimulator.dataShown();")
    assert shown["workforce:0"] is True and shown["backlog:0"] is True


def test_visible_text_uses_no_code_names(browser, sim, shots, pages):
    from carespiral.pysd_runner.catalog import code_names

    sim.open(browser, pages["collapse_spiral"], shots)
    text = browser.find_element("tag name", "body").text
    found = [n for n in code_names() if re.search(rf"\b{n}\b", text)]
    assert found == []
    assert "Dmnl" not in text
    assert "April 2040" in text  # dates, not model months
