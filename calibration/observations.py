"""What a calibration compares: published values per series, and how a model run produces them.

`SeriesObs` holds one series' published values with the model times they refer to and the rule
that turns a model trajectory into the same quantity (`how`): `point` reads a stock or ratio at
the date, `sum` adds a monthly flow over the 12 months to the date, `mean` averages a rate over
them. `scale` converts units (a model fraction to a published percentage).

`observations_for(spec, model, data)` selects the rows a spec asks for (area, period, series
breaks) from the tidy published table and builds the `SeriesObs`; its errors name the spec line.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from carespiral.calibration.observe import OPERATORS, observe_batch
from carespiral.calibration.spec import CalibrationSpec, SeriesSpec

__all__ = ["DEFAULT_START", "SeriesObs", "model_time", "observations_for", "predict"]

# Model time 0 is 1 April 2005 (docs: model-testing.md, calendar).
DEFAULT_START = dt.date(2005, 4, 1)


@dataclass(frozen=True)
class SeriesObs:
    """One published series aligned with a model: values, model times and the observation rule."""

    name: str
    variable: str  # the model variable (Vensim name)
    times: np.ndarray  # model time (months) each value refers to (end of its 12 months for flows)
    values: np.ndarray
    how: str = "point"  # point | sum | mean
    scale: float = 1.0
    error: str = "normal"
    weight: float = 1.0
    dispersion: float | None = None
    years: np.ndarray = field(default_factory=lambda: np.array([], dtype=int))
    dates: np.ndarray = field(default_factory=lambda: np.array([], dtype="datetime64[ns]"))
    unit: str = ""
    rows: pd.DataFrame | None = None  # the published rows, when the data issue's operator
    needs: tuple[str, ...] = ()  # applies (`observe_batch`); and the variables it reads

    def __len__(self) -> int:
        return len(self.values)

    def subset(self, mask: np.ndarray) -> SeriesObs:
        """The same series restricted to the values where `mask` is true."""
        mask = np.asarray(mask, dtype=bool)
        return replace(
            self, times=self.times[mask], values=self.values[mask],
            rows=None if self.rows is None else self.rows[mask],
            years=self.years[mask] if len(self.years) else self.years,
            dates=self.dates[mask] if len(self.dates) else self.dates,
        )

    @property
    def first_time(self) -> float:
        """The earliest model time this series needs (the start of a 12-month window)."""
        return float(self.times.min() - (12.0 if self.how != "point" else 0.0))


def model_time(dates, start: dt.date | None = None) -> np.ndarray:
    """Model months of published dates; a date at the end of a day counts as the next midnight,
    so 31 March 2013 is month 96 and 30 September 2017 is month 150."""
    s = pd.Timestamp(start or DEFAULT_START)
    d = pd.DatetimeIndex(pd.to_datetime(dates)) + pd.Timedelta(days=1)
    whole = (d.year - s.year) * 12 + (d.month - s.month)
    frac = (d.day - s.day) / d.days_in_month
    return np.asarray(whole + frac, dtype=float)


def observe_runs(obs: SeriesObs, ds, model) -> np.ndarray:
    """Model values (runs x observations) of `obs` from a `run_batch` Dataset.

    Series read from the published table go through the data issue's operators
    (`observe_batch`, e.g. agency rate = agency / (agency + FTE) from the two stocks), so the
    calibration compares exactly what `observe` defines; synthetic series use `predict`.
    """
    if obs.rows is not None and obs.needs:
        return observe_batch(ds[list(obs.needs)], obs.rows, model).to_numpy().T
    return predict(obs, ds["time"].to_numpy(), ds[obs.variable].to_numpy())


def predict(obs: SeriesObs, time: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Model values (runs x observations) of `obs` from a trajectory `values` (runs x time)."""
    time = np.asarray(time, dtype=float)
    values = np.asarray(values, dtype=float)
    out = np.empty((values.shape[0], len(obs.times)))
    step = float(np.median(np.diff(time))) if len(time) > 1 else 1.0
    eps = 1e-9 * max(1.0, abs(time[-1]))
    for j, t in enumerate(obs.times):
        if obs.how == "point":
            i = np.searchsorted(time, t - eps)
            if i >= len(time):
                out[:, j] = np.nan
                continue
            if abs(time[i] - t) <= eps or i == 0:
                out[:, j] = values[:, i]
            else:
                f = (t - time[i - 1]) / (time[i] - time[i - 1])
                out[:, j] = values[:, i - 1] * (1 - f) + values[:, i] * f
        else:
            # left Riemann sum over the 12 months to t: what Euler integration accumulates
            mask = (time >= t - 12.0 - eps) & (time < t - eps)
            if not mask.any() or time[0] > t - 12.0 + eps or time[-1] < t - step - eps:
                out[:, j] = np.nan
                continue
            window = values[:, mask]
            out[:, j] = window.sum(axis=1) * step if obs.how == "sum" else window.mean(axis=1)
    return out * obs.scale


