"""Local fits: `scipy.optimize.least_squares` from several starts chosen on a Sobol design.

The design is evaluated in one batch; the best points start trust-region least-squares runs in
the unit cube. The Jacobian's finite differences are also one batch per iteration. Error
scales (s, negative-binomial size) are re-estimated between rounds, so the fit converges to the
maximum of the profiled posterior, not of a fixed-scale sum of squares.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize

from carespiral.calibration.methods.base import Method, MethodOutput, Progress, sobol_design

__all__ = ["METHOD", "fit"]

_ROUNDS = 2  # scale re-estimation rounds per start


def fit(problem, rng: np.random.Generator, budget: int = 400, progress: Progress | None = None,
        n_starts: int | None = None, design: int | None = None) -> MethodOutput:
    k = problem.k
    design = design or max(8, min(64, budget // 8))
    n_starts = n_starts or (2 if budget < 200 else 4)
    u0 = sobol_design(k, design, rng)
    init = [p.initial for p in problem.parameters]
    if all(v is not None for v in init):  # the spec's initial values make one more start
        u0 = np.vstack([problem.to_unit(np.array(init, dtype=float)), u0])
    lp0 = problem.logpost(problem.from_unit(u0))
    best_u, best_lp = u0[np.argmax(lp0)], float(np.max(lp0))
    if progress:
        progress(problem.n_runs, best_lp)
    order = np.argsort(-np.where(np.isfinite(lp0), lp0, -np.inf))[:n_starts]
    per_start = max(10, (budget - len(u0)) // max(1, n_starts) // (k + 1) // _ROUNDS)
    messages = []
    for i in order:
        u = u0[i].copy()
        for _ in range(_ROUNDS):
            scales = problem.scales(problem.from_unit(u))
            fun, jac = _residual_functions(problem, scales)
            res = optimize.least_squares(fun, u, jac=jac, bounds=(0.0, 1.0), method="trf",
                                         x_scale=1.0, max_nfev=per_start)
            u = np.clip(res.x, 0.0, 1.0)
        lp = float(problem.logpost(problem.from_unit(u))[0])
        messages.append(res.message)
        if lp > best_lp:
            best_u, best_lp = u, lp
        if progress:
            progress(problem.n_runs, best_lp)
    return MethodOutput("least_squares", problem.from_unit(best_u), best_lp,
                        message=f"{len(order)} starts from a {len(u0)}-point Sobol design; "
                                f"last: {messages[-1] if messages else 'none'}")


def _residual_functions(problem, scales):
    h = 1e-6  # forward-difference step in the unit cube

    def fun(u: np.ndarray) -> np.ndarray:
        return problem.residuals(problem.from_unit(u[None, :]), scales)[0]

    def jac(u: np.ndarray) -> np.ndarray:
        # one batch: the point and a step along each axis (backwards at the upper bound)
        steps = np.where(u + h <= 1.0, h, -h)
        pts = np.repeat(u[None, :], len(u) + 1, axis=0)
        pts[1:] += np.diag(steps)
        r = problem.residuals(problem.from_unit(pts), scales)
        return ((r[1:] - r[0]) / steps[:, None]).T

    return fun, jac


METHOD = Method("least_squares", fit, budget=400, options=("n_starts", "design"),
                summary="trust-region least squares from the best points of a Sobol design")
