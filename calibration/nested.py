"""Nested choice of the forecast mode: at each origin, the mode whose earlier forecasts did best.

A rolling-origin backtest makes forecasts at origins t_1 < t_2 < ... under every forecast mode
of `errors_model.forecast_errors` from the same fits (`rolling.forecasts_under`). At origin t
the forecasts of an earlier origin o < t whose target year is at most t have been published by
t (a fit up to t sees year t): their scaled errors are known. The nested forecast at t uses,
per series, the candidate mode with the smallest mean scaled error over those known forecasts,
so the choice never looks at a year after its origin. The rule was fixed before any nested
forecast was scored:

1. Candidates: `CANDIDATES` (model-based modes only, unless the caller adds a naive rule).
2. A series with at least `MIN_SERIES_ERRORS` known scaled errors takes the mode with the
   smallest mean of them; ties go to the earlier candidate in the list.
3. Otherwise the mode with the smallest mean over the area's series (each series' mean scaled
   error, averaged over the series with any known errors, so every series counts once).
4. With no known error at all (the first origins): `FALLBACK` (`ar1`).

Modes are compared on the same forecasts (matched on area, origin, series and year): a known
forecast that one mode gave as NaN (a failed run, a residual it could not carry over) while
another gave a number counts against that mode, which is then not chosen by that series' errors
(nor by the pooled ones); a forecast no mode made is left out, as are years with no published
value. So a mode is never chosen on NaN errors nor for having made fewer forecasts.

Interval recalibration, the same nested way: for a forecast c with 95% interval [l, u] and an
observed value y, the ratio r = |y - c| / (u - c) (y above c) or (c - l) (y below), on the log
scale when all are positive, is at most 1 exactly when y is inside. At origin t the interval
half-widths of every forecast are multiplied by k_t, the 95% quantile of the known ratios of
the nested forecasts made at earlier origins (as chosen then, before their own recalibration;
pooled over the area's series; y is inside the new interval iff r <= k_t), when there are at
least `MIN_CALIBRATION` of them, within `FACTOR_BOUNDS`; otherwise k_t = 1 and the intervals
are left as the mode made them. The ratios are those of the forecasts as they were made, not
of the mode chosen now: that mode was chosen for its small past errors, so its own past
ratios are too small (with equally good modes, recalibrating on them held 92% instead of 95%
in the seeded test).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from carespiral.errors import CarespiralError

__all__ = [
    "CANDIDATES",
    "FACTOR_BOUNDS",
    "FALLBACK",
    "MIN_CALIBRATION",
    "MIN_SERIES_ERRORS",
    "choose_modes",
    "interval_factor",
    "interval_ratios",
    "known_rows",
    "naive_candidate",
    "nested_forecasts",
    "widen",
]

CANDIDATES = ("ar1", "rw", "skill", "run")
FALLBACK = "ar1"
MIN_SERIES_ERRORS = 3
MIN_CALIBRATION = 10
FACTOR_BOUNDS = (0.5, 5.0)
LEVEL = 0.95
_KEYS = ("area", "origin", "series", "year")  # what makes a forecast one forecast


def _scored(f: pd.DataFrame) -> pd.DataFrame:
    """Rows with an observed value and a MASE scale (the rows a backtest scores)."""
    ok = np.isfinite(f["scale"].to_numpy(dtype=float)) & f["observed"].notna().to_numpy()
    return f[ok]


def known_rows(rows: pd.DataFrame, origin: int) -> pd.DataFrame:
    """The scored forecasts whose errors are known at `origin`: made at an earlier origin, for
    a year no later than it."""
    r = _scored(rows)
    return r[(r["origin"].astype(int) < int(origin)) & (r["year"].astype(int) <= int(origin))]


def _scaled_errors(rows: pd.DataFrame) -> pd.Series:
    return (rows["forecast"] - rows["observed"]).abs() / rows["scale"]


def _check_candidates(by_mode: Mapping[str, pd.DataFrame], candidates: Sequence[str]) -> None:
    missing = [m for m in candidates if m not in by_mode]
    if not candidates or missing:
        raise CarespiralError(
            "nested choice: no forecasts under candidate mode(s) "
            f"{', '.join(missing) or '(none given)'}; give `by_mode` the forecast rows of every "
            f"candidate ({', '.join(candidates) or 'e.g. ' + ', '.join(CANDIDATES)}), e.g. from "
            "`rolling.forecasts_under`")


def _known_errors(by_mode: Mapping[str, pd.DataFrame], origin: int,
                  candidates: Sequence[str]) -> pd.DataFrame:
    """The scaled errors known at `origin`: one row per forecast (indexed by its series), one
    column per candidate mode; the modes' rows are matched on area, origin, series and year. A forecast a mode did not make, or
    made as a value that is not a number (a failed run, a missing residual), is NaN in that
    mode's column; forecasts no candidate made are left out (they tell the modes nothing)."""
    cols = {}
    for m in candidates:
        k = known_rows(by_mode[m], origin)
        keys = [c for c in _KEYS if c in k]
        e = _scaled_errors(k).to_numpy(dtype=float)
        index = pd.MultiIndex.from_frame(k[keys].astype(str))
        if index.has_duplicates:
            raise CarespiralError(f"nested choice: mode {m} has more than one forecast for the "
                                  f"same {', '.join(keys)}")
        cols[m] = pd.Series(np.where(np.isfinite(e), e, np.nan), index=index)
    table = pd.concat(cols, axis=1) if cols else pd.DataFrame()
    table = table[table.notna().any(axis=1)]
    table.index = table.index.get_level_values("series")  # the keys served their purpose
    return table


