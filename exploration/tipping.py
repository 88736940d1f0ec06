"""Tipping points: equilibria against one parameter (continuation) and hysteresis sweeps.

`continuation` traces the equilibria of the model's rate function f(x, p) = 0 as the parameter p
moves, with pseudo-arclength steps (a predictor along the branch's tangent, Newton's method
correcting back onto it), so the branch turns round folds instead of stopping at them. Each point
is labelled stable or unstable from the eigenvalues of df/dx; a fold is where the branch turns
back in p (the tangent's p-component changes sign), placed at the vertex of a parabola through the
three points around the turn.

`sweep` is the simulation view of the same question, for models whose equilibria are not
points (a runaway backlog has none): hold p at each value of a grid for a while, going up then
down in one long run, and read the regime at the end of each hold. Where the up and down legs
disagree the system is bistable: that is hysteresis.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from carespiral.errors import CarespiralError
from carespiral.exploration.criteria import COLLAPSE, SUSTAINABLE, Criterion, outputs_needed
from carespiral.exploration.rates import RateFunction
from carespiral.results import Result

__all__ = ["Bifurcation", "Sweep", "continuation", "sweep"]


@dataclass
class Bifurcation(Result):
    """Equilibrium branch(es) of `param`: `branch` (param, stocks, stable, max_real_eig) and `folds`."""

    branch: pd.DataFrame
    folds: pd.DataFrame
    model: str
    param: str
    stocks: list

    kind = "bifurcation"

    def to_frame(self) -> pd.DataFrame:
        return self.branch

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"model": self.model, "param": self.param, "points": len(self.branch),
                               "stable_points": int(self.branch["stable"].sum())}
        for i, row in enumerate(self.folds.itertuples(index=False), 1):
            out[f"{row.kind}_{i}"] = {"param": float(row.param), "direction": row.direction}
        return out


def continuation(
    model,
    param: str,
    lower: float,
    upper: float,
    params: Mapping[str, float] | None = None,
    x0: Sequence[float] | None = None,
    start: float | None = None,
    step: float = 0.01,
    max_step: float = 0.05,
    max_points: int = 3000,
    settle: float = 1200.0,
) -> Bifurcation:
    """Trace equilibria of `model` as `param` runs over [lower, upper].

    The first equilibrium is at `start` (default `lower`): `x0` if given, else the end of a
    `settle`-month run polished by Newton's method. Steps are in units scaled by the parameter
    range and the stocks' sizes (`step` 0.01 = 1% of the range along a straight branch).
    """
    name = model.parameter(param).name
    if not upper > lower:
        raise CarespiralError(f"continuation range of {name!r}: upper ({upper:g}) must exceed lower ({lower:g})")
    p0 = lower if start is None else float(start)
    base = {model.parameter(k).name: float(v) for k, v in (params or {}).items()}
    rf = model.rate_function({**base, name: p0})
    try:
        x_start = _first_equilibrium(model, rf, name, p0, base, x0, settle)
        sx = np.maximum(np.abs(x_start), 1.0)
        sp = upper - lower
        tracer = _Tracer(rf, name, sx, sp)
        rows = tracer.trace(np.append(x_start / sx, p0 / sp), lower, upper, step, max_step, max_points)
        branch = _branch_frame(rf, rows, sx, sp, name)
    finally:
        rf.close()
    return Bifurcation(branch, _folds(branch, rf.stocks, name), model.name, name, list(rf.stocks))


def _first_equilibrium(model, rf: RateFunction, name, p0, base, x0, settle) -> np.ndarray:
    from scipy.optimize import root

    guess = rf.settle(settle) if x0 is None else np.asarray(x0, dtype=float)
    sol = root(rf, guess, method="hybr")
    scale = np.maximum(np.abs(sol.x), 1.0)
    if not sol.success or np.max(np.abs(rf(sol.x)) / scale) > 1e-8:
        raise CarespiralError(
            f"no equilibrium found for {name} = {p0:g} (the run did not settle: the system may be "
            "collapsing there); start the continuation where the system is sustainable"
        )
    return sol.x


class _Tracer:
    """Pseudo-arclength continuation in scaled coordinates y = (x / sx, p / sp)."""

    def __init__(self, rf: RateFunction, name: str, sx: np.ndarray, sp: float) -> None:
        self.rf, self.name, self.sx, self.sp = rf, name, sx, sp

    def F(self, y: np.ndarray) -> np.ndarray:
        self.rf.set_params({self.name: y[-1] * self.sp})
        return self.rf(y[:-1] * self.sx) / self.sx

    def jac(self, y: np.ndarray, f0: np.ndarray) -> np.ndarray:
        # central differences, for the same reason as RateFunction.jacobian (kinks)
        J = np.empty((len(f0), len(y)))
        for j in range(len(y)):
            h = 1e-7 * max(abs(y[j]), 1.0)
            yp, ym = y.copy(), y.copy()
            yp[j] += h
            ym[j] -= h
            J[:, j] = (self.F(yp) - self.F(ym)) / (2 * h)
        return J

    def tangent(self, J: np.ndarray, prev: np.ndarray | None) -> np.ndarray:
        t = np.linalg.svd(J)[2][-1]
        if prev is None:
            return t if t[-1] >= 0 else -t  # start towards increasing p
        return t if t @ prev >= 0 else -t

    @staticmethod
    def max_re(J: np.ndarray) -> float:
        # eigenvalues of df/dx are the same in scaled coordinates (a similarity transform)
        return float(np.max(np.linalg.eigvals(J[:, :-1]).real))

    def correct(self, yp: np.ndarray, t: np.ndarray) -> tuple[bool, np.ndarray, int]:
        y = yp.copy()
        for it in range(1, 12):
            f = self.F(y)
            G = np.append(f, t @ (y - yp))
            A = np.vstack([self.jac(y, f), t])
            try:
                dy = np.linalg.solve(A, -G)
            except np.linalg.LinAlgError:
                return False, y, it
            y = y + dy
            if not np.all(np.isfinite(y)):
                return False, y, it
            if np.linalg.norm(dy) < 1e-10 and np.max(np.abs(self.F(y))) < 1e-9:
                return True, y, it
        return bool(np.max(np.abs(self.F(y))) < 1e-9), y, it

    def trace(self, y0, lower, upper, step, max_step, max_points, refine=1e-4):
        """Points (y, max real eigenvalue) along the branch from y0 until p leaves [lower, upper].

        Where stability changes between two points the step is cut until they are closer than
        `refine` (scaled units), so stability changes at kinks are located as sharply as folds.
        """
        J = self.jac(y0, self.F(y0))
        rows = [(y0, self.max_re(J))]
        t = self.tangent(J, None)
        y, h = y0, step
        lo, hi = lower / self.sp, upper / self.sp
        while len(rows) < max_points:
            ok, y_new, iters = self.correct(y + h * t, t)
            if not ok or np.linalg.norm(y_new - y) > 3 * h:
                h /= 2
                if h < 1e-8:
                    break
                continue
            J = self.jac(y_new, self.F(y_new))
            re = self.max_re(J)
            if (re < -STABLE_TOL) != (rows[-1][1] < -STABLE_TOL) and h > refine:
                h /= 4
                continue
            t = self.tangent(J, t)
            y = y_new
            rows.append((y, re))
            if iters <= 3:
                h = min(h * 1.5, max_step)
            if not lo - 1e-9 <= y[-1] <= hi + 1e-9 or np.max(np.abs(y[:-1])) > 1e6:
                break
            if _stuck(rows):
                break
        return rows


def _stuck(rows, window: int = 30, turns: int = 6, span: float = 1e-3) -> bool:
    """True when the branch keeps turning back and forth within a tiny span of p: the corrector
    is bouncing on a kink (a MIN/MAX corner), not following a branch."""
    if len(rows) < window:
        return False
    p = np.array([r[0][-1] for r in rows[-window:]])
    dp = np.diff(p)
    flips = int(np.sum(dp[1:] * dp[:-1] < 0))
    return flips >= turns and np.ptp(p) < span


# Forward/central differences leave ~1e-7 noise on eigenvalues of size ~1/month.
STABLE_TOL = 1e-6


def _branch_frame(rf: RateFunction, rows, sx, sp, name) -> pd.DataFrame:
    ys = np.array([r[0] for r in rows])
    s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(ys, axis=0), axis=1))])
    df = pd.DataFrame(ys[:, :-1] * sx, columns=rf.stocks)
    df.insert(0, "param", ys[:, -1] * sp)
    df["max_real_eig"] = [r[1] for r in rows]
    df["stable"] = df["max_real_eig"] < -STABLE_TOL
    df["arclength"] = s
    return df


def _folds(branch: pd.DataFrame, stocks: list[str], name: str) -> pd.DataFrame:
    """Turning points in p (`kind` fold) and changes of stability along the branch (`stability`)."""
    p = branch["param"].to_numpy()
    s = branch["arclength"].to_numpy()
    stable = branch["stable"].to_numpy()
    dp = np.diff(p)
    rows = []
    for i in range(1, len(p)):
        if i < len(dp) and dp[i - 1] * dp[i] < 0:
            idx = [i - 1, i, i + 1]
            coef = np.polyfit(s[idx], p[idx], 2)
            s_star = -coef[1] / (2 * coef[0]) if coef[0] != 0 else s[i]
            s_star = float(np.clip(s_star, s[i - 1], s[i + 1]))
            row = {"kind": "fold", "param": float(np.polyval(coef, s_star)),
                   "direction": "upper" if dp[i - 1] > 0 else "lower"}
            for st in stocks:
                row[st] = float(np.polyval(np.polyfit(s[idx], branch[st].to_numpy()[idx], 2), s_star))
            rows.append(row)
        if stable[i] != stable[i - 1]:
            row = {"kind": "stability", "param": float((p[i] + p[i - 1]) / 2),
                   "direction": "loses" if stable[i - 1] else "gains"}
            for st in stocks:
                row[st] = float(branch[st].iloc[i - 1:i + 1].mean())
            rows.append(row)
    df = pd.DataFrame(rows, columns=["kind", "param", "direction", *stocks])
    # The same turn found again within a hair of p (a zigzag on a kink) is reported once.
    tol = 1e-4 * max(float(np.ptp(p)), 1e-12)
    keep: list[int] = []
    for i, r in df.iterrows():
        dup = any(df.loc[j, "kind"] == r["kind"] and df.loc[j, "direction"] == r["direction"]
                  and abs(df.loc[j, "param"] - r["param"]) < tol for j in keep)
        if not dup:
            keep.append(int(i))
    return df.loc[keep].reset_index(drop=True)


# ---- hysteresis sweeps ----------------------------------------------------------------------


@dataclass
class Sweep(Result):
    """Regime and outputs at the end of each hold, going up then down in `param`."""

    table: pd.DataFrame  # direction, step, param, [param2], regime, outputs...
    model: str
    param: str
    hold: float
    param2: str = ""

    kind = "sweep"

    def to_frame(self) -> pd.DataFrame:
        return self.table

    def regimes(self) -> pd.DataFrame:
        """One row per (param2, param): up-leg regime, down-leg regime, and `bistable` if they differ."""
        keys = ["param2", "param"] if self.param2 else ["param"]
        up = self.table[self.table["direction"] == "up"].set_index(keys)["regime"]
        down = self.table[self.table["direction"] == "down"].set_index(keys)["regime"]
        df = pd.DataFrame({"up": up, "down": down})
        df["regime"] = np.where(df["up"] == df["down"], df["up"], "bistable")
        return df.reset_index()

    def thresholds(self) -> pd.DataFrame:
        """Per param2 value: the lowest value tipping on the way up, the lowest still collapsed on the way
        down; between them lies the bistable band."""
        reg = self.regimes()
        groups = reg.groupby("param2") if self.param2 else [(None, reg)]
        rows = []
        for key, g in groups:
            up_c = g.loc[g["up"] == COLLAPSE, "param"]
            down_c = g.loc[g["down"] == COLLAPSE, "param"]
            rows.append({"param2": key, "tips_up_at": up_c.min() if len(up_c) else np.nan,
                         "collapsed_down_to": down_c.min() if len(down_c) else np.nan,
                         "bistable_points": int((g["regime"] == "bistable").sum())})
        df = pd.DataFrame(rows)
        return df if self.param2 else df.drop(columns="param2")

    def summary(self) -> dict[str, Any]:
        reg = self.regimes()
        out: dict[str, Any] = {"model": self.model, "param": self.param, "hold_months": self.hold}
        if self.param2:
            out["param2"] = self.param2
        out["cells"] = {k: int(v) for k, v in reg["regime"].value_counts().items()}
        if not self.param2:
            th = self.thresholds().iloc[0]
            out["tips_up_at"] = float(th["tips_up_at"])
            out["collapsed_down_to"] = float(th["collapsed_down_to"])
        return out


def sweep(
    model,
    param: str,
    values: Sequence[float],
    criteria: Sequence[Criterion],
    hold: float = 120.0,
    params: Mapping[str, float] | None = None,
    param2: str | None = None,
    values2: Sequence[float] | None = None,
    outputs: Sequence[str] = (),
    progress=None,
) -> Sweep:
    """Hold `param` at each of `values` (sorted) for `hold` months going up, then down, in one run.

    The regime at the end of each hold is `collapse` if any criterion's condition has held for
    the last min(criterion months, hold / 2) months. With `param2`/`values2`, one up-down run per
    value of `param2` gives a two-parameter regime map (`Sweep.regimes()`).
    """
    name = model.parameter(param).name
    vals = np.sort(np.asarray(values, dtype=float))
    if len(vals) < 2:
        raise CarespiralError("a sweep needs at least two parameter values")
    for v in vals:
        model.parameter(name).check(float(v))
    criteria = [c.bind(model) for c in criteria]
    if not criteria:
        raise CarespiralError("a sweep needs collapse criteria to tell the regimes apart")
    name2 = model.parameter(param2).name if param2 else ""
    levels2: list[float] = [np.nan] if not name2 else [float(v) for v in np.asarray(values2, dtype=float)]
    base = {model.parameter(k).name: float(v) for k, v in (params or {}).items()}
    dt = model.control("time_step")
    legs = np.concatenate([vals, vals[::-1]])
    n = len(legs)
    stop = n * hold
    # Staircase input: each value held for `hold` months; the switch happens within one step.
    times = np.repeat(np.arange(n + 1, dtype=float) * hold, 2)[1:-1]
    times[1::2] += dt / 2
    series = pd.Series(np.repeat(legs, 2), index=times)
    watch = list(dict.fromkeys(outputs_needed(criteria) + [model.resolve(o) for o in outputs]))
    rows = []
    for k, v2 in enumerate(levels2):
        run_params = dict(base)
        if name2:
            model.parameter(name2).check(float(v2))
            run_params[name2] = float(v2)
        run_params[name] = series
        df = model.run(params=run_params, stop=stop, saveper=dt, outputs=watch)
        t = df.index.to_numpy()
        ds = xr.Dataset({c: (("run", "time"), df[c].to_numpy()[None, :]) for c in watch},
                        coords={"run": [0], "time": t})
        pframe = pd.DataFrame({k2: [v] for k2, v in run_params.items() if k2 != name})
        conds = [(c, c.condition(ds, pframe)[0]) for c in criteria]
        for j, v in enumerate(legs):
            t_end = (j + 1) * hold
            in_hold = (t > j * hold + dt) & (t <= t_end + 1e-9)
            regime = SUSTAINABLE
            for c, cond in conds:
                window = min(c.months, hold / 2)
                last = in_hold & (t >= t_end - window - 1e-9)
                if cond[last].all() and last.any():
                    regime = COLLAPSE
                    break
            end = np.argmin(np.abs(t - t_end))
            row = {"direction": "up" if j < len(vals) else "down", "step": j, "param": float(v)}
            if name2:
                row["param2"] = float(v2)
            row["regime"] = regime
            row.update({w: float(df[w].iloc[end]) for w in watch})
            rows.append(row)
        if progress:
            progress(k + 1, len(levels2))
    return Sweep(pd.DataFrame(rows), model.name, name, float(hold), name2)
