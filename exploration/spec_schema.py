"""The declared shape of an exploration spec (see `spec.py` for the format).

Types, bounds and allowed words are checked here, before any name is looked up in a model:
`runs` and `chunk` are whole numbers from 1, `seed` from 0, ranges are two finite numbers,
criteria thresholds are finite, `[optimise] population` is a whole number of at least 4
(NSGA-II mates pairs of parents), and `stop` comes after `start`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator

from carespiral.schema import Finite, NonNegative, Positive, PositiveInt, Schema, Seed

__all__ = ["ExploreSpecFile"]

Range = Annotated[list[Finite], Field(min_length=2, max_length=2)]


class LeverTable(Schema):
    range: Range
    cost: NonNegative | None = None
    cost_below: NonNegative | None = None


class ThresholdCriterion(Schema):
    type: Literal["above", "below"]
    variable: str = Field(min_length=1)
    value: Finite
    months: NonNegative = 0.0
    relative_to: str | None = None
    name: str = ""


class GrowingCriterion(Schema):
    type: Literal["growing"]
    variable: str = Field(min_length=1)
    months: NonNegative = 12.0
    min_rate: Finite = 0.001
    name: str = ""


Criterion = Annotated[ThresholdCriterion | GrowingCriterion, Field(discriminator="type")]


class OutcomeTable(Schema):
    name: str = Field(min_length=1)
    variable: str = Field(min_length=1)
    stat: Literal["max", "min", "final", "mean", "mean_last"] = "max"
    months: Positive = 12.0


class OptimiseTable(Schema):
    population: Annotated[int, Field(ge=4)] = 24
    generations: PositiveInt = 10
    ensemble: PositiveInt = 32
    robustness: Literal["p90", "mean"] = "p90"
    short_run: Positive = 24.0


class ExploreSpecFile(Schema):
    """An exploration spec file."""

    model: str = Field(min_length=1)
    title: str = ""
    description: str = ""
    runs: PositiveInt = 256
    design: str = "lhs"
    seed: Seed = 1
    chunk: PositiveInt = 64
    start: Finite | None = None
    stop: Finite | None = None
    time_step: Positive | None = None
    saveper: Positive | None = None
    scenario: str | None = None
    uncertainties: dict[str, Range | str] = Field(default_factory=dict)
    levers: dict[str, Range | LeverTable] = Field(default_factory=dict)
    criteria: list[Criterion] = Field(default_factory=list)
    outcomes: list[OutcomeTable] = Field(default_factory=list)
    optimise: OptimiseTable = Field(default_factory=OptimiseTable)
    costs: dict[str, Finite] = Field(default_factory=dict)

    @field_validator("stop")
    @classmethod
    def _after_start(cls, stop: float | None, info: ValidationInfo) -> float | None:
        start = info.data.get("start")
        if stop is not None and start is not None and stop <= start:
            raise ValueError(f"a stop after start ({start:g})")
        return stop

    @field_validator("uncertainties")
    @classmethod
    def _ranges(cls, table: dict[str, list[float] | str]) -> dict[str, list[float] | str]:
        for name, value in table.items():
            if isinstance(value, str) and name != "posterior":
                raise ValueError(f"{name!r} to be a range [low, high] (only `posterior` names "
                                 "a folder)")
        return table
