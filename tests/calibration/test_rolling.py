"""Rolling-origin backtests: a user's model against data it generated, and the scoring API."""

from __future__ import annotations

import shutil
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from carespiral.calibration import read_spec
from carespiral.calibration.rolling import BacktestResult, parse_origins, rolling_backtest
from carespiral.errors import CarespiralError
from carespiral.pysd_runner import load
from carespiral.pysd_runner.catalog import models_dir
from carespiral.results import load_result

from .test_user_model import SPEC, _published

TRUTH = {"Normal Leaving Rate": 0.014, "Reference Caseload": 18.0}


@pytest.fixture(scope="module")
def user_case(tmp_path_factory):
    d = tmp_path_factory.mktemp("rolling")
    shutil.copy(models_dir() / "workforce_spiral.mdl", d / "my_model.mdl")
    scen = d / "scenarios" / "my_model"
    scen.mkdir(parents=True)
    shutil.copy(models_dir() / "scenarios" / "workforce_spiral" / "demand_surge.toml", scen)
    (d / "spec.toml").write_text(SPEC, encoding="utf-8")
    data = _published(load(d / "my_model.mdl"), TRUTH, np.random.default_rng(21))
    return read_spec(d / "spec.toml"), data


@pytest.fixture(scope="module")
def backtest(user_case):
    spec, data = user_case
    return rolling_backtest(spec, origins=range(2012, 2021, 2), horizon=3, data=data,
                            method="least_squares", budget=60, seed=1)


def test_every_origin_forecasts_its_next_years_from_its_own_fitted_years(backtest, user_case):
    _, data = user_case
    f = backtest.forecasts
    assert sorted(f["origin"].unique()) == [2012, 2014, 2016, 2018, 2020]
    assert (f["year"] > f["origin"]).all() and (f["horizon"] == f["year"] - f["origin"]).all()
    assert sorted(f["horizon"].unique()) == [1, 2, 3]
    assert len(f) == 5 * 3 * 2  # origins x horizons x series
    for (series, origin), g in f.groupby(["series", "origin"]):
        seen = data[(data["series"] == series) & (data["year"] <= origin)].sort_values("year")
        v = seen["value"].to_numpy()
        # the naive forecasts and the MASE scale come from the fitted years only
        assert g["persistence"].iloc[0] == pytest.approx(v[-1])
        assert g["mean"].iloc[0] == pytest.approx(v.mean())
        assert g["scale"].iloc[0] == pytest.approx(np.mean(np.abs(np.diff(v))))
        later = data[(data["series"] == series) & (data["year"] > origin)
                     & (data["year"] <= origin + 3)].sort_values("year")
        np.testing.assert_allclose(g.sort_values("year")["observed"], later["value"])


def test_the_generating_model_beats_the_naive_rules(backtest):
    o = backtest.overall()
    # the data are the model's own (plus 4% noise) under a demand surge: its forecasts beat
    # persistence and the in-sample mean; intervals hold most held-out values
    assert o["mase_model"] < o["mase_persistence"]
    assert o["mase_model"] < o["mase_mean"]
    assert 0.7 <= o["coverage"] <= 1.0
    assert (backtest.fits["status"] == "ok").all()


def test_the_result_round_trips_and_reports_a_verdict_first(backtest, tmp_path):
    backtest.save(tmp_path / "bt")
    back = load_result(tmp_path / "bt")
    assert isinstance(back, BacktestResult)
    assert back.origins == [2012, 2014, 2016, 2018, 2020] and back.horizon == 3
    pd.testing.assert_frame_equal(back.scores, backtest.scores, check_dtype=False)
    text = back.report()
    assert text.startswith("Fitted at each origin from 2012 to 2020")
    assert (tmp_path / "bt" / "scores.csv").is_file()


def test_any_fitting_method_plugs_in_and_is_scored_the_same_way(user_case):
    spec, data = user_case

    def fake_fit(spec, area, origin, horizon, data):
        # forecasts exactly 1 above every published value, intervals of +-0.5
        seen = data[data["year"] <= origin]
        later = data[(data["year"] > origin) & (data["year"] <= origin + horizon)]
        fitted = seen.rename(columns={"value": "observed"})[["series", "year", "observed"]]
        bt = later.rename(columns={"value": "observed"})[["series", "year", "observed"]]
        bt = bt.assign(forecast=bt["observed"] + 1, lower=bt["observed"] + 0.5,
                       upper=bt["observed"] + 1.5)
        return SimpleNamespace(fitted=fitted, backtest=bt, converged=True, message="",
                               diagnostics={"runs": 0}, area="Testshire")

    bt = rolling_backtest(spec, origins=[2015, 2019], horizon=2, data=data, fit=fake_fit)
    f = bt.forecasts
    assert bt.overall()["coverage"] == 0.0
    expected = (1.0 / f["scale"]).groupby(f["series"]).mean()
    got = bt.scores.set_index("series")["mase_model"]
    np.testing.assert_allclose(got[expected.index], expected)


def test_origins_are_parsed_and_checked():
    assert parse_origins("2016:2022") == list(range(2016, 2023))
    assert parse_origins("2019,2016") == [2016, 2019]
    with pytest.raises(CarespiralError, match="FIRST:LAST"):
        parse_origins("2016-2022")
    with pytest.raises(CarespiralError, match="after the spec's first year"):
        rolling_backtest("national", origins=[2005])
