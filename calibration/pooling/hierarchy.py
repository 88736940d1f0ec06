"""The national distribution every authority's parameters are drawn from, and its updates.

Each parameter is fitted on an unbounded scale: z = logit((theta - lower) / (upper - lower)),
so every value of z is a parameter inside its bounds. Authority a's parameters are drawn from
a national normal distribution on that scale, z_a ~ N(mu, diag(tau^2)), independently across
parameters.

- **Unpooled** (no sharing): mu and tau stay at the spec's priors, moment-matched to this form
  (the mean and standard deviation of z under the spec's prior truncated to the bounds), so an
  authority is fitted alone with the same prior the single-area calibration uses.
- **Partial pooling** (empirical Bayes): mu and tau are fitted too, by maximum marginal
  likelihood. At its posterior mode each authority's likelihood is approximated by a quadratic
  in z (the Gauss-Newton curvature D_a of its data alone and the gradient there), and the
  national mean and spread that maximise the likelihood of all authorities together, each
  integrated over its own z_a, are found by EM on those quadratics (`Population.fit`: E-step
  the normal posterior of each z_a, M-step mu = mean of the posterior means, tau^2 = mean of
  squared deviations plus posterior variances), which costs no model runs. The modes are then
  re-fitted under the new national distribution and the two steps repeat until mu and tau
  settle.

Shrinkage of authority a on parameter j is the weight of the national mean in its posterior
mean: B_aj = tau_j^-2 / (tau_j^-2 + d_aj), where d_aj is the data's precision for that
parameter (the Gauss-Newton curvature of the likelihood alone). 0 means the authority's own data
decide; 1 means it takes the national value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import expit, logit

__all__ = ["MIN_STEP", "TAU_SETTLED", "Population", "Transform", "damped_steps", "shrinkage"]

TAU_FLOOR = 0.02  # smallest national spread on the logit scale: a spread of 0 is never credible
# Spreads below this count as settled when rounds are compared: on the logit scale 0.1 is at
# most 2.5% of a parameter's range, within which authorities are practically alike. A spread
# that the data barely inform (a judgement's size, known in 24 of 149 authorities) creeps
# towards the floor by a few per cent a round, and in log spread that never settles.
TAU_SETTLED = 0.1
MIN_STEP = 0.125  # the smallest fraction of a round's move taken once a value alternates
_EDGE = 1e-9  # keeps logit finite for a value at a bound


@dataclass(frozen=True)
class Transform:
    """theta <-> z for parameters with bounds `lower` and `upper` (arrays of length k)."""

    lower: np.ndarray
    upper: np.ndarray

    def to_z(self, theta: np.ndarray) -> np.ndarray:
        u = (np.asarray(theta, dtype=float) - self.lower) / (self.upper - self.lower)
        return logit(np.clip(u, _EDGE, 1 - _EDGE))

    def to_theta(self, z: np.ndarray) -> np.ndarray:
        theta = self.lower + (self.upper - self.lower) * expit(np.asarray(z, dtype=float))
        return np.clip(theta, self.lower, self.upper)


@dataclass(frozen=True)
class Population:
    """The national distribution on the logit scale: mean `mu` and spread `tau` (length k)."""

    mu: np.ndarray
    tau: np.ndarray

    @classmethod
    def from_priors(cls, priors: Sequence, transform: Transform, n: int = 20_000,
                    seed: int = 0) -> Population:
        """The spec's priors (truncated to the bounds) moment-matched on the logit scale."""
        rng = np.random.default_rng(seed)
        draws = np.column_stack([p.sample(rng, n) for p in priors])
        z = transform.to_z(draws)
        return cls(z.mean(axis=0), np.maximum(z.std(axis=0), TAU_FLOOR))

    def residuals(self, z: np.ndarray) -> np.ndarray:
        """Prior residuals (z - mu) / tau; half their sum of squares is -log prior + const."""
        return (np.asarray(z, dtype=float) - self.mu) / self.tau

    def logpdf(self, z: np.ndarray) -> np.ndarray:
        return -0.5 * np.sum(self.residuals(z) ** 2, axis=-1)

    def posterior(self, D: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each authority's normal posterior under this population, for a likelihood that is
        exp(-0.5 z'Dz + b'z) (D: A x k x k, b: A x k): means (A x k), covariances (A x k x k)."""
        P = np.diag(1.0 / self.tau**2)
        cov = np.linalg.inv(np.asarray(D, dtype=float) + P[None])
        mean = np.einsum("akl,al->ak", cov, np.asarray(b, dtype=float) + P @ self.mu)
        return mean, cov

    def fit(self, D: np.ndarray, b: np.ndarray, iterations: int = 2000,
            tol: float = 1e-9) -> Population:
        """The national mean and spread of maximum marginal likelihood for quadratic
        likelihoods (see `posterior`), by EM from this population."""
        pop = self
        for _ in range(iterations):
            mean, cov = pop.posterior(D, b)
            var = np.diagonal(cov, axis1=1, axis2=2)
            mu = mean.mean(axis=0)
            tau = np.maximum(np.sqrt(np.mean((mean - mu) ** 2 + var, axis=0)), TAU_FLOOR)
            new = Population(mu, tau)
            if pop.change(new) < tol:
                return new
            pop = new
        return pop

    def step_to(self, other: Population) -> np.ndarray:
        """The move to another population, standardised: mean shifts in spreads, then log
        spread ratios (length 2k)."""
        return np.concatenate([(other.mu - self.mu) / self.tau, np.log(other.tau / self.tau)])

    def toward(self, other: Population, weight: np.ndarray) -> Population:
        """The population a fraction of the way to `other`: `weight` (length 2k, as
        `step_to`) per mean, then per spread on the log scale; weights of 1 give `other`."""
        w = np.asarray(weight, dtype=float)
        k = len(self.mu)
        return Population(self.mu + w[:k] * (other.mu - self.mu),
                          self.tau * (other.tau / self.tau) ** w[k:])

    def change(self, other: Population, settled: float = 0.0) -> float:
        """How far another population is from this one: the largest shift of a mean in units
        of the spread, or of a log spread, spreads below `settled` counting as `settled` (the
        fitting rounds use TAU_SETTLED)."""
        a, b = np.maximum(self.tau, settled), np.maximum(other.tau, settled)
        return float(max(np.max(np.abs(other.mu - self.mu) / a),
                         np.max(np.abs(np.log(b / a)))))


def damped_steps(step: np.ndarray, move: np.ndarray, last_move: np.ndarray,
                 floor: float = MIN_STEP, small: float = 0.0) -> np.ndarray:
    """The fraction of each proposed move to take in a fixed-point iteration: halved (down to
    `floor`) for a value whose move reverses its previous one, both larger than `small`, kept
    otherwise (a reversal of moves within the tolerance is noise, not a cycle). A map that
    sends x to c - x alternates for ever at full steps; a half step lands on its fixed point."""
    move, last_move = np.asarray(move, dtype=float), np.asarray(last_move, dtype=float)
    back = (move * last_move < 0.0) & (np.abs(move) > small) & (np.abs(last_move) > small)
    return np.where(back, np.maximum(np.asarray(step, dtype=float) / 2, floor), step)


def shrinkage(data_precision: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """B = tau^-2 / (tau^-2 + d): the national mean's weight per authority and parameter."""
    prior = 1.0 / np.asarray(tau, dtype=float) ** 2
    d = np.maximum(np.asarray(data_precision, dtype=float), 0.0)
    return prior / (prior + d)
