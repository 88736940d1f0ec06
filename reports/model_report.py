"""The model report: a picture of the structure (stocks, flows, named loops) and the parameters."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from carespiral.errors import CarespiralError
from carespiral.pysd_runner.catalog import plain_text, plain_unit

from .page import Page, PlotlyJs
from .structure import LABEL_FONT, LABEL_SIZE, Box, Structure, layout, structure_from
from .style import GREY, HIGHLIGHT, apply_layout, colour

__all__ = ["model_page", "model_report", "model_verdict", "parameter_table", "structure_figure"]

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
    page = Page(title, plain_text(description))
    page.section("Verdict", model_verdict(st))
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
            "Blue boxes are stocks (things that accumulate, such as children waiting or social "
            "workers in post); orange boxes are the flows that fill or drain them, joined to them "
            "by thick blue bands; green boxes are other variables; pink boxes are nonlinear "
            "effects. Grey arrows point from cause to effect, vermillion ones where more of the "
            "cause means less of the effect. Choose a loop in the menu to trace it in colour; "
            "hover a box for its units and links. Variables that are linked sit close together."
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


def model_verdict(st: Structure) -> str:
    """Two to five plain sentences on what the structure shows and what it cannot show."""
    n_stock = sum(k == "stock" for k in st.nodes.values())
    closed = [lp for lp in st.loops if not st.missing_links(lp)]
    broken = [lp.name for lp in st.loops if st.missing_links(lp)]
    said = [lp for lp in closed if lp.polarity or re.match(r"^[RB]\d", lp.name)]
    agree = [lp for lp in said if st.polarity(lp) == lp.kind]
    out = [f"This model follows {n_stock} stock{'s' if n_stock != 1 else ''} (things that "
           f"accumulate) linked by {len(st.edges)} cause-and-effect links."]
    if st.loops:
        verb = "is" if len(broken) == 1 else "are"
        gap = (f"; {', '.join(broken)} {verb} not, so the documented story and the equations "
               "disagree there") if broken else ""
        out.append(f"{len(closed)} of its {len(st.loops)} named feedback loops are real cycles "
                   f"in its equations{gap}.")
        if said and st.signs:
            out.append(f"The equations give {len(agree)} of the {len(said)} loops whose kind is "
                       "named (reinforcing or balancing) that same kind.")
    else:
        out.append("No feedback loops were named, so the page cannot check the causal story.")
    out.append("The picture shows which variables affect which, not how strongly: which loop "
               "dominates, and when, depends on the parameters and is found by running the model "
               "(the tipping and exploration reports).")
    return " ".join(out)


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
    # units in words ("children a month", never "Dmnl")
    frame["unit"] = [plain_unit(u if isinstance(u, str) else "", str(n))
                     for u, n in zip(frame["unit"], frame["parameter"], strict=True)]
    # comments written for modellers may name a role by its code name: say its label instead
    frame["description"] = [plain_text(d) if isinstance(d, str) else d
                            for d in frame["description"]]
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
        row = {"stock": name, "unit": plain_unit(st.units.get(name), name), "inflows": ", ".join(by["in"]),
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


# fill and border per node kind: stocks strong, flows warm, auxiliaries plain
_BOX = {
    "stock": ("#d6e9f8", "#0072B2", 2.2),
    "flow": ("#fdebc8", "#E69F00", 1.6),
    "aux": ("#ffffff", "#009E73", 1.2),
    "lookup": ("#f7e1ee", "#CC79A7", 1.2),
    "constant": ("#f2f2f2", GREY, 1.0),
}
PLOT_WIDTH = 1100  # px of plot area on a 1280-px window (page 1180 less padding and margins)


def _edge_end(box: Box, toward: tuple[float, float], pad: float = 2.0) -> tuple[float, float]:
    """Where the segment from `box`'s centre towards a point leaves the box (plus a pad)."""
    dx, dy = toward[0] - box.x, toward[1] - box.y
    if dx == 0 and dy == 0:
        return box.x, box.y
    tx = (box.width / 2 + pad) / abs(dx) if dx else math.inf
    ty = (box.height / 2 + pad) / abs(dy) if dy else math.inf
    t = min(tx, ty, 1.0)
    return box.x + dx * t, box.y + dy * t


