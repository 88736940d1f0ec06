"""The exploration report: regimes, scenario discovery, sensitivity, tipping points, policies.

It consumes the result objects of `carespiral.exploration` (ExperimentResult, Discovery,
Sensitivity, Bifurcation, Sweep, PolicyResult) and optionally an ensemble of runs (an xarray
Dataset, run × time, as `Model.run_batch` returns) for fan charts. Any subset may be given; each
draws its own section. Large results are aggregated or sampled for drawing and the page says so.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from carespiral.errors import CarespiralError
from carespiral.pysd_runner.catalog import OUTPUT_ROLES, naming, plain_text

from . import exploration_figures as ef
from . import plausibility as pl
from . import verdicts
from .levers import lever_change, lever_level, lever_range
from .page import Page, PlotlyJs, format_value
from .style import wrap_title

__all__ = ["exploration_page", "exploration_report", "policy_columns"]

_KEYS = {"direction", "step", "param", "param2", "regime"}
MAX_STOCKS = 3  # bifurcation diagrams drawn (one per stock)


def exploration_report(path: str | Path, *, title: str, plotlyjs: PlotlyJs = "inline",
                       **results: Any) -> Path:
    """Write the exploration report to `path`; see `exploration_page` for the results."""
    return exploration_page(title=title, **results).write(path, plotlyjs=plotlyjs)


def exploration_page(
    *,
    title: str,
    experiments: Any = None,
    discovery: Any = None,
    sensitivity: Any = None,
    bifurcation: Any = None,
    sweep: Any = None,
    policy: Any = None,
    regime_map: Any = None,
    ensemble: Any = None,
    ensemble_outputs: Sequence[str] = (),
    units: Mapping[str, str] | None = None,
    map_inputs: tuple[str, str] | None = None,
    subtitle: str = "",
    tipping_default: float | None = None,
    ranges: Any = None,
) -> Page:
    """The exploration report as a `Page`; pass the results you have.

    `map_inputs` picks the two inputs of the regime map (default: the inputs PRIM restricts most,
    else the two with the largest total Sobol index for collapse, else the first two).
    `tipping_default` is the model's default of the tipping parameter (for the margin).
    `ranges` (a `carespiral.data.ranges.ModelRanges`, computed by the command) shades the range
    English authorities have recorded on the tipping figures, marks where results leave it, and
    says so in the verdict; its child population also puts levers set per child in posts.
    Names are shown by their catalogue labels; a verdict opens the page.
    """
    if sweep is not None and getattr(sweep, "kind", "") == "regime_map":
        sweep, regime_map = None, sweep  # the tipping command passes either in one slot
    if all(r is None for r in (experiments, discovery, sensitivity, bifurcation, sweep, policy,
                               regime_map, ensemble)):
        raise CarespiralError("an exploration report needs at least one exploration result")
    units = dict(units or {})
    kids = getattr(ranges, "children", None)
    page = Page(title, subtitle)
    said = []
    if experiments is not None:
        said.append(verdicts.experiments_verdict(experiments, discovery, sensitivity, ranges))
    if bifurcation is not None or sweep is not None or regime_map is not None:
        said.append(verdicts.tipping_verdict(bifurcation, sweep, regime_map, tipping_default,
                                             kids))
        said.append(verdicts.tipping_plausibility(bifurcation, sweep, ranges))
    if policy is not None:
        said.append(verdicts.policy_verdict(policy, kids))
    said = [t for t in said if t]
    if said:
        vsec = page.section("Verdict")
        for text in said:
            vsec.text(text)
    if experiments is not None:
        _experiments(page, experiments, discovery, sensitivity, map_inputs, ranges)
    if discovery is not None:
        _discovery(page, discovery, kids)
    if sensitivity is not None:
        _sensitivity(page, sensitivity)
    if bifurcation is not None or sweep is not None or regime_map is not None:
        _tipping(page, bifurcation, sweep, regime_map, ranges)
    if policy is not None:
        _policy(page, policy, kids)
    if ensemble is not None:
        _fans(page, ensemble, ensemble_outputs, units)
    return page


def _summary_table(result: Any) -> pd.DataFrame:
    def fmt(v: Any) -> str:
        if isinstance(v, int | float):
            return format_value(v)
        if isinstance(v, dict):
            return ", ".join(f"{k} = {fmt(x)}" for k, x in v.items()) or "–"
        if isinstance(v, list | tuple):
            return ", ".join(map(str, v)) or "–"
        return str(v)

    return pd.DataFrame([{"item": k, "value": fmt(v)} for k, v in result.summary().items()])


def _map_inputs(experiments: Any, discovery: Any, sensitivity: Any,
                chosen: tuple[str, str] | None) -> tuple[str, str] | None:
    inputs = list(experiments.design.columns)
    if chosen:
        return chosen
    ranked: list[str] = []
    if discovery is not None and len(discovery.box):
        box = discovery.box
        restricted = box[box["restricted"]]
        order = restricted.sort_values("qp_value") if "qp_value" in box else restricted
        ranked = [f for f in order["factor"] if f in inputs]
    if len(ranked) < 2 and sensitivity is not None and sensitivity.method == "sobol":
        idx = sensitivity.indices
        top = idx[idx["outcome"] == "collapse"].sort_values("ST", ascending=False)
        ranked += [f for f in top["factor"] if f in inputs and f not in ranked]
    ranked += [f for f in inputs if f not in ranked]
    return (ranked[0], ranked[1]) if len(ranked) >= 2 else None


def _lab(name: Any, model: str | None) -> str:
    return naming(str(name), model).label


def _relabel(frame: pd.DataFrame, model: str | None, cols: Any = None) -> pd.DataFrame:
    cols = frame.columns if cols is None else cols
    return frame.rename(columns={c: _lab(c, model) for c in cols})


def _with_unit(fig: Any, axis: str, name: Any, label: str, model: str | None) -> None:
    """An input's axis titled with its unit in words when the catalogue knows it:
    "Compliance burden (index, 1 = 2013-19 recording load)"."""
    unit = naming(str(name), model).unit
    if unit and unit != "unit not given":
        # a vertical title has the plot's height (about 330 px) to itself
        fig.layout[f"{axis}axis"].title.text = wrap_title(f"{label} ({unit})",
                                                          60 if axis == "x" else 36)


def criterion_words(name: str, model: str | None = None) -> str:
    """A collapse criterion's name in words: "awaiting_assessment > 2 x its starting level" ->
    "children awaiting assessment above 2 times its starting level"."""
    text = plain_text(name, model)
    for sign, words in ((" > ", " above "), (" < ", " below "), (" >= ", " at least "),
                        (" <= ", " at most "), (" x ", " times ")):
        text = text.replace(sign, words)
    return text


def _experiments_table(res: Any) -> pd.DataFrame:
    n = len(res.outcomes)
    collapsed = res.outcomes["regime"] == "collapse"
    rows = [("scenarios run", f"{n:,}"),
            ("how they were sampled", {"lhs": "Latin hypercube (evenly spread)",
                                       "sobol": "Sobol sequence", "saltelli": "Saltelli (for "
                                       "sensitivity indices)", "morris": "Morris screening"}.get(
                str(res.settings.get("design")), str(res.settings.get("design")))),
            ("share that collapsed", f"{collapsed.mean():.1%}" if n else "–")]
    crit = res.outcomes.loc[collapsed, "criterion"].value_counts()
    for k, v in crit.items():
        rows.append((f"collapses first flagged by: {criterion_words(str(k), res.model)}",
                     f"{int(v):,}"))
    if collapsed.any():
        t = res.outcomes.loc[collapsed, "collapse_time"]
        rows.append(("half of the collapses had begun by",
                     verdicts.model_date(res.model, float(t.median()))))
    return pd.DataFrame(rows, columns=["what", "value"])


def _experiments(page: Page, res: Any, discovery: Any, sensitivity: Any,
                 map_inputs: tuple[str, str] | None, ranges: Any = None) -> None:
    sec = page.section(
        "Runs and regimes",
        f"{len(res.design):,} scenarios of the model; each is labelled collapse or sustainable "
        "by the collapse criteria.",
    )
    sec.table(_experiments_table(res))
    model = res.model
    design = _relabel(res.design, model)
    factors = [{**f, "name": _lab(f.get("name", ""), model)} for f in res.factors or ()]
    pair = _map_inputs(res, discovery, sensitivity, map_inputs)
    if pair:
        lx, ly = _lab(pair[0], model), _lab(pair[1], model)
        fig, note = ef.regime_map_figure(design, res.outcomes, lx, ly, factors=factors)
        _with_unit(fig, "x", pair[0], lx, model)
        _with_unit(fig, "y", pair[1], ly, model)
        sec.figure(fig, how_to_read=(
            f"Each cell is a range of {lx.lower()} (across) and {ly.lower()} (up); its colour is "
            "the share of scenarios in it that collapsed, from dark (none) to yellow (all). A "
            "sharp edge between dark and yellow is a tipping boundary."), caption=note)
    fig, note = ef.parallel_figure(design, res.outcomes, factors)
    sec.figure(fig, how_to_read=(
        "Each line is one scenario, crossing every input at its place in that input's range. "
        "Where the collapse lines (vermillion) bunch at one end of an input, that input drives "
        "collapse."), caption=note)
    ex = verdicts.experiments_exits(res, ranges)
    if len(ex):
        _recorded_ranges(sec, res, ex, ranges)


def _recorded_ranges(sec: Any, res: Any, ex: pd.DataFrame, ranges: Any) -> None:
    """Each measured peak against the range English authorities have recorded."""
    peaks = ex[ex["outcome"].str.startswith("peak_")] if (
        ex["outcome"].str.startswith("peak_").any()) else ex
    shown = peaks.groupby("variable", sort=False)["outside"].mean().sort_values(
        ascending=False).index[:2]
    for var in shown:
        rows = peaks[peaks["variable"] == var]
        outcome = str(rows["outcome"].iloc[0])
        r = ranges.row(var)
        regimes = res.outcomes.loc[rows["run"], "regime"].astype(str).to_numpy()
        lab = _lab(var, res.model)
        fig = ef.recorded_range_figure(rows["published"].to_numpy(dtype=float), regimes,
                                       float(r["low"]), float(r["high"]), lab, str(r["unit"]),
                                       "highest" if outcome.startswith("peak_") else outcome,
                                       str(r["high_at"]))
        n_out = int(rows["outside"].sum())
        sec.figure(fig, how_to_read=(
            f"Each bar counts scenarios by the {'highest' if outcome.startswith('peak_') else ''}"
            f" {lab.lower()} they reached, put in the published form; the green band is the "
            "range any English authority has recorded. Scenarios to the right of the band are "
            "the model extrapolating past all experience."),
            caption=f"{n_out:,} of {len(rows):,} scenarios leave the recorded range.")


_CONDITION = re.compile(r"^\s*(.+?)\s*(<=|>=|<|>)\s*([-+0-9.eE]+)\s*$")


def rule_words(rule: str, model: str | None = None) -> str:
    """A decision-tree rule in words, one range per input: "Compliance Burden > 1.106 and
    Compliance Burden > 1.184 and Underlying Need <= 0.03255" -> "compliance burden above 1.18
    and underlying need at most 0.0326". A rule it cannot read is returned as it is."""
    bounds: dict[str, list[float]] = {}
    for part in rule.split(" and "):
        m = _CONDITION.match(part)
        if m is None:
            return rule
        name, sign, value = m.group(1), m.group(2), float(m.group(3))
        lo, hi = bounds.setdefault(name, [-math.inf, math.inf])
        if sign in (">", ">="):
            bounds[name][0] = max(lo, value)
        else:
            bounds[name][1] = min(hi, value)
    words = []
    for name, (lo, hi) in bounds.items():
        label = _lab(name, model)
        label = label if label[1:2].isupper() else label[:1].lower() + label[1:]
        if math.isfinite(lo) and math.isfinite(hi):
            words.append(f"{label} from {lo:.3g} to {hi:.3g}")
        elif math.isfinite(lo):
            words.append(f"{label} above {lo:.3g}")
        else:
            words.append(f"{label} at most {hi:.3g}")
    text = " and ".join(words)
    return text[:1].upper() + text[1:]


