"""The brief of one authority: one page a director of children's services reads in minutes.

It consumes an `AuthorityBrief` (`carespiral.exploration.brief`) and says, verdict first and in
plain English: where the authority stands against its statistical neighbours and England on
each published series, what the calibrated model says about its position (regime today, margin
to collapse with its interval, the loops that carry the most weight now), its forecast for the
next three years with the band, what the robust policy search says the money buys (its
Pareto front of cost against margin in plain English), and the caveats. Series and levers are named by the model catalogue (labels and units in words).
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
    if v == 0:
        return "0"
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
    judged = _judgement_words(b)
    if judged:
        out.append(judged)
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
    fr = getattr(b, "front", None)
    if fr is not None and len(fr):
        top = fr.iloc[-1]
        out.append(f"The policy search's best use of {_money(float(top['cost_million']))} a "
                   f"year here: {top['policy']}. It raises the rise in need {name} can absorb "
                   f"by about {top['gain_median'] * 100:.0f} percentage points (at least "
                   f"{top['gain_p10'] * 100:.0f} in 9 of 10 plausible versions).")
    elif len(b.levers):
        out.append("No costed lever bought any margin in 9 of 10 plausible versions within "
                   "the budget searched.")
    caution = _skill_caution(b)
    if caution:
        out.append(caution)
    out.append("These are the model's readings of published figures, not a prediction of "
               "events: read the caveats at the end.")
    return " ".join(out)


def _finite(v: Any) -> bool:
    try:
        return v is not None and bool(np.isfinite(float(v)))
    except (TypeError, ValueError):
        return False


def _judgement_words(b: Any) -> str:
    """Sentences on Ofsted's inadequate judgements as the fit read them; '' without."""
    st = b.settings
    reports = str(st.get("inadequate_reports") or "")
    size, ref = st.get("judgement_size"), st.get("scandal_2008_size")
    if not reports or not _finite(size):
        return ""
    when = reports.split("; ")
    said = (f"in a report published in {when[0]}" if len(when) == 1 else
            f"in reports published in {', '.join(when[:-1])} and {when[-1]}")
    before = str(st.get("inadequate_predecessors") or "").replace("; ", " and ")
    first = (f"Ofsted judged {before}'s children's services inadequate {said}, before "
             f"{b.area_name} took them over." if before else
             f"Ofsted judged its children's services inadequate {said}.")
    strength = ""
    if _finite(ref) and float(ref) > 0:
        ref = float(ref)
        strength = (f", about {_pct(float(size) / ref)} as strong as the national push after "
                    "the 2008 Baby P scandal")
        lo, hi = st.get("judgement_size_lower"), st.get("judgement_size_upper")
        if _finite(lo) and _finite(hi):
            strength += (f" (95% interval {_pct(float(lo) / ref)} to "
                         f"{_pct(float(hi) / ref)}")
            strength += (", estimated across all the authorities judged inadequate)"
                         if st.get("judgement_pooled") else ")")
    return (f"{first} The model treats a judgement like that as a lasting push towards caution "
            f"and more procedure{strength}.")


