"""Lower PySD's abstract model into a flat program: auxiliaries, states and their derivatives.

PySD's translators turn a Vensim or XMILE file into an *abstract model* (dataclasses from
`pysd.translators.structures`). This module walks that structure once and produces a `Program`:

- `Aux` nodes: one numpy expression each (Python source text) with the names it reads, and an
  optional separate expression used while initialising (ACTIVE INITIAL);
- `State` nodes: values carried from step to step, with an initial expression and a derivative
  node (Euler: ``x = x + ddt * dt``), or a custom update (DELAY FIXED, SAMPLE IF TRUE);
- lookup tables, kept as arrays.

Built-in stateful functions (SMOOTH, DELAY, TREND, FORECAST, ...) become hidden states, exactly
as PySD builds them, so that the same floating-point operations happen in the same order. Every
construct not listed in `SUPPORTED` is refused here, naming the construct and the variable.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from carespiral.errors import CarespiralError, FileFormatError
from carespiral.pysd_runner.batch.subscripts import Binding, Subscripts, cell_name
from carespiral.pysd_runner.batch.vectors import VECTOR_FUNCS, lower_vector

__all__ = ["Aux", "Lookup", "Program", "State", "UnsupportedConstructError", "lower_file"]

SMALL_VENSIM = 1e-6
CONTROL = {"initial_time": "INITIAL TIME", "final_time": "FINAL TIME",
           "time_step": "TIME STEP", "saveper": "SAVEPER"}

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

_OPS = {"^": "np.power({0}, {1})", "*": "({0} * {1})", "/": "({0} / {1})", "+": "({0} + {1})",
        "-": "({0} - {1})", "=": "({0} == {1})", "<>": "({0} != {1})", ">=": "({0} >= {1})",
        ">": "({0} > {1})", "<=": "({0} <= {1})", "<": "({0} < {1})",
        ":AND:": "np.logical_and({0}, {1})", ":OR:": "np.logical_or({0}, {1})"}

SUPPORTED = sorted(
    [k.upper().replace("_", " ") for k in _FUNCS if not k.startswith("X")]
    + ["INTEG", "INITIAL", "ACTIVE INITIAL", "SMOOTH", "SMOOTHI", "SMOOTH3", "SMOOTH3I",
       "SMOOTH N", "DELAY1", "DELAY1I", "DELAY3", "DELAY3I", "DELAY N", "DELAY FIXED", "TREND",
       "FORECAST", "SAMPLE IF TRUE", "WITH LOOKUP", "lookup tables", "Time", "data (as inputs)"]
)


class UnsupportedConstructError(CarespiralError):
    """The model uses something the batch backend cannot compile (named with its variable)."""

    def __init__(self, construct: str, variable: str, path: Path | str, hint: str = "") -> None:
        self.construct = construct
        self.variable = variable
        msg = (f"{path}: variable {variable!r} uses {construct}, which the batch backend does "
               f"not support")
        msg += f" ({hint})" if hint else "; use the PySD backend (Model.run) for this model"
        super().__init__(msg)


@dataclass
class Aux:
    """An auxiliary: `code` is a numpy expression over other nodes' variables."""

    id: str
    code: str
    deps: set[str]
    init_code: str | None = None  # used while initialising, when it differs (ACTIVE INITIAL)
    init_deps: set[str] | None = None
    vensim: str | None = None
    is_constant: bool = False  # a literal number: a parameter a user may set
    is_data: bool = False  # a data variable: must be given as a time input


@dataclass
class State:
    """A value integrated over time. `ddt` names the Aux holding its derivative (Euler)."""

    id: str
    init_code: str
    init_deps: set[str]
    ddt: str | None = None
    # custom updates (DELAY FIXED, SAMPLE IF TRUE, INITIAL): statements run after derivatives
    update: str | None = None
    update_deps: set[str] = field(default_factory=set)
    setup: str | None = None  # statements run once after initialisation
    vensim: str | None = None
    lower_limit: float | None = None
    owner: str = ""  # the model variable this state belongs to (for blow-up reports)


