"""The brief of one authority: one page a director of children's services reads in minutes.

It consumes an `AuthorityBrief` (`carespiral.exploration.brief`) and says, verdict first and in
plain English: where the authority stands against its statistical neighbours and England on
each published series, what the calibrated model says about its position (regime today, margin
to collapse with its interval, the loops that carry the most weight now), its forecast for the
next three years with the band, which levers buy the most margin per £1m a year, and the
caveats. Series and levers are named by the model catalogue (labels and units in words).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from carespiral.pysd_runner.catalog import naming

from .page import Page, PlotlyJs
from .style import GREY, HIGHLIGHT, PALETTE, apply_layout

__all__ = ["brief_report", "brief_verdict"]

ENGLAND = "#000000"


def _pct(v: float) -> str:
    return f"{v:.0%}" if abs(v) >= 0.005 or v == 0 else f"{v:.1%}"


def _num(v: float) -> str:
    if not np.isfinite(v):
        return "–"
    a = abs(v)
    return f"{v:,.0f}" if a >= 100 else f"{v:,.1f}" if a >= 10 else f"{v:,.2f}"


def _money(m: float) -> str:
    """£ million a year in words: £230,000 / £1.2m."""
    return f"£{float(f'{m * 1e6:.2g}'):,.0f}" if m < 1 else f"£{m:,.1f}m"


def _form(s: pd.Series, model: str) -> str:
    n = naming(str(s["series"]), model)
    form = n.published or str(s["unit"])
    return f"{form}, per 10,000 children" if bool(s["per_10k"]) else form


def _where(s: pd.Series) -> str:
    """The authority's place among its neighbours in words."""
    n = int(s["neighbours"])
    if not n:
        return "no neighbours with a value"
    r = int(s["rank_neighbours"])
    if r == 1:
        return f"highest of its {n} neighbours and itself"
    if r == n + 1:
        return f"lowest of its {n} neighbours and itself"
    above = n + 1 - r
    return f"above {above} of its {n} neighbours"


def brief_verdict(b: Any) -> str:
    """The brief's opening paragraphs (plain English, no code names)."""
    name, st = b.area_name, b.settings
    pos = b.position.set_index("role") if len(b.position) else pd.DataFrame()
    out = []
    if st.get("regime_today") == "collapse":
        share = st.get("collapse_today_share", 1.0)
        out.append(f"By the calibrated model, {name} is already in the collapse regime today "
                   f"({_pct(share)} of the plausible versions of it fitted to its data).")
    else:
        out.append(f"By the calibrated model, {name} is not in collapse today.")
    need = pos.loc["underlying_need"] if "underlying_need" in pos.index else None
    burden = pos.loc["compliance_burden"] if "compliance_burden" in pos.index else None
    parts = []
    both = [r for r in (need, burden) if r is not None]
    if both and all(not bool(r["censored"]) and r["margin"] <= 0 for r in both):
        out.append("It has no margin left: at today's need and recording load the model "
                   "runs it into collapse.")
        both = []
    for r, what in ((need, "need"), (burden, "recording and compliance load")):
        if not both:
            break
        if r is None:
            continue
        if bool(r["censored"]):
            parts.append(f"no rise in {what} within the range the model allows tips it")
        elif r["margin"] <= 0:
            parts.append(f"it tips at today's {what}")
        else:
            parts.append(f"a rise of about {_pct(r['margin'])} in {what} (90% interval "
                         f"{_pct(r['lower'])} to {_pct(r['upper'])}) would tip it into collapse")
    if parts:
        out.append("Its margin: " + "; ".join(parts) + ".")
    s = b.standing
    if len(s):
        hi = s[s["neighbours"] > 0]
        notable = []
        for _, r in hi.iterrows():
            n = int(r["neighbours"])
            if int(r["rank_neighbours"]) in (1, n + 1):
                word = "highest" if int(r["rank_neighbours"]) == 1 else "lowest"
                notable.append(f"{naming(r['series'], b.model).label.lower()} ({word})")
        if notable:
            out.append("Against its statistical neighbours it is at an end of the range on "
                       + ", ".join(notable) + f" (latest published year, {int(s['year'].max())}).")
        else:
            out.append("On every published series it is within the range of its statistical "
                       "neighbours.")
    lv = b.levers[b.levers["ranked"].astype(bool)] if len(b.levers) else b.levers
    if len(lv) and np.isfinite(lv["gain_per_million"].iloc[0]):
        best = lv.iloc[0]
        out.append(f"The lever that buys the most margin per pound here is "
                   f"{best['lever'].lower()}, from {_change(best, b.model).replace('→', 'to')}: "
                   f"{_money(best['cost_million'])} a year raises the "
                   f"rise in need it can absorb by about {best['gain_median'] * 100:.0f} "
                   f"percentage points (at least {best['gain_p10'] * 100:.0f} in 9 of 10 "
                   "plausible versions).")
    out.append("These are the model's readings of published figures, not a prediction of "
               "events: read the caveats at the end.")
    return " ".join(out)


