"""Vectorised batch backend: many parameter sets integrated at once.

    >>> from carespiral.pysd_runner.batch import compile_model
    >>> bm = compile_model("models/workforce_spiral.mdl")
    >>> ds = bm.run(params_frame, reduce="final,max")        # doctest: +SKIP

The model is compiled from PySD's abstract model into one numpy function (see `codegen`), so each
equation is one vector operation per time step over all runs; or, with numba installed
(`engine="numba"`, or the default for 1,000 runs or more), into a compiled loop over runs and
steps doing the same operations (see `numba_engine`).
"""

from carespiral.pysd_runner.batch.lowering import UnsupportedConstructError
from carespiral.pysd_runner.batch.model import BatchModel, TimeInput, compile_model
from carespiral.pysd_runner.batch.recording import Reduction

__all__ = ["BatchModel", "Reduction", "TimeInput", "UnsupportedConstructError", "compile_model"]