def structure_figure(st: Structure, *, show_constants: bool = False) -> go.Figure:
    """The stock-flow picture laid out by Graphviz: boxes by kind, causal arrows, pipes, loops.

    Coordinates are Graphviz points drawn one to one with pixels at the usual plot width, so the
    labels Graphviz measured fit in their boxes and, as the boxes do not overlap, no label covers
    another. A menu highlights one loop at a time.
    """
    # constants have no inputs, so hiding them never breaks a chain of causes; lookups do have
    # one (the WITH LOOKUP input) and stay
    keep = [n for n, k in st.nodes.items() if show_constants or k != "constant"]
    boxes = layout(st, keep)
    xs = [b.x - b.width / 2 for b in boxes.values()] + [b.x + b.width / 2 for b in boxes.values()]
    ys = [b.y - b.height / 2 for b in boxes.values()] + [b.y + b.height / 2 for b in boxes.values()]
    x0, x1, y0, y1 = min(xs) - 6, max(xs) + 6, min(ys) - 6, max(ys) + 6
    scale = min(1.0, PLOT_WIDTH / (x1 - x0))  # px per point
    fig = go.Figure()
    kept = set(keep)
    pipes = [p for p in st.pipes() if p[0] in kept and p[1] in kept]
    pipe_set = set(pipes)
    # material pipes: thick lines between flows and their stocks, under everything else
    px: list[float | None] = []
    py: list[float | None] = []
    for a, b in pipes:
        px += [boxes[a].x, boxes[b].x, None]
        py += [boxes[a].y, boxes[b].y, None]
    fig.add_trace(go.Scatter(x=px, y=py, mode="lines", name="flow into or out of a stock",
                             line={"color": "#0072B2", "width": 7}, opacity=0.3,
                             hoverinfo="skip"))
    # information links as arrows from box edge to box edge (annotations carry the arrowheads)
    arrows = []
    for a, b in st.edges:
        if a not in kept or b not in kept or a == b or (a, b) in pipe_set:
            continue
        sx, sy = _edge_end(boxes[a], (boxes[b].x, boxes[b].y))
        ex, ey = _edge_end(boxes[b], (boxes[a].x, boxes[a].y))
        arrows.append({
            "x": ex, "y": ey, "ax": sx, "ay": sy, "xref": "x", "yref": "y", "axref": "x",
            "ayref": "y", "showarrow": True, "arrowhead": 2, "arrowsize": 1, "arrowwidth": 1,
            # negative links (more cause, less effect) in vermillion; positive or unknown grey
            "arrowcolor": HIGHLIGHT if st.signs.get((a, b)) == -1 else "#8a8a8a",
            "opacity": 0.75, "text": ""})
    shapes = []
    for n in keep:
        b = boxes[n]
        fill, line, width = _BOX[st.nodes[n]]
        shapes.append({"type": "rect", "xref": "x", "yref": "y", "layer": "below",
                       "x0": b.x - b.width / 2, "x1": b.x + b.width / 2,
                       "y0": b.y - b.height / 2, "y1": b.y + b.height / 2,
                       "fillcolor": fill, "line": {"color": line, "width": width}})
    fig.update_layout(annotations=arrows, shapes=shapes)
    inputs: dict[str, list[str]] = {n: [] for n in st.nodes}
    outputs: dict[str, list[str]] = {n: [] for n in st.nodes}
    for a, b in st.edges:
        inputs[b].append(a)
        outputs[a].append(b)
    font = {"family": LABEL_FONT + ", Arial, sans-serif", "size": LABEL_SIZE * scale,
            "color": "#1a1a1a"}
    for kind in ("stock", "flow", "aux", "lookup", "constant"):
        names = [n for n in keep if st.nodes[n] == kind]
        if not names:
            continue
        hover = [
            f"<b>{n}</b><br>{_KIND_LABEL[kind]}, {plain_unit(st.units.get(n), n)}"
            f"<br>depends on: {', '.join(inputs[n]) or 'nothing'}"
            f"<br>drives: {', '.join(outputs[n]) or 'nothing'}"
            for n in names
        ]
        fill, line, _ = _BOX[kind]
        fig.add_trace(go.Scatter(
            x=[boxes[n].x for n in names], y=[boxes[n].y for n in names], mode="text",
            name=_plural(_KIND_LABEL[kind], 2),
            text=[boxes[n].label.replace("\n", "<br>") for n in names],
            textposition="middle center", textfont=font, hovertext=hover, hoverinfo="text",
        ))
        # a legend key in the box style (the text trace itself has no marker to show)
        fig.add_trace(go.Scatter(
            x=[None], y=[None], mode="markers", name=_plural(_KIND_LABEL[kind], 2),
            marker={"symbol": "square", "size": 14, "color": fill,
                    "line": {"color": line, "width": 2}}, hoverinfo="skip", showlegend=True))
        fig.data[-2].showlegend = False
    n_base = len(fig.data)
    for i, lp in enumerate(st.loops):
        seq = [v for v in lp.variables if v in boxes]
        if len(seq) < 2:
            continue
        closed = [*seq, seq[0]]
        fig.add_trace(go.Scatter(
            x=[boxes[v].x for v in closed], y=[boxes[v].y for v in closed], mode="lines",
            name=f"{lp.name} {lp.title}".strip(), visible=False,
            line={"color": colour(i + 3), "width": 7}, opacity=0.5, hoverinfo="name",
        ))
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
            "buttons": buttons, "direction": "down", "x": 1.0, "xanchor": "right", "y": 1.0,
            "yanchor": "bottom", "showactive": True, "bgcolor": "white",
        }])
    top, bottom = 110, 20
    height = int((y1 - y0) * scale) + top + bottom
    apply_layout(fig, title="Stocks, flows and causal links", height=max(360, height))
    fig.update_layout(margin={"l": 10, "r": 10, "t": top, "b": bottom}, hovermode="closest",
                      plot_bgcolor="white", dragmode="pan",
                      legend={"y": 1.0, "yanchor": "bottom"})
    fig.update_xaxes(visible=False, range=[x0, x1], constrain="domain")
    fig.update_yaxes(visible=False, range=[y0, y1], scaleanchor="x", scaleratio=1,
                     constrain="domain")
    return fig
