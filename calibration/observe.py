"""Observation operators: how each published series is computed from a model run.

A run is the DataFrame from `Model.run(...)`: indexed by model time in months (time 0 = the
model's start date, 1 April 2005 for the bundled models), one column per Vensim variable.
Flows in the models are per month, stocks are levels. Each canonical role has one operator:

- a stock at a date (children_in_need, cp_plans, awaiting_assessment, social_workers_fte,
  agency_fte): the run's value at the date the figure refers to, interpolated between saved
  points;
- a flow over a period (referrals, assessments, s47_enquiries): the integral of the monthly rate
  over the period, i.e. the sum over the 12 months to 31 March for DfE years. The integral is the
  left Riemann sum over the saved points, which is exactly what Euler integration adds to a
  stock when the run is saved at its TIME STEP (`saveper=time_step`); with `saveper=1` it is a
  monthly rectangle rule;
- ratios, as DfE defines them: re_referral_rate = re-referrals / referrals (both summed over the
  year), turnover_rate = leavers over the year / FTE in post at the date, vacancy_rate =
  vacancies / (vacancies + FTE), agency_rate = agency / (agency + FTE), caseload = cases /
  case-holding FTE. They are computed from the components when the model names them (the
  `components` argument, e.g. `{"leavers": "Leaving"}`); otherwise from the variable the
  catalogue maps to the role: its value at the date for point ratios, its mean over the period
  for period ratios. Percentages: published rates are in %, model rates are fractions unless
  their units say `%` or `percent`, so fractions are multiplied by 100.

`observe_batch` does the same for the xarray Dataset of `Model.run_batch` (run x time).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from carespiral.errors import CarespiralError, UnknownNameError

__all__ = ["OPERATORS", "Operator", "date_to_model_time", "observable", "observe",
           "observe_batch"]

DEFAULT_START = dt.date(2005, 4, 1)


@dataclass(frozen=True)
class Operator:
    """How one canonical series is observed in a run.

    how: `point` (value at the date), `sum` (integral over the period) or `mean` (average
    over the period). percent: the published series is a percentage. components: names of the
    model quantities the DfE definition uses; `ratio` combines them (values at the date for
    point quantities, integrals for flows, as listed in `flows`).
    """

    role: str
    how: Literal["point", "sum", "mean"]
    description: str
    percent: bool = False
    components: tuple[str, ...] = ()
    flows: tuple[str, ...] = ()
    ratio: Callable[..., np.ndarray] | None = None


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a / b, missing where b is zero (no staff, no referrals: the ratio is undefined)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    safe = np.where(b != 0, b, 1.0)
    return np.where(b != 0, a / safe, np.nan)


def _share(part: np.ndarray, rest: np.ndarray) -> np.ndarray:
    return _div(part, np.asarray(part) + np.asarray(rest))


OPERATORS: dict[str, Operator] = {o.role: o for o in (
    Operator("referrals", "sum", "referrals per month summed over the period"),
    Operator("assessments", "sum", "assessments completed per month summed over the period"),
    Operator("s47_enquiries", "sum", "section 47 enquiries per month summed over the period"),
    Operator("children_in_need", "point", "children in need at the date"),
    Operator("awaiting_assessment", "point", "children awaiting assessment at the date"),
    Operator("cp_plans", "point", "children on a child protection plan at the date"),
    Operator("social_workers_fte", "point", "FTE social workers in post at the date"),
    Operator("agency_fte", "point", "agency FTE at the date"),
    Operator("caseload", "point", "cases / case-holding FTE at the date",
             components=("cases", "case_holders_fte"), ratio=_div),
    Operator("re_referral_rate", "mean", "re-referrals / referrals over the period, %",
             percent=True, components=("re_referrals", "referrals"),
             flows=("re_referrals", "referrals"), ratio=_div),
    Operator("turnover_rate", "mean", "leavers over the period / FTE in post at the date, %",
             percent=True, components=("leavers", "social_workers_fte"), flows=("leavers",),
             ratio=_div),
    Operator("vacancy_rate", "point", "vacancies / (vacancies + FTE in post) at the date, %",
             percent=True, components=("vacancies", "social_workers_fte"), ratio=_share),
    Operator("agency_rate", "point", "agency FTE / (agency + FTE in post) at the date, %",
             percent=True, components=("agency_fte", "social_workers_fte"), ratio=_share),
)}


def date_to_model_time(date: Any, start: dt.date | str = DEFAULT_START) -> float:
    """Model time (months since `start`) at the END of `date`'s day.

    31 March 2023 -> 216.0 and 30 September 2023 -> 222.0 for a start of 1 April 2005, so the
    reference dates of published figures fall on whole months.
    """
    d = pd.Timestamp(date).normalize() + pd.Timedelta(days=1)
    s = pd.Timestamp(start)
    whole = (d.year - s.year) * 12 + (d.month - s.month)
    first = s + pd.DateOffset(months=whole)
    if first > d:
        whole -= 1
        first = s + pd.DateOffset(months=whole)
    nxt = s + pd.DateOffset(months=whole + 1)
    return whole + (d - first) / (nxt - first)


def _period_start_time(date: Any, start: dt.date | str) -> float:
    """Model time at the START of `date`'s day."""
    return date_to_model_time(pd.Timestamp(date) - pd.Timedelta(days=1), start)


