"""What a brief for one authority says, computed: standing, position, forecast, loops, levers.

    >>> from carespiral.exploration.brief import build_brief
    >>> brief = build_brief(fit, "E09000014")        # fit: an AuthoritiesFit  # doctest: +SKIP
    >>> brief.levers                                 # margin bought per £1m a year

`build_brief` gathers, for one fitted authority of a pooled fit (`AuthoritiesFit`):

- **standing**: on each published series the fit used (and the vacancy and agency rates), the
  authority's latest published value
  against its ten statistical neighbours (median, lowest, highest, its rank among the eleven),
  every authority (its rank) and England; counts per 10,000 children (the ONS mid-year estimate
  of the same year) so that authorities of any size compare;
- **position**: the regime today and the margins to collapse (compliance burden, need) with
  their 90% intervals over posterior draws (from an `AuthoritiesTable` row when given, else
  computed for this authority alone);
- **series**: the published values, the fit with its 95% band and the forecast of the next
  years with its 95% predictive band (from the fit);
- **loops** (optional, `named_loops` from the model's loop inventory): Simlin's loop scores at
  the last published year, each of Simlin's loops counted under the named loop of the
  inventory it contains most of (at least `LOOP_COVER` of its variables);
- **levers** and **front** (`area_levers`): the robust policy search (`policy.pareto_search`,
  NSGA-II) on the authority's posterior draws with its own drivers over time: every costed
  lever (at the authority's own scale) set together, judged by the margin to collapse in need
  it buys in the worst tenth of the draws (paired with each draw's margin without it) against
  its cost, up to `budget` £ million a year in all. `levers`: each lever alone at the whole
  budget (median and 10th-percentile gain, gain per £1m), levers with no direct spending
  (thresholds, the agency cap) listed, not ranked: their costs fall on children and other
  services; `front`: the Pareto front, cheapest first, each policy in words.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from carespiral.errors import CarespiralError
from carespiral.exploration.area_levers import ROBUST_Q
from carespiral.results import Result

__all__ = ["LOOP_COVER", "AuthorityBrief", "NamedLoop", "build_brief", "lever_searches",
           "standing"]

LOOP_COVER = 0.8  # share of a named loop's variables a Simlin loop must pass through
COUNT_KINDS = ("stock", "flow")
CONTEXT = ("vacancy_rate", "agency_rate")  # published beside the fitted series, not fitted


@dataclass(frozen=True)
class NamedLoop:
    """A loop of a model's inventory: id (R1), title, polarity and variables in order."""

    id: str
    title: str
    polarity: str
    variables: tuple[str, ...]


@dataclass
class AuthorityBrief(Result):
    """Everything one authority's brief shows (see the module docstring)."""

    area_code: str
    area_name: str
    model: str
    spec: str
    pooling: str
    standing: pd.DataFrame
    position: pd.DataFrame
    series: pd.DataFrame
    loops: pd.DataFrame
    levers: pd.DataFrame
    front: pd.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)

    kind: ClassVar[str] = "brief"
    tables: ClassVar[dict[str, str]] = {"standing": "standing.csv", "position": "position.csv",
                                        "series": "series.csv", "loops": "loops.csv",
                                        "levers": "levers.csv", "front": "front.csv"}

    def to_frame(self) -> pd.DataFrame:
        return self.standing

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"authority": f"{self.area_name} ({self.area_code})",
                               "regime today": self.settings.get("regime_today", "")}
        for r in self.position.itertuples():
            out[f"margin ({r.role})"] = (f"{r.margin:.0%} (90% interval {r.lower:.0%} to "
                                         f"{r.upper:.0%})" + (" or more" if r.censored else ""))
        ranked = self.levers[self.levers["ranked"].astype(bool)] if len(self.levers) else None
        if ranked is not None and len(ranked):
            best = ranked.iloc[0]
            out["best lever per £1m"] = f"{best['lever']} ({best['gain_per_million']:.3f})"
        if len(self.front):
            top = self.front.iloc[-1]
            out["best policy found"] = (f"£{top['cost_million']:.2f}m a year: {top['policy']} "
                                        f"(need margin +{100 * top['gain_p10']:.0f} points in 9 of 10 draws)")
        return out


