"""Vensim's ALLOCATE BY PRIORITY and ALLOCATE AVAILABLE, lowered to elementwise equations.

Both share out a supply among the targets of a vector (its last subscript) by a *priority
level* x: target i receives f_i(x), a non-increasing curve going from its whole request q_i
(x far below its priority) to 0 (x far above). The level is the one at which the curves add up
to the supply, F(x) = sum_i f_i(x) = supply; when the supply covers every request each target
gets its request, and a supply of 0 gives nothing.

- ALLOCATE BY PRIORITY(request, priority, size, width, supply): f_i(x) = q_i clip((p_i - x) /
  width, 0, 1). The highest priority is served first; the next one starts once the gap in
  priority is bridged (width), and the active targets then share at rates proportional to their
  requests, which is what this curve gives.
- ALLOCATE AVAILABLE(request, pp, avail): each target's curve is its priority profile
  (pp[target, ptype..pextra]): 1 rectangular, 2 triangular, 3 normal (ppriority the mean, pwidth
  the standard deviation), 4 exponential (symmetric, pwidth the scale), as Vensim and PySD
  define them. The profile type may change at run time: each run's curve is chosen by its
  type.

ALLOCATE BY PRIORITY's F is straight between the curves' corners, so its level is solved
exactly (`_solve_linear`). ALLOCATE AVAILABLE's is found by bisection (`available_level`,
`ITERATIONS` halvings, then the straight line through the last bracket's ends), one call per
vector at each step: a hidden node made once per vector, after every element is lowered, and
read by each of its cells through `available_curve`. The generated code calls them as
`rt.allocate_available_level` and `rt.allocate_available_curve`; the numba engine calls their
scalar twins (`scalar_runtime`), a loop compiled once and cached, and the JavaScript target its
own (`js_runtime`), all doing the same operations in the same order. (Unrolled into one node
per halving, the 40 vectors of the conformance model `allocate_available` made 6,071 nodes,
which numba took more than 170 CPU seconds to compile.)
"""

from __future__ import annotations

import dataclasses
from ast import literal_eval
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from carespiral.pysd_runner.batch.expressions import _Lowerer

__all__ = ["FIXED_TYPE", "ITERATIONS", "available_curve", "available_level", "fixed_types",
           "lower_allocate_available", "lower_allocate_by_priority", "reach"]

ITERATIONS = 24
# half-widths beyond which a normal or exponential profile is flat in double precision
# (PySD's bounds: erfc and exp fall below the smallest relative step there)
_NORMAL_REACH = 8.2923611
_EXP_REACH = 36.7368005696


# stem of the hidden nodes that read a profile type fixed at lowering
FIXED_TYPE = "alloc_fixed_type"


def fixed_types(aux: dict) -> set[str]:
    """The cells holding a priority profile type the lowering fixed (not settable per run)."""
    return {a.code for nid, a in aux.items() if nid.startswith(f"h_{FIXED_TYPE}")}


def _aux(low: _Lowerer, stem: str, code: str, deps: set[str]) -> str:
    from carespiral.pysd_runner.batch.program import Aux

    nid = low.hidden(stem)
    low.aux[nid] = Aux(nid, code, set(deps))
    return nid


def _shares(low: _Lowerer, curves: list, requests: list[str], supply: str, level: str,
            d: set[str], out: list[str]) -> None:
    """Each target's allocation at the level; the whole request when the supply covers every
    request, nothing from a supply of 0 (as Vensim and PySD)."""
    from carespiral.pysd_runner.batch.program import Aux

    whole = "(" + " + ".join(requests) + ")"
    for c, q, nid in zip(curves, requests, out, strict=True):
        share = c(level)  # a node, or inline code
        code = f"np.where({supply} >= {whole}, {q}, np.where({supply} > 0.0, {share}, 0.0))"
        low.aux[nid] = Aux(nid, code, d | {level} | ({share} & set(low.aux)))


