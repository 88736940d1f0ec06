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
- **levers**: a robust lever search on the authority's posterior: every costed lever moved by
  what `budget` £ million a year buys at the authority's own scale (capped at the lever's
  range), each judged over the same posterior draws by the margin to collapse in need it buys
  (paired with the draws' margin without it): median and 10th-percentile gain, and gain per
  £1m. Levers with no direct spending (thresholds, the agency cap) are listed, not ranked:
  their costs fall on children and other services;
- **packages**: every pair of those levers at half the budget each, judged over the same draws
  and ranked robustly, by the gain in the worst tenth of the posterior (then the median), so
  that levers that help (or undo) each other show.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from types import SimpleNamespace
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from carespiral.errors import CarespiralError
from carespiral.results import Result

__all__ = ["LOOP_COVER", "AuthorityBrief", "NamedLoop", "build_brief", "standing"]

LOOP_COVER = 0.8  # share of a named loop's variables a Simlin loop must pass through
YARDSTICK = "underlying_need"  # the margin levers are judged by
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
    packages: pd.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)

    kind: ClassVar[str] = "brief"
    tables: ClassVar[dict[str, str]] = {"standing": "standing.csv", "position": "position.csv",
                                        "series": "series.csv", "loops": "loops.csv",
                                        "levers": "levers.csv", "packages": "packages.csv"}

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
        return out


def build_brief(fit, area: str, table=None, named_loops: Sequence[NamedLoop] | None = None,
                draws: int = 16, budget: float = 1.0, seed: int = 0,
                data: pd.DataFrame | None = None,
                progress: Callable[[str], None] | None = None) -> AuthorityBrief:
    """The brief of `area` (code or name) of `fit`; `table`: an `AuthoritiesTable` holding it
    (else its margins are computed here); `named_loops`: the model's loop inventory (no loop
    section without it); `budget`: £ million a year each lever may spend."""
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
    levers, packages, runs = _levers(model, fit, code, draws, budget, seed)
    info = published.areas(tab)
    region = info.loc[info["area_code"] == code, "region_name"]
    return AuthorityBrief(
        area_code=code, area_name=str(row["area_name"]), model=fit.model, spec=fit.spec,
        pooling=fit.pooling, standing=stand, position=position, series=series, loops=loops,
        levers=levers, packages=packages,
        settings={"region": str(region.iloc[0]) if len(region) else "", **regime,
                  "draws": draws, "budget_million": budget, "lever_runs": runs,
                  "today": float(fit.fitted["time"].max()),
                  "last_year": int(fit.fitted["year"].max()), "fit_until": fit.fit_until,
                  "authorities_fitted": len(fit.fitted_codes), "notes": str(row["notes"]),
                  "n_obs": int(row["n_obs"]), "seed": seed,
                  "seconds": round(time.perf_counter() - t0, 1)})


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


# ---- levers -----------------------------------------------------------------------------------


class _AtScale:
    """A model whose parameter defaults are one authority's values (so that lever costs are
    at its scale: its child population, its funded posts)."""

    def __init__(self, model, values: dict[str, float]) -> None:
        self._m, self._v = model, values
        self.levers = model.levers

    def parameter(self, name: str):
        p = self._m.parameter(name)
        return replace(p, default=float(self._v[p.name])) if p.name in self._v else p

    @property
    def parameters(self):
        return [self.parameter(p.name) for p in self._m.parameters]


def _step(lc, now: float, p, money: float) -> tuple[float, float]:
    """The move of a lever that `money` (£ million a year) buys, capped at its range, and
    what it spends; (0, 0) for a lever with no direct spending."""
    if lc.above > 0 and p.upper > now:
        step = min(money * 1e6 / lc.above, p.upper - now)
        return step, step * lc.above / 1e6
    if lc.below > 0 and p.lower < now:
        step = -min(money * 1e6 / lc.below, now - p.lower)
        return step, -step * lc.below / 1e6
    return 0.0, 0.0


