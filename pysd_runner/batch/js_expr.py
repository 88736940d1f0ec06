"""Numpy expressions of the batch backend's generated code, rewritten as JavaScript.

One expression at a time: arithmetic stays arithmetic on doubles, comparisons use JavaScript's
loose equality (as numpy compares booleans with numbers), `np.where` and the logical functions
test truth as numpy does, and every other numpy or runtime function becomes its twin in
`js_runtime` (a `$name` local of the generated code; the RANDOM functions' twins are in
`js_random`). Anything else is refused with a `JsUnsupportedError` naming it and the variable
whose equation holds it.
"""

from __future__ import annotations

import ast
import math
import re
from typing import Any

from carespiral.errors import CarespiralError
from carespiral.pysd_runner.batch.js_random import RANDOM_CALLS, site_halves
from carespiral.pysd_runner.batch.lowering import Program, UnsupportedConstructError

__all__ = ["IDENT", "JsUnsupportedError", "ToJs", "dotted"]


class JsUnsupportedError(UnsupportedConstructError):
    """The model holds something the JavaScript target cannot write (named with its variable)."""

    def __init__(self, construct: str, variable: str, path: Any) -> None:
        self.construct = construct
        self.variable = variable
        CarespiralError.__init__(
            self, f"{path}: variable {variable!r} uses {construct}, which the JavaScript target "
                  "(the simulator page) does not support; run this model with the numpy engine")


# numpy / runtime function in the generated code -> JavaScript (a `$` name is the runtime's)
_CALLS: dict[str, str] = {
    "np.minimum": "$min", "np.maximum": "$max", "np.power": "$pow",
    "np.abs": "Math.abs", "np.exp": "Math.exp", "np.log": "Math.log", "np.sqrt": "Math.sqrt",
    "np.sin": "Math.sin", "np.cos": "Math.cos", "np.tan": "Math.tan", "np.arcsin": "Math.asin",
    "np.arccos": "Math.acos", "np.arctan": "Math.atan", "np.sinh": "Math.sinh",
    "np.cosh": "Math.cosh", "np.tanh": "Math.tanh", "np.trunc": "Math.trunc",
    "rt.step": "$step", "rt.ramp": "$ramp", "rt.pulse": "$pulse", "rt.pulse_train": "$pulseTrain",
    "rt.xidz": "$xidz", "rt.zidz": "$zidz", "rt.quantum": "$quantum", "rt.modulo": "$modulo",
    "rt.lookup_interpolate": "$interp", "rt.lookup_extrapolate": "$lookupExtrapolate",
    "rt.lookup_hold_backward": "$lookupHoldBackward", "rt.delay_n_order": "$delayNOrder",
    "rt.lookup_look_forward": "$lookupLookForward", "rt.lookup_raw": "$lookupRaw",
    "rt.initial_order": "$initialOrder",
    "rt.erfc": "$erfc",  # ALLOCATE AVAILABLE's normal profile; js_random's, within 1e-14 of scipy
    # ALLOCATE AVAILABLE's solve (allocation): tuples of targets' cells become arrays
    "rt.allocate_available_level": "$allocLevel", "rt.allocate_available_curve": "$allocCurve",
}
_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
# loose equality, as numpy compares booleans with numbers (True == 1.0)
_CMPOPS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">",
           ast.GtE: ">="}
IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RESERVED = {"break", "case", "catch", "class", "const", "continue", "debugger", "default",
             "delete", "do", "else", "enum", "export", "extends", "false", "finally", "for",
             "function", "if", "import", "in", "instanceof", "new", "null", "return", "super",
             "switch", "this", "throw", "true", "try", "typeof", "var", "void", "while", "with",
             "yield", "let", "static", "implements", "interface", "package", "private",
             "protected", "public", "await", "arguments", "eval", "undefined", "NaN",
             "Infinity", "Math"}

