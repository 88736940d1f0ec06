"""Figures of exploration results: regime map, parallel coordinates, PRIM, Sobol, tipping, policy.

Each function takes one result object of `carespiral.exploration` (or the DataFrames it holds)
and returns a plotly figure plus a sentence saying what was aggregated or sampled, so that a
report of a million runs stays light: maps are binned over all runs, lines are drawn for a seeded
sample, and the page says which.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from carespiral.errors import CarespiralError

from .style import GREY, HIGHLIGHT, PALETTE, apply_layout, colour, wrap_title

__all__ = [
    "bifurcation_figure",
    "fan_figure",
    "parallel_figure",
    "pareto_figure",
    "prim_box_figure",
    "prim_tradeoff_figure",
    "recorded_range_figure",
    "regime_grid_figure",
    "regime_map_figure",
    "sensitivity_figure",
    "sweep_figure",
]

REGIME_COLOURS = {"collapse": HIGHLIGHT, "sustainable": PALETTE[0], "bistable": PALETTE[1]}
MAX_LINES = 400  # runs drawn in parallel coordinates
MAX_MARKERS = 5000  # points drawn in scatter plots
BINS = 24  # most cells per axis of the regime map
MIN_BINS = 6
RUNS_PER_CELL = 5  # aim: enough runs in a cell for its share to mean something


def _regime_colour(regime: str, i: int = 0) -> str:
    return REGIME_COLOURS.get(regime, colour(i + 2))


def _bounds(design: pd.DataFrame, factors: Sequence[dict[str, Any]], name: str) -> tuple[float, float]:
    for f in factors or ():
        if f.get("name") == name and f.get("lower") is not None and f.get("upper") is not None:
            return float(f["lower"]), float(f["upper"])
    col = design[name].to_numpy(dtype=float)
    return float(np.nanmin(col)), float(np.nanmax(col))


def regime_map_figure(
    design: pd.DataFrame, outcomes: pd.DataFrame, x: str, y: str,
    factors: Sequence[dict[str, Any]] = (),
) -> tuple[go.Figure, str]:
    """Share of runs that collapsed in each cell of two inputs, over all runs."""
    for name in (x, y):
        if name not in design.columns:
            raise CarespiralError(f"regime map: {name!r} is not an input of the experiments")
    xs, ys = design[x].to_numpy(dtype=float), design[y].to_numpy(dtype=float)
    collapsed = (outcomes["regime"] == "collapse").to_numpy(dtype=float)
    bins = int(np.clip(np.sqrt(len(design) / RUNS_PER_CELL), MIN_BINS, BINS))
    xe = np.linspace(*_bounds(design, factors, x), bins + 1)
    ye = np.linspace(*_bounds(design, factors, y), bins + 1)
    runs, _, _ = np.histogram2d(xs, ys, bins=[xe, ye])
    hits, _, _ = np.histogram2d(xs, ys, bins=[xe, ye], weights=collapsed)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(runs > 0, hits / runs, np.nan)
    fig = go.Figure(go.Heatmap(
        x=(xe[:-1] + xe[1:]) / 2, y=(ye[:-1] + ye[1:]) / 2, z=share.T * 100,
        customdata=runs.T, zmin=0, zmax=100, colorscale="Cividis",
        colorbar={"title": {"text": "collapsed (%)"}},
        hovertemplate=(f"{x}: %{{x:.4~g}}<br>{y}: %{{y:.4~g}}<br>collapsed: %{{z:.0f}}% of "
                       "%{customdata:.0f} runs<extra></extra>"),
    ))
    apply_layout(fig, title=f"Regime map: collapse share by {x} and {y}", height=480)
    fig.update_xaxes(title_text=x)
    fig.update_yaxes(title_text=y)
    return fig, (f"All {len(design):,} runs binned in a {bins}×{bins} grid "
                 f"(about {len(design) / bins**2:,.0f} runs a cell; empty cells are blank).")


def parallel_figure(
    design: pd.DataFrame, outcomes: pd.DataFrame, factors: Sequence[dict[str, Any]] = (),
    max_lines: int = MAX_LINES, seed: int = 1,
) -> tuple[go.Figure, str]:
    """One line per run across the inputs (each scaled to its range), coloured by regime."""
    names = [f["name"] for f in factors if f.get("name") in design.columns] or list(design.columns)
    regimes = outcomes["regime"].astype(str).to_numpy()
    idx = np.arange(len(design))
    note = f"All {len(design):,} runs drawn."
    if len(idx) > max_lines:
        # sample each regime in proportion, but keep at least a few of a rare regime visible
        rng = np.random.default_rng(seed)
        picks = []
        for r in pd.unique(regimes):
            members = idx[regimes == r]
            k = max(min(len(members), 25), round(max_lines * len(members) / len(idx)))
            picks.append(rng.choice(members, size=min(k, len(members)), replace=False))
        idx = np.sort(np.concatenate(picks))
        note = (f"{len(idx):,} of {len(design):,} runs drawn (a seeded sample in proportion to "
                "each regime, at least 25 of each).")
    scaled = np.column_stack([
        (design[n].to_numpy(dtype=float)[idx] - lo) / ((hi - lo) or 1.0)
        for n in names for lo, hi in [_bounds(design, factors, n)]
    ])
    fig = go.Figure()
    for i, r in enumerate(pd.unique(regimes[idx])):
        rows = scaled[regimes[idx] == r]
        xs: list[float | None] = []
        ys: list[float | None] = []
        for row in rows:
            xs += [*range(len(names)), None]
            ys += [*row.tolist(), None]
        fig.add_trace(go.Scatter(
            x=xs, y=ys, mode="lines", name=f"{r} ({len(rows)})", hoverinfo="skip",
            line={"color": _regime_colour(r, i), "width": 1.2}, opacity=0.5,
        ))
    apply_layout(fig, title="Parallel coordinates of the inputs, coloured by regime", height=440)
    fig.update_xaxes(tickvals=list(range(len(names))), ticktext=names, title_text="input")
    fig.update_yaxes(range=[-0.02, 1.02], tickvals=[0, 0.5, 1],
                     ticktext=["lower bound", "middle", "upper bound"],
                     title_text="position in the input's range")
    return fig, note


def prim_tradeoff_figure(trajectory: pd.DataFrame, chosen: int) -> go.Figure:
    """PRIM's peeling trajectory: coverage against density, the chosen box marked."""
    t = trajectory.reset_index(drop=True)
    fig = go.Figure(go.Scatter(
        x=t["coverage"], y=t["density"], mode="lines+markers", name="boxes",
        marker={"color": t["res_dim"], "colorscale": "Cividis", "size": 8,
                "colorbar": {"title": {"text": "inputs restricted"}}},
        line={"color": GREY, "width": 1},
        customdata=np.column_stack([t.index, t["res_dim"], t.get("mass", t["coverage"] * 0)]),
        hovertemplate=("box %{customdata[0]}: coverage %{x:.2f}, density %{y:.2f}<br>"
                       "%{customdata[1]} inputs restricted, mass %{customdata[2]:.2f}<extra></extra>"),
    ))
    if 0 <= chosen < len(t):
        fig.add_trace(go.Scatter(
            x=[t.loc[chosen, "coverage"]], y=[t.loc[chosen, "density"]], mode="markers",
            name="chosen box", marker={"symbol": "star", "size": 16, "color": HIGHLIGHT},
            hovertemplate="chosen box<extra></extra>",
        ))
    apply_layout(fig, title="PRIM trade-off: coverage against density", height=420)
    fig.update_xaxes(title_text="coverage (share of all collapses in the box)", range=[0, 1.02])
    fig.update_yaxes(title_text="density (share collapsing)", range=[0, 1.02])
    return fig


