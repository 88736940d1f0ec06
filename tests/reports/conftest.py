"""Headless Chromium helpers for the report browser checks (imported by conftest.py)."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = os.environ.get("CARESPIRAL_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CARESPIRAL_CHROMEDRIVER", "/usr/bin/chromedriver")
LAPTOP = (1280, 900)  # a common laptop viewport

# Per figure: is it drawn (plotly's SVG root present, non-zero size) and how many trace elements?
_FIGURE_STATE_JS = """
return Array.from(document.querySelectorAll('div.cs-plot')).map(function (el) {
  var svg = el.querySelector('svg.main-svg');
  var r = el.getBoundingClientRect();
  var traces = el.querySelectorAll('g.trace, g.hm, g.imagelayer image, g.barlayer .point');
  // calcdata holds what plotly computed for drawing, whatever encoding the data came in
  var points = 0;
  (el.calcdata || []).forEach(function (cd) { points += (cd && cd.length) || 0; });
  return {id: el.id, svg: !!svg, width: r.width, height: r.height,
          traces: traces.length, data: (el.data || []).length, points: points,
          title: (el.layout && el.layout.title && el.layout.title.text) || ''};
});
"""


def browser_available() -> tuple[bool, str]:
    """Whether headless Chromium and chromedriver (and selenium) are usable here."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return False, "selenium is not installed"
    for exe in (CHROMIUM, CHROMEDRIVER):
        if not (os.path.exists(exe) or shutil.which(exe)):
            return False, f"{exe} not found (Debian packages chromium and chromium-driver)"
    return True, ""


def start_browser(profile_dir: Path):
    """A fresh headless Chromium with an empty profile and browser/network logging on."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile_dir}",
        f"--window-size={LAPTOP[0]},{LAPTOP[1]}",
    ):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)


NETWORK_SCHEMES = ("http:", "https:", "ws:", "wss:", "ftp:")


BROWSER_OWN = ("chrome:", "chrome-untrusted:", "chrome-extension:", "devtools:")


def page_errors(driver) -> list[str]:
    """Console errors since the browser log was last read, less the browser's own pages'."""
    return [e["message"] for e in driver.get_log("browser")
            if e.get("level") in ("SEVERE", "ERROR") and not e["message"].startswith(BROWSER_OWN)]


def network_requests(driver) -> list[str]:
    """The network URLs asked for since the performance log was last read. Only network
    schemes count: the browser's own pages (chrome://, chrome-untrusted:// new-tab pages, whose
    names change between Chromium releases) are not the page's requests."""
    urls = []
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg.get("method") == "Network.requestWillBeSent":
            url = msg["params"]["request"]["url"]
            if url.startswith(NETWORK_SCHEMES):
                urls.append(url)
    return urls


@dataclass
class PageCheck:
    """What the browser saw on one page."""

    url: str
    status: str  # "rendered", "failed: ..." or "timeout"
    figures: list[dict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)  # network (http/https/ws) URLs asked for
    screenshot: Path | None = None
    overflow: int = 0  # pixels the page is wider than the laptop viewport (0 = fits)


