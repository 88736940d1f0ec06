"""Vensim's vector functions, lowered cell by cell (see `subscripts`).

`SUM(x[Region!])` iterates over the elements of the range marked `!`: the argument is lowered
once per element (the range bound to it) and the terms are combined (`+`, `*`, minimum, maximum).
The functions that reorder a whole vector (VECTOR SORT ORDER, VECTOR RANK, VECTOR REORDER,
VECTOR ELM MAP) read the vector's cells along its last subscript and build each result cell from
comparisons, so that both engines compute them with the same elementwise operations.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from carespiral.pysd_runner.batch.expressions import _Lowerer

__all__ = ["VECTOR_FUNCS", "lower_vector"]

_REDUCE = ("sum", "prod", "vmin", "vmax")
VECTOR_FUNCS = frozenset({*_REDUCE, "elmcount", "vector_select", "vector_sort_order",
                          "vector_rank", "vector_reorder", "vector_elm_map"})


def _walk(node: object, out: list[str], stop: bool = False) -> None:
    """Ranges marked `!` in an expression, outside nested vector functions, in order."""
    name = type(node).__name__
    if name == "CallStructure" and stop and node.function.reference in VECTOR_FUNCS:  # type: ignore[attr-defined]
        return
    if name == "SubscriptsReferenceStructure":
        for s in node.subscripts:  # type: ignore[attr-defined]
            if s.endswith("!") and s[:-1] not in out:
                out.append(s[:-1])
        return
    if isinstance(node, (list, tuple)):
        for x in node:
            _walk(x, out, True)
    elif hasattr(node, "__dataclass_fields__"):
        for f in node.__dataclass_fields__:  # type: ignore[attr-defined]
            _walk(getattr(node, f), out, True)


def _terms(low: _Lowerer, arg: object, deps: set[str], bangs: list[str],
           rebind: bool = False) -> list[str]:
    """The argument lowered once per combination of the `!` ranges' elements (or, with
    `rebind`, of the ranges' elements replacing their left-hand side binding)."""
    saved = low.bind
    ranges = []
    for b in bangs:
        r = low.subs.range_name(b)
        if r is None:
            raise low.refuse(f"the vector range {b!r}, which is not a subscript range")
        ranges.append(r)
    out = []
    try:
        for combo in itertools.product(*(low.subs.ranges[r] for r in ranges)):
            bind = saved
            for r, e in zip(ranges, combo, strict=True):
                if rebind:
                    bind = bind.with_lhs(r, e, lambda a, b: low.subs.range_name(a) == b)
                else:
                    bind = bind.with_bang(r, e)
            low.bind = bind
            term_deps: set[str] = set()
            code = low.expr(arg, term_deps)
            if not code.isidentifier() and term_deps:
                # a compound term gets its own node: the functions below repeat their terms
                from carespiral.pysd_runner.batch.program import Aux

                nid = low.hidden("vec")
                low.aux[nid] = Aux(nid, code, term_deps)
                code, term_deps = nid, {nid}
            deps |= term_deps
            out.append(code)
    finally:
        low.bind = saved
    return out


def _chain(template: str, terms: list[str]) -> str:
    out = terms[0]
    for t in terms[1:]:
        out = template.format(out, t)
    return out


def _along_last(low: _Lowerer, arg: object, deps: set[str]) -> tuple[list[str], int]:
    """The cells of a vector argument along its last subscript, and this cell's position."""
    subs = list(getattr(getattr(arg, "subscripts", None), "subscripts", None) or [])
    if not subs:
        raise low.refuse("a vector function whose argument is not a subscripted variable")
    last = low.subs.range_name(subs[-1])
    if last is None:
        raise low.refuse(f"a vector function over the element {subs[-1]!r}")
    here = low.subs.resolve(subs[-1], low.bind)
    pos = low.subs.ranges[last].index(here)
    return _terms(low, arg, deps, [last], rebind=True), pos


def _rank0(vals: list[str], j: int) -> str:
    """0-based stable ascending rank of element j: how many come before it in sorted order."""
    parts = [f"({vals[k]} < {vals[j]})" for k in range(len(vals)) if k != j]
    parts += [f"({vals[k]} == {vals[j]})" for k in range(j)]
    return "(" + " + ".join(["0.0", *parts]) + ")"


def _rank_nodes(low: _Lowerer, vals: list[str], deps: set[str]) -> list[str]:
    """Nodes holding each element's rank in a vector, made once per vector: every cell of a
    sort order or rank reads them (written inline, a vector of n would cost n^3 terms)."""
    from carespiral.pysd_runner.batch.program import Aux

    key = tuple(vals)
    if key not in low.vector_ranks:
        nodes = []
        for j in range(len(vals)):
            nid = low.hidden("rank")
            low.aux[nid] = Aux(nid, _rank0(vals, j), set(deps))
            nodes.append(nid)
        low.vector_ranks[key] = nodes
    return low.vector_ranks[key]


