"""Model mistakes found before or while running, reported by variable instead of a traceback.

- Simultaneous equations: auxiliaries that depend on each other in a loop with no stock (or
  smooth, delay, INITIAL) to break it. Vensim refuses such a model; PySD would recurse until
  Python's stack runs out. `check_simultaneous` finds the loop in the abstract model.
- Errors while PySD runs the translated module (a constant equation dividing by zero, a loop
  the check above could not see, an external data file PySD cannot read): `explain` names the
  variable whose equation raised it.
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from carespiral.errors import CarespiralError, FileFormatError, ModelRunError

__all__ = ["check_simultaneous", "explain", "simultaneous_loop"]

# structures whose value at a time does not depend on their inputs at that time
_BREAKERS = frozenset({
    "IntegStructure", "DelayStructure", "DelayNStructure", "DelayFixedStructure",
    "SmoothStructure", "SmoothNStructure", "InitialStructure"})
_INITIAL_FIELDS = frozenset({"initial"})


def check_simultaneous(am: Any, path: Path) -> None:
    """Raise FileFormatError naming the variables of a loop of equations without a stock."""
    loop = simultaneous_loop(am)
    if loop:
        chain = " -> ".join([*loop, loop[0]])
        raise FileFormatError(
            path, f"simultaneous equations: {chain} depend on each other with no stock "
            "between them, so none can be computed first",
            hint="break the loop with a stock (INTEG) or a SMOOTH/DELAY, as Vensim requires")


def simultaneous_loop(am: Any) -> list[str] | None:
    """The Vensim names of one loop of same-time dependencies in the main section, or None."""
    from pysd.builders.python.namespace import NamespaceManager

    main = next((s for s in am.sections if s.type == "main"), None)
    if main is None:
        return None
    macros = {s.name for s in am.sections if s.type == "macro"}
    ns = NamespaceManager()
    by_ref: dict[str, str] = {}
    for el in main.elements:
        ns.add_to_namespace(el.name)
        by_ref[ns.namespace[el.name]] = el.name
        by_ref.setdefault(el.name.lower().replace(" ", "_"), el.name)
    edges: dict[str, set[str]] = {}
    for el in main.elements:
        refs: set[str] = set()
        for comp in el.components:
            refs |= _current_references(comp.ast, macros)
        edges[el.name] = {by_ref[r] for r in refs if r in by_ref}
    return _find_cycle(edges)


def _current_references(node: Any, macros: set[str]) -> set[str]:
    """References an expression needs at the same time step (not through a stateful)."""
    out: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        kind = type(item).__name__
        if kind in _BREAKERS:
            continue
        if kind == "ReferenceStructure":
            out.add(item.reference)
            stack.append(getattr(item, "subscripts", None))
        elif kind == "CallStructure":
            fn = getattr(item.function, "reference", "")
            if fn in macros:
                continue  # a macro may hold a stock: do not guess
            args = list(item.arguments)
            stack.extend(args[:1] if fn == "active_initial" else args)
            stack.append(item.function)
        elif dataclasses.is_dataclass(item) and not isinstance(item, type):
            stack.extend(getattr(item, f.name) for f in dataclasses.fields(item)
                         if f.name not in _INITIAL_FIELDS)
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return out


def _find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph (node -> the nodes it depends on), in dependency order."""
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(edges, white)
    for root in edges:
        if colour[root] != white:
            continue
        path: list[str] = []
        stack: list[tuple[str, Iterable[str]]] = [(root, iter(sorted(edges[root])))]
        colour[root] = grey
        path.append(root)
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                colour[node] = black
                stack.pop()
                path.pop()
            elif colour.get(nxt, black) == grey:
                cycle = path[path.index(nxt):]
                return list(reversed(cycle))  # causes first: a -> b means b uses a
            elif colour.get(nxt, black) == white:
                colour[nxt] = grey
                path.append(nxt)
                stack.append((nxt, iter(sorted(edges[nxt]))))
    return None


def explain(exc: BaseException, model: str, module: Path | None,
            files: dict[str, str] | None = None) -> CarespiralError | None:
    """A CarespiralError for an exception raised while PySD ran the model, or None (a bug).

    `module` is the translated file: its frames in the traceback say which variable's equation
    was running. `files` maps external data files' names in the cache entry to the paths the
    model wrote.
    """
    if isinstance(exc, RecursionError):
        return CarespiralError(
            f"{model}: its equations call each other without end (simultaneous "
            "equations, or an initial value that depends on itself); break the loop with a "
            "stock (INTEG) or a SMOOTH/DELAY")
    external = _external_frame(exc)
    if external is not None:
        py_name, file = external
        var = _module_names(module).get(_owner_of_object(py_name, module), py_name)
        name = Path(str(file)).name
        written = next((w for c, w in (files or {}).items() if Path(c).name == name), name)
        # PySD's messages: the object's name, the problem, then tab-indented file details
        lines = [t.strip() for t in str(exc).splitlines()
                 if t.strip() and not t.startswith("\t") and t.strip() != py_name]
        problem = " ".join(lines)[:300] or type(exc).__name__
        return FileFormatError(model, f"variable {var!r}: cannot read its external data file "
                               f"{written!r}: {problem}",
                               hint="check the file, and the sheet and cell names in the "
                               "equation")
    if isinstance(exc, ZeroDivisionError | OverflowError):
        var = _variable_frame(exc, module)
        where = f"the equation of {var!r}" if var else "an equation"
        what = "divides by zero" if isinstance(exc, ZeroDivisionError) else "overflows"
        return ModelRunError(
            f"{model}: {where} {what} while PySD runs it (PySD stops where Vensim "
            "would give infinity); check the values it divides by, write XIDZ/ZIDZ for a "
            "division that may be by zero, or run it with Model.run_batch, which flags the "
            "run instead")
    return _pysd_limit(exc, model, module)