def _mean_if_all(values: pd.Series) -> float:
    """The mean of a mode's known errors, or infinity when any of them is missing: a mode is
    judged on every forecast the candidates made, never on the ones it happened to make."""
    v = values.to_numpy(dtype=float)
    return float(v.mean()) if len(v) and np.isfinite(v).all() else np.inf


def _best(scores: Mapping[str, float], candidates: Sequence[str]) -> str | None:
    """The candidate with the smallest finite score (ties: the earlier one); None if none."""
    finite = [m for m in candidates if np.isfinite(scores[m])]
    return min(finite, key=lambda m: scores[m]) if finite else None


def choose_modes(by_mode: Mapping[str, pd.DataFrame], origin: int, series: Sequence[str],
                 candidates: Sequence[str] = CANDIDATES, fallback: str = FALLBACK,
                 min_series: int = MIN_SERIES_ERRORS) -> dict[str, tuple[str, str]]:
    """series -> (mode, basis) for forecasts made at `origin` by one area. basis: `series`
    (its own known errors), `pooled` (the area's) or `fallback` (none known).

    Modes are compared on the same forecasts: a known forecast that a mode lacks or gave as a
    value that is not a number (while another mode gave a number) counts against it, so such a
    mode is not chosen on that series (nor pooled, when the series is pooled); a forecast no
    mode could make is left out. A series where no mode made every known forecast is decided
    by the pooled choice, and the area's by the fallback when no mode made all of them."""
    _check_candidates(by_mode, candidates)
    table = _known_errors(by_mode, origin, candidates)
    groups = {name: table.loc[[name]] for name in dict.fromkeys(table.index)}
    per_series = {name: {m: _mean_if_all(g[m]) for m in candidates}
                  for name, g in groups.items()}
    pooled = {m: (float(np.mean([v[m] for v in per_series.values()])) if per_series
                  else np.inf) for m in candidates}
    pooled_best = _best(pooled, candidates)
    out = {}
    for name in series:
        own = per_series.get(name)
        best = _best(own, candidates) if own is not None else None
        if best is not None and len(groups[name]) >= min_series:
            out[name] = (best, "series")
        elif pooled_best is not None:
            out[name] = (pooled_best, "pooled")
        else:
            out[name] = (fallback, "fallback")
    return out


def _log_ok(*cols: np.ndarray) -> np.ndarray:
    ok = np.ones(len(cols[0]), dtype=bool)
    for c in cols:
        ok &= np.isfinite(c) & (c > 0)
    return ok


def interval_ratios(rows: pd.DataFrame) -> np.ndarray:
    """|y - c| over the interval's half-width on y's side (log scale where all are positive):
    y is inside the interval exactly when the ratio is at most 1. A row whose observed value,
    forecast or bounds are not all numbers has no ratio (NaN: whether y is inside is not
    known), and `interval_factor` leaves it out; an interval of no width on y's side that y
    is not on has an infinite ratio (a miss)."""
    y, c, lo, hi = (rows[k].to_numpy(dtype=float) for k in ("observed", "forecast", "lower",
                                                            "upper"))
    lg = _log_ok(y, c, lo, hi)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = [np.where(lg, np.log(np.where(lg, v, 1.0)), v) for v in (y, c, lo, hi)]
        d = t[0] - t[1]
        half = np.where(d >= 0, t[3] - t[1], t[1] - t[2])
        r = np.where(d == 0, 0.0, np.abs(d) / np.maximum(half, 0.0))
    known = np.isfinite(y) & np.isfinite(c) & np.isfinite(lo) & np.isfinite(hi)
    return np.where(known, r, np.nan)


