"""Prior distributions of calibrated parameters, always truncated to the parameter's bounds.

Four families, each vectorised over an array of values: `uniform` (flat between the bounds),
`normal` (mean, sd), `lognormal` (mu, sigma of the log) and `beta` (alpha, beta on the bounds
rescaled to 0-1). Densities are unnormalised: the truncation constant does not depend on the
parameter, so it cancels in every method here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

__all__ = ["PRIOR_ARGS", "Prior"]

# The arguments each family takes, in order.
PRIOR_ARGS: dict[str, tuple[str, ...]] = {
    "uniform": (),
    "normal": ("mean", "sd"),
    "lognormal": ("mu", "sigma"),
    "beta": ("alpha", "beta"),
}


@dataclass(frozen=True)
class Prior:
    """A prior on [lower, upper]: `kind` is one of PRIOR_ARGS, `args` its named arguments."""

    kind: str
    lower: float
    upper: float
    args: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in PRIOR_ARGS:
            raise ValueError(f"unknown prior {self.kind!r}; expected one of {sorted(PRIOR_ARGS)}")
        missing = [a for a in PRIOR_ARGS[self.kind] if a not in self.args]
        if missing:
            raise ValueError(f"{self.kind} prior needs {', '.join(missing)}")

    def logpdf(self, x: np.ndarray) -> np.ndarray:
        """Log density (up to a constant) at `x`; -inf outside the bounds."""
        x = np.asarray(x, dtype=float)
        inside = (x >= self.lower) & (x <= self.upper)
        out = np.full(x.shape, -np.inf)
        xi = x[inside]
        a = self.args
        if self.kind == "uniform":
            val = np.zeros_like(xi)
        elif self.kind == "normal":
            val = -0.5 * ((xi - a["mean"]) / a["sd"]) ** 2
        elif self.kind == "lognormal":
            with np.errstate(divide="ignore", invalid="ignore"):
                lx = np.log(xi)
                val = np.where(xi > 0, -lx - 0.5 * ((lx - a["mu"]) / a["sigma"]) ** 2, -np.inf)
        else:
            z = (xi - self.lower) / (self.upper - self.lower)
            val = stats.beta.logpdf(z, a["alpha"], a["beta"])
        out[inside] = val
        return out

    def mode(self) -> float:
        """Where the density peaks within the bounds (the middle for a flat prior)."""
        a = self.args
        if self.kind == "uniform":
            m = 0.5 * (self.lower + self.upper)
        elif self.kind == "normal":
            m = a["mean"]
        elif self.kind == "lognormal":
            m = math.exp(a["mu"] - a["sigma"] ** 2)
        else:
            al, be = a["alpha"], a["beta"]
            z = (al - 1) / (al + be - 2) if al > 1 and be > 1 else 0.0 if al <= be else 1.0
            m = self.lower + z * (self.upper - self.lower)
        return float(min(max(m, self.lower), self.upper))

    def contains_mass(self) -> bool:
        """False when the prior puts (practically) no mass inside the bounds."""
        grid = np.linspace(self.lower, self.upper, 201)
        return bool(np.isfinite(self.logpdf(grid)).any() and self.logpdf(grid).max() > -50)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """`n` draws from the truncated prior (inverse transform on a fine grid)."""
        grid = np.linspace(self.lower, self.upper, 4001)
        dens = np.exp(self.logpdf(grid) - np.max(self.logpdf(grid)))
        cdf = np.concatenate([[0.0], np.cumsum(0.5 * (dens[1:] + dens[:-1]) * np.diff(grid))])
        cdf /= cdf[-1]
        return np.interp(rng.random(n), cdf, grid)

    def describe(self) -> str:
        if self.kind == "uniform":
            return "uniform"
        return f"{self.kind}(" + ", ".join(f"{k}={v:g}" for k, v in self.args.items()) + ")"