class ToJs:
    """Rewrite one numpy expression of the generated code as a JavaScript expression.

    The text is emitted piece by piece into one list (joined once), so that the deeply nested
    expressions of vector functions cost time in proportion to their length.
    """

    def __init__(self, prog: Program, fast: dict[str, bool],
                 parsed: dict[str, ast.AST] | None = None) -> None:
        self.prog = prog
        self.fast = fast  # lookup id -> uses runtime.Table's fast formula
        self.reads: set[str] = set()
        self.variable = ""
        self.parsed = {} if parsed is None else parsed  # code -> tree, shared between passes

    def refuse(self, what: str) -> JsUnsupportedError:
        return JsUnsupportedError(what, self.variable, self.prog.path)

    def code(self, text: str, variable: str) -> str:
        self.variable = variable
        if text not in self.parsed:
            try:
                self.parsed[text] = ast.parse(text, mode="eval").body
            except SyntaxError:
                raise self.refuse(f"an equation the target cannot read ({text[:60]!r})") from None
        return self.code_node(self.parsed[text], variable)

    def code_node(self, node: ast.AST, variable: str) -> str:
        self.variable = variable
        out: list[str] = []
        self.node(node, out)
        return "".join(out)

    def node(self, n: ast.AST, out: list[str]) -> None:
        if isinstance(n, ast.Constant):
            v = n.value
            if isinstance(v, bool):
                out.append("true" if v else "false")
            elif isinstance(v, int | float):
                f = float(v)
                if math.isnan(f):
                    out.append("NaN")
                elif math.isinf(f):
                    out.append("Infinity" if f > 0 else "(-Infinity)")
                else:
                    out.append(repr(v) if isinstance(v, int) else repr(f))
            else:
                raise self.refuse(f"the constant {v!r}")
        elif isinstance(n, ast.Name):
            if n.id in ("NAN", "INF"):
                out.append("NaN" if n.id == "NAN" else "Infinity")
            else:
                self.reads.add(self.name(n.id))
                out.append(n.id)
        elif isinstance(n, ast.BinOp) and type(n.op) in _BINOPS:
            out.append("(")
            self.node(n.left, out)
            out.append(f" {_BINOPS[type(n.op)]} ")
            self.node(n.right, out)
            out.append(")")
        elif isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.USub):
            out.append("(-")
            self.node(n.operand, out)
            out.append(")")
        elif isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.UAdd):
            self.node(n.operand, out)
        elif isinstance(n, ast.Compare) and len(n.ops) == 1 and type(n.ops[0]) in _CMPOPS:
            out.append("(")
            self.node(n.left, out)
            out.append(f" {_CMPOPS[type(n.ops[0])]} ")
            self.node(n.comparators[0], out)
            out.append(")")
        elif isinstance(n, ast.Attribute) and dotted(n) == "np.pi":
            out.append("Math.PI")
        elif isinstance(n, ast.Subscript) and _is_key(n, "P"):
            name = f"$p_{n.slice.value}"  # type: ignore[attr-defined]
            self.reads.add(name)
            out.append(name)
        elif isinstance(n, ast.Call):
            self.call(n, out)
        elif isinstance(n, ast.Tuple):  # one value per target (ALLOCATE AVAILABLE)
            out.append("[")
            self.args(n.elts, out)
            out.append("]")
        else:
            raise self.refuse(f"the expression {ast.unparse(n)[:60]!r}")

    def name(self, ident: str) -> str:
        if not IDENT.match(ident) or ident in _RESERVED:
            raise self.refuse(f"the name {ident!r}, which is not a JavaScript identifier")
        return ident

    def args(self, nodes: list[ast.expr], out: list[str]) -> None:
        for i, a in enumerate(nodes):
            if i:
                out.append(", ")
            self.node(a, out)

    def call(self, n: ast.Call, out: list[str]) -> None:
        f = n.func
        if n.keywords:
            raise self.refuse(f"keyword arguments in {ast.unparse(n)[:60]!r}")
        if isinstance(f, ast.Subscript) and _is_key(f, "T"):  # a time input at `time`
            name = f"$T_{f.slice.value}"  # type: ignore[attr-defined]
            self.reads.add(name)
            out.append(f"$inputAt({name}, ")
            self.node(n.args[0], out)
            out.append(")")
            return
        if isinstance(f, ast.Name) and f.id.endswith("__t"):  # a lookup table
            lk = f.id[:-3]
            if lk not in self.prog.lookups or len(n.args) != 1:
                raise self.refuse(f"the lookup call {ast.unparse(n)[:60]!r}")
            out.append("$table(" if self.fast[lk] else "$interp(")
            self.node(n.args[0], out)
            out.append(f", {lk}__x, {lk}__sl, {lk}__xe, {lk}__ye)" if self.fast[lk]
                       else f", {lk}__x, {lk}__y)")
            return
        full = dotted(f)
        if full in RANDOM_CALLS:  # (..., seed, run, site, k): the site as its 32-bit halves
            site = n.args[-2] if len(n.args) >= 4 else None
            if not (isinstance(site, ast.Constant) and type(site.value) is int
                    and 0 <= site.value < 2 ** 64):
                raise self.refuse(f"a RANDOM call the target cannot read ({ast.unparse(n)[:60]!r})")
            hi, lo = site_halves(site.value)
            out.append(f"${RANDOM_CALLS[full]}(")
            self.args(n.args[:-2], out)
            out.append(f", {hi}, {lo}, ")
            self.node(n.args[-1], out)
            out.append(")")
            return
        if full == "np.where" and len(n.args) == 3:
            out.append("(")
            if _is_boolean(n.args[0]):
                self.node(n.args[0], out)
            else:
                out.append("(")
                self.node(n.args[0], out)
                out.append(" != 0)")
            out.append(" ? ")
            self.node(n.args[1], out)
            out.append(" : ")
            self.node(n.args[2], out)
            out.append(")")
        elif full in ("np.logical_and", "np.logical_or") and len(n.args) == 2:
            out.append("((")
            self.node(n.args[0], out)
            out.append(" != 0) && (" if full.endswith("and") else " != 0) || (")
            self.node(n.args[1], out)
            out.append(" != 0))")
        elif full == "np.logical_not" and len(n.args) == 1:
            out.append("(")
            self.node(n.args[0], out)
            out.append(" == 0)")
        elif full == "rt.ramp" and len(n.args) == 4 and _is_none(n.args[3]):
            out.append("$rampOpen(")
            self.args(n.args[:3], out)
            out.append(")")
        elif full in _CALLS:
            if any(_is_none(a) for a in n.args):
                raise self.refuse(f"{full} with a missing argument")
            out.append(f"{_CALLS[full]}(")
            self.args(n.args, out)
            out.append(")")
        else:
            raise self.refuse(f"the function {ast.unparse(f)[:60]}")


def dotted(n: ast.AST) -> str:
    """A function's or attribute's dotted name ("np.where", "rt.step", "x"), else "?" (cheaper
    than unparsing, which the calls of long vector expressions would repeat)."""
    if isinstance(n, ast.Name):
        return n.id
    if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name):
        return f"{n.value.id}.{n.attr}"
    return "?"


def _is_key(n: ast.Subscript, base: str) -> bool:
    return (isinstance(n.value, ast.Name) and n.value.id == base
            and isinstance(n.slice, ast.Constant) and isinstance(n.slice.value, str)
            and bool(IDENT.match(n.slice.value)))


def _is_none(n: ast.AST) -> bool:
    return isinstance(n, ast.Constant) and n.value is None


def _is_boolean(n: ast.AST) -> bool:
    """An expression whose value is already a boolean (a comparison or a logical function)."""
    if isinstance(n, ast.Compare):
        return True
    return isinstance(n, ast.Call) and dotted(n.func) in (
        "np.logical_and", "np.logical_or", "np.logical_not")
