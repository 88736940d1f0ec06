"""Fitting every area of a stack together: unpooled, then partially pooled (empirical Bayes).

1. **Starts**: for each area, points of a scrambled Sobol design spread over the spec's prior
   (on the logit scale), all areas in one batch; each area keeps its best.
2. **Unpooled**: each area's posterior mode under the spec's prior (`Population.from_priors`),
   by lockstep Levenberg-Marquardt with each series' error model (scale, and lag-1
   autocorrelation where the spec asks for it) re-estimated between two rounds, as the
   single-area least-squares method does.
3. **Partial pooling**: repeat (a) the national mean and spread of maximum marginal
   likelihood given each area's likelihood approximated by a quadratic at its mode
   (`Population.fit`, no model runs), (b) the error models: each series' autocorrelation
   estimated nationally (`stack.national_rho`), each area's own shrunk towards it (a series
   too short for its own takes it), and its scale shrunk towards the series' pooled scale
   (`AreaStack.error_fits`), (c) every area's mode re-fitted from where it was under the new
   national prior (from its mode and from the national mean, keeping the better: a few
   years of data can leave a second, wrong mode), until the national mean and spread move by
   less than `tol` (in spreads, or in log spread; a spread below `hierarchy.TAU_SETTLED`
   counts as that, as settled) between rounds. An area whose likelihood has
   two modes can switch between them as the national distribution moves, and the rounds then
   alternate between two values of that parameter's mean and spread for ever; so when a mean
   or spread moves back the other way by more than `tol`, its step towards the new value is
   halved from then on (`hierarchy.damped_steps`), which settles between them; the others keep
   full steps.

Each area's posterior is then the Laplace approximation at its mode on the logit scale
(Gauss-Newton curvature of data and prior), whose draws, mapped back, stay inside the bounds and
give asymmetric intervals where the data push against a bound.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
from scipy.stats import norm, qmc

from carespiral.calibration.pooling.hierarchy import (
    TAU_SETTLED,
    Population,
    Transform,
    damped_steps,
    shrinkage,
)
from carespiral.calibration.pooling.lockstep import LMState, lockstep_lm
from carespiral.calibration.pooling.stack import AreaStack

__all__ = ["POOLING", "PooledEstimate", "fit_stack"]

POOLING = ("partial", "none")
SCALE_WEIGHT = 4.0  # pseudo-observations behind each series' pooled error model


@dataclass
class PooledEstimate:
    """What a stack fit found, on the logit scale (areas x k arrays), with its history."""

    transform: Transform
    pooling: str
    z: np.ndarray  # modes
    covariance: np.ndarray  # Laplace covariances (areas x k x k)
    data_precision: np.ndarray  # diagonal curvature of the likelihood alone (areas x k)
    population: Population  # fitted (partial) or the spec's priors (none)
    prior: Population  # the spec's priors, moment-matched
    errors: list  # per area, the ErrorFit (scale, autocorrelation) of each series
    logpost: np.ndarray  # per area, at the mode (fixed scales, up to a constant)
    unpooled_z: np.ndarray
    unpooled_covariance: np.ndarray
    unpooled_errors: list
    unpooled_precision: np.ndarray
    converged: bool
    rounds: list[dict] = field(default_factory=list)
    runs: int = 0
    seconds: float = 0.0

    @property
    def theta(self) -> np.ndarray:
        return self.transform.to_theta(self.z)

    @property
    def shrinkage(self) -> np.ndarray:
        return shrinkage(self.data_precision, self.population.tau)

    def unpooled(self) -> PooledEstimate:
        """The unpooled fit (each area alone with the spec's prior) as an estimate."""
        return replace(self, pooling="none", z=self.unpooled_z,
                       covariance=self.unpooled_covariance, errors=self.unpooled_errors,
                       data_precision=self.unpooled_precision, population=self.prior)

    def draws(self, n: int, rng: np.random.Generator, unpooled: bool = False) -> np.ndarray:
        """Parameter draws per area from the Laplace approximation (areas x n x k)."""
        z = self.unpooled_z if unpooled else self.z
        cov = self.unpooled_covariance if unpooled else self.covariance
        L = np.linalg.cholesky(cov + 1e-12 * np.eye(cov.shape[1]))
        e = rng.standard_normal((len(z), n, z.shape[1]))
        return self.transform.to_theta(z[:, None, :] + np.einsum("akl,anl->ank", L, e))


Progress = Callable[[str, int], None]


def fit_stack(stack: AreaStack, pooling: str = "partial", seed: int = 0, starts: int = 32,
              iterations: int = 12, max_rounds: int = 12, tol: float = 0.02,
              progress: Progress | None = None) -> PooledEstimate:
    """Fit every area of `stack` (see the module docstring); `pooling` is partial or none."""
    if pooling not in POOLING:
        raise ValueError(f"pooling {pooling!r}: expected one of {POOLING}")
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    params = stack.parameters
    tr = Transform(np.array([p.lower for p in params]), np.array([p.upper for p in params]))
    prior = Population.from_priors([p.prior for p in params], tr, seed=seed)
    A, k = stack.n_areas, stack.k
    width = max(stack.n_obs(a) for a in range(A)) + k
    state = {"pop": prior, "errors": None}

    def note(stage: str) -> None:
        if progress:
            progress(stage, stack.n_runs)

    def residuals(z: np.ndarray, owner: np.ndarray) -> np.ndarray:
        data = stack.residuals(tr.to_theta(z), owner, state["errors"], width - k)
        return np.concatenate([data, state["pop"].residuals(z)], axis=1)

    # 1. starts: the prior's mean and a Sobol design over the prior, every area in one batch
    u = qmc.Sobol(d=k, scramble=True, seed=rng).random(max(2, starts))
    z_starts = np.vstack([prior.mu, prior.mu + prior.tau * norm.ppf(np.clip(u, 1e-6, 1 - 1e-6))])
    S = len(z_starts)
    owner = np.repeat(np.arange(A), S)
    zz = np.tile(z_starts, (A, 1))
    lp = stack.loglik(tr.to_theta(zz), owner) + prior.logpdf(zz)
    lp = np.where(np.isfinite(lp), lp, -np.inf).reshape(A, S)
    z = z_starts[np.argmax(lp, axis=1)]
    note("starts")

    # 2. unpooled: the spec's prior, two rounds of error models then Levenberg-Marquardt
    lm = None
    for _ in range(2):
        state["errors"] = stack.error_fits(tr.to_theta(z))
        lm = lockstep_lm(residuals, z, iterations=iterations)
        z = lm.z
        note("unpooled")
    assert lm is not None
    cov = np.linalg.inv(lm.curvature())
    unpooled_z, unpooled_cov, unpooled_errors = z.copy(), cov.copy(), state["errors"]
    unpooled_precision = _precision(lm, width - k)
    rounds = [_round(0, prior, lm, stack.n_runs, t0)]
    converged = True
    m_data = width - k

    # 3. partial pooling: the national distribution by marginal likelihood, scales shrunk,
    # modes re-fitted under it
    if pooling == "partial":
        converged = False
        step, last_move = np.ones(2 * k), np.zeros(2 * k)
        for r in range(1, max_rounds + 1):
            D, b = _quadratic(lm, m_data)
            proposed = state["pop"].fit(D, b)
            move = state["pop"].step_to(proposed)
            step, last_move = damped_steps(step, move, last_move, small=tol), move
            new = state["pop"].toward(proposed, step)
            change = state["pop"].change(new, settled=TAU_SETTLED)
            state["pop"] = new
            state["errors"] = stack.error_fits(tr.to_theta(z), pooled_weight=SCALE_WEIGHT)
            lm = _refit(residuals, z, new.mu, iterations)
            z = lm.z
            cov = np.linalg.inv(lm.curvature())
            rounds.append(_round(r, new, lm, stack.n_runs, t0, change, step))
            note(f"pooling round {r}")
            if change < tol:
                converged = True
                break
    return PooledEstimate(
        transform=tr, pooling=pooling, z=z, covariance=cov,
        data_precision=_precision(lm, m_data),
        population=state["pop"], prior=prior, errors=state["errors"], logpost=-lm.cost,
        unpooled_z=unpooled_z, unpooled_covariance=unpooled_cov,
        unpooled_errors=unpooled_errors, unpooled_precision=unpooled_precision,
        converged=converged,
        rounds=rounds, runs=stack.n_runs, seconds=time.perf_counter() - t0)


def _refit(residuals, z: np.ndarray, mu: np.ndarray, iterations: int):
    """Each area re-fitted from its mode and from the national mean, keeping the better: with
    a few years of data a likelihood can have a second, wrong mode far from the others."""
    A = len(z)
    both = lockstep_lm(residuals, np.vstack([z, np.repeat(mu[None], A, axis=0)]),
                       iterations=iterations, areas=np.tile(np.arange(A), 2))
    pick = np.where(both.cost[A:] < both.cost[:A], np.arange(A, 2 * A), np.arange(A))
    return LMState(both.z[pick], both.cost[pick], both.r[pick], both.J[pick], both.iterations,
                   both.runs)


def _precision(lm, m_data: int) -> np.ndarray:
    """The diagonal Gauss-Newton curvature of each area's data residuals alone (areas x k)."""
    Jd = lm.J[:, :m_data, :]
    return np.einsum("amk,amk->ak", Jd, Jd)


def _quadratic(lm, m_data: int) -> tuple[np.ndarray, np.ndarray]:
    """Each area's data likelihood as exp(-0.5 z'Dz + b'z) around its current point: D the
    Gauss-Newton curvature of the data residuals, b = D z - (gradient of the data cost)."""
    Jd, rd = lm.J[:, :m_data, :], lm.r[:, :m_data]
    D = np.einsum("amk,aml->akl", Jd, Jd)
    g = np.einsum("amk,am->ak", Jd, rd)
    return D, np.einsum("akl,al->ak", D, lm.z) - g


def _round(r: int, pop: Population, lm, runs: int, t0: float, change: float = float("nan"),
           step: np.ndarray | None = None) -> dict:
    return {"round": r, "mu": pop.mu.tolist(), "tau": pop.tau.tolist(), "change": change,
            "step": None if step is None else step.tolist(),
            "cost": float(np.sum(lm.cost)), "runs": runs,
            "seconds": round(time.perf_counter() - t0, 2)}
