"""The data report: an area's published series against England and its region, and a ranking.

It consumes the project's tidy long data table (one row per area, series and period; columns
area_code, area_name, level, series, date, value, unit, and optionally period, source, confidence,
note, region_code, region_name) as returned by `carespiral.data.load`, and the area codes of the
area's statistical neighbours (`carespiral.data.neighbours`, looked up by the command). A verdict
opens the page; series are named by the catalogue's labels and their published form ("children
in need on 31 March"); the ranking shows the area, its neighbours, the highest and lowest
authorities, its region and England rather than every authority.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from carespiral.errors import CarespiralError, UnknownNameError

from .data_ranking import data_verdict, ranking_section
from .data_series import describe, is_count, lower_first, per_10k, population, published_form
from .data_series import unit_of as _unit
from .page import Page, PlotlyJs
from .style import HIGHLIGHT, PALETTE, apply_layout, wrap_title

__all__ = ["REQUIRED_COLUMNS", "data_page", "data_report", "describe", "level_of",
           "published_form"]

REQUIRED_COLUMNS = ("area_code", "area_name", "level", "series", "date", "value", "unit")
ENGLAND_COLOUR, REGION_COLOUR = "#000000", PALETTE[0]
AREA_COLOURS = (HIGHLIGHT, PALETTE[4], PALETTE[2])
# drawn by default (when the area has them): the series the models' canonical outputs observe
DEFAULT_SERIES = (
    "referrals", "re_referral_rate", "assessments", "awaiting_assessment", "children_in_need",
    "cp_plans", "s47_enquiries", "social_workers_fte", "agency_fte", "vacancy_rate",
    "turnover_rate", "agency_rate", "caseload",
)
MAX_DEFAULT = 8  # when the area has none of those: at most this many series


def level_of(level: object) -> str:
    """'national', 'regional' or 'la' for the level names the data files use."""
    text = str(level).strip().lower()
    if text.startswith(("nat", "eng", "country")):
        return "national"
    if text.startswith("reg"):
        return "regional"
    return "la"


def data_report(
    table: pd.DataFrame,
    path: str | Path,
    *,
    area: str,
    series: Sequence[str] | None = None,
    region: str | None = None,
    rank_series: str | None = None,
    rank_date: str | pd.Timestamp | None = None,
    title: str | None = None,
    plotlyjs: PlotlyJs = "inline",
    neighbours: Sequence[str] | None = None,
) -> Path:
    """Write the data report for `area` to `path`; see `data_page` for the arguments."""
    page = data_page(
        table, area=area, series=series, region=region, rank_series=rank_series,
        rank_date=rank_date, title=title, neighbours=neighbours,
    )
    return page.write(path, plotlyjs=plotlyjs)


def data_page(
    table: pd.DataFrame,
    *,
    area: str,
    series: Sequence[str] | None = None,
    region: str | None = None,
    rank_series: str | None = None,
    rank_date: str | pd.Timestamp | None = None,
    title: str | None = None,
    neighbours: Sequence[str] | None = None,
) -> Page:
    """The data report as a `Page`.

    `area`: an area code or name (a name matching several codes, e.g. before and after a
    boundary change, draws each code as its own line; series are never spliced). `region`: the
    region's code or name; taken from a region_code column when the table has one. `series`:
    which series to draw (default: the series of the models' canonical outputs the area has,
    else its first eight). `rank_series`/`rank_date`: what
    to rank authorities by (default: the first series, at its latest date with local values).
    `neighbours`: the area codes of its statistical neighbours, shown in the ranking and as a
    band on each figure.
    """
    tab = _validated(table)
    codes = _area_codes(tab, area)
    area_rows = tab[tab["area_code"].isin(codes)]
    area_name = str(area_rows["area_name"].iloc[0])
    region_code = _region_code(tab, codes, region)
    have = list(dict.fromkeys(area_rows["series"]))
    if series:
        for s in series:
            if s not in set(tab["series"]):
                raise UnknownNameError("series", s, tab["series"].unique())
            if s not in have:
                raise CarespiralError(f"{area_name} has no values of series {s!r}")
        chosen = list(series)
    else:
        chosen = [x for x in DEFAULT_SERIES if x in have] or have[:MAX_DEFAULT]
    page = Page(title or f"Published data: {area_name}", "Published statistics for the area, "
                "its region and England.")
    rs = rank_series or next((x for x in chosen if not is_count(tab, x)), chosen[0])
    if rs not in set(tab["series"]):
        raise UnknownNameError("series", rs, tab["series"].unique())
    near = [c for c in (neighbours or []) if c and c not in codes]
    verdict = page.section("Verdict")
    sec = page.section(
        "Series over time",
        "Rates are drawn as published. Counts differ in scale between an authority and England, so "
        "they are drawn per 10,000 children where the child population is known, otherwise as "
        "an index (the area's first year = 100); hover shows the published value.",
    )
    national = tab[tab["_level"] == "national"]
    regional = tab[tab["area_code"] == region_code] if region_code else tab.iloc[0:0]
    for s in chosen:
        fig, mode, left_out = _series_figure(s, tab, codes, regional, national, near)
        how = (
            f"Each line is one area over time; higher means more "
            f"{lower_first(describe(s))}. "
            + {"index": "Lines are indexed to the area's first year: 120 means 20% above "
                        "that year's level. ",
               "per10k": "Counts per 10,000 children, so areas of any size compare; hover "
                         "gives the published count. ",
               "level": f"Values are {published_form(s, _unit(tab, s))}. "}[mode]
            + (f"{left_out:,} published value{'s' if left_out > 1 else ''} from years "
               "without a child population estimate cannot be put per 10,000 children and "
               f"{'are' if left_out > 1 else 'is'} left out. " if left_out else "")
            + "England is black, the region blue, the area vermillion"
            + ("; the orange band spans its statistical neighbours" if near and mode != "index"
               else "")
            + "; hollow markers are values flagged with a note (hover to read it)."
        )
        sec.figure(fig, how_to_read=how)
    if not region_code:
        sec.note("The area's region is not known (no region given and no region_code column), "
                 "so only England is drawn for comparison.")
    facts = ranking_section(page, tab, rs, rank_date, codes, region_code, area_name, near)
    verdict.text(data_verdict(tab, chosen, codes, area_name, national, facts))
    src = area_rows[area_rows["series"].isin(chosen)]
    if "source" in src.columns:
        sources = (src.groupby("series", sort=False)["source"]
                   .agg(lambda v: "; ".join(sorted({str(x) for x in v if pd.notna(x)})))
                   .reset_index())
        sources["series"] = [describe(x) for x in sources["series"]]
        page.section("Sources").table(sources.rename(columns={"series": "series shown"}))
    return page


def _validated(table: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise CarespiralError("the data report needs the tidy data table (a pandas DataFrame)")
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise CarespiralError(
            f"the data table lacks column(s) {', '.join(missing)}; expected the tidy long table "
            f"with {', '.join(REQUIRED_COLUMNS)}"
        )
    if table.empty:
        raise CarespiralError("the data table is empty")
    tab = table.copy()
    if "variant" in tab.columns:  # primary figures only; second sources would double the lines
        tab = tab[tab["variant"].fillna("").astype(str) == ""]
        if tab.empty:
            raise CarespiralError("the data table has no primary figures (variant \"\")")
    tab["date"] = pd.to_datetime(tab["date"])
    tab["value"] = pd.to_numeric(tab["value"], errors="coerce")
    tab["_level"] = tab["level"].map(level_of)
    return tab


def _area_codes(tab: pd.DataFrame, area: str) -> list[str]:
    key = str(area).strip().lower()
    hit = tab[(tab["area_code"].astype(str).str.lower() == key)
              | (tab["area_name"].astype(str).str.lower() == key)]
    if hit.empty:
        known = list(tab["area_name"].dropna().unique()) + list(tab["area_code"].unique())
        raise UnknownNameError("area", area, known)
    return list(dict.fromkeys(hit["area_code"].astype(str)))


def _region_code(tab: pd.DataFrame, codes: list[str], region: str | None) -> str | None:
    regions = tab[tab["_level"] == "regional"]
    if region:
        key = region.strip().lower()
        hit = regions[(regions["area_code"].astype(str).str.lower() == key)
                      | (regions["area_name"].astype(str).str.lower() == key)]
        if hit.empty:
            known = list(regions["area_name"].unique()) + list(regions["area_code"].unique())
            raise UnknownNameError("region", region, known)
        return str(hit["area_code"].iloc[0])
    if "region_code" in tab.columns:
        vals = tab.loc[tab["area_code"].isin(codes), "region_code"].dropna()
        if len(vals):
            return str(vals.iloc[0])
    return None


def _series_figure(
    s: str, tab: pd.DataFrame, codes: list[str], regional: pd.DataFrame, national: pd.DataFrame,
    near: Sequence[str] = (),
) -> tuple[go.Figure, str, int]:
    """The figure of one series, how it is scaled ("level", "per10k" or "index") and how many
    published values were left out for want of a population estimate."""
    unit = _unit(tab, s)
    form = published_form(s, unit)
    label = describe(s)
    fig = go.Figure()
    lines: list[tuple[str, pd.DataFrame, str, str]] = []
    for i, code in enumerate(codes):
        rows = tab[(tab["area_code"] == code) & (tab["series"] == s)]
        name = str(rows["area_name"].iloc[0]) if len(rows) else code
        if len(codes) > 1:
            name += f" ({code})"
        lines.append((name, rows, AREA_COLOURS[i % len(AREA_COLOURS)], "solid"))
    reg = regional[regional["series"] == s]
    if len(reg):
        lines.append((str(reg["area_name"].iloc[0]), reg, REGION_COLOUR, "dash"))
    nat = national[national["series"] == s]
    if len(nat):
        lines.append(("England", nat, ENGLAND_COLOUR, "dot"))
    lines = [(lab, r.sort_values("date").drop_duplicates("date"), c, d) for lab, r, c, d in lines]
    mode = "level"
    if is_count(tab, s):
        # counts scale with an area's size: per 10,000 children where the population is known
        # for every line, else each line indexed to its value at the area's first date
        pop = population(tab)
        scaled = [per_10k(r, pop) for _, r, _, _ in lines]
        ok = all(np.isfinite(v).any() for v in scaled) and np.isfinite(scaled[0]).sum() >= 2
        mode = "per10k" if ok else "index"
    base_date = None
    if mode == "index":
        first = pd.concat([r for _, r, _, _ in lines[: len(codes)]])
        first = first[first["value"].notna() & (first["value"] != 0)]
        base_date = first["date"].min() if len(first) else None
    unscaled = 0  # published values before (or without) a population estimate
    for k, (line_name, rows, col, dash) in enumerate(lines):
        y = rows["value"].to_numpy(dtype=float)
        if mode == "per10k":
            # values without a population estimate cannot be put per 10,000: left out, so the
            # axis does not stretch over years with nothing drawn
            keep = np.isfinite(scaled[k])
            unscaled += int((~keep & np.isfinite(y)).sum())
            rows, y = rows[keep], scaled[k][keep]
        elif mode == "index":
            ok = rows["value"].notna().to_numpy() & (y != 0)
            if base_date is not None:
                ok &= (rows["date"] >= base_date).to_numpy()
            y = y / y[np.flatnonzero(ok)[0]] * 100 if ok.any() else y * np.nan
        notes = (rows["note"].fillna("").astype(str) if "note" in rows.columns
                 else pd.Series([""] * len(rows)))
        flagged = [bool(n.strip()) for n in notes]
        fig.add_trace(go.Scatter(
            x=rows["date"], y=y, name=line_name, mode="lines+markers",
            line={"color": col, "dash": dash, "width": 2.4 if col == HIGHLIGHT else 1.8},
            marker={"color": ["white" if f else col for f in flagged], "size": 7,
                    "line": {"color": col, "width": 1.5}},
            customdata=np.column_stack([rows["value"].to_numpy(dtype=float), notes.to_numpy()]),
            hovertemplate=(
                f"<b>{line_name}</b><br>%{{x|%d %b %Y}}<br>{label}: %{{customdata[0]:,.4~g}} "
                f"({form})"
                + (" = %{y:,.1f} per 10,000 children" if mode == "per10k" else "")
                + "<br>%{customdata[1]}<extra></extra>"
            ),
        ))
    if near and mode != "index":
        _neighbour_band(fig, tab, s, near, mode)
    apply_layout(fig, title=label, height=420)
    fig.update_xaxes(title_text="Date of the published figure")
    base = f"{base_date:%b %Y}" if base_date is not None else "first value"
    ytitle = {"index": f"index ({base} = 100)",
              "per10k": f"{form}, per 10,000 children",
              "level": form}[mode]
    fig.update_yaxes(title_text=wrap_title(ytitle, 44))
    return fig, mode, unscaled


def _neighbour_band(fig: go.Figure, tab: pd.DataFrame, s: str, near: Sequence[str],
                    mode: str) -> None:
    """The lowest to highest of the statistical neighbours at each date (behind the lines)."""
    rows = tab[tab["area_code"].isin(near) & (tab["series"] == s) & tab["value"].notna()]
    if rows.empty:
        return
    rows = rows.assign(v=per_10k(rows, population(tab)) if mode == "per10k" else rows["value"])
    by = rows[np.isfinite(rows["v"])].groupby("date")["v"].agg(["min", "max", "count"])
    by = by[by["count"] >= 2]
    if by.empty:
        return
    x = list(by.index) + list(by.index[::-1])
    y = list(by["max"]) + list(by["min"][::-1])
    fig.add_trace(go.Scatter(
        x=x, y=y, fill="toself", mode="lines", line={"width": 0},
        fillcolor="rgba(230, 159, 0, 0.18)", name="range of its statistical neighbours",
        hoverinfo="skip"))
    fig.data = (fig.data[-1], *fig.data[:-1])
