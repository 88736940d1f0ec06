"""The model report: a picture of the structure (stocks, flows, named loops) and the parameters."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from carespiral.errors import CarespiralError

from .page import Page, PlotlyJs
from .structure import Structure, layout, structure_from
from .style import GREY, HIGHLIGHT, apply_layout, colour

__all__ = ["model_page", "model_report", "parameter_table"]

# marker per node kind: symbol, size, colour
_LOOK = {
    "stock": ("square", 30, "#0072B2"),
    "flow": ("bowtie", 20, "#E69F00"),
    "aux": ("circle", 12, "#009E73"),
    "lookup": ("triangle-up", 10, "#CC79A7"),
    "constant": ("diamond", 8, GREY),
}
_KIND_LABEL = {
    "stock": "stock",
    "flow": "flow",
    "aux": "auxiliary",
    "lookup": "lookup",
    "constant": "constant",
}
PARAMETER_COLUMNS = ["parameter", "value", "unit", "lower", "upper", "description"]


def model_report(
    graph: Any,
    parameters: Any,
    path: str | Path,
    *,
    title: str,
    description: str = "",
    loops: Any = None,
    show_constants: bool = False,
    plotlyjs: PlotlyJs = "inline",
) -> Path:
    """Write the model report to `path`; see `model_page` for the arguments."""
    page = model_page(
        graph, parameters, title=title, description=description, loops=loops,
        show_constants=show_constants,
    )
    return page.write(path, plotlyjs=plotlyjs)


def model_page(
    graph: Any,
    parameters: Any,
    *,
    title: str,
    description: str = "",
    loops: Any = None,
    show_constants: bool = False,
) -> Page:
    """The model report as a `Page`.

    `graph`: the model's dependency graph (nodes typed stock/flow/aux/constant/lookup and edges;
    see `structure_from`). `parameters`: `Model.parameters` (objects with name, units, default,
    lower, upper, description) or a DataFrame with those columns. `loops`: named loops (a mapping
    name -> variables in causal order, or `Loop` objects); each is checked against the graph.
    """
    st = structure_from(graph, loops)
    if not st.nodes:
        raise CarespiralError("the model structure has no variables to draw")
    params = parameter_table(parameters)
    page = Page(title, description)
    counts = pd.Series(list(st.nodes.values())).value_counts()
    summary = ", ".join(
        f"{counts.get(k, 0)} {_plural(_KIND_LABEL[k], counts.get(k, 0))}"
        for k in ("stock", "flow", "aux", "lookup", "constant")
    )
    sec = page.section("Structure", f"The model has {summary}, linked by {len(st.edges)} causal "
                       f"links, and {len(st.loops)} named feedback loop"
                       f"{'s' if len(st.loops) != 1 else ''}.")
    sec.figure(
        structure_figure(st, show_constants=show_constants),
        how_to_read=(
            "Blue squares are stocks (accumulations), orange bow-ties the flows that fill or drain "
            "them (thick blue lines), green dots auxiliary variables; grey arrows point from cause "
            "to effect (vermillion where more of the cause means less of the effect); pink "
            "triangles are nonlinear effects (lookups). Choose a loop in the menu to trace it in colour; hover a variable for its "
            "units and links."
        ),
    )
    if not show_constants:
        n_const = sum(k == "constant" for k in st.nodes.values())
        if n_const:
            sec.note(
                f"{n_const} constants are left out of the picture to keep it readable; they are "
                "listed with their values and bounds under Parameters."
            )
    stocks = _stock_table(st)
    if len(stocks):
        page.section("Stocks and their flows").table(stocks)
    if st.loops:
        page.section(
            "Feedback loops",
            "Each named loop with its variables in causal order; 'closed in the graph' says whether "
            "every step is a real link in the model's equations.",
        ).table(_loop_table(st))
    psec = page.section("Parameters", "Constants a user may change, with units and the bounds "
                        "the model declares (runs outside them are refused).")
    if len(params):
        psec.table(params)
    else:
        psec.note("The model declares no constants.")
    return page


def _plural(word: str, n: int) -> str:
    if n == 1:
        return word
    return word[:-1] + "ies" if word.endswith("y") else word + "s"


def parameter_table(parameters: Any) -> pd.DataFrame:
    """Parameters as a table with columns parameter, value, unit, lower, upper, description."""
    if parameters is None:
        return pd.DataFrame(columns=PARAMETER_COLUMNS)
    if isinstance(parameters, pd.DataFrame):
        frame = parameters.rename(columns={"name": "parameter", "default": "value", "units": "unit"})
        missing = [c for c in ("parameter", "value") if c not in frame.columns]
        if missing:
            raise CarespiralError(
                f"parameter table lacks column(s) {', '.join(missing)}; "
                f"expected {', '.join(PARAMETER_COLUMNS)}"
            )
        for c in PARAMETER_COLUMNS:
            if c not in frame.columns:
                frame[c] = ""
        frame = frame[PARAMETER_COLUMNS]
    else:
        rows = []
        for p in parameters:
            rows.append(
                {
                    "parameter": p.name,
                    "value": p.default,
                    "unit": getattr(p, "units", ""),
                    "lower": getattr(p, "lower", math.nan),
                    "upper": getattr(p, "upper", math.nan),
                    "description": getattr(p, "description", ""),
                }
            )
        frame = pd.DataFrame(rows, columns=PARAMETER_COLUMNS)
    # unbounded sides read better as blanks than as "inf"
    for c in ("lower", "upper"):
        frame[c] = pd.to_numeric(frame[c], errors="coerce").replace([math.inf, -math.inf], math.nan)
    return frame.reset_index(drop=True)


def _stock_table(st: Structure) -> pd.DataFrame:
    rows = []
    for name, kind in st.nodes.items():
        if kind != "stock":
            continue
        flows = [a for a, b in st.pipes() if b == name]
        by = {d: [f for f in flows if st.flow_direction(f, name) == d] for d in ("in", "out", "")}
        row = {"stock": name, "unit": st.units.get(name, ""), "inflows": ", ".join(by["in"]),
               "outflows": ", ".join(by["out"])}
        if by[""]:
            row["flows of unknown direction"] = ", ".join(by[""])
        rows.append(row)
    return pd.DataFrame(rows).fillna("")


def _loop_table(st: Structure) -> pd.DataFrame:
    rows = []
    for lp in st.loops:
        missing = st.missing_links(lp)
        rows.append(
            {
                "loop": lp.name,
                "kind": lp.kind,
                "polarity from the equations": st.polarity(lp) or "unknown",
                "what it does": lp.title,
                "path": " → ".join([*lp.variables, lp.variables[0]]),
                "closed in the graph": "yes" if not missing else
                "no: missing " + "; ".join(f"{a} → {b}" for a, b in missing),
            }
        )
    return pd.DataFrame(rows)


def structure_figure(st: Structure, *, show_constants: bool = False) -> go.Figure:
    """The stock-flow picture: nodes by kind, causal arrows, pipes, loops selectable."""
    # constants have no inputs, so hiding them never breaks a chain of causes; lookups do have
    # one (the WITH LOOKUP input) and stay
    keep = [n for n, k in st.nodes.items() if show_constants or k != "constant"]
    pos = layout(st, keep)
    fig = go.Figure()
    kept = set(keep)
    pipes = [p for p in st.pipes() if p[0] in kept and p[1] in kept]
    pipe_set = set(pipes)
    # material pipes: thick lines between flows and their stocks
    px: list[float | None] = []
    py: list[float | None] = []
    for a, b in pipes:
        px += [pos[a][0], pos[b][0], None]
        py += [pos[a][1], pos[b][1], None]
    fig.add_trace(go.Scatter(x=px, y=py, mode="lines", name="flow into/out of a stock",
                             line={"color": "#0072B2", "width": 5}, opacity=0.35,
                             hoverinfo="skip"))
    # information links as arrows (annotations carry the arrowheads); set in one go, as adding
    # them one by one re-validates the layout each time
    arrows = [
        {"x": pos[b][0], "y": pos[b][1], "ax": pos[a][0], "ay": pos[a][1], "xref": "x",
         "yref": "y", "axref": "x", "ayref": "y", "showarrow": True, "arrowhead": 2,
         "arrowsize": 1, "arrowwidth": 1,
         # negative links (more cause, less effect) in vermillion; positive or unknown grey
         "arrowcolor": HIGHLIGHT if st.signs.get((a, b)) == -1 else "#8a8a8a",
         "standoff": 9, "startstandoff": 6, "opacity": 0.8, "text": ""}
        for a, b in st.edges
        if a in kept and b in kept and a != b and (a, b) not in pipe_set
    ]
    fig.update_layout(annotations=arrows)
    inputs: dict[str, list[str]] = {n: [] for n in st.nodes}
    outputs: dict[str, list[str]] = {n: [] for n in st.nodes}
    for a, b in st.edges:
        inputs[b].append(a)
        outputs[a].append(b)
    for kind in ("stock", "flow", "aux", "lookup", "constant"):
        names = [n for n in keep if st.nodes[n] == kind]
        if not names:
            continue
        symbol, size, col = _LOOK[kind]
        hover = [
            f"<b>{n}</b><br>{_KIND_LABEL[kind]}, {st.units.get(n) or 'units not given'}"
            f"<br>depends on: {', '.join(inputs[n]) or 'nothing'}"
            f"<br>drives: {', '.join(outputs[n]) or 'nothing'}"
            for n in names
        ]
        fig.add_trace(
            go.Scatter(
                x=[pos[n][0] for n in names], y=[pos[n][1] for n in names],
                mode="markers+text", name=_plural(_KIND_LABEL[kind], 2),
                text=names if kind != "constant" else None, textposition="top center",
                textfont={"size": 12 if kind == "stock" else (10 if len(keep) < 50 else 9)},
                marker={"symbol": symbol, "size": size, "color": col,
                        "line": {"color": "white", "width": 1}},
                hovertext=hover, hoverinfo="text",
            )
        )
    n_base = len(fig.data)
    for i, lp in enumerate(st.loops):
        seq = [v for v in lp.variables if v in pos]
        if len(seq) < 2:
            continue
        closed = [*seq, seq[0]]
        fig.add_trace(
            go.Scatter(
                x=[pos[v][0] for v in closed], y=[pos[v][1] for v in closed], mode="lines",
                name=f"{lp.name} {lp.title}".strip(), visible=False,
                line={"color": colour(i + 3), "width": 6}, opacity=0.55, hoverinfo="name",
            )
        )
    n_loops = len(fig.data) - n_base
    if n_loops:
        buttons = [{"label": "no loop", "method": "restyle",
                    "args": [{"visible": [True] * n_base + [False] * n_loops}]}]
        loop_traces = fig.data[n_base:]
        for j, tr in enumerate(loop_traces):
            vis = [True] * n_base + [k == j for k in range(n_loops)]
            buttons.append({"label": tr.name, "method": "restyle", "args": [{"visible": vis}]})
        buttons.append({"label": "all loops", "method": "restyle",
                        "args": [{"visible": [True] * (n_base + n_loops)}]})
        fig.update_layout(updatemenus=[{
            "buttons": buttons, "direction": "down", "x": 1.0, "xanchor": "right", "y": 1.02,
            "yanchor": "bottom", "showactive": True, "bgcolor": "white",
        }])
    apply_layout(fig, title="Stocks, flows and causal links",
                 height=int(min(1100, 560 + 5 * len(keep))))  # room for labels in big models
    fig.update_xaxes(visible=False, range=[-0.08, 1.08])
    fig.update_yaxes(visible=False, range=[-0.08, 1.1])
    fig.update_layout(hovermode="closest", plot_bgcolor="white", dragmode="pan")
    return fig