_BOX_COLUMNS = {"factor": "input", "lower": "box from", "upper": "box to",
                "restricted": "restricted", "qp_value": "chance it is a fluke (quasi-p)",
                "range_lower": "whole range from", "range_upper": "whole range to"}


def _discovery(page: Page, d: Any, children: float | None = None) -> None:
    model = getattr(d, "model", None)
    sec = page.section(
        "Scenario discovery (PRIM)",
        "PRIM narrows the inputs step by step towards the scenarios that collapsed. Coverage is "
        "the share of all collapses inside a box, density the share of the box's scenarios that "
        "collapse.",
    )
    sec.figure(ef.prim_tradeoff_figure(d.trajectory, int(d.chosen)), how_to_read=(
        "Each point is a box; moving right keeps more of the collapses, moving up makes the box "
        "purer. The star is the chosen box; the colour counts the inputs it restricts."))
    if len(d.box):
        box = d.box.assign(factor=[_lab(f, model) for f in d.box["factor"]])
        box.insert(1, "in words", [lever_range(f, lo, hi, model, children) or "–" for f, lo, hi
                                   in zip(d.box["factor"], d.box["lower"], d.box["upper"],
                                          strict=True)])
        sec.figure(ef.prim_box_figure(box), how_to_read=(
            "For each input the grey bar is its whole range and the coloured bar the chosen "
            "box's range; vermillion inputs are restricted, so collapse concentrates there."))
        if "qp_value" in box.columns:  # a reader needs "tiny", not 2.75e-18
            box["qp_value"] = ["below 0.001" if v < 0.001 else f"{v:.2g}" if v == v else "–"
                               for v in pd.to_numeric(box["qp_value"], errors="coerce")]
        sec.table(box.rename(columns=_BOX_COLUMNS),
                  caption=f"The chosen box: coverage {d.coverage:.0%}, density {d.density:.0%}, "
                  f"{d.cases:,} collapses among {d.runs:,} scenarios.")
    if len(d.leaves):
        leaves = d.leaves.assign(rule=[rule_words(str(r), model) for r in d.leaves["rule"]])
        for c in ("collapse_share", "coverage"):
            if c in leaves.columns:
                leaves[c] = [f"{v:.0%}" for v in leaves[c]]
        sec.table(leaves.rename(columns={"collapse_share": "share that collapsed",
                                         "runs": "scenarios"}),
                  caption="A decision tree's leaves: rules that separate collapse from not; "
                  "coverage is the share of all collapses under the rule.")


