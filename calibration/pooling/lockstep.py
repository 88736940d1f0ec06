"""Levenberg-Marquardt for many areas at once, every iteration one batch of runs.

Each area minimises half the sum of its squared residuals (data and prior) over its own
parameters z (the logit scale, unbounded). An iteration evaluates, for every area still moving,
its trial point and a forward step along each parameter: one batch of areas x (k + 1) runs. An
area's step is accepted if its cost falls (its damping then relaxed), else rejected (damping
raised), independently of the others. An area stops when an accepted step gains less than
`rtol` of its cost, or when its damping shows no step helps; it then costs no more runs.

The Jacobian kept at each area's best point gives the Gauss-Newton curvature JᵀJ, whose
inverse is the Laplace covariance of the area's posterior.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from carespiral.calibration.lm import accept_steps

__all__ = ["LMState", "lockstep_lm"]

# residuals(z rows, owner rows) -> (rows x m) residuals, m the same for every area (padded)
Residuals = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass
class LMState:
    """Each area's best point, cost, residuals and Jacobian (areas x m x k)."""

    z: np.ndarray
    cost: np.ndarray
    r: np.ndarray
    J: np.ndarray
    iterations: int
    runs: int

    def curvature(self) -> np.ndarray:
        """Gauss-Newton Hessian of the cost per area (areas x k x k)."""
        return np.einsum("amk,aml->akl", self.J, self.J)


def lockstep_lm(residuals: Residuals, z0: np.ndarray, iterations: int = 12, h: float = 1e-4,
                rtol: float = 1e-6, progress: Callable[[int], None] | None = None,
                areas: np.ndarray | None = None) -> LMState:
    """Minimise 0.5 |r(z)|^2 for each row of z0 (areas x k); `areas` labels the rows for
    `residuals` (default 0..A-1)."""
    z = np.array(z0, dtype=float)
    n, k = z.shape
    label = np.arange(n) if areas is None else np.asarray(areas, dtype=int)
    cost = np.full(n, np.inf)
    lam = np.full(n, 1e-3)
    active = np.ones(n, dtype=bool)
    trial = z.copy()
    r = J = None
    runs = 0
    it = 0
    for it in range(iterations + 1):
        idx = np.flatnonzero(active)
        if not len(idx):
            break
        pts = np.repeat(trial[idx][:, None, :], k + 1, axis=1)
        pts[:, 1:, :] += h * np.eye(k)[None, :, :]
        res = residuals(pts.reshape(-1, k), np.repeat(label[idx], k + 1))
        runs += len(idx) * (k + 1)
        res = res.reshape(len(idx), k + 1, -1)
        if r is None:
            r = np.zeros((n, res.shape[2]))
            J = np.zeros((n, res.shape[2], k))
        r_t = res[:, 0, :]
        c_t = 0.5 * np.sum(r_t**2, axis=1)
        J_t = np.transpose((res[:, 1:, :] - r_t[:, None, :]) / h, (0, 2, 1))  # n x m x k
        old = cost[idx]
        with np.errstate(invalid="ignore"):
            gain = np.where(np.isfinite(old), (old - c_t) / np.maximum(np.abs(old), 1e-12),
                            np.inf)
        better = accept_steps(idx, c_t, cost, lam, ((z, trial[idx]), (r, r_t), (J, J_t)))
        done = (better & (gain < rtol)) | (lam[idx] > 1e8)
        active[idx[done]] = False
        if progress:
            progress(runs)
        if it == iterations:
            break
        # the next trial step of every area still moving, from its best point
        idx = np.flatnonzero(active)
        JtJ = np.einsum("amk,aml->akl", J[idx], J[idx])
        g = np.einsum("amk,am->ak", J[idx], r[idx])
        diag = np.einsum("akk->ak", JtJ)
        A = JtJ + (lam[idx][:, None] * (diag + 1e-9))[:, :, None] * np.eye(k)[None]
        try:
            step = -np.linalg.solve(A, g[:, :, None])[:, :, 0]
        except np.linalg.LinAlgError:
            step = np.zeros_like(g)
            for i in range(len(idx)):
                step[i] = -np.linalg.lstsq(A[i], g[i], rcond=None)[0]
        trial[idx] = z[idx] + step
    assert r is not None and J is not None
    return LMState(z, cost, r, J, it, runs)
