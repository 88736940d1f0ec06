"""Benchmark: does an exploration report stay light as the number of runs grows?

    python benchmarks/reports.py            # 10,000 and 1,000,000 runs
    python benchmarks/reports.py --quick    # 10,000 and 100,000 runs
    python benchmarks/reports.py --browser  # also time drawing in headless Chromium

Reported as same-run ratios: page size and build time of the large report against the small one.
The figures are binned or sampled, so the page should not grow with the runs (size ratio near 1)
and the build time should grow far less than the run count.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from carespiral.exploration.experiments import ExperimentResult
from carespiral.reports import exploration_report


def experiments(n: int, seed: int = 1) -> ExperimentResult:
    """Synthetic runs with a known collapse boundary (demand + compliance > 1.4)."""
    rng = np.random.default_rng(seed)
    design = pd.DataFrame({"demand": rng.uniform(0.5, 1.5, n),
                           "compliance": rng.uniform(0, 0.6, n),
                           "retention": rng.uniform(0, 1, n)})
    collapse = (design["demand"] + design["compliance"] > 1.4).to_numpy()
    outcomes = pd.DataFrame({"regime": np.where(collapse, "collapse", "sustainable"),
                             "collapse": collapse, "collapse_time": np.where(collapse, 100.0, np.nan),
                             "criterion": np.where(collapse, "caseload", "")})
    factors = [{"name": "demand", "lower": 0.5, "upper": 1.5},
               {"name": "compliance", "lower": 0.0, "upper": 0.6},
               {"name": "retention", "lower": 0.0, "upper": 1.0}]
    return ExperimentResult(design, outcomes, "synthetic", factors, {"design": "lhs"})


def build(n: int, folder: Path) -> tuple[float, int, Path]:
    ex = experiments(n)
    t = time.perf_counter()
    path = exploration_report(folder / f"runs_{n}.html", title=f"{n:,} runs", experiments=ex,
                              plotlyjs="beside")  # size without plotly.js
    return time.perf_counter() - t, path.stat().st_size, path


def draw_seconds(path: Path) -> float:
    """Seconds from opening the page to every figure drawn, best of three."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    best = np.inf
    with tempfile.TemporaryDirectory() as profile:
        opts = webdriver.ChromeOptions()
        for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                     f"--user-data-dir={profile}"):
            opts.add_argument(flag)
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
        try:
            for _ in range(3):
                t = time.perf_counter()
                driver.get(path.resolve().as_uri())
                WebDriverWait(driver, 120, poll_frequency=0.05).until(
                    lambda d: d.find_element("tag name", "body").get_attribute(
                        "data-plots-rendered"))
                best = min(best, time.perf_counter() - t)
        finally:
            driver.quit()
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--browser", action="store_true")
    args = ap.parse_args()
    small, large = 10_000, (100_000 if args.quick else 1_000_000)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ts, ss, ps = build(small, folder)
        tl, sl, pl = build(large, folder)
        out = {"runs": [small, large], "build_seconds": [round(ts, 3), round(tl, 3)],
               "page_bytes": [ss, sl], "build_ratio": round(tl / ts, 2),
               "size_ratio": round(sl / ss, 2), "runs_ratio": large / small}
        if args.browser:
            ds, dl = draw_seconds(ps), draw_seconds(pl)
            out["draw_seconds"] = [round(ds, 3), round(dl, 3)]
            out["draw_ratio"] = round(dl / ds, 2)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
