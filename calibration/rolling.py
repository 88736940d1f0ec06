"""Rolling-origin backtests: fit at each origin, forecast the next years, score against naive rules.

    >>> from carespiral.calibration.rolling import rolling_backtest
    >>> bt = rolling_backtest("national", origins=range(2016, 2023), horizon=3)  # doctest: +SKIP
    >>> bt.scores            # MASE per series: model, its run alone, persistence, trend, mean
    >>> bt.save("backtest-national")

At each origin Y the spec is fitted to the years up to Y (`calibrate(..., fit_until=Y)`) and
forecasts the published values of years Y+1 to Y+horizon. Ex ante (the default) the forecast
knows only what was known at the origin: drivers after the last fitted figure are held (the
data layer's rule) and calendar events after it are left out (`build_problem`). Each forecast is
scored by its absolute error over the in-sample mean absolute one-step change at that origin
(the MASE scale), and so are three naive forecasts from the same fitted years: persistence,
the linear trend and the in-sample mean. Coverage is the share of published values inside the
95% predictive interval.

Any other way of fitting can be scored the same way: `forecast_rows(result, origin)` turns a
fit's forecasts into rows and `score_forecasts` (in `backtest`) averages them; `fit=` takes a
function `(spec, area, origin, horizon, data) -> result` with the tables of a
`CalibrationResult` (`fitted`: series, year, observed; `backtest`: series, year, observed,
forecast, lower, upper, optionally run).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from carespiral.calibration.backtest import add_naive_forecasts, mase_scale, score_forecasts
from carespiral.calibration.drivers import DEFAULT_AFTER
from carespiral.calibration.errors_model import FORECAST_MODES
from carespiral.calibration.spec import CalibrationSpec, read_spec
from carespiral.errors import CarespiralError
from carespiral.results import Result

__all__ = ["BACKTEST_MODES", "DEFAULT_BACKTEST_MODE", "WARMUP_YEARS", "BacktestResult", "Fit",
           "forecast_rows", "forecasts_in_mode", "forecasts_under", "parse_origins",
           "rolling_backtest", "series_known_by", "warmup_origins", "with_forecast_mode"]

Fit = Callable[..., Any]  # (spec, area, origin, horizon, data) -> a result with fitted/backtest

# `nested` (calibration.nested): at each origin, per series, the mode whose forecasts from
# earlier origins did best on the years known by then; intervals recalibrated the same way.
# The default of backtests: the rule was fixed before it was scored (docs/calibration.md).
BACKTEST_MODES = (*FORECAST_MODES, "nested")
DEFAULT_BACKTEST_MODE = "nested"
WARMUP_YEARS = 4  # origins fitted before the first scored one, to inform the nested choice


def parse_origins(text: str, option: str = "--origins") -> list[int]:
    """`2016:2022` (inclusive), `2016,2019,2022` or one year, as a sorted list of years;
    `option` names the command-line option in messages."""
    try:
        if ":" in text:
            a, b = (int(x) for x in text.split(":"))
            years = list(range(a, b + 1))
        else:
            years = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise CarespiralError(f"{option} {text!r}: expected FIRST:LAST (e.g. 2016:2022) or a "
                              "comma-separated list of years") from None
    if not years:
        raise CarespiralError(f"{option} {text!r}: no years (is FIRST after LAST?)")
    return sorted(set(years))


def forecast_rows(result: Any, origin: int, area: str = "") -> pd.DataFrame:
    """One fit's forecasts as rows: origin, horizon, the naive forecasts and the MASE scale."""
    bt = result.backtest
    if bt is None or not len(bt):
        return pd.DataFrame()
    fitted = result.fitted
    if not {"persistence", "trend", "mean"} <= set(bt.columns):
        bt = add_naive_forecasts(bt, fitted)
    scale = {name: mase_scale(g.sort_values("year")["observed"].to_numpy())
             for name, g in fitted.groupby("series")}
    keep = [c for c in ("series", "year", "date", "observed", "forecast", "run", "lower",
                        "upper", "persistence", "trend", "mean", "unit") if c in bt.columns]
    out = bt[keep].copy()
    out.insert(0, "origin", int(origin))
    out.insert(0, "area", area)
    out["horizon"] = out["year"].astype(int) - int(origin)
    out["scale"] = out["series"].map(scale).astype(float)
    return out


