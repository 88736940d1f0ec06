"""Typed descriptions of a model's variables, read from PySD's translation."""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Parameter", "Variable"]

CONTROL_NAMES = ("INITIAL TIME", "FINAL TIME", "TIME STEP", "SAVEPER")


@dataclass(frozen=True)
class Variable:
    """One model variable: its Vensim and Python names, kind, units and documentation."""

    name: str
    py_name: str
    kind: str  # stock, flow, auxiliary, constant, lookup, control
    units: str
    description: str
    lower: float = -math.inf
    upper: float = math.inf


@dataclass(frozen=True)
class Parameter:
    """A constant a user may change: default value, units and the bounds the model declares."""

    name: str
    py_name: str
    units: str
    default: float
    lower: float
    upper: float
    description: str

    def check(self, value: float) -> None:
        """Raise ValueOutOfBoundsError when `value` lies outside the declared bounds."""
        from carespiral.errors import ValueOutOfBoundsError

        if not math.isfinite(value):
            raise ValueOutOfBoundsError(f"{self.name} = {value}: expected a finite number")
        if value < self.lower or value > self.upper:
            raise ValueOutOfBoundsError(
                f"{self.name} = {value:g} is outside its bounds {self.bounds_text()} {self.units}"
                f" (default {self.default:g})"
            )

    def bounds_text(self) -> str:
        lo = "-inf" if self.lower == -math.inf else f"{self.lower:g}"
        hi = "inf" if self.upper == math.inf else f"{self.upper:g}"
        return f"[{lo}, {hi}]"