def build_brief(fit, area: str, table=None, named_loops: Sequence[NamedLoop] | None = None,
                draws: int = 16, budget: float = 1.0, seed: int = 0,
                data: pd.DataFrame | None = None,
                progress: Callable[[str], None] | None = None, population: int = 12,
                generations: int = 4, search: Any = None) -> AuthorityBrief:
    """The brief of `area` (code or name) of `fit`; `table`: an `AuthoritiesTable` holding it
    (else its margins are computed here); `named_loops`: the model's loop inventory (no loop
    section without it); `budget`: £ million a year the lever search may spend in all;
    `population`, `generations`: NSGA-II's; `search`: this authority's `LeverSearch` when
    already run (`lever_searches`, several authorities in one batch)."""
    from carespiral import data as published
    from carespiral.pysd_runner import load

    t0 = time.perf_counter()
    say = progress or (lambda stage: None)
    code = fit.area(area)
    row = fit.areas.set_index("area_code").loc[code]
    if row["status"] != "ok":
        raise CarespiralError(f"{row['area_name']} ({code}) was not fitted: {row['message']}",
                              hint="the brief needs a fitted authority; see areas.csv")
    model = load(fit.model)
    tab = published.load() if data is None else data
    say("standing")
    fitted = sorted(fit.fitted["series"].unique())
    stand = standing(tab, code, [*fitted, *(s for s in CONTEXT if s not in fitted)])
    say("position")
    position, regime = _position(fit, code, table, draws, seed)
    series = _series(fit, code)
    loops = pd.DataFrame(columns=["id", "title", "polarity", "score", "share"])
    if named_loops:
        say("loops")
        loops = _loops(model, fit.values(code), named_loops, float(fit.fitted["time"].max()))
    say("levers")
    if search is None:
        search = lever_searches(fit, [code], draws, budget, seed, population, generations)[0][0]
    info = published.areas(tab)
    region = info.loc[info["area_code"] == code, "region_name"]
    return AuthorityBrief(
        area_code=code, area_name=str(row["area_name"]), model=fit.model, spec=fit.spec,
        pooling=fit.pooling, standing=stand, position=position, series=series, loops=loops,
        levers=search.levers, front=search.front,
        settings={"region": str(region.iloc[0]) if len(region) else "", **regime,
                  "draws": draws, "budget_million": budget, "lever_runs": search.runs,
                  "population": population, "generations": generations,
                  "robust_quantile": ROBUST_Q, "policies_judged": len(search.evaluated),
                  "lever_seconds": search.seconds, **_skill(table, code),
                  "today": float(fit.fitted["time"].max()),
                  "last_year": int(fit.fitted["year"].max()), "fit_until": fit.fit_until,
                  "authorities_fitted": len(fit.fitted_codes), "notes": str(row["notes"]),
                  "n_obs": int(row["n_obs"]), "seed": seed, **_judgement(fit, code, model),
                  "seconds": round(time.perf_counter() - t0, 1)})


# ---- Ofsted's inadequate judgements, as the fit ran them -------------------------------------

JUDGEMENT = ("Inadequate Judgement", "Inadequate Judgement Size", "Scandal 2008 Size")


def _judgement(fit, code: str, model) -> dict[str, Any]:
    """The inadequate judgements the authority's run carried (their reports' publication months)
    and the fitted size of one, beside the 2008 national scandal's in the same units; empty
    when the run carried none or the size was not fitted."""
    from carespiral.data.inspections import INADEQUATE, judgements
    from carespiral.pysd_runner.calendar import reference_months

    drive, size, national = JUDGEMENT
    d = fit.drivers[(fit.drivers["area_code"] == code) & (fit.drivers["variable"] == drive)]
    p = fit.parameters[(fit.parameters["area_code"] == code)
                       & (fit.parameters["parameter"] == size)]
    if d.empty or p.empty or float(d["value"].max()) <= 0:
        return {}
    d = d.sort_values("time")
    j = judgements(code)
    j = j[j["overall_effectiveness"] == INADEQUATE]
    # a report counts when the run's input is on just after its publication month
    months = reference_months(pd.DatetimeIndex(j["publication_date"]))
    on = j[np.interp(np.asarray(months, dtype=float) + 0.01, d["time"], d["value"]) > 0.5]
    if on.empty:
        return {}
    try:
        ref = float(fit.values(code).get(national, model.parameter(national).default))
    except CarespiralError:  # a model without the national scandal: no comparison
        ref = float("nan")
    r = p.iloc[0]
    by = sorted({str(n) for c, n in zip(on["area_code"], on["area_name"], strict=True)
                 if c != code})
    return {"inadequate_reports": "; ".join(f"{t:%B %Y}" for t in on["publication_date"]),
            "inadequate_predecessors": "; ".join(by),
            "judgement_size": float(r["median"]), "judgement_size_lower": float(r["lower"]),
            "judgement_size_upper": float(r["upper"]), "scandal_2008_size": ref,
            "judgement_pooled": str(getattr(fit, "pooling", "")) == "partial"}


