"""The data report's ranking (the area among the authorities: its statistical neighbours, the
highest and lowest few, its region and England, not every authority) and its verdict."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from carespiral.errors import CarespiralError

from .data_series import describe, is_count, lower_first, per_10k, population, published_form
from .data_series import unit_of as _unit
from .page import Page
from .style import GREY, HIGHLIGHT, PALETTE, apply_layout, wrap_title

__all__ = ["EXTREMES", "data_verdict", "ranking_section"]

ENGLAND_COLOUR, REGION_COLOUR = "#000000", PALETTE[0]
NEIGHBOUR_COLOUR = PALETTE[1]  # orange
EXTREMES = 5  # authorities shown at each end of the ranking


def ranking_section(
    page: Page, tab: pd.DataFrame, s: str, rank_date: str | pd.Timestamp | None,
    codes: list[str], region_code: str | None, area_name: str, near: Sequence[str] = (),
) -> dict[str, Any]:
    """The area among all authorities at one date: the area, its statistical neighbours, the
    highest and lowest few, its region and England. Returns what the verdict needs."""
    label = describe(s)
    las = tab[(tab["_level"] == "la") & (tab["series"] == s)]
    if las.empty:
        page.section("Ranking of authorities").note(f"No local authority values of "
                                                    f"{lower_first(label)}.")
        return {}
    if rank_date is None:
        when = las.loc[las["value"].notna(), "date"].max()
    else:
        when = pd.Timestamp(rank_date)
        if when not in set(las["date"]):
            dates = ", ".join(f"{d:%Y-%m-%d}" for d in sorted(las["date"].unique()))
            raise CarespiralError(f"no local values of {s} dated {when:%Y-%m-%d}; dates: {dates}")
    at = las[las["date"] == when].copy()
    form = published_form(s, _unit(tab, s))
    count = is_count(tab, s)
    per10k = False
    n_no_pop = 0
    n_missing = int(at["value"].isna().sum())
    pop = population(tab)
    if count:  # rank counts per 10,000 children when (nearly) every population is known
        scaled = per_10k(at, pop)
        valued = at["value"].notna().to_numpy()
        if valued.any() and np.isfinite(scaled[valued]).mean() >= 0.9:
            n_no_pop = int((valued & ~np.isfinite(scaled)).sum())
            at["value"] = scaled
            form, per10k = f"{form}, per 10,000 children", True
    ranked = at[at["value"].notna() & np.isfinite(at["value"])].sort_values(
        "value", ascending=False).reset_index(drop=True)
    ranked["rank"] = np.arange(1, len(ranked) + 1)
    raw_count = count and not per10k  # an England total would dwarf the bars

    def reference(code_rows: pd.DataFrame) -> float | None:
        rows = code_rows[(code_rows["series"] == s) & (code_rows["date"] == when)]
        if rows.empty or pd.isna(rows["value"].iloc[0]) or raw_count:
            return None
        v = float(per_10k(rows.iloc[:1], pop)[0]) if per10k else float(rows["value"].iloc[0])
        return v if np.isfinite(v) else None

    england = reference(tab[tab["_level"] == "national"])
    region = reference(tab[tab["area_code"] == region_code]) if region_code else None
    region_name = (str(tab.loc[tab["area_code"] == region_code, "area_name"].iloc[0])
                   if region_code and (tab["area_code"] == region_code).any() else "")
    n = len(ranked)
    mine = ranked["area_code"].isin(codes)
    close = ranked["area_code"].isin(near)
    shown = (ranked["rank"] <= EXTREMES) | (ranked["rank"] > n - EXTREMES) | mine | close
    if not near and mine.any():  # without neighbours: the authorities either side
        r0 = int(ranked.loc[mine, "rank"].iloc[0])
        shown |= (ranked["rank"] - r0).abs() <= 3
    rows = ranked[shown]
    bars = [(f"{int(r.rank)}. {r.area_name}", float(r.value),
             HIGHLIGHT if r.area_code in codes else NEIGHBOUR_COLOUR if r.area_code in near
             else GREY, f"rank {int(r.rank)} of {n}") for r in rows.itertuples()]
    if england is not None:
        bars.append(("England", england, ENGLAND_COLOUR, "England as a whole"))
    if region is not None:
        bars.append((f"{region_name} (region)", region, REGION_COLOUR, "the area's region"))
    bars.sort(key=lambda b: b[1])
    fig = go.Figure(go.Bar(
        x=[b[1] for b in bars], y=[b[0] for b in bars], orientation="h",
        marker={"color": [b[2] for b in bars]}, customdata=[b[3] for b in bars],
        text=[_fmt(b[1]) for b in bars],
        textposition="outside", cliponaxis=False, name=label,
        hovertemplate=f"<b>%{{y}}</b><br>{label}: %{{x:,.4~g}} ({form})<br>%{{customdata}}"
                      "<extra></extra>"))
    if england is not None:
        fig.add_shape(type="line", x0=england, x1=england, y0=0, y1=1, xref="x", yref="paper",
                      line={"color": ENGLAND_COLOUR, "dash": "dot", "width": 1.5})
    apply_layout(fig, title=f"{label}: {area_name} among the authorities, {when:%d %b %Y}",
                 height=int(26 * len(bars) + 170))
    fig.update_xaxes(title_text=wrap_title(form, 80), side="top")
    fig.update_yaxes(automargin=True, dtick=1)
    fig.update_layout(showlegend=False, bargap=0.25, margin={"t": 120, "r": 60})
    sec = page.section("Ranking of authorities")
    gaps = n - len(rows)
    sec.figure(fig, how_to_read=(
        f"One bar per authority shown, longest = highest; the number is its rank of {n} "
        f"(1 = highest). {area_name} is vermillion"
        + (", its statistical neighbours orange" if near else "")
        + f", the {EXTREMES} highest and lowest grey"
        + (f" ({gaps} authorities between them are left out)" if gaps > 0 else "")
        + (", England black" if england is not None else "")
        + (" and its region blue" if region is not None else "") + "."))
    if raw_count:
        sec.note(f"{label} is a count, so the ranking mostly reflects the size of each "
                 "authority (no child population estimate to put it per 10,000 children).")
    elif per10k:
        sec.note(f"{label} is a count, ranked per 10,000 children (mid-year population "
                 "estimate of the same year) so authorities of any size compare.")
    pos = ranked.loc[mine, "rank"]
    facts: dict[str, Any] = {"series": s, "label": label, "form": form, "when": when, "n": n,
                             "england": england, "region": region, "region_name": region_name}
    if n:
        facts["top"] = (str(ranked["area_name"].iloc[0]), float(ranked["value"].iloc[0]))
        facts["bottom"] = (str(ranked["area_name"].iloc[-1]), float(ranked["value"].iloc[-1]))
    if not len(pos):  # England or a region: its own value beside the authorities
        own = reference(tab[tab["area_code"].isin(codes)])
        if own is not None:
            facts["value"] = own
    if len(pos):
        facts["rank"] = int(pos.iloc[0])
        facts["value"] = float(ranked.loc[mine, "value"].iloc[0])
        sec.text(f"{area_name} ranks {int(pos.iloc[0])} of {n} authorities (1 = highest "
                 f"{lower_first(label)}).")
    else:
        sec.text(f"{area_name} has no value of {lower_first(label)} on this date.")
    nv = ranked.loc[close, "value"]
    if len(nv):
        facts["near"] = (float(nv.min()), float(nv.max()), len(nv))
    if near and not close.any():
        sec.note("None of the area's statistical neighbours has a value on this date.")
    if n_no_pop:
        sec.note(f"{n_no_pop} {'authority has' if n_no_pop == 1 else 'authorities have'} no "
                 "child population estimate for that year (e.g. a new area code) and "
                 f"{'is' if n_no_pop == 1 else 'are'} not ranked.")
    if n_missing:
        verb = "authority has" if n_missing == 1 else "authorities have"
        sec.note(f"{n_missing} {verb} no value (suppressed or missing) and "
                 f"{'is' if n_missing == 1 else 'are'} not ranked.")
    return facts


def _fmt(v: float) -> str:
    a = abs(v)
    return f"{v:,.0f}" if a >= 100 else f"{v:,.3g}" if a >= 1 else f"{v:.2g}"


def _latest(tab: pd.DataFrame, codes: Sequence[str], s: str) -> pd.Series | None:
    rows = tab[tab["area_code"].isin(codes) & (tab["series"] == s) & tab["value"].notna()]
    return rows.sort_values("date").iloc[-1] if len(rows) else None


def data_verdict(tab: pd.DataFrame, chosen: Sequence[str], codes: Sequence[str],
                 area_name: str, national: pd.DataFrame, facts: dict[str, Any]) -> str:
    """Two to five plain sentences: where the area stands on the ranked series (against
    England, its rank, its neighbours), how it moved, which other series are above England's
    level, and what published figures cannot say."""
    out: list[str] = []
    if facts.get("rank") is None and facts.get("value") is not None and facts.get("top"):
        (hi_name, hi), (lo_name, lo) = facts["top"], facts["bottom"]
        out.append(f"On {facts['when']:%d %B %Y} {area_name}'s {lower_first(facts['label'])} "
                   f"stood at {_fmt(facts['value'])} ({facts['form']}); across its {facts['n']} "
                   f"authorities it ranged from {_fmt(lo)} ({lo_name}) to {_fmt(hi)} "
                   f"({hi_name}).")
        facts = {**facts, "rank": None, "trend_only": True}
    if facts.get("rank") is not None or facts.get("trend_only"):
        label, form, when = facts["label"], facts["form"], facts["when"]
        v = facts["value"]
        if not facts.get("trend_only"):
            text = (f"On {when:%d %B %Y} {area_name}'s {lower_first(label)} stood at {_fmt(v)} "
                    f"({form}), rank {facts['rank']} of {facts['n']} authorities (1 = highest)")
            e = facts.get("england")
            if e:
                text += (f", {abs(v - e) / e:.0%} {'above' if v > e else 'below'} England's "
                         f"{_fmt(e)}")
            out.append(text + ".")
        if facts.get("near"):
            lo, hi, k = facts["near"]
            where = ("above all of" if v > hi else "below all of" if v < lo else "within the "
                     "range of")
            out.append(f"It is {where} its {k} statistical neighbours with a value "
                       f"({_fmt(lo)} to {_fmt(hi)}).")
        s = facts["series"]
        rows = tab[tab["area_code"].isin(codes) & (tab["series"] == s) & tab["value"].notna()]
        if rows["date"].nunique() >= 3:
            rows = rows.sort_values("date")
            a, b = rows.iloc[0], rows.iloc[-1]
            nat = national[(national["series"] == s) & national["value"].notna()]
            text = (f"From {a['date']:%Y} to {b['date']:%Y} its published figure went from "
                    f"{_fmt(float(a['value']))} to {_fmt(float(b['value']))}")
            na = nat[nat["date"] == a["date"]]
            nb = nat[nat["date"] == b["date"]]
            is_england = bool(set(codes) & set(national["area_code"]))
            if len(na) and len(nb) and not is_count(tab, s) and not is_england:
                text += (f", England's from {_fmt(float(na['value'].iloc[0]))} to "
                         f"{_fmt(float(nb['value'].iloc[0]))}")
            out.append(text + ".")
    others = [x for x in chosen if x != facts.get("series")]
    above, below = [], []
    for x in others:
        mine, eng = _latest(tab, codes, x), _latest(national, national["area_code"].unique(), x)
        if mine is None or eng is None or is_count(tab, x) or mine["date"] != eng["date"]:
            continue
        (above if float(mine["value"]) > float(eng["value"]) else below).append(
            lower_first(describe(x)))
    compared = len(above) + len(below)
    if compared == 1:
        out.append(f"Its {(above or below)[0]} is {'above' if above else 'at or below'} "
                   "England's level at the latest date.")
    elif compared:
        out.append(f"Of {compared} other rates shown, "
                   + (f"{len(above)} {'is' if len(above) == 1 else 'are'} above England's level "
                      "at the latest date: " + ", ".join(above[:4]) if above else
                      "none is above England's level at the latest date") + ".")
    out.append("These are published figures: they show where the area stands and how it "
               "moved, not why; suppressed or revised values are marked on the figures.")
    return " ".join(out[:5])
