"""Verdicts: two to five plain-English sentences computed from an exploration result.

Each report opens with one and each command ends with the same words, so a reader learns first
what the result says, how sure it is and what it cannot say. They use the catalogue's labels
(`carespiral.pysd_runner.catalog.naming`) and never a code name.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from carespiral.pysd_runner.catalog import catalog, naming

__all__ = [
    "experiments_verdict",
    "fold_gap",
    "model_date",
    "policy_verdict",
    "sweep_explanation",
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
    d = pd.Timestamp(entry.start_date) + pd.DateOffset(months=round(months))
    return f"{d:%B %Y}"


def experiments_verdict(res: Any, discovery: Any = None, sensitivity: Any = None) -> str:
    n = len(res.outcomes)
    collapsed = res.outcomes["regime"] == "collapse"
    share = float(collapsed.mean()) if n else float("nan")
    out = [f"Of {n:,} sampled scenarios, {share:.0%} collapsed by the collapse criteria."]
    if collapsed.any() and "collapse_time" in res.outcomes:
        t = float(res.outcomes.loc[collapsed, "collapse_time"].median())
        out.append(f"Half of the collapses had begun by {model_date(res.model, t)}.")
    if discovery is not None and len(getattr(discovery, "box", [])):
        box = discovery.box[discovery.box["restricted"]]
        if len(box):
            parts = [f"{_label(r.factor, res.model).lower()} between {_g(r.lower)} and "
                     f"{_g(r.upper)}" for r in box.itertuples(index=False)]
            out.append("Collapse concentrates where " + " and ".join(parts) + f": that region "
                       f"holds {discovery.coverage:.0%} of the collapses, and "
                       f"{discovery.density:.0%} of its scenarios collapse.")
    if sensitivity is not None and sensitivity.method == "sobol":
        idx = sensitivity.indices
        c = idx[idx["outcome"] == "collapse"].sort_values("ST", ascending=False)
        if len(c):
            top = c.iloc[0]
            out.append(f"{_label(top['factor'], res.model)} matters most for whether the system "
                       f"collapses (it explains {top['ST']:.0%} of the variation with its "
                       "interactions).")
    if 0 < share < 1 or n == 0:
        out.append("These are shares of scenarios sampled evenly over the ranges in the spec, "
                   "not probabilities of what will happen.")
    else:
        out.append("Every scenario ended in the same regime, so these ranges cannot show where "
                   "the system tips; widen them.")
    return " ".join(out[:5])


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
        text += (f" The rest is the hold time: the {n} step{'s' if n != 1 else ''} between "
                 f"{_g(g['first_past'])} and {_g(g['tips'])} were each held {g['hold']:g} "
                 "months, too short for a system just past its fold, which drifts away only "
                 "slowly at first, to meet the collapse criteria; a longer hold would tip "
                 "closer to the fold.")
    else:
        text += " It tipped at that first value, so the step size explains the whole gap."
    return text


def tipping_verdict(bifurcation: Any, sweep: Any, regime_map: Any = None,
                    default: float | None = None) -> str:
    first = next(r for r in (bifurcation, sweep, regime_map) if r is not None)
    model = first.model
    p = _label(first.param, model)
    out: list[str] = []
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
        out.append(f"The system has two stable states, sustainable and collapsed, for "
                   f"{p.lower()} between {_g(min(lo, hi))} and {_g(max(lo, hi))}: there, "
                   "history decides which one it is in.")
    elif len(upper):
        out.append(f"The sustainable state ends at a fold at {p.lower()} = "
                   f"{_g(float(upper.min()))}; beyond it the system can only collapse.")
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


def policy_verdict(p: Any) -> str:
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
        moved = [f"{_label(c, model).lower()} {_g(base[c])} to {_g(best[c])}" for c in levers
                 if abs(float(best[c]) - float(base[c])) > 1e-9 * max(1.0, abs(float(base[c])))]
        out.append(f"The cheapest policy with the lowest collapse risk ({low:.0%} of the "
                   f"uncertain futures) costs £{best['cost']:,.1f} million a year"
                   + (" and moves " + ", ".join(moved) if moved else "") + ".")
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

