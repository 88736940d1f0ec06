"""The flight simulator page: the time of one `collapse_spiral` run in the browser, and its size.

    python benchmarks/simulator.py            # headless Chromium (Debian: chromium, chromium-driver)
    python benchmarks/simulator.py --quick    # fewer timed runs

Builds the simulator page of the main model (England's published figures, no calibration), opens
it from disk in headless Chromium and times the page's own run function (building the run's
time inputs and integrating the model to 2040: 1,680 Euler steps) after a warm-up, as the median
over batches of the mean time per run. In the same process it times one run of the same model by
the numpy engine (N = 1) for comparison. Then the same page with 100 posterior draws (a
synthetic calibration result) is timed for a full band: every draw run once.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

CHROMIUM = os.environ.get("CARESPIRAL_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CARESPIRAL_CHROMEDRIVER", "/usr/bin/chromedriver")


def start_browser(profile: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-dev-shm-usage",
                 f"--user-data-dir={profile}", "--window-size=1280,900"):
        opts.add_argument(flag)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)


def open_page(driver, path: Path) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(path.resolve().as_uri())
    WebDriverWait(driver, 120, poll_frequency=0.1).until(
        lambda d: d.execute_script("return document.body.getAttribute('data-plots-rendered')"))


def calibration(folder: Path) -> Path:
    """A calibration result of the main model with 400 draws of three parameters."""
    from carespiral.calibration import CalibrationResult

    rng = np.random.default_rng(1)
    names = ["Underlying Need", "Normal Leaving Rate", "Establishment per Child"]
    est = np.array([0.034, 0.015, 0.0033])
    params = pd.DataFrame({"parameter": names, "estimate": est, "sd": est * 0.08,
                           "lower": est * 0.85, "upper": est * 1.15, "prior": "normal",
                           "bound_lower": est / 2, "bound_upper": est * 2})
    draws = pd.DataFrame(est * (1 + 0.08 * rng.normal(size=(400, 3))), columns=names)
    fit = pd.DataFrame({"series": ["caseload"], "n": [1.0], "r2": [0.5], "mape": [3.0],
                        "rmse": [0.5], "u_m": [0.1], "u_s": [0.1], "u_c": [0.8],
                        "resid_acf1": [0.0]})
    fitted = pd.DataFrame({"series": ["caseload"], "year": [2019], "time": [174.0],
                           "observed": [17.0], "fitted": [16.5], "lower": [14.0],
                           "upper": [19.0], "unit": ["cases per FTE"]})
    result = CalibrationResult(
        model="collapse_spiral", spec="local", area="Haringey (E09000014)", method="emcee",
        seed=1, parameters=params, fitted=fitted, fit=fit,
        correlation=pd.DataFrame(np.eye(3), index=names, columns=names), draws=draws,
        manifest={"fixed": {"Child Population": 60000.0}, "scenario": "baseline"})
    return result.save(folder / "calibration")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer timed runs")
    args = ap.parse_args()
    for exe in (CHROMIUM, CHROMEDRIVER):
        if not (os.path.exists(exe) or shutil.which(exe)):
            sys.exit(f"{exe} not found: install Debian's chromium and chromium-driver")

    import plotly.offline

    from carespiral import data
    from carespiral.calibration import load_result
    from carespiral.pysd_runner import load
    from carespiral.pysd_runner.batch import compile_model
    from carespiral.reports.simulator import simulator_page

    batches, per = (10, 10) if args.quick else (40, 25)
    model = load("collapse_spiral")
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        t = time.process_time()
        page = simulator_page(model, tmp_path / "sim.html", data=data.load(area="England"),
                              area="England")
        build = time.process_time() - t
        size = page.stat().st_size
        plotly_size = len(plotly.offline.get_plotlyjs().encode("utf-8"))
        cal = load_result(calibration(tmp_path))
        banded = simulator_page(model, tmp_path / "band.html", calibration=cal,
                                scenarios=[model.scenario("baseline")], draws=100)
        driver = start_browser(tmp_path / "profile")
        try:
            open_page(driver, page)
            driver.execute_script("window.carespiralSimulator.benchmark(5, 20);")  # warm up
            res = driver.execute_script(
                "return window.carespiralSimulator.benchmark(arguments[0], arguments[1]);",
                batches, per)
            open_page(driver, banded)
            band = driver.execute_script(
                "var s = window.carespiralSimulator, t0 = performance.now();"
                "for (var d = 0; d < 100; d++) s.run({}, d);"
                "var t1 = performance.now(); for (var d2 = 0; d2 < 100; d2++) s.run({}, d2);"
                "return [t1 - t0, performance.now() - t1];")
            version = driver.capabilities.get("browserVersion", "?")
        finally:
            driver.quit()
    bm = compile_model(model.mdl_path)
    bm.run(None, outputs=["Caseload"], engine="numpy")  # generate and compile once
    reps = 3 if args.quick else 10
    t = time.process_time()
    for _ in range(reps):
        bm.run(None, outputs=["Caseload"], engine="numpy")
    numpy_ms = (time.process_time() - t) / reps * 1000
    print(f"Chromium {version}, collapse_spiral (1,680 Euler steps, 421 saved months)")
    print(f"  page: {size:,} bytes ({size / 1e6:.2f} MB), of which plotly.js {plotly_size:,} "
          f"bytes; built in {build:.1f} CPU s")
    print(f"  one run in the browser: median {res['median']:.2f} ms "
          f"(fastest batch {res['min']:.2f} ms; {res['batches']} batches of {res['perBatch']})")
    print(f"  100 posterior draws in the browser: {band[1]:.0f} ms, {100e3 / band[1]:.0f} draws "
          f"a second (first time, while the engine warms up: {band[0]:.0f} ms)")
    print(f"  one run by the numpy engine (N = 1) in this process: {numpy_ms:.0f} CPU ms; "
          f"the browser run takes {res['median'] / numpy_ms:.3f} of its time")


if __name__ == "__main__":
    main()
