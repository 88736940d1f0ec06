"""The run report: chosen outputs over time, scenarios overlaid, shocks marked.

It consumes what `Model.run` returns: DataFrames indexed by model time in months (index name
"time"), one column per Vensim variable and, when the model has a start date, a "date" column.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from carespiral.errors import CarespiralError, UnknownNameError
from carespiral.pysd_runner.catalog import Naming, naming

from . import plausibility as pl
from .page import Page, PlotlyJs
from .run_regimes import regimes_sentence, run_regimes
from .style import GREY, apply_layout, colour, dash, wrap_title

__all__ = ["Shock", "run_page", "run_report", "run_verdict", "verdict_of_runs"]

Shock = tuple[float | int | str | _dt.date | pd.Timestamp, str]
"""A marked event: (model month or calendar date, label)."""

MAX_POINTS = 2000  # per line; beyond this a line is thinned (and the page says so)


def run_report(
    runs: Mapping[str, pd.DataFrame],
    path: str | Path,
    *,
    title: str,
    units: Mapping[str, str] | None = None,
    outputs: Sequence[str] | None = None,
    shocks: Sequence[Shock] = (),
    subtitle: str = "",
    max_points: int = MAX_POINTS,
    plotlyjs: PlotlyJs = "inline",
    model: str | None = None,
    ranges: Any = None,
    children: Mapping[str, float] | float | None = None,
) -> Path:
    """Write a run report for one or more scenario runs to `path` (an .html file)."""
    page = run_page(
        runs,
        title=title,
        units=units,
        outputs=outputs,
        shocks=shocks,
        subtitle=subtitle,
        max_points=max_points,
        model=model,
        ranges=ranges,
        children=children,
    )
    return page.write(path, plotlyjs=plotlyjs)


def run_page(
    runs: Mapping[str, pd.DataFrame],
    *,
    title: str,
    units: Mapping[str, str] | None = None,
    outputs: Sequence[str] | None = None,
    shocks: Sequence[Shock] = (),
    subtitle: str = "",
    max_points: int = MAX_POINTS,
    model: str | None = None,
    ranges: Any = None,
    children: Mapping[str, float] | float | None = None,
) -> Page:
    """The run report as a `Page`, for callers that want to add sections before writing.

    Titles, axes, tables and hovers use the catalogue's labels and units in words
    (`carespiral.pysd_runner.catalog.naming`; `model` picks a bundled model's meaning of a name,
    `units` gives the .mdl units of variables no role covers).

    `ranges` (a `carespiral.data.ranges.ModelRanges`) shades, for each output that has one,
    the range any English authority has recorded, marks where a run leaves it and says so in
    the verdict; `children` is the child population of each run (label -> number, or one number
    for all; default: the one the ranges were made for).
    """
    units = dict(units or {})
    if not runs:
        raise CarespiralError("a run report needs at least one run")
    for name, frame in runs.items():
        if frame.empty:
            raise CarespiralError(f"run {name!r} has no rows; nothing to report")
    outputs = list(outputs) if outputs else _default_outputs(runs)
    if not outputs:
        raise CarespiralError("the runs have no numeric columns to report")
    for name, frame in runs.items():
        for out in outputs:
            if out not in frame.columns:
                known = [c for c in frame.columns if c != "date"]
                raise UnknownNameError("output", out, known, hint=f"(run {name!r})")
            if not pd.api.types.is_numeric_dtype(frame[out]):
                raise CarespiralError(f"output {out!r} in run {name!r} is not numeric")

    use_dates = all("date" in f.columns for f in runs.values())
    clock = _Clock.from_run(next(iter(runs.values()))) if use_dates else None
    marks, skipped = _place_shocks(shocks, runs, clock)
    marks.sort(key=lambda m: m[0].value if isinstance(m[0], pd.Timestamp) else m[0])  # numbered in time order

    n_runs = len(runs)
    names = {out: naming(out, model, units.get(out)) for out in outputs}
    kids = _children(runs, ranges, children)
    exits = _exits(runs, outputs, ranges, kids, use_dates)
    page = Page(title, subtitle)
    page.section("Verdict", run_verdict(runs, names, use_dates, exits=exits, ranges=ranges,
                                        children=kids, regimes=run_regimes(runs, model),
                                        model=model))
    what = (
        f"{len(outputs)} output{'s' if len(outputs) != 1 else ''} of "
        f"{n_runs} run{'s' if n_runs != 1 else ''}: " + ", ".join(runs)
    )
    sec = page.section("Outputs over time", what)
    thinned: set[str] = set()
    shock_key = ("Shocks: " + "; ".join(f"{k} = {label} ({_fmt_x(x)})"
                                        for k, (x, label) in enumerate(marks, 1))) if marks else ""
    for out in outputs:
        nm = names[out]
        fig = go.Figure()
        for i, (name, frame) in enumerate(runs.items()):
            shown = _thin(frame, max_points)
            if len(shown) < len(frame):
                thinned.add(name)
            months = np.asarray(shown.index, dtype=float)
            x = pd.to_datetime(shown["date"]) if use_dates else months
            when = "%{x|%d %b %Y}" if use_dates else "month %{x:.1f}"
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=shown[out].to_numpy(dtype=float),
                    customdata=months,
                    name=name,
                    legendgroup=name,
                    mode="lines",
                    line={"color": colour(i), "dash": dash(i), "width": 2.2},
                    hovertemplate=(
                        f"<b>{name}</b><br>{when}<br>{nm.label}: %{{y:,.4~g}} "
                        f"{nm.unit}<extra></extra>"
                    ),
                )
            )
        band = None
        if ranges is not None:
            xs = [list(pd.to_datetime(f["date"])) if use_dates
                  else list(np.asarray(f.index, dtype=float)) for f in runs.values()]
            band = pl.add_band(fig, ranges, out, min(x[0] for x in xs), max(x[-1] for x in xs),
                               kids[next(iter(runs))], nm.unit)
            pl.add_exits(fig, [e for e in exits if e.variable == out],
                         "%{x|%d %b %Y}" if use_dates else "month %{x:.1f}", nm.unit, ranges,
                         kids[next(iter(runs))])
        for k, (x, label) in enumerate(marks, 1):
            fig.add_shape(
                type="line", x0=x, x1=x, y0=0, y1=1, xref="x", yref="paper",
                line={"color": GREY, "width": 1.5, "dash": "dot"},
            )
            # a numbered tag above the plot, the label in its hover and in the caption: long
            # labels written along the line would cover the data and the axis
            fig.add_annotation(
                x=x, y=1.0, xref="x", yref="paper", text=f"<b>{k}</b>", showarrow=False,
                yanchor="top", font={"size": 11, "color": "#333"}, bgcolor="white",
                bordercolor=GREY, borderwidth=1, borderpad=2,
                hovertext=f"{label} ({_fmt_x(x)})",
            )
        apply_layout(fig, title=nm.label)
        fig.update_layout(hovermode="closest", margin={"l": 110})  # room for a 2-line y title
        fig.update_xaxes(title_text="Date" if use_dates else "Model time (months from April 2005)")
        fig.update_yaxes(title_text=wrap_title(f"{nm.label} ({nm.unit})"))
        how = (
            f"Each line is one run; the height is {nm.label.lower()} in {nm.unit}. "
            "Where lines part, the scenarios differ."
        )
        if nm.published:
            how += f" DfE publishes it as {nm.published}; the model's value is monthly."
        if band is not None:
            how += (" The green band is the range recorded by English authorities (lowest to "
                    "highest of any authority in any year, scaled to the run's children); a "
                    "triangle marks where a run leaves it.")
        if marks:
            how += " Dotted vertical lines mark the numbered shocks (hover a number for its name)."
        sec.figure(fig, how_to_read=how, caption=shock_key)
    if thinned:
        sec.note(
            f"Lines of {', '.join(sorted(thinned))} have more than {max_points} saved points and "
            f"are drawn from every k-th point (first and last kept); the summary table uses all."
        )
    if skipped:
        sec.note("Shocks outside the runs' time span, not drawn: " + "; ".join(skipped))

    table = _summary(runs, outputs, names, exits if ranges is not None else None)
    page.section("Summary", "Start, end and range of each output in each run (all saved points).")
    page.sections[-1].table(table)
    if marks:
        shock_rows = pd.DataFrame(
            [{"shock": label, "when": _fmt_x(x)} for x, label in marks],
            columns=["shock", "when"]
        )
        page.section("Shocks marked").table(shock_rows)
    return page


def _default_outputs(runs: Mapping[str, pd.DataFrame]) -> list[str]:
    first = next(iter(runs.values()))
    return [c for c in first.columns if c != "date" and pd.api.types.is_numeric_dtype(first[c])]


def _thin(frame: pd.DataFrame, max_points: int) -> pd.DataFrame:
    if len(frame) <= max_points:
        return frame
    step = int(np.ceil(len(frame) / max_points))
    keep = np.zeros(len(frame), dtype=bool)
    keep[::step] = True
    keep[-1] = True
    return frame.iloc[keep]


class _Clock:
    """Converts between model months and calendar dates using a run's own time and date columns."""

    def __init__(self, months: np.ndarray, ns: np.ndarray) -> None:
        self.months, self.ns = months, ns

    @classmethod
    def from_run(cls, frame: pd.DataFrame) -> _Clock:
        months = np.asarray(frame.index, dtype=float)
        ns = pd.to_datetime(frame["date"]).to_numpy(dtype="datetime64[ns]").astype(np.int64)
        return cls(months, ns.astype(float))

    def in_span(self, month: float) -> bool:
        return bool(self.months[0] <= month <= self.months[-1])

    def to_date(self, month: float) -> pd.Timestamp:
        return pd.Timestamp(int(np.interp(month, self.months, self.ns)))

    def to_month(self, when: pd.Timestamp) -> float:
        return float(np.interp(when.value, self.ns, self.months))


