"""Observation operators: how each published series is computed from a model run.

A run is the DataFrame from `Model.run(...)`: indexed by model time in months (time 0 = the
model's start date, 1 April 2005 for the bundled models), one column per Vensim variable.
Flows in the models are per month, stocks are levels. Each canonical role has one operator:

- a stock at a date (children_in_need, cp_plans, awaiting_assessment, social_workers_fte,
  agency_fte): the run's value at the date the figure refers to, interpolated between saved
  points;
- a flow over a period (referrals, assessments, s47_enquiries, cp_plans_started): the integral
  of the monthly rate over the period, i.e. the sum over the 12 months to 31 March for DfE
  years. The integral is the left Riemann sum over the saved points, which is exactly what
  Euler integration adds to a stock when the run is saved at its TIME STEP
  (`saveper=time_step`); with `saveper=1` it is a monthly rectangle rule;
- ratios, as DfE defines them: re_referral_rate = re-referrals / referrals (both summed over the
  year), turnover_rate = leavers over the year / FTE in post at the date, vacancy_rate =
  vacancies / (vacancies + FTE), agency_rate = agency / (agency + FTE), caseload = cases /
  case-holding FTE. They are computed from the components when the model names them (the
  `components` argument, e.g. `{"leavers": "Leaving"}`); otherwise from the variable the
  catalogue maps to the role: its value at the date for point ratios, its mean over the period
  for period ratios. Percentages: published rates are in %, model rates are fractions unless
  their units say `%` or `percent`, so fractions are multiplied by 100.

A series that is not a canonical role (a model outside the catalogue, a user's own series) is
observed from the variable `roles=` names for it, by its published kind: a flow summed over its
period, a rate or ratio over a year averaged over it, anything else read at the date
(`operator_for`).

`observe_batch` does the same for the xarray Dataset of `Model.run_batch` (run x time); it is
the one path by which calibration compares a model with published or synthetic figures. Dates
become model months through `carespiral.pysd_runner.calendar`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from carespiral.data.series import SERIES
from carespiral.errors import CarespiralError, UnknownNameError
from carespiral.pysd_runner.calendar import DEFAULT_START, reference_months

__all__ = ["OPERATORS", "Operator", "needed_variables", "observable", "observe",
           "observe_batch", "operator_for"]


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
    Operator("cp_plans_started", "sum",
             "child protection plans started per month summed over the period"),
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


def operator_for(series: str, kind: str = "stock", unit: str = "") -> Operator:
    """The operator of a series: the canonical one, else one from its published kind and span
    (a flow is summed over its period, a rate or ratio over a year averaged, the rest read at
    the date; a published percentage is a percentage)."""
    if series in OPERATORS:
        return OPERATORS[series]
    span = SERIES[series].span if series in SERIES else ("year" if kind == "flow" else "point")
    if kind == "flow":
        how: Literal["point", "sum", "mean"] = "sum"
    elif span == "year" and kind in ("rate", "ratio"):
        how = "mean"
    else:
        how = "point"
    return Operator(series, how, f"{series} ({how})", percent=str(unit).strip() == "%")


@dataclass(frozen=True)
class _Context:
    """What observing needs from a model: its roles, components, units and start date."""

    roles: dict[str, str]  # role -> Vensim name
    direct: frozenset[str]  # roles given explicitly: read from their variable, not components
    comp: dict[str, str]  # component (or role) -> Vensim name
    units: dict[str, str]
    start: Any


def _context(model: Any, components: Mapping[str, str] | None = None,
             units: Mapping[str, str] | None = None,
             roles: Mapping[str, str] | None = None) -> _Context:
    """The context from a Model, a catalogue name or a mapping role -> Vensim name."""
    if isinstance(model, str):
        from carespiral.pysd_runner import load

        model = load(model)
    if isinstance(model, Mapping):
        base, model_units, start = dict(model), {}, DEFAULT_START
    else:
        base = dict(getattr(model, "outputs", {}) or {})
        model_units = {v.name: v.units for v in getattr(model, "variables", [])}
        start = getattr(model, "start_date", None) or DEFAULT_START
    explicit = dict(roles or {})
    all_roles = {**base, **explicit}
    model_units.update(units or {})
    return _Context(all_roles, frozenset(explicit), {**all_roles, **(components or {})},
                    model_units, start)


def _observable(ctx: _Context) -> list[str]:
    canonical = [r for r, op in OPERATORS.items() if r in ctx.roles or (
        op.components and all(c in ctx.comp for c in op.components))]
    return canonical + sorted(ctx.direct - set(canonical))


def observable(model: Any, components: Mapping[str, str] | None = None,
               roles: Mapping[str, str] | None = None) -> list[str]:
    """The series a model can be compared with: its canonical roles that have an operator,
    and any series `roles` maps to a variable."""
    return _observable(_context(model, components, roles=roles))


def needed_variables(series: str, model: Any, components: Mapping[str, str] | None = None,
                     roles: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The model variables observing `series` reads (a ratio's components, or its variable)."""
    ctx = _context(model, components, roles=roles)
    op = OPERATORS.get(series)
    if op is not None and _from_components(op, ctx):
        return tuple(dict.fromkeys(ctx.comp[c] for c in op.components))
    if series not in ctx.roles:
        raise UnknownNameError("observable series", series, _observable(ctx))
    return (ctx.roles[series],)


