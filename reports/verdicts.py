"""Verdicts: two to five plain-English sentences computed from an exploration result.

Each report opens with one and each command ends with the same words, so a reader learns first
what the result says, how sure it is and what it cannot say. They use the catalogue's labels
(`carespiral.pysd_runner.catalog.naming`) and never a code name.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from carespiral.pysd_runner.calendar import months_to_dates
from carespiral.pysd_runner.catalog import catalog, naming

from . import plausibility as pl
from .levers import lever_change, lever_level, lever_range

__all__ = [
    "experiments_exits",
    "experiments_plausibility",
    "experiments_verdict",
    "fold_gap",
    "model_date",
    "policy_verdict",
    "sweep_explanation",
    "tipping_exits",
    "tipping_plausibility",
    "tipping_verdict",
]


def _label(name: str, model: str | None) -> str:
    return naming(str(name), model).label


def _g(v: float) -> str:
    return f"{v:,.4g}"


def model_date(model: str | None, months: float) -> str:
    """A model month as a calendar month ("June 2007") for bundled models, else "month 26"."""
    entry = catalog().get(model or "")
    if entry is None or entry.start_date is None or not np.isfinite(months):
        return f"month {months:g}"
    return f"{months_to_dates([months], entry.start_date)[0]:%B %Y}"


def _children(ranges: Any, children: float | None) -> float | None:
    return children if children is not None else getattr(ranges, "children", None)


def experiments_verdict(res: Any, discovery: Any = None, sensitivity: Any = None,
                        ranges: Any = None, children: float | None = None) -> str:
    """The verdict of an exploration; `ranges` (a ModelRanges) adds where runs leave what
    English authorities have recorded, and puts lever ranges in words."""
    kids = _children(ranges, children)
    n = len(res.outcomes)
    collapsed = res.outcomes["regime"] == "collapse"
    share = float(collapsed.mean()) if n else float("nan")
    first = f"Of {n:,} sampled scenarios, {share:.0%} collapsed by the collapse criteria"
    if collapsed.any() and "collapse_time" in res.outcomes:
        # one sentence with the share, so the box and the sensitivity keep their room
        t = float(res.outcomes.loc[collapsed, "collapse_time"].median())
        first += f", half of them by {model_date(res.model, t)}"
    out = [first + "."]
    if discovery is not None and len(getattr(discovery, "box", [])):
        box = discovery.box[discovery.box["restricted"]]
        if len(box):
            parts = []
            for r in box.itertuples(index=False):
                words = lever_range(r.factor, r.lower, r.upper, res.model, kids)
                parts.append(f"{_label(r.factor, res.model).lower()} between {_g(r.lower)} and "
                             f"{_g(r.upper)}" + (f" ({words})" if words else ""))
            out.append("Collapse concentrates where " + " and ".join(parts) + f": that region "
                       f"holds {discovery.coverage:.0%} of the collapses, and "
                       f"{discovery.density:.0%} of its scenarios collapse.")
    if sensitivity is not None and sensitivity.method == "sobol":
        idx = sensitivity.indices
        c = idx[idx["outcome"] == "collapse"].sort_values("ST", ascending=False)
        if len(c):
            top = c.iloc[0]
            name = _label(top["factor"], res.model)
            out.append(f"{name[:1].upper() + name[1:]} matters most for whether the system "
                       f"collapses (it explains {top['ST']:.0%} of the variation with its "
                       "interactions).")
    tail = [experiments_plausibility(res, ranges, kids)] if ranges is not None else []
    if 0 < share < 1 or n == 0:
        tail.append("These are shares of scenarios sampled evenly over the ranges in the spec, "
                    "not probabilities of what will happen.")
    else:
        tail.append("Every scenario ended in the same regime, so these ranges cannot show where "
                    "the system tips; widen them.")
    tail = [t for t in tail if t]
    return " ".join(out[:5 - len(tail)] + tail)


def experiments_exits(res: Any, ranges: Any, children: float | None = None) -> pd.DataFrame:
    """Per run and measured variable: its outcome values in the published form of the range
    any English authority has recorded, and whether they leave it. Columns: run, variable,
    outcome, value (model units), published, low, high (published form), outside, above.
    The child population is the run's own when the design varies it."""
    cols = ["run", "variable", "outcome", "value", "published", "low", "high", "outside",
            "above"]
    if ranges is None:
        return pd.DataFrame(columns=cols)
    kids = _children(ranges, children)
    pop_var = None
    if res.model in catalog():
        pop_var = catalog()[res.model].drivers.get("child_population")
    per_run = res.design[pop_var].to_numpy(dtype=float) if pop_var in res.design else None
    frames = []
    for o in (res.settings or {}).get("outcomes", []):
        var, name = o.get("variable"), o.get("name")
        r = ranges.row(var) if var else None
        if r is None or name not in res.outcomes:
            continue
        v = res.outcomes[name].to_numpy(dtype=float)
        if per_run is not None:
            pub = np.array([ranges.published(var, x, c) for x, c in zip(v, per_run,
                                                                       strict=True)])
        else:
            b = ranges.bounds(var, kids)
            if b is None:
                continue
            pub = np.array([ranges.published(var, x, kids) for x in v])
        lo, hi = float(r["low"]), float(r["high"])
        span = max(abs(hi), 1e-12) * pl.TOL
        frames.append(pd.DataFrame({
            "run": res.outcomes.index, "variable": var, "outcome": name, "value": v,
            "published": pub, "low": lo, "high": hi,
            "outside": (pub > hi + span) | (pub < lo - span), "above": pub > hi + span}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)


def experiments_plausibility(res: Any, ranges: Any, children: float | None = None) -> str:
    """One sentence: how many scenarios (and collapses) leave what any English authority has
    recorded, in which measure and how far; "" when the ranges say nothing about the runs."""
    ex = experiments_exits(res, ranges, children)
    if not len(ex):
        return ""
    out_runs = set(ex.loc[ex["outside"], "run"])
    n = len(res.outcomes)
    if not out_runs:
        return ("Every scenario stays within the ranges English authorities have recorded for "
                "the measures compared, so its collapses look like real failing services.")
    collapsed = set(res.outcomes.index[res.outcomes["regime"] == "collapse"])
    share_c = len(out_runs & collapsed) / len(collapsed) if collapsed else 0.0
    worst = ex[ex["outside"]].copy()
    worst["how_far"] = np.where(worst["above"], worst["published"] / worst["high"].where(
        worst["high"] != 0), 1.0)
    top = worst.sort_values("how_far", ascending=False).iloc[0]
    r = ranges.row(top["variable"])
    unit = str(r["unit"])
    fmt = (lambda v: f"{v:,.0f}%") if unit == "%" else (lambda v: f"{v:,.0f} {unit}")
    return (f"{len(out_runs) / n:.0%} of the scenarios"
            + (f" ({share_c:.0%} of those that collapsed)" if collapsed else "")
            + f" go beyond anything an English authority has recorded, furthest in "
            f"{_label(top['variable'], res.model).lower()} ({fmt(top['published'])} against "
            f"at most {fmt(float(r['high']))}, {r['high_at']}): there the model is "
            "extrapolating past all experience, and those collapses are not findings.")


def tipping_exits(bifurcation: Any, sweep: Any, ranges: Any,
                  children: float | None = None) -> list[pl.Exit]:
    """Where the equilibria (stable stretches) and the sweep's legs first leave the range any
    English authority has recorded, for each variable that has one."""
    if ranges is None:
        return []
    kids = _children(ranges, children)
    found: list[pl.Exit] = []
    if bifurcation is not None and len(bifurcation.branch):
        b = bifurcation.branch.reset_index(drop=True)
        seg = (b["stable"] != b["stable"].shift()).cumsum()
        n_stable = 0
        for _, part in b.groupby(seg, sort=False):
            if not bool(part["stable"].iloc[0]):
                continue
            n_stable += 1
            for var in bifurcation.stocks:
                bounds = ranges.bounds(var, kids)
                if bounds is not None:
                    e = pl.exit_of(list(part["param"]), part[var].to_numpy(dtype=float),
                                   bounds, var, f"stable state {n_stable}")
                    if e is not None:
                        found.append(e)
    if sweep is not None and not getattr(sweep, "param2", "") and len(sweep.table):
        for direction in ("up", "down"):
            leg = sweep.table[sweep.table["direction"] == direction].sort_values("step")
            for var in sweep.table.columns:
                bounds = ranges.bounds(str(var), kids)
                if bounds is not None:
                    e = pl.exit_of(list(leg["param"]), leg[var].to_numpy(dtype=float), bounds,
                                   str(var), f"the sweep going {direction}")
                    if e is not None:
                        found.append(e)
    return found


def tipping_plausibility(bifurcation: Any, sweep: Any, ranges: Any,
                         children: float | None = None) -> str:
    """One sentence on where the tipping results leave what English authorities have recorded
    ("" without ranges or anything to compare)."""
    if ranges is None:
        return ""
    first = bifurcation if bifurcation is not None else sweep
    if first is None:
        return ""
    exits = tipping_exits(bifurcation, sweep, ranges, children)
    compared = [v for v in (list(getattr(bifurcation, "stocks", []) or []) + (
        list(sweep.table.columns) if sweep is not None else [])) if ranges.row(str(v)) is not None]
    if not exits:
        if not compared:
            return ""
        return ("The stable states and the sweep stay within the ranges English authorities "
                "have recorded for the measures compared, so the collapsed state looks like a "
                "real failing service rather than an extrapolation.")
    p = _label(first.param, first.model).lower()
    when = {e.at: f"{p} {_g(float(e.at))}" for e in exits}
    labels = {e.variable: _label(e.variable, first.model) for e in exits}
    return pl.exits_sentence(exits, ranges, labels, when, _children(ranges, children),
                             what="state")


def fold_gap(bifurcation: Any, sweep: Any) -> dict[str, float] | None:
    """The upper fold, the first swept value past it, where the sweep tipped, step and hold."""
    if bifurcation is None or sweep is None or getattr(sweep, "param2", ""):
        return None
    folds = bifurcation.folds
    if not len(folds):
        return None
    up = folds[(folds["kind"] == "fold") & (folds["direction"] == "upper")]
    if not len(up):  # no fold: the sustainable state may lose its stability instead
        up = folds[(folds["kind"] == "stability") & (folds["direction"] == "loses")]
    if not len(up):
        return None
    th = sweep.thresholds().iloc[0]
    tips = float(th["tips_up_at"])
    if not np.isfinite(tips):
        return None
    values = np.sort(sweep.table.loc[sweep.table["direction"] == "up", "param"].unique())
    # the fold that the sweep crosses going up: the highest upper fold at or below where it tipped
    cands = up["param"].to_numpy(dtype=float)
    below = cands[cands <= tips + 1e-12]
    fold = float(below.max()) if len(below) else float(cands.min())
    past = values[values >= fold - 1e-12]
    first = float(past.min()) if len(past) else float("nan")
    step = float(np.median(np.diff(values))) if len(values) > 1 else float("nan")
    return {"fold": fold, "first_past": first, "tips": tips, "step": step,
            "hold": float(sweep.hold)}


def sweep_explanation(bifurcation: Any, sweep: Any) -> str:
    """Why the sweep tips later than (or at) the fold, in words, from the two results."""
    g = fold_gap(bifurcation, sweep)
    if g is None:
        return ""
    p = _label(sweep.param, sweep.model)
    text = (f"The sustainable state ends at {p.lower()} = {_g(g['fold'])} (where the "
            f"equilibria fold or lose their stability), but the sweep first collapsed at "
            f"{_g(g['tips'])}.")
    if g["tips"] < g["fold"] - 1e-12:
        return text + (" It tipped before the fold: the collapse criteria fire while the system "
                       "is still on its way along the sustainable branch, before that branch "
                       "ends.")
    text += (f" Part of the gap is the size of the step: the sweep visits values every "
             f"{_g(g['step'])}, and the first value past the fold is {_g(g['first_past'])}.")
    if g["tips"] > g["first_past"] + 1e-12:
        n = round((g["tips"] - g["first_past"]) / g["step"]) if g["step"] else 0
        held = (f"{_g(g['first_past'])} was held {g['hold']:g} months" if n == 1 else
                f"the {n} values from {_g(g['first_past'])} up to {_g(g['tips'])} were each "
                f"held {g['hold']:g} months")
        text += (f" The rest is the hold time: {held}, too short for a system just past its "
                 "fold, which drifts away only slowly at first, to meet the collapse criteria; "
                 "a longer hold would tip closer to the fold.")
    else:
        text += " It tipped at that first value, so the step size explains the whole gap."
    return text


def tipping_verdict(bifurcation: Any, sweep: Any, regime_map: Any = None,
                    default: float | None = None, children: float | None = None) -> str:
    first = next(r for r in (bifurcation, sweep, regime_map) if r is not None)
    model = first.model
    p = _label(first.param, model)
    out: list[str] = []

    def words(v: float) -> str:  # the setting in words, when its role has words
        w = lever_level(first.param, v, model, children)
        return "" if w.startswith(p.lower()) else f" ({w})"

    folds = bifurcation.folds if bifurcation is not None else pd.DataFrame()
    f = folds[folds["kind"] == "fold"] if len(folds) else folds
    upper = f.loc[f["direction"] == "upper", "param"] if len(f) else pd.Series(dtype=float)
    lower = f.loc[f["direction"] == "lower", "param"] if len(f) else pd.Series(dtype=float)
    span = float(np.ptp(bifurcation.branch["param"])) if bifurcation is not None and len(
        bifurcation.branch) else 0.0
    if len(upper) and len(lower) and abs(float(upper.max()) - float(lower.min())) <= 0.01 * span:
        # folds a hair apart are the continuation turning on a kink: one tipping point
        lower = pd.Series(dtype=float)
    if len(upper) and len(lower):
        lo, hi = float(lower.min()), float(upper.max())
        both = lever_range(first.param, min(lo, hi), max(lo, hi), model, children)
        out.append(f"The system has two stable states, sustainable and collapsed, for "
                   f"{p.lower()} between {_g(min(lo, hi))} and {_g(max(lo, hi))}"
                   + (f" ({both})" if both else "")
                   + ": there, history decides which one it is in.")
    elif len(upper):
        out.append(f"The sustainable state ends at a fold at {p.lower()} = "
                   f"{_g(float(upper.min()))}{words(float(upper.min()))}; beyond it the system "
                   "can only collapse.")
    elif bifurcation is not None and len(folds) and (
            (folds["kind"] == "stability") & (folds["direction"] == "loses")).any():
        at = float(folds.loc[(folds["kind"] == "stability") & (folds["direction"] == "loses"),
                             "param"].min())
        upper = pd.Series([at])
        out.append(f"The sustainable state stops being stable at {p.lower()} = {_g(at)}: "
                   "beyond it a small push grows instead of dying away, and the system runs "
                   "away from it.")
    elif bifurcation is not None:
        out.append(f"The equilibria show no fold over the range of {p.lower()} studied, so no "
                   "tipping point was found there.")
    if default is not None and len(upper):
        fold = float(upper.min())
        margin = (fold - default) / default if default else float("nan")
        where = "below" if default < fold else "at or beyond"
        out.append(f"The model's default ({_g(default)}) is {where} that tipping point"
                   + (f", a margin of {margin:.0%}." if default < fold else "."))
    if sweep is not None and not getattr(sweep, "param2", ""):
        th = sweep.thresholds().iloc[0]
        up, down = float(th["tips_up_at"]), float(th["collapsed_down_to"])
        if np.isfinite(up):
            bottom = float(sweep.table["param"].min())
            back = (f"all the way back to {_g(down)}, the bottom of the range studied" if
                    np.isfinite(down) and down <= bottom + 1e-12 else f"back to {_g(down)}")
            out.append(f"Raised step by step, it collapsed at {_g(up)}"
                       + (f" and stayed collapsed when lowered {back}: between the two, history "
                          "decides the state, and turning the setting back is not enough to "
                          "recover." if np.isfinite(down) and down < up else "."))
        else:
            out.append("Raised step by step over the whole range, it never collapsed.")
    if regime_map is not None and len(regime_map.table):
        counts = regime_map.table["regime"].value_counts()
        out.append(f"Of {len(regime_map.table)} settings tried with a temporary shock, "
                   f"{int(counts.get('bistable', 0))} were tipped for good by it.")
    out.append("Thresholds are those of the model with its other parameters fixed; they move "
               "when need, staffing or the calibration change.")
    return " ".join(out[:5])


def policy_verdict(p: Any, children: float | None = None) -> str:
    """The verdict of a policy search; levers moved are said in words (`children`: the child
    population, for levers set per child)."""
    front = p.front
    model = p.model
    out: list[str] = []
    base = getattr(p, "baseline", None) or {}
    if len(front):
        low = front["collapse_risk"].min()
        safe = front[front["collapse_risk"] <= low + 1e-12].sort_values("cost")
        best = safe.iloc[0]
        levers = [c for c in front.columns if c in base and c not in
                  ("cost", "collapse_risk", "caseload", "agency_premium")]
        moved = [lever_change(c, float(best[c]), float(base[c]), model, children)
                 for c in levers
                 if abs(float(best[c]) - float(base[c])) > 1e-9 * max(1.0, abs(float(base[c])))]
        out.append(f"The cheapest policy with the lowest collapse risk ({low:.0%} of the "
                   f"uncertain futures) costs £{best['cost']:,.1f} million a year"
                   + (": " + "; ".join(moved) if moved else "") + ".")
    if {"collapse_risk", "cost"} <= set(base):
        out.append(f"Doing nothing has a collapse risk of {float(base['collapse_risk']):.0%}.")
    only = sorted({_label(x, model) for x in p.short_run.loc[
        p.short_run["verdict"] == "short-run only", "lever"]}) if len(p.short_run) else []
    if only:
        out.append("Only helpful in the short run, then harmful: " + ", ".join(only) + ".")
    lc = (getattr(p, "settings", {}) or {}).get("lever_costs", [])
    uncosted = [_label(c["lever"], model) for c in lc if not c.get("costed", True)]
    text = ("Costs come from published unit costs (salary, employer on-costs, agency day rates) "
            "and stated judgements; read them as orders of magnitude")
    if uncosted:
        text += f", and {', '.join(uncosted)} {'is' if len(uncosted) == 1 else 'are'} not costed"
    out.append(text + ".")
    out.append("Risks are shares of the sampled futures, not forecasts.")
    return " ".join(out[:5])

