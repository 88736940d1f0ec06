"""What every calibration method returns, and helpers they share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import qmc

__all__ = ["MethodOutput", "Progress", "sobol_design"]

Progress = Callable[[int, float], None]


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