def brief_report(b: Any, path: str | Path, *, plotlyjs: PlotlyJs = "inline",
                 index: str | None = None) -> Path:
    """Write the brief of `b` (an `AuthorityBrief`) to `path`; `index`: a link back to the
    ranked view of every authority."""
    page = Page(f"{b.area_name}: children's social care brief",
                f"{b.settings.get('region') or 'England'} · calibrated to its published "
                f"figures up to {b.settings.get('last_year')} · {b.area_code}")
    page.section("Verdict", brief_verdict(b))
    _standing(page, b)
    _model_view(page, b)
    _forecast(page, b)
    _levers(page, b)
    _caveats(page, b)
    sec = page.section("What was run")
    st = b.settings
    sec.text(
        f"The {b.model.replace('_', ' ')} model, calibrated with spec {b.spec!r} to "
        f"{st.get('n_obs', 0)} published values of {b.area_name}, together with "
        f"{st.get('authorities_fitted', 0) - 1} other authorities ({b.pooling} pooling: each "
        "authority's parameters are drawn towards a national distribution fitted at the same "
        f"time). Margins to collapse over {st.get('margin_draws', 0)} posterior draws; the "
        f"lever search moved each costed lever by what {_money(st.get('budget_million', 1))} a "
        f"year buys at {b.area_name}'s scale, and every pair of them at half that each, over "
        f"{st.get('draws', 0)} posterior draws "
        f"({st.get('lever_runs', 0):,} model runs). Computed in {st.get('seconds', 0)} s.")
    if st.get("notes"):
        sec.note("Drivers: " + str(st["notes"]))
    if index:
        sec.links([(index, "Every authority, ranked by margin to collapse",
                    "The ranked view this brief belongs to.")])
    return page.write(path, plotlyjs)


# ---- sections ---------------------------------------------------------------------------------


