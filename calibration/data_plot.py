"""A published series over time as a plotly figure: an area, and for an authority its region
and England beside it (per 10,000 children for counts, so different sizes compare)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from carespiral._atomic import atomic_path
from carespiral.calibration.areas import find_areas
from carespiral.calibration.data import ENGLAND, areas, load
from carespiral.errors import CarespiralError

__all__ = ["data_figure", "write_figure"]

_COUNT_UNITS = ("count", "FTE", "headcount")


def _per_10k(rows: pd.DataFrame, pop: pd.DataFrame) -> pd.Series:
    """Values per 10,000 children, using the ONS estimate for the mid-year nearest the date."""
    p = pop.set_index(["area_code", "year"])["value"]
    # 30 June of the same calendar year is within six months of 31 March and 30 September.
    key = list(zip(rows["area_code"], rows["date"].dt.year, strict=True))
    denom = pd.Series([p.get(k, float("nan")) for k in key], index=rows.index)
    return rows["value"] / denom * 1e4


def data_figure(
    series: str,
    area: str | None = None,
    table: pd.DataFrame | None = None,
    compare: bool = True,
    per_10k: bool | None = None,
) -> go.Figure:
    """The series for `area` (default England) over time; markers show each published value.

    For a local authority the region and England are drawn too (`compare`). Counts are shown
    per 10,000 children when comparing areas of different size (`per_10k`, default: when
    comparing). An area that changed code (a boundary change) is drawn as separate lines.
    """
    t = load() if table is None else table
    if series.lower() not in set(t["series"].str.lower()):
        load(series=series)  # raises UnknownNameError with suggestions
    rows = t[(t["series"].str.lower() == series.lower()) & (t["variant"] == "")]
    codes = find_areas(area, areas(t)) if area else [ENGLAND[0]]
    own = rows[rows["area_code"].isin(codes)]
    if own.empty:
        raise CarespiralError(f"no {series} figures for {area}; `carespiral data list --area "
                              f"{area}` shows what there is")
    lines = [own]
    is_la = (own["level"] == "la").any()
    if compare and is_la:
        for reg in own["region_code"].dropna().unique():
            lines.append(rows[(rows["area_code"] == reg) & (rows["level"] == "regional")])
        lines.append(rows[rows["area_code"] == ENGLAND[0]])
    data = pd.concat(lines, ignore_index=True)
    unit = str(own["unit"].iloc[0])
    scale = (compare and is_la) if per_10k is None else per_10k
    if scale and unit in _COUNT_UNITS:
        pop = t[(t["series"] == "child_population") & (t["variant"] == "")]
        # years without a population estimate (before mid-2012) cannot be scaled: left out
        data = data.assign(value=_per_10k(data, pop)).dropna(subset=["value"])
        unit = f"{unit} per 10,000 children"
    fig = go.Figure()
    for (code, name), g in data.groupby(["area_code", "area_name"], sort=False):
        g = g.sort_values("date")
        label = name if data.loc[data["area_name"] == name, "area_code"].nunique() == 1 \
            else f"{name} ({code})"
        fig.add_trace(go.Scatter(
            x=g["date"], y=g["value"], name=label, mode="lines+markers",
            text=g["period"] + (" " + g["note"]).where(g["note"] != "", ""),
            hovertemplate="%{text}: %{y:,.4g}<extra>" + label + "</extra>",
        ))
    title = f"{series} — {own['area_name'].iloc[0]}"
    fig.update_layout(title=title, xaxis_title="date the figure refers to",
                      yaxis_title=unit, template="plotly_white", hovermode="x unified")
    return fig


def write_figure(fig: go.Figure, path: str | Path) -> Path:
    """Write a self-contained HTML page (plotly.js inline), whole or not at all."""
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise CarespiralError(f"--html {path}: expected a file name ending in .html")
    with atomic_path(path) as tmp:
        fig.write_html(tmp, include_plotlyjs=True, full_html=True)
    return path