def _interp(t: np.ndarray, f: np.ndarray, x: float) -> np.ndarray:
    """Linear interpolation of each row of `f` (runs x time) at time `x`."""
    i = int(np.clip(np.searchsorted(t, x, side="right") - 1, 0, len(t) - 2))
    w = (x - t[i]) / (t[i + 1] - t[i])
    return (1 - w) * f[:, i] + w * f[:, i + 1]


class _Run:
    """Runs' columns as functions of time: values at a time, integrals and means over spans.

    Holds one or many runs (runs x time arrays), so one run and a batch share the arithmetic.
    """

    def __init__(self, t: np.ndarray, columns: Mapping[str, np.ndarray], method: str) -> None:
        t = np.asarray(t, dtype=float)
        if t.size == 0:
            raise CarespiralError("the run is empty")
        if len(t) > 1 and np.any(np.diff(t) <= 0):
            raise CarespiralError("the run's time index must be increasing")
        if method not in ("left", "trapezoid"):
            raise CarespiralError(f"method {method!r}: expected 'left' or 'trapezoid'")
        self.t, self.columns, self.method = t, columns, method
        self._cum: dict[str, np.ndarray] = {}

    @classmethod
    def from_frame(cls, run: pd.DataFrame, method: str) -> _Run:
        if not isinstance(run, pd.DataFrame) or run.empty:
            raise CarespiralError("a run must be a non-empty DataFrame from Model.run()")
        return cls(np.asarray(run.index, dtype=float), _FrameColumns(run), method)

    def column(self, name: str) -> np.ndarray:
        if name not in self.columns:
            raise UnknownNameError("run column", name, [str(c) for c in self.columns],
                                   hint="Run the model with this variable among its outputs.")
        return np.atleast_2d(np.asarray(self.columns[name], dtype=float))

    def _outside(self, t0: float, t1: float) -> bool:
        return t0 < self.t[0] - 1e-9 or t1 > self.t[-1] + 1e-9

    def at(self, name: str, time: float) -> np.ndarray:
        f = self.column(name)
        if self._outside(time, time):
            return np.full(f.shape[0], np.nan)
        return f[:, 0] if len(self.t) == 1 else _interp(self.t, f, time)

    def integral(self, name: str, t0: float, t1: float) -> np.ndarray:
        """Integral of a per-month rate from t0 to t1 (months), for each run."""
        f = self.column(name)
        if self._outside(t0, t1) or len(self.t) < 2:
            return np.full(f.shape[0], np.nan)
        if name not in self._cum:
            h = np.diff(self.t)
            seg = f[:, :-1] * h if self.method == "left" else 0.5 * (f[:, :-1] + f[:, 1:]) * h
            self._cum[name] = np.concatenate([np.zeros((f.shape[0], 1)),
                                              np.cumsum(seg, axis=1)], axis=1)
        cum = self._cum[name]
        # The left rule holds the rate constant over each step, so the cumulative sum is
        # piecewise linear in time and linear interpolation is exact between saved points.
        return _interp(self.t, cum, t1) - _interp(self.t, cum, t0)

    def mean(self, name: str, t0: float, t1: float) -> np.ndarray:
        return self.integral(name, t0, t1) / (t1 - t0) if t1 > t0 else self.at(name, t1)


class _FrameColumns(Mapping):
    """A DataFrame's columns as (1 x time) arrays, read on demand."""

    def __init__(self, run: pd.DataFrame) -> None:
        self.run = run

    def __getitem__(self, name: str) -> np.ndarray:
        return np.asarray(self.run[name], dtype=float)[None, :]

    def __iter__(self):
        return iter(self.run.columns)

    def __len__(self) -> int:
        return len(self.run.columns)


def _model_info(model: Any) -> tuple[dict[str, str], dict[str, str], dt.date | str]:
    """(role -> Vensim name, Vensim name -> units, start date) from a Model, name or mapping."""
    if isinstance(model, str):
        from carespiral.pysd_runner import load

        model = load(model)
    if isinstance(model, Mapping):
        return dict(model), {}, DEFAULT_START
    roles = dict(getattr(model, "outputs", {}) or {})
    units = {v.name: v.units for v in getattr(model, "variables", [])}
    start = getattr(model, "start_date", None) or DEFAULT_START
    return roles, units, start