@dataclass
class Lookup:
    id: str
    x: tuple[float, ...]
    y: tuple[float, ...]
    kind: str  # interpolate | extrapolate | hold_backward
    vensim: str


@dataclass
class Program:
    """The lowered model: everything the code generator needs."""

    path: Path
    aux: dict[str, Aux]
    states: dict[str, State]
    lookups: dict[str, Lookup]
    names: dict[str, str]  # Vensim name -> node id
    py_names: dict[str, str]  # PySD python name -> Vensim name
    units: dict[str, str]
    limits: dict[str, tuple[float | None, float | None]]
    control: dict[str, str]  # initial_time/final_time/time_step/saveper -> node id
    groups: dict[str, list[str]] = field(default_factory=dict)  # subscripted name -> cells

    @property
    def stocks(self) -> list[str]:
        return [s.vensim for s in self.states.values() if s.vensim and s.ddt]

    def node(self, vensim: str) -> Aux | State:
        nid = self.names[vensim]
        return self.aux.get(nid) or self.states[nid]


def _ident(clean: str, used: set[str], prefix: str = "v_") -> str:
    s = re.sub(r"[^0-9a-zA-Z_]", "", re.sub(r"\s+", "_", clean))
    s = prefix + re.sub(r"_+", "_", s)
    out, i = s, 1
    while out in used:
        out, i = f"{s}_{i}", i + 1
    used.add(out)
    return out


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


