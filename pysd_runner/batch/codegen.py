"""Generate one numpy function per (model, run configuration) from a lowered `Program`.

The generated function integrates every run of a batch at once: one numpy operation per
equation per time step, over arrays with one element per run (in a subscripted model, one per
group of alike cells, over a block of cells by runs: `arrays.py`). Its source is kept
(readable, cacheable, picklable to Dask workers) and compiled with `exec`.

Order of evaluation (as PySD and Vensim): at the initial time every variable and every state's
initial value is computed in dependency order; then, at each step, all auxiliaries are computed
from the states, outputs are recorded, all derivatives are taken and only then are the states
moved on (Euler: ``x + ddt * dt``).
"""

from __future__ import annotations

import ast
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from carespiral.errors import CarespiralError
from carespiral.pysd_runner.batch.lowering import Program
from carespiral.pysd_runner.batch.program import RANDOM_RUN

__all__ = ["Generated", "Plan", "generate", "plan"]


@dataclass(frozen=True)
class Generated:
    source: str
    outputs: tuple[str, ...]  # node ids recorded, in order
    checked: tuple[str, ...]  # state ids checked for blow-ups, in order
    engine: str = "numpy"  # which engine's code this is: numpy or numba


def _toposort(nodes: Iterable[str], deps: Mapping[str, set[str]], what: str,
              label: Mapping[str, str]) -> list[str]:
    nodes = list(nodes)
    inside = set(nodes)
    order: list[str] = []
    mark: dict[str, int] = {}
    for root in nodes:
        if root in mark:
            continue
        stack: list[tuple[str, Iterable[str]]] = [(root, iter(sorted(deps[root] & inside)))]
        mark[root] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                stack.pop()
                mark[node] = 2
                order.append(node)
            elif mark.get(nxt) == 1:
                cycle = [n for n, _ in stack]
                cycle = cycle[cycle.index(nxt):]
                names = " -> ".join(label.get(c, c) for c in [*cycle, nxt])
                raise CarespiralError(f"circular dependency while {what}: {names}")
            elif nxt not in mark:
                mark[nxt] = 1
                stack.append((nxt, iter(sorted(deps[nxt] & inside))))
    return order


@dataclass(frozen=True)
class Plan:
    """What a generated function computes, and when: shared by the numpy and numba emitters."""

    prog: Program
    params: frozenset[str]
    inputs: frozenset[str]
    outputs: tuple[str, ...]
    every_step: bool
    init_lines: tuple[str, ...]  # initialisation statements (numpy), up to the loop
    moving: frozenset[str]  # states that change over time
    core: tuple[tuple[str, str], ...]  # (id, code) computed every step, in order
    extra: tuple[tuple[str, str], ...]  # (id, code) computed only when recording
    checked: tuple[str, ...]  # state ids checked for blow-ups, in order


# Plans by program (id) and configuration: the numpy and numba emitters of one configuration
# share one (a large subscripted model spends most of its code generation here); an entry goes
# with its program (weakref.finalize), a Plan is frozen.
_PLANS: dict[int, dict[tuple, Plan]] = {}


def plan(prog: Program, params: Iterable[str], inputs: Iterable[str],
         outputs: Iterable[str], every_step: bool, varying: bool = False) -> Plan:
    """Order the equations of one run configuration (see `generate`); `varying`: the time
    step changes from step to step (so nothing reading it is computed once)."""
    params, inputs, outputs = set(params), set(inputs), list(outputs)
    key = (frozenset(params), frozenset(inputs), tuple(outputs), bool(every_step), bool(varying))
    cached = _PLANS.get(id(prog))
    if cached is not None and key in cached and cached[key].prog is prog:
        return cached[key]
    pl = _plan(prog, params, inputs, outputs, every_step, varying)
    if cached is None:
        cached = _PLANS[id(prog)] = {}
        weakref.finalize(prog, _PLANS.pop, id(prog), None)
    cached[key] = pl
    return pl