# ---- standing against neighbours and England --------------------------------------------------


def standing(tab: pd.DataFrame, code: str, series: Sequence[str]) -> pd.DataFrame:
    """Per series: the area's latest value against its neighbours, every authority and England
    (counts per 10,000 children)."""
    from carespiral import data as published

    try:
        near = [c for c in published.neighbours(code, tab)["area_code"] if c]
    except CarespiralError:
        near = []
    pop = tab[(tab["series"] == "child_population")].set_index(["area_code", "year"])["value"]
    rows = []
    for s in series:
        d = tab[(tab["series"] == s) & tab["value"].notna()]
        mine = d[d["area_code"] == code]
        if mine.empty or s not in published.SERIES:
            continue
        year = int(mine["year"].max())
        at = d[d["year"] == year].drop_duplicates("area_code", keep="last").set_index(
            "area_code")["value"].astype(float)
        per10k = published.SERIES[s].kind in COUNT_KINDS
        if per10k:
            p = pop.reindex([(c, year) for c in at.index]).to_numpy(dtype=float)
            at = pd.Series(at.to_numpy() / p * 1e4, index=at.index)
        levels = d[d["year"] == year].drop_duplicates("area_code").set_index("area_code")["level"]
        las = at[levels.reindex(at.index).eq("la").to_numpy() & np.isfinite(at.to_numpy())]
        england = at[levels.reindex(at.index).eq("national").to_numpy()]
        value = float(at.get(code, np.nan))
        nv = at.reindex(near).dropna()
        group = pd.concat([nv, pd.Series([value], index=[code])])
        rows.append({
            "series": s, "year": year, "value": value, "per_10k": per10k,
            "unit": published.SERIES[s].unit, "description": published.SERIES[s].description,
            "neighbours": len(nv),
            "neighbours_median": float(nv.median()) if len(nv) else np.nan,
            "neighbours_min": float(nv.min()) if len(nv) else np.nan,
            "neighbours_max": float(nv.max()) if len(nv) else np.nan,
            "rank_neighbours": int((group > value).sum() + 1),
            "rank_england": int((las > value).sum() + 1), "authorities": len(las),
            "england": float(england.iloc[0]) if len(england) else np.nan,
            "england_median_authority": float(las.median()) if len(las) else np.nan})
    return pd.DataFrame(rows)


# ---- the model's view -------------------------------------------------------------------------


def _position(fit, code: str, table, draws: int, seed: int) -> tuple[pd.DataFrame, dict]:
    from carespiral.exploration.authorities import assess_authorities

    if table is None or code not in set(table.table["area_code"]) or pd.isna(
            table.row(code).get("regime_today")):
        table = assess_authorities(fit, draws=draws, seed=seed, codes=[code])
    r = table.row(code)
    rows = [{"role": role, "margin": float(r[f"{role} margin"]),
             "lower": float(r[f"{role} margin lower"]), "upper": float(r[f"{role} margin upper"]),
             "censored": bool(r[f"{role} censored"])}
            for role in table.settings.get("roles", [])]
    regime = {"regime_today": str(r["regime_today"]),
              "collapse_today_share": float(r["collapse_today_share"]),
              "today_criterion": "" if pd.isna(r.get("today_criterion")) else str(
                  r.get("today_criterion")),
              "margin_draws": int(table.settings.get("draws", 0))}
    return pd.DataFrame(rows, columns=["role", "margin", "lower", "upper", "censored"]), regime