def _skill_caution(b: Any) -> str:
    """A warning for the verdict when the model forecast this authority's past no better than
    repeating the last published figure; '' otherwise."""
    st = b.settings
    model, pers = st.get("backtest_mase_model"), st.get("backtest_mase_persistence")
    if st.get("backtest") != "ok" or not (_finite(model) and _finite(pers)):
        return ""
    if float(model) <= float(pers):
        return ""
    return (f"Caution: tested on past years, the model forecast {b.area_name} less accurately "
            "than simply repeating the last published figure (see the caveats), so read its "
            "forecasts as a direction, not as numbers.")


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
        f"policy search (NSGA-II, {st.get('population', 0)} policies a generation for "
        f"{st.get('generations', 0)} generations, {st.get('policies_judged', 0)} policies "
        f"judged) set every costed lever together within {_money(st.get('budget_million', 1))} "
        f"a year at {b.area_name}'s scale, over {st.get('draws', 0)} posterior draws with its "
        f"own child population and funded posts over time "
        f"({st.get('lever_seconds', 0)} s). Computed in {st.get('seconds', 0)} s.")
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
    s = b.series.copy()
    # every published series is a count, a rate or a percentage: a band below 0 is the error
    # model's symmetry, not a possible figure
    s["lower"] = s["lower"].clip(lower=0.0)
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
    seen = (s[(s["part"] == "fit") & s["observed"].notna()].sort_values("year")
            .groupby("series").tail(1).set_index("series"))
    if len(last):
        sec.table(pd.DataFrame({
            "Series": [naming(n, b.model).label for n in last["series"]],
            "Latest published": [f"{_num(seen.at[n, 'observed'])} ({int(seen.at[n, 'year'])})"
                                 if n in seen.index else "" for n in last["series"]],
            "Year": last["year"].astype(int).astype(str),
            "Forecast": [_num(v) for v in last["value"]],
            "95% band": [f"{_num(lo)} to {_num(hi)}" for lo, hi in
                         zip(last["lower"], last["upper"], strict=True)],
            "As published": [naming(n, b.model).published or "" for n in last["series"]]}),
            caption="Forecast for the third year ahead")


def _picks(front: pd.DataFrame, budget: float) -> pd.DataFrame:
    """Up to four policies of the front: the best (in 9 of 10 versions) for at most a quarter,
    half, three quarters and all of the budget; none twice."""
    rows = []
    for share in (0.25, 0.5, 0.75, 1.0):
        within = front[front["cost_million"] <= share * budget * (1 + 1e-9)]
        if len(within):
            rows.append(within["gain_p10"].idxmax())
    return front.loc[list(dict.fromkeys(rows))]


def _levers(page: Page, b: Any) -> None:
    lv = b.levers
    fr = b.front
    sec = page.section("Levers: what the money buys")
    st = b.settings
    budget = float(st.get("budget_million", 1.0))
    if not len(lv):
        sec.note("No levers were searched.")
        return
    ranked = lv[lv["ranked"].astype(bool)]
    sec.text(f"A robust policy search on {b.area_name}'s posterior: every lever that costs "
             f"money, set together, within {_money(budget)} a year at {b.area_name}'s scale, "
             f"each policy judged over {st.get('draws', 0)} plausible versions of the authority "
             "(with its own child population and funded posts over time) by how much more "
             "rise in need it could absorb before collapse. A policy counts by what it buys in "
             "the worst tenth of those versions, so a policy that only works if the model's "
             "best guesses are right does not rank. Costs are from published unit costs "
             "(salaries, on-costs, recruitment) and stated judgements where none is published.")
    if len(fr):
        picks = _picks(fr, budget)
        fig = go.Figure()
        x = fr["cost_million"].to_numpy(dtype=float)
        fig.add_trace(go.Scatter(
            x=x, y=100 * fr["gain_median"], mode="markers", name="median",
            marker={"color": PALETTE[0], "size": 7, "symbol": "circle-open"},
            error_y={"type": "data", "symmetric": False, "color": PALETTE[0],
                     "array": 100 * (fr["gain_p90"] - fr["gain_median"]),
                     "arrayminus": 100 * (fr["gain_median"] - fr["gain_p10"])},
            hovertemplate="£%{x:.2f}m a year: median %{y:.0f} points<extra></extra>"))
        fig.add_trace(go.Scatter(
            x=x, y=100 * fr["gain_p10"], mode="lines+markers", name="in 9 of 10 versions",
            line={"color": HIGHLIGHT, "shape": "hv"}, marker={"size": 7},
            customdata=fr["policy"],
            hovertemplate="£%{x:.2f}m a year: at least %{y:.0f} points<br>%{customdata}"
                          "<extra></extra>"))
        apply_layout(fig, title="Margin to collapse bought, by cost a year", height=360)
        fig.update_xaxes(title_text="cost, £ million a year", rangemode="tozero")
        fig.update_yaxes(title_text="points of need margin", rangemode="tozero")
        sec.figure(fig, how_to_read=(
            "Each point is a policy no other beats on both cost and margin. The red steps are "
            "the margin gained in 9 of 10 plausible versions, the open circles the median with "
            "whiskers from 1 in 10 to 9 in 10. Where the steps flatten, more money buys little."))
        sec.table(pd.DataFrame({
            "Cost a year": [_money(v) for v in picks["cost_million"]],
            "What to do": picks["policy"].tolist(),
            "Margin gained (median)": [f"{100 * v:.0f} points" for v in picks["gain_median"]],
            "In 9 of 10 versions, at least": [f"{100 * v:.0f} points"
                                              for v in picks["gain_p10"]]}),
            caption="The best policy found for each share of the budget")
    else:
        sec.text("No policy within the budget bought any margin in 9 of 10 plausible versions.")
    if len(ranked):
        sec.table(pd.DataFrame({
            "Lever": ranked["lever"].tolist(),
            "Change": [_change(r, b.model) for r in ranked.itertuples()],
            "Cost a year": [_money(v) for v in ranked["cost_million"]],
            "Margin gained (median)": [f"{100 * v:.0f} points" for v in ranked["gain_median"]],
            "In 9 of 10 versions, at least": [f"{100 * v:.0f} points"
                                              for v in ranked["gain_p10"]],
            "Per £1m a year": [f"{100 * v:.0f} points" for v in ranked["gain_per_million"]]}),
            caption="Each lever alone with the whole budget, by margin per £1m a year")
    free = lv[~lv["ranked"].astype(bool)]
    if len(free):
        sec.note("Not searched: " + ", ".join(free["lever"].str.lower()) + ". They have no "
                 "direct spending in the cost model; their costs fall on children turned away "
                 "or on other services, which a price per pound would hide.")


