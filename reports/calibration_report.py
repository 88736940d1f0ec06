"""The calibration report: a verdict, data against fit, parameters with intervals, Theil,
profiles, pairs, and backtests against naive forecasts.

It consumes a `carespiral.calibration.result.CalibrationResult` (or anything with the same
tables): `fitted` (series, date or year, observed, fitted, lower, upper, unit), `parameters`
(parameter, estimate, lower, upper, bound_lower, bound_upper, ...), `fit` (series, r2, r,
slope_observed, slope_fitted, trend_sign, mape, u_m, u_s, u_c, ...), optional `draws`,
`profiles` (parameter, value, delta), `backtest`, `backtest_summary` and `rolling`. Visible
text uses the catalogue's labels and units (`carespiral.pysd_runner.catalog.naming`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from carespiral.errors import CarespiralError
from carespiral.pysd_runner.catalog import catalog, naming, plain_unit

from .page import Page, PlotlyJs
from .style import GREY, HIGHLIGHT, PALETTE, apply_layout, colour, wrap_title

__all__ = ["calibration_page", "calibration_report", "series_label", "series_unit"]

MAX_PAIR_PARAMETERS = 5  # a pair grid beyond this is unreadable at laptop width
MAX_DRAWS = 1500  # points per pair panel
CHI2_95 = 1.92  # half the 95% chi-square(1) quantile: a profile interval's log-posterior drop
PROFILE_CUT = 8.0  # profile panels show drops up to this (about four times the 95% line)


def series_label(series: str, model: str | None) -> str:
    """A series' label from the catalogue ("Section 47 enquiries")."""
    return naming(str(series), model).label


def series_unit(series: str, model: str | None, unit: str = "") -> str:
    """How a series is published ("referrals in the year to 31 March"), else its unit."""
    n = naming(str(series), model)
    return n.published or n.unit or unit


def _model(result: Any) -> str | None:
    m = str(getattr(result, "model", "") or "")
    return m if m in catalog() else None


def _model_title(result: Any) -> str:
    entry = catalog().get(str(getattr(result, "model", "")))
    return entry.title if entry is not None else str(getattr(result, "model", "the model"))


def calibration_report(result: Any, path: str | Path, *, title: str | None = None,
                       plotlyjs: PlotlyJs = "inline") -> Path:
    """Write the calibration report of `result` to `path`."""
    return calibration_page(result, title=title).write(path, plotlyjs=plotlyjs)


def calibration_page(result: Any, *, title: str | None = None) -> Page:
    """The calibration report as a `Page`."""
    from carespiral.calibration.verdict import calibration_verdict

    for attr in ("fitted", "parameters", "fit"):
        if not isinstance(getattr(result, attr, None), pd.DataFrame):
            raise CarespiralError(f"a calibration report needs the result's {attr!r} table")
    # the area's name; its statistical code ("England (E92000001)") is for machines
    area = re.sub(r"\s*\([A-Z]\d{8}\)$", "", str(result.area))
    until = (getattr(result, "manifest", None) or {}).get("fit_until")
    area += f", fitted to the figures up to {until}" if until else ""
    page = Page(title or f"Calibration of {_model_title(result)} to {area}",
                f"Method: {str(result.method).replace('_', ' ')}; random seed {result.seed}.")
    page.section("Verdict", calibration_verdict(result))
    intro = page.section("Summary")
    if not result.converged:
        why = str(result.message or "no reason given").rstrip(". ")
        intro.note(f"The optimiser did not converge: {why}. "
                   "Treat the estimates below with care.")
    diag = getattr(result, "diagnostics", {}) or {}
    facts = [("Model runs", diag.get("runs")), ("Seconds", diag.get("seconds")),
             ("Log-posterior at the priors' centres", diag.get("start_logpost")),
             ("Best log-posterior found", diag.get("best_logpost")),
             ("Sampler acceptance fraction", diag.get("acceptance_fraction")),
             ("Effective sample size", diag.get("ess"))]
    facts = [(k, v) for k, v in facts if isinstance(v, int | float)]
    if facts:
        intro.table(pd.DataFrame(facts, columns=["fact", "value"]))
    notes = (getattr(result, "manifest", {}) or {}).get("notes") or []
    for n in notes:
        intro.note(str(n)[:1].upper() + str(n)[1:] + ".")
    _fit_section(page, result)
    _parameter_section(page, result)
    if result.draws is not None and len(result.draws) and result.draws.shape[1] >= 2:
        _pairs_section(page, result.draws, result.parameters)
    if getattr(result, "backtest", None) is not None and len(result.backtest):
        _backtest_section(page, result)
    rolling = getattr(result, "rolling", None)
    if rolling is not None and len(rolling):
        from .backtest_report import rolling_section

        rolling_section(page, rolling, _model(result))
    return page


