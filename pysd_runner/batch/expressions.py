"""Vensim expressions lowered to numpy expressions: operators, functions, references to cells,
lookup tables, vector functions and macros.

`_Lowerer` holds the tables being built (auxiliaries, states, lookups) while a model is lowered
(`lowering`); each `expr` call returns the Python source of a numpy expression and adds the nodes
it reads to `deps`. Stateful built-ins come from `stateful.StatefulBuiltins`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from carespiral.pysd_runner.batch.allocation import (
    lower_allocate_available,
    lower_allocate_by_priority,
)
from carespiral.pysd_runner.batch.elements import _kind, _lower_element
from carespiral.pysd_runner.batch.matrix import lower_invert_matrix
from carespiral.pysd_runner.batch.program import (
    RANDOM_RUN,
    RANDOM_SEED,
    Aux,
    Lookup,
    State,
    UnsupportedConstructError,
    _ident,
)
from carespiral.pysd_runner.batch.random_streams import site_id
from carespiral.pysd_runner.batch.stateful import StatefulBuiltins
from carespiral.pysd_runner.batch.subscripts import Binding, Subscripts, cell_name
from carespiral.pysd_runner.batch.vectors import VECTOR_FUNCS, lower_vector

if TYPE_CHECKING:  # pragma: no cover
    from carespiral.pysd_runner.batch.external_data import ExternalData

__all__ = ["SUPPORTED", "_Lowerer"]

# Vensim/XMILE functions with a direct vectorised translation: name -> (arity, template).
_FUNCS: dict[str, tuple[tuple[int, ...], str]] = {
    "abs": ((1,), "np.abs({0})"),
    "min": ((2,), "np.minimum({0}, {1})"),
    "max": ((2,), "np.maximum({0}, {1})"),
    "exp": ((1,), "np.exp({0})"),
    "ln": ((1,), "np.log({0})"),
    "log": ((2,), "(np.log({0})/np.log({1}))"),
    "sqrt": ((1,), "np.sqrt({0})"),
    "sin": ((1,), "np.sin({0})"),
    "cos": ((1,), "np.cos({0})"),
    "tan": ((1,), "np.tan({0})"),
    "arcsin": ((1,), "np.arcsin({0})"),
    "arccos": ((1,), "np.arccos({0})"),
    "arctan": ((1,), "np.arctan({0})"),
    "sinh": ((1,), "np.sinh({0})"),
    "cosh": ((1,), "np.cosh({0})"),
    "tanh": ((1,), "np.tanh({0})"),
    "power": ((2,), "np.power({0}, {1})"),
    "integer": ((1,), "np.trunc({0})"),
    "modulo": ((2,), "rt.modulo({0}, {1})"),
    "quantum": ((2,), "rt.quantum({0}, {1})"),
    "xidz": ((3,), "rt.xidz({0}, {1}, {2})"),
    "zidz": ((2,), "rt.zidz({0}, {1})"),
    "if_then_else": ((3,), "np.where({0}, {1}, {2})"),
    "step": ((2,), "rt.step(time, time_step, {0}, {1})"),
    "pulse": ((2,), "rt.pulse(time, time_step, {0}, {1})"),
    "pulse_train": ((4,), "rt.pulse_train(time, {0}, {1}, {2}, {3})"),
    "ramp": ((2, 3), "rt.ramp(time, {0}, {1}, {2})"),
    "Xramp": ((2,), "rt.ramp(time, {0}, {1}, None)"),
    "pi": ((0,), "np.pi"),
}

# RANDOM functions (PySD's set) and their arity, the call's seed last
_RANDOM = {"random_0_1": 0, "random_uniform": 3, "random_normal": 5, "random_exponential": 5}

_OPS = {"^": "np.power({0}, {1})", "*": "({0} * {1})", "/": "({0} / {1})", "+": "({0} + {1})",
        "-": "({0} - {1})", "=": "({0} == {1})", "<>": "({0} != {1})", ">=": "({0} >= {1})",
        ">": "({0} > {1})", "<=": "({0} <= {1})", "<": "({0} < {1})",
        ":AND:": "np.logical_and({0}, {1})", ":OR:": "np.logical_or({0}, {1})"}

SUPPORTED = sorted(
    [k.upper().replace("_", " ") for k in _FUNCS if not k.startswith("X")]
    + ["INTEG", "INITIAL", "ACTIVE INITIAL", "SMOOTH", "SMOOTHI", "SMOOTH3", "SMOOTH3I",
       "SMOOTH N", "DELAY1", "DELAY1I", "DELAY3", "DELAY3I", "DELAY N", "DELAY FIXED", "TREND",
       "FORECAST", "SAMPLE IF TRUE", "RANDOM 0 1", "RANDOM UNIFORM", "RANDOM NORMAL",
       "RANDOM EXPONENTIAL", "ALLOCATE BY PRIORITY", "ALLOCATE AVAILABLE", "INVERT MATRIX",
       "WITH LOOKUP", "lookup tables", "Time", "data (as inputs)"]
)


def _is_number(ast: object) -> bool:
    return not isinstance(ast, bool) and (
        isinstance(ast, (int, float)) or type(ast).__module__ == "numpy")


def _is_negation(ast: object) -> bool:
    # The parser folds "-2" into the number -2, so "-2^2" arrives as (-2)^2; Vensim reads it
    # as -(2^2), as does Python for PySD's "-2**2". A negated reference keeps its structure.
    return _is_number(ast) and float(ast) < 0  # type: ignore[arg-type]


def _num(v: float) -> str:
    f = float(v)
    if math.isnan(f):
        return "NAN"
    if math.isinf(f):
        return "INF" if f > 0 else "(-INF)"
    return repr(f)

class _Lowerer(StatefulBuiltins):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.aux: dict[str, Aux] = {}
        self.states: dict[str, State] = {}
        self.lookups: dict[str, Lookup] = {}
        self.used: set[str] = {"time", "time_step", "np", "rt", "NAN", "INF"}
        self.clean: dict[str, str] = {}  # clean reference name -> node id
        self.kind_of: dict[str, str] = {}  # clean name -> element kind
        self.var = ""  # Vensim name of the element being lowered (for errors)
        self.nhidden = 0
        self.finishers: list = []  # built once every element is lowered
        self.subs = Subscripts()
        self.bind = Binding()  # elements bound while lowering one cell
        self.cells: dict[str, dict[tuple[str, ...], str]] = {}  # clean name -> cell -> node
        self.macros: dict[str, object] = {}  # macro name -> its section
        self.control: dict[str, str] = {}
        self.random_calls: dict[str, int] = {}  # RANDOM calls lowered so far, per variable
        self.vector_ranks: dict[tuple[str, ...], list[str]] = {}  # vector -> rank nodes
        # allocations and matrix inverses made once per vector: its arguments -> result nodes
        self.vector_solutions: dict[tuple[str, ...], list[str]] = {}
        self.external: ExternalData | None = None  # the GET ... equations of the model

    def refuse(self, construct: str, hint: str = "") -> UnsupportedConstructError:
        return UnsupportedConstructError(construct, self.var, self.path, hint)

    # ---- expressions ------------------------------------------------------------------------

    def expr(self, ast: object, deps: set[str]) -> str:
        from pysd.translators.structures import abstract_expressions as ae

        if isinstance(ast, bool):
            return "1.0" if ast else "0.0"
        if isinstance(ast, (int, float)) or type(ast).__module__ == "numpy":
            return _num(ast)  # type: ignore[arg-type]
        if isinstance(ast, str):
            raise self.refuse(f"a string argument ({ast!r})")
        if isinstance(ast, ae.ReferenceStructure):
            if ast.reference in self.macros and ast.subscripts is None:
                return self.macro_call(ast.reference, (), deps)
            return self.ref(ast.reference, deps, ast.subscripts)
        if isinstance(ast, (ae.ArithmeticStructure, ae.LogicStructure)):
            ops = list(ast.operators)
            args = [self.expr(a, deps) for a in ast.arguments]
            if len(args) == 1:
                if ops[0] == "negative":
                    return f"(-{args[0]})"
                if ops[0] == ":NOT:":
                    return f"np.logical_not({args[0]})"
                if ops[0] == "+":
                    return args[0]
                raise self.refuse(f"the operator {ops[0]!r}")
            if ops[0] == "^" and _is_negation(ast.arguments[0]):
                # Vensim (and Python) read -a^b as -(a^b): the minus binds after the power
                args[0] = _num(-float(ast.arguments[0]))  # type: ignore[arg-type]
                out = args[0]
                for op, arg in zip(ops, args[1:], strict=True):
                    out = _OPS[op].format(out, arg) if op in _OPS else out
                return f"(-{out})"
            for op in ops:
                if op not in _OPS:
                    raise self.refuse(f"the operator {op!r}")
            if ops[0] in (":AND:", ":OR:"):
                # PySD nests chained :AND:/:OR: from the right: a AND (b OR c); so do we
                out = args[-1]
                for op, arg in zip(reversed(ops), reversed(args[:-1]), strict=True):
                    out = _OPS[op].format(arg, out)
                return out
            if set(ops) == {"^"}:  # a^b^c is a^(b^c) in Vensim, as ** in PySD's Python
                out = args[-1]
                for arg in reversed(args[:-1]):
                    out = _OPS["^"].format(arg, out)
                return out
            out = args[0]
            for op, arg in zip(ops, args[1:], strict=True):
                out = _OPS[op].format(out, arg)  # left-associative, as Python evaluates PySD's
            return out
        if isinstance(ast, ae.CallStructure):
            return self.call(ast, deps)
        if isinstance(ast, ae.InlineLookupsStructure):
            lk = self.lookup_table(ast.lookups, f"{self.var} (WITH LOOKUP)")
            return self.lookup_call(lk, self.expr(ast.argument, deps))
        if isinstance(ast, ae.GameStructure):
            return self.expr(ast.expression, deps)
        if isinstance(ast, ae.InitialStructure):
            return self.initial(ast.initial, deps)
        if isinstance(ast, ae.IntegStructure):
            raise self.refuse("INTEG inside an expression", "write the stock as its own variable")
        if isinstance(ast, ae.DelayStructure):
            return self.delay(ast.input, ast.delay_time, ast.initial, int(ast.order), deps,
                              lower_order=False)
        if isinstance(ast, ae.DelayNStructure):
            if _is_number(ast.order):
                return self.delay(ast.input, ast.delay_time, ast.initial,
                                  self.const_int(ast.order, "DELAY N order"), deps,
                                  lower_order=True)
            return self.variable_order("delay", ast, ast.delay_time, deps)
        if isinstance(ast, ae.DelayFixedStructure):
            return self.delay_fixed(ast, deps)
        if isinstance(ast, ae.SmoothStructure):
            return self.smooth(ast.input, ast.smooth_time, ast.initial, int(ast.order), deps)
        if isinstance(ast, ae.SmoothNStructure):
            if _is_number(ast.order):
                return self.smooth(ast.input, ast.smooth_time, ast.initial,
                                   self.const_int(ast.order, "SMOOTH N order"), deps)
            return self.variable_order("smooth", ast, ast.smooth_time, deps)
        if isinstance(ast, ae.TrendStructure):
            return self.trend(ast, deps)
        if isinstance(ast, ae.ForecastStructure):
            return self.forecast(ast, deps)
        if isinstance(ast, ae.SampleIfTrueStructure):
            return self.sample_if_true(ast, deps)
        if isinstance(ast, ae.AllocateByPriorityStructure):
            return lower_allocate_by_priority(self, ast, deps)
        if isinstance(ast, ae.AllocateAvailableStructure):
            return lower_allocate_available(self, ast, deps)
        name = type(ast).__name__.replace("Structure", "")
        readable = {"GetLookups": "GET ... LOOKUPS", "GetData": "GET ... DATA",
                    "GetConstants": "GET ... CONSTANTS", "AllocateAvailable": "ALLOCATE AVAILABLE",
                    "AllocateByPriority": "ALLOCATE BY PRIORITY", "Data": "DATA"}.get(name, name)
        raise self.refuse(readable)

    def ref(self, clean: str, deps: set[str], subscripts: object = None) -> str:
        if clean == "time":
            deps.add("time")
            return "time"
        if self.kind_of.get(clean) == "lookup":
            raise self.refuse(f"the lookup {clean!r} without an argument")
        nid = self.cell(clean, subscripts)
        if nid[0].isdigit():  # a subscript range read as a number
            return nid
        deps.add(nid)
        return nid

    def cell(self, clean: str, subscripts: object) -> str:
        """The node of the cell a reference `name[sub, ...]` names under the current binding."""
        if clean not in self.cells:
            rng = self.subs.range_name(clean)
            if rng is not None and subscripts is None:
                return self.range_value(rng)
            element = self.subs.element(clean)
            if element is not None and subscripts is None:
                return repr(float(self.subs.position(element)))
            raise self.refuse(f"an undefined variable {clean!r}")
        subs = list(getattr(subscripts, "subscripts", None) or [])
        cells = self.cells[clean]
        try:
            key = tuple(self.subs.resolve(s, self.bind) for s in subs)
        except KeyError as exc:
            raise self.refuse(f"the subscript {exc} of {clean!r}, which is neither on the "
                              "left-hand side nor mapped to it") from None
        if key not in cells and not subs and len(cells) == 1:
            key = next(iter(cells))
        if key not in cells:
            raise self.refuse(f"{cell_name(clean, key)!r}, which the model does not define")
        return cells[key]

    def range_value(self, rng: str) -> str:
        """A subscript range used as a value: the bound element's position in it (from 1)."""
        try:
            element = self.subs.resolve(rng, self.bind)
        except KeyError:
            raise self.refuse(f"the subscript range {rng!r} as a value outside its "
                              "equations") from None
        return repr(float(self.subs.position(element)))

    def const_int(self, ast: object, what: str) -> int:
        if isinstance(ast, (int, float)) or type(ast).__module__ == "numpy":
            v = float(ast)  # type: ignore[arg-type]
            if v == int(v) and v >= 1:
                return int(v)
        raise self.refuse(f"a non-constant or non-integer {what}")

    def call(self, ast: object, deps: set[str]) -> str:
        fname: str = ast.function.reference  # type: ignore[attr-defined]
        args = ast.arguments  # type: ignore[attr-defined]
        if self.kind_of.get(fname) == "lookup":
            if len(args) != 1:
                raise self.refuse(f"the lookup {fname!r} called with {len(args)} arguments")
            lk = self.lookups[self.cell(fname, ast.function.subscripts)]  # type: ignore[attr-defined]
            return self.lookup_call(lk, self.expr(args[0], deps))
        if fname in VECTOR_FUNCS:
            return lower_vector(self, fname, args, deps)
        if fname in self.macros:
            return self.macro_call(fname, args, deps)
        if fname == "invert_matrix":
            return lower_invert_matrix(self, args, deps)
        if fname in _RANDOM:
            return self.random(fname, args, deps)
        if fname == "active_initial":
            raise self.refuse("ACTIVE INITIAL inside an expression",
                              "use it as the whole equation of a variable")
        if fname not in _FUNCS:
            raise self.refuse(f"the function {fname.upper().replace('_', ' ')}")
        arities, template = _FUNCS[fname]
        if len(args) not in arities:
            raise self.refuse(f"{fname.upper().replace('_', ' ')} with {len(args)} arguments")
        codes = [self.expr(a, deps) for a in args]
        if fname in ("step", "ramp", "pulse", "pulse_train", "Xramp"):
            deps.add("time")
        if fname == "ramp" and len(codes) == 2:
            codes.append("None")
        return template.format(*codes)

    def random(self, fname: str, args: tuple, deps: set[str]) -> str:
        """A RANDOM function: a draw from the run's stream (`random_streams`), new at each step.
        The last argument is Vensim's seed of the call: it only tells call sites apart."""
        arity = _RANDOM[fname]
        if len(args) != arity:
            raise self.refuse(f"{fname.upper().replace('_', ' ')} with {len(args)} arguments")
        seed = None
        if arity:
            seed = float(args[-1]) if _is_number(args[-1]) else None
            args = args[:-1]
        codes = [self.expr(a, deps) for a in args]
        ordinal = self.random_calls.get(self.var, 0)
        self.random_calls[self.var] = ordinal + 1
        for nid in (RANDOM_SEED, RANDOM_RUN):  # set by the batch for every run
            self.aux.setdefault(nid, Aux(nid, "0.0", set()))
            deps.add(nid)
        deps.add("time")  # a new draw at every step
        site = site_id(self.var, ordinal, seed)
        return f"rt.{fname}({''.join(c + ', ' for c in codes)}{RANDOM_SEED}, {RANDOM_RUN}, " \
               f"{site}, k)"

    def macro_call(self, name: str, args: tuple, deps: set[str]) -> str:
        """Expand one call of a macro: its equations, with fresh nodes, reading the arguments."""
        sec = self.macros[name]
        params = [p.lower().replace(" ", "_") for p in sec.params]  # type: ignore[attr-defined]
        if len(args) != len(params):
            raise self.refuse(f"the macro {name!r} called with {len(args)} arguments for "
                              f"{len(params)} parameters")
        if sec.returns:  # type: ignore[attr-defined]
            raise self.refuse(f"the macro {name!r} with several outputs")
        arg_ids = [self.sub_aux("macro_arg", a, set()) for a in args]
        saved = (self.cells, self.kind_of, self.clean, self.bind, self.var)
        inst = self.hidden(f"m_{name}")
        cells: dict[str, dict[tuple[str, ...], str]] = {p: {(): a}
                                                         for p, a in zip(params, arg_ids,
                                                                         strict=True)}
        kinds = dict.fromkeys(params, "aux")
        todo = []
        for el in sec.elements:  # type: ignore[attr-defined]
            clean = el.name.lower().replace(" ", "_")
            if len(el.components) != 1 or el.components[0].subscripts[0]:
                raise self.refuse(f"a subscripted equation in the macro {name!r}")
            kinds[clean] = _kind(el.components[0])
            nid = _ident(f"{inst}_{clean}", self.used, prefix="")
            cells[clean] = {(): nid}
            todo.append((el, clean, nid))
        if name not in cells:
            raise self.refuse(f"the macro {name!r}, which defines no variable of its name")
        self.cells, self.kind_of = cells, kinds
        self.clean = {k: v[()] for k, v in cells.items()}
        self.bind = Binding()
        made = set(self.aux) | set(self.states)
        try:
            todo.sort(key=lambda item: kinds[item[1]] != "lookup")
            for el, clean, nid in todo:
                label = f"{saved[4]} (macro {name}: {el.name})"
                self.var = label
                _lower_element(self, el, el.components[0], 0, nid, clean, label,
                               {label: (None, None)})
        finally:
            self.cells, self.kind_of, self.clean, self.bind, self.var = saved
        for nid in (set(self.aux) | set(self.states)) - made:  # internal: not model variables
            node = self.aux.get(nid) or self.states[nid]
            node.vensim = None
            if isinstance(node, Aux):
                node.is_constant = False
        out = cells[name][()]
        deps.add(out)
        return out

    # ---- lookups ------------------------------------------------------------------------------

    def lookup_table(self, lk: object, label: str) -> Lookup:
        nid = _ident("lk_" + str(len(self.lookups)), self.used, prefix="")
        kind = getattr(lk, "type", "interpolate")
        if kind not in ("interpolate", "extrapolate", "hold_backward", "look_forward", "raw"):
            raise self.refuse(f"a lookup of type {kind!r}")
        table = Lookup(nid, tuple(float(v) for v in lk.x), tuple(float(v) for v in lk.y),  # type: ignore[attr-defined]
                       kind, label)
        self.lookups[nid] = table
        return table

    def lookup_call(self, lk: Lookup, arg: str) -> str:
        if lk.kind == "interpolate":
            return f"{lk.id}__t({arg})"  # an rt.Table built before the run
        return f"rt.lookup_{lk.kind}({arg}, {lk.id}__x, {lk.id}__y)"

