"""What a calibration compares: published values per series, and the model variables they need.

`SeriesObs` holds one series' rows of the tidy table (published, or made up for a synthetic
test by `SeriesObs.at_times`) with the model variable its role maps to. Every series is observed
the one way the data layer defines (`carespiral.data.observe.observe_batch`): a stock at the
date, a flow summed over its period, a rate as DfE defines it.

`observations_for(spec, model, data)` selects the rows a spec asks for (area, period, series
breaks) from the tidy published table and builds the `SeriesObs`; its errors name the spec line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from carespiral.calibration.spec import CalibrationSpec, SeriesSpec
from carespiral.data.observe import OPERATORS, needed_variables, observe_batch, operator_for
from carespiral.data.series import BREAKS, SERIES
from carespiral.pysd_runner.calendar import DEFAULT_START, reference_dates, reference_months

__all__ = ["SeriesObs", "observations_for", "observe_runs"]


@dataclass(frozen=True)
class SeriesObs:
    """One series to fit: its rows of the tidy table and how the model is read for them.

    rows: the rows (series, date, period_start, period_end, value, unit, kind, year), sorted
    by date. variable: the model variable (Vensim name) the series' role maps to. roles: an
    explicit series -> variable mapping for observation (a spec's `[roles]`, a synthetic
    series), which reads the series from that variable rather than from a ratio's components.
    needs: every model variable the observation reads. start: the model's start date.
    """

    name: str
    rows: pd.DataFrame
    variable: str
    roles: Mapping[str, str] = field(default_factory=dict)
    needs: tuple[str, ...] = ()
    error: str = "normal"
    weight: float = 1.0
    dispersion: float | None = None
    ar1: bool = False  # residuals autocorrelated (AR(1)) in the likelihood
    start: Any = DEFAULT_START

    @classmethod
    def at_times(cls, name: str, variable: str, times: Any, values: Any,
                 kind: str | None = None, unit: str | None = None, start: Any = DEFAULT_START,
                 **options: Any) -> SeriesObs:
        """A synthetic series: `values` at model `times`, dated as published figures would be
        (a stock at the date; a flow or a yearly rate over the 12 months to it)."""
        known = SERIES.get(name)
        kind = kind or (known.kind if known else "stock")
        unit = (known.unit if known else "") if unit is None else unit
        dates = reference_dates(np.asarray(times, dtype=float), start)
        rows = pd.DataFrame({"series": name, "date": dates, "value": np.asarray(values, float),
                             "unit": unit, "kind": kind, "year": dates.year})
        return cls(name, _with_periods(rows), variable, {name: variable}, (variable,),
                   start=start, **options)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def values(self) -> np.ndarray:
        return self.rows["value"].to_numpy(dtype=float)

    @property
    def times(self) -> np.ndarray:
        """Model time (months) each value refers to (the end of its period)."""
        return reference_months(self.rows["date"], self.start)

    @property
    def years(self) -> np.ndarray:
        return self.rows["year"].to_numpy(dtype=int)

    @property
    def dates(self) -> np.ndarray:
        return pd.to_datetime(self.rows["date"]).to_numpy()

    @property
    def unit(self) -> str:
        return str(self.rows["unit"].iloc[0]) if len(self.rows) else ""

    @property
    def how(self) -> str:
        """`point`, `sum` or `mean`: how the observation reads the run."""
        kind = str(self.rows["kind"].iloc[0]) if len(self.rows) else "stock"
        return operator_for(self.name, kind, self.unit).how

    def subset(self, mask: np.ndarray) -> SeriesObs:
        """The same series restricted to the values where `mask` is true."""
        keep = np.asarray(mask, dtype=bool)
        return replace(self, rows=self.rows[keep].reset_index(drop=True))


def observe_runs(obs: SeriesObs, ds: Any, model: Any) -> np.ndarray:
    """Model values (runs x observations) of `obs` from a `run_batch` Dataset."""
    return observe_batch(ds[list(obs.needs)], obs.rows, model, roles=obs.roles).to_numpy().T


def _with_periods(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows with period_start and period_end; where missing, a flow or yearly rate covers the
    12 months to its date and anything else the date itself."""
    if {"period_start", "period_end"} <= set(rows.columns):
        return rows
    rows = rows.copy()
    date = pd.to_datetime(rows["date"])
    point = np.array([operator_for(s, k, u).how == "point" for s, k, u in
                      zip(rows["series"], rows["kind"], rows["unit"], strict=True)], dtype=bool)
    year_before = date - pd.DateOffset(years=1) + pd.Timedelta(days=1)
    rows["period_start"] = date.where(point, year_before)
    rows["period_end"] = date
    return rows


def observations_for(spec: CalibrationSpec, model: Any, data: pd.DataFrame,
                     area_label: str | None = None) -> list[SeriesObs]:
    """The spec's series for one area from the tidy table `data` (already filtered to the area).

    Applies the spec's period (per series if given) and break policy; raises the spec's
    FileFormatError (with the line) for a series the model lacks, a series absent for the
    area, or a break spanned without a policy.
    """
    area_label = area_label or spec.area or "the area"
    return [_one_series(spec, s, model, data, area_label) for s in spec.series]


def _one_series(spec: CalibrationSpec, s: SeriesSpec, model: Any, data: pd.DataFrame,
                area_label: str) -> SeriesObs:
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
    for b in BREAKS:
        if not (b.applies_to(s.name) and b.spanned(dates)):
            continue
        if s.breaks == "refuse":
            raise spec.error(
                f"series {s.name!r} spans the break {b.name!r} in {first}-{last} (comparable up "
                f"to {b.last_before.date()} and from {b.first_after.date()}): {b.description}",
                "series", s.name,
                hint='set breaks = "after" or "before" to fit one side, or "span" to fit '
                     "across it knowingly",
            )
        before, after = b.sides(dates)
        if s.breaks == "after":
            keep &= after
        elif s.breaks == "before":
            keep &= before
    rows = rows[keep]
    if rows.empty:
        raise spec.error(f"series {s.name!r}: no values left for {area_label} after applying "
                         f"breaks = {s.breaks!r}", "series", s.name, "breaks")
    if s.error in ("lognormal", "negbin") and (rows["value"] <= 0).any():
        raise spec.error(f"series {s.name!r}: error = {s.error!r} needs positive values",
                         "series", s.name, "error")
    if "kind" not in rows:
        rows = rows.assign(kind=SERIES[s.name].kind if s.name in SERIES else "stock")
    # a spec's [roles] entry, or a role without a canonical operator, is read from its variable
    roles = {s.name: role_var} if s.name in spec.roles or s.name not in OPERATORS else {}
    return SeriesObs(
        name=s.name, rows=_with_periods(rows).reset_index(drop=True), variable=role_var,
        roles=roles, needs=needed_variables(s.name, model, roles=roles), error=s.error,
        weight=s.weight, dispersion=s.dispersion, ar1=s.autocorrelation == "ar1",
        start=model.start_date or DEFAULT_START,
    )