def prim_box_figure(box: pd.DataFrame) -> go.Figure:
    """The chosen box: each input's full range (grey) and the box's range (vermillion)."""
    b = box.reset_index(drop=True)
    lo_full, hi_full = b["range_lower"].astype(float), b["range_upper"].astype(float)
    span = (hi_full - lo_full).replace(0, 1.0)
    lo = (b["lower"].astype(float) - lo_full) / span
    hi = (b["upper"].astype(float) - lo_full) / span
    fig = go.Figure()
    fig.add_trace(go.Bar(y=b["factor"], x=[1.0] * len(b), base=[0.0] * len(b), orientation="h",
                         name="full range", marker={"color": "#e3e3e3"}, hoverinfo="skip"))
    qp = b["qp_value"] if "qp_value" in b.columns else pd.Series([np.nan] * len(b))
    fig.add_trace(go.Bar(
        y=b["factor"], x=hi - lo, base=lo, orientation="h", name="box",
        marker={"color": [HIGHLIGHT if r else GREY for r in b["restricted"]]},
        customdata=np.column_stack([b["lower"], b["upper"], qp]),
        hovertemplate=("%{y}: %{customdata[0]:.4~g} to %{customdata[1]:.4~g}"
                       "<br>qp value %{customdata[2]:.2g}<extra></extra>"),
    ))
    apply_layout(fig, title="The box where collapse concentrates", height=max(260, 40 * len(b) + 140))
    fig.update_layout(barmode="overlay")
    fig.update_xaxes(range=[-0.02, 1.02], tickvals=[0, 0.5, 1],
                     ticktext=["lower bound", "middle", "upper bound"],
                     title_text="position in the input's range")
    return fig