def _sensitivity(page: Page, s: Any) -> None:
    model = getattr(s, "model", None)
    sec = page.section(
        "Global sensitivity",
        f"{'Sobol indices' if s.method == 'sobol' else 'Morris screening'} from {s.runs:,} runs.",
    )
    indices = s.indices.assign(factor=[_lab(f, model) for f in s.indices["factor"]],
                               outcome=[str(o).replace("_", " ") for o in s.indices["outcome"]])
    for outcome in pd.unique(indices["outcome"]):
        how = ("The longer the bar, the more of the outcome's variation the input explains; "
               "first order counts the input alone, total adds its interactions. Whiskers are "
               "95% confidence intervals." if s.method == "sobol" else
               "mu* ranks inputs by their mean absolute effect; a large sigma means the effect "
               "depends on the other inputs (interactions or nonlinearity).")
        sec.figure(ef.sensitivity_figure(indices, s.method, str(outcome)), how_to_read=how)


def _stocks_shown(b: Any, ranges: Any) -> list[str]:
    """The stocks drawn: those with a published counterpart first (a reader knows them)."""
    stocks = list(b.stocks)
    order_of = {r: i for i, r in enumerate(OUTPUT_ROLES)}
    known = sorted((s for s in stocks if naming(s, b.model).role in order_of),
                   key=lambda s: order_of[naming(s, b.model).role])
    ranged = [s for s in known if ranges is not None and ranges.row(s) is not None]
    order = ranged + [s for s in known if s not in ranged]
    return (order + [s for s in stocks if s not in order])[:MAX_STOCKS]


