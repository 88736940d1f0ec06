"""The exploration report: regimes, scenario discovery, sensitivity, tipping points, policies.

It consumes the result objects of `carespiral.exploration` (ExperimentResult, Discovery,
Sensitivity, Bifurcation, Sweep, PolicyResult) and optionally an ensemble of runs (an xarray
Dataset, run × time, as `Model.run_batch` returns) for fan charts. Any subset may be given; each
draws its own section. Large results are aggregated or sampled for drawing and the page says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from carespiral.errors import CarespiralError

from . import exploration_figures as ef
from .page import Page, PlotlyJs, format_value

__all__ = ["exploration_page", "exploration_report"]

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
) -> Page:
    """The exploration report as a `Page`; pass the results you have.

    `map_inputs` picks the two inputs of the regime map (default: the inputs PRIM restricts most,
    else the two with the largest total Sobol index for collapse, else the first two).
    """
    if sweep is not None and getattr(sweep, "kind", "") == "regime_map":
        sweep, regime_map = None, sweep  # the tipping command passes either in one slot
    if all(r is None for r in (experiments, discovery, sensitivity, bifurcation, sweep, policy,
                               regime_map, ensemble)):
        raise CarespiralError("an exploration report needs at least one exploration result")
    units = dict(units or {})
    page = Page(title, subtitle)
    if experiments is not None:
        _experiments(page, experiments, discovery, sensitivity, map_inputs)
    if discovery is not None:
        _discovery(page, discovery)
    if sensitivity is not None:
        _sensitivity(page, sensitivity)
    if bifurcation is not None or sweep is not None or regime_map is not None:
        _tipping(page, bifurcation, sweep, regime_map)
    if policy is not None:
        _policy(page, policy)
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


def _experiments(page: Page, res: Any, discovery: Any, sensitivity: Any,
                 map_inputs: tuple[str, str] | None) -> None:
    sec = page.section(
        "Runs and regimes",
        f"{len(res.design):,} runs of {res.model}; each is labelled collapse or sustainable by the "
        "collapse criteria.",
    )
    sec.table(_summary_table(res))
    pair = _map_inputs(res, discovery, sensitivity, map_inputs)
    if pair:
        fig, note = ef.regime_map_figure(res.design, res.outcomes, *pair, factors=res.factors)
        sec.figure(fig, how_to_read=(
            f"Each cell is a range of {pair[0]} (across) and {pair[1]} (up); its colour is the "
            "share of runs in it that collapsed, from dark (none) to yellow (all). A sharp edge "
            "between dark and yellow is a tipping boundary."), caption=note)
    fig, note = ef.parallel_figure(res.design, res.outcomes, res.factors)
    sec.figure(fig, how_to_read=(
        "Each line is one run, crossing every input at its place in that input's range. Where "
        "the collapse lines (vermillion) bunch at one end of an input, that input drives collapse."
    ), caption=note)


def _discovery(page: Page, d: Any) -> None:
    sec = page.section(
        "Scenario discovery (PRIM)",
        "PRIM peels the input space towards the runs that collapsed. Coverage is the share of all "
        "collapses inside a box, density the share of the box's runs that collapse.",
    )
    sec.figure(ef.prim_tradeoff_figure(d.trajectory, int(d.chosen)), how_to_read=(
        "Each point is a box; moving right keeps more of the collapses, moving up makes the box "
        "purer. The star is the chosen box; the colour counts the inputs it restricts."))
    if len(d.box):
        sec.figure(ef.prim_box_figure(d.box), how_to_read=(
            "For each input the grey bar is its whole range and the coloured bar the chosen "
            "box's range; vermillion inputs are restricted, so collapse concentrates there."))
        sec.table(d.box, caption=f"The chosen box: coverage {d.coverage:.2f}, density "
                  f"{d.density:.2f}, {d.cases} collapses among {d.runs} runs.")
    if len(d.leaves):
        sec.table(d.leaves, caption="CART leaves: rules that separate collapse from not.")


def _sensitivity(page: Page, s: Any) -> None:
    sec = page.section(
        "Global sensitivity",
        f"{'Sobol indices' if s.method == 'sobol' else 'Morris screening'} from {s.runs:,} runs.",
    )
    for outcome in pd.unique(s.indices["outcome"]):
        how = ("The longer the bar, the more of the outcome's variance the input explains; "
               "first order counts the input alone, total adds its interactions. Whiskers are "
               "95% confidence intervals." if s.method == "sobol" else
               "mu* ranks inputs by their mean absolute effect; a large sigma means the effect "
               "depends on the other inputs (interactions or nonlinearity).")
        sec.figure(ef.sensitivity_figure(s.indices, s.method, str(outcome)), how_to_read=how)


def _tipping(page: Page, b: Any, sw: Any, rm: Any = None) -> None:
    sec = page.section(
        "Tipping points and hysteresis",
        "Where the equilibria fold back, the system has two stable states for the same setting: "
        "crossing the fold tips it, and turning the setting back is not enough to return.",
    )
    if b is not None and len(b.branch):
        for stock in list(b.stocks)[:MAX_STOCKS]:
            sec.figure(ef.bifurcation_figure(b.branch, b.folds, b.param, stock), how_to_read=(
                f"The line is where {stock} would settle for each value of {b.param}: solid "
                "where it would return after a push (stable), dashed where it would run away "
                "(unstable). An × marks a fold, a tipping point; a ring, where stability "
                "changes."))
        if len(b.stocks) > MAX_STOCKS:
            sec.note(f"The first {MAX_STOCKS} of {len(b.stocks)} stocks are drawn; the folds "
                     "table gives every stock at each fold.")
        if len(b.folds):
            sec.table(b.folds, caption="Folds and changes of stability along the branch.")
    two_params = sw is not None and bool(getattr(sw, "param2", None))
    if sw is not None and len(sw.table) and two_params:
        sec.figure(ef.regime_grid_figure(sw.regimes(), sw.param, sw.param2,
                                         "Hysteresis sweeps: regime by two parameters"),
                   how_to_read=(
                       f"Each cell is one value of {sw.param} (across) and {sw.param2} (up), "
                       "swept up and then down; orange cells are bistable: sustainable when "
                       "approached from below, still collapsed when approached from above."))
    elif sw is not None and len(sw.table):
        outputs = [c for c in sw.table.columns if c not in _KEYS
                   and pd.api.types.is_numeric_dtype(sw.table[c])]
        if outputs:
            sec.figure(ef.sweep_figure(sw.table, sw.param, outputs[0]), how_to_read=(
                f"{sw.param} was raised step by step and then lowered again, holding each value "
                f"for {sw.hold:g} months; × marks a collapsed end state. Where the two paths "
                "differ the system remembers its past: hysteresis."))
        thresholds = sw.thresholds()
        if not sw.param2 and "param2" in thresholds.columns:
            thresholds = thresholds.drop(columns="param2")
        sec.table(thresholds, caption="Where the sweep tips on the way up and where it is "
                  "still collapsed on the way down.")
    if rm is not None and len(rm.table):
        shock = rm.shock or {}
        sec.figure(ef.regime_grid_figure(rm.table, rm.param, rm.param2,
                                         "Regime map: undisturbed and shocked runs"),
                   how_to_read=(
                       "Each cell was run undisturbed and with a temporary shock"
                       + (f" of {shock['height']:.4g} on {rm.param} for {shock['duration']:g} "
                          "months" if {"height", "duration"} <= set(shock) else "")
                       + ". Blue: sustainable either way; orange: bistable, the shock tips it "
                       "for good; vermillion: collapses even undisturbed."))
        sec.table(rm.thresholds(), caption="Per value of the second parameter: the bistable "
                  "band and where collapse needs no shock.")


def _policy(page: Page, p: Any) -> None:
    sec = page.section(
        "Policies",
        f"{len(p.evaluated):,} lever settings evaluated across uncertain futures; the Pareto "
        "front holds those that no other setting beats on every objective at once.",
    )
    fig, note = ef.pareto_figure(p.front, p.evaluated, baseline=getattr(p, "baseline", None))
    sec.figure(fig, how_to_read=(
        "Each coloured dot is a policy on the front: further left is cheaper, lower is safer; "
        "its colour is the caseload it keeps in the worse futures. Grey dots were dominated."),
        caption=note)
    sec.table(p.front, caption="The Pareto front (levers and objectives).")
    if len(p.short_run):
        only = sorted(set(p.short_run.loc[p.short_run["verdict"] == "short-run only", "lever"]))
        sec.text("Levers that only look good in the short run: "
                 + (", ".join(only) if only else "none") + ".")
        sec.table(p.short_run, caption="Each lever alone: 'short-run only' means it eases "
                  "caseloads at first but raises them or the collapse risk later.",
                  highlight=[i for i, v in enumerate(p.short_run["verdict"])
                             if v == "short-run only"])


def _fans(page: Page, ensemble: Any, outputs: Sequence[str], units: Mapping[str, str]) -> None:
    sec = page.section("Fan charts", "How widely the runs spread over time.")
    names = list(outputs) or [str(v) for v in ensemble.data_vars][:4]
    for name in names:
        fig, note = ef.fan_figure(ensemble, name, units.get(name, ""))
        sec.figure(fig, how_to_read=(
            "The line is the median run; the dark band holds the middle half of the runs and "
            "the light band 90% of them."), caption=note)
