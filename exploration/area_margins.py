"""Margins to collapse of many calibrated systems at once: every authority, every draw.

The margin of one system is `exploration.margin`'s: raise a driver or lever role
(`compliance_burden`, `underlying_need`) by a factor of its calibrated value, and find the
smallest factor at which the run collapses by the model's horizon under the default collapse
criteria; the margin is that factor minus one. Here each row of `base` is one system (an
authority with one posterior draw of its parameters, and its own drivers over time as per-row
time inputs), and every row moves in lockstep: first a grid of factors up to the parameter's
upper bound (one batch), then bisection between the last factor that holds and the first that
collapses (one batch per step). A row that collapses at its calibrated value has margin 0; one
that never collapses within the bounds is `censored` (its margin is at least the bound's).

The run at the calibrated value also gives the **regime today**: the criteria applied to the run
up to `today` (the last published figure), so a system already past a threshold reads
`collapse` now.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from carespiral.exploration.criteria import COLLAPSE, classify, default_criteria, outputs_needed
from carespiral.pysd_runner.streams import run_on_streams

__all__ = ["Inputs", "RowMargins", "batch_margins"]

# per-row time inputs: variable -> (times, values as times x rows)
Inputs = Mapping[str, tuple[np.ndarray, np.ndarray]]


@dataclass
class RowMargins:
    """Per role, a table with one row per system: value, threshold, margin, censored; and the
    regime of each system today (collapse or sustainable, and the criterion that fired)."""

    margins: dict[str, pd.DataFrame]
    today: pd.DataFrame
    runs: int


def batch_margins(model, base: pd.DataFrame, inputs: Inputs, roles: Sequence[str],
                  scenario=None, today: float | None = None, points: int = 8,
                  refine: int = 5, chunk: int = 1500,
                  progress: Callable[[int], None] | None = None, seed: int = 0,
                  streams: np.ndarray | None = None) -> RowMargins:
    """Margins of every row of `base` (constants per row) for each of `roles`.

    `seed`: of the model's RANDOM functions. Row i of `base` draws the stream (seed,
    streams[i]) (default: i) at every factor and for every role, whatever the chunks, so a
    system's factors are compared on the same draws; rows that are the same system in
    another setting (a plan's levers moved) share its stream."""
    streams = np.arange(len(base)) if streams is None else np.asarray(streams, dtype=np.int64)
    criteria = [c.bind(model) for c in default_criteria(model)]
    outs = outputs_needed(criteria)
    n = len(base)
    names = [model.resolve(r) for r in roles]
    value = np.column_stack([
        base[nm].to_numpy(dtype=float) if nm in base else
        np.full(n, model.parameter(nm).default) for nm in names])  # rows x roles
    upper = np.array([model.parameter(nm).upper for nm in names], dtype=float)
    fmax = np.where(value > 0, upper[None, :] / np.where(value > 0, value, 1.0), np.nan)
    state = {"runs": 0}

    def collapsed(factors: np.ndarray, run: np.ndarray | None = None,
                  keep_today: bool = False):
        """factors: rows x roles; runs each (row, role) with that role raised, only where
        `run` (rows x roles) is true: a settled (row, role) is not run again (reads False)."""
        R = len(roles)
        pick = np.ones(n * R, dtype=bool) if run is None else run.reshape(-1)
        rows = np.repeat(np.arange(n), R)[pick]
        role = np.tile(np.arange(R), n)[pick]
        frame = base.iloc[rows].reset_index(drop=True)
        for j, nm in enumerate(names):
            col = value[rows, j].copy()
            mine = role == j
            col[mine] = value[rows[mine], j] * factors.reshape(-1)[pick][mine]
            frame[nm] = col
        hit = np.zeros(len(frame), dtype=bool)
        now = pd.DataFrame(index=range(len(frame)), columns=["regime", "criterion"])
        for start in range(0, len(frame), chunk):
            sl = slice(start, min(start + chunk, len(frame)))
            part = frame.iloc[sl].reset_index(drop=True)
            ins = {k: _time_input(t, v[:, rows[sl]]) for k, (t, v) in inputs.items()}
            ds = run_on_streams(model, part, streams[rows[sl]], seed, inputs=ins,
                                outputs=outs, scenario=scenario, backend="auto",
                                check_bounds=False, engine="numba")
            state["runs"] += len(part)
            hit[sl] = (classify(ds, criteria, part)["regime"] == COLLAPSE).to_numpy()
            if keep_today and today is not None:
                c = classify(ds.sel(time=slice(None, today)), criteria, part)
                now.iloc[sl] = c[["regime", "criterion"]].to_numpy()
            if progress:
                progress(state["runs"])
        full = np.zeros(n * R, dtype=bool)
        full[pick] = hit
        return full.reshape(n, R), now.iloc[::R].reset_index(drop=True)

    grid = np.linspace(0.0, 1.0, points)
    lo = np.ones_like(value)  # the largest factor known to hold
    hi = np.full_like(value, np.nan)  # the smallest factor known to collapse
    today_table = None
    for g, w in enumerate(grid):
        f = 1.0 + w * (fmax - 1.0)
        todo = np.isnan(hi) & np.isfinite(f)
        if g and not todo.any():
            break
        # the first grid point runs every row (the regime today); later ones the open rows
        hit, now = collapsed(np.where(np.isfinite(f), f, 1.0), None if g == 0 else todo,
                             keep_today=(g == 0))
        if g == 0:
            today_table = now
        newly = todo & hit
        hi = np.where(newly, f, hi)
        lo = np.where(todo & ~hit, f, lo)
    at_base = hi == 1.0
    for _ in range(refine):
        open_ = np.isfinite(hi) & ~at_base
        if not open_.any():
            break
        mid = np.where(open_, 0.5 * (lo + hi), 1.0)
        hit, _ = collapsed(mid, open_)
        hi = np.where(open_ & hit, mid, hi)
        lo = np.where(open_ & ~hit, mid, lo)
    margins = {}
    for j, role in enumerate(roles):
        censored = np.isnan(hi[:, j])
        thr = np.where(censored, np.nan, np.where(at_base[:, j], 1.0, hi[:, j]))
        margins[role] = pd.DataFrame({
            "value": value[:, j], "threshold": thr * value[:, j],
            "margin": np.where(censored, fmax[:, j] - 1.0, thr - 1.0),
            "censored": censored, "bound": upper[j]}, index=base.index)
    assert today_table is not None
    return RowMargins(margins, today_table.set_index(base.index), state["runs"])


def _time_input(times: np.ndarray, values: np.ndarray):
    from carespiral.pysd_runner.batch.model import TimeInput

    return TimeInput(times, values)
