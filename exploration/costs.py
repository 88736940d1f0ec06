"""What a policy costs, in pounds a year: published unit costs turned into a cost per lever.

The unit costs (`data/unit_costs.csv`: value, unit, price year, source, confidence) are:

- a social worker's **employment cost**: salary plus employer National Insurance above the
  secondary threshold plus the employer pension contribution;
- the **agency premium**: what an agency social worker costs a year (day rate x working days) over
  a permanent one's employment cost;
- **recruitment**: the cost of one appointment, paid again each time a post turns over;
- judgements for the levers with no published unit cost (retention package, redesign team,
  compliance reform, help that prevents failure demand), marked `judgement` in the file.

Each lever role gets a cost per unit above its default and per unit below it (both >= 0, in £ a
year), from those unit costs and the model's own scale (child population, funded posts, need):

| lever | more of it costs | less of it costs |
|---|---|---|
| establishment | employment cost + recruitment (cost per hire x yearly leaving rate) per FTE post | nothing (a cut saves money; savings are not counted as spending) |
| retention_measures | retention share x employment cost x funded posts (at 1 = full package) | nothing |
| redesign | redesign team FTE x employment cost per authority of average size (at 1 = full) | nothing |
| compliance_burden (an index, 1 = 2013-19) | nothing | compliance share x pay bill of funded posts per unit cut |
| upstream_failure_demand | nothing | cost per referral avoided x need referrals a year per unit cut |
| referral_threshold, agency_cap | nothing: no direct spending (agency spending is shown separately) | nothing |

A policy's cost is the sum over its levers, in £ million a year, and never negative. A spec can
override any unit cost (`[costs] salary = 45000`) and any lever's rates (`[levers] redesign =
{ range = [0, 1], cost = 2e7, cost_below = 0 }`, £ a year per unit of the lever); a lever no rule
covers (a non-role parameter, or a role whose units do not match the rule) costs nothing unless
the spec gives its rates, and the result lists it as not costed.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from carespiral.errors import CarespiralError, FileFormatError

__all__ = ["CostModel", "LeverCost", "UnitCost", "load_unit_costs", "unit_costs_path"]

_REQUIRED = ("salary", "employer_ni_rate", "employer_ni_threshold", "pension_rate",
             "agency_day_rate", "agency_days", "cost_per_hire", "retention_share",
             "redesign_fte_per_authority", "children_per_authority", "compliance_cost_share",
             "failure_demand_cost_per_referral")
_FALLBACK_LEAVING = 0.15  # a year, when the model has no leaving rate (DfE turnover 15-18%)


@dataclass(frozen=True)
class UnitCost:
    """One published (or judged) unit cost with its source."""

    name: str
    value: float
    unit: str
    prices: str = ""
    source: str = ""
    note: str = ""
    confidence: str = ""


@dataclass(frozen=True)
class LeverCost:
    """A lever's cost in £ a year per unit above and per unit below its default, and why."""

    name: str
    above: float
    below: float
    basis: str
    costed: bool = True


def unit_costs_path() -> Path:
    return Path(str(resources.files("carespiral.data"))) / "unit_costs.csv"


@lru_cache(maxsize=4)
def load_unit_costs(path: str | None = None) -> dict[str, UnitCost]:
    """The unit-cost table (default: the shipped `data/unit_costs.csv`)."""
    p = Path(path) if path else unit_costs_path()
    try:
        with p.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise FileFormatError(p, f"cannot read the unit costs: {exc.strerror}") from None
    out: dict[str, UnitCost] = {}
    for line, row in enumerate(rows, 2):
        try:
            out[row["name"]] = UnitCost(row["name"], float(row["value"]), row["unit"],
                                        row.get("prices", ""), row.get("source", ""),
                                        row.get("note", ""), row.get("confidence", ""))
        except (KeyError, ValueError, TypeError):
            raise FileFormatError(p, "expected name, value (a number), unit, prices, source, "
                                  "note, confidence", line=line) from None
    missing = [k for k in _REQUIRED if k not in out]
    if missing:
        raise FileFormatError(p, f"unit costs {missing} are missing")
    return out