_PYSD_RUNTIME = "/pysd/py_backend/"


def _in_pysd(frame) -> bool:
    return _PYSD_RUNTIME in frame.f_code.co_filename.replace("\\", "/")


def _pysd_limit(exc: BaseException, model: str, module: Path | None) -> ModelRunError | None:
    """PySD's own run-time code failing on a model it translated (e.g. a DELAY FIXED whose delay
    time is subscripted, which PySD 3.14 compares as one number): a limit of PySD, named with the
    variable, not a bug of carespiral. Anything raised outside PySD's run-time code stays a bug."""
    if not isinstance(exc, ValueError | TypeError | IndexError | KeyError | NotImplementedError):
        return None
    frames = list(_frames(exc))
    if not any(_in_pysd(f) for f in frames[-3:]):
        return None
    var = _variable_frame(exc, module)
    if var is None:  # in a stateful object of PySD's (DELAY, SMOOTH, ...): its variable
        owner = next((f.f_locals.get("self") for f in reversed(frames)
                      if _in_pysd(f) and hasattr(f.f_locals.get("self"), "py_name")), None)
        py = getattr(owner, "py_name", None)
        if py:
            var = _module_names(module).get(_owner_of_object(py, module), py)
    where = f"the equation of {var!r}" if var else "it"
    first = str(exc).splitlines()[0][:200] if str(exc) else ""
    import pysd

    return ModelRunError(
        f"{model}: PySD {pysd.__version__} cannot run {where} ({type(exc).__name__}: {first}); "
        "this is a limit of PySD, not necessarily a mistake in the model. The batch engines do "
        "not use PySD's run-time code and may run it: "
        "carespiral.pysd_runner.batch.compile_model(PATH).run(...)")


def _module_names(module: Path | None) -> dict[str, str]:
    """Python name -> Vensim name of each variable of a translated module."""
    tree = _parse(module)
    if tree is None:
        return {}
    return {stmt.name: name for stmt in tree.body if isinstance(stmt, ast.FunctionDef)
            for name in [_component_name(stmt)] if name}


def _owner_of_object(obj: str, module: Path | None) -> str:
    """The Python name of the variable whose function precedes module-level object `obj`."""
    tree = _parse(module)
    owner = obj
    for stmt in tree.body if tree is not None else ():
        if isinstance(stmt, ast.FunctionDef):
            owner = stmt.name
        elif isinstance(stmt, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == obj for t in stmt.targets):
            return owner
    return obj


def _parse(module: Path | None) -> ast.Module | None:
    if module is None:
        return None
    try:
        return ast.parse(module.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return None


def _frames(exc: BaseException):
    tb = exc.__traceback__
    while tb is not None:
        yield tb.tb_frame
        tb = tb.tb_next


def _variable_frame(exc: BaseException, module: Path | None) -> str | None:
    """The Vensim name of the variable whose equation (or stateful object) raised `exc`."""
    line = None
    for frame in _frames(exc):
        if module is not None and Path(frame.f_code.co_filename) == module:
            line = frame.f_lineno
    tree = _parse(module)
    if line is None or tree is None:
        return None
    owner = None
    for stmt in tree.body:  # PySD writes a variable's objects right after its function
        if isinstance(stmt, ast.FunctionDef):
            owner = _component_name(stmt) or owner
        if stmt.lineno <= line <= (stmt.end_lineno or stmt.lineno):
            return owner
    return None


def _component_name(fn: ast.FunctionDef) -> str | None:
    for deco in fn.decorator_list:
        if isinstance(deco, ast.Call):
            for kw in deco.keywords:
                if kw.arg == "name" and isinstance(kw.value, ast.Constant):
                    return str(kw.value.value)
    return None


def _external_frame(exc: BaseException) -> tuple[str, object] | None:
    from pysd.py_backend.external import External

    for frame in _frames(exc):
        obj = frame.f_locals.get("self")
        if isinstance(obj, External):
            return str(getattr(obj, "py_name", "?")), getattr(obj, "file", "?")
    return None