def forecasts_under(recorded: list[dict], mode: str, area: str = "", seed: int = 0
                    ) -> pd.DataFrame:
    """The forecast rows of recorded fits (`predict.recording()`, each entry tagged with its
    `origin`) made again under another forecast mode: the same fits and model runs, only the
    residual model after the origin differs."""
    from types import SimpleNamespace

    from carespiral.calibration.predict import forecast_table

    parts = []
    for e in recorded:
        if "origin" not in e:
            continue
        bt = forecast_table(e["train"], e["holdout"], e["at_best"], e["preds"], e["fits"],
                            np.random.default_rng(seed), mode)
        fitted = pd.concat([pd.DataFrame({"series": s.name, "year": s.years,
                                          "observed": s.values}) for s in e["train"]],
                           ignore_index=True)
        parts.append(forecast_rows(SimpleNamespace(backtest=bt, fitted=fitted), e["origin"],
                                   area))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def forecasts_in_mode(recorded: list[dict], mode: str, scored: Iterable[int], area: str = "",
                      seed: int = 0) -> pd.DataFrame:
    """The forecast rows of the scored origins under `mode`: one of `FORECAST_MODES`, or
    `nested` (every candidate of `calibration.nested` from all recorded origins, warm-up ones
    included, then the nested choice at each scored origin)."""
    from carespiral.calibration.nested import CANDIDATES, nested_forecasts

    scored = sorted(set(int(o) for o in scored))
    if mode != "nested":
        f = forecasts_under(recorded, mode, area, seed)
        return f[f["origin"].isin(scored)].reset_index(drop=True) if len(f) else f
    by_mode = {m: forecasts_under(recorded, m, area, seed) for m in CANDIDATES}
    if not len(by_mode[CANDIDATES[0]]):
        return by_mode[CANDIDATES[0]]
    return nested_forecasts(by_mode, origins=scored)


def with_forecast_mode(result: Any, recorded: list[dict], spec: CalibrationSpec, origin: int,
                       mode: str, area: str | None = None, *, data: pd.DataFrame | None = None,
                       method: str | None = None, seed: int = 0, budget: int | None = None,
                       ex_ante: bool = True, warmup: Iterable[int] | None = None,
                       progress: Callable[[int, float], None] | None = None) -> Any:
    """`result` (a fit up to `origin` whose forecast runs are `recorded`) with its held-out
    forecasts made under `mode` (`BACKTEST_MODES`). `nested`: the `warmup` origins (default
    `warmup_origins`) are fitted the same way, and at `origin` each series takes the mode whose
    warm-up forecasts did best on the years up to `origin` (`calibration.nested`), intervals
    recalibrated from their errors; `backtest` gains columns mode, basis and interval_factor.
    The fit itself is unchanged."""
    from dataclasses import replace as dc_replace

    from carespiral.calibration.backtest import summarise_backtest
    from carespiral.calibration.predict import DEFAULT_MODE, recording

    if mode not in BACKTEST_MODES:
        raise CarespiralError(f"forecast mode {mode!r}: expected one of "
                              f"{', '.join(BACKTEST_MODES)}")
    if result.backtest is None or not len(result.backtest) or mode == DEFAULT_MODE:
        return result  # the fit's own forecasts are the default mode's
    if not recorded:  # checked before any warm-up fit: nothing to make the forecasts from
        raise CarespiralError(
            f"forecast mode {mode!r} makes the fit's forecasts again from its model runs, and "
            "none were recorded: make the fit inside `with predict.recording() as rec:` and "
            "pass `rec`")
    if not isinstance(spec, CalibrationSpec):
        spec = read_spec(spec)
    # warm-up origins after this one would inform nothing (their years are not known yet)
    warm = [o for o in _warmup(mode, warmup, int(origin), spec.period[0], [int(origin)])
            if o < origin]
    fit = _default_fit(method, seed, budget, ex_ante, None, progress)
    # the warm-up fits forecast as far ahead as this one does
    horizon = int(result.backtest["year"].max()) - int(origin)
    mine = [dict(e, origin=int(origin)) for e in recorded]
    with recording() as rec:
        for o in warm:
            before = len(rec)
            try:
                spec_o, _ = series_known_by(spec, area, o, data)
                fit(spec_o, area, o, horizon, data)
            except CarespiralError:
                continue  # a warm-up origin that cannot be fitted informs nothing
            for e in rec[before:]:
                e.setdefault("origin", o)
    rows = forecasts_in_mode([*rec, *mine], mode, [origin], "", seed)
    keys = ["series", "year"]
    if "mode" not in rows:
        rows = rows.assign(mode=mode)
    new = rows.set_index(keys)[[c for c in ("forecast", "lower", "upper", "mode", "basis",
                                            "interval_factor") if c in rows]]
    bt = result.backtest.drop(columns=[c for c in new.columns if c in result.backtest])
    bt = bt.join(new, on=keys)
    return dc_replace(result, backtest=bt,
                      backtest_summary=summarise_backtest(bt, result.fitted))


