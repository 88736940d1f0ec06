"""The one rule for matching variable names, whoever wrote them.

A variable may be named by its Vensim name (`"Funded Establishment"`, quoted or not, any case,
any spacing), by PySD's Python name (`funded_establishment`) or by Simlin's canonical form
(`funded_establishment`). Two names refer to the same variable when their `normalise` forms are
equal: lower case, surrounding double quotes dropped, runs of spaces and underscores made one
space, no spaces around the brackets and commas of a subscripted cell (`Stock[a,b]`).
"""

from __future__ import annotations

import re

__all__ = ["normalise", "simlin_name"]

_SEPARATORS = re.compile(r"[\s_]+")
_CELL = re.compile(r"\s*([\[\],])\s*")


def normalise(name: object) -> str:
    """The form two names of the same variable (or subscripted cell) share."""
    key = _SEPARATORS.sub(" ", str(name).strip().strip('"').lower()).strip()
    return _CELL.sub(r"\1", key)  # "Stock[ a, b ]" is "Stock[a,b]"


def simlin_name(name: object) -> str:
    """Simlin's canonical form of a variable name (the normalised name with underscores)."""
    return normalise(name).replace(" ", "_")
