"""Uncertainty for point fits: Laplace (Hessian) intervals, profile likelihood, identifiability.

The Hessian of the negative log-posterior is taken by central differences in the unit cube,
every stencil point in one batch. Its inverse is the Laplace covariance; a Hessian that is not
positive definite means some direction is flat and is reported as such (the affected intervals
are NaN, never invented).

A profile fixes one parameter at a series of values walking out from the optimum and re-fits
the others at each (Levenberg-Marquardt, every parameter's walk in the same model batches). The
95% profile interval is where the log-posterior stays within 1.92 of its maximum. A parameter whose profile never drops by 1.92 inside its bounds is `flat` (the data
do not identify it); one that drops on one side only is `one-sided`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["Laplace", "correlation", "laplace", "profile"]

_CHI2_95_HALF = 1.920729  # half the 95% quantile of chi-square with 1 degree of freedom
_Z95 = 1.959964


@dataclass(frozen=True)
class Laplace:
    """Normal approximation at the optimum: covariance in model units, and whether it holds."""

    covariance: np.ndarray
    sd: np.ndarray
    positive_definite: bool

    def interval(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return theta - _Z95 * self.sd, theta + _Z95 * self.sd

    def widened(self, sd: np.ndarray) -> Laplace:
        """The same correlations with each sd raised to at least `sd` (never narrowed)."""
        sd = np.asarray(sd, dtype=float)
        if not self.positive_definite or not np.all(np.isfinite(sd)):
            return self
        factor = np.maximum(1.0, sd / self.sd)
        return Laplace(self.covariance * np.outer(factor, factor), self.sd * factor, True)

    def sample(self, theta: np.ndarray, lower: np.ndarray, upper: np.ndarray, n: int,
               rng: np.random.Generator) -> np.ndarray:
        """Draws from the normal approximation, kept inside the bounds (rejection, then clip)."""
        if not self.positive_definite:
            return np.repeat(theta[None, :], n, axis=0)
        out = np.empty((0, len(theta)))
        for _ in range(20):
            d = rng.multivariate_normal(theta, self.covariance, size=4 * n)
            d = d[np.all((d >= lower) & (d <= upper), axis=1)]
            out = np.vstack([out, d])
            if len(out) >= n:
                return out[:n]
        extra = rng.multivariate_normal(theta, self.covariance, size=n - len(out))
        return np.vstack([out, np.clip(extra, lower, upper)])


def laplace(problem, theta: np.ndarray, h: float = 1e-3) -> Laplace:
    """Laplace approximation of the posterior at `theta` (normally the optimum)."""
    k = problem.k
    u0 = problem.to_unit(theta)
    # keep the stencil inside the cube: move the centre in from a bound
    c = np.clip(u0, 2 * h, 1 - 2 * h)
    pts = [c]
    for i in range(k):
        for s in (1, -1):
            p = c.copy()
            p[i] += s * h
            pts.append(p)
    pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
    for i, j in pairs:
        for si in (1, -1):
            for sj in (1, -1):
                p = c.copy()
                p[i] += si * h
                p[j] += sj * h
                pts.append(p)
    f = -problem.logpost(problem.from_unit(np.array(pts)))
    H = np.empty((k, k))
    f0 = f[0]
    for i in range(k):
        H[i, i] = (f[1 + 2 * i] - 2 * f0 + f[2 + 2 * i]) / h**2
    base = 1 + 2 * k
    for n, (i, j) in enumerate(pairs):
        fpp, fpm, fmp, fmm = f[base + 4 * n: base + 4 * n + 4]
        H[i, j] = H[j, i] = (fpp - fpm - fmp + fmm) / (4 * h * h)
    span = problem.upper - problem.lower
    ok = bool(np.all(np.isfinite(H)))
    if ok:
        try:
            np.linalg.cholesky(H)
        except np.linalg.LinAlgError:
            ok = False
    if ok:
        cov_u = np.linalg.inv(H)
        cov = cov_u * np.outer(span, span)
        sd = np.sqrt(np.diag(cov))
    else:
        cov = np.full((k, k), np.nan)
        sd = np.full(k, np.nan)
        if np.all(np.isfinite(H)):  # the curved directions still have a variance
            d = np.diag(H)
            sd = np.where(d > 0, span / np.sqrt(np.where(d > 0, d, 1.0)), np.nan)
            sd = np.where(d > 0, sd, np.nan)
    return Laplace(cov, sd, ok)


def correlation(cov_or_draws: np.ndarray, names: list[str], draws: bool = False) -> pd.DataFrame:
    """Parameter correlations from a covariance matrix or from posterior draws."""
    if draws:
        c = np.corrcoef(np.asarray(cov_or_draws).T) if len(names) > 1 else np.ones((1, 1))
    else:
        cov = np.asarray(cov_or_draws)
        sd = np.sqrt(np.diag(cov))
        with np.errstate(invalid="ignore", divide="ignore"):
            c = cov / np.outer(sd, sd)
    return pd.DataFrame(np.atleast_2d(c), index=names, columns=names)


def profile(problem, theta: np.ndarray, sd: np.ndarray | None = None, max_points: int = 12,
            iterations: int = 40, tol: float = 1e-3, reach: float = 3.0,
            found: dict | None = None) -> pd.DataFrame:
    """Profile log-posterior of each parameter: columns parameter, value, logpost, delta, and
    converged (whether the re-fit at that value met its tolerance). `found`, when given, gets
    the optimum's log-posterior (`optimum`) and the highest point any re-fit reached above it
    (`theta`, `logpost`; absent when none did): such a point shows the optimum was not one.

    Each parameter is walked from the optimum towards both bounds; at every value the others are
    re-fitted (Levenberg-Marquardt on the posterior with the error scales profiled out, started
    from the previous value's re-fit moved along the line through the last two). The steps are
    sized from the drop seen so far, as a quadratic would give about one unit more, so a steep
    profile gets short steps and a flat one long ones; a walk stops once the drop passes `reach`
    (beyond the 95% line, 1.92), at its bound, or after `max_points` values. All walks advance
    together in the same `batched_lm` batches, each taking its next value as soon as its last
    re-fit is done (at most `iterations` steps each).
    """
    from carespiral.calibration.lm import batched_lm

    theta = np.asarray(theta, dtype=float)
    k = problem.k
    lp_best = float(problem.logpost(theta)[0])
    if found is not None:
        found["optimum"] = lp_best
    u_best = problem.to_unit(theta)
    span = problem.upper - problem.lower
    walks = []  # per (parameter, side): positions (distance from the optimum, unit) and fits
    for i in range(k):
        s_u = sd[i] / span[i] if sd is not None and np.isfinite(sd[i]) and sd[i] > 0 else 0.05
        step = float(np.clip(s_u, 1e-4, 0.25))
        for side in (-1.0, 1.0):
            room = u_best[i] if side < 0 else 1.0 - u_best[i]
            if room <= 1e-9:
                continue  # the optimum is on this bound
            walks.append({"i": i, "side": side, "room": room, "next": min(step, room),
                          "t": [0.0], "u": [u_best.copy()], "d": [0.0]})
    rows = []

    def start(w: dict) -> tuple[np.ndarray, np.ndarray]:
        i, t_next = w["i"], w["next"]
        u = w["u"][-1].copy()
        if len(w["t"]) > 1:  # predictor: the re-fitted others move on along their line
            f = (t_next - w["t"][-1]) / (w["t"][-1] - w["t"][-2])
            u = np.clip(u + f * (w["u"][-1] - w["u"][-2]), 0.0, 1.0)
        u[i] = u_best[i] + w["side"] * t_next
        mask = np.ones(k, dtype=bool)
        mask[i] = False
        return u, mask

    def record(slot: int, u: np.ndarray, converged: bool, cost: float):
        """A walk's re-fit is done: keep it, and give the walk's next value (or None)."""
        w = walks[slot]
        i, t = w["i"], w["next"]
        lp = -cost if np.isfinite(cost) else -np.inf
        d = lp_best - lp
        w["t"].append(t)
        w["u"].append(u)
        w["d"].append(d)
        rows.append((problem.names[i], float(problem.from_unit(u)[i]), lp, converged))
        if found is not None and lp > found.get("logpost", lp_best):
            found.update(theta=problem.from_unit(u), logpost=lp)
        if not d < reach or t >= w["room"] - 1e-12 or len(w["t"]) > max_points:
            return None
        # next distance: where a parabola through the optimum and this point drops by one
        # more unit (at least 1.25 and at most 3 times this distance)
        grow = np.sqrt((max(d, 0.0) + 1.0) / d) if d > 0 else 3.0
        w["next"] = min(t * float(np.clip(grow, 1.25, 3.0)), w["room"])
        return start(w)

    if walks:
        first = [start(w) for w in walks]
        batched_lm(problem, np.array([a for a, _ in first]), np.array([b for _, b in first]),
                   None, iterations=iterations, tol=tol, restart=record)
    df = pd.DataFrame(rows, columns=["parameter", "value", "logpost", "converged"])
    best_rows = pd.DataFrame({"parameter": problem.names, "value": theta, "logpost": lp_best,
                              "converged": True})
    df = pd.concat([df, best_rows], ignore_index=True)
    df = df.sort_values(["parameter", "value"], ignore_index=True)
    df["delta"] = lp_best - df["logpost"]
    return df[["parameter", "value", "logpost", "delta", "converged"]]


def profile_summary(prof: pd.DataFrame, problem) -> pd.DataFrame:
    """Per parameter: the 95% profile interval and an identifiability flag."""
    rows = []
    for p in problem.parameters:
        g = prof[prof["parameter"] == p.name].sort_values("value")
        x, d = g["value"].to_numpy(), g["delta"].to_numpy()
        i0 = int(np.argmin(d))
        lo = _crossing(x[: i0 + 1][::-1], d[: i0 + 1][::-1])
        hi = _crossing(x[i0:], d[i0:])
        flag = "identified"
        if lo is None and hi is None:
            flag = "flat"
        elif lo is None or hi is None:
            flag = "one-sided"
        rows.append({"parameter": p.name, "profile_lower": p.lower if lo is None else lo,
                     "profile_upper": p.upper if hi is None else hi, "identifiability": flag})
    return pd.DataFrame(rows)


def _crossing(x: np.ndarray, d: np.ndarray) -> float | None:
    """Where delta first reaches the 95% threshold walking away from the optimum."""
    for a in range(1, len(x)):
        if d[a] >= _CHI2_95_HALF:
            d0, d1 = d[a - 1], d[a]
            f = (_CHI2_95_HALF - d0) / (d1 - d0) if d1 != d0 else 1.0
            return float(x[a - 1] + f * (x[a] - x[a - 1]))
    return None