def sensitivity_figure(indices: pd.DataFrame, method: str, outcome: str) -> go.Figure:
    """Sobol first-order and total indices (or Morris mu* and sigma) of one outcome."""
    d = indices[indices["outcome"] == outcome]
    fig = go.Figure()
    if method == "sobol":
        d = d.sort_values("ST", ascending=True)
        for i, key in enumerate(("S1", "ST")):
            conf = d.get(f"{key}_conf")
            fig.add_trace(go.Bar(
                y=d["factor"], x=d[key], orientation="h", name={"S1": "first order (S1)",
                                                                 "ST": "total (ST)"}[key],
                marker={"color": colour(i)},
                error_x={"type": "data", "array": conf, "visible": conf is not None},
                hovertemplate=f"%{{y}}: {key} %{{x:.3f}}<extra></extra>",
            ))
        xt = "share of the outcome's variance"
    else:
        d = d.sort_values("mu_star", ascending=True)
        fig.add_trace(go.Bar(y=d["factor"], x=d["mu_star"], orientation="h", name="mu*",
                             marker={"color": colour(0)},
                             hovertemplate="%{y}: mu* %{x:.4~g}<extra></extra>"))
        if "sigma" in d.columns:
            fig.add_trace(go.Bar(y=d["factor"], x=d["sigma"], orientation="h", name="sigma",
                                 marker={"color": colour(1)},
                                 hovertemplate="%{y}: sigma %{x:.4~g}<extra></extra>"))
        xt = "elementary effect"
    apply_layout(fig, title=f"What decides {outcome}", height=max(280, 34 * len(d) + 160))
    fig.update_layout(barmode="group")
    fig.update_xaxes(title_text=xt)
    return fig


def _label_rows(xs: Sequence[float], x_range: tuple[float, float], chars: Sequence[int],
                width_px: float = 1000.0, char_px: float = 7.5) -> list[int]:
    """A row for each label (in x order) so that labels in one row do not overlap."""
    lo, hi = x_range
    span = (hi - lo) or 1.0
    ends: list[float] = []  # right edge of the last label in each row, px
    rows = []
    for x, n in zip(xs, chars, strict=True):
        half = n * char_px / 2 + 6
        centre = (x - lo) / span * width_px
        for r, end in enumerate(ends):
            if centre - half > end:
                ends[r] = centre + half
                rows.append(r)
                break
        else:
            ends.append(centre + half)
            rows.append(len(ends) - 1)
    return rows


