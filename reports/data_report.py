"""The data report: an area's published series against England and its region, and a ranking.

It consumes the project's tidy long data table (one row per area, series and period; columns
area_code, area_name, level, series, date, value, unit, and optionally period, source, confidence,
note, region_code, region_name) as returned by `carespiral.data.load`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from carespiral.data.series import SERIES
from carespiral.errors import CarespiralError, UnknownNameError

from .page import Page, PlotlyJs
from .style import GREY, HIGHLIGHT, PALETTE, apply_layout, axis_title

__all__ = ["REQUIRED_COLUMNS", "data_page", "data_report", "level_of"]

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
) -> Path:
    """Write the data report for `area` to `path`; see `data_page` for the arguments."""
    page = data_page(
        table, area=area, series=series, region=region, rank_series=rank_series,
        rank_date=rank_date, title=title,
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
) -> Page:
    """The data report as a `Page`.

    `area`: an area code or name (a name matching several codes, e.g. before and after a
    boundary change, draws each code as its own line; series are never spliced). `region`: the
    region's code or name; taken from a region_code column when the table has one. `series`:
    which series to draw (default: the series of the models' canonical outputs the area has,
    else its first eight). `rank_series`/`rank_date`: what
    to rank authorities by (default: the first series, at its latest date with local values).
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
    sec = page.section(
        "Series over time",
        "Rates are drawn as published. Counts differ in scale between an authority and England, so "
        "they are drawn per 10,000 children where the child population is known, otherwise as "
        "an index (the area's first year = 100); hover shows the published value.",
    )
    national = tab[tab["_level"] == "national"]
    regional = tab[tab["area_code"] == region_code] if region_code else tab.iloc[0:0]
    for s in chosen:
        fig, mode = _series_figure(s, tab, codes, regional, national)
        unit = _unit(tab, s)
        how = (
            f"Each line is one area over time; higher means more {s}. "
            + {"index": "Lines are indexed to the area's first year: 120 means 20% above "
                        "that year's level. ",
               "per10k": "Counts per 10,000 children, so areas of any size compare; hover "
                         "gives the published count. ",
               "level": f"Values in {unit or 'published units'}. "}[mode]
            + "England is black, the region blue, the area vermillion; hollow markers are "
            "values flagged with a note (hover to read it)."
        )
        sec.figure(fig, how_to_read=how)
    if not region_code:
        sec.note("The area's region is not known (no region given and no region_code column), "
                 "so only England is drawn for comparison.")
    rs = rank_series or next((x for x in chosen if not _is_count(tab, x)), chosen[0])
    _ranking_section(page, tab, rs, rank_date, codes, region_code, area_name)
    src = area_rows[area_rows["series"].isin(chosen)]
    if "source" in src.columns:
        sources = (src.groupby("series", sort=False)["source"]
                   .agg(lambda v: "; ".join(sorted({str(x) for x in v if pd.notna(x)})))
                   .reset_index())
        page.section("Sources").table(sources)
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


def _unit(tab: pd.DataFrame, series: str) -> str:
    units = tab.loc[tab["series"] == series, "unit"].dropna()
    return str(units.iloc[0]) if len(units) else ""


def _is_rate(unit: str) -> bool:
    u = unit.lower()
    return "%" in u or "per" in u or "rate" in u or "ratio" in u or u in ("1", "dmnl")


def _is_count(tab: pd.DataFrame, series: str) -> bool:
    """Counts (stocks and flows) scale with an area's size; rates and ratios do not."""
    if "kind" in tab.columns:
        kinds = tab.loc[tab["series"] == series, "kind"].dropna()
        if len(kinds):
            return str(kinds.iloc[0]) in ("stock", "flow")
    return not _is_rate(_unit(tab, series))


def describe(series: str) -> str:
    """A readable title for a series: its published description when the project knows it."""
    d = SERIES.get(series)
    return d.description if d is not None else series.replace("_", " ").capitalize()


def _population(tab: pd.DataFrame) -> dict[tuple[str, int], float]:
    """Child population by (area code, calendar year), from a child_population series if any."""
    pop = tab[(tab["series"] == "child_population") & tab["value"].notna()]
    return {(str(c), int(d.year)): float(v)
            for c, d, v in zip(pop["area_code"], pop["date"], pop["value"], strict=True)}


