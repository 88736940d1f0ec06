"""The numpy engine for subscripted models: the cells one equation defines as one array operation.

The per-cell numpy code (`codegen.generate`) makes one numpy operation per cell per step, so a
model of 153 areas does 153 times the work of the single-area model in Python overhead alone.
Here the per-step values live in one array `W` of shape (slots, runs): one row per state and per
computed cell. The step's statements are grouped as the numba engine groups them (`loops.
template_groups`: same code once the cells' names are blanked, same depth of the step's
dependency graph), and a group of m cells is one statement over an (m, runs) block:

    W[40:193] = np.minimum(W[193:346], (_c7 * W[0:153]))

Each hole of the template reads, for every member, the cell that member reads: a view of `W`
(`W[a:b]`, `W[a:b:s]`) where those rows are evenly spaced, a gather `W[_ix3]` otherwise, one row
`W[j]` (shape (runs,), broadcast over the members) when all members read the same cell, and a
block of constants `_c7` (shape (m, 1), or (m, runs) for per-run parameters) made once before
the loop when they read constants. Each member computes its own expression's floating-point
operations in the same order as its per-cell statement, so the numbers are those of the per-cell
code. Initialisation is the per-cell code itself (`Plan.init_lines`), so parameters, including
one per element (`"Establishment[Haringey]"`), are read as before.

Groups whose template calls a function not known to work elementwise on blocks (RANDOM, time
inputs, ALLOCATE AVAILABLE's solve, ...) are computed member by member, each still reading `W`.
"""

from __future__ import annotations

import ast
import copy
import re
from collections.abc import Sequence

from carespiral.pysd_runner.batch.codegen import Generated, Plan
from carespiral.pysd_runner.batch.loops import _Stmt, template_groups

__all__ = ["generate_arrays"]

# functions that compute elementwise with numpy broadcasting, whatever the operands' shapes
_ELEMENTWISE = frozenset({
    "np.minimum", "np.maximum", "np.where", "np.abs", "np.exp", "np.log", "np.sqrt", "np.sin",
    "np.cos", "np.tan", "np.arcsin", "np.arccos", "np.arctan", "np.sinh", "np.cosh", "np.tanh",
    "np.power", "np.trunc", "np.logical_and", "np.logical_or", "np.logical_not", "np.divide",
    "rt.step", "rt.ramp", "rt.pulse", "rt.pulse_train", "rt.xidz", "rt.zidz", "rt.quantum",
    "rt.modulo", "rt.erfc", "rt.lookup_extrapolate", "rt.lookup_hold_backward",
    "rt.lookup_look_forward", "rt.lookup_raw",
})
_HOISTED = re.compile(r"\b_k\d+\b")


def _vectorisable(tree: ast.AST) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name) and f.id.endswith("__t"):
                continue  # a lookup table (runtime.Table: any shape)
            if ast.unparse(f) not in _ELEMENTWISE:
                return False
    return True