def bifurcation_figure(branch: pd.DataFrame, folds: pd.DataFrame, param: str,
                       stock: str, stock_label: str | None = None) -> tuple[go.Figure, int, int]:
    """Equilibria of `stock` against `param`: every stretch of the branch drawn (stable solid,
    unstable dashed), folds numbered F1, F2 ... with labels set in rows so none overlap.

    Returns the figure and the numbers of stable and unstable stretches drawn.
    """
    b = branch.reset_index(drop=True)
    name = stock_label or stock
    fig = go.Figure()
    # split the branch into runs of equal stability so each stretch has one line style
    seg = (b["stable"] != b["stable"].shift()).cumsum()
    counts = {True: 0, False: 0}
    for _, part in b.groupby(seg, sort=False):
        stable = bool(part["stable"].iloc[0])
        counts[stable] += 1
        end = part.index[-1]
        if end + 1 < len(b):  # join stretches so the branch is continuous
            part = pd.concat([part, b.iloc[[end + 1]]])
        kind = "stable" if stable else "unstable"
        label = f"{kind} branch {counts[stable]}"
        fig.add_trace(go.Scatter(
            x=part["param"], y=part[stock], mode="lines", name=label, legendgroup=kind,
            line={"color": PALETTE[0] if stable else HIGHLIGHT, "dash": "solid" if stable else "dash",
                  "width": 2.5},
            hovertemplate=f"{param}: %{{x:.4~g}}<br>{name}: %{{y:,.4~g}}<br>{label}<extra></extra>",
        ))
    f = folds[folds["kind"] == "fold"] if len(folds) else folds
    if len(f):
        tags = [f"F{i}" for i in range(1, len(f) + 1)]  # folds numbered among themselves
        fig.add_trace(go.Scatter(
            x=f["param"], y=f[stock], mode="markers", name="fold (tipping point)",
            marker={"symbol": "x", "size": 12, "color": "#000000"}, customdata=tags,
            hovertemplate=f"%{{customdata}}: fold at {param} = %{{x:.4~g}}<extra></extra>",
        ))
        order = np.argsort(f["param"].to_numpy(dtype=float))
        xs = f["param"].to_numpy(dtype=float)[order]
        texts = [f"{tags[i]}: {param} = {f['param'].iloc[i]:.4g}" for i in order]
        x_all = b["param"].to_numpy(dtype=float)
        rows = _label_rows(xs, (float(x_all.min()), float(x_all.max())), [len(t) for t in texts])
        for (i, text, row) in zip(order, texts, rows, strict=True):
            fig.add_annotation(
                x=float(f["param"].iloc[i]), y=float(f[stock].iloc[i]), xref="x", yref="y",
                text=text, showarrow=True, arrowhead=0, arrowwidth=1, arrowcolor="#555",
                ax=0, ay=-28 - 22 * row, font={"size": 11}, bgcolor="rgba(255,255,255,0.85)")
    ch = folds[folds["kind"] == "stability"] if len(folds) else folds
    if len(ch):
        fig.add_trace(go.Scatter(
            x=ch["param"], y=ch[stock], mode="markers", name="change of stability",
            marker={"symbol": "circle-open", "size": 13, "color": "#000000", "line": {"width": 2}},
            customdata=ch["direction"],
            hovertemplate=f"{param} = %{{x:.4~g}}: %{{customdata}} stability<extra></extra>",
        ))
    apply_layout(fig, title=f"Equilibria: {name} against {param}", height=480)
    fig.update_layout(margin={"t": 130})
    fig.update_xaxes(title_text=param)
    fig.update_yaxes(title_text=wrap_title(f"{name} at equilibrium"))
    return fig, counts[True], counts[False]


def regime_grid_figure(table: pd.DataFrame, param: str, param2: str, title: str) -> go.Figure:
    """Regimes on a grid of two parameters: sustainable, bistable (history decides), collapse."""
    order = ["sustainable", "bistable", "collapse"]
    grid = table.pivot_table(index="param2", columns="param", values="regime", aggfunc="first")
    codes = grid.apply(lambda col: col.map({r: i for i, r in enumerate(order)})).to_numpy(
        dtype=float)
    third = 1 / 3
    scale = []
    for i, r in enumerate(order):  # a stepped colour scale: one flat band per regime
        scale += [[i * third, REGIME_COLOURS[r]], [(i + 1) * third, REGIME_COLOURS[r]]]
    fig = go.Figure(go.Heatmap(
        z=codes, x=grid.columns, y=grid.index, zmin=-0.5, zmax=2.5, colorscale=scale,
        customdata=grid.to_numpy(dtype=object),
        colorbar={"tickvals": [0, 1, 2], "ticktext": order},
        hovertemplate=(f"{param}: %{{x:.4~g}}<br>{param2}: %{{y:.4~g}}<br>%{{customdata}}"
                       "<extra></extra>"),
    ))
    apply_layout(fig, title=title, height=460)
    fig.update_xaxes(title_text=param)
    fig.update_yaxes(title_text=param2)
    return fig