def _place_shocks(
    shocks: Sequence[Shock], runs: Mapping[str, pd.DataFrame], clock: _Clock | None
) -> tuple[list[tuple[float | pd.Timestamp, str]], list[str]]:
    """Shocks as x positions on the figures' axis, and descriptions of those out of range."""
    first = np.asarray(next(iter(runs.values())).index, dtype=float)
    lo, hi = float(first[0]), float(first[-1])
    marks: list[tuple[float | pd.Timestamp, str]] = []
    skipped: list[str] = []
    for item in shocks:
        try:
            at, label = item
        except (TypeError, ValueError):
            raise CarespiralError(
                f"a shock must be a pair (month or date, label), got {item!r}"
            ) from None
        if isinstance(at, int | float | np.number) and not isinstance(at, bool):
            month = float(at)
        else:
            try:
                when = pd.Timestamp(at)
            except (TypeError, ValueError):
                raise CarespiralError(
                    f"shock {label!r}: {at!r} is neither a model month nor a date (YYYY-MM-DD)"
                ) from None
            if clock is None:
                raise CarespiralError(
                    f"shock {label!r} is given as a date but the runs have no 'date' column; "
                    "give it in model months instead"
                )
            lo_d, hi_d = clock.to_date(lo), clock.to_date(hi)
            if not lo_d <= when <= hi_d:
                skipped.append(f"{label} ({when:%d %b %Y})")
                continue
            marks.append((when, str(label)))
            continue
        if not lo <= month <= hi:
            skipped.append(f"{label} (month {month:g})")
            continue
        marks.append((clock.to_date(month) if clock else month, str(label)))
    return marks, skipped