class _Emitter:
    """Slots in `W`, the blocks of constants and index arrays made before the loop."""

    def __init__(self, pl: Plan) -> None:
        prog = pl.prog
        self.slot: dict[str, int] = {}
        # states first, those integrated by Euler leading (one slice for the whole update)
        moving = [sid for sid in prog.states if sid in pl.moving]
        for sid in [s for s in moving if prog.states[s].ddt] + \
                [s for s in moving if not prog.states[s].ddt]:
            self.slot[sid] = len(self.slot)
        self.resident = set(self.slot) | {nid for nid, _ in pl.core} | \
            {nid for nid, _ in pl.extra}
        self.loaded: list[str] = []  # constants copied into W (read alongside computed cells)
        self.pre: list[str] = []  # statements before the loop (after initialisation)
        self._consts: dict[tuple[str, ...], str] = {}
        self._ix: dict[tuple[int, ...], str] = {}
        # cells in the order the lowering made them (row-major within a variable), so that
        # the blocks of related variables line up and most reads are views
        self.order = {nid: i for i, nid in enumerate([*prog.aux, *prog.states])}

    def place(self, name: str) -> int:
        if name not in self.slot:
            if name not in self.resident:  # a constant read alongside computed cells
                self.loaded.append(name)
            self.slot[name] = len(self.slot)
        return self.slot[name]

    def one(self, name: str) -> str:
        return f"W[{self.place(name)}]" if name in self.resident else name

    def rows(self, slots: Sequence[int]) -> str:
        a = slots[0]
        if len(slots) == 1:
            return f"W[{a}]"
        if len(slots) > 1:
            step = slots[1] - a
            if step > 0 and all(s == a + j * step for j, s in enumerate(slots)):
                end = a + step * (len(slots) - 1) + 1
                return f"W[{a}:{end}]" if step == 1 else f"W[{a}:{end}:{step}]"
        key = tuple(slots)
        if key not in self._ix:
            self._ix[key] = f"_ix{len(self._ix)}"
            self.pre.append(f"{self._ix[key]} = np.array({list(key)!r}, dtype=np.intp)")
        return f"W[{self._ix[key]}]"

    def ref(self, names: Sequence[str]) -> str:
        """What the members of a group read at one hole: each its own cell."""
        if all(n == names[0] for n in names):
            return self.one(names[0])
        if not any(n in self.resident for n in names):
            key = tuple(names)
            if key not in self._consts:
                # (m, 1) when every member's value is one number, (m, runs) for parameters
                self._consts[key] = f"_c{len(self._consts)}"
                self.pre.append(f"{self._consts[key]} = np.array(np.broadcast_arrays("
                                f"{', '.join(names)})).reshape({len(names)}, -1)")
            return self._consts[key]
        return self.rows([self.place(n) for n in names])

    def group(self, members: list[_Stmt], indent: str) -> list[str]:
        """One statement for a group of alike cells (or one per cell, when not elementwise)."""
        if len(members) > 1 and not _vectorisable(members[0].tree):
            return [line for m in members for line in self.group([m], indent)]
        members = sorted(members, key=lambda m: self.order.get(m.target, -1))
        holes: dict[str, ast.expr] = {}
        for h in range(len(members[0].holes)):
            code = self.ref([str(m.holes[h][1]) for m in members])
            holes[f"__h{h}"] = ast.parse(code, mode="eval").body
        body = ast.unparse(_Fill(holes).visit(copy.deepcopy(members[0].tree)))
        target = self.rows([self.place(m.target) for m in members])
        return [f"{indent}{target} = {body}"]

    def block(self, stmts: Sequence[tuple[str, str]], wnames: frozenset[str],
              rename: dict[str, str], indent: str) -> list[str]:
        lines: list[str] = []
        for _, members in template_groups(stmts, wnames, rename):
            lines += self.group(members, indent)
        return lines


class _Fill(ast.NodeTransformer):
    def __init__(self, holes: dict[str, ast.expr]) -> None:
        self.holes = holes

    def visit_Name(self, node: ast.Name) -> ast.AST:
        return self.holes.get(node.id, node)


def _updates(em: _Emitter, pl: Plan, indent: str) -> list[str]:
    """The states' custom updates after the Euler step, in the per-cell code's order; runs of
    copies `state = value` whose values none of the run writes become one gather and scatter
    (the same values as one after another)."""
    states = pl.prog.states
    lines: list[str] = []
    run: list[tuple[str, str]] = []

    def flush() -> None:
        if run:
            target = em.rows([em.place(t) for t, _ in run])
            lines.append(f"{indent}{target} = {em.ref([v for _, v in run])}")
            run.clear()

    for sid in states:
        st = states[sid]
        if sid not in pl.moving or not st.update:
            continue
        tree = ast.parse(st.update).body[0]
        if (isinstance(tree, ast.Assign) and len(tree.targets) == 1
                and isinstance(tree.targets[0], ast.Name) and isinstance(tree.value, ast.Name)):
            value = tree.value.id
            if value in {t for t, _ in run}:
                flush()
            run.append((tree.targets[0].id, value))
            continue
        flush()
        # anything else (a DELAY FIXED pipe's push): its names read from and written to W
        lines.append(indent + ast.unparse(_InW(em).visit(tree)))
    flush()
    return lines