def sweep_figure(table: pd.DataFrame, param: str, output: str, label: str | None = None,
                 unit: str = "") -> go.Figure:
    """An output at the end of each hold, going up then down in `param`: hysteresis shows as two
    different paths."""
    fig = go.Figure()
    for i, (direction, dash) in enumerate((("up", "solid"), ("down", "dash"))):
        leg = table[table["direction"] == direction].sort_values("step")
        fig.add_trace(go.Scatter(
            x=leg["param"], y=leg[output], mode="lines+markers", name=f"{param} going {direction}",
            line={"color": colour(i), "dash": dash},
            marker={"symbol": [("x" if r == "collapse" else "circle") for r in leg["regime"]],
                    "size": 8},
            customdata=leg["regime"],
            hovertemplate=(f"{param}: %{{x:.4~g}}<br>{label or output}: %{{y:,.4~g}} {unit}"
                           "<br>regime: %{customdata}<extra></extra>"),
        ))
    apply_layout(fig, title=f"Hysteresis sweep: {label or output} against {param}", height=440)
    values = table[output].to_numpy(dtype=float)
    log = bool(np.all(values > 0) and values.max() / values.min() > 50)  # runaway legs dwarf
    fig.update_xaxes(title_text=param)
    fig.update_yaxes(title_text=wrap_title(f"{label or output} at the end of each hold"
                                           + (f" ({unit})" if unit else "")
                                           + ("; log scale" if log else "")),
                     type="log" if log else "linear")
    return fig


def pareto_figure(front: pd.DataFrame, evaluated: pd.DataFrame | None = None,
                  max_markers: int = MAX_MARKERS, seed: int = 1,
                  baseline: dict[str, Any] | None = None,
                  labels: dict[str, str] | None = None) -> tuple[go.Figure, str]:
    """Policies on the Pareto front: cost against collapse risk, coloured by robust caseload."""
    fig = go.Figure()
    note = ""
    if evaluated is not None and len(evaluated) and {"cost", "collapse_risk"} <= set(evaluated):
        ev = evaluated
        if len(ev) > max_markers:
            ev = ev.sample(max_markers, random_state=seed)
            note = f"{max_markers:,} of {len(evaluated):,} evaluated policies drawn (seeded sample)."
        fig.add_trace(go.Scatter(x=ev["cost"], y=ev["collapse_risk"] * 100, mode="markers",
                                 name="evaluated policies", marker={"color": "#d0d0d0", "size": 5},
                                 hoverinfo="skip"))
    levers = [c for c in front.columns if c not in (
        "cost", "collapse_risk", "caseload", "max_regret", "short_run_caseload",
        "agency_premium", "recovery_months")]
    labels = labels or {}
    hover = ["<br>".join(f"{labels.get(k, k)}: {row[k]:.4g}" for k in levers)
             for _, row in front.iterrows()]
    marker: dict[str, Any] = {"size": 11, "line": {"color": "white", "width": 1}}
    if "caseload" in front.columns:
        marker.update(color=front["caseload"], colorscale="Cividis",
                      colorbar={"title": {"text": "caseload in the<br>worse futures<br>"
                                                  "(children per FTE)"}})
    else:
        marker.update(color=HIGHLIGHT)
    fig.add_trace(go.Scatter(
        x=front["cost"], y=front["collapse_risk"] * 100, mode="markers", name="Pareto front",
        marker=marker, hovertext=hover,
        hovertemplate=("cost £%{x:,.1f} million a year<br>collapse risk %{y:.0f}%<br>"
                       "%{hovertext}<extra></extra>"),
    ))
    if baseline and {"cost", "collapse_risk"} <= set(baseline):
        fig.add_trace(go.Scatter(
            x=[baseline["cost"]], y=[float(baseline["collapse_risk"]) * 100], mode="markers",
            name="doing nothing", marker={"symbol": "x", "size": 14, "color": "#000000"},
            hovertemplate="doing nothing: cost £%{x:,.1f} million a year, risk %{y:.0f}%"
                          "<extra></extra>",
        ))
    apply_layout(fig, title="Policy trade-off: cost against collapse risk", height=460)
    fig.update_xaxes(title_text="cost (£ million a year above doing nothing)")
    fig.update_yaxes(title_text="collapse risk (% of uncertain futures)")
    return fig, note


