"""Derive a subscripted every-area model from a single-area Vensim model.

`subscript_by_area(text, areas)` rewrites a single-area `.mdl` so that every variable (stocks,
flows, auxiliaries and constants) has one element per area: `X = ...` becomes `X[Area] = ...`
and every reference to a variable in an equation reads the same area's element (`X[Area]`).
Lookup tables (graphical functions of the model's shape) and the control variables (INITIAL
TIME, FINAL TIME, TIME STEP, SAVEPER) stay shared. Constants keep their single-area value as the
default of every area, so each area's own value is a per-element parameter of a batch
(`"Child Population[Haringey]"`), and each area's drivers over time are per-element time inputs.
The sketch is dropped: the generated model is for running, not drawing.

The rewrite is textual (so the equations stay as the modeller wrote them) and is guided by PySD's
parse of the file: which names are variables, lookups or control variables.
`python -m carespiral.pysd_runner.batch.all_areas SINGLE.mdl AREAS.txt OUT.mdl` writes one
(AREAS.txt: one area name a line); `scripts/generate_all_areas_model.py` makes the committed
`models/generated/collapse_spiral_all_areas.mdl` from the project's list of authorities.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path

from carespiral.errors import CarespiralError

__all__ = ["element_name", "subscript_by_area"]

DIMENSION = "Area"
CONTROL = {"initial time", "final time", "time step", "saveper"}
SKETCH = "\\\\\\---///"


def element_name(area: str) -> str:
    """A Vensim subscript element for an area name: letters, digits and single spaces
    ("Bristol, City of" -> "Bristol City of", "St. Helens" -> "St Helens")."""
    return " ".join(re.sub(r"[^0-9A-Za-z]+", " ", area).split())


def _key(name: str) -> str:
    return " ".join(name.replace("_", " ").lower().split())


def _kinds(path: Path) -> tuple[set[str], set[str]]:
    """Variable names and lookup names of the model, from PySD's parse."""
    from pysd.translators.structures import abstract_model as amod

    from carespiral.pysd_runner.batch.lowering import _parse

    am = _parse(path)
    variables: set[str] = set()
    lookups: set[str] = set()
    for section in am.sections:  # type: ignore[attr-defined]
        if section.type != "main":
            raise CarespiralError(f"{path}: macros are not supported by the area generator")
        if section.subscripts:
            raise CarespiralError(f"{path}: the model is already subscripted")
        for el in section.elements:
            comp = el.components[0]
            if isinstance(comp, amod.AbstractData):
                raise CarespiralError(f"{path}: data variable {el.name!r}; give drivers as "
                                      "constants or lookups of the single-area model")
            (lookups if isinstance(comp, amod.AbstractLookup) else variables).add(el.name)
    return {v for v in variables if _key(v) not in CONTROL}, lookups


def _name_pattern(names: Sequence[str]) -> re.Pattern[str]:
    # longest first, so "Social Workers Leaving" wins over "Social Workers"; spaces and
    # underscores are the same in Vensim; a name followed by "(" or "[" is not a plain reference
    parts = [r"[\s_]+".join(re.escape(w) for w in n.split()) for n in
             sorted(names, key=len, reverse=True)]
    return re.compile(r"(?<![\w\"])(" + "|".join(parts) + r")(?![\w\"])(?!\s*[\(\[])",
                      re.IGNORECASE)


def subscript_by_area(path: str | Path, areas: Sequence[str]) -> str:
    """The text of the every-area model derived from the single-area model at `path`."""
    path = Path(path)
    elements = [element_name(a) for a in areas]
    if not elements or len(set(map(str.lower, elements))) != len(elements):
        raise CarespiralError("the areas must be given, with distinct names")
    variables, _lookups = _kinds(path)
    by_key = {_key(v) for v in variables}
    pattern = _name_pattern(sorted(variables))
    text = path.read_text(encoding="utf-8")
    body = text.split(SKETCH, 1)[0]
    if body.startswith("{UTF-8}"):
        body = body[len("{UTF-8}"):]
    out = ["{UTF-8}", f"{DIMENSION}:"]
    out.append("\t" + ",\n\t".join(elements))
    out += ["\t~\t", f"\t~\tOne element per area, generated from {path.name} by "
            "carespiral.pysd_runner.batch.all_areas; do not edit by hand.", "\t|", ""]
    for block in re.split(r"(?<=\|)\n", body):
        head, sep, rest = block.partition("~")
        m = re.match(r"(\s*)([^=(\[~]*?)(\s*)(=|\()", head, re.DOTALL)
        if not sep or m is None or m.group(4) != "=" or _key(m.group(2)) not in by_key:
            out.append(block.strip("\n"))  # lookups, control variables, group headers
            continue
        lhs = m.group(2)
        equation = head[m.end():]
        equation = pattern.sub(lambda r: f"{r.group(1)}[{DIMENSION}]", equation)
        out.append(f"{m.group(1)}{lhs}[{DIMENSION}]{m.group(3)}={equation}{sep}{rest}"
                   .strip("\n"))
    return "\n\n".join(out).rstrip() + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 3:
        print("usage: python -m carespiral.pysd_runner.batch.all_areas SINGLE.mdl AREAS.txt "
              "OUT.mdl", file=sys.stderr)
        return 2
    try:
        areas = [a.strip() for a in Path(args[1]).read_text(encoding="utf-8").splitlines()
                 if a.strip()]
        text = subscript_by_area(args[0], areas)
    except (CarespiralError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    Path(args[2]).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
