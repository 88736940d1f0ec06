"""Collapse criteria: when does a run count as "collapsed", when did it happen, and why.

A criterion is a small typed object that turns a batch of runs (an `xarray.Dataset`, run x time)
into the first time each run met it (NaN when never). `classify` applies a list of criteria and
labels every run `collapse` or `sustainable`, with the time of collapse and the criterion that
fired first.

Default criteria (used when a spec gives none; each applies only if the model has the role):

- caseload above 25 cases per FTE for 12 months. Published averages are 16-18 per FTE case
  holder (DfE workforce census 2017-2023); 25 is about half as much again, the level at which
  workers report unmanageable work. Twelve months rules out a passing surge that hiring absorbs.
- vacancy rate above 40% for 12 months: twice the published national 16-20%, held for a year,
  means the authority cannot staff its posts.
- social workers below 50% of the funded establishment (lever `establishment`) for 6 months:
  the workforce has drained, not merely thinned.
- cases awaiting assessment above twice their starting level for 12 months (models start at their
  reference, 2013-2019-like state): a queue that has doubled and stays doubled for a year means
  children wait for assessment in numbers the service was never sized for. (A `growing` criterion,
  a queue rising every month for N months, is available in specs; it is not a default because a
  degraded but settling queue and a slowly creeping one would then get opposite labels.)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from carespiral.errors import CarespiralError

__all__ = [
    "Criterion", "Growing", "Threshold", "classify", "default_criteria", "outputs_needed",
    "read_criteria",
]

COLLAPSE = "collapse"
INITIAL = "initial"
SUSTAINABLE = "sustainable"


@dataclass(frozen=True)
class Threshold:
    """`variable` above (or below) `value` (times `relative_to`, if given) for `months` months.

    `relative_to` names a parameter (e.g. establishment) or variable that scales the threshold, so
    "below 0.5 x establishment" reads `Threshold("social_workers_fte", "<", 0.5, 6, "establishment")`;
    `relative_to="initial"` compares with the variable's own value at the start of the run.
    """

    variable: str
    op: Literal[">", "<"]
    value: float
    months: float = 0.0
    relative_to: str | None = None
    name: str = ""
    ref_default: float | None = None  # the model's value of `relative_to` when it is a constant

    kind = "threshold"

    def bind(self, model) -> Threshold:
        """The same criterion with the model's own variable names (roles resolved)."""
        rel, ref = None, None
        if self.relative_to == INITIAL:
            rel = INITIAL
        elif self.relative_to:
            rel = model.resolve(self.relative_to)
            const = {p.name: p.default for p in model.parameters}
            ref = const.get(rel)
        return replace(self, variable=model.resolve(self.variable), relative_to=rel,
                       ref_default=ref, name=self.label)

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        rel = f" x {self.relative_to}" if self.relative_to else ""
        return f"{self.variable} {self.op} {self.value:g}{rel} for {self.months:g} months"

    @property
    def needs(self) -> tuple[str, ...]:
        return (self.variable,) + ((self.relative_to,) if self.relative_to else ())

    def condition(self, ds: xr.Dataset, params: pd.DataFrame | None = None) -> np.ndarray:
        """Boolean (run x time): the condition holds at this instant."""
        x = _values(ds, self.variable)
        ref: float | np.ndarray = self.value
        if self.relative_to == INITIAL:
            ref = self.value * x[:, :1]
        elif self.relative_to:
            ref = self.value * _reference(ds, params, self.relative_to, self.ref_default)
        return x > ref if self.op == ">" else x < ref

    def first_time(self, ds: xr.Dataset, params: pd.DataFrame | None = None) -> np.ndarray:
        return first_sustained(self.condition(ds, params), ds["time"].to_numpy(), self.months)


@dataclass(frozen=True)
class Growing:
    """`variable` rising between every two saved times for `months` months (a runaway queue).

    `min_rate` is the smallest relative rise a month that counts as growth, so a queue creeping up
    by rounding noise does not trigger it.
    """

    variable: str
    months: float = 12.0
    min_rate: float = 0.001
    name: str = ""

    kind = "growing"

    def bind(self, model) -> Growing:
        return replace(self, variable=model.resolve(self.variable), name=self.label)

    @property
    def label(self) -> str:
        return self.name or f"{self.variable} growing for {self.months:g} months"

    @property
    def needs(self) -> tuple[str, ...]:
        return (self.variable,)

    def condition(self, ds: xr.Dataset, params: pd.DataFrame | None = None) -> np.ndarray:
        x = _values(ds, self.variable)
        t = ds["time"].to_numpy()
        cond = np.zeros_like(x, dtype=bool)
        if x.shape[1] > 1:
            dt = np.diff(t)
            rate = np.diff(x, axis=1) / dt / np.maximum(np.abs(x[:, :-1]), 1e-9)
            cond[:, 1:] = rate > self.min_rate
        return cond

    def first_time(self, ds: xr.Dataset, params: pd.DataFrame | None = None) -> np.ndarray:
        t = ds["time"].to_numpy()
        # growth is measured over the step ending at t, so a streak of k steps spans k steps
        step = float(np.median(np.diff(t))) if len(t) > 1 else 0.0
        return first_sustained(self.condition(ds, params), t, max(self.months - step, 0.0))


Criterion = Threshold | Growing


def first_sustained(cond: np.ndarray, times: np.ndarray, months: float) -> np.ndarray:
    """First time at which `cond` (run x time) has held without a break for `months` months."""
    n_runs, n_t = cond.shape
    start = np.full(n_runs, np.nan)
    fired = np.full(n_runs, np.nan)
    tol = 1e-9
    for j in range(n_t):  # a loop over time, vectorised over runs
        c = cond[:, j]
        start = np.where(c, np.where(np.isnan(start), times[j], start), np.nan)
        hit = c & np.isnan(fired) & (times[j] - start >= months - tol)
        fired[hit] = times[j]
    return fired


