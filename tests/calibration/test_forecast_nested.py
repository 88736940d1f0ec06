"""Nested choice of the forecast mode and nested interval recalibration (calibration.nested)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from carespiral.calibration.nested import (
    FALLBACK,
    choose_modes,
    interval_factor,
    interval_ratios,
    known_rows,
    naive_candidate,
    nested_forecasts,
    widen,
)

MODES = ("ar1", "rw", "skill", "run")


def synthetic(rng, origins=range(2010, 2021), horizon=3, last=2023,
              sd=None, half=1.96, series=("a", "b", "c")) -> dict[str, pd.DataFrame]:
    """Rows of every mode for one area: observed = 100 + noise; mode m's forecast misses by
    N(0, sd[m, series]); each interval is +-`half` (scale 1) around the forecast."""
    sd = sd or {}
    truth = {(s, y): 100.0 + rng.normal() for s in series for y in range(1900, last + 1)}
    out = {}
    for m in MODES:
        rows = []
        for o in origins:
            for s in series:
                for h in range(1, horizon + 1):
                    y = o + h
                    if y > last:
                        continue
                    obs = truth[(s, y)]
                    fc = obs + rng.normal(0.0, sd.get((m, s), 1.0))
                    rows.append({"area": "X", "origin": o, "series": s, "year": y,
                                 "horizon": h, "observed": obs, "forecast": fc,
                                 "lower": fc - half, "upper": fc + half, "scale": 1.0,
                                 "persistence": truth[(s, o)], "trend": truth[(s, o)]})
        out[m] = pd.DataFrame(rows)
    return out


def test_known_rows_only_before_origin():
    rows = synthetic(np.random.default_rng(0))["ar1"]
    k = known_rows(rows, 2015)
    assert len(k) > 0
    assert (k["origin"] < 2015).all() and (k["year"] <= 2015).all()
    # every row made before 2015 for a year up to 2015 is there (independent count)
    expected = sum(1 for o in range(2010, 2015) for h in (1, 2, 3) if o + h <= 2015) * 3
    assert len(k) == expected


def test_first_origin_falls_back():
    by = synthetic(np.random.default_rng(1))
    chosen = choose_modes(by, 2010, ["a", "b"])
    assert chosen == {"a": (FALLBACK, "fallback"), "b": (FALLBACK, "fallback")}


def test_picks_known_best_mode_per_series():
    sd = {}
    for s in ("a", "b", "c"):
        for m in MODES:
            sd[(m, s)] = 5.0
    sd[("rw", "a")] = 0.2
    sd[("skill", "b")] = 0.2
    sd[("run", "c")] = 0.2
    by = synthetic(np.random.default_rng(2), sd=sd)
    nf = nested_forecasts(by, origins=range(2014, 2021))
    late = nf[nf["origin"] >= 2014].drop_duplicates(["origin", "series"])
    assert set(late["basis"]) == {"series"}
    want = {"a": "rw", "b": "skill", "c": "run"}
    assert all(late["mode"] == late["series"].map(want))
    # and the rows are that mode's own rows
    r = nf[(nf["origin"] == 2016) & (nf["series"] == "a")].sort_values("year")
    src = by["rw"]
    src = src[(src["origin"] == 2016) & (src["series"] == "a")].sort_values("year")
    assert np.allclose(r["forecast"], src["forecast"])


def test_pooled_before_series_has_enough_errors():
    sd = {(m, s): 5.0 for m in MODES for s in "abc"}
    for s in "abc":
        sd[("skill", s)] = 0.1
    by = synthetic(np.random.default_rng(3), sd=sd)
    # at 2011 each series has one known error (2010 -> 2011): pooled choice, the best overall
    chosen = choose_modes(by, 2011, ["a", "b", "c"])
    assert {v for v in chosen.values()} == {("skill", "pooled")}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_choice_never_uses_a_year_after_the_origin(seed):
    rng = np.random.default_rng(seed)
    by = synthetic(rng)
    base = nested_forecasts(by)
    for origin in (2012, 2015, 2018):
        # rewrite every forecast not known at `origin` (made at or after it, or for a later
        # year) so that a mode looking ahead would choose differently
        tampered = {}
        for m, f in by.items():
            f = f.copy()
            hidden = (f["origin"] >= origin) | (f["year"] > origin)
            f.loc[hidden, "forecast"] = f.loc[hidden, "observed"] + (
                0.0 if m == "run" else 50.0)
            f.loc[hidden, "lower"] = f.loc[hidden, "forecast"] - 1e-6
            f.loc[hidden, "upper"] = f.loc[hidden, "forecast"] + 1e-6
            tampered[m] = f
        again = nested_forecasts(tampered, origins=[origin])
        b = base[base["origin"] == origin].sort_values(["series", "year"])
        a = again.sort_values(["series", "year"])
        assert list(a["mode"]) == list(b["mode"])
        assert np.allclose(a["interval_factor"], b["interval_factor"])


def test_ratio_is_one_on_the_bounds_and_widen_matches():
    f = pd.DataFrame({"observed": [12.0, 8.0, 10.0, 15.0, -3.0],
                      "forecast": [10.0, 10.0, 10.0, 10.0, 0.0],
                      "lower": [9.0, 8.0, 5.0, 9.0, -1.0],
                      "upper": [12.0, 13.0, 20.0, 12.0, 1.0]})
    r = interval_ratios(f)
    # log scale where all positive: 12 on the upper bound, 8 on the lower, 10 at the centre
    assert r[0] == pytest.approx(1.0) and r[1] == pytest.approx(1.0) and r[2] == 0.0
    assert r[3] == pytest.approx(np.log(1.5) / np.log(1.2))
    assert r[4] == pytest.approx(3.0)  # a negative bound: the natural scale
    for k in (0.7, 1.0, 2.0, 3.5):
        w = widen(f, k)
        inside = (f["observed"] >= w["lower"] - 1e-9) & (f["observed"] <= w["upper"] + 1e-9)
        assert list(inside) == list(r <= k + 1e-12)
        assert np.allclose(w["forecast"], f["forecast"])


def test_factor_is_the_upper_quantile_and_bounded():
    r = np.arange(1, 21) / 10.0  # 0.1 .. 2.0
    assert interval_factor(r) == pytest.approx(1.9)  # 95% of 20: the 19th value
    assert interval_factor(r[:5]) == 1.0  # too few
    assert interval_factor(np.full(30, 100.0)) == 5.0
    assert interval_factor(np.full(30, 0.01)) == 0.5


def test_recalibrated_intervals_cover_95_percent_on_seeded_data():
    # the forecasts miss by N(0, 2) but their intervals are +-1.96: 68% coverage as made
    rng = np.random.default_rng(7)
    sd = {(m, s): 2.0 for m in MODES for s in "abc"}
    by = synthetic(rng, origins=range(1960, 2021), sd=sd, last=2023)
    raw = by["ar1"]
    raw = raw[raw["origin"] >= 1970]
    inside_raw = ((raw["observed"] >= raw["lower"]) & (raw["observed"] <= raw["upper"])).mean()
    assert inside_raw == pytest.approx(0.68, abs=0.04)
    nf = nested_forecasts(by, origins=range(1970, 2021))
    cov = ((nf["observed"] >= nf["lower"]) & (nf["observed"] <= nf["upper"])).mean()
    assert cov == pytest.approx(0.95, abs=0.025)
    # the factor learnt approaches the true one, 2 (the 95% quantile of |N(0, 2)| / 1.96)
    assert nf[nf["origin"] > 2000]["interval_factor"].median() == pytest.approx(2.0, abs=0.25)
    # without recalibration the intervals are the modes' own
    plain = nested_forecasts(by, origins=range(1970, 2021), recalibrate=False)
    assert (plain["interval_factor"] == 1.0).all()


def test_naive_candidate_moves_the_interval():
    by = synthetic(np.random.default_rng(4))
    p = naive_candidate(by["rw"])
    assert np.allclose(p["forecast"], by["rw"]["persistence"])
    assert np.allclose(p["upper"] - p["lower"], by["rw"]["upper"] - by["rw"]["lower"])
    nested = nested_forecasts({**by, "persistence": p},
                              candidates=(*MODES, "persistence"), origins=[2018])
    assert set(nested["mode"]) <= {*MODES, "persistence"}


def test_missing_candidate_is_an_error():
    from carespiral.errors import CarespiralError

    by = synthetic(np.random.default_rng(5))
    two = {m: by[m] for m in ("ar1", "rw")}
    with pytest.raises(CarespiralError, match="skill, run"):
        choose_modes(two, 2015, ["a"])
    # the same refusal from nested_forecasts (not a KeyError), and for no candidate at all
    with pytest.raises(CarespiralError, match=r"candidate mode.*skill, run"):
        nested_forecasts(two)
    with pytest.raises(CarespiralError, match="none given"):
        nested_forecasts(by, candidates=())


def test_backtest_command_refuses_an_unknown_mode_and_a_stray_warmup():
    from typer.testing import CliRunner

    from carespiral.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["backtest", "national", "--forecast-mode", "best"])
    assert res.exit_code != 0
    assert "--forecast-mode 'best': expected one of ar1, rw, skill, run, auto, nested" in \
        res.output
    res = runner.invoke(app, ["backtest", "national", "--forecast-mode", "ar1", "--warmup",
                              "2012:2015"])
    assert res.exit_code != 0 and "--warmup applies to --forecast-mode nested only" in res.output
    # a --warmup that is not years is named as --warmup (not --origins)
    res = runner.invoke(app, ["backtest", "national", "--warmup", "2012-2015"])
    assert res.exit_code != 0 and "--warmup '2012-2015': expected FIRST:LAST" in res.output


def test_rolling_backtest_refuses_an_unknown_mode():
    from carespiral.calibration.rolling import rolling_backtest
    from carespiral.errors import CarespiralError

    with pytest.raises(CarespiralError, match="forecast mode 'best'"):
        rolling_backtest("national", origins=[2016], mode="best")


@pytest.fixture(scope="module")
def user_case(tmp_path_factory):
    import shutil

    from carespiral.calibration import read_spec
    from carespiral.pysd_runner import load
    from carespiral.pysd_runner.catalog import models_dir

    from .test_user_model import SPEC, _published

    d = tmp_path_factory.mktemp("nested")
    shutil.copy(models_dir() / "workforce_spiral.mdl", d / "my_model.mdl")
    scen = d / "scenarios" / "my_model"
    scen.mkdir(parents=True)
    shutil.copy(models_dir() / "scenarios" / "workforce_spiral" / "demand_surge.toml", scen)
    (d / "spec.toml").write_text(SPEC, encoding="utf-8")
    data = _published(load(d / "my_model.mdl"),
                      {"Normal Leaving Rate": 0.014, "Reference Caseload": 18.0},
                      np.random.default_rng(21))
    return read_spec(d / "spec.toml"), data


def test_a_single_fit_takes_nested_forecasts_from_warm_up_origins(user_case):
    from carespiral.calibration import calibrate
    from carespiral.calibration.predict import recording
    from carespiral.calibration.rolling import rolling_backtest, with_forecast_mode

    spec, data = user_case
    # a small budget and two warm-up origins: the claim is that both paths make the same
    # warm-up fits and so choose the same modes, not how well each fit converges
    with recording() as rec:
        res = calibrate(spec, fit_until=2018, data=data, method="least_squares", budget=30,
                        seed=3, profiles=False, horizon=3)
    assert len(rec) == 1
    out = with_forecast_mode(res, rec, spec, 2018, "nested", data=data,
                             method="least_squares", budget=30, seed=3, warmup=[2014, 2016])
    bt = out.backtest
    assert set(bt["mode"]) <= set(MODES) and set(bt["basis"]) <= {"series", "pooled"}
    pd.testing.assert_frame_equal(out.fitted, res.fitted)
    assert list(bt["year"]) == list(res.backtest["year"])
    assert set(out.backtest_summary["series"]) == set(res.backtest_summary["series"])
    # the rolling backtest's nested forecasts at the same origin, from the same warm-up fits
    rb = rolling_backtest(spec, origins=[2018], warmup=[2014, 2016], horizon=3, data=data,
                          method="least_squares", budget=30, seed=3, mode="nested")
    assert list(rb.fits["scored"]) == [False, False, True]
    mine = bt.drop_duplicates("series").set_index("series")["mode"]
    theirs = rb.forecasts.drop_duplicates("series").set_index("series")["mode"]
    assert mine.to_dict() == theirs.to_dict()
    # a plain mode needs no warm-up fit and keeps the fit's rows otherwise
    rw = with_forecast_mode(res, rec, spec, 2018, "rw", data=data)
    assert set(rw.backtest["mode"]) == {"rw"}
    np.testing.assert_allclose(rw.backtest["observed"], res.backtest["observed"])


@pytest.mark.parametrize("mode", ["rw", "nested"])
def test_a_fit_without_recorded_runs_is_refused_by_name(mode):
    # without the fit's recorded model runs there is nothing to forecast from: a clear error,
    # not a KeyError from an empty table (nor NaN forecasts), and no warm-up fit is started
    from types import SimpleNamespace

    from carespiral.calibration.rolling import with_forecast_mode
    from carespiral.errors import CarespiralError

    bt = pd.DataFrame({"series": ["a", "a"], "year": [2019, 2020], "observed": [1.0, 2.0],
                       "forecast": [1.0, 2.0], "lower": [0.5, 1.5], "upper": [1.5, 2.5]})
    fitted = pd.DataFrame({"series": ["a"] * 3, "year": [2016, 2017, 2018],
                           "observed": [1.0, 1.0, 1.0]})
    res = SimpleNamespace(backtest=bt, fitted=fitted)
    with pytest.raises(CarespiralError, match=r"none were recorded.*recording"):
        with_forecast_mode(res, [], "national", 2018, mode, warmup=[])


def test_a_warm_up_origin_without_two_fitted_years_is_refused_by_name():
    # as rolling_backtest refuses it: a warm-up fit that cannot be made is an error, not
    # silently left out (nor a KeyError later); checked before any fit
    from types import SimpleNamespace

    from carespiral.calibration.rolling import with_forecast_mode
    from carespiral.calibration.spec import read_spec
    from carespiral.errors import CarespiralError

    spec = read_spec("national")
    too_early = spec.period[0]
    res = SimpleNamespace(backtest=pd.DataFrame({"series": ["a"], "year": [2019]}),
                          fitted=pd.DataFrame())
    with pytest.raises(CarespiralError, match=f"warm-up origin {too_early}: must be after"):
        with_forecast_mode(res, [{}], spec, 2018, "nested", warmup=[too_early, 2016])
