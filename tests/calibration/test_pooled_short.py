"""Where pooling must help: authorities with two published values, and short serial series.

Seeded synthetic authorities on the workforce-spiral model (demand-surge scenario), two
parameters per authority drawn from a known national normal distribution on the logit scale
of their bounds. A few authorities publish twenty years; most publish two. Alone, two values
of two series hardly pin two parameters and their error scales; pooled, the national
distribution learnt from all of them does. Checks against the known truth only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from carespiral.calibration.errors_model import RHO_MAX
from carespiral.calibration.observations import SeriesObs, observe_runs
from carespiral.calibration.pooling.fit import SCALE_WEIGHT, fit_stack
from carespiral.calibration.pooling.hierarchy import Transform
from carespiral.calibration.pooling.stack import AreaCase, AreaStack, national_rho
from carespiral.calibration.problem import FitParameter, Problem

BOUNDS = {"Normal Leaving Rate": (0.005, 0.03), "Reference Caseload": (10.0, 30.0)}
TR = Transform(np.array([b[0] for b in BOUNDS.values()]), np.array([b[1] for b in BOUNDS.values()]))
MU = TR.to_z(np.array([0.0125, 17.0]))
TAU = np.array([0.3, 0.25])
TIMES = np.arange(12.0, 241.0, 12.0)
SERIES = (("Social Workers", "social_workers_fte"), ("Caseload", "caseload"))


def _truth_runs(workforce, z: np.ndarray) -> list[np.ndarray]:
    """Noise-free published-like values of each series (areas x times) at parameters z."""
    ds = workforce.run_batch(pd.DataFrame(TR.to_theta(z), columns=list(BOUNDS)),
                             outputs=[v for v, _ in SERIES], scenario="demand_surge", stop=240)
    return [observe_runs(SeriesObs.at_times(name, var, TIMES, np.zeros(len(TIMES))), ds,
                         workforce) for var, name in SERIES]


def _case(workforce, a: int, values: list[np.ndarray], n: int, ar1: bool = False) -> AreaCase:
    series = [SeriesObs.at_times(name, var, TIMES[:n], y[:n], error="lognormal", ar1=ar1)
              for (var, name), y in zip(SERIES, values, strict=True)]
    params = [FitParameter(k, *b) for k, b in BOUNDS.items()]
    return AreaCase(f"A{a}", f"Area {a}", Problem(workforce, params, series,
                                                   scenario="demand_surge"))


def test_authorities_with_two_values_recover_their_parameters_better_pooled(workforce):
    rng = np.random.default_rng(11)
    areas, long = 30, 8  # 8 authorities with 20 years, 22 with 2
    z_true = MU + TAU * rng.standard_normal((areas, 2))
    clean = _truth_runs(workforce, z_true)
    cases = []
    for a in range(areas):
        noisy = [c[a] * np.exp(0.05 * rng.standard_normal(len(TIMES))) for c in clean]
        cases.append(_case(workforce, a, noisy, len(TIMES) if a < long else 2))
    est = fit_stack(AreaStack(cases), pooling="partial", seed=0, starts=8, max_rounds=8)
    short = np.arange(areas) >= long

    def rmse(z):
        return np.sqrt(np.mean((z[short] - z_true[short]) ** 2, axis=0))

    pooled, alone = rmse(est.z), rmse(est.unpooled_z)
    # the national spread is 0.3 and 0.25: shrinking towards the national mean cannot be
    # much worse than it, while alone two noisy values leave a parameter anywhere in its bounds
    assert np.all(pooled < 0.6 * alone), (pooled, alone)
    assert np.all(pooled < 2.0 * TAU), pooled
    # the same parameter values' forecast ahead: pooled runs are nearer the truth's
    later = [c[short][:, 2:] for c in clean]
    runs_p, runs_u = _truth_runs(workforce, est.z[short]), _truth_runs(workforce,
                                                                      est.unpooled_z[short])
    err_p = np.mean([np.mean(np.abs(np.log(p[:, 2:] / t))) for p, t in zip(runs_p, later,
                                                                           strict=True)])
    err_u = np.mean([np.mean(np.abs(np.log(u[:, 2:] / t))) for u, t in zip(runs_u, later,
                                                                           strict=True)])
    assert err_p < 0.7 * err_u, (err_p, err_u)


def _ar1(rng: np.random.Generator, rho: float, n: int, scale: float) -> np.ndarray:
    e = np.empty(n)
    e[0] = rng.standard_normal() / np.sqrt(1 - rho**2)
    for t in range(1, n):
        e[t] = rho * e[t - 1] + rng.standard_normal()
    return scale * e


@pytest.mark.parametrize("rho", [0.0, 0.3, 0.45])
def test_national_rho_recovers_a_shared_autocorrelation_from_series_of_three(rho):
    """400 seeded AR(1) series of 3 values, each with its own scale (e^N(0, 0.5)): no single
    series says anything useful about rho; together they do."""
    rng = np.random.default_rng(5)
    scales = np.exp(0.5 * rng.standard_normal(400))
    series = [_ar1(rng, rho, 3, s) for s in scales]
    assert abs(national_rho(series) - rho) < 0.1
    # none of them long enough alone: a short list of two-value series still gives a number
    assert 0.0 <= national_rho([np.array([1.0, 0.5]), np.array([np.nan, 1.0])]) <= RHO_MAX
    assert national_rho([np.array([1.0])]) == 0.0


def test_pooled_error_models_give_short_series_the_national_autocorrelation(workforce):
    """Authorities at their true parameters with AR(1) residuals (rho 0.7): a 3-value series
    alone is independent (too short for its own rho); pooled it carries the national rho, and
    a long series' own estimate is shrunk towards it."""
    rng = np.random.default_rng(2)
    areas, rho = 60, 0.7
    z_true = MU + TAU * rng.standard_normal((areas, 2))
    clean = _truth_runs(workforce, z_true)
    n = [3 if a % 4 else 12 for a in range(areas)]
    cases = [_case(workforce, a, [c[a] * np.exp(_ar1(rng, rho, len(TIMES), 0.04))
                                  for c in clean], n[a], ar1=True) for a in range(areas)]
    stack = AreaStack(cases)
    theta = TR.to_theta(z_true)
    alone = stack.error_fits(theta)
    pooled = stack.error_fits(theta, pooled_weight=SCALE_WEIGHT)
    short = [a for a in range(areas) if n[a] == 3]
    assert all(f.rho == 0.0 for a in short for f in alone[a])
    r_short = np.array([f.rho for a in short for f in pooled[a]])
    assert np.all(np.abs(r_short - rho) < 0.2), r_short
    # every short authority of a series gets the same (national) value
    assert np.ptp([pooled[a][0].rho for a in short]) == 0.0
    # scales stay near the truth's innovation scale (0.04), pooled or not
    s_pooled = np.array([f.scale for a in range(areas) for f in pooled[a]])
    assert 0.02 < np.median(s_pooled) < 0.06


