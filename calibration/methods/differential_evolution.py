"""Global fits: `scipy.optimize.differential_evolution` with whole populations in one batch.

`vectorized=True` hands every generation to the objective at once, so each generation is one
`run_batch` call. The search runs in the unit cube and maximises the log-posterior from a Latin
hypercube population (`popsize` x parameters members; the spec's initial values, when it gives
them all, make one more). It stops by scipy's criterion (the spread of the population's
log-posterior within `tol` = 1% of its mean) or at the run budget. The best `starts` distinct
members are then polished together by Levenberg-Marquardt on the log-posterior with the error
scales profiled out (`batched_lm`, one batch per iteration), which takes each to the top of its
basin: DE finds the basins, the polish their optima (the Laplace intervals and profiles need the
optimum itself). The fit is the best polished member.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize
from scipy.stats import qmc

from carespiral.calibration.lm import batched_lm
from carespiral.calibration.methods.base import Method, MethodOutput, Progress

__all__ = ["METHOD", "fit"]


def fit(problem, rng: np.random.Generator, budget: int = 6000, progress: Progress | None = None,
        popsize: int | None = None, tol: float = 0.01, polish: bool = True,
        starts: int = 4) -> MethodOutput:
    k = problem.k
    popsize = 5 if popsize is None else popsize
    if popsize < 1 or starts < 1:
        raise ValueError("differential_evolution: popsize and starts must be at least 1")
    pop = max(popsize * k, 20)
    init = qmc.LatinHypercube(d=k, seed=rng).random(pop)
    given = [p.initial for p in problem.parameters]
    if all(v is not None for v in given):  # the spec's initial values join the population
        init = np.vstack([problem.to_unit(np.array(given, dtype=float)), init])
    maxiter = max(1, budget // len(init) - 1)
    best = {"lp": -np.inf}

    def objective(u: np.ndarray) -> np.ndarray:  # u: k x population
        lp = problem.logpost(problem.from_unit(u.T))
        if np.isfinite(lp).any():
            best["lp"] = max(best["lp"], float(np.max(lp)))
        if progress:
            progress(problem.n_runs, best["lp"])
        return np.where(np.isfinite(lp), -lp, 1e300)

    res = optimize.differential_evolution(
        objective, bounds=[(0.0, 1.0)] * k, maxiter=maxiter, tol=tol, init=init, seed=rng,
        vectorized=True, updating="deferred", polish=False,
    )
    runs_de = problem.n_runs
    u = np.clip(res.x, 0.0, 1.0)
    lp = float(-res.fun)
    stop = ("met its stopping test (population spread within "
            f"{tol:g} of its mean)" if res.success else f"stopped: {res.message}")
    message = f"{res.nit} generations of {len(init)} ({runs_de} runs) {stop}"
    diag = {"generations": float(res.nit)}
    if polish:
        # the best distinct members (a member that equals a better one adds nothing)
        order = np.argsort(res.population_energies)
        picks: list[np.ndarray] = []
        for j in order:
            cand = np.clip(res.population[j], 0.0, 1.0)
            if not np.isfinite(res.population_energies[j]) or res.population_energies[j] >= 1e300:
                break
            if all(np.max(np.abs(cand - q)) > 1e-6 for q in picks):
                picks.append(cand)
            if len(picks) == starts:
                break
        info: dict = {}
        up = batched_lm(problem, np.array(picks), np.ones((len(picks), k), dtype=bool), None,
                        iterations=40, tol=1e-4, info=info)
        lps = problem.logpost(problem.from_unit(up))
        a = int(np.argmax(lps))
        if lps[a] > lp:
            u, lp = up[a], float(lps[a])
        diag.update(polish_runs=float(problem.n_runs - runs_de),
                    polish_spread=float(np.max(lps) - np.min(lps)),
                    polish_converged=float(np.sum(info["converged"])))
        message += (f"; polished from its best {len(picks)} members by Levenberg-Marquardt "
                    f"({int(np.sum(info['converged']))} met the tolerance), best log-posterior "
                    f"{np.max(lps):.2f}, worst {np.min(lps):.2f}")
        if progress:
            progress(problem.n_runs, max(lp, best["lp"]))
    theta = problem.from_unit(u)
    return MethodOutput("differential_evolution", theta, lp, converged=bool(res.success),
                        message=message, diagnostics=diag)


METHOD = Method("differential_evolution", fit, budget=6000,
                options=("popsize", "tol", "polish"),
                summary="global search, every generation one batch, its best members polished "
                        "by Levenberg-Marquardt", aliases=("de",))