def _fmt_x(x: float | pd.Timestamp) -> str:
    return f"{x:%d %b %Y}" if isinstance(x, pd.Timestamp) else f"month {x:g}"


def _children(runs: Mapping[str, pd.DataFrame], ranges: Any,
              children: Mapping[str, float] | float | None) -> dict[str, float | None]:
    """The child population of each run (for ranges per 10,000 children)."""
    if isinstance(children, Mapping):
        return {r: (float(children[r]) if r in children else None) for r in runs}
    n = children if children is not None else getattr(ranges, "children", None)
    return {r: (None if n is None else float(n)) for r in runs}


def _exits(runs: Mapping[str, pd.DataFrame], outputs: Sequence[str], ranges: Any,
           kids: Mapping[str, float | None], use_dates: bool) -> list[pl.Exit]:
    """Where each run first leaves the range recorded by English authorities, per output."""
    if ranges is None:
        return []
    found = []
    for out in outputs:
        for r, f in runs.items():
            b = ranges.bounds(out, kids[r])
            if b is None:
                continue
            x = list(pd.to_datetime(f["date"])) if use_dates else list(np.asarray(f.index,
                                                                                  dtype=float))
            e = pl.exit_of(x, f[out].to_numpy(dtype=float), b, out, r)
            if e is not None:
                found.append(e)
    return found


def _summary(
    runs: Mapping[str, pd.DataFrame], outputs: Sequence[str], names: Mapping[str, Naming],
    exits: Sequence[pl.Exit] | None = None,
) -> pd.DataFrame:
    rows = []
    left = {(e.variable, e.line): e for e in exits or ()}
    for out in outputs:
        for name, frame in runs.items():
            col = frame[out].astype(float)
            row = {
                "output": names[out].label,
                "unit": names[out].unit,
                "run": name,
                "start": col.iloc[0],
                "end": col.iloc[-1],
                "lowest": col.min(),
                "highest": col.max(),
            }
            if exits is not None:
                e = left.get((out, name))
                row["leaves the range authorities have recorded"] = (
                    "no" if e is None else f"from {_fmt_x(e.at)}")
            rows.append(row)
    return pd.DataFrame(rows)


def _num(v: float) -> str:
    a = abs(v)
    if a >= 100:
        return f"{v:,.0f}"
    return f"{v:,.3g}" if a >= 1 else f"{v:.2g}"


