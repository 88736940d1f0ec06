"""Levenberg-Marquardt on many problems at once, one model batch per iteration.

Profiles need dozens of small re-fits (one per grid point and parameter). Done one after the
other, each model call would run a single parameter set; here every re-fit advances together, so
each iteration is one `run_batch` call over (points x (parameters + 1)) runs: the trial point of
every fit and its forward-difference Jacobian. A fit's step is accepted when its cost falls (and
its damping relaxed), otherwise rejected (and its damping raised), independently of the others.
"""

from __future__ import annotations

import numpy as np

__all__ = ["batched_lm"]


def batched_lm(problem, u0: np.ndarray, free: np.ndarray, scales, iterations: int = 15,
               h: float = 1e-5) -> np.ndarray:
    """Minimise the half sum of squared residuals from each row of `u0` (unit cube).

    free: boolean mask (points x k) of the coordinates each fit may move. Returns the final
    points (points x k), never outside the cube.
    """
    u = np.clip(np.asarray(u0, dtype=float), 0.0, 1.0).copy()
    free = np.asarray(free, dtype=bool)
    n, k = u.shape
    lam = np.full(n, 1e-2)
    cost = np.full(n, np.inf)
    J = None
    r = None
    trial = u.copy()
    for _ in range(iterations + 1):
        steps = np.where(trial + h <= 1.0, h, -h)
        pts = np.repeat(trial[:, None, :], k + 1, axis=1)  # n x (k+1) x k
        for j in range(k):
            pts[:, j + 1, j] += steps[:, j]
        res = problem.residuals(problem.from_unit(pts.reshape(-1, k)), scales)
        res = res.reshape(n, k + 1, -1)
        r_trial = res[:, 0, :]
        c_trial = 0.5 * np.sum(r_trial**2, axis=1)
        better = c_trial < cost
        J_trial = (res[:, 1:, :] - r_trial[:, None, :]) / steps[:, :, None]  # n x k x m
        J_trial = np.where(free[:, :, None], J_trial, 0.0)
        if J is None:
            J, r = J_trial, r_trial
        u[better] = trial[better]
        cost[better] = c_trial[better]
        J[better] = J_trial[better]
        r[better] = r_trial[better]
        lam = np.where(better, lam / 3.0, lam * 4.0)
        # next trial step for every fit from its current best point
        JtJ = np.einsum("nkm,nlm->nkl", J, J)
        g = np.einsum("nkm,nm->nk", J, r)
        trial = u.copy()
        for i in range(n):
            f = free[i]
            if not f.any():
                continue
            A = JtJ[i][np.ix_(f, f)]
            A = A + lam[i] * np.diag(np.diag(A) + 1e-12)
            try:
                delta = -np.linalg.solve(A, g[i][f])
            except np.linalg.LinAlgError:
                continue
            trial[i, f] = np.clip(u[i, f] + delta, 0.0, 1.0)
    return u
