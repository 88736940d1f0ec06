"""Every area fitted together: authority as a batch dimension, with partial pooling.

    >>> from carespiral.calibration.pooling import fit_authorities
    >>> fit = fit_authorities("local")                    # doctest: +SKIP
    >>> fit.population                                    # doctest: +SKIP

`stack` runs many areas' problems as one batch; `lockstep` advances every area's
Levenberg-Marquardt fit together; `hierarchy` is the national distribution and its empirical
Bayes updates; `fit` puts them together; `authorities` builds each authority's problem from a
spec and the published data (recording the ones that cannot be fitted, with the reason);
`forecast` is the forecast residual model estimated across authorities; `result` is the saved
result; `compare` backtests pooled against unpooled.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["AreaCase", "AreaStack", "PooledEstimate", "Population", "fit_stack"]

_WHERE = {
    "AreaCase": "stack",
    "AreaStack": "stack",
    "PooledEstimate": "fit",
    "Population": "hierarchy",
    "fit_stack": "fit",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"carespiral.calibration.pooling.{_WHERE[name]}"),
                       name)
    raise AttributeError(f"module 'carespiral.calibration.pooling' has no attribute {name!r}")