def _x(frame: pd.DataFrame) -> tuple[pd.Series, str]:
    if "date" in frame.columns and frame["date"].notna().any():
        return pd.to_datetime(frame["date"]), "Date of the published figure"
    return frame["year"], "Year"


def _fit_section(page: Page, result: Any) -> None:
    model = _model(result)
    sec = page.section(
        "Data against fit",
        "Published values (dots) against the calibrated model (line), with the 95% predictive "
        "interval (band) from parameter uncertainty and the error model.",
    )
    fit = result.fit
    if "trend_sign" in fit:
        for _, r in fit[fit["trend_sign"] == "wrong"].iterrows():
            unit = series_unit(r["series"], model)
            # a trend in a percentage moves by percentage points
            per = ("percentage points a year" if unit.startswith("%") else
                   f"a year ({unit})" if unit else "a year")
            sec.note(f"Warning: {series_label(r['series'], model)} runs against the data: "
                     f"the published figures move {r['slope_observed']:+,.3g} {per}, the "
                     f"fitted model {r['slope_fitted']:+,.3g}.")
    for series, g in result.fitted.groupby("series", sort=False):
        g = g.sort_values("date" if "date" in g.columns else "year")
        x, xtitle = _x(g)
        unit = series_unit(series, model, str(g["unit"].iloc[0]) if "unit" in g else "")
        fig = go.Figure()
        fig.add_trace(go.Scatter(x=x, y=g["upper"], mode="lines", line={"width": 0},
                                 showlegend=False, hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=x, y=g["lower"], mode="lines", line={"width": 0},
                                 fill="tonexty", fillcolor="rgba(0,114,178,0.2)",
                                 name="95% predictive interval", hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=x, y=g["fitted"], mode="lines", name="model",
                                 line={"color": PALETTE[0], "width": 2.5},
                                 hovertemplate=f"model: %{{y:,.4~g}} {unit}<extra></extra>"))
        fig.add_trace(go.Scatter(x=x, y=g["observed"], mode="markers", name="published",
                                 marker={"color": HIGHLIGHT, "size": 8},
                                 hovertemplate=f"published: %{{y:,.4~g}} {unit}<extra></extra>"))
        apply_layout(fig, title=series_label(series, model), height=380)
        fig.update_layout(hovermode="x unified")
        fig.update_xaxes(title_text=xtitle)
        fig.update_yaxes(title_text=wrap_title(unit or "value"))
        sec.figure(fig, how_to_read=(
            "Dots are the published figures, the line the fitted model and the band where 95% of "
            "published values should fall if the model and its error model are right."))
    if len(fit) and {"u_m", "u_s", "u_c"} <= set(fit.columns):
        labels = [series_label(x, model) for x in fit["series"]]
        fig = go.Figure()
        names = {"u_m": "bias (U^M)", "u_s": "unequal variation (U^S)",
                 "u_c": "unequal covariation (U^C)"}
        for i, key in enumerate(("u_m", "u_s", "u_c")):
            fig.add_trace(go.Bar(
                y=labels, x=fit[key], orientation="h", name=names[key],
                marker={"color": (HIGHLIGHT, PALETTE[1], PALETTE[0])[i]},
                hovertemplate=f"%{{y}}: {names[key]} %{{x:.2f}}<extra></extra>",
            ))
        apply_layout(fig, title="Theil decomposition of the mean squared error",
                     height=max(260, 40 * len(fit) + 160))
        fig.update_layout(barmode="stack")
        fig.update_xaxes(title_text="share of the mean squared error", range=[0, 1])
        fig.update_yaxes(automargin=True)
        sec.figure(fig, how_to_read=(
            "Each bar splits a series' squared error into bias (the model runs too high or low), "
            "unequal variation (it swings too much or too little) and unequal covariation "
            "(point-by-point noise). Most error in U^C is the healthy case (Sterman 1984)."))
        sec.table(fit_frame(fit, model), caption=(
            "Fit statistics per series. R² is 1 - SSE/SST (below 0: worse than the series' own "
            "mean); r the signed correlation; the trends are least-squares slopes a year; a "
            "trend is 'wrong' when the published one is clear (at least twice its standard "
            "error) and the fit goes the other way; rho is the residuals' lag-1 "
            "autocorrelation in the error model."))