def _per_10k(rows: pd.DataFrame, pop: dict[tuple[str, int], float]) -> np.ndarray:
    """Values per 10,000 children (mid-year estimate of the same calendar year, within six
    months of both the 31 March and the 30 September censuses); NaN without an estimate."""
    denom = np.array([pop.get((str(c), int(d.year)), np.nan)
                      for c, d in zip(rows["area_code"], rows["date"], strict=True)], dtype=float)
    return rows["value"].to_numpy(dtype=float) / denom * 1e4


def _series_figure(
    s: str, tab: pd.DataFrame, codes: list[str], regional: pd.DataFrame, national: pd.DataFrame
) -> tuple[go.Figure, str]:
    """The figure of one series and how it is scaled: "level", "per10k" or "index"."""
    unit = _unit(tab, s)
    fig = go.Figure()
    lines: list[tuple[str, pd.DataFrame, str, str]] = []
    for i, code in enumerate(codes):
        rows = tab[(tab["area_code"] == code) & (tab["series"] == s)]
        label = str(rows["area_name"].iloc[0]) if len(rows) else code
        if len(codes) > 1:
            label += f" ({code})"
        lines.append((label, rows, AREA_COLOURS[i % len(AREA_COLOURS)], "solid"))
    reg = regional[regional["series"] == s]
    if len(reg):
        lines.append((str(reg["area_name"].iloc[0]), reg, REGION_COLOUR, "dash"))
    nat = national[national["series"] == s]
    if len(nat):
        lines.append(("England", nat, ENGLAND_COLOUR, "dot"))
    lines = [(lab, r.sort_values("date").drop_duplicates("date"), c, d) for lab, r, c, d in lines]
    mode = "level"
    if _is_count(tab, s):
        # counts scale with an area's size: per 10,000 children where the population is known
        # for every line, else each line indexed to its value at the area's first date
        pop = _population(tab)
        scaled = [_per_10k(r, pop) for _, r, _, _ in lines]
        ok = all(np.isfinite(v).any() for v in scaled) and np.isfinite(scaled[0]).sum() >= 2
        mode = "per10k" if ok else "index"
    base_date = None
    if mode == "index":
        first = pd.concat([r for _, r, _, _ in lines[: len(codes)]])
        first = first[first["value"].notna() & (first["value"] != 0)]
        base_date = first["date"].min() if len(first) else None
    for k, (label, rows, col, dash) in enumerate(lines):
        y = rows["value"].to_numpy(dtype=float)
        if mode == "per10k":
            y = scaled[k]
        elif mode == "index":
            ok = rows["value"].notna().to_numpy() & (y != 0)
            if base_date is not None:
                ok &= (rows["date"] >= base_date).to_numpy()
            y = y / y[np.flatnonzero(ok)[0]] * 100 if ok.any() else y * np.nan
        notes = (rows["note"].fillna("").astype(str) if "note" in rows.columns
                 else pd.Series([""] * len(rows)))
        flagged = [bool(n.strip()) for n in notes]
        fig.add_trace(go.Scatter(
            x=rows["date"], y=y, name=label, mode="lines+markers",
            line={"color": col, "dash": dash, "width": 2.4 if col == HIGHLIGHT else 1.8},
            marker={"color": ["white" if f else col for f in flagged], "size": 7,
                    "line": {"color": col, "width": 1.5}},
            customdata=np.column_stack([rows["value"].to_numpy(dtype=float), notes.to_numpy()]),
            hovertemplate=(
                f"<b>{label}</b><br>%{{x|%d %b %Y}}<br>{s}: %{{customdata[0]:,.4~g}} {unit}"
                + (" (%{y:,.1f} per 10,000 children)" if mode == "per10k" else "")
                + "<br>%{customdata[1]}<extra></extra>"
            ),
        ))
    apply_layout(fig, title=f"{describe(s)} <span style='color:#777'>({s})</span>", height=400)
    fig.update_xaxes(title_text="Date of the published figure")
    base = f"{base_date:%b %Y}" if base_date is not None else "first value"
    ytitle = {"index": f"index ({base} = 100)",
              "per10k": f"{unit or 'count'} per 10,000 children",
              "level": unit or "value (unit not given)"}[mode]
    fig.update_yaxes(title_text=ytitle)
    return fig, mode