def _change(r: Any, model: str) -> str:
    """A lever's move in its own words (posts per child as the authority's posts)."""
    shown = getattr(r, "shown_unit", "")
    if isinstance(shown, str) and shown:
        return f"{_num(r.shown_now)} → {_num(r.shown_setting)} {shown}"
    return f"{_num(r.now)} → {_num(r.setting)} ({naming(r.variable, model).unit})"


def _skill_words(b: Any) -> str:
    """The backtest's skill in words, or where it is missing and why."""
    st = b.settings
    if st.get("backtest") != "ok":
        why = st.get("backtest") or "not run"
        return (f"How well the model forecasts {b.area_name} was not measured for this brief "
                f"({why}): the forecast bands are the model's own, unchecked against "
                "later figures.")
    model, pers = st.get("backtest_mase_model"), st.get("backtest_mase_persistence")
    trend = st.get("backtest_mase_trend")
    words = (f"Fitted to {b.area_name}'s figures up to {st.get('backtest_origin')} and "
             "forecast three years ahead, the model's mean scaled error (MASE) was "
             f"{model:.2f}")
    rules = [f"{v:.2f} for {what}" for v, what in ((pers, "repeating the last figure"),
                                                   (trend, "extending the trend"))
             if v is not None]
    if rules:
        words += " against " + " and ".join(rules)
    beat = [v for v in (pers, trend) if v is not None]
    verdict = ("better than both naive rules" if beat and model < min(beat) else
               "no better than the naive rules" if beat and model >= max(beat) else
               "better than one naive rule, worse than the other")
    return words + (f" (lower is better): {verdict}." if beat else ".")


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
        "is published. The policy search is a short evolutionary search, so a better policy "
        "may exist at some costs; the margin it buys is capped where need reaches the top of "
        "the model's range, so the largest gains are understated.",
        _skill_words(b),
    ]
    page.section("Caveats", "\n\n".join(items))
