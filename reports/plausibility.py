"""Signals of implausibility: where a result leaves what any English authority has recorded.

A model can be pushed to states no real service has been in (millions of children awaiting
assessment). Those are extrapolations, not findings, and a report must say so. The ranges come
from `carespiral.data.ranges.model_ranges` (the lowest and highest value of each published
series over every authority and year, per 10,000 children for counts, put in the model's units
for the run's child population), computed by the command and passed in; this module draws them
(a shaded band) and finds where a line leaves them (a marked point and a sentence).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go

__all__ = ["BAND_NAME", "Exit", "add_band", "add_exits", "exit_of", "exits_sentence",
           "published_text", "range_text"]

BAND_NAME = "range recorded by English authorities"
BAND_FILL = "rgba(0, 158, 115, 0.13)"  # bluish green, light: the data, behind the lines
BAND_EDGE = "rgba(0, 158, 115, 0.55)"
EXIT_COLOUR = "#000000"
TOL = 1e-9


@dataclass(frozen=True)
class Exit:
    """Where one line first leaves the recorded range, and how far it goes."""

    variable: str
    line: str  # the run, branch or leg
    at: Any  # the x where it first leaves (a date, a month or a parameter value)
    value: float  # the model value there
    extreme: float  # the value furthest outside the range on the line
    above: bool  # beyond the highest (else below the lowest)


def _fmt(v: float) -> str:
    a = abs(v)
    if a >= 100:
        return f"{v:,.0f}"
    return f"{v:,.3g}" if a >= 1 else f"{v:.2g}"


def published_text(ranges: Any, variable: str, value: float, children: float | None = None
                   ) -> str:
    """A model value in the published form of its range ("2,100 per 10,000 children")."""
    r = ranges.row(variable)
    v = ranges.published(variable, value, children)
    if r is None or not np.isfinite(v):
        return _fmt(value)
    unit = str(r["unit"])
    return f"{_fmt(v)}%" if unit == "%" else f"{_fmt(v)} {unit}"


def range_text(ranges: Any, variable: str) -> str:
    """The recorded range in words ("from 0 to 186 per 10,000 children, the highest in
    Torbay 2015")."""
    r = ranges.row(variable)
    unit = str(r["unit"])
    lo, hi = (f"{_fmt(float(r[k]))}%" if unit == "%" else _fmt(float(r[k]))
              for k in ("low", "high"))
    tail = "" if unit == "%" else f" {unit}"
    return f"from {lo} to {hi}{tail} (the highest in {r['high_at']})"


def add_band(fig: go.Figure, ranges: Any, variable: str, x0: Any, x1: Any,
             children: float | None = None, unit: str = "") -> tuple[float, float] | None:
    """Shade the recorded range of `variable` from x0 to x1 (behind the lines, with a legend
    entry and the range in its hover). Returns (low, high) in model units, or None."""
    b = ranges.bounds(variable, children) if ranges is not None else None
    if b is None:
        return None
    lo, hi = b
    text = (f"Range recorded by English authorities: {range_text(ranges, variable)}; "
            f"here {_fmt(lo)} to {_fmt(hi)} {unit}".strip())
    fig.add_trace(go.Scatter(
        x=[x0, x1, x1, x0, x0], y=[lo, lo, hi, hi, lo], mode="lines", fill="toself",
        fillcolor=BAND_FILL, line={"color": BAND_EDGE, "width": 1}, name=BAND_NAME,
        hoveron="fills", hoverinfo="text", text=text, legendrank=2000,
    ))
    # the band is drawn first so that the model's lines lie on top of it
    fig.data = (fig.data[-1], *fig.data[:-1])
    return b


def exit_of(x: Sequence[Any], y: Sequence[float], bounds: tuple[float, float],
            variable: str, line: str) -> Exit | None:
    """The first point of a line outside (low, high), or None if it stays within."""
    lo, hi = bounds
    v = np.asarray(y, dtype=float)
    span = max(abs(hi), abs(lo), 1e-12)
    above = v > hi + TOL * span
    below = v < lo - TOL * span
    out = np.flatnonzero(above | below)
    if not len(out):
        return None
    i = int(out[0])
    up = bool(above[i])
    extreme = float(np.nanmax(v) if up else np.nanmin(v))
    return Exit(variable, line, x[i], float(v[i]), extreme, up)


def add_exits(fig: go.Figure, exits: Sequence[Exit], hover_x: str, unit: str,
              ranges: Any = None, children: float | None = None) -> None:
    """Mark where each line leaves the range (one legend entry for all of them)."""
    if not exits:
        return
    text = []
    for e in exits:
        where = published_text(ranges, e.variable, e.value, children) if ranges is not None \
            else _fmt(e.value)
        text.append(f"{e.line}: leaves the recorded range here ({_fmt(e.value)} {unit}; "
                    f"{where})")
    fig.add_trace(go.Scatter(
        x=[e.at for e in exits], y=[e.value for e in exits], mode="markers",
        name="leaves the recorded range", hovertext=text,
        marker={"symbol": ["triangle-up" if e.above else "triangle-down" for e in exits],
                "size": 13, "color": EXIT_COLOUR, "line": {"color": "white", "width": 1}},
        hovertemplate=f"{hover_x}<br>%{{hovertext}}<extra></extra>",
    ))


def exits_sentence(exits: Sequence[Exit], ranges: Any, label: dict[str, str],
                   when: dict[Any, str] | None = None, children: float | None = None,
                   what: str = "run") -> str:
    """One sentence naming the lines and series that leave the recorded range, how far, and
    that what lies beyond is an extrapolation ("" when nothing leaves it)."""
    if not exits:
        return ""

    def how_far(e: Exit) -> float:  # the furthest outside first: what matters most
        v = ranges.published(e.variable, e.extreme, children)
        r = ranges.row(e.variable)
        limit = float(r["high"] if e.above else r["low"])
        if not np.isfinite(v):
            return 0.0
        return v / limit if e.above and limit else (limit / v if v else np.inf)

    ordered = sorted(exits, key=how_far, reverse=True)
    # one per series first (the worst line of each), then any others
    firsts = list({e.variable: e for e in reversed(ordered)}.values())[::-1]
    firsts.sort(key=how_far, reverse=True)
    chosen = (firsts + [e for e in ordered if e not in firsts])[:2]
    parts = []
    for e in chosen:
        r = ranges.row(e.variable)
        unit = str(r["unit"])
        limit = float(r["high"] if e.above else r["low"])
        lim = f"{_fmt(limit)}%" if unit == "%" else f"{_fmt(limit)}"
        at = (when or {}).get(e.at, _fmt(e.at) if isinstance(e.at, float) else str(e.at))
        name = label.get(e.variable, e.variable)
        parts.append(
            f"{name[:1].lower() + name[1:]} in {e.line} from {at}, "
            f"{'reaching' if e.above else 'falling to'} "
            f"{published_text(ranges, e.variable, e.extreme, children)} where the "
            f"{'most' if e.above else 'least'} any authority has recorded is {lim} "
            f"({r['high_at'] if e.above else r['low_at']})")
    more = len({(e.variable, e.line) for e in exits}) - len(parts)
    text = "Beyond anything an English authority has recorded: " + "; ".join(parts)
    if more > 0:
        text += f"; and {more} more, marked on the figures"
    return text + (f". From there on the {what} is the model extrapolating past all "
                   "experience, not a finding.")
