"""One equation of one cell lowered: a lookup table, a data variable, a stock (its flow and
initial value), an ACTIVE INITIAL or an auxiliary (a constant is a parameter a user may set)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from carespiral.pysd_runner.batch.program import Aux, State

if TYPE_CHECKING:  # pragma: no cover
    from carespiral.pysd_runner.batch.expressions import _Lowerer

__all__ = ["_kind", "_lower_element"]


def _kind(comp: object) -> str:
    from pysd.translators.structures import abstract_model as amod

    if isinstance(comp, amod.AbstractLookup):
        return "lookup"
    if isinstance(comp, amod.AbstractData):
        return "data"
    if type(comp.ast).__name__ == "IntegStructure":  # type: ignore[attr-defined]
        return "stock"
    return "aux"


def _cell_value(low: _Lowerer, comp: object, k: int) -> object:
    """A component's expression for its k-th cell: one number of an array of constants."""
    from pysd.translators.structures import abstract_expressions as ae

    ast = comp.ast  # type: ignore[attr-defined]
    if isinstance(ast, ae.GetConstantsStructure):  # read from its file, one number per cell
        shape_of = [low.subs.elements_of(s) for s in comp.subscripts[0]]  # type: ignore[attr-defined]
        return low.external.value(ast, shape_of, k, low.var)
    if type(ast).__module__ == "numpy" and np.ndim(ast) > 0:
        arr = np.asarray(ast, dtype=float)
        size = math.prod(len(low.subs.elements_of(s)) for s in comp.subscripts[0])  # type: ignore[attr-defined]
        if arr.size != size:
            raise low.refuse(f"an array of {arr.size} numbers for {size} elements")
        return float(arr.reshape(-1)[k])
    return ast


def _lower_element(low: _Lowerer, el: object, comp: object, k: int, nid: str, clean: str,
                   vname: str, limits: dict[str, tuple[float | None, float | None]]) -> None:
    from pysd.translators.structures import abstract_expressions as ae
    from pysd.translators.structures import abstract_model as amod

    kind = _kind(comp)  # cells of one variable may differ (GET DIRECT CONSTANTS and DATA)
    ast = _cell_value(low, comp, k)
    if isinstance(ast, ae.GetDataStructure) and low.external.missing(ast):  # type: ignore[union-attr]
        # a series whose file is absent: a data variable, given as a time input
        low.aux[nid] = Aux(nid, "NAN", set(), vensim=vname, is_data=True)
        return
    if isinstance(ast, (ae.GetLookupsStructure, ae.GetDataStructure)):
        x, y = low.external.series(ast, [low.subs.elements_of(s) for s in comp.subscripts[0]],  # type: ignore[union-attr, attr-defined]
                                   k, vname)
        if kind == "lookup":
            ast = ae.LookupsStructure(x, y, (min(x), max(x)), (min(y), max(y)), "interpolate")
        else:  # a data series: a table of time, read with the equation's interpolation
            how = getattr(comp, "keyword", None) or "interpolate"
            lk = low.lookup_table(ae.LookupsStructure(x, y, (0, 0), (0, 0), how), vname)
            low.aux[nid] = Aux(nid, low.lookup_call(lk, "time"), {"time"}, vensim=vname)
            return
    if kind == "lookup":
        if not isinstance(ast, ae.LookupsStructure):
            raise low.refuse(type(ast).__name__.replace("Structure", ""))
        lk = low.lookup_table(ast, vname)
        # the lookup is addressed by its own id from calls
        del low.lookups[lk.id]
        lk.id = nid
        low.lookups[nid] = lk
        return
    if kind == "data":
        low.aux[nid] = Aux(nid, "NAN", set(), vensim=vname, is_data=True)
        return
    if kind == "stock":
        fdeps: set[str] = set()
        flow = low.expr(ast.flow, fdeps)
        ideps: set[str] = set()
        init = low.expr(ast.initial, ideps)
        dd = f"{nid}__flow"
        low.used.add(dd)
        low.aux[dd] = Aux(dd, flow, fdeps)
        lower = limits[vname][0]
        low.states[nid] = State(nid, init, ideps, ddt=dd, vensim=vname,
                                lower_limit=None if lower is None else float(lower))
        if getattr(ast, "non_negative", False):
            raise low.refuse("a non-negative stock (XMILE non_negative)")
        return
    if isinstance(ast, ae.CallStructure) and ast.function.reference == "active_initial":
        if len(ast.arguments) != 2:
            raise low.refuse("ACTIVE INITIAL with a wrong number of arguments")
        d1: set[str] = set()
        d2: set[str] = set()
        code = low.expr(ast.arguments[0], d1)
        icode = low.expr(ast.arguments[1], d2)
        low.aux[nid] = Aux(nid, code, d1, init_code=icode, init_deps=d2, vensim=vname)
        return
    d: set[str] = set()
    code = low.expr(ast, d)
    is_const = (isinstance(ast, (int, float)) or type(ast).__module__ == "numpy") and \
        not isinstance(comp, amod.AbstractUnchangeableConstant)
    low.aux[nid] = Aux(nid, code, d, vensim=vname, is_constant=is_const)