def _solve_linear(low: _Lowerer, q: list[str], p: list[str], w: str, supply: str,
                  deps: set[str], out: list[str]) -> None:
    """ALLOCATE BY PRIORITY's level, exactly: F is straight between the curves' corners (p_i
    and p_i - width), so the level lies between the highest corner where F is at least the
    supply (L) and the lowest where it is at most (U), on the line through them."""
    d = set(deps) | {w}

    def curve(qi: str, pi: str, x: str) -> str:
        return f"({qi} * {_clip01(f'({pi} - {x}) / {w}')})"

    corners = [*p, *(f"({pi} - {w})" for pi in p)]
    at = []
    for c in corners:
        cid = _aux(low, "alloc_corner", c, d)
        fid = _aux(low, "alloc_f", "(" + " + ".join(curve(qi, pi, cid) for qi, pi in
                                                   zip(q, p, strict=True)) + ")", d | {cid})
        at.append((cid, fid))
    reads = d | {i for pair in at for i in pair}
    lo = _aux(low, "alloc_l", _chain("np.maximum", [f"np.where({f} >= {supply}, {c}, -INF)"
                                                     for c, f in at]), reads)
    flo = _aux(low, "alloc_fl", _chain("np.minimum", [f"np.where({f} >= {supply}, {f}, INF)"
                                                       for _, f in at]), reads)
    hi = _aux(low, "alloc_u", _chain("np.minimum", [f"np.where({f} <= {supply}, {c}, INF)"
                                                     for c, f in at]), reads)
    fhi = _aux(low, "alloc_fu", _chain("np.maximum", [f"np.where({f} <= {supply}, {f}, -INF)"
                                                       for _, f in at]), reads)
    level = _aux(low, "alloc_level", f"np.where({flo} > {fhi}, {lo} + ({flo} - {supply}) * "
                 f"({hi} - {lo}) / ({flo} - {fhi}), {lo})", d | {lo, flo, hi, fhi})
    curves = [lambda x, qi=qi, pi=pi: curve(qi, pi, x) for qi, pi in zip(q, p, strict=True)]
    _shares(low, curves, q, supply, level, d, out)


def _chain(fn: str, codes: list[str]) -> str:
    out = codes[0]
    for c in codes[1:]:
        out = f"{fn}({out}, {c})"
    return out


def _clip01(code: str) -> str:
    return f"np.minimum(np.maximum({code}, 0.0), 1.0)"


def _cells(low: _Lowerer, arg: object, deps: set[str]) -> tuple[list[str], int]:
    from carespiral.pysd_runner.batch.vectors import _along_last

    return _along_last(low, arg, deps)


def _outputs(low: _Lowerer, key: tuple, n: int, build) -> list[str]:
    """The result nodes of one vector's allocation, made once; `build(out)` fills them after
    every element is lowered (so the profile types' values are known)."""
    cache = low.vector_solutions
    if key not in cache:
        out = [low.hidden("alloc") for _ in range(n)]
        cache[key] = out
        low.finishers.append(lambda: build(out))
    return cache[key]


def lower_allocate_by_priority(low: _Lowerer, ast: object, deps: set[str]) -> str:
    """ALLOCATE BY PRIORITY(request[d], priority[d], size, width, supply): this cell's share."""
    d: set[str] = set()
    q, pos = _cells(low, ast.request, d)  # type: ignore[attr-defined]
    p, ppos = _cells(low, ast.priority, d)  # type: ignore[attr-defined]
    if len(p) != len(q) or ppos != pos:
        raise low.refuse("ALLOCATE BY PRIORITY whose request and priority are not over the "
                         "same last subscript")
    width = low.expr(ast.width, d)  # type: ignore[attr-defined]
    supply = low.expr(ast.supply, d)  # type: ignore[attr-defined]
    deps |= d

    def build(out: list[str]) -> None:
        w = _aux(low, "alloc_width", width, d)
        s_id = _aux(low, "alloc_supply", supply, d)
        _solve_linear(low, q, p, w, s_id, d | {s_id}, out)

    nodes = _outputs(low, ("by_priority", *q, "|", *p, "|", width, supply), len(q), build)
    deps.update(nodes)
    return nodes[pos]


def _profile_refs(low: _Lowerer, pp: object) -> list[object]:
    """The references to the four profile values (type, priority, width, extra) of `pp`,
    whose last subscript names the first of them (Vensim's `pp[target, ptype]`)."""
    ss = getattr(pp, "subscripts", None)
    subs = list(getattr(ss, "subscripts", None) or [])
    if len(subs) < 2:
        raise low.refuse("ALLOCATE AVAILABLE whose priority profile is not subscripted by "
                         "target and profile")
    first = subs[-1]
    rng = low.subs.range_name(first)
    if rng is not None:  # the whole profile dimension named
        elems = low.subs.ranges[rng]
    else:
        element = low.subs.element(first)
        holder = next((r for r, es in low.subs.ranges.items() if element in es), None)
        if element is None or holder is None:
            raise low.refuse(f"the priority profile element {first!r}")
        es = low.subs.ranges[holder]
        elems = es[es.index(element):]
    if len(elems) < 4:
        raise low.refuse("a priority profile with fewer than 4 values (ptype, ppriority, "
                         "pwidth, pextra)")
    return [dataclasses.replace(pp, subscripts=dataclasses.replace(  # type: ignore[type-var]
        ss, subscripts=[*subs[:-1], e])) for e in elems[:4]]