def observable(model: Any, components: Mapping[str, str] | None = None) -> list[str]:
    """The canonical series a model can be compared with (its roles that have an operator)."""
    roles, _, _ = _model_info(model)
    comp = {**roles, **(components or {})}
    return [r for r, op in OPERATORS.items()
            if r in roles or (op.components and all(c in comp for c in op.components))]


def observe(
    run: pd.DataFrame,
    area_series: pd.DataFrame,
    model: Any,
    components: Mapping[str, str] | None = None,
    units: Mapping[str, str] | None = None,
    method: Literal["left", "trapezoid"] = "left",
) -> pd.DataFrame:
    """Model values aligned with published rows: the same series, periods and units.

    run: a DataFrame from `Model.run`. area_series: rows of the tidy data table (any areas,
    series that are canonical roles). model: a Model, a catalogue name, or a mapping role ->
    Vensim name. components: extra Vensim names for the parts of a ratio (`re_referrals`,
    `leavers`, `vacancies`, `cases`, `case_holders_fte`, ...), used in preference to the
    role's own variable. units: Vensim name -> units, overriding the model's (decides whether a
    rate is a fraction or a %).

    Returns a copy of `area_series` with columns `time` (model months at `date`) and `model`
    (the observed model value; NaN where the run does not cover the period).
    """
    roles, model_units, start = _model_info(model)
    model_units.update(units or {})
    comp = {**roles, **(components or {})}
    _check_observable(area_series, roles, components)
    r = _Run.from_frame(run, method)
    out = area_series.copy()
    times, values = _observe_rows(r, out, comp, roles, model_units, start)
    out["time"] = times
    out["model"] = values[:, 0] if len(out) else np.array([], dtype=float)
    return out


def observe_batch(
    runs: Any,
    area_series: pd.DataFrame,
    model: Any,
    components: Mapping[str, str] | None = None,
    units: Mapping[str, str] | None = None,
    method: Literal["left", "trapezoid"] = "left",
) -> pd.DataFrame:
    """`observe` for many runs at once: the xarray Dataset of `Model.run_batch` (dims run x
    time, one variable per Vensim name). Returns one row per published row (same index) and
    one column per run (the Dataset's run labels)."""
    roles, model_units, start = _model_info(model)
    model_units.update(units or {})
    comp = {**roles, **(components or {})}
    _check_observable(area_series, roles, components)
    if "time" not in getattr(runs, "dims", {}) or "run" not in getattr(runs, "dims", {}):
        raise CarespiralError("runs must be the xarray Dataset of Model.run_batch (run x time)")
    columns = {str(k): runs[k].transpose("run", "time").values for k in runs.data_vars}
    r = _Run(np.asarray(runs["time"].values, dtype=float), columns, method)
    _, values = _observe_rows(r, area_series, comp, roles, model_units, start)
    return pd.DataFrame(values.reshape(len(area_series), -1), index=area_series.index,
                        columns=pd.Index(runs["run"].values, name="run"))


def _check_observable(area_series: pd.DataFrame, roles: Mapping[str, str],
                      components: Mapping[str, str] | None) -> None:
    can = observable(roles, components)
    unknown = sorted(set(area_series["series"]) - set(can))
    if unknown:
        raise UnknownNameError(
            "observable series", unknown[0], can,
            hint=f"This model can be compared with: {', '.join(can) or 'nothing'}. "
                 "Map more roles in the catalogue or pass components=.",
        )


def _observe_rows(r: _Run, rows: pd.DataFrame, comp: Mapping[str, str],
                  roles: Mapping[str, str], units: Mapping[str, str], start: Any,
                  ) -> tuple[list[float], np.ndarray]:
    """Model times of the rows' dates and their observed values (rows x runs)."""
    times, values = [], []
    for row in rows.itertuples(index=False):
        op = OPERATORS[row.series]
        t1 = date_to_model_time(row.period_end, start)
        t0 = _period_start_time(row.period_start, start)
        times.append(date_to_model_time(row.date, start))
        values.append(_apply(op, r, comp, roles, units, t0, t1))
    return times, np.array(values, dtype=float).reshape(len(values), -1)


def _is_percent(units: str) -> bool:
    u = units.lower()
    return "%" in u or "percent" in u


def _apply(op: Operator, r: _Run, comp: Mapping[str, str], roles: Mapping[str, str],
           units: Mapping[str, str], t0: float, t1: float) -> np.ndarray:
    if op.components and all(c in comp for c in op.components):
        parts = [r.integral(comp[c], t0, t1) if c in op.flows else r.at(comp[c], t1)
                 for c in op.components]
        assert op.ratio is not None
        v = op.ratio(*parts)
        return 100.0 * v if op.percent else v
    var = roles[op.role]
    if op.how == "sum":
        v = r.integral(var, t0, t1)
    elif op.how == "mean":
        v = r.mean(var, t0, t1)
    else:
        v = r.at(var, t1)
    if op.percent and not _is_percent(units.get(var, "")):
        v *= 100.0
    return v