def fan_figure(ensemble: Any, output: str, unit: str = "",
               quantiles: Sequence[float] = (0.05, 0.25, 0.5, 0.75, 0.95),
               label: str | None = None) -> tuple[go.Figure, str]:
    """Quantile bands of an output over time across an ensemble (xarray Dataset, run × time)."""
    if output not in ensemble:
        raise CarespiralError(f"fan chart: {output!r} is not in the ensemble; it has "
                              + ", ".join(map(str, ensemble.data_vars)))
    name = label or output
    da = ensemble[output].transpose("run", "time")
    values = np.asarray(da.to_numpy(), dtype=float)
    t = np.asarray(ensemble["time"].to_numpy(), dtype=float)
    q = np.nanquantile(values, list(quantiles), axis=0)
    fig = go.Figure()
    k = len(quantiles)
    band_colours = ("rgba(0,114,178,0.15)", "rgba(0,114,178,0.30)")
    for j in range(k // 2):
        lo, hi = q[j], q[k - 1 - j]
        label = f"{quantiles[j] * 100:.0f}–{quantiles[k - 1 - j] * 100:.0f}% of runs"
        fig.add_trace(go.Scatter(x=t, y=hi, mode="lines", line={"width": 0}, showlegend=False,
                                 hoverinfo="skip"))
        fig.add_trace(go.Scatter(
            x=t, y=lo, mode="lines", line={"width": 0}, fill="tonexty", name=label,
            fillcolor=band_colours[min(j, 1)], hoverinfo="skip",
        ))
    mid = q[k // 2]
    fig.add_trace(go.Scatter(
        x=t, y=mid, mode="lines", name="median", line={"color": PALETTE[0], "width": 2.5},
        hovertemplate=f"month %{{x:.1f}}<br>median {name}: %{{y:,.4~g}} {unit}"
                      "<extra></extra>",
    ))
    apply_layout(fig, title=f"Fan chart: {name}", height=420)
    fig.update_xaxes(title_text="Model time (months from April 2005)")
    fig.update_yaxes(title_text=wrap_title(f"{name} ({unit})" if unit else name))
    return fig, f"Quantiles over all {values.shape[0]:,} runs at each of {len(t)} times."


def recorded_range_figure(values: np.ndarray, regimes: np.ndarray, low: float, high: float,
                          label: str, unit: str, stat: str = "highest",
                          high_at: str = "") -> go.Figure:
    """How many scenarios reached each level of a measure (in its published form), stacked by
    regime, against the range any English authority has recorded (a green band)."""
    v = np.asarray(values, dtype=float)
    ok = np.isfinite(v)
    edges = np.histogram_bin_edges(np.concatenate([v[ok], [low, high]]), bins=30)
    fig = go.Figure()
    top = 0.0
    counts_all = np.zeros(len(edges) - 1)
    for i, r in enumerate(pd.unique(regimes)):
        counts, _ = np.histogram(v[ok & (regimes == r)], bins=edges)
        counts_all += counts
        fig.add_trace(go.Bar(
            x=(edges[:-1] + edges[1:]) / 2, y=counts, width=np.diff(edges), name=str(r),
            marker={"color": _regime_colour(str(r), i), "line": {"width": 0}},
            customdata=np.column_stack([edges[:-1], edges[1:]]),
            hovertemplate=(f"{r}: %{{y:,}} scenarios with {stat} {label.lower()} from "
                           "%{customdata[0]:,.4~g} to %{customdata[1]:,.4~g}<extra></extra>")))
    top = float(counts_all.max()) * 1.08 if len(counts_all) else 1.0
    suffix = "%" if unit == "%" else f" {unit}"
    fig.add_trace(go.Scatter(
        x=[low, high, high, low, low], y=[0, 0, top, top, 0], mode="lines", fill="toself",
        fillcolor="rgba(0, 158, 115, 0.13)", line={"color": "rgba(0, 158, 115, 0.55)",
                                                   "width": 1},
        name="range recorded by English authorities", hoveron="fills", hoverinfo="text",
        text=f"Recorded by English authorities: {low:,.4g} to {high:,.4g}{suffix}"
             + (f" (the highest in {high_at})" if high_at else "")))
    fig.data = (fig.data[-1], *fig.data[:-1])
    apply_layout(fig, title=f"{label}: {stat} in each scenario against the recorded range",
                 height=400)
    fig.update_layout(barmode="stack", bargap=0)
    fig.update_xaxes(title_text=wrap_title(f"{stat} {label.lower()} ({unit})", 60))
    fig.update_yaxes(title_text="scenarios")
    return fig