def check_page(driver, path: Path, shot_dir: Path, timeout: float = 90.0,
               width: int = LAPTOP[0]) -> PageCheck:
    """Open a report from disk, wait for its figures, collect errors and requests, screenshot it."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get_log("browser")  # drop entries from earlier pages
    driver.get_log("performance")
    driver.set_window_size(width, LAPTOP[1])
    url = path.resolve().as_uri()
    driver.get(url)

    def settled(d):
        body = d.find_element("tag name", "body")
        return body.get_attribute("data-plots-rendered") or body.get_attribute("data-plots-failed")

    has_plots = driver.execute_script("return document.querySelectorAll('div.cs-plot').length") > 0
    status = "rendered"
    if has_plots:
        try:
            WebDriverWait(driver, timeout, poll_frequency=0.2).until(settled)
            failed = driver.find_element("tag name", "body").get_attribute("data-plots-failed")
            if failed:
                status = f"failed: {failed}"
        except TimeoutException:
            status = "timeout"
    figures = driver.execute_script(_FIGURE_STATE_JS)
    errors = page_errors(driver)
    requests = network_requests(driver)
    overflow = driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    # screenshot the whole page, not just the first screen
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, min(max(int(height) + 40, LAPTOP[1]), 12000))
    shot_dir.mkdir(parents=True, exist_ok=True)
    shot = shot_dir / (path.stem + ("" if width == LAPTOP[0] else f"_{width}px") + ".png")
    driver.save_screenshot(str(shot))
    return PageCheck(url, status, figures, errors, requests, shot, int(overflow))


# ---------------------------------------------------------------- fixtures

import tempfile  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def shot_dir(tmp_path_factory) -> Path:
    """Where screenshots go: $CARESPIRAL_SCREENSHOTS if set (kept), else a pytest tmp dir."""
    keep = os.environ.get("CARESPIRAL_SCREENSHOTS")
    if keep:
        path = Path(keep)
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="session")
def browser():
    """A headless Chromium; skips locally without one, FAILS when CI=true."""
    ok, why = browser_available()
    if not ok:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"browser check cannot run in CI: {why}")
        pytest.skip(f"browser check skipped locally: {why}")
    with tempfile.TemporaryDirectory(prefix="carespiral-chromium-") as profile:
        driver = start_browser(Path(profile))
        try:
            yield driver
        finally:
            driver.quit()


@pytest.fixture
def open_report(browser, shot_dir):
    """open_report(path, width=1280) -> PageCheck for a report file."""

    def _open(path: Path, width: int = LAPTOP[0]) -> PageCheck:
        return check_page(browser, path, shot_dir, width=width)

    return _open


# ---------------------------------------------------------------- sample results

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

START = pd.Timestamp("2005-04-01")


def make_run(level: float, slope: float, months: float = 240, step: float = 1.0) -> pd.DataFrame:
    """A run shaped like Model.run output: time index in months, Vensim columns, a date column."""
    t = np.arange(0, months + step / 2, step)
    frame = pd.DataFrame(
        {
            "Caseload": level + slope * t / 12 + np.sin(t / 9),
            "Social Workers": 30000 - slope * 40 * t,
        },
        index=pd.Index(t, name="time"),
    )
    frame["date"] = START + pd.to_timedelta(t * 30.436875, unit="D")  # mean month length
    return frame


@pytest.fixture
def sample_runs() -> dict[str, pd.DataFrame]:
    return {"baseline": make_run(16, 0.1), "demand surge": make_run(16, 0.6)}


SAMPLE_UNITS = {"Caseload": "cases/FTE", "Social Workers": "FTE"}


@pytest.fixture
def sample_graph() -> dict:
    """A small stock-flow structure in the JSON-like form the report accepts."""
    kinds = {
        "Social Workers": "stock", "Hiring": "flow", "Leaving": "flow", "Caseload": "auxiliary",
        "Burnout": "stock", "Burnout Change": "flow", "Open Cases": "stock",
        "Case Intake": "flow", "Vacancies": "aux", "Funded Establishment": "constant",
        "Referral Rate": "constant", "Effect of Burnout on Leaving": "lookup",
        "TIME STEP": "control",
    }
    edges = [
        ("Hiring", "Social Workers"), ("Leaving", "Social Workers"),
        ("Social Workers", "Caseload"), ("Open Cases", "Caseload"),
        ("Caseload", "Burnout Change"), ("Burnout Change", "Burnout"), ("Burnout", "Leaving"),
        ("Effect of Burnout on Leaving", "Leaving"), ("Social Workers", "Leaving"),
        ("Funded Establishment", "Vacancies"), ("Social Workers", "Vacancies"),
        ("Vacancies", "Hiring"), ("Referral Rate", "Case Intake"), ("Case Intake", "Open Cases"),
    ]
    units = {"Social Workers": "FTE", "Open Cases": "cases", "Caseload": "cases/FTE",
             "Burnout": "Dmnl"}
    return {
        "nodes": [{"name": n, "kind": k, "units": units.get(n, "")} for n, k in kinds.items()],
        "edges": edges,
    }


SAMPLE_LOOPS = {
    "R1": ["Social Workers", "Caseload", "Burnout Change", "Burnout", "Leaving"],
    "B1": ["Social Workers", "Vacancies", "Hiring"],
}


@pytest.fixture
def sample_parameters() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "name": ["Funded Establishment", "Referral Rate"],
            "units": ["FTE", "children/Month"],
            "default": [30000.0, 50000.0],
            "lower": [0.0, 0.0],
            "upper": [100000.0, np.inf],
            "description": ["posts funded", "new referrals a month"],
        }
    )


@pytest.fixture
def sample_table() -> pd.DataFrame:
    """A tidy data table: England, two regions, six authorities, a count and a rate series."""
    rng = np.random.default_rng(11)
    las = [("E09000014", "Haringey", "E12000007"), ("E09000007", "Camden", "E12000007"),
           ("E09000002", "Barking and Dagenham", "E12000007"),
           ("E08000021", "Newcastle upon Tyne", "E12000001"),
           ("E06000047", "County Durham", "E12000001"),
           ("E06000057", "Northumberland", "E12000001")]
    regions = {"E12000007": "London", "E12000001": "North East"}
    rows = []

    def row(code, name, level, region, series, date, value, unit, kind, note=""):
        rows.append({"area_code": code, "area_name": name, "level": level,
                     "region_code": region, "series": series, "variant": "", "date": date,
                     "value": value, "unit": unit, "kind": kind, "source": "synthetic",
                     "confidence": "high", "note": note})

    for y in range(2013, 2024):
        d = pd.Timestamp(f"{y}-03-31")
        for code, name, reg in las:
            row(code, name, "la", reg, "referrals", d, 1000 + 40 * (y - 2013) + rng.normal(0, 50),
                "count", "flow")
            rate = 18 + rng.normal(0, 3)
            note = ""
            if name == "Camden" and y == 2016:
                rate, note = np.nan, "c: suppressed to protect confidentiality"
            row(code, name, "la", reg, "re_referral_rate", d, rate, "%", "rate", note)
        for code, name in regions.items():
            row(code, name, "regional", code, "referrals", d, 20000 + 500 * (y - 2013), "count",
                "flow")
            row(code, name, "regional", code, "re_referral_rate", d, 20.0, "%", "rate")
        row("E92000001", "England", "national", None, "referrals", d,
            600000 + 5000 * (y - 2009), "count", "flow")
        row("E92000001", "England", "national", None, "re_referral_rate", d, 22.5, "%", "rate")
    for y in range(2009, 2013):  # England has a longer history than the authorities
        row("E92000001", "England", "national", None, "referrals", pd.Timestamp(f"{y}-03-31"),
            600000 + 5000 * (y - 2009), "count", "flow")
    return pd.DataFrame(rows)


@pytest.fixture
def run_maker():
    """make_run(level, slope, months=240, step=1.0) for tests that need a custom run."""
    return make_run


# ---------------------------------------------------------------- exploration results
# Built directly from the result classes with known answers (collapse iff demand + compliance >
# 1.4; an S-shaped equilibrium curve with folds at +-2/(3*sqrt(3)); a sweep tipping at 0.7 going
# up and recovering below 0.4 going down), so the report can be checked against them.


def make_experiments(n: int = 4000, seed: int = 3):
    from carespiral.exploration.experiments import ExperimentResult

    rng = np.random.default_rng(seed)
    design = pd.DataFrame({"demand": rng.uniform(0.5, 1.5, n),
                           "compliance": rng.uniform(0, 0.6, n),
                           "retention": rng.uniform(0, 1, n)})
    collapse = (design["demand"] + design["compliance"] > 1.4).to_numpy()
    outcomes = pd.DataFrame({
        "regime": np.where(collapse, "collapse", "sustainable"), "collapse": collapse,
        "collapse_time": np.where(collapse, 100.0, np.nan),
        "criterion": np.where(collapse, "caseload", ""),
        "final_caseload": 16 + 10 * collapse + rng.normal(0, 1, n),
    })
    factors = [{"name": "demand", "lower": 0.5, "upper": 1.5, "role": "uncertainty"},
               {"name": "compliance", "lower": 0.0, "upper": 0.6, "role": "lever"},
               {"name": "retention", "lower": 0.0, "upper": 1.0, "role": "lever"}]
    return ExperimentResult(design, outcomes, "synthetic", factors, {"design": "lhs", "seed": seed})


FOLD_P = 2 / (3 * np.sqrt(3))


@pytest.fixture(scope="session")
def exploration_results():
    """Built once (PRIM on 4,000 runs takes seconds); the tests only read these results."""
    import xarray as xr

    from carespiral.exploration.discovery import discover
    from carespiral.exploration.policy import PolicyResult
    from carespiral.exploration.sensitivity import Sensitivity
    from carespiral.exploration.tipping import Bifurcation, Sweep

    ex = make_experiments()
    sens = Sensitivity(pd.DataFrame({
        "outcome": ["collapse"] * 3, "factor": ["demand", "compliance", "retention"],
        "S1": [0.5, 0.3, 0.0], "S1_conf": [0.05, 0.04, 0.01],
        "ST": [0.65, 0.45, 0.01], "ST_conf": [0.05, 0.05, 0.01]}), "sobol", 8000)
    x = np.linspace(-1.5, 1.5, 301)  # dx/dt = p + x - x^3: equilibria p = x^3 - x
    branch = pd.DataFrame({"param": x**3 - x, "Backlog": x, "max_real_eig": 1 - 3 * x**2})
    branch["stable"] = branch["max_real_eig"] < 0
    branch["arclength"] = np.arange(len(x), dtype=float)
    xf = 1 / np.sqrt(3)
    folds = pd.DataFrame({"kind": ["fold", "fold"], "param": [FOLD_P, -FOLD_P],
                          "direction": ["upper", "lower"], "Backlog": [-xf, xf]})
    bif = Bifurcation(branch, folds, "synthetic", "demand", ["Backlog"])
    ps = np.round(np.linspace(0, 1, 11), 2)
    up = pd.DataFrame({"direction": "up", "step": range(11), "param": ps,
                       "regime": np.where(ps >= 0.7, "collapse", "sustainable")})
    down = pd.DataFrame({"direction": "down", "step": range(11, 22), "param": ps[::-1],
                         "regime": np.where(ps[::-1] >= 0.4, "collapse", "sustainable")})
    table = pd.concat([up, down], ignore_index=True)
    table["Caseload"] = np.where(table["regime"] == "collapse", 30.0, 16.0) + table["param"]
    sweep = Sweep(table, "synthetic", "demand", 60.0)
    rng = np.random.default_rng(5)
    ev = pd.DataFrame({"establishment": rng.uniform(0, 1, 300), "redesign": rng.uniform(0, 1, 300)})
    ev["cost"] = ev.establishment * 10 + ev.redesign * 3
    ev["collapse_risk"] = np.clip(0.8 - 0.5 * ev.establishment - 0.4 * ev.redesign, 0, 1)
    ev["caseload"] = 25 - 5 * ev.establishment - 4 * ev.redesign
    front = ev.nsmallest(8, "collapse_risk").sort_values("cost").reset_index(drop=True)
    short = pd.DataFrame({"lever": ["establishment", "agency_cap"], "setting": ["high", "high"],
                          "value": [1.0, 0.5], "short_run_caseload_change": [-2.0, -1.5],
                          "long_run_caseload_change": [-3.0, 1.0],
                          "collapse_risk_change": [-0.2, 0.1],
                          "verdict": ["helps", "short-run only"]})
    policy = PolicyResult(front, ev, short, {"cost": 0.0, "collapse_risk": 0.8}, "synthetic", {})
    t = np.arange(0, 241, 1.0)
    walks = 16 + np.cumsum(rng.normal(0, 0.2, (200, len(t))), axis=1)
    ensemble = xr.Dataset({"Caseload": (("run", "time"), walks)},
                          coords={"run": np.arange(200), "time": t})
    return {"experiments": ex, "discovery": discover(ex), "sensitivity": sens,
            "bifurcation": bif, "sweep": sweep, "policy": policy, "ensemble": ensemble}


@pytest.fixture
def experiments_maker():
    """make_experiments(n, seed) for tests that need another size."""
    return make_experiments


# ---------------------------------------------------------------- calibration result
# Known answers: a linear fit of two series with +-10% bands; six parameters of which one is
# flat; draws with a correlation of 0.95 between the first two; quadratic profiles whose 95%
# interval is estimate +- 1.96 sd; a hold-out of three years.


@pytest.fixture
def calibration_result():
    from carespiral.calibration.result import CalibrationResult

    rng = np.random.default_rng(4)
    rows = []
    for series, base, unit in (("referrals", 600000.0, "count"), ("re_referral_rate", 22.0, "%")):
        for y in range(2013, 2021):
            fitted = base * (1 + 0.02 * (y - 2013))
            rows.append({"series": series, "year": y, "date": pd.Timestamp(f"{y}-03-31"),
                         "time": 12.0 * (y - 2005), "observed": fitted * (1 + rng.normal(0, 0.03)),
                         "fitted": fitted, "lower": fitted * 0.9, "upper": fitted * 1.1,
                         "unit": unit})
    fitted = pd.DataFrame(rows)
    names = [f"Parameter {c}" for c in "ABCDEF"]
    est = np.array([1.0, 2.0, 0.5, 10.0, 0.1, 3.0])
    sd = np.array([0.1, 0.2, 0.05, 1.0, 0.01, 2.0])
    params = pd.DataFrame({
        "parameter": names, "estimate": est, "sd": sd, "lower": est - 1.96 * sd,
        "upper": est + 1.96 * sd, "prior": "uniform", "bound_lower": est / 4,
        "bound_upper": est * 4, "at_bound": False,
        "profile_lower": est - 1.96 * sd, "profile_upper": est + 1.96 * sd,
        "identifiability": ["identified"] * 5 + ["flat"],
    })
    fit = pd.DataFrame({"series": ["referrals", "re_referral_rate"], "n": [8.0, 8.0],
                        "r2": [0.9, 0.8], "mape": [2.5, 3.1], "rmse": [15000.0, 0.7],
                        "u_m": [0.1, 0.05], "u_s": [0.2, 0.15], "u_c": [0.7, 0.8],
                        "resid_acf1": [0.1, -0.2]})
    cov = np.diag(sd**2)
    cov[0, 1] = cov[1, 0] = 0.95 * sd[0] * sd[1]
    draws = pd.DataFrame(rng.multivariate_normal(est, cov, size=4000), columns=names)
    prof = pd.DataFrame([{"parameter": n, "value": v, "logpost": -0.5 * ((v - e) / s) ** 2,
                          "delta": 0.5 * ((v - e) / s) ** 2}
                         for n, e, s in zip(names, est, sd, strict=True)
                         for v in np.linspace(e - 3 * s, e + 3 * s, 9)])
    back = []
    for y in range(2021, 2024):
        back.append({"series": "referrals", "year": y, "date": pd.Timestamp(f"{y}-03-31"),
                     "observed": 600000 * (1 + 0.02 * (y - 2013)) * 1.01,
                     "forecast": 600000 * (1 + 0.02 * (y - 2013)),
                     "lower": 560000.0, "upper": 760000.0, "persistence": 684000.0,
                     "trend": 600000 * (1 + 0.025 * (y - 2013))})
    backtest = pd.DataFrame(back)
    summary = pd.DataFrame({"series": ["referrals"], "n": [3], "mase_model": [0.4],
                            "mase_persistence": [1.6], "mase_trend": [0.9], "coverage": [1.0]})
    corr = pd.DataFrame(np.corrcoef(draws.to_numpy().T), index=names, columns=names)
    return CalibrationResult(
        model="collapse_spiral", spec="england", area="England", method="emcee", seed=7,
        parameters=params, fitted=fitted, fit=fit, correlation=corr, draws=draws,
        profiles=prof, backtest=backtest, backtest_summary=summary,
        diagnostics={"acceptance": 0.31, "runs": 40000})


@pytest.fixture
def regime_map_result():
    """A shock-test regime map: bistable band [0.4, 0.8) shifting down by 0.2 per unit param2."""
    from carespiral.exploration.regimes import RegimeMap

    rows = []
    for p2 in (0.0, 0.5, 1.0):
        for p in np.round(np.linspace(0, 1, 6), 2):
            regime = ("collapse" if p >= 0.8 - 0.2 * p2 else
                      "bistable" if p >= 0.4 - 0.2 * p2 else "sustainable")
            rows.append({"param": p, "param2": p2, "regime": regime})
    return RegimeMap(pd.DataFrame(rows), "synthetic", "demand", "compliance",
                     {"height": 0.5, "start": 12.0, "duration": 36.0, "hold": 120.0})


# ---------------------------------------------------------------- a folder of results


@pytest.fixture
def folder_of_results(tmp_path, calibration_result, exploration_results):
    """What three commands' --out folders look like side by side: a calibration, an
    exploration (experiments at the top, PRIM and Sobol in subfolders) and tipping points
    (continuation and sweep in subfolders, the recorded ranges beside them)."""
    from carespiral.data.ranges import ModelRanges

    r = exploration_results
    d = tmp_path / "study"
    calibration_result.save(d / "calibration-national")
    r["experiments"].save(d / "explore-national")
    r["discovery"].save(d / "explore-national" / "discovery")
    r["sensitivity"].save(d / "explore-national" / "sensitivity")
    r["bifurcation"].save(d / "tipping-demand" / "bifurcation")
    r["sweep"].save(d / "tipping-demand" / "sweep")
    ranges = pd.DataFrame([{"variable": "Caseload", "series": "caseload", "low": 8.0,
                            "high": 25.0, "unit": "cases per FTE", "low_at": "A 2021",
                            "high_at": "B 2019", "per_child": False, "factor": 1.0}])
    ModelRanges(ranges, "synthetic", None).save(d / "tipping-demand" / "observed_ranges")
    return d