_KINDS = {1.0: "rect", 2.0: "tri", 3.0: "normal", 4.0: "exp"}


def _curve(kind: str | None, x, q, p, w):
    """Target's allocation at level x for one profile type, over arrays (PySD's and Vensim's
    curves). The numba engine's `s_available_curve` and the page's `allocCurve` do the same
    operations in the same order."""
    if kind in ("rect", "tri"):
        u = (x - p + 0.5 * w) / w  # 0 at the curve's start, 1 at its end
        if kind == "rect":
            return q * (1.0 - np.minimum(np.maximum(u, 0.0), 1.0))
        v = np.minimum(np.maximum(u, 0.0), 1.0)
        # 1 - 2v^2 below the middle, 2(1 - v)^2 above: with a = min(v, 1/2) and
        # b = max(v, 1/2), both are 2.5 - 2a^2 + 2b^2 - 4b
        a = np.minimum(v, 0.5)
        b = np.maximum(v, 0.5)
        return q * (2.5 - 2.0 * a * a + 2.0 * b * b - 4.0 * b)
    if kind == "normal":
        from scipy.special import erfc

        return q * (1.0 - 0.5 * erfc((p - x) / (1.4142135623730951 * w)))
    if kind == "exp":
        half = 0.5 * q * np.exp(-np.abs(x - p) / w)
        return np.where(x < p, q - half, half)
    return np.full(np.broadcast(x, q, p, w).shape, np.nan)  # not a type Vensim defines


def available_curve(x, t, q, p, w):
    """ALLOCATE AVAILABLE: what a target of profile type `t` (1 rectangular, 2 triangular,
    3 normal, 4 exponential; NaN for any other), request `q`, priority `p` and width `w`
    receives at the priority level `x` (numpy arrays over runs, or numbers)."""
    if np.ndim(t) == 0:  # one type for every run (fixed at lowering): one curve
        return _curve(_KINDS.get(float(t)), x, q, p, w)
    out = _curve(None, x, q, p, w)
    for code in np.unique(t[np.isin(t, list(_KINDS))]):
        out = np.where(t == code, _curve(_KINDS[float(code)], x, q, p, w), out)
    return out


def reach(kind: str) -> float:
    """How far from its priority, in widths, a profile's curve is not flat (normal, exp)."""
    return {"normal": _NORMAL_REACH, "exp": _EXP_REACH}[kind]


def available_level(supply, t: tuple, q: tuple, p: tuple, w: tuple):
    """ALLOCATE AVAILABLE's priority level: where the targets' curves add up to `supply`.

    Bisection of the bracket of every curve's reach (`ITERATIONS` halvings; F is monotone, so
    each moves the level a half-step up or down), then the straight line through the last
    bracket's ends (2**-24 of the first bracket: there the curves are straight or nearly so).
    One value per target in each tuple (arrays over runs, or numbers)."""
    reach = [np.where(ti <= 2.0, 0.5, np.where(ti == 3.0, _NORMAL_REACH, _EXP_REACH)) * wi
             for ti, wi in zip(t, w, strict=True)]
    lo = p[0] - reach[0]
    hi = p[0] + reach[0]
    for pi, r in zip(p[1:], reach[1:], strict=True):
        lo = np.minimum(lo, pi - r)
        hi = np.maximum(hi, pi + r)

    def total(x):
        f = available_curve(x, t[0], q[0], p[0], w[0])
        for args in zip(t[1:], q[1:], p[1:], w[1:], strict=True):
            f = f + available_curve(x, *args)
        return f

    step = 0.5 * (hi - lo)
    x = 0.5 * (lo + hi)
    for _ in range(ITERATIONS):
        step = 0.5 * step
        x = np.where(total(x) > supply, x + step, x - step)  # F above the supply: rise
    a = x - step
    b = x + step
    fa = total(a)
    fb = total(b)
    with np.errstate(divide="ignore", invalid="ignore"):  # fa == fb: the level is x
        return np.where(fa > fb, a + (fa - supply) * (b - a) / (fa - fb), x)


