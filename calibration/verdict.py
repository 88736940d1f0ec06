"""Verdicts: two to five plain-English sentences computed from a calibration or a backtest.

The calibration report and the text report open with them, and `carespiral calibrate` and
`carespiral backtest` end with them. They name series by the catalogue's labels
(`carespiral.pysd_runner.catalog.naming`), never by code names.

Fit quality per series, with named thresholds on R² = 1 - SSE/SST and the trend
(`calibration.fit_stats`):

- good: R² at least `GOOD_R2` and the fitted trend not against a clear published one;
- weak: R² from 0 to `GOOD_R2`;
- no better than the average: R² below 0 (the series' own mean fits better);
- runs against the data: the published series has a clear trend (slope at least twice its
  standard error) and the fit's trend has the opposite sign, whatever its R².

A forecast beats a naive rule when its mean absolute scaled error is lower. "Converged" refers
to the optimiser or sampler only.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from carespiral.pysd_runner.catalog import naming

__all__ = ["GOOD_R2", "backtest_verdict", "calibration_verdict", "fit_quality"]

GOOD_R2 = 0.5
QUALITY_ORDER = ("good", "weak", "no better than the average", "runs against the data")


def _label(series: str, model: str | None) -> str:
    return naming(str(series), model).label


def _lower(text: str) -> str:
    """Sentence-inside form of a label: lower-case its first word unless it is an acronym."""
    first = text.split(" ", 1)[0]
    return text if first.isupper() or first[:1].isdigit() else text[:1].lower() + text[1:]


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def fit_quality(fit: pd.DataFrame) -> pd.Series:
    """Each series' fit quality (index: series), by the thresholds of the module docstring."""
    out = {}
    for _, r in fit.iterrows():
        r2 = float(r.get("r2", np.nan))
        if str(r.get("trend_sign", "")) == "wrong":
            q = "runs against the data"
        elif not np.isfinite(r2) or r2 < 0:
            q = "no better than the average"
        elif r2 < GOOD_R2:
            q = "weak"
        else:
            q = "good"
        out[r["series"]] = q
    return pd.Series(out, dtype=object)


def _fit_sentence(fit: pd.DataFrame, model: str | None) -> str:
    q = fit_quality(fit)
    n = len(q)
    parts = []
    names = {k: [_lower(_label(s, model)) for s in q.index[q == k]] for k in QUALITY_ORDER}
    if names["good"]:
        parts.append(f"well (R² at least {GOOD_R2:g}) on {_join(names['good'])}")
    if names["weak"]:
        parts.append(f"weakly (R² from 0 to {GOOD_R2:g}) on {_join(names['weak'])}")
    if names["no better than the average"]:
        parts.append("no better than each series' own average (R² below 0) on "
                     + _join(names["no better than the average"]))
    text = (f"Of {n} published series, the model follows the history " + "; ".join(parts)
            + ".") if parts else f"Of {n} published series, the model follows none."
    if names["runs against the data"]:
        text += (" It runs against the data on " + _join(names["runs against the data"])
                 + ": the published series has a clear trend and the fitted one goes the other "
                 "way.")
    return text


def _beats(scores: pd.DataFrame, model_col: str = "mase_model") -> str:
    n = len(scores)
    b_p = int((scores[model_col] < scores["mase_persistence"]).sum())
    b_t = int((scores[model_col] < scores["mase_trend"]).sum())
    m = scores[[model_col, "mase_persistence", "mase_trend"]].mean()
    verdict = ("beats both naive rules on average" if m[model_col] < min(
        m["mase_persistence"], m["mase_trend"]) else
               "does not beat 'same as last year' on average" if m[model_col] >=
               m["mase_persistence"] else "does not beat the linear trend on average")
    return (f"it {verdict} (mean scaled error {m[model_col]:.2f}, against "
            f"{m['mase_persistence']:.2f} for 'same as last year' and {m['mase_trend']:.2f} "
            f"for the linear trend; below 1 beats the typical year-to-year change), and is "
            f"better than 'same as last year' on {b_p} of {n} series and than the trend on "
            f"{b_t}")