def fit_frame(fit: pd.DataFrame, model: str | None) -> pd.DataFrame:
    """The fit table with readable headings and series labels."""
    from carespiral.calibration.verdict import fit_quality

    q = fit_quality(fit)
    cols = {"series": "series", "n": "values", "quality": "fit", "r2": "R²", "r": "r",
            "slope_observed": "published trend a year", "slope_fitted": "fitted trend a year",
            "trend_sign": "trend", "mape": "MAPE %", "u_m": "U^M", "u_s": "U^S", "u_c": "U^C",
            "rho": "rho"}
    f = fit.assign(quality=fit["series"].map(q))
    f = f[[c for c in cols if c in f.columns]].rename(columns=cols)
    f["series"] = [series_label(x, model) for x in fit["series"]]
    # as many digits as a reader can use: shares and correlations to 2 decimals, MAPE to 1,
    # trends to 3 significant figures
    for c in ("R²", "r", "U^M", "U^S", "U^C", "rho"):
        if c in f.columns:
            f[c] = pd.to_numeric(f[c], errors="coerce").round(2)
    if "MAPE %" in f.columns:
        f["MAPE %"] = pd.to_numeric(f["MAPE %"], errors="coerce").round(1)
    for c in ("published trend a year", "fitted trend a year"):
        if c in f.columns:
            f[c] = [float(f"{v:.3g}") if np.isfinite(v) else v
                    for v in pd.to_numeric(f[c], errors="coerce")]
    return f


def _parameter_section(page: Page, result: Any) -> None:
    p = result.parameters.reset_index(drop=True)
    sec = page.section(
        "Parameters",
        "Each estimate with its 95% interval, drawn within the bounds the calibration allowed.",
    )
    if {"bound_lower", "bound_upper", "estimate", "lower", "upper"} <= set(p.columns):
        lo_b = p["bound_lower"].astype(float)
        span = (p["bound_upper"].astype(float) - lo_b).replace(0, 1.0)

        def scale(col: str) -> pd.Series:
            return (p[col].astype(float) - lo_b) / span

        fig = go.Figure()
        fig.add_trace(go.Scatter(
            x=scale("estimate"), y=p["parameter"], mode="markers", name="estimate",
            marker={"color": PALETTE[0], "size": 10},
            error_x={"type": "data", "symmetric": False,
                     "array": scale("upper") - scale("estimate"),
                     "arrayminus": scale("estimate") - scale("lower"), "color": PALETTE[0]},
            customdata=np.column_stack([p["estimate"], p["lower"], p["upper"]]),
            hovertemplate=("%{y}: %{customdata[0]:.4~g}<br>95% interval %{customdata[1]:.4~g} "
                           "to %{customdata[2]:.4~g}<extra></extra>"),
        ))
        if {"profile_lower", "profile_upper"} <= set(p.columns):
            fig.add_trace(go.Scatter(
                x=scale("profile_lower"), y=p["parameter"], mode="markers",
                name="profile interval ends", marker={"symbol": "line-ns-open", "size": 14,
                                                      "color": HIGHLIGHT},
                hoverinfo="skip"))
            fig.add_trace(go.Scatter(
                x=scale("profile_upper"), y=p["parameter"], mode="markers", showlegend=False,
                marker={"symbol": "line-ns-open", "size": 14, "color": HIGHLIGHT},
                hoverinfo="skip"))
        apply_layout(fig, title="Estimates and 95% intervals within the bounds",
                     height=max(280, 36 * len(p) + 160))
        fig.update_xaxes(range=[-0.03, 1.03], tickvals=[0, 0.5, 1],
                         ticktext=["lower bound", "middle", "upper bound"],
                         title_text="position within the calibration bounds")
        fig.update_yaxes(automargin=True)
        sec.figure(fig, how_to_read=(
            "A short whisker means the data pin the parameter down; a whisker across most of the "
            "range means they do not (flat). Hover for values in the parameter's own units."))
    sec.table(parameter_frame(p, _parameter_units(result)), caption=(
        "Fitted parameters: estimate and 95% interval (the profile interval where profiles "
        "were computed, the Laplace one beside it), prior and bounds; 'flat': the data do not "
        "identify the parameter, 'one-sided': only one end of its interval is."))
    prof = getattr(result, "profiles", None)
    if prof is not None and len(prof):
        _profiles(sec, prof)


