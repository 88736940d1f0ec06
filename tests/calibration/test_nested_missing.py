"""The nested choice and interval recalibration when forecasts or observations are missing.

Constructed cases with answers worked out by hand: a mode whose known forecasts are NaN (a
failed run, a residual that could not be carried over) must not be chosen for them, nor win
because it made fewer forecasts; a forecast no mode made, and a year with no published value,
are left out; a row without an interval to judge gives no ratio and does not widen the others.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from carespiral.calibration.nested import (
    FACTOR_BOUNDS,
    choose_modes,
    interval_factor,
    interval_ratios,
    nested_forecasts,
)

MODES = ("ar1", "rw", "skill", "run")
ORIGINS = range(2010, 2016)


def rows(miss: float, series: str = "a", nan_at: set[tuple[int, int]] | None = None,
         missing_years: set[int] | None = None, area: str = "X") -> pd.DataFrame:
    """One mode's forecasts of observed = 100 from origins 2010-2015, 1-2 years ahead: each
    forecast misses by `miss` (scale 1, so its scaled error is |miss|), interval +-2 around it.
    `nan_at`: (origin, year) whose forecast is NaN; `missing_years`: years never published."""
    out = []
    for o in ORIGINS:
        for h in (1, 2):
            y = o + h
            fc = math.nan if (o, y) in (nan_at or set()) else 100.0 + miss
            obs = math.nan if y in (missing_years or set()) else 100.0
            out.append({"area": area, "origin": o, "series": series, "year": y, "horizon": h,
                        "observed": obs, "forecast": fc, "lower": fc - 2.0, "upper": fc + 2.0,
                        "scale": 1.0})
    return pd.DataFrame(out)


def modes(**miss: float) -> dict[str, pd.DataFrame]:
    return {m: rows(miss.get(m, 3.0)) for m in MODES}


# Known at origin 2014: forecasts made in 2010-2013 for years up to 2014: (2010, 2011),
# (2010, 2012), (2011, 2012), (2011, 2013), (2012, 2013), (2012, 2014), (2013, 2014): 7 rows.
KNOWN_2014 = [(2010, 2011), (2010, 2012), (2011, 2012), (2011, 2013), (2012, 2013),
              (2012, 2014), (2013, 2014)]


def test_a_mode_whose_known_forecasts_are_all_nan_is_not_chosen() -> None:
    by = modes(rw=0.5, skill=1.0, run=2.0)  # ar1 would miss by 3 but made no forecast
    by["ar1"] = rows(0.1, nan_at=set(KNOWN_2014))
    assert choose_modes(by, 2014, ["a"]) == {"a": ("rw", "series")}


def test_a_mode_is_judged_on_every_forecast_not_only_those_it_made() -> None:
    # rw misses by 0.1 where it forecast, but its forecasts for 2012-2013 failed; skill made
    # every forecast, missing by 1: skill is the better mode on what both had to forecast
    by = modes(rw=0.1, skill=1.0, run=2.0, ar1=3.0)
    by["rw"] = rows(0.1, nan_at={(2010, 2012), (2011, 2013)})
    assert choose_modes(by, 2014, ["a"]) == {"a": ("skill", "series")}


def test_a_forecast_no_mode_made_is_left_out() -> None:
    # every mode failed for (2011, 2013): it tells the modes nothing; on the other 6 rows rw
    # is best (0.5 against 1, 2 and 3)
    bad = {(2011, 2013)}
    by = {m: rows(v, nan_at=bad) for m, v in zip(MODES, (3.0, 0.5, 1.0, 2.0), strict=True)}
    assert choose_modes(by, 2014, ["a"]) == {"a": ("rw", "series")}
    # at origin 2012 three forecasts are known, (2010, 2011), (2010, 2012) and (2011, 2012);
    # with the last two failed everywhere one is left, too few for the series' own choice
    # (MIN_SERIES_ERRORS = 3): the area's pooled choice, rw
    bad = {(2010, 2012), (2011, 2012)}
    by = {m: rows(v, nan_at=bad) for m, v in zip(MODES, (3.0, 0.5, 1.0, 2.0), strict=True)}
    assert choose_modes(by, 2012, ["a"]) == {"a": ("rw", "pooled")}


def test_years_never_published_do_not_count() -> None:
    # 2012 and 2013 were never published: at 2014 the known rows are (2010, 2011),
    # (2012, 2014) and (2013, 2014), exactly MIN_SERIES_ERRORS = 3: the series decides itself
    gone = {2012, 2013}
    by = {m: rows(v, missing_years=gone) for m, v in zip(MODES, (3.0, 2.0, 0.5, 1.0),
                                                           strict=True)}
    assert choose_modes(by, 2014, ["a"]) == {"a": ("skill", "series")}
    # at 2013 only (2010, 2011) is known: too few for the series, so the pooled choice
    assert choose_modes(by, 2013, ["a"]) == {"a": ("skill", "pooled")}


def test_the_pooled_choice_skips_a_mode_that_failed_on_a_series() -> None:
    # series b has enough errors of its own; series c (asked at 2014) has none known. ar1 is
    # the best on b where it forecast, but its forecasts for b failed at (2012, 2013): the
    # area's pooled choice (for c) must be the best mode that made all of b's: run (0.5)
    by = {}
    for m, v in zip(MODES, (0.1, 2.0, 1.0, 0.5), strict=True):
        fails = {(2012, 2013)} if m == "ar1" else set()
        by[m] = pd.concat([rows(v, "b", nan_at=fails), rows(v, "c").query("origin >= 2014")],
                          ignore_index=True)
    chosen = choose_modes(by, 2014, ["b", "c"])
    assert chosen == {"b": ("run", "series"), "c": ("run", "pooled")}


def test_no_mode_made_every_forecast_falls_back_not_to_nan() -> None:
    by = modes(ar1=1.0, rw=1.0, skill=1.0, run=1.0)
    for k, m in enumerate(MODES):  # each mode failed on a different known forecast
        by[m] = rows(1.0, nan_at={KNOWN_2014[k]})
    assert choose_modes(by, 2014, ["a"]) == {"a": ("ar1", "fallback")}


def test_a_row_without_an_interval_has_no_ratio() -> None:
    # observed 101 against forecast 100 with upper bound 102: on the log scale the ratio is
    # log(1.01) / log(1.02); a NaN forecast, bound or observed value gives no ratio
    frame = pd.DataFrame({"observed": [101.0, 101.0, 101.0, math.nan],
                          "forecast": [100.0, math.nan, 100.0, 100.0],
                          "lower": [98.0, 98.0, 98.0, 98.0],
                          "upper": [102.0, 102.0, math.nan, 102.0]})
    r = interval_ratios(frame)
    assert r[0] == pytest.approx(math.log(1.01) / math.log(1.02), rel=1e-12)
    assert np.isnan(r[1:]).all()
    # a zero-width interval that the value is outside of is a miss (infinite), not unknown
    flat = pd.DataFrame({"observed": [101.0], "forecast": [100.0], "lower": [100.0],
                         "upper": [100.0]})
    assert interval_ratios(flat)[0] == math.inf


def test_failed_forecasts_do_not_widen_the_intervals() -> None:
    # 12 intervals that each held with ratio 0.8, and 6 failed forecasts (NaN): the factor is
    # 0.8 from the twelve; counted as misses (infinite ratios) it would be the upper bound 5
    ratios = np.r_[np.full(12, 0.8), np.full(6, np.nan)]
    assert interval_factor(ratios, min_n=10) == pytest.approx(0.8)
    assert interval_factor(np.r_[np.full(8, 0.8), np.full(6, np.nan)], min_n=10) == 1.0
    assert FACTOR_BOUNDS[1] == 5.0


def test_nested_intervals_are_recalibrated_from_the_forecasts_that_were_made() -> None:
    # every mode forecasts 101.6 within +-2 for an observed 100: below the forecast, so the
    # log-scale ratio is log(101.6 / 100) / log(101.6 / 99.6);
    # except that the ar1 forecasts from 2010 and 2011 failed; from 2014 the series' own
    # choice is rw (tied modes: the earlier candidate that made every forecast)
    by = {m: rows(1.6) for m in MODES}
    fails = {(o, o + h) for o in (2010, 2011) for h in (1, 2)}
    by["ar1"] = rows(1.6, nan_at=fails)
    nf = nested_forecasts(by, min_calibration=3)
    # at 2014 the known nested forecasts are those made at 2010 (the fallback, ar1: failed,
    # no ratio) and the rw ones of 2011-2013 (five, each with the ratio above)
    late = nf[nf["origin"] >= 2014]
    assert set(late["mode"]) == {"rw"}
    want = math.log(101.6 / 100) / math.log(101.6 / 99.6)
    assert late["interval_factor"].to_numpy() == pytest.approx(
        np.clip(want, *FACTOR_BOUNDS), rel=1e-12)
    assert np.isfinite(late[["lower", "upper"]].to_numpy()).all()
