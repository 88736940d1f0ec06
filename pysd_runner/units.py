"""Dimensional consistency of a Vensim model, checked by the Simlin engine.

PySD has no units check. Rather than write a units algebra, this module asks Simlin (PyPI
`pysimlin`), which reads `.mdl` files and infers and checks units for every equation, stock and
flow, and turns its unit diagnostics into findings: the variable (by its Vensim name), what was
wrong, and the two units that disagree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from carespiral.errors import FileFormatError
from carespiral.pysd_runner.mdl_text import read_mdl
from carespiral.pysd_runner.names import simlin_name

__all__ = ["UnitFinding", "check_units"]


@dataclass(frozen=True)
class UnitFinding:
    """One unit disagreement: in `variable`, `left` and `right` should agree but do not."""

    variable: str
    problem: str
    left: str | None = None
    right: str | None = None
    equation: str | None = None

    def __str__(self) -> str:
        units = f" ({self.left} vs {self.right})" if self.left and self.right else ""
        return f"{self.variable}: {self.problem}{units}"


def check_units(mdl_path: str | Path) -> list[UnitFinding]:
    """Every equation of the model whose sides or terms disagree in units (empty if none)."""
    path = Path(mdl_path)
    if not path.is_file():
        raise FileFormatError(path, "no such model file", hint="give a path to a Vensim .mdl file")
    read_mdl(path)  # an empty or binary file is an error, not a model without findings
    # read as carespiral reads it: a malformed equation or units field, or equations that
    # cannot be computed (simultaneous), is an error naming the line or the variables
    from carespiral.pysd_runner.abstract import parse_model
    from carespiral.pysd_runner.diagnostics import check_simultaneous

    check_simultaneous(parse_model(path).abstract, path)
    import simlin  # pysimlin, a core dependency; imported here because it is heavy
    from simlin.errors import ErrorKind

    try:
        model = simlin.load(path)
        errors = model.project.get_errors()
    except simlin.SimlinError as exc:
        raise FileFormatError(path, f"Simlin cannot read the model: {exc}") from None

    names = _vensim_names(path)
    unit_errors = [e for e in errors if e.kind == ErrorKind.UNITS]
    # Simlin adds one summary per group of related problems, without a variable; keep the
    # per-variable findings and fall back to the summaries only if there are none.
    specific = [e for e in unit_errors if e.variable_name]
    chosen = specific or unit_errors
    findings = []
    for e in chosen:
        detail = e.details or e.message
        left, right = _two_units(detail)
        variable = names.get(simlin_name(e.variable_name or ""), e.variable_name or "(model)")
        equation = _equation_line(e.message)
        findings.append(UnitFinding(variable, _clean(detail), left, right, equation))
    return sorted(set(findings), key=lambda f: (f.variable, f.problem))


_PATTERNS = (
    re.compile(r"computes to units '([^']*)', but the variable's specified units are '([^']*)'"),
    re.compile(r"but '([^']*)' and '([^']*)' don't"),
    re.compile(r"expected units '([^']*)' to match .*\(([^()]*)\)\s*$"),
)


def _two_units(detail: str) -> tuple[str | None, str | None]:
    """The two units a Simlin message compares, if it names two."""
    text = " ".join(detail.split())
    for pattern in _PATTERNS:
        m = pattern.search(text)
        if m:
            return m.group(1), m.group(2)
    return None, None


def _equation_line(message: str) -> str | None:
    """Simlin quotes the offending equation on the first line of its message."""
    first = message.strip().splitlines()[0].strip() if message.strip() else ""
    return None if not first or "units" in first else first


def _clean(detail: str) -> str:
    return re.sub(r"^unit_mismatch -- ", "", " ".join(detail.split()))


def _vensim_names(path: Path) -> dict[str, str]:
    """Vensim names of the model's variables by Simlin's canonical form (lower case, '_')."""
    text = path.read_text(encoding="utf-8", errors="replace")
    body = text.split("\\\\\\---///")[0]
    out: dict[str, str] = {}
    for chunk in body.split("|"):
        head = chunk.strip().split("~")[0]
        m = re.match(r"\s*(?:\{UTF-8\}\s*)?([^=(\n][^=\n]*?)\s*(?:=|\(|$)", head)
        if m:
            name = " ".join(m.group(1).replace("\\\n", " ").split())
            if name and not name.startswith("*"):
                out[simlin_name(name)] = name
    return out