def _plan(prog: Program, params: set[str], inputs: set[str], outputs: list[str],
          every_step: bool, varying: bool) -> Plan:
    if varying and every_step:  # the recorders map saved steps; summaries per step need one dt
        raise CarespiralError("a time grid whose step changes is recorded at its saved steps "
                              "only (no summaries taken at every step)")
    label = {nid: v for v, nid in prog.names.items()}
    for sid, st in prog.states.items():
        label.setdefault(sid, f"{st.owner} (internal state)")
    aux, states = prog.aux, prog.states

    for nid in params | inputs:
        if nid in states:
            raise CarespiralError(f"{label[nid]!r} is a stock and cannot be set; set its "
                                  f"initial value's parameters instead")
    for a in aux.values():
        if a.is_data and a.id not in inputs:
            raise CarespiralError(
                f"data variable {a.vensim!r} has no values: give it as a time input")

    def init_code(nid: str) -> tuple[str, set[str]]:
        if nid in params:
            return f"P[{nid!r}]", set()
        if nid in inputs:
            return f"T[{nid!r}](time)", {"time"}
        if nid in states:
            return states[nid].init_code, states[nid].init_deps
        a = aux[nid]
        if a.init_code is not None:
            return a.init_code, set(a.init_deps or ())
        return a.code, a.deps

    def step_code(nid: str) -> tuple[str, set[str]]:
        if nid in params:
            return f"P[{nid!r}]", set()
        if nid in inputs:
            return f"T[{nid!r}](time)", {"time"}
        return aux[nid].code, aux[nid].deps

    all_ids = list(aux) + list(states)
    ideps = {nid: init_code(nid)[1] - {"time"} for nid in all_ids}
    init_order = _toposort(all_ids, ideps, "initialising the model", label)

    # which auxiliaries change over time (depend on time, a moving state or an input)
    moving = {sid for sid, st in states.items() if st.ddt or st.update}
    sdeps = {nid: step_code(nid)[1] for nid in aux}
    dynamic: set[str] = set()
    varying_src = {"time"} | moving  # grows with `dynamic` (one set, not a union per node)
    changed = True
    while changed:
        changed = False
        for nid, d in sdeps.items():
            if nid not in dynamic and not d.isdisjoint(varying_src):
                dynamic.add(nid)
                varying_src.add(nid)
                changed = True
    # static auxiliaries whose run value differs from their initial value (ACTIVE INITIAL)
    redo: set[str] = {nid for nid in aux if nid not in dynamic and nid not in params
                      and nid not in inputs and aux[nid].init_code is not None}
    changed = True
    while changed:
        changed = False
        for nid, d in sdeps.items():
            if nid not in dynamic and nid not in redo and d & redo:
                redo.add(nid)
                changed = True

    # per-step work: what the derivatives and updates need; the rest only when recording
    need: set[str] = set()
    frontier = [st.ddt for st in states.values() if st.ddt]
    for st in states.values():
        frontier.extend(st.update_deps)
    while frontier:
        nid = frontier.pop()
        if nid in need or nid not in dynamic:
            continue
        need.add(nid)
        frontier.extend(d for d in sdeps[nid] if d in aux)
    extra: set[str] = set()
    frontier = [o for o in outputs if o in aux]
    while frontier:
        nid = frontier.pop()
        if nid in need or nid in extra or nid not in dynamic:
            continue
        extra.add(nid)
        frontier.extend(d for d in sdeps[nid] if d in aux)
    dyn_deps = {nid: sdeps[nid] & dynamic for nid in dynamic}
    core_order = _toposort(sorted(need), dyn_deps, "computing a time step (simultaneous "
                           "equations)", label)
    extra_order = _toposort(sorted(extra), {k: dyn_deps[k] & extra for k in extra},
                            "computing a time step (simultaneous equations)", label)
    redo_order = _toposort(sorted(redo), {k: sdeps[k] & redo for k in redo},
                           "initialising the model", label)

    # Sub-expressions of per-step equations that read only constants are computed once, before
    # the loop: the same operations on the same operands, so the same numbers, fewer per step.
    varying_ids = dynamic | moving | {"time", "k"}  # k: the step (RANDOM functions read it)
    if varying:
        varying_ids |= {"time_step", "dt"}
    hoist = _Hoister(varying_ids)
    core = tuple((nid, hoist.rewrite(step_code(nid)[0])) for nid in core_order)
    extra_code = tuple((nid, hoist.rewrite(step_code(nid)[0])) for nid in extra_order)

    checked = tuple(sid for sid, st in states.items() if st.ddt or st.update)
    lines = [
        "time_step = dt",
        # numpy floats, not Python floats: a division by zero gives inf or NaN (flagged as a
        # blow-up) instead of raising, as for every array value
        "time = np.float64(t0)",
    ]
    if RANDOM_RUN in aux:
        lines.append("k = 0  # the step: RANDOM functions draw from it")
    for lk in prog.lookups.values():
        lines.append(f"{lk.id}__x = np.array({list(lk.x)!r})")
        lines.append(f"{lk.id}__y = np.array({list(lk.y)!r})")
        lines.append(f"{lk.id}__t = rt.Table({list(lk.x)!r}, {list(lk.y)!r})")
    lines.append("# initial values, in dependency order")
    for nid in init_order:
        lines.append(f"{nid} = {init_code(nid)[0]}")
    for nid in redo_order:
        lines.append(f"{nid} = {step_code(nid)[0]}")
    for sid in states:  # in a fixed order: the source is a cache key
        if sid in moving:
            lines.append(f"{sid} = rt.as_numpy({sid})")
    for st in states.values():
        if st.setup:
            lines.append(f"{st.setup}")
    for name, code in hoist.hoisted:
        lines.append(f"{name} = {code}")
    return Plan(prog, frozenset(params), frozenset(inputs), tuple(outputs), every_step,
                tuple(lines), frozenset(moving), core, extra_code, checked)