def _standing(page: Page, b: Any) -> None:
    s = b.standing
    sec = page.section("Where it stands")
    if not len(s):
        sec.note("No published series with a value for this authority.")
        return
    sec.text(f"Each published series the model was fitted to (and the vacancy and agency "
             f"rates), in its latest year: "
             f"{b.area_name} against its ten statistical neighbours (the DfE's closest "
             "authorities in population and deprivation), every English authority and England. "
             "Counts are per 10,000 children, so authorities of any size compare.")
    fig = go.Figure()
    labels = [naming(r.series, b.model).label for r in s.itertuples()]
    ref = s["england_median_authority"].to_numpy(dtype=float)
    rel = lambda v: 100 * np.asarray(v, dtype=float) / ref  # noqa: E731
    fig.add_trace(go.Scatter(
        x=rel(s["neighbours_median"]), y=labels, mode="markers", name="Neighbours' median",
        marker={"symbol": "line-ns-open", "size": 18, "color": PALETTE[1], "line": {"width": 3}},
        error_x={"type": "data", "symmetric": False, "color": PALETTE[1],
                 "array": rel(s["neighbours_max"]) - rel(s["neighbours_median"]),
                 "arrayminus": rel(s["neighbours_median"]) - rel(s["neighbours_min"])},
        hovertemplate="%{y}: neighbours' median %{x:.0f}<extra></extra>"))
    fig.add_trace(go.Scatter(x=rel(s["england"]), y=labels, mode="markers", name="England",
                             marker={"symbol": "diamond", "size": 10, "color": ENGLAND},
                             hovertemplate="%{y}: England %{x:.0f}<extra></extra>"))
    fig.add_trace(go.Scatter(x=rel(s["value"]), y=labels, mode="markers", name=b.area_name,
                             marker={"size": 13, "color": HIGHLIGHT},
                             hovertemplate="%{y}: " + b.area_name + " %{x:.0f}<extra></extra>"))
    fig.add_vline(x=100, line={"color": GREY, "dash": "dot"})
    apply_layout(fig, title=f"{b.area_name} against its neighbours and England",
                 height=int(60 + 44 * len(s) + 110))
    fig.update_xaxes(title_text="% of the median English authority (100 = the median)")
    fig.update_yaxes(autorange="reversed", automargin=True)
    sec.figure(fig, how_to_read=(
        f"One row per series. The red dot is {b.area_name}, the orange tick and whisker its "
        "neighbours' median and range, the black diamond England; 100 is the median English "
        "authority, so 150 means half as much again."))
    tab = pd.DataFrame({
        "Series": labels,
        "As published": [_form(r, b.model) for _, r in s.iterrows()],
        "Year": s["year"].astype(int).astype(str),
        b.area_name: [_num(v) for v in s["value"]],
        "Neighbours (median, range)": [
            f"{_num(r.neighbours_median)} ({_num(r.neighbours_min)} to {_num(r.neighbours_max)})"
            for r in s.itertuples()],
        "Among neighbours": [_where(r) for _, r in s.iterrows()],
        "Rank in England": [f"{int(r.rank_england)} of {int(r.authorities)}"
                            for r in s.itertuples()],
        "England": [_num(v) for v in s["england"]],
    })
    sec.table(tab, caption="Latest published values (rank 1 = highest)")


def _model_view(page: Page, b: Any) -> None:
    st = b.settings
    sec = page.section("What the model says")
    regime = st.get("regime_today", "")
    words = ("in the collapse regime" if regime == "collapse" else
             "in the sustainable regime (not collapsing)")
    sec.text(f"Run with the parameters fitted to {b.area_name}, the model puts it today "
             f"{words}: {_pct(st.get('collapse_today_share', 0.0))} of {st.get('margin_draws', 0)} "
             "plausible versions of it (posterior draws) are in collapse by the last published "
             "year. The margin to collapse is how much a pressure can rise, all else as "
             "fitted, before the run collapses by the end of the model's horizon.")
    p = b.position
    if len(p):
        names = [naming(r.role, b.model).label for r in p.itertuples()]
        fig = go.Figure(go.Scatter(
            x=100 * p["margin"], y=names, mode="markers", marker={"size": 13, "color": HIGHLIGHT},
            error_x={"type": "data", "symmetric": False, "array": 100 * (p["upper"] - p["margin"]),
                     "arrayminus": 100 * (p["margin"] - p["lower"]), "color": HIGHLIGHT},
            name="margin", hovertemplate="%{y}: %{x:.0f}% rise<extra></extra>"))
        apply_layout(fig, title="Margin to collapse, with its 90% interval",
                     height=int(150 + 50 * len(p)))
        fig.update_xaxes(title_text="rise before collapse (% of the fitted value)",
                         rangemode="tozero")
        fig.update_yaxes(automargin=True)
        fig.update_layout(showlegend=False)
        sec.figure(fig, how_to_read=(
            "The dot is the median over posterior draws, the whisker the 90% interval; 0 means "
            "the authority tips at today's value. A margin at the model's bound is marked "
            "'or more' in the table."))
        sec.table(pd.DataFrame({
            "Pressure": names,
            "Margin": [_pct(r.margin) + (" or more" if r.censored else "")
                       for r in p.itertuples()],
            "90% interval": [f"{_pct(r.lower)} to {_pct(r.upper)}" for r in p.itertuples()],
            "Unit of the pressure": [naming(r.role, b.model).unit for r in p.itertuples()]}))
    lp = b.loops
    if len(lp):
        top = lp.head(4)
        sec.text("The feedback loops carrying the most weight now (Simlin's loop scores at the "
                 "last published year, grouped under the named loops of the model's "
                 "documentation): " + "; ".join(
                     f"{r.id} {r.title} ({'reinforcing' if str(r.polarity).startswith('r') else 'balancing'}, "
                     f"{_pct(r.share)} of all loop activity)" for r in top.itertuples()) + ".")
        rest = 1 - float(lp["share"].sum())
        sec.note(f"{_pct(rest)} of the loop activity is in loops that combine several named "
                 "ones and is not counted above; the scores use England's drivers over time "
                 "with this authority's fitted values.")


