"""`Runner`: what the layers above the runner (data, calibration, exploration, reports, CLI) may
call on a model. `Model` implements it; code above the runner types its model argument as
`Runner`, so anything it needs from a model is added here first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import pandas as pd

if TYPE_CHECKING:
    import xarray as xr

    from carespiral.pysd_runner.parameters import Parameter, Variable
    from carespiral.pysd_runner.rates import RateFunction
    from carespiral.pysd_runner.scenario import Scenario

__all__ = ["Runner"]

ParamValue = float | int | pd.Series


@runtime_checkable
class Runner(Protocol):
    """A loaded model: its description, its names, and the ways to run it."""

    name: str
    mdl_path: Path

    @property
    def title(self) -> str: ...

    @property
    def description(self) -> str: ...

    @property
    def variables(self) -> list[Variable]: ...

    @property
    def parameters(self) -> list[Parameter]: ...

    @property
    def stocks(self) -> list[str]: ...

    @property
    def flows(self) -> list[str]: ...

    @property
    def outputs(self) -> dict[str, str]: ...

    @property
    def levers(self) -> dict[str, str]: ...

    @property
    def drivers(self) -> dict[str, str]: ...

    @property
    def roles(self) -> dict[str, str]: ...

    @property
    def start_date(self) -> dt.date | None: ...

    @property
    def scenarios(self) -> dict[str, Path]: ...

    def resolve(self, name: str) -> str:
        """The Vensim name for a Vensim name, a Python name or a catalogue role."""
        ...

    def parameter(self, name: str) -> Parameter:
        """A settable constant (raises for anything else)."""
        ...

    def control(self, name: str) -> float:
        """A control's value as written: initial_time, final_time, time_step or saveper."""
        ...

    def scenario(self, name_or_path: str | Path | Scenario) -> Scenario: ...

    def run(
        self,
        params: Mapping[str, ParamValue] | None = None,
        scenario: str | Path | Scenario | None = None,
        start: float | None = None,
        stop: float | None = None,
        time_step: float | None = None,
        saveper: float | None = None,
        outputs: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """One run: outputs by model time."""
        ...

    def run_batch(
        self,
        params: pd.DataFrame | None = None,
        outputs: Sequence[str] | None = None,
        saveper: float | None = None,
        scenario: str | Path | Scenario | None = None,
        start: float | None = None,
        stop: float | None = None,
        time_step: float | None = None,
        reduce: str | Sequence[Any] | None = None,
        backend: str = "batch",
        **options: Any,
    ) -> xr.Dataset:
        """One run per row of `params`: a Dataset (run x time), or per-run summaries."""
        ...

    def rate_function(self, params: Mapping[str, float] | None = None) -> RateFunction:
        """d(state)/dt as a function of the state, for equilibria and their stability."""
        ...
