"""Levenberg-Marquardt on many problems at once, one model batch per iteration.

Profiles need dozens of small re-fits (one per grid point and parameter). Done one after the
other, each model call would run a single parameter set; here every re-fit advances together, so
each iteration is one `run_batch` call over the trial point of every fit still running and its
forward-difference Jacobian (one run per coordinate that fit may move). A fit's step is accepted
when its cost falls (and its damping relaxed), otherwise rejected (and its damping raised),
independently of the others.

Bounds: a coordinate at a bound of the unit cube whose gradient points out of the cube is held
there for the step (the step of the others is solved without it), so one parameter pressing on
its bound does not stall the rest, as clipping the full step would.

A fit stops (and leaves the batch) when the step the Gauss-Newton model promises would gain less
than `tol` in cost (the half sum of squares: the negative log-posterior's units), when its
damping has grown past any use, or after `iterations` steps.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["accept_steps", "batched_lm"]

_LAM_MAX = 1e7


def accept_steps(idx: np.ndarray, c_trial: np.ndarray, cost: np.ndarray, lam: np.ndarray,
                 kept: tuple[tuple[np.ndarray, np.ndarray], ...]) -> np.ndarray:
    """The Levenberg-Marquardt acceptance for the fits in rows `idx`, in place: a fit whose
    trial cost `c_trial` is below its `cost` takes it and each (state, trial value) pair of
    `kept` (its point, residuals, Jacobian), and its damping `lam` is relaxed; the others keep
    theirs and their damping is raised. Returns the accepted mask (over `idx`)."""
    better = c_trial < cost[idx]
    acc = idx[better]
    cost[acc] = c_trial[better]
    for state, new in kept:
        state[acc] = new[better]
    lam[idx] = np.where(better, lam[idx] / 3.0, lam[idx] * 4.0)
    return better


def batched_lm(problem, u0: np.ndarray, free: np.ndarray, scales, iterations: int = 15,
               h: float = 1e-5, tol: float = 1e-4, info: dict | None = None,
               restart: Callable[[int, np.ndarray, bool, float],
                                 tuple[np.ndarray, np.ndarray] | None] | None = None
               ) -> np.ndarray:
    """Minimise the half sum of squared residuals from each row of `u0` (unit cube).

    scales: the series' nuisance values (`Problem.scales`), fixed for every fit; or None: each
    fit's own at its current point, re-estimated at every step, so that what is minimised is
    the negative log-posterior with them profiled out (`Problem.profiled_residuals`).
    free: boolean mask (points x k) of the coordinates each fit may move. iterations: the steps
    one fit may take. tol: stop a fit when its next step is predicted to gain less than this in
    cost (0: always take `iterations` steps). restart: called as `restart(row, point,
    converged, cost)` when the fit in a row stops (cost: its final cost, -logpost
    when `scales` is None); it may return a new (start, free mask) for that
    row, which then starts at once in the same batches as the fits still running (so a chain of
    fits, each started from the last one's answer, costs the batches of its own steps only).
    Returns the final points (points x k), never outside the cube. info: a dict that receives
    `iterations` (steps each row's last fit took) and `converged` (whether it stopped by `tol`).
    """
    u = np.clip(np.asarray(u0, dtype=float), 0.0, 1.0).copy()
    free = np.asarray(free, dtype=bool).copy()
    n, k = u.shape
    lam = np.full(n, 1e-2)
    cost = np.full(n, np.inf)
    J = np.zeros((n, k, 0))
    r = np.zeros((n, 0))
    trial = u.copy()
    active = np.ones(n, dtype=bool)
    done = np.zeros(n, dtype=bool)
    steps_taken = np.zeros(n, dtype=int)

    def stop(i: int, converged: bool) -> None:
        active[i], done[i] = False, converged
        nxt = restart(i, u[i].copy(), converged, float(cost[i])) if restart is not None else None
        if nxt is not None:
            u[i] = trial[i] = np.clip(np.asarray(nxt[0], dtype=float), 0.0, 1.0)
            free[i] = np.asarray(nxt[1], dtype=bool)
            lam[i], cost[i], steps_taken[i] = 1e-2, np.inf, 0
            active[i], done[i] = True, False

    while active.any():
        idx = np.flatnonzero(active)
        # the runs: each active fit's trial point, then one step along each of its free axes
        steps = np.where(trial[idx] + h <= 1.0, h, -h)
        rows, owner, axis = [trial[idx]], [], []
        for a, i in enumerate(idx):
            for j in np.flatnonzero(free[i]):
                p = trial[i].copy()
                p[j] += steps[a, j]
                rows.append(p[None, :])
                owner.append(a)
                axis.append(j)
        pts = np.vstack(rows)
        if scales is None:  # each fit's nuisance values at its trial point; cost -logpost
            own = np.concatenate([np.arange(idx.size), np.asarray(owner, dtype=int)])
            res, lp = problem.profiled_residuals(problem.from_unit(pts), own)
            c_trial = -lp[: idx.size]
        else:
            res = problem.residuals(problem.from_unit(pts), scales)
            c_trial = 0.5 * np.sum(res[: idx.size] ** 2, axis=1)
        m = res.shape[1]
        if J.shape[2] != m:
            J, r = np.zeros((n, k, m)), np.zeros((n, m))
        r_trial = res[: idx.size]
        c_trial = np.where(np.isfinite(c_trial), c_trial, np.inf)
        J_trial = np.zeros((idx.size, k, m))
        if owner:
            owner_a, axis_a = np.array(owner), np.array(axis)
            J_trial[owner_a, axis_a] = ((res[idx.size:] - r_trial[owner_a])
                                        / steps[owner_a, axis_a][:, None])
        accept_steps(idx, c_trial, cost, lam, ((u, trial[idx]), (J, J_trial), (r, r_trial)))
        # next trial step for every active fit from its current best point
        Ji, ri = J[idx], r[idx]
        JtJ = np.einsum("akm,alm->akl", Ji, Ji)
        g = np.einsum("akm,am->ak", Ji, ri)
        for a, i in enumerate(idx):
            if not np.isfinite(cost[i]):
                stop(i, False)  # no finite start: nothing to descend from
                continue
            f = free[i] & ~(((u[i] <= 0.0) & (g[a] > 0)) | ((u[i] >= 1.0) & (g[a] < 0)))
            if not f.any():
                stop(i, True)
                continue
            A = JtJ[a][np.ix_(f, f)]
            try:
                delta = -np.linalg.solve(A + lam[i] * np.diag(np.diag(A) + 1e-12), g[a][f])
                if tol > 0:  # what an undamped step would gain, by the Gauss-Newton model
                    gn = np.linalg.lstsq(A, -g[a][f], rcond=1e-12)[0]
                    gain = -(g[a][f] @ gn + 0.5 * gn @ A @ gn)
                    if gain < tol:
                        stop(i, True)
                        continue
            except np.linalg.LinAlgError:
                stop(i, False)
                continue
            if lam[i] > _LAM_MAX or steps_taken[i] >= iterations:
                stop(i, False)
                continue
            steps_taken[i] += 1
            trial[i] = u[i]
            trial[i, f] = np.clip(u[i, f] + delta, 0.0, 1.0)
    if info is not None:
        info["iterations"], info["converged"] = steps_taken, done
    return u
