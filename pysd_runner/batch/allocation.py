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
  define them. The profile type may change at run time: every curve is written, chosen
  elementwise.

ALLOCATE BY PRIORITY's F is straight between the curves' corners, so its level is solved
exactly (`_solve_linear`). ALLOCATE AVAILABLE's is found by bisection unrolled into `ITERATIONS`
hidden nodes (one a halving, the same operations in both engines; F is monotone, so each moves
the level a half-step up or down), then by the straight line through the last bracket's ends
(2**-24 of the first bracket: there the curves are straight or nearly so). The nodes are made
once per vector, after every element is lowered, and read by each of its cells.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from carespiral.pysd_runner.batch.expressions import _Lowerer

__all__ = ["FIXED_TYPE", "ITERATIONS", "fixed_types", "lower_allocate_available",
           "lower_allocate_by_priority"]

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


def _solve(low: _Lowerer, curves: list, requests: list[str], lo: str, hi: str,
           supply: str, deps: set[str], out: list[str]) -> None:
    """Fill the nodes `out` with each target's allocation: `curves[i](x)` is target i's curve
    at level x (code), the level lies in [lo, hi] (codes); `deps` are the nodes all of these
    read. Bisection to a bracket of 2**-ITERATIONS of [lo, hi], then the straight line through
    the bracket's ends (the curves are smooth there, or straight: rectangular)."""
    d = set(deps)
    lo_id = _aux(low, "alloc_lo", lo, d)
    hi_id = _aux(low, "alloc_hi", hi, d)
    half = _aux(low, "alloc_half", f"(0.5 * ({hi_id} - {lo_id}))", {lo_id, hi_id})
    x = _aux(low, "alloc_x", f"(0.5 * ({lo_id} + {hi_id}))", {lo_id, hi_id})

    def curve(c, at: str) -> str:
        # sub-expressions written inline: numba's compile time grows with the statements
        return _aux(low, "alloc_f", c(at, lambda code: f"({code})"), d | {at})

    def total(at: str) -> tuple[str, set[str]]:
        # each curve its own node: short statements compile far faster for numba
        ids = [curve(c, at) for c in curves]
        return "(" + " + ".join(ids) + ")", set(ids)

    step = half
    for _ in range(ITERATIONS):
        # F(x) above the supply: the level must rise (F is non-increasing). Every halving has
        # the same code but for its nodes, so the numba engine runs them as loops (`loops`)
        step = _aux(low, "alloc_step", f"(0.5 * {step})", {step})
        f, reads = total(x)
        x = _aux(low, "alloc_x", f"np.where({f} > {supply}, {x} + {step}, {x} - {step})",
                 reads | {x, step, supply})
    a = _aux(low, "alloc_a", f"({x} - {step})", {x, step})
    b = _aux(low, "alloc_b", f"({x} + {step})", {x, step})
    fa_code, fa_reads = total(a)
    fb_code, fb_reads = total(b)
    fa = _aux(low, "alloc_fa", fa_code, fa_reads)
    fb = _aux(low, "alloc_fb", fb_code, fb_reads)
    level = _aux(low, "alloc_level", f"np.where({fa} > {fb}, {a} + ({fa} - {supply}) * "
                 f"({b} - {a}) / ({fa} - {fb}), {x})", {a, b, fa, fb, x} | d)
    _shares(low, [lambda at, c=c: curve(c, at) for c in curves], requests, supply, level, d,
            out)


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
_REACH = {"rect": 0.5, "tri": 0.5, "normal": _NORMAL_REACH, "exp": _EXP_REACH}


def _curves(node, t: str, q: str, p: str, w: str, x: str, kinds) -> dict[str, str]:
    """Target's allocation at level x for the profile types `kinds` (codes): PySD's and
    Vensim's curves. `node(code)` gives the code by which a sub-expression is read."""
    out = {}
    if {"rect", "tri"} & set(kinds):
        u = node(f"(({x} - {p} + 0.5 * {w}) / {w})")  # 0 at the curve's start, 1 at its end
        v = node(f"np.minimum(np.maximum({u}, 0.0), 1.0)") if "tri" in kinds else None
        if "rect" in kinds:
            lo = node(f"np.maximum({u}, 0.0)")
            out["rect"] = f"({q} * (1.0 - np.minimum({lo}, 1.0)))"
        if "tri" in kinds:
            # 1 - 2v^2 below the middle, 2(1 - v)^2 above: with a = min(v, 1/2) and
            # b = max(v, 1/2), both are 2.5 - 2a^2 + 2b^2 - 4b
            a = node(f"np.minimum({v}, 0.5)")
            b = node(f"np.maximum({v}, 0.5)")
            out["tri"] = f"({q} * (2.5 - 2.0 * {a} * {a} + 2.0 * {b} * {b} - 4.0 * {b}))"
    if "normal" in kinds:
        out["normal"] = f"({q} * (1.0 - 0.5 * rt.erfc(({p} - {x}) / (1.4142135623730951 * {w}))))"
    if "exp" in kinds:
        half = node(f"(0.5 * {q} * np.exp(-np.abs({x} - {p}) / {w}))")
        out["exp"] = f"np.where({x} < {p}, {q} - {half}, {half})"
    return out


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
        curves, reach = [], []
        for t, qi, pi, w in zip(types, q, prios, widths, strict=True):
            kind = _static_kind(low, t)
            if kind == "bad":
                low.var = var
                raise low.refuse(f"ALLOCATE AVAILABLE with the priority profile type "
                                 f"{low.aux[t].code}", "the batch backend computes types 1 to "
                                 "4 (rectangular, triangular, normal, exponential)")
            if kind is not None:
                # the model's type, fixed at lowering: one curve instead of four (the batch
                # model refuses a run that sets this cell: see FIXED_TYPE)
                _aux(low, FIXED_TYPE, t, {t})
                low.aux[t].is_constant = False  # not a parameter a run may set

                def static(x: str, node, k: str = kind, qi: str = qi, pi: str = pi,
                           w: str = w) -> str:
                    return _curves(node, "", qi, pi, w, x, (k,))[k]
                curves.append(static)
                reach.append(f"({_REACH[kind]!r} * {w})")
            else:
                def dynamic(x: str, node, t: str = t, qi: str = qi, pi: str = pi,
                            w: str = w) -> str:
                    c = _curves(node, t, qi, pi, w, x, tuple(_REACH))
                    return (f"np.where({t} == 1.0, {c['rect']}, np.where({t} == 2.0, {c['tri']}, "
                            f"np.where({t} == 3.0, {c['normal']}, np.where({t} == 4.0, "
                            f"{c['exp']}, NAN))))")
                curves.append(dynamic)
                reach.append(f"(np.where({t} <= 2.0, 0.5, np.where({t} == 3.0, "
                             f"{_NORMAL_REACH!r}, {_EXP_REACH!r})) * {w})")
        lo = _chain("np.minimum", [f"({pi} - {r})" for pi, r in zip(prios, reach, strict=True)])
        hi = _chain("np.maximum", [f"({pi} + {r})" for pi, r in zip(prios, reach, strict=True)])
        s_id = _aux(low, "alloc_supply", avail, d)
        _solve(low, curves, q, lo, hi, s_id, d | {s_id}, out)

    key = ("available", *q, "|", *(c for cells in prof for c in cells), "|", avail)
    nodes = _outputs(low, key, len(q), build)
    deps.update(nodes)
    return nodes[pos]


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