def warmup_origins(first_origin: int, spec_first_year: int, years: int = WARMUP_YEARS
                   ) -> list[int]:
    """The origins before `first_origin` a nested backtest fits to inform its first choices:
    up to `years` of them, none before the spec's second year (a fit needs two years)."""
    return list(range(max(first_origin - years, spec_first_year + 1), first_origin))


def _warmup(mode: str, warmup: Iterable[int] | None, first_origin: int, first_year: int,
            scored: Iterable[int]) -> list[int]:
    """The warm-up origins a backtest in `mode` fits: none unless `nested`; `warmup` without
    the `scored` origins, or by default `warmup_origins`. Each must leave two fitted years."""
    if mode != "nested":
        return []
    if warmup is None:
        return warmup_origins(first_origin, first_year)
    warm = sorted(set(int(o) for o in warmup) - set(int(o) for o in scored))
    if warm and warm[0] < first_year + 1:
        raise CarespiralError(f"warm-up origin {warm[0]}: must be after the spec's first "
                              f"year {first_year} (at least two fitted years)")
    return warm


def series_known_by(spec: CalibrationSpec, area: str | None, origin: int,
                    data: pd.DataFrame | None = None) -> tuple[CalibrationSpec, list[str]]:
    """The spec without the series that have no published value in its period up to `origin`
    (a series that starts later, such as the workforce census from September 2017, cannot be
    fitted or scored there), and the names left out."""
    from dataclasses import replace

    from carespiral.calibration.engine import _area_data
    from carespiral.calibration.observations import observations_for
    from carespiral.errors import FileFormatError
    from carespiral.pysd_runner import load

    model = load(spec.model_ref)
    table, label = _area_data(area or spec.area or "", data)
    train = spec.with_period(spec.period[0], min(origin, spec.period[1]))
    keep, dropped = [], []
    for s in spec.series:
        try:
            observations_for(replace(train, series=(s,)), model, table, label)
            keep.append(s)
        except FileFormatError:
            dropped.append(s.name)
    if not keep:
        return spec, []  # nothing to fit: let the fit say why
    return replace(spec, series=tuple(keep)), dropped


def _default_fit(method, seed, budget, ex_ante, method_options, progress,
                 drivers_after: str = DEFAULT_AFTER) -> Fit:
    from carespiral.calibration.engine import calibrate

    def fit(spec, area, origin, horizon, data):
        return calibrate(spec, area=area, method=method, fit_until=origin, seed=seed,
                         budget=budget, profiles=False, data=data, progress=progress,
                         command="", method_options=method_options, horizon=horizon,
                         ex_ante=ex_ante, drivers_after=drivers_after)

    return fit


