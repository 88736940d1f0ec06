"""The backtest report: rolling-origin forecasts against published figures and naive rules.

It consumes a `carespiral.calibration.rolling.BacktestResult` (`forecasts`, `scores`,
`by_horizon`, `fits`); the calibration report draws the same section from a calibration's
`rolling` table. A verdict first, then the mean scaled errors per series (model, the model run
alone, persistence, trend, mean), the errors by horizon, coverage, and each series' forecasts
from every origin against what was published.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from carespiral.pysd_runner.catalog import catalog

from .page import Page, PlotlyJs
from .style import GREY, HIGHLIGHT, PALETTE, apply_layout, colour, wrap_title

__all__ = ["backtest_page", "backtest_report", "rolling_section", "score_frame"]

_SCORE_COLS = {"series": "series", "n": "forecasts", "mase_model": "model",
               "mase_run": "model run alone", "mase_persistence": "same as last year",
               "mase_trend": "linear trend", "mase_mean": "in-sample mean",
               "coverage": "inside the 95% interval"}


def score_frame(scores: pd.DataFrame, model: str | None) -> pd.DataFrame:
    """A scores table with readable headings and series labels."""
    from .calibration_report import series_label

    f = scores[[c for c in _SCORE_COLS if c in scores.columns]].copy()
    f["series"] = [series_label(x, model) for x in f["series"]]
    if "coverage" in f:
        f["coverage"] = [f"{v:.0%}" for v in f["coverage"]]
    return f.rename(columns=_SCORE_COLS)


def backtest_report(result: Any, path: str | Path, *, plotlyjs: PlotlyJs = "inline") -> Path:
    """Write the report of a rolling-origin backtest to `path`."""
    return backtest_page(result).write(path, plotlyjs=plotlyjs)


def backtest_page(result: Any) -> Page:
    """The backtest report as a `Page`."""
    from carespiral.calibration.verdict import backtest_verdict

    entry = catalog().get(result.model)
    model = result.model if entry is not None else None
    page = Page(f"Forecast backtest of {entry.title if entry else result.model} for "
                f"{result.area}",
                f"Fitted at each origin ({', '.join(map(str, result.origins))}) with "
                f"{str(result.method).replace('_', ' ')}, forecasting 1 to {result.horizon} "
                f"years ahead, {'ex ante' if result.ex_ante else 'ex post'}.")
    page.section("Verdict", backtest_verdict(result))
    rolling_section(page, result.forecasts, model, scores=result.scores,
                    by_horizon=result.by_horizon)
    fits = result.fits
    if len(fits):
        cols = {"origin": "origin", "status": "fit", "converged": "optimiser converged",
                "runs": "model runs", "seconds": "seconds", "message": "message"}
        page.section("Fits at each origin").table(
            fits[[c for c in cols if c in fits.columns]].rename(columns=cols))
    return page


def rolling_section(page: Page, forecasts: pd.DataFrame, model: str | None,
                    scores: pd.DataFrame | None = None,
                    by_horizon: pd.DataFrame | None = None) -> None:
    """The rolling-origin backtest section: scores, errors by horizon, forecasts per series."""
    from carespiral.calibration.backtest import score_forecasts

    from .calibration_report import series_label, series_unit

    scores = score_forecasts(forecasts) if scores is None else scores
    by_horizon = score_forecasts(forecasts, by=("series", "horizon")) if by_horizon is None \
        else by_horizon
    origins = sorted(forecasts["origin"].unique())
    sec = page.section(
        "Rolling-origin backtest",
        f"The model was fitted at each origin from {origins[0]} to {origins[-1]} and forecast "
        "the next years. Each forecast's error is scaled by the typical year-to-year change "
        "up to its origin (the mean absolute scaled error, MASE): below 1 beats that change; "
        "the naive rules are 'same as last year', the linear trend and the in-sample mean. "
        "The model's forecast is its run plus a residual model estimated from all the fitted "
        "series together: the gap between the last published value and the run closes by one "
        "factor a year (1 keeps the last value and adds the model's change; 0 is the run "
        "alone), and the interval adds parameter uncertainty and Student-t noise whose scale "
        "borrows from the other series where a series has few years.")
    mean = scores[[c for c in scores.columns if c.startswith("mase_")]].mean()
    rules = [c for c in ("mase_model", "mase_run", "mase_persistence", "mase_trend",
                         "mase_mean") if c in mean.index]
    fig = go.Figure(go.Bar(
        x=[_SCORE_COLS[c] for c in rules], y=[mean[c] for c in rules],
        marker={"color": [PALETTE[0], PALETTE[2], GREY, PALETTE[1], PALETTE[3]][:len(rules)]},
        hovertemplate="%{x}: %{y:.2f}<extra></extra>"))
    fig.add_hline(y=1.0, line={"color": GREY, "dash": "dot", "width": 1})
    apply_layout(fig, title="Mean scaled error over the series", height=340)
    fig.update_yaxes(title_text="mean absolute scaled error")
    sec.figure(fig, how_to_read=(
        "Lower is better; each series counts once. The model should be below the three naive "
        "rules; below the dotted line (1) it beats the typical year-to-year change."))
    sec.table(score_frame(scores, model), caption="Mean absolute scaled error per series over "
              "all origins and horizons, and the share of published values inside the model's "
              "95% predictive interval.")
    if by_horizon is not None and len(by_horizon):
        h = by_horizon.groupby("horizon")[[c for c in rules if c in by_horizon]].mean()
        fig = go.Figure()
        for i, c in enumerate(h.columns):
            fig.add_trace(go.Scatter(x=h.index, y=h[c], mode="lines+markers",
                                     name=_SCORE_COLS[c], line={"color": colour(i)},
                                     hovertemplate=f"{_SCORE_COLS[c]}, %{{x}} years ahead: "
                                     "%{y:.2f}<extra></extra>"))
        apply_layout(fig, title="Mean scaled error by years ahead", height=340)
        fig.update_xaxes(title_text="years ahead", dtick=1)
        fig.update_yaxes(title_text="mean absolute scaled error")
        sec.figure(fig, how_to_read=("Errors grow with the years ahead; the model's line should "
                                     "stay below the naive rules' at every horizon."))
    for series, g in forecasts.groupby("series", sort=False):
        unit = series_unit(series, model)
        fig = go.Figure()
        for i, (origin, o) in enumerate(g.groupby("origin")):
            o = o.sort_values("year")
            fig.add_trace(go.Scatter(
                x=o["year"], y=o["forecast"], mode="lines+markers", name=f"from {origin}",
                line={"color": colour(i), "width": 1.5},
                error_y={"type": "data", "symmetric": False, "array": o["upper"] - o["forecast"],
                         "arrayminus": o["forecast"] - o["lower"], "width": 3,
                         "color": colour(i), "thickness": 1},
                hovertemplate=f"forecast from {origin}: %{{y:,.4~g}} {unit}<extra></extra>"))
        pub = g.drop_duplicates("year").sort_values("year")
        fig.add_trace(go.Scatter(x=pub["year"], y=pub["observed"], mode="markers",
                                 name="published", marker={"color": HIGHLIGHT, "size": 10,
                                                           "symbol": "diamond"},
                                 hovertemplate=f"published: %{{y:,.4~g}} {unit}<extra></extra>"))
        apply_layout(fig, title=f"Forecasts from each origin: {series_label(series, model)}",
                     height=380)
        fig.update_xaxes(title_text="year the published figure refers to", dtick=1)
        fig.update_yaxes(title_text=wrap_title(unit or "value"))
        sec.figure(fig, how_to_read=(
            "Each coloured line is one origin's forecast with its 95% interval (whiskers); the "
            "diamonds are what was published. Forecasts that cross the diamonds' path, with "
            "whiskers that cover them, are good."))
