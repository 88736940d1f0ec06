"""Check a translated model module before it is imported: only what PySD's builder writes.

PySD turns a model into a Python module and imports it, so any text of the model that reaches the
module unescaped could run as code. Translation removes the free text first (see `mdl_text`);
this check is the second line: the module is parsed with `ast` (never run) and every statement
and expression must be one of the forms PySD 3.14's Python builder emits
(`pysd/builders/python/`): the header imports, `component = Component()` and its controls, one
`@component.add(...)`-decorated function per variable whose body returns an expression, and the
stateful, lookup, external-data and macro objects beside them. Expressions may only use
arithmetic, comparisons, indexing, literals, argument-free lambdas, calls to the module's own
variables, to the PySD helpers the builder imports and to a fixed list of numpy/xarray
attributes. External data files must be plain names under `externals/`, macro modules plain
sibling file names. Anything else (an import of another module, a dunder attribute, a call to
`__import__`, `exec`, `open`, a comprehension, a loop ...) refuses the module with an error
naming the variable it sits in.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from carespiral.errors import UnsafeModelError

__all__ = ["VerifiedModule", "verify_module", "verify_source"]

# `from pysd.py_backend.<module> import <names>`: what ImportsManager writes, name by name
_PYSD_IMPORTS: dict[str, frozenset[str]] = {
    "functions": frozenset({
        "active_initial", "get_time_value", "if_then_else", "incomplete", "integer",
        "invert_matrix", "modulo", "not_implemented_function", "prod", "pulse", "quantum", "ramp",
        "step", "sum", "vector_rank", "vector_reorder", "vector_select", "vector_sort_order",
        "vmax", "vmin", "xidz", "zidz"}),
    "statefuls": frozenset({
        "Delay", "DelayFixed", "DelayN", "Forecast", "Initial", "Integ", "NonNegativeInteg",
        "SampleIfTrue", "Smooth", "Trend"}),
    "external": frozenset({"ExtConstant", "ExtData", "ExtLookup"}),
    "data": frozenset({"TabData"}),
    "lookups": frozenset({"HardcodedLookups"}),
    "allocation": frozenset({"allocate_available", "allocate_by_priority"}),
    "model": frozenset({"Macro"}),
}
# classes whose instances are the module-level objects (`_integ_stock = Integ(...)`)
_OBJECT_CLASSES = frozenset({
    "Delay", "DelayFixed", "DelayN", "Forecast", "Initial", "Integ", "NonNegativeInteg",
    "SampleIfTrue", "Smooth", "Trend", "ExtConstant", "ExtData", "ExtLookup", "TabData",
    "HardcodedLookups", "Macro"})
_EXTERNAL_CLASSES = frozenset({"ExtConstant", "ExtData", "ExtLookup"})
_BUILTINS = frozenset({"float", "len", "bool"})
# attributes the builder writes (numpy, xarray, scipy.stats, PySD's time object and objects)
_ATTRIBUTES = frozenset({
    "DataArray", "abs", "add", "arange", "arccos", "arcsin", "arctan", "array", "cos", "cosh",
    "exp", "expand_dims", "final_time", "full", "inf", "initial_time", "interp", "inv", "isnan",
    "linalg", "loc", "log", "logical_and", "logical_not", "logical_or", "max", "maximum", "min",
    "minimum", "moveaxis", "nan", "ndarray", "ones_like", "pi", "power", "prod", "random",
    "rename", "reset_coords", "reshape", "rvs", "saveper", "sin", "sinh", "sqrt", "stage", "sum",
    "tan", "tanh", "tile", "time_step", "transpose", "truncexpon", "truncnorm", "uniform",
    "values", "zeros_like"})
_FUNCTION_LOCALS = frozenset({"value", "except_subs", "def_subs"})
_EXTERNAL_FILE = re.compile(r"externals/[A-Za-z0-9][A-Za-z0-9._-]*")
_MACRO_FILE = re.compile(r"[A-Za-z0-9_]+\.py")

_INIT_OUTER = ast.dump(ast.parse(
    "def _init_outer_references(data):\n    for key in data:\n        __data[key] = data[key]\n"
).body[0])
_FIXED = {
    "__data": ast.dump(ast.parse("__data = {'scope': None, 'time': lambda: 0}").body[0]),
    "_root": ast.dump(ast.parse("_root = Path(__file__).parent").body[0]),
    "component": ast.dump(ast.parse("component = Component()").body[0]),
}


@dataclass(frozen=True)
class VerifiedModule:
    """What a checked module refers to: its external data files and macro modules."""

    externals: tuple[str, ...] = ()
    macros: tuple[str, ...] = ()


def verify_module(path: Path, model: Path | str, source: str | None = None) -> VerifiedModule:
    """Check the translated module at `path` (or its `source`); `model` names the model file in
    errors. Raises `UnsafeModelError` naming the variable of the first refused construct."""
    if source is None:
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UnsafeModelError(model, f"the translated module cannot be read ({exc})") from None
    return verify_source(source, model)


def verify_source(source: str, model: Path | str) -> VerifiedModule:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None)
        var = _variable_near(source, line)
        where = f" in variable {var!r}" if var else ""
        raise UnsafeModelError(
            model, f"the translation is not valid Python{where} (a name or text with a quote "
            "or a backslash where PySD writes it inside a string?)") from None
    return _Checker(model).module(tree)


class _Refused(Exception):
    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


@dataclass
class _Checker:
    model: Path | str
    defined: set[str] = field(default_factory=set)
    imported: set[str] = field(default_factory=set)
    objects: dict[str, str] = field(default_factory=dict)  # module object -> its class
    params: set[str] = field(default_factory=set)  # a macro's parameters (free names)
    externals: list[str] = field(default_factory=list)
    macros: list[str] = field(default_factory=list)

    def module(self, tree: ast.Module) -> VerifiedModule:
        body = list(tree.body)
        if body and _is_docstring(body[0]):
            body = body[1:]
        self._collect(body)
        current = "(module header)"
        for stmt in body:
            if isinstance(stmt, ast.FunctionDef):
                current = _component_name(stmt) or stmt.name
            try:
                self._statement(stmt)
            except _Refused as exc:
                raise UnsafeModelError(
                    self.model, f"variable {current!r}: the translated module contains "
                    f"{exc.what} (line {getattr(stmt, 'lineno', '?')}), which PySD's translator "
                    "does not write; the model file was made to run code and is refused",
                    hint="do not open this model; if it came from someone else, ask them "
                    "where it came from") from None
        return VerifiedModule(tuple(self.externals), tuple(self.macros))

    # ---- statements -------------------------------------------------------------------------

    def _collect(self, body: Iterable[ast.stmt]) -> None:
        for stmt in body:
            if isinstance(stmt, ast.FunctionDef):
                self.defined.add(stmt.name)
            elif isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(
                    stmt.targets[0], ast.Name):
                self.defined.add(stmt.targets[0].id)
                if stmt.targets[0].id == "_params" and isinstance(stmt.value, ast.Dict):
                    self.params = {v.value for v in stmt.value.values
                                   if isinstance(v, ast.Constant) and isinstance(v.value, str)
                                   and v.value.isidentifier() and not v.value.startswith("_")}

    def _statement(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, ast.Import | ast.ImportFrom):
            self._import(stmt)
        elif isinstance(stmt, ast.Assign):
            self._module_assign(stmt)
        elif isinstance(stmt, ast.Expr):
            self._add_call(stmt.value)
        elif isinstance(stmt, ast.FunctionDef):
            self._function(stmt)
        else:
            raise _Refused(_describe(stmt))

    def _import(self, stmt: ast.Import | ast.ImportFrom) -> None:
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if (alias.name, alias.asname) not in (("numpy", "np"), ("xarray", "xr")):
                    raise _Refused(f"an import of {alias.name!r}")
                self.imported.add(alias.asname or alias.name)
            return
        names = [(a.name, a.asname) for a in stmt.names]
        if stmt.level or any(asname for _, asname in names):
            raise _Refused("a relative or renamed import")
        module = stmt.module or ""
        if module == "pathlib" and names == [("Path", None)]:
            allowed: frozenset[str] = frozenset({"Path"})
        elif module == "pysd" and names == [("Component", None)]:
            allowed = frozenset({"Component"})
        elif module == "scipy" and names == [("stats", None)]:
            allowed = frozenset({"stats"})
        elif module.startswith("pysd.py_backend.") and module[16:] in _PYSD_IMPORTS:
            allowed = _PYSD_IMPORTS[module[16:]]
        else:
            raise _Refused(f"an import from {module!r}")
        for name, _ in names:
            if name not in allowed:
                raise _Refused(f"an import of {name!r} from {module!r}")
            self.imported.add(name)

    def _module_assign(self, stmt: ast.Assign) -> None:
        if len(stmt.targets) != 1 or not isinstance(stmt.targets[0], ast.Name):
            raise _Refused("an assignment to something other than a name")
        name = stmt.targets[0].id
        if name in _FIXED:
            if ast.dump(stmt) != _FIXED[name]:
                raise _Refused(f"an unexpected definition of {name}")
            return
        value = stmt.value
        if name == "__pysd_version__":
            if not (isinstance(value, ast.Constant) and isinstance(value.value, str)):
                raise _Refused("an unexpected version string")
        elif name in ("_subscript_dict", "_params"):
            _literal(value)
        elif name == "_control_vars":
            if not isinstance(value, ast.Dict) or not all(
                    isinstance(k, ast.Constant) for k in value.keys):
                raise _Refused("unexpected control variables")
            for v in value.values:
                self._expr(v, frozenset())
        elif name.startswith("_") and not name.startswith("__") and isinstance(value, ast.Call):
            cls = value.func.id if isinstance(value.func, ast.Name) else ""
            if cls not in _OBJECT_CLASSES or cls not in self.imported or name in self.objects:
                raise _Refused(f"an object built by {ast.unparse(value.func)[:40]!r}")
            self.objects[name] = cls
            self._object_call(cls, value)
        else:
            raise _Refused(f"an assignment to {name!r}")

    def _object_call(self, cls: str, call: ast.Call) -> None:
        args = list(call.args)
        if cls in _EXTERNAL_CLASSES:
            self._external_file(args[:1])
            args = args[1:]
        elif cls == "Macro":
            first = args[0] if args else None
            if not (isinstance(first, ast.Call) and isinstance(first.func, ast.Attribute)
                    and isinstance(first.func.value, ast.Name) and first.func.value.id == "_root"
                    and first.func.attr == "joinpath" and len(first.args) == 1
                    and not first.keywords and isinstance(first.args[0], ast.Constant)
                    and isinstance(first.args[0].value, str)
                    and _MACRO_FILE.fullmatch(first.args[0].value)):
                raise _Refused("a macro loaded from an unexpected place")
            self.macros.append(first.args[0].value)
            args = args[1:]
        # external objects are given the module's folder, where their files are
        self._call_arguments(args, call.keywords, frozenset({"_root"}))

    def _external_file(self, args: list[ast.expr]) -> None:
        first = args[0] if args else None
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str)
                and _EXTERNAL_FILE.fullmatch(first.value)):
            raise _Refused("an external data file outside the model's own data files")
        self.externals.append(first.value)

    def _add_call(self, node: ast.expr) -> None:
        # `_ext_data_x.add(file, ...)`: a further definition merged into an existing object
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "add" and isinstance(node.func.value, ast.Name)
                and node.func.value.id in self.objects):
            raise _Refused(_describe(node))
        args = list(node.args)
        if self.objects[node.func.value.id] in _EXTERNAL_CLASSES:
            self._external_file(args[:1])
            args = args[1:]
        self._call_arguments(args, node.keywords)

    def _function(self, fn: ast.FunctionDef) -> None:
        if fn.name == "_init_outer_references":
            if ast.dump(fn) != _INIT_OUTER:
                raise _Refused("an unexpected _init_outer_references")
            return
        if fn.name.startswith("__") or fn.returns is not None or getattr(fn, "type_params", None):
            raise _Refused(f"an unexpected function {fn.name!r}")
        if len(fn.decorator_list) != 1:
            raise _Refused("a function without its single @component.add decorator")
        deco = fn.decorator_list[0]
        if not (isinstance(deco, ast.Call) and ast.unparse(deco.func) == "component.add"
                and not deco.args):
            raise _Refused("an unexpected decorator")
        for kw in deco.keywords:
            if kw.arg not in ("name", "units", "limits", "subscripts", "comp_type",
                              "comp_subtype", "depends_on", "other_deps"):
                raise _Refused(f"an unexpected decorator argument {kw.arg!r}")
            _literal(kw.value)
        a = fn.args
        if a.posonlyargs or a.vararg or a.kwarg or a.kwonlyargs or a.kw_defaults:
            raise _Refused("unexpected function arguments")
        arg_names = [x.arg for x in a.args]
        if arg_names not in ([], ["x", "final_subs"]) or any(
                not (isinstance(d, ast.Constant) and d.value is None) for d in a.defaults):
            raise _Refused("unexpected function arguments")
        local = frozenset(arg_names) | _FUNCTION_LOCALS
        body = list(fn.body)
        if body and _is_docstring(body[0]):
            body = body[1:]
        if not body or not isinstance(body[-1], ast.Return) or body[-1].value is None:
            raise _Refused("a function that does not end by returning its value")
        for stmt in body[:-1]:
            if not isinstance(stmt, ast.Assign) or len(stmt.targets) != 1:
                raise _Refused(_describe(stmt))
            self._local_target(stmt.targets[0], local)
            self._expr(stmt.value, local)
        self._expr(body[-1].value, local)

    def _local_target(self, target: ast.expr, local: frozenset[str]) -> None:
        # value = ..., value.loc[...] = ..., value.values[...] = ..., except_subs.loc[...] = ...
        if isinstance(target, ast.Name):
            if target.id not in _FUNCTION_LOCALS:
                raise _Refused(f"an assignment to {target.id!r}")
            return
        if isinstance(target, ast.Subscript):
            self._expr(target.slice, local)
            base = target.value
            if isinstance(base, ast.Attribute) and base.attr in ("loc", "values"):
                base = base.value
            if isinstance(base, ast.Name) and base.id in _FUNCTION_LOCALS:
                return
        raise _Refused("an assignment to something other than the variable's value")

    # ---- expressions ------------------------------------------------------------------------

    def _call_arguments(self, args: Iterable[ast.expr], keywords: Iterable[ast.keyword],
                        local: frozenset[str] = frozenset()) -> None:
        for arg in args:
            self._expr(arg, local)
        for kw in keywords:
            if kw.arg is None or kw.arg.startswith("_"):
                raise _Refused("a call with unexpected keyword arguments")
            self._expr(kw.value, local)

    def _expr(self, node: ast.expr, local: frozenset[str]) -> None:
        if isinstance(node, ast.Constant):
            return
        if isinstance(node, ast.Name):
            if not self._known_name(node.id, local):
                raise _Refused(f"a reference to {node.id!r}")
            return
        if isinstance(node, ast.Attribute):
            if node.attr not in _ATTRIBUTES:
                raise _Refused(f"the attribute {node.attr!r}")
            self._expr(node.value, local)
        elif isinstance(node, ast.Call):
            self._expr(node.func, local)
            self._call_arguments(node.args, node.keywords, local)
        elif isinstance(node, ast.BinOp):
            self._expr(node.left, local)
            self._expr(node.right, local)
        elif isinstance(node, ast.UnaryOp):
            self._expr(node.operand, local)
        elif isinstance(node, ast.BoolOp):
            for v in node.values:
                self._expr(v, local)
        elif isinstance(node, ast.Compare):
            self._expr(node.left, local)
            for c in node.comparators:
                self._expr(c, local)
        elif isinstance(node, ast.Subscript):
            self._expr(node.value, local)
            self._expr(node.slice, local)
        elif isinstance(node, ast.Slice):
            for part in (node.lower, node.upper, node.step):
                if part is not None:
                    self._expr(part, local)
        elif isinstance(node, ast.Tuple | ast.List):
            for e in node.elts:
                self._expr(e, local)
        elif isinstance(node, ast.Dict):
            for k, v in zip(node.keys, node.values, strict=True):
                if k is None:
                    raise _Refused("a dictionary unpacking")
                self._expr(k, local)
                self._expr(v, local)
        elif isinstance(node, ast.Lambda):
            a = node.args
            if a.posonlyargs or a.args or a.vararg or a.kwonlyargs or a.kwarg:
                raise _Refused("a lambda with arguments")
            self._expr(node.body, local)
        else:
            raise _Refused(_describe(node))

    def _known_name(self, name: str, local: frozenset[str]) -> bool:
        if name in local or name in _BUILTINS or name == "__data":
            return True
        if name.startswith("__") or name in ("Path", "component", "_root", "__file__"):
            return False
        if name in self.imported:
            return name not in _OBJECT_CLASSES  # objects are built at module level only
        return name in self.defined or name in self.params


def _literal(node: ast.expr) -> None:
    """Decorator arguments and data tables: literals only (np.nan and np.inf allowed)."""
    if isinstance(node, ast.Constant):
        return
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        _literal(node.operand)
    elif isinstance(node, ast.Tuple | ast.List):
        for e in node.elts:
            _literal(e)
    elif isinstance(node, ast.Dict):
        for k, v in zip(node.keys, node.values, strict=True):
            if k is None:
                raise _Refused("a dictionary unpacking")
            _literal(k)
            _literal(v)
    elif not (isinstance(node, ast.Attribute) and node.attr in ("nan", "inf")
              and isinstance(node.value, ast.Name) and node.value.id == "np"):
        raise _Refused(f"{_describe(node)} where PySD writes a literal")


def _is_docstring(stmt: ast.stmt) -> bool:
    return (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
            and isinstance(stmt.value.value, str))


def _component_name(fn: ast.FunctionDef) -> str | None:
    for deco in fn.decorator_list:
        if isinstance(deco, ast.Call):
            for kw in deco.keywords:
                if kw.arg == "name" and isinstance(kw.value, ast.Constant):
                    return str(kw.value.value)
    return None


def _describe(node: ast.AST) -> str:
    if isinstance(node, ast.Expr):
        node = node.value
    if isinstance(node, ast.Call):
        return f"a call to {ast.unparse(node.func)[:60]!r}"
    kind = type(node).__name__
    return {"ListComp": "a comprehension", "SetComp": "a comprehension",
            "DictComp": "a comprehension", "GeneratorExp": "a generator",
            "JoinedStr": "an f-string", "NamedExpr": "an assignment expression",
            "IfExp": "a conditional expression", "Await": "an await", "Yield": "a yield",
            "YieldFrom": "a yield", "Starred": "an unpacking"}.get(kind, f"a statement of kind "
                                                                     f"{kind}")


def _variable_near(source: str, line: int | None) -> str | None:
    """The variable whose definition holds line `line` of a module that does not parse."""
    if not line:
        return None
    lines = source.splitlines()[:line]
    for text in reversed(lines):
        m = re.search(r"""name=(['"])(.*?)\1""", text)
        if m:
            return m.group(2)
    return None
