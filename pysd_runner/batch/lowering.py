"""Lower PySD's abstract model into a flat program: auxiliaries, states and their derivatives.

PySD's translators turn a Vensim or XMILE file into an *abstract model* (dataclasses from
`pysd.translators.structures`). `lower_file` walks that structure once and produces a `Program`
(`program`): every cell of every element is given an identifier first, so references resolve in
any order, then each equation is lowered (`elements`, `expressions`).

Built-in stateful functions (SMOOTH, DELAY, TREND, FORECAST, ...) become hidden states, exactly
as PySD builds them (`stateful`), so that the same floating-point operations happen in the same
order. Every construct not listed in `expressions.SUPPORTED` is refused, naming the construct and
the variable.
"""

from __future__ import annotations

from pathlib import Path

from carespiral.errors import CarespiralError, FileFormatError
from carespiral.pysd_runner.batch.elements import _kind, _lower_element
from carespiral.pysd_runner.batch.expressions import _Lowerer
from carespiral.pysd_runner.batch.external_data import ExternalData
from carespiral.pysd_runner.batch.program import (
    CONTROL,
    Aux,
    Lookup,
    Program,
    State,
    UnsupportedConstructError,
    _ident,
)
from carespiral.pysd_runner.batch.subscripts import Binding, Subscripts, cell_name

__all__ = ["Aux", "Lookup", "Program", "State", "UnsupportedConstructError", "lower_file"]


def lower_file(path: str | Path) -> Program:
    """Parse a Vensim `.mdl` (or XMILE) file with PySD's translator and lower it."""
    path = Path(path)
    if not path.is_file():
        raise CarespiralError(f"model file {path} does not exist")
    try:
        am = _parse(path)
    except CarespiralError:
        raise
    except Exception as exc:  # PySD's parsers raise many kinds; the file is the problem
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FileFormatError(path, f"PySD's translator cannot read it: {first}",
                              hint="check the equation's syntax") from None
    return _lower_model(am, path)


def _parse(path: Path) -> object:
    import copy

    from carespiral.pysd_runner.abstract import abstract_model  # one parse per file version

    if path.suffix.lower() not in (".mdl", ".xmile", ".xml", ".stmx"):
        raise CarespiralError(f"{path}: not a Vensim .mdl or XMILE file")
    return copy.deepcopy(abstract_model(path))  # the shared abstract model stays as parsed



def _cells(low: _Lowerer, el: object) -> dict[tuple[str, ...], tuple[object, Binding, int]]:
    """Every cell an element defines: cell -> (component, binding, index in the component)."""
    out: dict[tuple[str, ...], tuple[object, Binding, int]] = {}
    for comp in el.components:  # type: ignore[attr-defined]
        lhs, excepts = comp.subscripts
        skip: set[tuple[str, ...]] = set()
        try:
            for ex in excepts or []:
                skip.update(low.subs.expand(ex))
            bound = low.subs.bindings(lhs)
        except KeyError as exc:
            raise low.refuse(f"an unknown subscript {exc}") from None
        for k, (cell, bind) in enumerate(bound):
            if cell not in skip:
                out[cell] = (comp, bind, k)
    return out


def _lower_model(am: object, path: Path) -> Program:
    from pysd.builders.python.namespace import NamespaceManager

    sections = am.sections  # type: ignore[attr-defined]
    main = [s for s in sections if s.type == "main"]
    if not main:
        raise CarespiralError(f"{path}: the model has no main section")
    section = main[0]
    low = _Lowerer(path)
    low.external = ExternalData(am, path)  # GET ... CONSTANTS, LOOKUPS, DATA: read on first use
    try:
        low.subs = Subscripts.from_abstract(section.subscripts)
    except ValueError as exc:
        raise UnsupportedConstructError(str(exc).split(" ", 2)[2], str(exc).split("'")[1],
                                        path) from None
    low.macros = {s.name: s for s in sections if s.type == "macro"}
    names: dict[str, str] = {}
    units: dict[str, str] = {}
    limits: dict[str, tuple[float | None, float | None]] = {}
    groups: dict[str, list[str]] = {}
    ns = NamespaceManager()
    py_names: dict[str, str] = {}
    elements = list(section.elements)
    plan: list[tuple[object, str, dict]] = []
    # first pass: identifiers and kinds of every cell, so references resolve in any order
    for el in elements:
        low.var = el.name
        clean = el.name.lower().replace(" ", "_")
        cells = _cells(low, el)
        kinds = {_kind(c) for c, _, _ in cells.values()}
        if len(kinds) != 1 and "lookup" in kinds:
            raise low.refuse("a mix of lookup tables and other equations by element")
        # each cell is lowered by its own equation's kind; references only tell lookups apart
        low.kind_of[clean] = kinds.pop() if len(kinds) == 1 else "aux"
        lo, hi = (*tuple(el.limits), None, None)[:2] if el.limits else (None, None)
        low.cells[clean] = {}
        for cell in cells:
            vname = cell_name(el.name, cell)
            nid = _ident(clean + ("_" + "_".join(cell) if cell else ""), low.used)
            low.cells[clean][cell] = nid
            names[vname] = nid
            units[vname] = el.units or ""
            limits[vname] = (lo, hi)
        if () in cells:
            low.clean[clean] = low.cells[clean][()]
        else:
            groups[el.name] = [cell_name(el.name, c) for c in cells]
        py_names[ns.make_python_identifier(el.name, add_to_namespace=True)] = el.name
        plan.append((el, clean, cells))
    # second pass: equations (lookup tables first, so calls can find them)
    plan.sort(key=lambda item: low.kind_of[item[1]] != "lookup")
    for el, clean, cells in plan:
        for cell, (comp, bind, k) in cells.items():
            low.var = cell_name(el.name, cell)  # type: ignore[attr-defined]
            low.bind = bind
            _lower_element(low, el, comp, k, low.cells[clean][cell], clean, low.var, limits)
        low.bind = Binding()
        for st in low.states.values():
            st.owner = st.owner or el.name  # type: ignore[attr-defined]
    control: dict[str, str] = {}
    by_clean = {v.lower().replace("_", " "): nid for v, nid in names.items()}
    for key, vname in CONTROL.items():  # Vensim reads "INITIAL_TIME" as "INITIAL TIME"
        if vname.lower() not in by_clean:
            raise CarespiralError(f"{path}: the model does not define {vname}")
        control[key] = by_clean[vname.lower()]
    low.control = control
    for build in low.finishers:
        build()
    # the reference `time_step` inside equations reads the TIME STEP node
    files = tuple(sorted({str(f) for f in low.external.sources.values()}))
    return Program(path, low.aux, low.states, low.lookups, names, py_names, units, limits,
                   control, groups, files)