class _Lowerer:
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
        if kind not in ("interpolate", "extrapolate", "hold_backward"):
            raise self.refuse(f"a lookup of type {kind!r}")
        table = Lookup(nid, tuple(float(v) for v in lk.x), tuple(float(v) for v in lk.y),  # type: ignore[attr-defined]
                       kind, label)
        self.lookups[nid] = table
        return table

    def lookup_call(self, lk: Lookup, arg: str) -> str:
        if lk.kind == "interpolate":
            return f"{lk.id}__t({arg})"  # an rt.Table built before the run
        return f"rt.lookup_{lk.kind}({arg}, {lk.id}__x, {lk.id}__y)"

    # ---- stateful built-ins (hidden states, built as PySD builds them) -----------------------

    def hidden(self, stem: str) -> str:
        self.nhidden += 1
        return _ident(f"_{stem}{self.nhidden}", self.used, prefix="h")

    def sub_aux(self, stem: str, ast: object, deps_out: set[str]) -> str:
        """Put a sub-expression in its own Aux (so it is evaluated once) and return its id."""
        d: set[str] = set()
        code = self.expr(ast, d)
        nid = self.hidden(stem)
        self.aux[nid] = Aux(nid, code, d)
        deps_out.add(nid)
        return nid

    def initial(self, ast: object, deps: set[str]) -> str:
        d: set[str] = set()
        code = self.expr(ast, d)
        nid = self.hidden("initial")
        self.states[nid] = State(nid, code, d)  # no derivative: frozen at its initial value
        deps.add(nid)
        return nid

    def variable_order(self, kind: str, ast: object, time_ast: object, deps: set[str]) -> str:
        """DELAY N / SMOOTH N whose order is an expression: Vensim fixes the order at the initial
        time. The stages are built for the order's value with the model's defaults (known once
        every element is lowered); each run uses its own initial order, up to that many."""
        o_id = self.initial(ast.order, set())  # type: ignore[attr-defined]
        out = self.hidden(f"{kind}n_out")
        var, bind = self.var, self.bind
        self.aux[out] = Aux(out, "NAN", set())  # replaced when the stages are built

        def build() -> None:
            self.var, self.bind = var, bind
            cap = self.static_order(o_id, f"{kind.upper()} N order")
            inner: set[str] = set()
            code = f"rt.initial_order({cap}, {o_id}, time_step, {{t}}, {kind == 'delay'})"
            if kind == "delay":
                last = self.delay(ast.input, time_ast, ast.initial, cap, inner,  # type: ignore[attr-defined]
                                  lower_order=True, order_code=(code, o_id))
            else:
                last = self.smooth(ast.input, time_ast, ast.initial, cap, inner,  # type: ignore[attr-defined]
                                   order_code=(code, o_id))
            self.aux[out] = Aux(out, last, {last})

        self.finishers.append(build)
        deps.add(out)
        return out

    def static_order(self, nid: str, what: str) -> int:
        """The value of an order's INITIAL state with the model's defaults (a whole number >= 1)."""
        try:
            v = float(np.max(_static_value(self, nid)))
        except Exception:
            raise self.refuse(f"a {what} that cannot be computed before the run") from None
        if not (math.isfinite(v) and v >= 1):
            raise self.refuse(f"a {what} of {v:g}", "the order must be at least 1")
        return int(v)

    def delay(self, inp: object, dtime: object, init: object, order: int, deps: set[str],
              lower_order: bool, order_code: tuple[str, str] | None = None) -> str:
        # PySD's Delay: stage i holds order * (Vensim's stock i); outflow_i = s_i / delay time.
        i_id = self.sub_aux("delay_in", inp, set())
        t_id = self.sub_aux("delay_time", dtime, set())
        v_id = self.sub_aux("delay_init", init, set())
        base = self.hidden("delay")
        stages = [f"{base}_s{i}" for i in range(order)]
        outs = [f"{base}_o{i}" for i in range(order)]
        self.used.update(stages + outs)
        m_id = None
        if lower_order:
            # DELAY N: Vensim (and PySD) lower the order while order * TIME STEP exceeds the
            # delay time, once, at initialisation. The order may differ between runs, so the
            # stages below the first active one are masked (their derivative is zero).
            m_id = f"{base}_order"
            self.used.add(m_id)
            if order_code is None:
                self.states[m_id] = State(m_id, f"rt.delay_n_order({order}, time_step, {t_id})",
                                          {t_id})
            else:  # the order is an expression, fixed at the initial time (at most `order`)
                self.states[m_id] = State(m_id, order_code[0].format(t=t_id),
                                          {t_id, order_code[1]})
        lag: list[str] = []
        if m_id is not None:
            # DELAY N (as PySD's DelayN): stage j of the m active ones divides by the delay time
            # of j steps ago; lag l holds the delay time of l + 1 steps ago (updated after each
            # step, the oldest first, so each takes its predecessor's previous value)
            lag = [f"{base}_lag{i}" for i in range(order)]
            self.used.update(lag)
            for i in reversed(range(order)):
                src = t_id if i == 0 else lag[i - 1]
                self.states[lag[i]] = State(lag[i], f"({t_id} + 0.0)", {t_id},
                                            update=f"{lag[i]} = {src}", update_deps={src})
        for i in range(order):
            if m_id is None:
                self.aux[outs[i]] = Aux(outs[i], f"({stages[i]} / {t_id})", {stages[i], t_id})
            else:
                # active stage i is stage j = i - (order - m): delay time of j steps ago
                div, ddeps = t_id, {t_id}
                for back in range(1, i + 1):
                    div = f"np.where({order} - {m_id} == {i - back}, {lag[back - 1]}, {div})"
                    ddeps |= {lag[back - 1], m_id}
                self.aux[outs[i]] = Aux(outs[i], f"({stages[i]} / {div})", {stages[i], *ddeps})
            dd = f"{base}_d{i}"
            self.used.add(dd)
            if m_id is None:
                inflow = i_id if i == 0 else outs[i - 1]
                self.aux[dd] = Aux(dd, f"(({inflow} - {outs[i]}) * {order})",
                                   {inflow, outs[i]})
            elif i == 0:
                self.aux[dd] = Aux(
                    dd, f"np.where({order} - {m_id} == 0, (({i_id} - {outs[0]}) * {m_id}), 0.0)",
                    {i_id, outs[0], m_id})
            else:
                first = f"({order} - {m_id} == {i})"
                self.aux[dd] = Aux(
                    dd,
                    f"np.where({order} - {m_id} <= {i}, ((np.where({first}, {i_id}, "
                    f"{outs[i - 1]}) - {outs[i]}) * {m_id}), 0.0)",
                    {i_id, outs[i - 1], outs[i], m_id})
            self.states[stages[i]] = State(stages[i], f"({v_id} * {t_id})", {v_id, t_id}, ddt=dd)
        if m_id is not None:  # PySD's DelayN output: the last stage over the previous delay time
            out = f"{base}_out"
            self.used.add(out)
            self.aux[out] = Aux(out, f"({stages[-1]} / {lag[0]})", {stages[-1], lag[0]})
            deps.add(out)
            return out
        deps.add(outs[-1])
        return outs[-1]

    def delay_fixed(self, ast: object, deps: set[str]) -> str:
        din, dtm, dv = set(), set(), set()
        i_id = self.sub_aux("dfix_in", ast.input, din)  # type: ignore[attr-defined]
        t_id = self.sub_aux("dfix_time", ast.delay_time, dtm)  # type: ignore[attr-defined]
        v_id = self.sub_aux("dfix_init", ast.initial, dv)  # type: ignore[attr-defined]
        sid = self.hidden("dfix")
        pipe = f"{sid}_pipe"
        self.used.add(pipe)
        self.states[sid] = State(
            sid, f"({v_id} + 0.0 * {t_id})", {v_id, t_id},
            setup=f"{pipe} = rt.FixedPipe({v_id}, {t_id}, time_step, n)",
            update=f"{sid} = {pipe}.push({i_id})", update_deps={i_id},
        )
        deps.add(sid)
        return sid

    def smooth(self, inp: object, stime: object, init: object, order: int,
               deps: set[str], order_code: tuple[str, str] | None = None) -> str:
        i_id = self.sub_aux("smooth_in", inp, set())
        t_id = self.sub_aux("smooth_time", stime, set())
        v_id = self.sub_aux("smooth_init", init, set())
        base = self.hidden("smooth")
        stages = [f"{base}_s{i}" for i in range(order)]
        m_id = None
        if order_code is not None:
            # an order fixed at the initial time, per run, at most `order`: the stages before
            # the first active one are masked (derivative zero), as for DELAY N
            m_id = f"{base}_order"
            self.used.add(m_id)
            self.states[m_id] = State(m_id, order_code[0].format(t=t_id),
                                      {t_id, order_code[1]})
        for i in range(order):
            self.used.add(stages[i])
            target = i_id if i == 0 else stages[i - 1]
            dd = f"{base}_d{i}"
            self.used.add(dd)
            if m_id is None:
                # PySD: (targets - state) * order / smooth_time
                self.aux[dd] = Aux(dd, f"((({target} - {stages[i]}) * {float(order)!r}) / "
                                   f"{t_id})", {target, stages[i], t_id})
            else:
                tgt = i_id if i == 0 else f"np.where({order} - {m_id} == {i}, {i_id}, {target})"
                self.aux[dd] = Aux(
                    dd, f"np.where({order} - {m_id} <= {i}, ((({tgt} - {stages[i]}) * {m_id}) / "
                    f"{t_id}), 0.0)", {i_id, target, stages[i], t_id, m_id})
            self.states[stages[i]] = State(stages[i], f"({v_id} + 0.0)", {v_id}, ddt=dd)
        deps.add(stages[-1])
        return stages[-1]

    def trend(self, ast: object, deps: set[str]) -> str:
        i_id = self.sub_aux("trend_in", ast.input, set())  # type: ignore[attr-defined]
        a_id = self.sub_aux("trend_time", ast.average_time, set())  # type: ignore[attr-defined]
        v_id = self.sub_aux("trend_init", ast.initial_trend, set())  # type: ignore[attr-defined]
        sid = self.hidden("trend")
        dd, out = f"{sid}_d", f"{sid}_out"
        self.used.update((dd, out))
        self.aux[dd] = Aux(dd, f"(({i_id} - {sid}) / {a_id})", {i_id, sid, a_id})
        self.states[sid] = State(sid, f"({i_id} / (1 + ({v_id} * {a_id})))", {i_id, v_id, a_id},
                                 ddt=dd)
        self.aux[out] = Aux(out, f"rt.zidz(({i_id} - {sid}), ({a_id} * np.abs({sid})))",
                            {i_id, sid, a_id})
        deps.add(out)
        return out

    def forecast(self, ast: object, deps: set[str]) -> str:
        i_id = self.sub_aux("fc_in", ast.input, set())  # type: ignore[attr-defined]
        a_id = self.sub_aux("fc_time", ast.average_time, set())  # type: ignore[attr-defined]
        h_id = self.sub_aux("fc_horizon", ast.horizon, set())  # type: ignore[attr-defined]
        v_id = self.sub_aux("fc_init", ast.initial_trend, set())  # type: ignore[attr-defined]
        sid = self.hidden("forecast")
        dd, out = f"{sid}_d", f"{sid}_out"
        self.used.update((dd, out))
        self.aux[dd] = Aux(dd, f"(({i_id} - {sid}) / {a_id})", {i_id, sid, a_id})
        self.states[sid] = State(sid, f"({i_id} / (1 + {v_id}))", {i_id, v_id}, ddt=dd)
        self.aux[out] = Aux(
            out, f"({i_id} * (1 + (rt.zidz(({i_id} - {sid}), ({a_id} * {sid})) * {h_id})))",
            {i_id, sid, a_id, h_id})
        deps.add(out)
        return out

    def sample_if_true(self, ast: object, deps: set[str]) -> str:
        c_id = self.sub_aux("sit_cond", ast.condition, set())  # type: ignore[attr-defined]
        i_id = self.sub_aux("sit_in", ast.input, set())  # type: ignore[attr-defined]
        v_id = self.sub_aux("sit_init", ast.initial, set())  # type: ignore[attr-defined]
        sid = self.hidden("sample")
        out = f"{sid}_out"
        self.used.add(out)
        self.states[sid] = State(sid, f"({v_id} + 0.0)", {v_id},
                                 update=f"{sid} = {out}", update_deps={out})
        self.aux[out] = Aux(out, f"np.where({c_id}, {i_id}, {sid})", {c_id, i_id, sid})
        deps.add(out)
        return out


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


