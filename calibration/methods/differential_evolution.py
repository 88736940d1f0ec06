"""Global fits: `scipy.optimize.differential_evolution` with whole populations in one batch.

`vectorized=True` hands every generation to the objective at once, so each generation is one
`run_batch` call. The search runs in the unit cube and maximises the log-posterior; the best
member is then polished by Levenberg-Marquardt (one batch per iteration). Convergence is
scipy's criterion (spread of the population's objective within `tol` = 1% of its mean).
"""

from __future__ import annotations

import numpy as np
from scipy import optimize

from carespiral.calibration.lm import batched_lm
from carespiral.calibration.methods.base import Method, MethodOutput, Progress

__all__ = ["METHOD", "fit"]


def fit(problem, rng: np.random.Generator, budget: int = 2000, progress: Progress | None = None,
        popsize: int | None = None, tol: float = 0.01, polish: bool = True) -> MethodOutput:
    k = problem.k
    popsize = popsize or max(5, min(15, budget // (20 * k)))
    pop = popsize * k
    maxiter = max(1, budget // pop - 1)
    best = {"lp": -np.inf}

    def objective(u: np.ndarray) -> np.ndarray:  # u: k x population
        lp = problem.logpost(problem.from_unit(u.T))
        if np.isfinite(lp).any():
            best["lp"] = max(best["lp"], float(np.max(lp)))
        if progress:
            progress(problem.n_runs, best["lp"])
        return np.where(np.isfinite(lp), -lp, 1e300)

    res = optimize.differential_evolution(
        objective, bounds=[(0.0, 1.0)] * k, popsize=popsize, maxiter=maxiter, tol=tol,
        init="sobol", seed=rng, vectorized=True, updating="deferred", polish=False,
    )
    u = np.clip(res.x, 0.0, 1.0)
    lp = float(-res.fun)
    if polish:  # DE stops near, not at, the optimum; Laplace intervals need the optimum itself
        scales = problem.scales(problem.from_unit(u))
        up = batched_lm(problem, u[None, :], np.ones((1, k), dtype=bool), scales)[0]
        lp_p = float(problem.logpost(problem.from_unit(up))[0])
        if lp_p > lp:
            u, lp = up, lp_p
        if progress:
            progress(problem.n_runs, max(lp, best["lp"]))
    theta = problem.from_unit(u)
    return MethodOutput("differential_evolution", theta, lp,
                        converged=bool(res.success),
                        message=f"{res.nit} generations of {pop}: {res.message}")


METHOD = Method("differential_evolution", fit, budget=6000, options=("popsize", "tol", "polish"),
                summary="global search, every generation one batch, polished by "
                        "Levenberg-Marquardt", aliases=("de",))