def classify(
    ds: xr.Dataset, criteria: Sequence[Criterion], params: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Per run: `regime`, `collapse_time` (NaN if none) and the `criterion` that fired first."""
    runs = ds["run"].to_numpy()
    if not criteria:
        raise CarespiralError("no collapse criteria apply to this model; give [[criteria]] in the spec")
    times = np.column_stack([c.first_time(ds, params) for c in criteria])
    any_hit = ~np.all(np.isnan(times), axis=1)
    first = np.where(any_hit, np.nanmin(np.where(np.isnan(times), np.inf, times), axis=1), np.nan)
    which = np.argmin(np.where(np.isnan(times), np.inf, times), axis=1)
    labels = np.array([c.label for c in criteria], dtype=object)
    return pd.DataFrame(
        {
            "regime": np.where(any_hit, COLLAPSE, SUSTAINABLE),
            "collapse_time": first,
            "criterion": np.where(any_hit, labels[which], ""),
        },
        index=pd.Index(runs, name="run"),
    )


def default_criteria(model) -> list[Criterion]:
    """The documented defaults that apply to `model` (those whose roles it has).

    Units are respected: a vacancy rate published in percent gets a threshold of 40, not 0.4; the
    workforce is compared with an establishment in the same units (the `establishment` lever, or
    a `Funded Establishment` variable when the lever is a rate such as FTE per child).
    """
    units = {v.name: v.units.strip().lower() for v in model.variables}
    roles = model.roles
    out: list[Criterion] = []
    if "caseload" in roles:
        out.append(Threshold("caseload", ">", 25.0, 12.0))
    if "vacancy_rate" in roles:
        pct = units.get(roles["vacancy_rate"], "") in ("percent", "%")
        out.append(Threshold("vacancy_rate", ">", 40.0 if pct else 0.40, 12.0))
    if "social_workers_fte" in roles:
        sw_units = units.get(roles["social_workers_fte"])
        ref = next((r for r in (roles.get("establishment"), "Funded Establishment")
                    if r in units and units[r] == sw_units), None)
        if ref is not None:
            out.append(Threshold("social_workers_fte", "<", 0.5, 6.0, relative_to=ref,
                                 name="social_workers_fte < 0.5 x establishment for 6 months"))
    if "awaiting_assessment" in roles:
        out.append(Threshold("awaiting_assessment", ">", 2.0, 12.0, relative_to=INITIAL,
                             name="awaiting_assessment > 2 x its starting level for 12 months"))
    return out


def outputs_needed(criteria: Sequence[Criterion]) -> list[str]:
    """The model variables bound criteria read from the run results."""
    names = [c.variable for c in criteria]
    names += [c.relative_to for c in criteria if isinstance(c, Threshold) and c.relative_to
              and c.relative_to != INITIAL and c.ref_default is None]
    return list(dict.fromkeys(names))


def read_criteria(items: Sequence[Mapping[str, Any]], where: str = "spec") -> list[Criterion]:
    """Criteria from `[[criteria]]` tables: type = "above" | "below" | "growing"."""
    out: list[Criterion] = []
    for i, item in enumerate(items, 1):
        item = dict(item)
        typ = item.pop("type", None)
        ctx = f"{where}: [[criteria]] number {i}"
        try:
            if typ in ("above", "below"):
                months = float(item.pop("months", 0.0))
                out.append(Threshold(
                    variable=str(item.pop("variable")),
                    op=">" if typ == "above" else "<",
                    value=float(item.pop("value")),
                    months=months,
                    relative_to=item.pop("relative_to", None),
                    name=str(item.pop("name", "")),
                ))
            elif typ == "growing":
                out.append(Growing(
                    variable=str(item.pop("variable")),
                    months=float(item.pop("months", 12.0)),
                    min_rate=float(item.pop("min_rate", 0.001)),
                    name=str(item.pop("name", "")),
                ))
            else:
                raise CarespiralError(f"{ctx}: type must be 'above', 'below' or 'growing', got {typ!r}")
        except KeyError as exc:
            raise CarespiralError(f"{ctx} (type {typ!r}) needs a {exc.args[0]!r} key") from None
        except (TypeError, ValueError) as exc:
            raise CarespiralError(f"{ctx}: {exc}") from None
        if item:
            raise CarespiralError(f"{ctx}: unknown keys {sorted(item)}")
        if out[-1].months < 0 or not math.isfinite(out[-1].months):
            raise CarespiralError(f"{ctx}: months must be a non-negative number")
    return out


def criterion_to_dict(c: Criterion) -> dict[str, Any]:
    d = asdict(c)
    if isinstance(c, Threshold):
        d["type"] = "above" if c.op == ">" else "below"
        d.pop("op")
    else:
        d["type"] = "growing"
    d.pop("ref_default", None)
    return {k: v for k, v in d.items() if v not in (None, "")}


def _values(ds: xr.Dataset, name: str) -> np.ndarray:
    if name not in ds:
        raise CarespiralError(
            f"collapse criterion needs {name!r}, which the run results do not contain "
            f"(have: {', '.join(map(str, ds.data_vars))})"
        )
    return np.asarray(ds[name].transpose("run", "time").to_numpy(), dtype=float)


def _reference(
    ds: xr.Dataset, params: pd.DataFrame | None, name: str, default: float | None
) -> np.ndarray | float:
    if params is not None and name in params.columns:
        return params[name].to_numpy(dtype=float)[:, None]
    if name in ds:
        return _values(ds, name)
    if default is not None:
        return default
    raise CarespiralError(
        f"collapse criterion is relative to {name!r}, which is neither a varied parameter nor an output"
    )