def _forecast(page: Page, b: Any) -> None:
    s = b.series
    sec = page.section("The next three years")
    if not len(s):
        sec.note("No fitted series.")
        return
    names = list(dict.fromkeys(s["series"]))
    cols = 2
    rows = (len(names) + cols - 1) // cols
    titles = [naming(n, b.model).label for n in names]
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, vertical_spacing=0.09,
                        horizontal_spacing=0.1)
    for i, n in enumerate(names):
        r, c = i // cols + 1, i % cols + 1
        d = s[s["series"] == n].sort_values("year")
        fut = d[d["part"] == "forecast"]
        past = d[d["part"] == "fit"]
        first = i == 0
        for part, colour, label in ((past, PALETTE[0], "fit, 95% band"),
                                    (fut, HIGHLIGHT, "forecast, 95% band")):
            if not len(part):
                continue
            x = part["year"].tolist()
            fig.add_trace(go.Scatter(
                x=x + x[::-1], y=part["upper"].tolist() + part["lower"].tolist()[::-1],
                mode="lines", fill="toself", fillcolor=colour, opacity=0.18, line={"width": 0},
                hoverinfo="skip", showlegend=False, legendgroup=label), row=r, col=c)
            fig.add_trace(go.Scatter(x=x, y=part["value"], mode="lines", name=label,
                                     line={"color": colour, "dash": "solid" if part is past
                                           else "dash"},
                                     legendgroup=label, showlegend=first), row=r, col=c)
        fig.add_trace(go.Scatter(x=past["year"], y=past["observed"], mode="markers",
                                 name="published", marker={"color": ENGLAND, "size": 6},
                                 legendgroup="published", showlegend=first), row=r, col=c)
    apply_layout(fig, title=f"{b.area_name}: published figures, fit and forecast",
                 height=int(120 + 230 * rows))
    for a in fig.layout.annotations:
        a.font.size = 13
    sec.figure(fig, how_to_read=(
        "Black dots are the published figures (by reporting year), the blue line the model "
        "fitted to them with its 95% band, the dashed red line the forecast for the next three "
        "years with its 95% band (the range the figure should fall in 19 times in 20 if the "
        "model holds)."))
    last = s[s["part"] == "forecast"].sort_values("year").groupby("series").tail(1)
    if len(last):
        sec.table(pd.DataFrame({
            "Series": [naming(n, b.model).label for n in last["series"]],
            "Year": last["year"].astype(int).astype(str),
            "Forecast": [_num(v) for v in last["value"]],
            "95% band": [f"{_num(lo)} to {_num(hi)}" for lo, hi in
                         zip(last["lower"], last["upper"], strict=True)],
            "As published": [naming(n, b.model).published or "" for n in last["series"]]}),
            caption="Forecast for the third year ahead")