def observe(
    run: pd.DataFrame,
    area_series: pd.DataFrame,
    model: Any,
    components: Mapping[str, str] | None = None,
    units: Mapping[str, str] | None = None,
    method: Literal["left", "trapezoid"] = "left",
    roles: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Model values aligned with published rows: the same series, periods and units.

    run: a DataFrame from `Model.run`. area_series: rows of the tidy data table (any areas;
    canonical series, or series that `roles` maps). model: a Model, a catalogue name, or a
    mapping role -> Vensim name. components: extra Vensim names for the parts of a ratio
    (`re_referrals`, `leavers`, `vacancies`, `cases`, `case_holders_fte`, ...), used in
    preference to the role's own variable. units: Vensim name -> units, overriding the model's
    (decides whether a rate is a fraction or a %). roles: series -> Vensim name, overriding the
    catalogue; such a series is read from that variable, never from components.

    Returns a copy of `area_series` with columns `time` (model months at `date`) and `model`
    (the observed model value; NaN where the run does not cover the period).
    """
    ctx = _context(model, components, units, roles)
    _check_observable(area_series, ctx)
    r = _Run.from_frame(run, method)
    out = area_series.copy()
    times, values = _observe_rows(r, out, ctx)
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
    roles: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """`observe` for many runs at once: the xarray Dataset of `Model.run_batch` (dims run x
    time, one variable per Vensim name). Returns one row per published row (same index) and
    one column per run (the Dataset's run labels)."""
    ctx = _context(model, components, units, roles)
    _check_observable(area_series, ctx)
    if "time" not in getattr(runs, "dims", {}) or "run" not in getattr(runs, "dims", {}):
        raise CarespiralError("runs must be the xarray Dataset of Model.run_batch (run x time)")
    columns = {str(k): runs[k].transpose("run", "time").values for k in runs.data_vars
               if set(runs[k].dims) == {"run", "time"}}
    r = _Run(np.asarray(runs["time"].values, dtype=float), columns, method)
    _, values = _observe_rows(r, area_series, ctx)
    return pd.DataFrame(values.reshape(len(area_series), -1), index=area_series.index,
                        columns=pd.Index(runs["run"].values, name="run"))


def _check_observable(area_series: pd.DataFrame, ctx: _Context) -> None:
    can = _observable(ctx)
    unknown = sorted(set(area_series["series"]) - set(can))
    if unknown:
        raise UnknownNameError(
            "observable series", unknown[0], can,
            hint=f"This model can be compared with: {', '.join(can) or 'nothing'}. "
                 "Map more roles in the catalogue or pass components= or roles=.",
        )


def _observe_rows(r: _Run, rows: pd.DataFrame, ctx: _Context) -> tuple[np.ndarray, np.ndarray]:
    """Model times of the rows' dates and their observed values (rows x runs)."""
    if rows.empty:
        return np.array([], dtype=float), np.empty((0, 1))
    times = reference_months(rows["date"], ctx.start)
    ends = reference_months(rows["period_end"], ctx.start)
    # a period starts at the beginning of its first day, i.e. the end of the day before
    starts = reference_months(pd.to_datetime(rows["period_start"]) - pd.Timedelta(days=1),
                              ctx.start)
    kinds = rows["kind"] if "kind" in rows else pd.Series("stock", index=rows.index)
    units = rows["unit"] if "unit" in rows else pd.Series("", index=rows.index)
    values = [_apply(operator_for(s, k, u), r, ctx, t0, t1) for s, k, u, t0, t1 in zip(
        rows["series"], kinds, units, starts, ends, strict=True)]
    return times, np.array(values, dtype=float).reshape(len(values), -1)


def _is_percent(units: str) -> bool:
    u = units.lower()
    return "%" in u or "percent" in u


def _from_components(op: Operator, ctx: _Context) -> bool:
    return bool(op.components) and op.role not in ctx.direct and all(
        c in ctx.comp for c in op.components)


def _apply(op: Operator, r: _Run, ctx: _Context, t0: float, t1: float) -> np.ndarray:
    if _from_components(op, ctx):
        parts = [r.integral(ctx.comp[c], t0, t1) if c in op.flows else r.at(ctx.comp[c], t1)
                 for c in op.components]
        assert op.ratio is not None
        v = op.ratio(*parts)
        return 100.0 * v if op.percent else v
    var = ctx.roles[op.role]
    if op.how == "sum":
        v = r.integral(var, t0, t1)
    elif op.how == "mean":
        v = r.mean(var, t0, t1)
    else:
        v = r.at(var, t1)
    if op.percent and not _is_percent(ctx.units.get(var, "")):
        v = v * 100.0
    return v