def rolling_backtest(
    spec: str | Path | CalibrationSpec,
    area: str | None = None,
    origins: Iterable[int] = range(2016, 2023),
    horizon: int = 3,
    *,
    data: pd.DataFrame | None = None,
    method: str | None = None,
    seed: int = 0,
    budget: int | None = None,
    ex_ante: bool = True,
    method_options: dict | None = None,
    fit: Fit | None = None,
    progress: Callable[[int, float], None] | None = None,
    on_origin: Callable[[int, Any], None] | None = None,
    command: str = "",
    mode: str | None = None,
    warmup: Iterable[int] | None = None,
    drivers_after: str = DEFAULT_AFTER,
) -> BacktestResult:
    """Fit `spec` at every origin and score its forecasts 1..horizon years ahead.

    mode: the forecast residual model (`BACKTEST_MODES`; default `DEFAULT_BACKTEST_MODE`, or
    with a `fit=` of your own its forecasts as they are, `ar1` for `calibrate`'s); `nested` also
    fits the `warmup` origins (default `warmup_origins`: up to four years before the first origin) whose
    forecasts are not scored but inform the choice at later origins. The fits are the same
    whatever the mode; only the forecasts after each origin differ.

    progress(runs, best): model runs so far over all origins (for a bar); on_origin(origin,
    result) after each fit. drivers_after: how ex-ante drivers go on after each origin
    (`calibration.drivers.AFTER_RULES`; default `national`). An origin with nothing to forecast
    (no published values after it) or a fit that fails is recorded in `fits` with the reason,
    not fatal. A series with no
    published value by an origin (it starts later) is left out there (`fits`: series_left_out).
    """
    if not isinstance(spec, CalibrationSpec):
        spec = read_spec(spec)
    if horizon < 1:
        raise CarespiralError(f"--horizon {horizon}: must be at least 1 year")
    from carespiral.calibration.predict import DEFAULT_MODE, recording

    if mode is None:
        mode = DEFAULT_BACKTEST_MODE if fit is None else DEFAULT_MODE
    if mode not in BACKTEST_MODES:
        raise CarespiralError(f"forecast mode {mode!r}: expected one of "
                              f"{', '.join(BACKTEST_MODES)}")
    origins = sorted(set(int(o) for o in origins))
    first = spec.period[0]
    if not origins or origins[0] < first + 1:
        raise CarespiralError(f"origins must be after the spec's first year {first} (at least "
                              "two fitted years), got "
                              + (", ".join(map(str, origins)) or "none"))
    warm = _warmup(mode, warmup, origins[0], first, origins)
    done = {"runs": 0}

    def counted(runs: int, best: float) -> None:
        if progress is not None:
            progress(done["runs"] + runs, best)

    fit = fit or _default_fit(method, seed, budget, ex_ante, method_options, counted,
                              drivers_after)
    rows, fits, label = [], [], area or spec.area or ""
    with recording() as rec:
        for origin in sorted(set(origins) | set(warm)):
            t0 = time.perf_counter()
            before = len(rec)
            try:
                spec_o, dropped = series_known_by(spec, area, origin, data)
                res = fit(spec_o, area, origin, horizon, data)
            except CarespiralError as exc:
                fits.append({"origin": origin, "status": "failed", "message": str(exc),
                             "seconds": time.perf_counter() - t0, "scored": origin in origins})
                continue
            for e in rec[before:]:
                e.setdefault("origin", origin)
            label = getattr(res, "area", label) or label
            diag = getattr(res, "diagnostics", {}) or {}
            done["runs"] += int(diag.get("runs", 0))
            part = forecast_rows(res, origin, label)
            if origin in origins:
                rows.append(part)
            fits.append({"origin": origin, "status": "ok", "converged": bool(res.converged),
                         "message": res.message, "runs": int(diag.get("runs", 0)),
                         "best_logpost": diag.get("best_logpost", float("nan")),
                         "forecasts": len(part), "seconds": time.perf_counter() - t0,
                         "series_left_out": ", ".join(dropped), "scored": origin in origins})
            if on_origin is not None:
                on_origin(origin, res)
    if mode != DEFAULT_MODE and rows:
        # the same fits, forecast under another residual model; each scored origin must have
        # recorded its model runs (a `fit=` that does not go through `calibrate` records none)
        scored_ok = {int(f["origin"]) for f in fits if f["status"] == "ok" and f["scored"]}
        recorded = {int(e["origin"]) for e in rec}
        if not scored_ok <= recorded:
            raise CarespiralError(f"forecast mode {mode!r} needs the model runs behind each "
                                  "forecast (fits made with `calibrate`); use --forecast-mode "
                                  f"{DEFAULT_MODE} with this fit")
        rows = [forecasts_in_mode(rec, mode, origins, label, seed)]
    forecasts = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["area", "origin", "series", "year", "observed", "forecast", "lower", "upper",
                 "persistence", "trend", "mean", "horizon", "scale"])
    if not len(forecasts):
        reasons = "; ".join(f"{f['origin']}: {f.get('message', '')}" for f in fits)
        raise CarespiralError(f"no origin gave a forecast to score ({reasons})")
    return BacktestResult(
        model=spec.model, spec=spec.name, area=label, origins=origins, horizon=horizon,
        ex_ante=ex_ante, method=method or spec.method, seed=seed,
        forecasts=forecasts, scores=score_forecasts(forecasts),
        by_horizon=score_forecasts(forecasts, by=("series", "horizon")),
        fits=pd.DataFrame(fits), mode=mode, warmup=warm,
        manifest={"command": command, "budget": budget, "mode": mode, "warmup": warm,
                  "drivers_after": drivers_after})