@dataclass(frozen=True)
class CostModel:
    """Unit costs (with any overrides from a spec) and the rules that cost each lever role."""

    units: Mapping[str, UnitCost] = field(default_factory=load_unit_costs)
    overridden: tuple[str, ...] = ()

    def with_overrides(self, values: Mapping[str, float], where: str = "spec") -> CostModel:
        """The same model with some unit costs replaced (a spec's `[costs]` table)."""
        units = dict(self.units)
        for name, v in values.items():
            if name not in units:
                raise CarespiralError(
                    f"{where}: [costs] {name!r} is not a unit cost; known: "
                    + ", ".join(sorted(units)))
            if isinstance(v, bool) or not isinstance(v, int | float) or not np.isfinite(v) or v < 0:
                raise CarespiralError(f"{where}: [costs] {name!r} must be a number >= 0, got {v!r}")
            units[name] = replace(units[name], value=float(v), source=f"{where} (override)",
                                  confidence="given")
        return CostModel(units, tuple(sorted({*self.overridden, *values})))

    def value(self, name: str) -> float:
        return self.units[name].value

    @property
    def employment_cost(self) -> float:
        """Salary + employer National Insurance above the threshold + employer pension, £ a year."""
        s = self.value("salary")
        ni = self.value("employer_ni_rate") * max(0.0, s - self.value("employer_ni_threshold"))
        return s + ni + self.value("pension_rate") * s

    @property
    def agency_premium(self) -> float:
        """What an agency FTE costs a year over a permanent FTE's employment cost, £ (>= 0)."""
        agency = self.value("agency_day_rate") * self.value("agency_days")
        return max(0.0, agency - self.employment_cost)

    def lever_costs(self, model: Any, levers: Sequence[Any]) -> list[LeverCost]:
        """Each lever's £ a year per unit above/below its default, for `model`'s scale.

        `levers` are spec levers (name = Vensim name, optional `cost`/`cost_below` overrides).
        """
        role_of = {var: role for role, var in model.levers.items()}
        out = []
        for lv in levers:
            rule = self._rule(model, role_of.get(lv.name, ""), lv.name)
            above = getattr(lv, "cost", None)
            below = getattr(lv, "cost_below", None)
            if above is not None or below is not None:
                given = [f"£{v:,.0f} a year per unit {side}" for v, side in
                         ((above, "above"), (below, "below")) if v is not None]
                rule = LeverCost(lv.name, rule.above if above is None else float(above),
                                 rule.below if below is None else float(below),
                                 "from the spec: " + ", ".join(given) + "; " + rule.basis, True)
            out.append(rule)
        return out

    def _rule(self, model: Any, role: str, name: str) -> LeverCost:
        p = model.parameter(name)
        units = (p.units or "").replace(" ", "")
        consts = {q.name: q.default for q in model.parameters}
        children = consts.get("Child Population")
        emp = self.employment_cost
        leaving = consts.get("Normal Leaving Rate")
        leaving_year = 12 * leaving if leaving else _FALLBACK_LEAVING
        per_post = emp + self.value("cost_per_hire") * leaving_year
        posts = _funded_posts(model, consts)
        authorities = (children / self.value("children_per_authority")) if children else 1.0
        money = f"employment cost £{emp:,.0f} a year per FTE"
        if role == "establishment" and units in ("FTE/Children", "FTE"):
            scale = children if units == "FTE/Children" and children else 1.0
            return LeverCost(name, per_post * scale, 0.0,
                             f"each extra funded post: {money} plus recruitment £"
                             f"{self.value('cost_per_hire'):,.0f} a hire x {leaving_year:.0%} "
                             f"leaving a year" + (f"; x {scale:,.0f} children" if scale > 1
                                                  else ""))
        if role == "retention_measures" and posts:
            share = self.value("retention_share")
            return LeverCost(name, share * emp * posts, 0.0,
                             f"full package = {share:.0%} of the employment cost of "
                             f"{posts:,.0f} funded posts")
        if role == "redesign":
            fte = self.value("redesign_fte_per_authority")
            return LeverCost(name, fte * emp * authorities, 0.0,
                             f"full redesign = {fte:g} FTE a year in each of {authorities:,.0f} "
                             "authorities of average size")
        if role == "compliance_burden" and p.default == 1 and posts:
            share = self.value("compliance_cost_share")
            return LeverCost(name, 0.0, share * emp * posts,
                             f"each 0.1 cut costs {share / 10:.0%} of the pay bill of "
                             f"{posts:,.0f} funded posts")
        need = consts.get("Underlying Need")
        if role == "upstream_failure_demand" and need and children:
            referrals = need * children
            per = self.value("failure_demand_cost_per_referral")
            return LeverCost(name, 0.0, per * referrals,
                             f"£{per:,.0f} of help elsewhere per referral avoided; "
                             f"{referrals:,.0f} need-driven referrals a year")
        if role in ("referral_threshold", "agency_cap"):
            return LeverCost(name, 0.0, 0.0, "no direct spending")
        return LeverCost(name, 0.0, 0.0, "not costed: no rule for this lever (give cost and "
                         "cost_below in the spec)", False)

    @staticmethod
    def policy_cost(X: np.ndarray, defaults: np.ndarray, levers: Sequence[LeverCost]) -> np.ndarray:
        """£ million a year of each policy (rows of X): never negative."""
        X = np.atleast_2d(np.asarray(X, dtype=float))
        above = np.array([lc.above for lc in levers])
        below = np.array([lc.below for lc in levers])
        d = X - np.asarray(defaults, dtype=float)[None, :]
        return (np.clip(d, 0, None) @ above + np.clip(-d, 0, None) @ below) / 1e6

    def sources(self) -> list[dict[str, Any]]:
        """The unit costs as table rows (for reports and the result's settings)."""
        return [{"unit cost": u.name.replace("_", " "), "value": u.value, "unit": u.unit,
                 "prices": u.prices, "source": u.source, "confidence": u.confidence}
                for u in self.units.values()]


def _funded_posts(model: Any, consts: Mapping[str, float]) -> float:
    """Funded social worker posts at the model's defaults (FTE), or 0 if it cannot tell."""
    var = model.levers.get("establishment", "")
    if not var or var not in consts:
        return 0.0
    p = model.parameter(var)
    if (p.units or "").replace(" ", "") == "FTE/Children":
        return float(consts[var] * consts.get("Child Population", 0.0))
    return float(consts[var])