def _tipping(page: Page, b: Any, sw: Any, rm: Any = None, ranges: Any = None) -> None:
    sec = page.section(
        "Tipping points and hysteresis",
        "Where the equilibria fold back, the system has two stable states for the same setting: "
        "crossing the fold tips it, and turning the setting back is not enough to return.",
    )
    exits = verdicts.tipping_exits(b, sw, ranges)
    kids = getattr(ranges, "children", None)
    if b is not None and len(b.branch):
        p = _lab(b.param, b.model)
        x = b.branch["param"].to_numpy(dtype=float)
        for stock in _stocks_shown(b, ranges):
            nm = naming(stock, b.model)
            fig, n_stable, n_unstable = ef.bifurcation_figure(
                b.branch, b.folds, p, stock, stock_label=nm.label)
            _with_unit(fig, "x", b.param, p, b.model)
            band = pl.add_band(fig, ranges, stock, float(x.min()), float(x.max()), kids,
                               nm.unit) if ranges is not None else None
            pl.add_exits(fig, [e for e in exits if e.variable == stock and
                               e.line.startswith("stable")], f"{p}: %{{x:.4~g}}", nm.unit,
                         ranges, kids)
            sec.figure(fig, how_to_read=(
                f"The lines are where {nm.label.lower()} would settle for each value "
                f"of {p.lower()}: solid where it would return after a push (stable), dashed "
                "where it would run away (unstable); each stretch is one branch. F1, F2 ... mark "
                "folds, the tipping points; a ring marks a change of stability."
                + (" The green band is the range English authorities have recorded (scaled to "
                   "the model's children); a triangle marks where a stable state leaves it."
                   if band is not None else "")),
                caption=f"{n_stable} stable and {n_unstable} unstable stretch"
                f"{'es' if n_unstable != 1 else ''} of equilibria were traced.")
        if len(b.stocks) > MAX_STOCKS:
            sec.note(f"{MAX_STOCKS} of the model's {len(b.stocks)} stocks are drawn (those with "
                     "published figures first); the folds table gives every stock at each "
                     "fold.")
        if len(b.folds):
            folds = b.folds.rename(columns={"kind": "what", "param": p, "direction": "turn"})
            is_fold = (b.folds["kind"] == "fold").to_numpy()
            folds.insert(0, "mark", [f"F{n}" if k else "" for k, n in
                                     zip(is_fold, is_fold.cumsum(), strict=True)])
            # a stock at a fold that is zero up to rounding reads 0, not 4.16e-53
            for c in b.stocks:
                if c in folds.columns:
                    v = pd.to_numeric(folds[c], errors="coerce")
                    scale = float(v.abs().max()) if v.notna().any() else 0.0
                    folds[c] = v.where(v.abs() > 1e-9 * max(scale, 1.0), 0.0)
            sec.table(_relabel(folds, b.model, b.stocks),
                      caption="Folds and changes of stability along the branches.")
    explanation = verdicts.sweep_explanation(b, sw)
    two_params = sw is not None and bool(getattr(sw, "param2", None))
    if sw is not None and len(sw.table) and two_params:
        p1, p2 = _lab(sw.param, sw.model), _lab(sw.param2, sw.model)
        sec.figure(ef.regime_grid_figure(sw.regimes(), p1, p2,
                                         "Hysteresis sweeps: regime by two parameters"),
                   how_to_read=(
                       f"Each cell is one value of {p1.lower()} (across) and {p2.lower()} (up), "
                       "swept up and then down; orange cells are bistable: sustainable when "
                       "approached from below, still collapsed when approached from above."))
    elif sw is not None and len(sw.table):
        p1 = _lab(sw.param, sw.model)
        outputs = [c for c in sw.table.columns if c not in _KEYS
                   and pd.api.types.is_numeric_dtype(sw.table[c])]
        # the main output, and the assessment queue when swept: collapse hides in the queue
        shown = outputs[:1] + [c for c in outputs[1:] if naming(c, sw.model).role ==
                               "awaiting_assessment"][:1]
        for out in shown:
            nm = naming(out, sw.model)
            fig = ef.sweep_figure(sw.table, p1, out, label=nm.label, unit=nm.unit)
            _with_unit(fig, "x", sw.param, p1, sw.model)
            xs = sw.table["param"].to_numpy(dtype=float)
            band = pl.add_band(fig, ranges, out, float(xs.min()), float(xs.max()), kids,
                               nm.unit) if ranges is not None else None
            pl.add_exits(fig, [e for e in exits if e.variable == out and
                               e.line.startswith("the sweep")], f"{p1}: %{{x:.4~g}}", nm.unit,
                         ranges, kids)
            sec.figure(fig, how_to_read=(
                f"{p1} was raised step by step and then lowered again, holding each value "
                f"for {sw.hold:g} months; × marks a collapsed end state. Where the two paths "
                "differ the system remembers its past: hysteresis."
                + (" The green band is the range English authorities have recorded; a "
                   "triangle marks where a leg leaves it." if band is not None else "")))
        thresholds = sw.thresholds()
        if not sw.param2 and "param2" in thresholds.columns:
            thresholds = thresholds.drop(columns="param2")
        sec.table(thresholds.rename(columns={
            "param2": _lab(sw.param2, sw.model) if sw.param2 else "second parameter",
            "tips_up_at": "collapses on the way up at",
            "collapsed_down_to": "still collapsed on the way down at",
            "bistable_points": "values with two possible states"}),
            caption=f"{p1}: where the sweep tips on the way up and where it is still collapsed "
            "on the way down.")
    if explanation:
        sec.text(explanation)
    if rm is not None and len(rm.table):
        shock = rm.shock or {}
        p1, p2 = _lab(rm.param, rm.model), _lab(rm.param2, rm.model)
        sec.figure(ef.regime_grid_figure(rm.table, p1, p2,
                                         "Regime map: undisturbed and shocked runs"),
                   how_to_read=(
                       "Each cell was run undisturbed and with a temporary shock"
                       + (f" of {shock['height']:.4g} on {p1.lower()} for {shock['duration']:g} "
                          "months" if {"height", "duration"} <= set(shock) else "")
                       + ". Blue: sustainable either way; orange: bistable, the shock tips it "
                       "for good; vermillion: collapses even undisturbed."))
        sec.table(rm.thresholds().rename(columns=lambda c: c.replace("_", " ")),
                  caption="Per value of the second parameter: the bistable band and where "
                  "collapse needs no shock.")