@dataclass
class BacktestResult(Result):
    """A rolling-origin backtest of one spec and area.

    forecasts: one row per origin, series and forecast year (observed, forecast, run, 95%
    interval, the naive forecasts, horizon, MASE scale). scores: per series, the number of
    forecasts, mean scaled errors of the model (`mase_model`: the statistical model's forecast;
    `mase_run`: the model run alone) and of persistence, trend and mean, and coverage.
    by_horizon: the same per series and horizon. fits: one row per origin fitted (status,
    convergence, runs, seconds; `scored` False for a warm-up origin). origins: the scored
    origins. mode: the forecast mode (`BACKTEST_MODES`; under `nested` the forecasts also have
    columns mode, basis and interval_factor). warmup: the nested mode's warm-up origins, fitted
    to inform the choice and not scored.
    """

    model: str
    spec: str
    area: str
    origins: list[int]
    horizon: int
    ex_ante: bool
    method: str
    seed: int
    forecasts: pd.DataFrame
    scores: pd.DataFrame
    by_horizon: pd.DataFrame
    fits: pd.DataFrame
    mode: str = "ar1"
    warmup: list[int] = field(default_factory=list)
    manifest: dict[str, Any] = field(default_factory=dict)

    kind: ClassVar[str] = "backtest"
    tables: ClassVar[dict[str, str]] = {"forecasts": "forecasts.csv", "scores": "scores.csv",
                                        "by_horizon": "scores_by_horizon.csv",
                                        "fits": "fits.csv"}

    def to_frame(self) -> pd.DataFrame:
        return self.scores.set_index("series")

    def overall(self) -> dict[str, float]:
        """Means over series of each MASE column (every series counts once), and coverage over
        all forecasts."""
        s = self.scores
        out = {c: float(s[c].mean()) for c in s.columns if c.startswith("mase_")}
        f = self.forecasts
        ok = f["observed"].notna() & np.isfinite(f["scale"].to_numpy(dtype=float))
        inside = (f.loc[ok, "observed"] >= f.loc[ok, "lower"]) & \
            (f.loc[ok, "observed"] <= f.loc[ok, "upper"])
        out["coverage"] = float(inside.mean()) if ok.any() else float("nan")
        out["forecasts"] = float(ok.sum())
        return out

    def summary(self) -> dict[str, Any]:
        return {"model": self.model, "spec": self.spec, "area": self.area,
                "origins": list(self.origins), "horizon": self.horizon,
                "ex_ante": self.ex_ante, "mode": self.mode, "overall": self.overall(),
                "mase": {r["series"]: {k: float(r[k]) for k in self.scores.columns
                                       if k.startswith("mase_")}
                         for _, r in self.scores.iterrows()}}

    def report(self) -> str:
        from carespiral.calibration.verdict import backtest_verdict

        lines = [backtest_verdict(self), "",
                 f"Rolling-origin backtest of {self.model} for {self.area} ({self.spec}): "
                 f"origins {', '.join(map(str, self.origins))}, forecasts 1-{self.horizon} "
                 f"years ahead, {'ex ante' if self.ex_ante else 'ex post'}, method "
                 f"{self.method}, seed {self.seed}, forecast mode {self.mode}"
                 + (f" (warm-up origins {', '.join(map(str, self.warmup))}, fitted to inform "
                    "the choice, not scored)" if self.warmup else ""), "",
                 "Mean absolute scaled error (below 1 beats the in-sample one-step change):",
                 f"  {'series':<22}{'n':>4}{'model':>8}{'run':>8}{'persist':>9}{'trend':>8}"
                 f"{'mean':>8}{'in 95%':>8}"]
        for _, r in self.scores.iterrows():
            lines.append(f"  {r['series']:<22}{int(r['n']):>4}{r['mase_model']:>8.2f}"
                         f"{r.get('mase_run', float('nan')):>8.2f}"
                         f"{r['mase_persistence']:>9.2f}{r['mase_trend']:>8.2f}"
                         f"{r['mase_mean']:>8.2f}{r['coverage']:>8.0%}")
        o = self.overall()
        lines.append(f"  {'mean over series':<26}{o['mase_model']:>8.2f}"
                     f"{o.get('mase_run', float('nan')):>8.2f}{o['mase_persistence']:>9.2f}"
                     f"{o['mase_trend']:>8.2f}{o['mase_mean']:>8.2f}{o['coverage']:>8.0%}")
        failed = self.fits[self.fits["status"] != "ok"] if "status" in self.fits else []
        if len(failed):
            lines += ["", "Origins without a forecast:"]
            lines += [f"  {int(r['origin'])}: {r['message']}" for _, r in failed.iterrows()]
        return "\n".join(lines) + "\n"