def run_verdict(runs: Mapping[str, pd.DataFrame], names: Mapping[str, Naming],
                use_dates: bool, exits: Sequence[pl.Exit] = (), ranges: Any = None,
                children: Mapping[str, float | None] | None = None,
                regimes: Mapping[str, Any] | None = None, model: str | None = None) -> str:
    """Two to five plain sentences: the span, which runs collapse (by the collapse criteria)
    and when, where the main output ends in each run, the largest change, a caseload that falls
    only because work queues, where a run leaves the range any authority has recorded, and
    what a run is not."""
    first = next(iter(runs.values()))
    if use_dates:
        d0, d1 = pd.to_datetime(first["date"].iloc[[0, -1]])
        span = f"from {d0:%B %Y} to {d1:%B %Y}"
    else:
        span = f"from month {first.index[0]:g} to month {first.index[-1]:g}"
    out = [f"{len(runs)} run{'s' if len(runs) != 1 else ''} of the model {span}: "
           + ", ".join(runs) + "."]
    if regimes:
        from .exploration_report import criterion_words
        from .verdicts import model_date

        out.append(regimes_sentence(regimes, lambda t: model_date(model, t),
                                    lambda c: criterion_words(c, model)))
    by_role = {nm.role: col for col, nm in names.items() if nm.role}
    main = by_role.get("caseload") or next(iter(names))
    nm = names[main]
    ends = {r: float(f[main].iloc[-1]) for r, f in runs.items()}
    if len(runs) == 1:
        r, f = next(iter(runs.items()))
        out.append(f"{nm.label} goes from {_num(float(f[main].iloc[0]))} to {_num(ends[r])} "
                   f"({nm.unit}).")
    else:
        hi, lo = max(ends, key=ends.get), min(ends, key=ends.get)
        if abs(ends[hi] - ends[lo]) <= 1e-9 * max(1.0, abs(ends[hi])):
            out.append(f"{nm.label} ends at {_num(ends[hi])} in every run ({nm.unit}).")
        else:
            out.append(f"{nm.label} ends highest in {hi} ({_num(ends[hi])}) and lowest in "
                       f"{lo} ({_num(ends[lo])}), in {nm.unit}.")
    best = None
    for col, n in names.items():
        for r, f in runs.items():
            a, b = float(f[col].iloc[0]), float(f[col].iloc[-1])
            if a > 0 and b > 0:
                ratio = max(b / a, a / b)
                if best is None or ratio > best[0]:
                    best = (ratio, n.label, r, a, b)
    change = []  # said only when there is room: the regime and a queue warning come first
    if best and best[0] >= 1.5:
        _, lab, r, a, b = best
        way = "rises" if b > a else "falls"
        change.append(f"The largest change is in {lab.lower()}, which {way} from {_num(a)} to "
                      f"{_num(b)} in {r}.")
    queue = by_role.get("awaiting_assessment")
    if queue and "caseload" in by_role:
        for r, f in runs.items():
            c, q = f[by_role["caseload"]].astype(float), f[queue].astype(float)
            if c.iloc[-1] < c.iloc[0] and q.iloc[0] > 0 and q.iloc[-1] > 1.5 * q.iloc[0]:
                out.append(f"In {r} the caseload falls while children awaiting assessment grow "
                           f"{q.iloc[-1] / q.iloc[0]:.1f}-fold: work is queuing unallocated, so "
                           "the lower caseload is not relief.")
                break
    tail = []
    if exits and ranges is not None:
        first_kids = next(iter((children or {}).values()), None)
        when = {e.at: (f"{e.at:%B %Y}" if isinstance(e.at, pd.Timestamp) else
                       f"month {e.at:g}") for e in exits}
        tail.append(pl.exits_sentence(exits, ranges, {c: n.label for c, n in names.items()},
                                      when, first_kids))
    elif ranges is not None and any(ranges.row(c) is not None for c in names):
        tail.append("Every output with a published counterpart stays within the range English "
                    "authorities have recorded.")
    tail.append("These are what-if runs under the model's assumptions, not forecasts; how well "
                "the model matches published figures is in the calibration report.")
    room = 5 - len(tail) - len(out)
    return " ".join(out[:5 - len(tail)] + change[:max(room, 0)] + tail)


def verdict_of_runs(runs: Mapping[str, pd.DataFrame], outputs: Sequence[str],
                    model: str | None = None, units: Mapping[str, str] | None = None,
                    ranges: Any = None,
                    children: Mapping[str, float] | float | None = None) -> str:
    """The run report's verdict for the command line (same sentences as the page)."""
    units = dict(units or {})
    names = {o: naming(o, model, units.get(o)) for o in outputs}
    use_dates = all("date" in f.columns for f in runs.values())
    kids = _children(runs, ranges, children)
    return run_verdict(runs, names, use_dates, _exits(runs, outputs, ranges, kids, use_dates),
                       ranges, kids, run_regimes(runs, model), model)