def _static_kind(low: _Lowerer, t: str) -> str | None:
    """The profile type of a cell holding a literal number, or None (computed at run time)."""
    node = low.aux.get(t)
    if node is None or node.deps:
        return None
    try:
        return _KINDS.get(float(node.code), "bad")
    except ValueError:
        return None


def lower_allocate_available(low: _Lowerer, ast: object, deps: set[str]) -> str:
    """ALLOCATE AVAILABLE(request[d], pp[d, ptype], avail): this cell's share."""
    d: set[str] = set()
    q, pos = _cells(low, ast.request, d)  # type: ignore[attr-defined]
    refs = _profile_refs(low, ast.pp)  # type: ignore[attr-defined]
    prof = []
    for ref in refs[:3]:  # type, priority, width (extra: Vensim's integer flag, unused here)
        cells, ppos = _cells_second_last(low, ref, d)
        if len(cells) != len(q) or ppos != pos:
            raise low.refuse("ALLOCATE AVAILABLE whose request and priority profile are not "
                             "over the same targets")
        prof.append(cells)
    avail = low.expr(ast.avail, d)  # type: ignore[attr-defined]
    deps |= d
    var = low.var

    def build(out: list[str]) -> None:
        types, prios, widths = prof
        kinds = []
        for t in types:
            kind = _static_kind(low, t)
            if kind == "bad":
                low.var = var
                raise low.refuse(f"ALLOCATE AVAILABLE with the priority profile type "
                                 f"{low.aux[t].code}", "the batch backend computes types 1 to "
                                 "4 (rectangular, triangular, normal, exponential)")
            if kind is None:  # computed at run time: every curve, chosen per run
                kinds.append(t)
                continue
            # the model's type, fixed at lowering: one curve instead of four (the batch model
            # refuses a run that sets this cell: see FIXED_TYPE)
            _aux(low, FIXED_TYPE, t, {t})
            low.aux[t].is_constant = False  # not a parameter a run may set
            kinds.append(repr(float(low.aux[t].code)))
        s_id = _aux(low, "alloc_supply", avail, d)
        args = ", ".join(_tuple(v) for v in (kinds, q, prios, widths))
        level = _aux(low, "alloc_level", f"rt.allocate_available_level({s_id}, {args})",
                     d | {s_id})
        curves = [lambda x, k=k, qi=qi, pi=pi, w=w: f"rt.allocate_available_curve({x}, {k}, "
                  f"{qi}, {pi}, {w})" for k, qi, pi, w in zip(kinds, q, prios, widths,
                                                             strict=True)]
        _shares(low, curves, q, s_id, level, d | {s_id}, out)

    key = ("available", *q, "|", *(c for cells in prof for c in cells), "|", avail)
    nodes = _outputs(low, key, len(q), build)
    deps.update(nodes)
    return nodes[pos]


def _tuple(codes: list[str]) -> str:
    """Cells as a tuple argument (one element per target); whole numbers written as floats,
    so that the numba engine's tuple holds one type."""
    out = []
    for c in codes:
        try:
            v = literal_eval(c)
        except (ValueError, SyntaxError):
            v = None
        out.append(repr(float(v)) if type(v) is int else c)
    return "(" + ", ".join(out) + ",)"


def _cells_second_last(low: _Lowerer, ref: object, deps: set[str]) -> tuple[list[str], int]:
    """A profile value's cells along the targets: the second-to-last subscript of `ref`."""
    ss = ref.subscripts  # type: ignore[attr-defined]
    subs = list(ss.subscripts)
    # lower along the target subscript moved last (the profile element stays fixed), with the
    # variable's cells keyed in the same order
    swapped = dataclasses.replace(ref, subscripts=dataclasses.replace(  # type: ignore[type-var]
        ss, subscripts=[*subs[:-2], subs[-1], subs[-2]]))
    from carespiral.pysd_runner.batch.vectors import _along_last

    saved = low.cells
    name = ref.reference  # type: ignore[attr-defined]
    cells = saved.get(name)
    if cells is None:
        raise low.refuse(f"an undefined variable {name!r}")
    low.cells = {**saved, name: {(*k[:-2], k[-1], k[-2]): v for k, v in cells.items()
                                 if len(k) >= 2}}
    try:
        return _along_last(low, swapped, deps)
    finally:
        low.cells = saved
