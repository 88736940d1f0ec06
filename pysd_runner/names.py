"""The one rule for matching variable names, whoever wrote them.

A variable may be named by its Vensim name (`"Funded Establishment"`, quoted or not, any case,
any spacing), by PySD's Python name (`funded_establishment`) or by Simlin's canonical form
(`funded_establishment`). Two names refer to the same variable when their `normalise` forms are
equal: lower case, surrounding double quotes dropped, runs of spaces and underscores made one
space.
"""

from __future__ import annotations

import re

__all__ = ["normalise", "simlin_name"]

_SEPARATORS = re.compile(r"[\s_]+")


def normalise(name: object) -> str:
    """The form two names of the same variable share."""
    text = str(name).strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1]
    return _SEPARATORS.sub(" ", text.lower()).strip()


def simlin_name(name: object) -> str:
    """Simlin's canonical form of a variable name (the normalised name with underscores)."""
    return normalise(name).replace(" ", "_")