def _series(fit, code: str) -> pd.DataFrame:
    f = fit.fitted[fit.fitted["area_code"] == code]
    past = pd.DataFrame({"series": f["series"], "year": f["year"], "observed": f["observed"],
                         "value": f["fitted"], "lower": f["lower"], "upper": f["upper"],
                         "part": "fit"})
    a = fit.forecast[fit.forecast["area_code"] == code]
    ahead = pd.DataFrame({"series": a["series"], "year": a["year"], "observed": np.nan,
                          "value": a["forecast"], "lower": a["lower"], "upper": a["upper"],
                          "part": "forecast"})
    return pd.concat([past, ahead], ignore_index=True)


def _loops(model, values: dict[str, float], named: Sequence[NamedLoop], today: float
           ) -> pd.DataFrame:
    """Simlin's absolute loop scores at `today`, summed under the named loop each loop passes
    through most of; returns the named loops by share of all loops' absolute score."""
    from carespiral.exploration.loops import loop_dominance

    params = {k: v for k, v in values.items() if k in {p.name for p in model.parameters}}
    ld = loop_dominance(model, params)
    times = ld.scores.index.to_numpy(dtype=float)
    at = ld.scores.iloc[int(np.argmin(np.abs(times - today)))]
    total = float(at.abs().sum())
    keys = [frozenset(_py(v) for v in lp.variables) for lp in named]
    score: dict[str, float] = {}
    for lp in ld.loops.itertuples():
        vs = frozenset(v.strip() for v in str(lp.variables).split(" -> "))
        cover = [(len(k & vs) / len(k), len(k), i) for i, k in enumerate(keys)]
        best = max(cover)
        if best[0] >= LOOP_COVER:
            name = named[best[2]].id
            # activity, not direction: a named loop's Simlin loops may pull either way
            score[name] = score.get(name, 0.0) + abs(float(at.get(lp.id, 0.0)))
    rows = [{"id": lp.id, "title": lp.title, "polarity": lp.polarity, "score": score[lp.id],
             "share": abs(score[lp.id]) / total if total else np.nan}
            for lp in named if lp.id in score]
    out = pd.DataFrame(rows, columns=["id", "title", "polarity", "score", "share"])
    return out.sort_values("share", ascending=False, ignore_index=True)


def _py(name: str) -> str:
    return "_".join(name.strip().lower().replace("-", " ").split())


# ---- levers and backtest skill ---------------------------------------------------------------


def lever_searches(fit, codes: Sequence[str], draws: int = 16, budget: float = 1.0,
                   seed: int = 0, population: int = 12, generations: int = 4):
    """The robust lever search of each of `codes`, in lockstep (one batch of margins per
    generation for all of them); returns the searches and the model runs they took."""
    from carespiral.exploration.area_levers import fit_lever_problems, search_levers

    t0 = time.perf_counter()
    problems, margins = fit_lever_problems(fit, codes, draws, budget, seed)
    found = search_levers(problems, margins, budget, population, generations, seed)
    runs = int(margins.runs)  # type: ignore[attr-defined]
    each = (time.perf_counter() - t0) / max(len(codes), 1)
    for f in found:
        f.runs, f.seconds = runs // max(len(codes), 1), round(each, 1)
    return found, runs


def _skill(table, code: str) -> dict[str, Any]:
    """The backtest's skill for the authority from the table, or why there is none."""
    cols = {} if table is None else {c: c for c in table.table.columns
                                     if c.startswith("backtest ")}
    if not cols:
        return {"backtest": "not run: the table of every authority was made without a "
                "backtest (run `carespiral brief --backtest-until YEAR` or give the table one)"}
    r = table.row(code)
    out = {k.removeprefix("backtest "): float(r[k]) for k in cols if pd.notna(r.get(k))}
    if not out:
        return {"backtest": "not available for this authority (too few published values "
                "after the backtest's origin)"}
    return {"backtest": "ok", **{f"backtest_{k}": v for k, v in out.items()},
            "backtest_origin": table.settings.get("backtest_until")}