def generate(prog: Program, params: Iterable[str], inputs: Iterable[str],
             outputs: Iterable[str], every_step: bool, varying: bool = False,
             arrays: bool | None = None) -> Generated:
    """Source of `simulate(P, T, n, t0, dt, nsteps, save_every, rec, check)` for this set-up.

    `params` and `inputs` are node ids given by the caller (constants per run and time-varying
    inputs); they replace those variables' equations. `outputs` are node ids to record.
    `arrays` (default: when the model has subscripts) computes the cells one equation defines
    as one operation over a block (cells, runs) instead of a statement per cell.
    `varying` (control variables that change over time, `time_grid`): the function is
    `simulate(P, T, n, t0, DT, nsteps, SAVE, rec, check)`, step k taking `DT[k]` (also the
    TIME STEP that built-ins read) and recording when `SAVE[k]`.
    """
    pl = plan(prog, params, inputs, outputs, every_step, varying)
    if bool(prog.groups) if arrays is None else arrays:
        # a subscripted model: the cells of one equation as one array operation (`arrays`);
        # `arrays=False` keeps a statement per cell (the former code, compared in the tests)
        from carespiral.pysd_runner.batch.arrays import generate_arrays

        return generate_arrays(pl, varying)
    states = prog.states
    if varying:
        lines = ["def simulate(P, T, n, t0, DT, nsteps, SAVE, rec, check):", "    dt = DT[0]"]
    else:
        lines = ["def simulate(P, T, n, t0, dt, nsteps, save_every, rec, check):"]
    lines += [f"    {line}" for line in pl.init_lines]
    out_tuple = "(" + "".join(f"{o}, " for o in pl.outputs) + ")"
    chk_tuple = "(" + "".join(f"{c}, " for c in pl.checked) + ")"
    cond = "SAVE[k]" if varying else "True" if every_step else "k % save_every == 0"
    lines.append("    for k in range(nsteps + 1):")
    if varying:
        lines += ["        dt = DT[k]", "        time_step = dt"]
    for nid, code in pl.core:
        lines.append(f"        {nid} = {code}")
    lines.append(f"        if {cond}:")
    for nid, code in pl.extra:
        lines.append(f"            {nid} = {code}")
    lines.append(f"            rec(k, time, {out_tuple})")
    lines.append("        if SAVE[k] or k == nsteps:" if varying else
                 "        if k % save_every == 0 or k == nsteps:")
    lines.append(f"            check(k, time, {chk_tuple})")
    lines.append("        if k == nsteps:")
    lines.append("            break")
    for sid, st in states.items():
        if st.ddt:
            lines.append(f"        {sid} = {sid} + {st.ddt} * dt")
    for st in states.values():
        if st.update:
            lines.append(f"        {st.update}")
    lines.append("        time = time + dt")
    return Generated("\n".join(lines) + "\n", pl.outputs, pl.checked)


