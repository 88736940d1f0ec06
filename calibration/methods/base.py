"""What a calibration method is (its registry entry), what it returns, and helpers they share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import qmc

__all__ = ["Method", "MethodOutput", "Progress", "sobol_design"]

Progress = Callable[[int, float], None]


@dataclass(frozen=True)
class Method:
    """A calibration method's registry entry.

    fit: `fit(problem, rng, budget, progress, **options) -> MethodOutput`. budget: the model runs
    it spends by default (`--budget` overrides). options: the keyword options `fit` takes (a
    spec's `[options.NAME]` table, `--walkers`). aliases: other names it answers to.
    """

    name: str
    fit: Callable[..., MethodOutput]
    budget: int
    options: tuple[str, ...] = ()
    summary: str = ""
    aliases: tuple[str, ...] = ()


@dataclass
class MethodOutput:
    """A method's raw answer: the best parameters, and for samplers the posterior draws."""

    method: str
    best: np.ndarray  # best parameter set found (model units)
    best_logpost: float
    draws: np.ndarray | None = None  # posterior draws (n x k), samplers only
    draws_logpost: np.ndarray | None = None
    converged: bool = True
    message: str = ""
    diagnostics: dict[str, float] = field(default_factory=dict)


def sobol_design(k: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` scrambled Sobol points in the unit cube (n rounded up to a power of two)."""
    m = max(1, int(np.ceil(np.log2(max(n, 2)))))
    sampler = qmc.Sobol(d=k, scramble=True, seed=rng)
    return sampler.random_base2(m)
