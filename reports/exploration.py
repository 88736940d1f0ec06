"""Exploration reports: collapse regimes and PRIM boxes, Sobol indices, bifurcation diagrams and
regime maps, policy fronts. Each function consumes saved result objects; none runs a model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from carespiral.reports.page import Page
from carespiral.reports.style import GREY, HIGHLIGHT, apply_layout, colour

__all__ = ["exploration_report", "policy_report", "tipping_report"]


def exploration_report(result, discovery=None, sensitivity=None, path: str | Path = "report.html") -> Path:
    """Collapse share, the PRIM trajectory and box, CART leaves and sensitivity indices."""
    s = result.summary()
    page = Page(f"Exploration of {result.model}", f"{s['runs']} runs, design {s['design']}")
    sec = page.section("Regimes", f"{s['collapse_share']:.1%} of runs collapse.")
    frame = result.to_frame()
    names = [f["name"] for f in result.factors]
    if len(names) >= 2:
        fig = go.Figure()
        for label, col in (("sustainable", colour(0)), ("collapse", HIGHLIGHT)):
            sub = frame[frame["regime"] == label]
            fig.add_trace(go.Scattergl(x=sub[names[0]], y=sub[names[1]], mode="markers", name=label,
                                       marker={"color": col, "size": 5, "opacity": 0.7}))
        fig.update_xaxes(title=names[0])
        fig.update_yaxes(title=names[1])
        sec.figure(apply_layout(fig, title="Regime of each run"),
                   "Each dot is one run, placed by its first two factors; orange runs collapsed.")
    crit = pd.DataFrame(list(s.get("criterion_fired_first", {}).items()), columns=["criterion", "runs"])
    if len(crit):
        sec.table(crit, "Criterion that fired first")
    if discovery is not None:
        d = page.section("Scenario discovery (PRIM)",
                         f"Chosen box: coverage {discovery.coverage:.2f}, density {discovery.density:.2f}, "
                         f"mass {discovery.mass:.2f}.")
        tr = discovery.trajectory
        fig = go.Figure(go.Scatter(x=tr["coverage"], y=tr["density"], mode="markers+lines",
                                   marker={"color": tr["res_dim"], "colorscale": "Viridis",
                                           "showscale": True, "colorbar": {"title": "dims"}},
                                   name="peeling trajectory"))
        ch = tr[tr["chosen"]]
        fig.add_trace(go.Scatter(x=ch["coverage"], y=ch["density"], mode="markers", name="chosen",
                                 marker={"color": HIGHLIGHT, "size": 14, "symbol": "star"}))
        fig.update_xaxes(title="coverage")
        fig.update_yaxes(title="density")
        d.figure(apply_layout(fig, title="Peeling trajectory"),
                 "Moving left, boxes get smaller and purer; the star is the box reported below.")
        d.table(discovery.restricted[["factor", "lower", "upper", "qp_value", "range_lower",
                                      "range_upper"]], "Restricted dimensions of the chosen box")
        if len(discovery.leaves):
            d.table(discovery.leaves, "CART leaves (a second view)")
    if sensitivity is not None:
        key = "ST" if sensitivity.method == "sobol" else "mu_star"
        d = page.section("Global sensitivity", f"Method: {sensitivity.method}.")
        fig = go.Figure()
        for i, (outcome, g) in enumerate(sensitivity.indices.groupby("outcome", sort=False)):
            fig.add_trace(go.Bar(x=g["factor"], y=g[key], name=str(outcome), marker_color=colour(i)))
        fig.update_yaxes(title=key)
        d.figure(apply_layout(fig, title=f"{key} by factor and outcome"),
                 "Taller bars: the factor explains more of the outcome's variation.")
        d.table(sensitivity.indices, "Indices")
    return page.write(path)


def tipping_report(bifurcation=None, sweep=None, path: str | Path = "report.html") -> Path:
    """Bifurcation diagram (stable solid, unstable dashed, folds marked) and sweep regime map."""
    title = bifurcation.param if bifurcation is not None else sweep.param
    model = bifurcation.model if bifurcation is not None else sweep.model
    page = Page(f"Tipping points of {model}", f"against {title}")
    if bifurcation is not None:
        br = bifurcation.branch
        stock = bifurcation.stocks[0]
        sec = page.section("Equilibria", "Continuation of the model's equilibria.")
        for i, st in enumerate(bifurcation.stocks):
            fig = go.Figure()
            seg = (br["stable"] != br["stable"].shift()).cumsum()
            for _, g in br.groupby(seg):
                stable = bool(g["stable"].iloc[0])
                fig.add_trace(go.Scatter(x=g["param"], y=g[st], mode="lines", showlegend=False,
                                         line={"color": colour(i), "dash": "solid" if stable else "dash"}))
            if len(bifurcation.folds):
                f = bifurcation.folds
                fig.add_trace(go.Scatter(x=f["param"], y=f[st], mode="markers", name="fold / stability change",
                                         marker={"color": HIGHLIGHT, "size": 10}))
            fig.update_xaxes(title=bifurcation.param)
            fig.update_yaxes(title=st)
            sec.figure(apply_layout(fig, title=f"{st} at equilibrium", height=360),
                       "Solid: stable equilibria; dashed: unstable; dots: folds where branches meet.")
            if st == stock and len(bifurcation.stocks) > 3:
                break
        sec.table(bifurcation.folds, "Folds and stability changes")
    if sweep is not None and sweep.kind == "regime_map":
        sh = sweep.shock
        sec = page.section("Regime map", f"Each cell run undisturbed and with a pulse of {sh['height']:.4g} "
                           f"on {sweep.param} for {sh['duration']:g} months, then {sh['hold']:g} months more.")
        _regime_heatmap(sec, sweep.table, sweep.param, sweep.param2)
        sec.table(sweep.thresholds(), "Bistable band and collapse threshold per value")
    elif sweep is not None:
        sec = page.section("Hysteresis sweeps", f"Each value held {sweep.hold:g} months, up then down.")
        reg = sweep.regimes()
        if sweep.param2:
            _regime_heatmap(sec, reg, sweep.param, sweep.param2)
        else:
            fig = go.Figure()
            tb = sweep.table
            ycol = next(c for c in tb.columns if c not in ("direction", "step", "param", "regime"))
            for i, leg in enumerate(("up", "down")):
                g = tb[tb["direction"] == leg]
                fig.add_trace(go.Scatter(x=g["param"], y=g[ycol], mode="lines+markers", name=leg,
                                         line={"color": colour(i)}))
            fig.update_xaxes(title=sweep.param)
            fig.update_yaxes(title=ycol, type="log" if (tb[ycol] > 0).all() else "linear")
            sec.figure(apply_layout(fig, title="Up and down sweeps"),
                       "Where the two legs part, the state depends on history: hysteresis.")
        sec.table(sweep.thresholds(), "Tipping and recovery thresholds")
    return page.write(path)


def _regime_heatmap(sec, reg: pd.DataFrame, param: str, param2: str) -> None:
    code = {"sustainable": 0, "bistable": 1, "collapse": 2}
    grid = reg.pivot(index="param2", columns="param", values="regime").replace(code)
    fig = go.Figure(go.Heatmap(z=grid.to_numpy(dtype=float), x=grid.columns, y=grid.index,
                               zmin=0, zmax=2, colorscale=[[0, colour(0)], [0.5, GREY], [1, HIGHLIGHT]],
                               colorbar={"tickvals": [0, 1, 2],
                                         "ticktext": ["sustainable", "bistable", "collapse"]}))
    fig.update_xaxes(title=param)
    fig.update_yaxes(title=param2)
    sec.figure(apply_layout(fig, title="Regime map"),
               "Grey cells are bistable: the system is sustainable there, but once tipped it stays collapsed.")


def policy_report(result, path: str | Path = "report.html") -> Path:
    """The Pareto front of cost, collapse risk and caseload, and the short-run check."""
    page = Page(f"Robust policies for {result.model}", f"{len(result.front)} policies on the front")
    sec = page.section("Pareto front")
    fr = result.front
    fig = go.Figure(go.Scatter(
        x=fr["cost"], y=fr["collapse_risk"], mode="markers",
        marker={"color": fr["caseload"], "colorscale": "Viridis", "showscale": True, "size": 10,
                "colorbar": {"title": "caseload"}}, name="front"))
    fig.add_trace(go.Scatter(x=[result.baseline["cost"]], y=[result.baseline["collapse_risk"]],
                             mode="markers", marker={"color": HIGHLIGHT, "size": 14, "symbol": "x"},
                             name="baseline"))
    fig.update_xaxes(title="cost")
    fig.update_yaxes(title="collapse risk")
    sec.figure(apply_layout(fig, title="Cost against collapse risk"),
               "Each dot is a policy no other beats on all three objectives; colour is the robust caseload.")
    sec.table(fr, "Front")
    only = result.short_run_only
    s2 = page.section("Levers that only look good in the short run",
                      ", ".join(only) if only else "None of the levers.")
    s2.table(result.short_run, "Lever at each end of its range against the baseline",
             highlight=np.flatnonzero(result.short_run["verdict"].to_numpy() == "short-run only"))
    return page.write(path)