class _Hoister(ast.NodeTransformer):
    """Replace maximal constant sub-expressions (no time, state or varying input) by names."""

    _OPS = (ast.BinOp, ast.UnaryOp, ast.Call, ast.Compare, ast.BoolOp)

    def __init__(self, varying: set[str]) -> None:
        self.varying = varying
        self.hoisted: list[tuple[str, str]] = []
        self._seen: dict[str, str] = {}

    def rewrite(self, code: str) -> str:
        tree = ast.parse(code, mode="eval")
        # which nodes read nothing varying, computed once bottom-up (large vector expressions
        # would make a walk per node quadratic)
        self._fixed: set[int] = set()
        self._any_op = False
        self._mark(tree.body)
        if id(tree.body) in self._fixed:
            return code  # wholly constant: the equation itself is cheap to keep as is
        if not self._any_op:
            return code  # nothing to hoist (most cells of a large subscripted model)
        return ast.unparse(self.visit(tree))

    def _mark(self, node: ast.AST) -> bool:
        fixed = not (isinstance(node, ast.Name) and node.id in self.varying)
        for child in ast.iter_child_nodes(node):
            fixed = self._mark(child) and fixed
        if fixed:
            self._fixed.add(id(node))
            self._any_op = self._any_op or isinstance(node, self._OPS)
        return fixed

    def generic_visit(self, node: ast.AST) -> ast.AST:
        if isinstance(node, self._OPS) and id(node) in self._fixed:
            text = ast.unparse(node)
            if text not in self._seen:
                name = f"_k{len(self.hoisted)}"
                self._seen[text] = name
                self.hoisted.append((name, text))
            return ast.copy_location(ast.Name(self._seen[text], ast.Load()), node)
        return super().generic_visit(node)


def control_source(prog: Program, params: Iterable[str]) -> str:
    """Source of `control(P)`: INITIAL TIME, FINAL TIME, TIME STEP, SAVEPER (must be constant)."""
    params = set(params)
    label = {nid: v for v, nid in prog.names.items()}
    wanted: set[str] = set()
    frontier = list(prog.control.values())
    while frontier:
        nid = frontier.pop()
        if nid in wanted:
            continue
        if nid in prog.states or nid == "time":
            raise CarespiralError(
                f"{prog.path}: {label.get(frontier[-1] if frontier else nid, nid)} makes a "
                "control variable (INITIAL TIME, FINAL TIME, TIME STEP, SAVEPER) change over "
                "time; the batch backend needs them constant")
        wanted.add(nid)
        if nid not in params:
            for d in prog.aux[nid].deps:
                if d == "time" or d in prog.states:
                    ctl = next(k for k, v in prog.names.items() if v == nid)
                    raise CarespiralError(
                        f"{prog.path}: {ctl} depends on Time or a stock; the batch backend "
                        "needs INITIAL TIME, FINAL TIME, TIME STEP and SAVEPER constant")
                frontier.append(d)
    deps = {nid: (set() if nid in params else prog.aux[nid].deps) for nid in wanted}
    order = _toposort(sorted(wanted), deps, "computing the control variables", label)
    lines = ["def control(P):"]
    for nid in order:
        code = f"P[{nid!r}]" if nid in params else prog.aux[nid].code
        lines.append(f"    {nid} = {code}")
    c = prog.control
    lines.append(f"    return ({c['initial_time']}, {c['final_time']}, {c['time_step']}, "
                 f"{c['saveper']})")
    return "\n".join(lines) + "\n"
