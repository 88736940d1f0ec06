"""Fit statistics against values worked out by hand, and backtest scoring."""

from __future__ import annotations

import numpy as np
import pytest

from carespiral.calibration.backtest import mase, naive_forecasts
from carespiral.calibration.fit_stats import fit_statistics, theil

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
    assert st["r2"] == pytest.approx(R**2, rel=1e-12)
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