# ---- the national forecast residual model ---------------------------------------------------


def _record(rng: np.random.Generator, phi: float, n: int, name: str = "referrals") -> dict:
    """A `predict.recording()` record of one lognormal series of n values (model flat at 100,
    AR(1) residuals) and a held-out year, with 5 parameter draws."""
    m = np.full((1, n), 100.0)
    y = m[0] * np.exp(_ar1(rng, phi, n, 0.05))
    train = SeriesObs.at_times(name, "Caseload", TIMES[:n], y, error="lognormal")
    held = SeriesObs.at_times(name, "Caseload", TIMES[n:n + 1], np.array([np.nan]),
                              error="lognormal")
    runs = np.full((5, n), 100.0)
    return {"train": [train], "holdout": [held], "at_best": [m, np.full((1, 1), 100.0)],
            "preds": [runs, np.full((5, 1), 100.0)], "fits": [None]}


def test_national_forecast_phi_is_estimated_across_authorities():
    from carespiral.calibration.pooling.forecast import national_forecast_errors

    rng = np.random.default_rng(4)
    records = [_record(rng, 0.7, 8) for _ in range(150)]
    fes = national_forecast_errors(records)
    phis = {fe[0].phi for fe in fes}
    assert len(phis) == 1  # one national value for the series
    # median-unbiased over 150 series of 8 values (the raw least squares would be biased
    # down): near the truth
    assert 0.6 < phis.pop() < 0.85
    # a series with too few pairs nationally takes the value over all series
    short = [_record(rng, 0.7, 2, "caseload") for _ in range(5)]
    mixed = national_forecast_errors([{k: r[k] + s[k] for k in r} for r, s in
                                      zip(records[:5], short, strict=True)] + records[5:])
    assert mixed[0][1].phi == mixed[0][0].phi
    # the scale: near the innovations' 0.05, an authority's own few values moved towards it
    assert 0.03 < np.median([fe[0].scale for fe in fes]) < 0.07


def test_pooled_forecast_table_is_the_single_area_forecast_under_the_same_residual_model():
    from carespiral.calibration.errors_model import forecast_errors, raw_residuals
    from carespiral.calibration.pooling.forecast import pooled_forecast_table
    from carespiral.calibration.predict import forecast_table

    r = _record(np.random.default_rng(8), 0.6, 8)
    s = r["train"][0]
    own = forecast_errors([raw_residuals(s.values, r["at_best"][0][0], s.error)], [1.0])
    a = forecast_table(r["train"], r["holdout"], r["at_best"], r["preds"], r["fits"],
                       np.random.default_rng(0))
    b = pooled_forecast_table(r, {0: own[0]}, np.random.default_rng(0))
    assert np.allclose(a["forecast"], b["forecast"])
    assert np.allclose(a[["lower", "upper"]], b[["lower", "upper"]])
    # and the centre is the run plus phi^1 of the last residual (algebra)
    e_last = np.log(s.values[-1] / 100.0)
    assert np.isclose(b["forecast"].iloc[0], 100.0 * np.exp(own[0].phi * e_last))