def _optimiser_sentence(result: Any) -> str:
    method = str(result.method)
    if method == "emcee":
        if result.converged:
            return ("The sampler converged: its chains are long enough (at least 50 "
                    "autocorrelation times) for the intervals to be read.")
        return ("The sampler did not converge (its chains are shorter than 50 autocorrelation "
                "times or mix badly), so the intervals are rough; a larger budget is needed.")
    if result.converged:
        return "The optimiser converged (its own stopping test was met)."
    return ("The optimiser stopped at its run budget before its own stopping test was met, so "
            "a longer search might still improve the fit; the estimates are the best found.")


def calibration_verdict(result: Any) -> str:
    """Two to five sentences on a `CalibrationResult`: fit by series, forecasts, optimiser,
    and what can be concluded."""
    model = result.model
    out = [_fit_sentence(result.fit, model)] if len(result.fit) else []
    bsum = getattr(result, "backtest_summary", None)
    until = (getattr(result, "manifest", {}) or {}).get("fit_until", "")
    if bsum is not None and len(bsum) and {"mase_persistence", "mase_trend"} <= set(bsum):
        cov = float(np.average(bsum["coverage"], weights=bsum["n"]))
        upto = f"the figures up to {until}" if until else "the earlier figures"
        out.append(f"Fitted to {upto} and forecasting the later years, "
                   + _beats(bsum) + f"; {cov:.0%} of the later published values fall inside "
                   "its 95% predictive interval.")
    else:
        out.append("This fit is not tested on years it did not see: a backtest (fitting to an "
                   "earlier year and forecasting the later ones) is what shows whether the "
                   "model forecasts better than naive rules.")
    out.append(_optimiser_sentence(result))
    p = result.parameters
    flat = [str(n) for n, f in zip(p["parameter"], p.get("identifiability", pd.Series(
        [""] * len(p))), strict=False) if f == "flat"]
    if flat:
        out.append(f"The data do not pin down {_join(flat)}; conclusions that depend on "
                   f"{'it' if len(flat) == 1 else 'them'} rest on the prior, not on the data.")
    else:
        out.append("A good fit shows the model can reproduce this history, not that its causal "
                   "structure is the true one; other structures might fit as well.")
    return " ".join(out[:5])


def backtest_verdict(bt: Any) -> str:
    """Two to five sentences on a `BacktestResult`."""
    s = bt.scores
    o = bt.overall()
    origins = list(bt.origins)
    span = f"{origins[0]} to {origins[-1]}" if len(origins) > 1 else str(origins[0])
    how = ("knowing only the drivers and events up to each origin" if bt.ex_ante else
           "given the drivers and the events as they happened")
    out = [f"Fitted at each origin from {span} and forecasting 1 to {bt.horizon} years ahead "
           f"({how}), the model " + _beats(s)[3:] + "."]
    worst = s.sort_values("mase_model", ascending=False).head(3)
    lost = worst[worst["mase_model"] >= worst["mase_persistence"]]
    if len(lost):
        out.append("It forecasts worst on " + _join(
            [f"{_lower(_label(r['series'], bt.model))} ({r['mase_model']:.2f} against "
             f"{r['mase_persistence']:.2f})" for _, r in lost.iterrows()]) + ".")
    cov = o["coverage"]
    judged = ("about right" if 0.85 <= cov <= 0.98 else
              "too narrow: the model is over-confident" if cov < 0.85 else
              "wider than needed")
    out.append(f"{cov:.0%} of {int(o['forecasts'])} published values fall inside the 95% "
               f"predictive intervals, which is {judged}.")
    if "mase_run" in s:
        out.append(f"The model run alone, without the error model's carry-over of the last "
                   f"fitted residual, scores {o['mase_run']:.2f}.")
    out.append("These are forecasts of published figures a few years ahead; they test the "
               "fitted model's dynamics, not what a policy would do.")
    return " ".join(out[:5])