def _ranking_section(
    page: Page, tab: pd.DataFrame, s: str, rank_date: str | pd.Timestamp | None,
    codes: list[str], region_code: str | None, area_name: str,
) -> None:
    if s not in set(tab["series"]):
        raise UnknownNameError("series", s, tab["series"].unique())
    las = tab[(tab["_level"] == "la") & (tab["series"] == s)]
    if las.empty:
        page.section("Ranking of authorities").note(f"No local authority values of {s}.")
        return
    if rank_date is None:
        when = las.loc[las["value"].notna(), "date"].max()
    else:
        when = pd.Timestamp(rank_date)
        if when not in set(las["date"]):
            dates = ", ".join(f"{d:%Y-%m-%d}" for d in sorted(las["date"].unique()))
            raise CarespiralError(f"no local values of {s} dated {when:%Y-%m-%d}; dates: {dates}")
    at = las[las["date"] == when].copy()
    unit = _unit(tab, s)
    count = _is_count(tab, s)
    per10k = False
    n_no_pop = 0
    n_missing = int(at["value"].isna().sum())
    if count:  # rank counts per 10,000 children when (nearly) every population is known
        scaled = _per_10k(at, _population(tab))
        valued = at["value"].notna().to_numpy()
        if valued.any() and np.isfinite(scaled[valued]).mean() >= 0.9:
            n_no_pop = int((valued & ~np.isfinite(scaled)).sum())
            at["value"] = scaled
            unit, per10k = f"{unit or 'count'} per 10,000 children", True
    ranked = at[at["value"].notna()].sort_values("value", ascending=True)
    in_region = set()
    if region_code and "region_code" in tab.columns:
        in_region = set(tab.loc[tab["region_code"] == region_code, "area_code"])
    cols = [HIGHLIGHT if c in codes else (REGION_COLOUR if c in in_region else GREY)
            for c in ranked["area_code"]]
    fig = go.Figure(go.Bar(
        x=ranked["value"], y=ranked["area_name"], orientation="h", marker={"color": cols},
        name=s, hovertemplate=f"<b>%{{y}}</b><br>{s}: %{{x:,.4~g}} {unit}<extra></extra>",
    ))
    nat = tab[(tab["_level"] == "national") & (tab["series"] == s) & (tab["date"] == when)]
    england = float(nat["value"].iloc[0]) if len(nat) and pd.notna(nat["value"].iloc[0]) else None
    if england is not None and per10k:
        england = float(_per_10k(nat.iloc[:1], _population(tab))[0])
    raw_count = count and not per10k  # an England total would dwarf the bars
    if england is not None and np.isfinite(england) and not raw_count:
        v = england
        fig.add_shape(type="line", x0=v, x1=v, y0=0, y1=1, xref="x", yref="paper",
                      line={"color": ENGLAND_COLOUR, "dash": "dot", "width": 1.5})
        fig.add_annotation(x=v, y=1, xref="x", yref="paper", text=f"England {v:,.4g}",
                           showarrow=False, yanchor="bottom", font={"size": 11})
    apply_layout(fig, title=f"{describe(s)}, by authority, {when:%d %b %Y}",
                 height=int(min(max(14 * len(ranked) + 140, 320), 2600)))
    fig.update_xaxes(title_text=axis_title(s, unit), side="top")
    fig.update_yaxes(tickfont={"size": 9}, automargin=True, dtick=1)
    fig.update_layout(showlegend=False, bargap=0.15, margin={"t": 110})
    sec = page.section("Ranking of authorities")
    sec.figure(fig, how_to_read=(
        f"One bar per authority, longest = highest {s}. {area_name} is vermillion"
        + (", the other authorities of its region blue" if in_region else "")
        + ("." if raw_count else "; the dotted line is England.")))
    if raw_count:
        sec.note(f"{s} is a count, so the ranking mostly reflects the size of each authority.")
    elif per10k:
        sec.note(f"{s} is a count, ranked per 10,000 children (mid-year population estimate of "
                 "the same year) so authorities of any size compare.")
    order = ranked.iloc[::-1].reset_index(drop=True)  # highest first
    pos = [i for i, c in enumerate(order["area_code"]) if c in codes]
    if pos:
        sec.text(f"{area_name} ranks {pos[0] + 1} of {len(order)} authorities (1 = highest {s}).")
    else:
        sec.text(f"{area_name} has no value of {s} on this date.")
    if n_no_pop:
        sec.note(f"{n_no_pop} {'authority has' if n_no_pop == 1 else 'authorities have'} no "
                 "child population estimate for that year (e.g. a new area code) and "
                 f"{'is' if n_no_pop == 1 else 'are'} not ranked.")
    if n_missing:
        verb = "authority has" if n_missing == 1 else "authorities have"
        sec.note(f"{n_missing} {verb} no value (suppressed or missing) and "
                 f"{'is' if n_missing == 1 else 'are'} not ranked.")
