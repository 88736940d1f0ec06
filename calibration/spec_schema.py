"""The declared shape of a calibration spec (see `spec.py` for the format).

Types and allowed words are checked here, before the reader's own checks (bounds in order,
a prior's centre inside them, break policies) and before any name is looked up in a model or
the data. Method options (`[options.NAME]`) are checked against the option types of each
method: `[options.emcee] walkers = "x"` or `nan` is refused, and so is an option the method
does not take.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, field_validator

from carespiral.schema import Finite, NonNegative, Positive, PositiveInt, Schema

__all__ = ["METHOD_OPTIONS", "CalibrationSpecFile"]

Period = Annotated[list[int], Field(min_length=2, max_length=2)]


class ParameterTable(Schema):
    lower: Finite
    upper: Finite
    prior: Literal["uniform", "normal", "lognormal", "beta"] = "uniform"
    initial: Finite | None = None
    mean: Finite | None = None
    sd: Positive | None = None
    mu: Finite | None = None
    sigma: Positive | None = None
    alpha: Positive | None = None
    beta: Positive | None = None


class SeriesTable(Schema):
    error: Literal["normal", "lognormal", "negbin"] = "normal"
    weight: Positive = 1.0
    breaks: Literal["refuse", "before", "after", "span"] = "refuse"
    period: Period | None = None
    dispersion: Positive | None = None
    autocorrelation: Literal["ar1", "none"] | None = None


class DifferentialEvolutionOptions(Schema):
    popsize: PositiveInt | None = None
    tol: NonNegative = 0.01
    polish: bool = True


class EmceeOptions(Schema):
    walkers: Annotated[int, Field(ge=2)] | None = None
    start: list[Finite] | None = None


class LeastSquaresOptions(Schema):
    n_starts: PositiveInt | None = None
    design: PositiveInt | None = None


# option types of each method of `calibration.methods.METHODS` (by name and alias)
METHOD_OPTIONS: dict[str, type[Schema]] = {
    "differential_evolution": DifferentialEvolutionOptions,
    "de": DifferentialEvolutionOptions,
    "emcee": EmceeOptions,
    "least_squares": LeastSquaresOptions,
}


class OptionsTable(Schema):
    """Options of the bundled methods are typed; a method registered by other code is checked
    by name when the calibration starts (`engine.calibrate`)."""

    model_config = ConfigDict(strict=True, extra="allow", frozen=True)

    differential_evolution: DifferentialEvolutionOptions | None = None
    de: DifferentialEvolutionOptions | None = None
    emcee: EmceeOptions | None = None
    least_squares: LeastSquaresOptions | None = None


class CalibrationSpecFile(Schema):
    """A calibration spec file."""

    title: str = ""
    description: str = ""
    model: str = Field(min_length=1)
    area: str | None = None
    period: Period
    scenario: str | None = None
    method: str = "differential_evolution"
    autocorrelation: Literal["ar1", "none"] = "ar1"
    drivers: list[str] = Field(default_factory=list)
    calendar: str | None = None
    fixed: dict[str, Finite] = Field(default_factory=dict)
    scale: dict[str, str] = Field(default_factory=dict)
    roles: dict[str, str] = Field(default_factory=dict)
    parameters: dict[str, ParameterTable] = Field(min_length=1)
    series: dict[str, SeriesTable] = Field(min_length=1)
    options: OptionsTable = Field(default_factory=OptionsTable)

    @field_validator("period")
    @classmethod
    def _in_order(cls, period: list[int]) -> list[int]:
        if period[1] < period[0]:
            raise ValueError(f"a last year not before the first ({period[0]})")
        return period