class _InW(ast.NodeTransformer):
    def __init__(self, em: _Emitter) -> None:
        self.em = em

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id not in self.em.resident:
            return node
        return ast.Subscript(ast.Name("W", ast.Load()), ast.Constant(self.em.place(node.id)),
                             node.ctx)


def generate_arrays(pl: Plan, varying: bool = False) -> Generated:
    """Source of `simulate(...)` for a planned run configuration, with the cells one equation
    defines computed as one block; the same signature and numbers as `codegen.generate`."""
    prog = pl.prog
    states = prog.states
    # equal lookup tables (one per cell of an equation) written as the first of them, so the
    # cells' statements are alike
    first: dict[tuple, str] = {}
    rename: dict[str, str] = {}
    for lk in prog.lookups.values():
        c = first.setdefault((lk.x, lk.y, lk.kind), lk.id)
        if c != lk.id:
            rename.update({f"{lk.id}__{p}": f"{c}__{p}" for p in ("t", "x", "y")})
    hoisted = {h for _, code in (*pl.core, *pl.extra) for h in _HOISTED.findall(code)}
    wnames = frozenset(prog.aux) | frozenset(states) | frozenset(hoisted)

    em = _Emitter(pl)
    ind = " " * 8
    core = em.block(pl.core, wnames, rename, ind)
    extra = em.block(pl.extra, wnames, rename, ind + "    ")
    euler = [sid for sid in states if sid in pl.moving and states[sid].ddt]
    upd: list[str] = []
    if euler:
        s = em.rows([em.slot[sid] for sid in euler])
        upd.append(f"{ind}{s} = {s} + {em.ref([str(states[sid].ddt) for sid in euler])} * dt")
    upd += _updates(em, pl, ind)
    # the outputs and checked states as rows of W (constants among them copied in once), so
    # the recorders can copy them all at once (`recording.Rows`)
    out = [em.place(o) for o in pl.outputs]
    chk = [em.place(c) for c in pl.checked]

    if varying:
        lines = ["def simulate(P, T, n, t0, DT, nsteps, SAVE, rec, check):", "    dt = DT[0]"]
    else:
        lines = ["def simulate(P, T, n, t0, dt, nsteps, save_every, rec, check):"]
    lines += [f"    {line}" for line in pl.init_lines]
    lines.append("    # every value that changes over a run, by slot: states, computed cells "
                 "and the constants read with them")
    # with no parameter, input or DELAY FIXED pipe given per run, every run is the same run:
    # one column (the per-cell code computes such values once too, as numbers)
    same = not pl.params and not pl.inputs and not any(st.setup for st in states.values())
    lines.append(f"    W = np.empty(({max(len(em.slot), 1)}, {1 if same else 'n'}))")
    loaded = set(em.loaded)
    for name, j in em.slot.items():
        if name in states or name in loaded:
            lines.append(f"    W[{j}] = {name}")
    lines += [f"    {line}" for line in em.pre]
    # the recorders copy what they are given, so W itself can be handed over at every step
    lines.append(f"    _out = rt.Rows(W, np.array({out!r}, dtype=np.intp))")
    lines.append(f"    _chk = rt.Rows(W, np.array({chk!r}, dtype=np.intp))")
    cond = "SAVE[k]" if varying else "True" if pl.every_step else "k % save_every == 0"
    lines.append("    for k in range(nsteps + 1):")
    if varying:
        lines += ["        dt = DT[k]", "        time_step = dt"]
    lines += core
    lines.append(f"        if {cond}:")
    lines += extra
    lines.append("            rec(k, time, _out)")
    lines.append("        if SAVE[k] or k == nsteps:" if varying else
                 "        if k % save_every == 0 or k == nsteps:")
    lines.append("            check(k, time, _chk)")
    lines.append("        if k == nsteps:")
    lines.append("            break")
    lines += upd
    lines.append("        time = time + dt")
    return Generated("\n".join(lines) + "\n", pl.outputs, pl.checked)
