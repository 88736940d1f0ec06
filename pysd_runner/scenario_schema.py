"""The declared shape of a scenario file (see `scenario.py` for the format).

    title = "Demand surge"
    [params]
    "Referral Rate" = 300
    [[inputs]]
    name = "Referral Rate"
    type = "pulse"        # step | pulse | ramp | table
    height = 100
    start = 60
    duration = 12         # months, above 0
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from carespiral.schema import Finite, Positive, Schema

__all__ = ["ScenarioFile"]


class _Input(Schema):
    name: str = Field(min_length=1)


class StepInput(_Input):
    type: Literal["step"]
    height: Finite
    start: Finite
    base: Finite | None = None


class PulseInput(_Input):
    type: Literal["pulse"]
    height: Finite
    start: Finite
    duration: Positive
    base: Finite | None = None


class RampInput(_Input):
    type: Literal["ramp"]
    slope: Finite
    start: Finite
    end: Finite | None = None
    base: Finite | None = None

    @model_validator(mode="after")
    def _ends_after_start(self) -> RampInput:
        if self.end is not None and self.end <= self.start:
            raise ValueError(f"end ({self.end:g}) after start ({self.start:g})")
        return self


class TableInput(_Input):
    type: Literal["table"]
    times: list[Finite] = Field(min_length=1)
    values: list[Finite] = Field(min_length=1)

    @model_validator(mode="after")
    def _matching(self) -> TableInput:
        if len(self.times) != len(self.values):
            raise ValueError(f"as many values as times ({len(self.values)} values for "
                             f"{len(self.times)} times)")
        if any(b <= a for a, b in zip(self.times, self.times[1:], strict=False)):
            raise ValueError("times that increase")
        return self


Input = Annotated[StepInput | PulseInput | RampInput | TableInput, Field(discriminator="type")]


class ScenarioFile(Schema):
    """A scenario: a title, constant overrides and time-varying inputs."""

    title: str = ""
    description: str = ""
    params: dict[str, Finite] = Field(default_factory=dict)
    inputs: list[Input] = Field(default_factory=list)