def _kind(comp: object) -> str:
    from pysd.translators.structures import abstract_model as amod

    if isinstance(comp, amod.AbstractLookup):
        return "lookup"
    if isinstance(comp, amod.AbstractData):
        return "data"
    if type(comp.ast).__name__ == "IntegStructure":  # type: ignore[attr-defined]
        return "stock"
    return "aux"


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
        if len(kinds) != 1:
            raise low.refuse("a mix of kinds of equation (stock, lookup, data) by element")
        low.kind_of[clean] = kinds.pop()
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
    return Program(path, low.aux, low.states, low.lookups, names, py_names, units, limits,
                   control, groups)


def _cell_value(low: _Lowerer, comp: object, k: int) -> object:
    """A component's expression for its k-th cell: one number of an array of constants."""
    ast = comp.ast  # type: ignore[attr-defined]
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

    kind = low.kind_of[clean]
    ast = _cell_value(low, comp, k)
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


def _static_value(low: _Lowerer, nid: str) -> object:
    """A node's initial value with the model's defaults, computed at lowering (numpy)."""
    from carespiral.pysd_runner.batch import runtime as rt

    ns: dict[str, object] = {"np": np, "rt": rt, "NAN": math.nan, "INF": math.inf}
    for lk in low.lookups.values():
        ns[f"{lk.id}__x"], ns[f"{lk.id}__y"] = np.array(lk.x), np.array(lk.y)
        ns[f"{lk.id}__t"] = rt.Table(list(lk.x), list(lk.y))

    def value(node: str, seen: tuple[str, ...] = ()) -> object:
        if node in ns:
            return ns[node]
        if node in seen:
            raise CarespiralError("circular")
        if node in ("time", "time_step"):
            key = "initial_time" if node == "time" else "time_step"
            ns[node] = value(low.control[key], (*seen, node))
            return ns[node]
        if node in low.states:
            code, deps = low.states[node].init_code, low.states[node].init_deps
        else:
            a = low.aux[node]
            code, deps = ((a.init_code, a.init_deps or set()) if a.init_code is not None
                          else (a.code, a.deps))
        for d in deps:
            value(d, (*seen, node))
        if "time_step" in code:
            value("time_step", (*seen, node))
        with np.errstate(all="ignore"):
            ns[node] = eval(code, ns)
        return ns[node]

    return value(nid)