def _rule(series: str, unit: str, kind: str, model_units: str) -> tuple[str, float]:
    """How to observe a series: the data issue's operator for canonical roles (`observe`),
    otherwise from the series' published kind and span; and the unit factor (fraction to %)."""
    from carespiral.data.series import SERIES

    percent_model = "%" in model_units or "percent" in model_units.lower()
    if series in OPERATORS:
        op = OPERATORS[series]
        return op.how, 100.0 if op.percent and not percent_model else 1.0
    span = SERIES[series].span if series in SERIES else ("year" if kind == "flow" else "point")
    if kind == "flow":
        how = "sum"
    elif span == "year" and kind in ("rate", "ratio"):
        how = "mean"
    else:
        how = "point"
    scale = 100.0 if unit.strip() == "%" and not percent_model else 1.0
    return how, scale


def observations_for(spec: CalibrationSpec, model, data: pd.DataFrame,
                     area_label: str | None = None) -> list[SeriesObs]:
    """The spec's series for one area from the tidy table `data` (already filtered to the area).

    Applies the spec's period (per series if given) and break policy; raises the spec's
    FileFormatError (with the line) for a series the model lacks, a series absent for the
    area, or a break spanned without a policy.
    """
    from carespiral.data.series import BREAKS

    area_label = area_label or spec.area or "the area"
    units = {v.name: v.units for v in model.variables}
    out = []
    for s in spec.series:
        out.append(_one_series(spec, s, model, data, units, area_label, BREAKS))
    return out


def _one_series(spec: CalibrationSpec, s: SeriesSpec, model, data, units, area_label,
                breaks) -> SeriesObs:
    role_var = model.resolve(spec.roles[s.name]) if s.name in spec.roles else \
        model.outputs.get(s.name)
    if role_var is None:
        raise spec.error(
            f"series {s.name!r}: model {model.name!r} has no output with that role",
            "series", s.name,
            hint="its outputs: " + (", ".join(sorted(model.outputs)) or "none")
                 + "; map one in a [roles] table",
        )
    first, last = s.period or spec.period
    rows = data[(data["series"] == s.name) & data["value"].notna()]
    if "variant" in rows:
        rows = rows[rows["variant"].fillna("") == ""]
    rows = rows[(rows["year"] >= first) & (rows["year"] <= last)].sort_values("date")
    if rows.empty:
        raise spec.error(f"series {s.name!r} has no published values for {area_label} in "
                         f"{first}-{last}", "series", s.name)
    dates = pd.to_datetime(rows["date"])
    keep = np.ones(len(rows), dtype=bool)
    for b in breaks:
        if not b.applies_to(s.name):
            continue
        before = (dates <= b.last_before).to_numpy()
        after = (dates >= b.first_after).to_numpy()
        within = ~before & ~after
        spans = (before.any() and after.any()) or (within.any() and (before.any() or after.any()))
        if not spans:
            continue
        if s.breaks == "refuse":
            raise spec.error(
                f"series {s.name!r} spans the break {b.name!r} in {first}-{last} (comparable up "
                f"to {b.last_before.date()} and from {b.first_after.date()}): {b.description}",
                "series", s.name,
                hint='set breaks = "after" or "before" to fit one side, or "span" to fit '
                     "across it knowingly",
            )
        if s.breaks == "after":
            keep &= after
        elif s.breaks == "before":
            keep &= before
    rows = rows[keep]
    if rows.empty:
        raise spec.error(f"series {s.name!r}: no values left for {area_label} after applying "
                         f"breaks = {s.breaks!r}", "series", s.name, "breaks")
    unit = str(rows["unit"].iloc[0])
    kind = str(rows["kind"].iloc[0]) if "kind" in rows else "stock"
    how, scale = _rule(s.name, unit, kind, units.get(role_var, ""))
    values = rows["value"].to_numpy(dtype=float)
    if s.error in ("lognormal", "negbin") and (values <= 0).any():
        raise spec.error(f"series {s.name!r}: error = {s.error!r} needs positive values",
                         "series", s.name, "error")
    return SeriesObs(
        name=s.name, variable=role_var, times=model_time(rows["date"], model.start_date),
        values=values, how=how, scale=scale, error=s.error, weight=s.weight,
        dispersion=s.dispersion, years=rows["year"].to_numpy(dtype=int),
        dates=pd.to_datetime(rows["date"]).to_numpy(), unit=unit,
        **({} if s.name in spec.roles else _operator_inputs(s.name, model, rows)),
    )


def _operator_inputs(series: str, model, rows: pd.DataFrame) -> dict:
    """The published rows and model variables for `observe_batch`, when it covers the series."""
    op = OPERATORS.get(series)
    if op is None or not {"period_start", "period_end", "date"} <= set(rows.columns):
        return {}
    roles = model.outputs
    if op.components and all(c in roles for c in op.components):
        needs = tuple(roles[c] for c in op.components)
    else:
        needs = (roles[series],)
    return {"rows": rows.reset_index(drop=True), "needs": needs}