def _levers(model, fit, code: str, draws: int, budget: float, seed: int
            ) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Each costed lever alone at the whole budget, and every pair at half the budget each,
    judged over the same posterior draws (one batch of margins)."""
    from itertools import combinations

    from carespiral.exploration.area_margins import batch_margins
    from carespiral.exploration.authorities import _rows
    from carespiral.exploration.costs import CostModel
    from carespiral.pysd_runner.catalog import label

    values = fit.values(code)
    base, inputs, _ = _rows(fit, [code], draws, seed)
    costs = CostModel().lever_costs(_AtScale(model, values),
                                    [SimpleNamespace(name=v) for v in model.levers.values()])
    role_of = {v: r for r, v in model.levers.items()}
    name = {lc.name: label(role_of[lc.name], model.name) for lc in costs}
    singles, rows = [], []
    for lc in costs:
        p = model.parameter(lc.name)
        now = float(values.get(p.name, p.default))
        step, spend = _step(lc, now, p, budget)
        if spend <= 0:
            rows.append({"lever": name[lc.name], "variable": lc.name, "now": now,
                         "setting": now, "cost_million": 0.0, "ranked": False,
                         "basis": lc.basis})
            continue
        singles.append((lc, now, step, spend))
    for lc, now, _, _ in singles:  # every lever's own value in every row, moved or not
        if lc.name not in base:
            base[lc.name] = now
    # plans: lists of (variable, step); plan 0 changes nothing
    plans: list[list[tuple[str, float]]] = [[]]
    plans += [[(lc.name, step)] for lc, _, step, _ in singles]
    pairs = []
    for a, b in combinations(singles, 2):
        moves, spend = [], 0.0
        for lc, now, _, _ in (a, b):
            st, sp = _step(lc, now, model.parameter(lc.name), budget / 2)
            moves.append((lc.name, st))
            spend += sp
        plans.append(moves)
        pairs.append(spend)
    frames = []  # plan k's rows are the k-th block of `draws` rows
    for moves in plans:
        f = base.copy()
        for var, st in moves:
            p = model.parameter(var)
            f[var] = np.clip(f[var] + st, p.lower, p.upper)
        frames.append(f)
    batch = pd.concat(frames, ignore_index=True)
    n = len(plans)
    ins = {k: (t, np.tile(v, (1, n))) for k, (t, v) in inputs.items()}
    res = batch_margins(model, batch, ins, [YARDSTICK], scenario=fit.scenario or None,
                        points=6, refine=4)
    m = res.margins[YARDSTICK]
    margin = m["margin"].to_numpy(dtype=float).reshape(n, draws)
    censored = m["censored"].to_numpy(dtype=bool).reshape(n, draws)

    def judged(k: int, spend: float) -> dict[str, float]:
        gain = margin[k] - margin[0]  # paired: the same draw with and without the plan
        return {"cost_million": spend, "margin_before": float(np.median(margin[0])),
                "margin_after": float(np.median(margin[k])),
                "gain_median": float(np.median(gain)),
                "gain_p10": float(np.quantile(gain, 0.10)),
                "gain_per_million": float(np.median(gain)) / spend if spend else np.nan,
                "censored_share": float(censored[k].mean())}

    for k, (lc, now, step, spend) in enumerate(singles, start=1):
        per_child = (model.parameter(lc.name).units or "").replace(" ", "") == "FTE/Children"
        scale = float(values.get("Child Population", 1.0)) if per_child else 1.0
        rows.append({"lever": name[lc.name], "variable": lc.name, "now": now,
                     "setting": now + step,
                     # posts per child shown as posts: the authority's own scale
                     "shown_now": now * scale, "shown_setting": (now + step) * scale,
                     "shown_unit": "funded FTE posts" if per_child else "",
                     **judged(k, spend), "ranked": True, "basis": lc.basis})
    out = pd.DataFrame(rows)
    if "gain_per_million" in out:
        out = out.sort_values(["ranked", "gain_per_million"], ascending=[False, False],
                              ignore_index=True, na_position="last")
    packs = [{"levers": " + ".join(name[v] for v, _ in plans[k]),
              "variables": " + ".join(v for v, _ in plans[k]), **judged(k, spend)}
             for k, spend in zip(range(1 + len(singles), n), pairs, strict=True)]
    packages = pd.DataFrame(packs, columns=["levers", "variables", "cost_million",
                                            "margin_before", "margin_after", "gain_median",
                                            "gain_p10", "gain_per_million", "censored_share"])
    # robust: ranked by the gain in the worst tenth of the posterior, then the median
    packages = packages.sort_values(["gain_p10", "gain_median"], ascending=False,
                                    ignore_index=True)
    return out, packages, res.runs
