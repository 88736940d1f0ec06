"""Fixtures for the simulator checks: headless Chromium (the report checks' set-up), pages built
once per session, and helpers that read the page's numbers exactly (as base64 doubles)."""

from __future__ import annotations

import base64
import importlib.util
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent


def _browser_helpers():
    """The report checks' Chromium helpers (tests/reports/conftest.py), loaded by path."""
    name = "carespiral_report_browser_helpers"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, TESTS / "reports" / "conftest.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


helpers = _browser_helpers()
LAPTOP = helpers.LAPTOP


@pytest.fixture(scope="session")
def browser():
    """A headless Chromium; skips locally without one, FAILS when CI=true."""
    ok, why = helpers.browser_available()
    if not ok:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"browser check cannot run in CI: {why}")
        pytest.skip(f"browser check skipped locally: {why}")
    with tempfile.TemporaryDirectory(prefix="carespiral-chromium-") as profile:
        driver = helpers.start_browser(Path(profile))
        driver.set_script_timeout(120)
        try:
            yield driver
        finally:
            driver.quit()


@pytest.fixture(scope="session")
def shots(tmp_path_factory) -> Path:
    keep = os.environ.get("CARESPIRAL_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        return Path(keep)
    return tmp_path_factory.mktemp("simulator-shots")


def decode(text: str, shape: tuple[int, ...]) -> np.ndarray:
    """Doubles sent by the page as base64 (exact: NaN and infinities survive)."""
    return np.frombuffer(base64.b64decode(text), dtype="<f8").reshape(shape)


# window.dec (base64 -> Float64Array) and window.enc (Float64Arrays -> one base64 string): the
# page's side of `decode`, for the checks that send the JavaScript runtime numbers and read back.
JS_CODEC = (
    "window.dec = function (s) { var b = atob(s), u = new Uint8Array(b.length);"
    " for (var i = 0; i < b.length; i++) u[i] = b.charCodeAt(i);"
    " return new Float64Array(u.buffer); };"
    "window.enc = function (arrays) { var n = 0; arrays.forEach(function (a) { n += a.length; });"
    " var all = new Float64Array(n), k = 0;"
    " arrays.forEach(function (a) { all.set(a, k); k += a.length; });"
    " var b = new Uint8Array(all.buffer), s = '';"
    " for (var i = 0; i < b.length; i += 32768)"
    "  s += String.fromCharCode.apply(null, b.subarray(i, i + 32768));"
    " return btoa(s); };")


def runtime_page(driver, folder: Path):
    """Open a blank page holding the JavaScript runtime (window.RT) and the codec above."""
    from carespiral.pysd_runner.batch.js_target import JS_RUNTIME

    page = folder / "runtime.html"
    page.write_text("<!DOCTYPE html><html><head><meta charset='utf-8'></head><body><script>"
                    f"window.RT = {JS_RUNTIME.strip()};{JS_CODEC}</script></body></html>",
                    encoding="utf-8")
    driver.get(page.resolve().as_uri())
    return driver


def wait_for(driver, script: str, timeout: float = 60.0):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(
        lambda d: d.execute_script(script))


def open_sim(driver, path: Path, shot_dir: Path, fragment: str = "", width: int = LAPTOP[0],
             screenshot: bool = False):
    """Open a simulator page afresh (optionally with a URL fragment), wait for its figures and,
    if it has draws, its band; return the report checks' PageCheck (errors, network requests,
    overflow and figures of this load). A full-page screenshot only when asked (it costs a
    resize and a capture of the whole page)."""
    driver.get_log("browser")  # drop entries from earlier pages
    driver.get_log("performance")
    driver.set_window_size(width, LAPTOP[1])
    driver.get("about:blank")  # a new document even when only the fragment differs
    url = path.resolve().as_uri()
    driver.get(url + ("#" + fragment if fragment else ""))
    status = "rendered"
    try:
        wait_for(driver, "var b = document.body; return b.getAttribute('data-plots-rendered')"
                         " || b.getAttribute('data-plots-failed');", timeout=90)
        failed = driver.execute_script("return document.body.getAttribute('data-plots-failed')")
        if failed:
            status = f"failed: {failed}"
    except Exception:  # selenium's TimeoutException
        status = "timeout"
    figures = driver.execute_script(helpers._FIGURE_STATE_JS)
    errors = helpers.page_errors(driver)
    requests = helpers.network_requests(driver)
    overflow = driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
    shot = None
    if screenshot:
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(width, min(max(int(height) + 40, LAPTOP[1]), 12000))
        shot = shot_dir / f"{path.stem}_{width}px.png"
        driver.save_screenshot(str(shot))
        driver.set_window_size(width, LAPTOP[1])
    if status == "rendered":
        wait_draws(driver)
    return helpers.PageCheck(url, status, figures, errors, requests, shot, int(overflow))


def wait_draws(driver) -> None:
    wait_for(driver, "var c = window.carespiralSimulator && window.carespiralSimulator.config;"
                     "return c && (!c.draws || document.body.getAttribute('data-draws-state')"
                     " === 'done');")


def page_outputs(driver, script: str, n_out: int, n_t: int) -> np.ndarray:
    """Outputs (outputs x times) of a run the page makes: `script` returns a simulate() result."""
    text = driver.execute_script(
        f"var r = (function () {{ {script} }})();"
        "return window.carespiralSimulator.encode(r.outputs);")
    return decode(text, (n_out, n_t))


@pytest.fixture(scope="session")
def sim():
    """The helpers above, for the test modules (which cannot import this file)."""
    from types import SimpleNamespace

    return SimpleNamespace(decode=decode, wait_for=wait_for, open=open_sim, outputs=page_outputs,
                           wait_draws=wait_draws, runtime_page=runtime_page,
                           page_errors=helpers.page_errors)


# ---- pages built once per session -------------------------------------------------------------


@pytest.fixture(scope="session")
def models():
    from carespiral.pysd_runner import load

    return {name: load(name) for name in ("collapse_spiral", "workforce_spiral",
                                          "failure_demand")}


# Tipping points of known value for the page checks (the real continuation is checked on its own,
# in test_cli.py, since it takes a while): a fold of the burden at 1.23, of need at 0.0371.
FOLDS = {"Compliance Burden": 1.23, "Underlying Need": 0.0371}


@pytest.fixture(scope="session")
def tipping():
    from carespiral.exploration.tipping import Bifurcation

    out = {}
    for name, p in FOLDS.items():
        branch = pd.DataFrame({"param": [p * 0.8, p, p * 0.9], "X": [1.0, 2.0, 3.0],
                               "max_real_eig": [-1.0, 0.0, 1.0], "stable": [True, True, False],
                               "arclength": [0.0, 1.0, 2.0]})
        folds = pd.DataFrame({"kind": ["fold", "stability", "fold"], "param": [p, p, p * 0.9],
                              "direction": ["upper", "loses", "lower"], "X": [2.0, 2.0, 3.0]})
        out[name] = Bifurcation(branch, folds, "collapse_spiral", name, ["X"])
    return out


@pytest.fixture(scope="session")
def england():
    from carespiral import data

    return data.load(area="England")


@pytest.fixture(scope="session")
def calibration_dir(tmp_path_factory) -> Path:
    """A calibration result of the main model for a small area (child population 60,000), with
    400 posterior draws around the fitted values, written and read back through the
    calibration package's public API."""
    from carespiral.calibration import CalibrationResult

    rng = np.random.default_rng(16)
    names = ["Underlying Need", "Normal Leaving Rate", "Establishment per Child"]
    est = np.array([0.034, 0.015, 0.0033])
    sd = est * 0.08
    params = pd.DataFrame({"parameter": names, "estimate": est, "sd": sd,
                           "lower": est - 2 * sd, "upper": est + 2 * sd, "prior": "normal",
                           "bound_lower": est / 2, "bound_upper": est * 2, "at_bound": False,
                           "identifiability": "identified"})
    draws = pd.DataFrame(est + rng.normal(0, 1, (400, 3)) * sd, columns=names)
    fitted = pd.DataFrame({"series": ["caseload"], "year": [2019],
                           "date": [pd.Timestamp("2019-09-30")], "time": [174.0],
                           "observed": [17.0], "fitted": [16.5], "lower": [14.0],
                           "upper": [19.0], "unit": ["cases per FTE"]})
    fit = pd.DataFrame({"series": ["caseload"], "n": [1.0], "r2": [0.5], "mape": [3.0],
                        "rmse": [0.5], "u_m": [0.1], "u_s": [0.1], "u_c": [0.8],
                        "resid_acf1": [0.0]})
    corr = pd.DataFrame(np.eye(3), index=names, columns=names)
    result = CalibrationResult(
        model="collapse_spiral", spec="local", area="Haringey (E09000014)", method="emcee",
        seed=3, parameters=params, fitted=fitted, fit=fit, correlation=corr, draws=draws,
        manifest={"fixed": {"Child Population": 60000.0}, "scenario": "baseline"})
    out = tmp_path_factory.mktemp("calibration") / "result"
    result.save(out)
    return out


@pytest.fixture(scope="session")
def haringey_drivers():
    """Haringey's child population and funded posts over time (a calibration's drivers)."""
    from carespiral.calibration.drivers import driver_inputs

    return dict(driver_inputs(["child_population", "funded_posts"], "E09000014").inputs)


@pytest.fixture(scope="session")
def pages(tmp_path_factory, models, tipping, england, calibration_dir, haringey_drivers):
    """Simulator pages: the main model (England's figures, tipping marks), the same model
    calibrated (draws, baseline scenario, Haringey's figures and drivers) and the two teaching
    models."""
    from carespiral import data
    from carespiral.calibration import load_result
    from carespiral.reports.simulator import simulator_page

    d = tmp_path_factory.mktemp("simulator-pages")
    m = models["collapse_spiral"]
    out = {"collapse_spiral": simulator_page(m, d / "collapse_spiral.html", tipping=tipping,
                                             data=england, area="England")}
    result = load_result(calibration_dir)
    out["calibrated"] = simulator_page(
        m, d / "calibrated.html", calibration=result, scenarios=[m.scenario("baseline")],
        data=data.load(area="E09000014"), area="Haringey", draws=120, inputs=haringey_drivers)
    for name in ("workforce_spiral", "failure_demand"):
        out[name] = simulator_page(models[name], d / f"{name}.html", data=england,
                                   area="England")
    return out