def _levers(page: Page, b: Any) -> None:
    lv = b.levers
    sec = page.section("Levers: margin per pound")
    st = b.settings
    if not len(lv):
        sec.note("No levers were searched.")
        return
    ranked = lv[lv["ranked"].astype(bool)]
    sec.text(f"A robust lever search on {b.area_name}'s posterior. Each lever was moved by "
             f"what {_money(st.get('budget_million', 1.0))} a year buys "
             f"at {b.area_name}'s scale (less where the lever reaches the end of its range), "
             f"and judged over {st.get('draws', 0)} plausible versions of the authority by the "
             "rise in need it could then absorb before collapse. Costs are from published unit "
             "costs (salaries, on-costs, recruitment) and stated judgements where none is "
             "published.")
    if len(ranked):
        names = ranked["lever"].tolist()
        fig = go.Figure(go.Bar(
            x=100 * ranked["gain_per_million"], y=names, orientation="h",
            marker={"color": PALETTE[2]},
            customdata=np.column_stack([100 * ranked["gain_p10"], ranked["cost_million"]]),
            hovertemplate=("%{y}: %{x:.0f} points per £1m<br>at least %{customdata[0]:.0f} "
                           "points in 9 of 10 versions<br>cost £%{customdata[1]:.2f}m a year"
                           "<extra></extra>")))
        apply_layout(fig, title="Margin to collapse bought per £1m a year",
                     height=int(140 + 44 * len(ranked)))
        fig.update_xaxes(title_text="percentage points of need margin per £1m a year",
                         rangemode="tozero")
        fig.update_yaxes(autorange="reversed", automargin=True)
        fig.update_layout(showlegend=False)
        sec.figure(fig, how_to_read=(
            "Longer bars buy more margin per pound. A lever that reaches the end of its range "
            "before spending the whole budget is costed at what it spends."))
        sec.table(pd.DataFrame({
            "Lever": names,
            "Change": [_change(r, b.model) for r in ranked.itertuples()],
            "Cost a year": [_money(v) for v in ranked["cost_million"]],
            "Margin gained (median)": [f"{100 * v:.0f} points" for v in ranked["gain_median"]],
            "In 9 of 10 versions, at least": [f"{100 * v:.0f} points"
                                              for v in ranked["gain_p10"]],
            "Per £1m a year": [f"{100 * v:.0f} points" for v in ranked["gain_per_million"]]}),
            caption="Levers ranked by margin per £1m a year")
    pk = getattr(b, "packages", None)
    if pk is not None and len(pk):
        top = pk.head(5)
        sec.table(pd.DataFrame({
            "Package (half the budget each)": top["levers"],
            "Cost a year": [_money(v) for v in top["cost_million"]],
            "Margin gained (median)": [f"{100 * v:.0f} points" for v in top["gain_median"]],
            "In 9 of 10 versions, at least": [f"{100 * v:.0f} points" for v in top["gain_p10"]]}),
            caption="Two levers together: the best packages by the gain in 9 of 10 versions")
        best_single = float(ranked["gain_p10"].max()) if len(ranked) else -np.inf
        if float(top["gain_p10"].iloc[0]) > best_single:
            sec.text(f"Within the same budget, two levers together do better in the worst "
                     f"tenth of the plausible versions than any lever alone: "
                     f"{top['levers'].iloc[0]} ({_money(top['cost_million'].iloc[0])} a year).")
        else:
            sec.text("No pair of levers at half the budget each does better, in the worst "
                     "tenth of the plausible versions, than the best lever alone.")
    free = lv[~lv["ranked"].astype(bool)]
    if len(free):
        sec.note("Not ranked: " + ", ".join(free["lever"].str.lower()) + ". They have no "
                 "direct spending in the cost model; their costs fall on children turned away "
                 "or on other services, which a price per pound would hide.")


def _change(r: Any, model: str) -> str:
    """A lever's move in its own words (posts per child as the authority's posts)."""
    shown = getattr(r, "shown_unit", "")
    if isinstance(shown, str) and shown:
        return f"{_num(r.shown_now)} → {_num(r.shown_setting)} {shown}"
    return f"{_num(r.now)} → {_num(r.setting)} ({naming(r.variable, model).unit})"


def _caveats(page: Page, b: Any) -> None:
    st = b.settings
    items = [
        "The model is a simplified picture of how workload, staff, demand and procedure feed "
        "each other. It reproduces the published figures only as well as the fit section "
        "shows, and it cannot see local events (an inspection, a new director, a restructure).",
        f"The fit uses {st.get('n_obs', 0)} published values. Where an authority's own figures "
        "are few or noisy, its parameters lean towards the national pattern (partial "
        "pooling): the intervals say how much the data alone could settle.",
        "Collapse means the model's run crosses its collapse criteria (runaway caseloads, "
        "staff leaving faster than they can be replaced) by the end of its horizon. It is a "
        "warning about direction and distance, not a date.",
        "Forecast bands hold if the model and the authority's drivers (child population, "
        "funded posts, England's calendar of shocks and reforms) continue as assumed; a "
        "policy change or a shock outside them moves everything.",
        "Lever costs are estimates from published unit costs, with judgements where no cost "
        "is published; each lever is tried alone, so levers that help each other (or undo "
        "each other) are not shown together.",
    ]
    page.section("Caveats", "\n\n".join(items))