def _parameter_units(result: Any) -> dict[str, str]:
    """Each parameter's unit in words, from the model file (read, not run); {} when the model
    cannot be opened (a result moved away from its model)."""
    from carespiral.pysd_runner import load

    try:
        m = load(str(getattr(result, "model", "")))
    except (CarespiralError, OSError):
        return {}
    return {v.name: plain_unit(v.units, v.name) for v in m.variables}


def parameter_frame(p: pd.DataFrame, units: dict[str, str] | None = None) -> pd.DataFrame:
    """The parameter table with readable headings (and each parameter's unit when known)."""
    if units:
        p = p.assign(unit=[units.get(str(n), "") for n in p["parameter"]])
    cols = {"parameter": "parameter", "unit": "unit", "estimate": "estimate",
            "posterior_median": "median",
            "lower": "95% lower", "upper": "95% upper", "laplace_lower": "Laplace lower",
            "laplace_upper": "Laplace upper", "identifiability": "identified",
            "prior": "prior", "bound_lower": "lower bound", "bound_upper": "upper bound",
            "at_bound": "at a bound"}
    return p[[c for c in cols if c in p.columns]].rename(columns=cols)


def _profiles(sec: Any, prof: pd.DataFrame) -> None:
    names = list(pd.unique(prof["parameter"]))
    cols = min(3, len(names))
    rows = int(np.ceil(len(names) / cols))
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=names,
                        vertical_spacing=min(0.12, 0.3 / rows))
    for i, name in enumerate(names):
        g = prof[prof["parameter"] == name].sort_values("value")
        fig.add_trace(go.Scatter(
            x=g["value"], y=g["delta"], mode="lines+markers", showlegend=False,
            line={"color": PALETTE[0]}, marker={"size": 5},
            hovertemplate=f"{name} = %{{x:.4~g}}<br>drop %{{y:.2f}}<extra></extra>",
        ), row=i // cols + 1, col=i % cols + 1)
        fig.add_hline(y=CHI2_95, line={"color": GREY, "dash": "dot", "width": 1},
                      row=i // cols + 1, col=i % cols + 1)
        # zoom each panel onto the values whose drop is on the panel (plus one point each side)
        x, d = g["value"].to_numpy(dtype=float), g["delta"].to_numpy(dtype=float)
        near = np.flatnonzero(d <= PROFILE_CUT)
        if len(near) and len(x) > 1:
            # where the curve leaves the panel: interpolate between the last point on it and
            # the first beyond it, so a coarse grid does not stretch the axis to the bounds
            a, b = near.min(), near.max()
            lo_x = x[a] if a == 0 else np.interp(PROFILE_CUT, [d[a], d[a - 1]], [x[a], x[a - 1]])
            hi_x = x[b] if b == len(x) - 1 else np.interp(
                PROFILE_CUT, [d[b], d[b + 1]], [x[b], x[b + 1]])
            pad = 0.05 * (hi_x - lo_x)
            lo_x, hi_x = lo_x - pad, hi_x + pad
            if hi_x > lo_x:
                fig.update_xaxes(range=[lo_x, hi_x], row=i // cols + 1, col=i % cols + 1)
    apply_layout(fig, title="Profiles: drop in log-posterior as each parameter moves",
                 height=280 * rows + 120)
    # the 95% line is what matters: show drops up to a few times it, cut the far tails
    top = float(min(max(prof["delta"].max(), 2 * CHI2_95), PROFILE_CUT))
    fig.update_yaxes(title_text="drop", range=[top * 1.05, -0.05 * top])
    fig.update_annotations(font={"size": 11})
    sec.figure(fig, how_to_read=(
        "Each panel moves one parameter with the others re-fitted; the curve shows how much worse "
        "the fit gets (drops beyond 8 run off the panel). The dotted line (1.92) bounds the 95% "
        "profile interval: a curve that never reaches it means the data do not identify that "
        "parameter."))


def _pairs_section(page: Page, draws: pd.DataFrame, params: pd.DataFrame) -> None:
    names = list(draws.columns)
    note = ""
    if len(names) > MAX_PAIR_PARAMETERS:
        # the most uncertain parameters (widest interval relative to bounds) are the interesting
        p = params.set_index("parameter")
        rel = ((p["upper"] - p["lower"]) / (p["bound_upper"] - p["bound_lower"])
               if {"bound_lower", "bound_upper"} <= set(p.columns) else p["upper"] - p["lower"])
        names = [n for n in rel.sort_values(ascending=False).index if n in draws.columns][
            :MAX_PAIR_PARAMETERS]
        note = (f"The {MAX_PAIR_PARAMETERS} parameters with the widest intervals (of "
                f"{draws.shape[1]}) are shown.")
    d = draws[names]
    if len(d) > MAX_DRAWS:
        d = d.sample(MAX_DRAWS, random_state=1)
        note += f" {MAX_DRAWS:,} of {len(draws):,} draws drawn (seeded sample)."
    k = len(names)
    fig = make_subplots(rows=k, cols=k, horizontal_spacing=0.02, vertical_spacing=0.02)
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            if i == j:
                fig.add_trace(go.Histogram(x=d[a], nbinsx=30, marker={"color": PALETTE[0]},
                                           showlegend=False, hovertemplate=f"{a}: %{{x}}<br>"
                                           "%{y} draws<extra></extra>"), row=i + 1, col=j + 1)
            elif i > j:
                fig.add_trace(go.Scatter(x=d[b], y=d[a], mode="markers", showlegend=False,
                                         marker={"size": 3, "color": colour(0), "opacity": 0.35},
                                         hovertemplate=f"{b}: %{{x:.4~g}}<br>{a}: %{{y:.4~g}}"
                                         "<extra></extra>"), row=i + 1, col=j + 1)
            if i == k - 1:
                fig.update_xaxes(title_text=b, row=i + 1, col=j + 1, title_font={"size": 10})
            if j == 0:
                fig.update_yaxes(title_text=a, row=i + 1, col=j + 1, title_font={"size": 10})
    apply_layout(fig, title="Posterior draws, two parameters at a time", height=170 * k + 140)
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False)
    page.section("Posterior pairs").figure(fig, how_to_read=(
        "Diagonal: each parameter's spread of draws. Below it: draws of two parameters against "
        "each other; a narrow diagonal cloud means the data fix only a combination of the two."),
        caption=note.strip())


def _backtest_section(page: Page, result: Any) -> None:
    model = _model(result)
    bt = result.backtest
    until = (getattr(result, "manifest", {}) or {}).get("fit_until", "")
    sec = page.section(
        "Backtest against naive forecasts",
        f"The model was fitted to the figures up to {until or 'the cut-off'} and then forecast "
        "the later ones; the naive forecasts repeat the last value (persistence), extend the "
        "linear trend or repeat the mean of the fitted years.",
    )
    for series, g in bt.groupby("series", sort=False):
        g = g.sort_values("date" if "date" in g.columns else "year")
        x, xtitle = _x(g)
        unit = series_unit(series, model)
        fig = go.Figure()
        fig.add_trace(go.Scatter(x=x, y=g["upper"], mode="lines", line={"width": 0},
                                 showlegend=False, hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=x, y=g["lower"], mode="lines", line={"width": 0},
                                 fill="tonexty", fillcolor="rgba(0,114,178,0.2)",
                                 name="model 95% interval", hoverinfo="skip"))
        for i, (col, label) in enumerate((("forecast", "model"), ("persistence", "persistence"),
                                          ("trend", "linear trend"))):
            if col in g.columns:
                fig.add_trace(go.Scatter(
                    x=x, y=g[col], mode="lines+markers", name=label,
                    line={"color": (PALETTE[0], GREY, PALETTE[1])[i],
                          "dash": ("solid", "dot", "dash")[i]},
                    hovertemplate=f"{label}: %{{y:,.4~g}} {unit}<extra></extra>"))
        fig.add_trace(go.Scatter(x=x, y=g["observed"], mode="markers", name="published",
                                 marker={"color": HIGHLIGHT, "size": 9},
                                 hovertemplate=f"published: %{{y:,.4~g}} {unit}<extra></extra>"))
        apply_layout(fig, title=f"Forecast: {series_label(series, model)}", height=360)
        fig.update_layout(hovermode="x unified")
        fig.update_xaxes(title_text=xtitle)
        fig.update_yaxes(title_text=wrap_title(unit or "value"))
        sec.figure(fig, how_to_read=(
            "Dots are the held-out published figures; the model should be nearer to them than "
            "the grey (persistence) and orange (trend) naive forecasts."))
    summary = getattr(result, "backtest_summary", None)
    if summary is not None and len(summary):
        from .backtest_report import score_frame

        sec.table(score_frame(summary, model), caption=(
            "Mean absolute scaled error (below 1 beats the in-sample one-step change): the "
            "model's forecast (its run plus the error model's carry-over of the last fitted "
            "residual), the run alone, and the naive rules; and the share of held-out values "
            "inside the model's 95% interval."))