def policy_columns(p: Any) -> dict[str, str]:
    """The policy front's outcome columns in words, with their units."""
    n = (getattr(p, "settings", {}) or {}).get("short_run", 24)
    cols = {"cost": "cost (£ million a year)", "collapse_risk": "collapse risk",
            "caseload": "caseload in the worse futures (children per FTE)",
            "max_regret": "largest regret (children per FTE)",
            "short_run_caseload": f"caseload over the first {n:g} months",
            "agency_premium": "agency premium (£ million a year)",
            "recovery_months": "months to recover from a scandal"}
    return cols


def _policy(page: Page, p: Any, children: float | None = None) -> None:
    model = p.model
    base = getattr(p, "baseline", None) or {}
    sec = page.section(
        "Policies",
        f"{len(p.evaluated):,} lever settings evaluated across uncertain futures; the Pareto "
        "front holds those that no other setting beats on cost, collapse risk and caseload at "
        "once. Costs are in £ million a year above doing nothing.",
    )
    levers = [c for c in p.front.columns if c not in policy_columns(p)]
    labels = {c: _lab(c, model) for c in levers}
    fig, note = ef.pareto_figure(p.front, p.evaluated, baseline=getattr(p, "baseline", None),
                                 labels=labels)
    sec.figure(fig, how_to_read=(
        "Each coloured dot is a policy on the front: further left is cheaper, lower is safer; "
        "its colour is the caseload it keeps in the worse futures. Grey dots were beaten by a "
        "front policy; the × is doing nothing."), caption=note)
    front = p.front.copy()
    front["collapse_risk"] = [f"{v:.0%}" for v in front["collapse_risk"]]
    front.insert(0, "what the policy does", [_policy_words(row, levers, base, model, children)
                                             for _, row in p.front.iterrows()])
    units = {c: naming(c, model).unit for c in levers}
    sec.table(front.rename(columns={**{c: f"{labels[c]} ({units[c]})" for c in levers},
                                    **policy_columns(p)}),
              caption="The Pareto front: each policy in words, its lever settings and what "
              "they achieve.")
    if len(p.short_run):
        only = sorted({_lab(x, model) for x in p.short_run.loc[
            p.short_run["verdict"] == "short-run only", "lever"]})
        sec.text("Levers that only look good in the short run: "
                 + (", ".join(only) if only else "none") + ".")
        n = (getattr(p, "settings", {}) or {}).get("short_run", 24)
        sr = p.short_run.assign(lever=[_lab(x, model) for x in p.short_run["lever"]])
        sr.insert(1, "in words", [lever_level(x, v, model, children) for x, v in
                                  zip(p.short_run["lever"], p.short_run["value"], strict=True)])
        sr["collapse_risk_change"] = [f"{v * 100:+.0f} points" for v in sr["collapse_risk_change"]]
        sec.table(sr.rename(columns={
            "setting": "moved to", "value": "value",
            "short_run_caseload_change": f"caseload change, first {n:g} months",
            "long_run_caseload_change": "caseload change, last 12 months",
            "collapse_risk_change": "collapse risk change", "verdict": "verdict"}),
            caption="Each lever alone: 'short-run only' means it eases caseloads at first but "
            "raises them or the collapse risk later.",
            highlight=[i for i, v in enumerate(p.short_run["verdict"]) if v == "short-run only"])
    lc = (getattr(p, "settings", {}) or {}).get("lever_costs", [])
    if lc:
        sec.table(pd.DataFrame([{"lever": _lab(c["lever"], model),
                                 "£ a year per unit more": c["above"],
                                 "£ a year per unit less": c["below"], "how": c["basis"]}
                                for c in lc]),
                  caption="How each lever is costed (per unit of the lever away from its "
                  "default; savings are not counted).")
    uc = (getattr(p, "settings", {}) or {}).get("unit_costs", [])
    if uc:
        sec.table(pd.DataFrame(uc), caption="The unit costs behind them, with their sources. "
                  "'judgement' marks a cost no published figure was found for.")


def _policy_words(row: pd.Series, levers: Sequence[str], base: Mapping[str, Any],
                  model: str | None, children: float | None) -> str:
    """A front policy in words: each lever it moves from doing nothing."""
    said = []
    for c in levers:
        v = float(row[c])
        if c in base:
            d = float(base[c])
            if abs(v - d) > 1e-9 * max(1.0, abs(d)):
                said.append(lever_change(c, v, d, model, children))
        else:
            said.append(lever_level(c, v, model, children))
    return "; ".join(said) or "nothing changed"


def _fans(page: Page, ensemble: Any, outputs: Sequence[str], units: Mapping[str, str],
          model: str | None = None) -> None:
    sec = page.section("Fan charts", "How widely the runs spread over time.")
    names = list(outputs) or [str(v) for v in ensemble.data_vars][:4]
    for name in names:
        nm = naming(name, model, units.get(name))
        fig, note = ef.fan_figure(ensemble, name, nm.unit, label=nm.label)
        sec.figure(fig, how_to_read=(
            "The line is the median run; the dark band holds the middle half of the runs and "
            "the light band 90% of them."), caption=note)