def lower_vector(low: _Lowerer, fname: str, args: tuple, deps: set[str]) -> str:
    if fname == "elmcount":
        r = low.subs.range_name(getattr(args[0], "reference", "")) if args else None
        if r is None:
            raise low.refuse("ELMCOUNT of something that is not a subscript range")
        return repr(float(len(low.subs.ranges[r])))
    if fname in _REDUCE:
        bangs: list[str] = []
        _walk(args[0], bangs)
        if not bangs:
            raise low.refuse(f"{fname.upper()} without a range marked '!'")
        terms = _terms(low, args[0], deps, bangs)
        template = {"sum": "({0} + {1})", "prod": "({0} * {1})", "vmin": "np.minimum({0}, {1})",
                    "vmax": "np.maximum({0}, {1})"}[fname]
        return _chain(template, terms)
    if fname == "vector_select":
        return _select(low, args, deps)
    vdeps: set[str] = set()
    vals, pos = _along_last(low, args[0], vdeps)
    deps |= vdeps
    n = len(vals)
    if fname in ("vector_sort_order", "vector_rank"):
        direction = low.expr(args[1], deps)
        ranks = _rank_nodes(low, vals, vdeps)
        deps.update(ranks)
        if fname == "vector_rank":  # 1-based rank; descending: the reverse
            return f"np.where({direction} <= 0, ({n} - {ranks[pos]}), ({ranks[pos]} + 1))"
        # the index of the element at sorted position p (ascending), or n-1-p (descending)
        asc = "(" + " + ".join(f"({j} * ({ranks[j]} == {pos}))" for j in range(n)) + ")"
        desc = "(" + " + ".join(f"({j} * ({ranks[j]} == {n - 1 - pos}))"
                                for j in range(n)) + ")"
        return f"np.where({direction} <= 0, {desc}, {asc})"
    if fname == "vector_reorder":
        order, _ = _along_last(low, args[1], deps)
        return _pick(vals, order[pos])
    if fname == "vector_elm_map":
        offset = low.expr(args[1], deps)
        return _pick(vals, f"({pos} + {offset})")
    raise low.refuse(f"the function {fname.upper()}")


def _pick(vals: list[str], index: str) -> str:
    """vals[index] for an index computed at run time (NaN outside the vector)."""
    out = "NAN"
    for j in reversed(range(len(vals))):
        out = f"np.where(np.trunc({index}) == {j}, {vals[j]}, {out})"
    return out


_ACTIONS = {0: ("sum", "prod"), 1: ("prod", "prod"), 2: ("min", "prod"), 3: ("max", "prod"),
            4: ("mean", "prod"), 5: ("prod", "pow"), 6: ("sum", "x"), 7: ("prod", "x"),
            8: ("min", "x"), 9: ("max", "x"), 10: ("mean", "x")}


def _select(low: _Lowerer, args: tuple, deps: set[str]) -> str:
    """VECTOR SELECT(selection[d!], values[d!], missing, numerical action, error action)."""
    if len(args) != 5:
        raise low.refuse(f"VECTOR SELECT with {len(args)} arguments")
    bangs: list[str] = []
    _walk(args[0], bangs)
    _walk(args[1], bangs)
    sel = _terms(low, args[0], deps, bangs)
    val = _terms(low, args[1], deps, bangs)
    missing = low.expr(args[2], deps)
    action_ast, error_ast = args[3], args[4]
    if not (isinstance(error_ast, (int, float)) and float(error_ast) == 0):
        raise low.refuse("VECTOR SELECT with an error action",
                         "a batch cannot stop one run; use error action 0")
    none = "(" + " + ".join(["0.0", *(f"({s} != 0)" for s in sel)]) + " == 0)"

    def variant(action: int) -> str:
        how, what = _ACTIONS[action]
        items = [{"prod": f"({s} * {v})", "pow": f"np.power({v}, {s})", "x": v}[what]
                 for s, v in zip(sel, val, strict=True)]
        neutral = {"sum": "0.0", "mean": "0.0", "prod": "1.0", "min": "INF", "max": "(-INF)"}[how]
        masked = [f"np.where({s} != 0, {x}, {neutral})" for s, x in zip(sel, items, strict=True)]
        template = {"sum": "({0} + {1})", "mean": "({0} + {1})", "prod": "({0} * {1})",
                    "min": "np.minimum({0}, {1})", "max": "np.maximum({0}, {1})"}[how]
        out = _chain(template, masked)
        if how == "mean":
            count = "(" + " + ".join(["0.0", *(f"({s} != 0)" for s in sel)]) + ")"
            out = f"({out} / np.maximum({count}, 1.0))"
        return out

    if isinstance(action_ast, (int, float)) or type(action_ast).__module__ == "numpy":
        a = float(action_ast)  # type: ignore[arg-type]
        if a not in _ACTIONS:
            raise low.refuse(f"VECTOR SELECT with numerical action {a:g}")
        body = variant(int(a))
    else:  # an action computed at run time: every variant, chosen elementwise
        action = low.expr(action_ast, deps)
        body = "NAN"
        for a in reversed(sorted(_ACTIONS)):
            body = f"np.where({action} == {a}, {variant(a)}, {body})"
    return f"np.where({none}, {missing}, {body})"