def interval_factor(ratios: np.ndarray, min_n: int = MIN_CALIBRATION,
                    bounds: tuple[float, float] = FACTOR_BOUNDS, level: float = LEVEL) -> float:
    """The factor on interval half-widths that would have held `level` of the known ratios
    (the least ratio with at least that share at or below it), within `bounds`; 1 with fewer
    than `min_n`. NaN ratios (rows with no interval to judge) are left out and do not count
    towards `min_n`."""
    r = np.asarray(ratios, dtype=float)
    r = r[~np.isnan(r)]
    if len(r) < min_n:
        return 1.0
    q = float(np.quantile(r, level, method="inverted_cdf"))  # least r holding `level`
    return float(np.clip(q, *bounds))


def widen(rows: pd.DataFrame, factor: float) -> pd.DataFrame:
    """`rows` with each interval's half-widths around the forecast times `factor` (on the log
    scale where forecast and bounds are positive); a factor of 1 leaves them as they are."""
    if factor == 1.0:
        return rows
    out = rows.copy()
    c, lo, hi = (rows[k].to_numpy(dtype=float) for k in ("forecast", "lower", "upper"))
    lg = _log_ok(c, lo, hi)
    with np.errstate(divide="ignore", invalid="ignore"):
        lc = np.log(np.where(lg, c, 1.0))
        new_lo = np.where(lg, np.exp(lc - factor * np.maximum(lc - np.log(np.where(lg, lo, 1.0)),
                                                              0.0)),
                          c - factor * np.maximum(c - lo, 0.0))
        new_hi = np.where(lg, np.exp(lc + factor * np.maximum(np.log(np.where(lg, hi, 1.0)) - lc,
                                                              0.0)),
                          c + factor * np.maximum(hi - c, 0.0))
    out["lower"], out["upper"] = new_lo, new_hi
    return out


def naive_candidate(rows: pd.DataFrame, rule: str = "persistence") -> pd.DataFrame:
    """A naive rule as a candidate for forecast combination: its forecast, with the interval of
    `rows` (a model-based mode's) moved by the same amount so that it is centred on it."""
    out = rows.copy()
    shift = rows[rule] - rows["forecast"]
    out["forecast"] = rows[rule]
    out["lower"] = rows["lower"] + shift
    out["upper"] = rows["upper"] + shift
    return out


def nested_forecasts(by_mode: Mapping[str, pd.DataFrame], origins: Sequence[int] | None = None,
                     candidates: Sequence[str] = CANDIDATES, fallback: str = FALLBACK,
                     recalibrate: bool = True, min_series: int = MIN_SERIES_ERRORS,
                     min_calibration: int = MIN_CALIBRATION) -> pd.DataFrame:
    """The nested forecasts: at each origin (of `origins`, default all) and for each area and
    series, the rows of the mode chosen from earlier origins' known errors (`choose_modes`),
    with intervals recalibrated by `interval_factor` of the chosen modes' known ratios.

    `by_mode[m]` holds the forecast rows of mode m (area, origin, series, year, observed,
    forecast, lower, upper, scale, ...), the same fits under each mode. Adds columns `mode`,
    `basis` and `interval_factor`. Origins not in `origins` still inform later choices (warm-up
    origins, fitted for this and not scored).
    """
    _check_candidates(by_mode, candidates)
    base = by_mode[candidates[0]]
    if "area" not in base:
        by_mode = {m: f.assign(area="") for m, f in by_mode.items()}
        base = by_mode[candidates[0]]
    wanted = None if origins is None else set(int(o) for o in origins)
    parts = []
    for area in base["area"].unique():
        area_modes = {m: by_mode[m][by_mode[m]["area"] == area] for m in candidates}
        first = area_modes[candidates[0]]
        made = []  # the nested forecasts as chosen, before recalibration, origin by origin
        for origin in sorted(set(first["origin"].astype(int))):
            here = first[first["origin"].astype(int) == origin]
            names = list(dict.fromkeys(here["series"]))
            chosen = choose_modes(area_modes, origin, names, candidates, fallback, min_series)
            block = pd.concat(
                [area_modes[mode][(area_modes[mode]["origin"].astype(int) == origin)
                                  & (area_modes[mode]["series"] == name)]
                 .assign(mode=mode, basis=basis) for name, (mode, basis) in chosen.items()],
                ignore_index=True)
            factor = 1.0
            if recalibrate and made:
                factor = interval_factor(
                    interval_ratios(known_rows(pd.concat(made, ignore_index=True), origin)),
                    min_calibration)
            made.append(block)
            if wanted is None or origin in wanted:
                parts.append(widen(block, factor).assign(interval_factor=factor))
    if not parts:
        return base.iloc[:0].assign(mode="", basis="", interval_factor=np.nan)
    return pd.concat(parts, ignore_index=True)
