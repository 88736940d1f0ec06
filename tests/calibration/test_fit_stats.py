"""Fit statistics against values worked out by hand, and backtest scoring."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from carespiral.calibration.backtest import mase, naive_forecasts, score_forecasts
from carespiral.calibration.fit_stats import fit_statistics, theil, trend

# simulated S = 1, 2, 3, 4 and actual A = 2, 2, 4, 5, worked by hand with 1/n moments:
# MSE = 3/4; bias (2.5 - 3.25)^2 = 0.5625; s_S = sqrt(1.25), s_A = sqrt(1.6875);
# cov = 1.375, r = 1.375 / sqrt(1.25 * 1.6875)
S = np.array([1.0, 2.0, 3.0, 4.0])
A = np.array([2.0, 2.0, 4.0, 5.0])
SS, SA = np.sqrt(1.25), np.sqrt(1.6875)
R = 1.375 / (SS * SA)


def test_theil_proportions_match_hand_computation():
    um, us, uc = theil(S, A)
    assert um == pytest.approx(0.5625 / 0.75, rel=1e-12)
    assert us == pytest.approx((SS - SA) ** 2 / 0.75, rel=1e-12)
    assert uc == pytest.approx(2 * (1 - R) * SS * SA / 0.75, rel=1e-12)
    assert um + us + uc == pytest.approx(1.0, abs=1e-12)
    assert (round(um, 4), round(us, 4), round(uc, 4)) == (0.75, 0.0437, 0.2063)


def test_other_statistics_match_hand_computation():
    st = fit_statistics(S, A)
    # R² = 1 - SSE/SST: SSE = 1 + 0 + 1 + 1 = 3, SST = sum (A - 3.25)^2 = 6.75
    assert st["r2"] == pytest.approx(1 - 3 / 6.75, rel=1e-12)
    assert st["r"] == pytest.approx(R, rel=1e-12)
    assert st["mape"] == pytest.approx(100 * (1 / 2 + 0 + 1 / 4 + 1 / 5) / 4, rel=1e-12)
    assert st["rmse"] == pytest.approx(np.sqrt(0.75), rel=1e-12)
    assert st["mean_error"] == pytest.approx(-0.75)
    # residuals e = A - S = 1, 0, 1, 1 (mean 0.75): lag-1 autocorrelation by hand
    ec = np.array([0.25, -0.75, 0.25, 0.25])
    assert st["resid_acf1"] == pytest.approx(np.sum(ec[1:] * ec[:-1]) / np.sum(ec * ec))
    assert st["durbin_watson"] == pytest.approx((1 + 1 + 0) / 3)


def test_pure_bias_is_all_um_and_pure_scaling_all_us():
    a = np.array([1.0, 3.0, 2.0, 5.0])
    um, us, uc = theil(a + 2.0, a)
    assert (um, us, uc) == pytest.approx((1.0, 0.0, 0.0), abs=1e-12)
    centred = a - a.mean()
    um, us, uc = theil(a.mean() + 2 * centred, a)  # same mean, twice the spread, r = 1
    assert (um, us, uc) == pytest.approx((0.0, 1.0, 0.0), abs=1e-12)


def test_naive_forecasts_and_mase():
    years = np.array([2015, 2016, 2017, 2018])
    values = np.array([10.0, 12.0, 14.0, 16.0])
    pers, trend = naive_forecasts(years, values, np.array([2019, 2020]))
    assert list(pers) == [16.0, 16.0]
    assert trend == pytest.approx([18.0, 20.0])
    # in-sample one-step naive error is 2; forecast errors 2 and 4 -> MASE 1.5
    assert mase(np.array([18.0, 20.0]), pers, values) == pytest.approx(1.5)
    assert mase(np.array([18.0, 20.0]), trend, values) == pytest.approx(0.0)
    assert np.isnan(mase(np.array([1.0]), np.array([1.0]), np.array([3.0, 3.0])))


def test_a_fit_that_runs_against_the_data_reads_as_bad():
    # the published series rises by about 9,000 a year; the fit falls by 2,600 a year
    years = np.arange(2013, 2024, dtype=float)
    rng = np.random.default_rng(1)
    a = 150_000 + 9_000 * (years - 2013) + rng.normal(0, 3_000, len(years))
    s = 190_000 - 2_600 * (years - 2013)
    st = fit_statistics(s, a, years)
    assert st["r"] < -0.9  # a squared correlation would call this a good fit
    assert st["r2"] < 0
    assert st["trend_sign"] == "wrong"
    assert st["slope_fitted"] == pytest.approx(-2_600)
    ref = stats.linregress(years, a)
    assert st["slope_observed"] == pytest.approx(ref.slope, rel=1e-10)
    assert st["trend_t"] == pytest.approx(ref.slope / ref.stderr, rel=1e-10)


def test_trend_sign_is_unclear_without_a_clear_published_trend():
    years = np.arange(2017, 2024, dtype=float)
    a = np.array([16.0, 15.5, 16.4, 15.8, 16.1, 15.7, 16.2])  # noise around 16
    _slope, t = trend(years, a)
    assert abs(t) < 2
    assert fit_statistics(a[::-1], a, years)["trend_sign"] == "unclear"
    assert fit_statistics(a + 0.1 * (years - 2017), a + 1.0 * (years - 2017),
                          years)["trend_sign"] == "right"


def test_scores_average_errors_scaled_at_each_origin():
    # two origins of one series; scales 2 and 4 (in-sample mean absolute change)
    f = pd.DataFrame({
        "series": "x", "origin": [2018, 2018, 2019], "year": [2019, 2020, 2020],
        "horizon": [1, 2, 1], "observed": [10.0, 12.0, 12.0], "forecast": [11.0, 12.0, 8.0],
        "lower": [9.0, 13.0, 7.0], "upper": [12.0, 14.0, 13.0],
        "persistence": [8.0, 8.0, 10.0], "trend": [10.0, 11.0, 13.0], "mean": [9.0, 9.0, 9.0],
        "scale": [2.0, 2.0, 4.0]})
    sc = score_forecasts(f).iloc[0]
    assert sc["n"] == 3
    assert sc["mase_model"] == pytest.approx((1 / 2 + 0 / 2 + 4 / 4) / 3)
    assert sc["mase_persistence"] == pytest.approx((2 / 2 + 4 / 2 + 2 / 4) / 3)
    assert sc["mase_trend"] == pytest.approx((0 + 1 / 2 + 1 / 4) / 3)
    assert sc["coverage"] == pytest.approx(2 / 3)
    by_h = score_forecasts(f, by=("series", "horizon")).set_index("horizon")
    assert by_h.loc[2, "mase_model"] == 0.0 and by_h.loc[1, "n"] == 2
    # a row without a scale (too few fitted values at its origin) is left out
    f.loc[2, "scale"] = np.nan
    assert score_forecasts(f).iloc[0]["n"] == 2
