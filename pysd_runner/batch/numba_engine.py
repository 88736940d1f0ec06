"""The numba engine: the same lowered equations compiled as a loop over runs and time steps.

The numpy engine (`codegen.generate`) does one numpy operation per equation per step over all
runs, so its cost is the number of operations times the array length, plus numpy's per-call
overhead. Here the equations of one step become scalar statements in a function compiled by
numba: each run is integrated with its variables in registers, runs one after another.

What stays the same as the numpy engine, so that both give the same numbers:
- initialisation is the numpy engine's own code (the `Plan`'s initial statements);
- each per-step equation is the numpy expression rewritten term by term into scalar functions
  (`scalar_runtime`) that do the same floating-point operations in the same order;
- recording and blow-up checks are the same Python objects: the compiled kernel advances every
  run to the next saved step, then hands back arrays over runs to `rec` and `check`.

The generated module is written to the cache directory (named by a hash of its source) so that
numba caches the compiled machine code between processes (`cache=True`).
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import itertools
import os
import re
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

from carespiral._atomic import write_text
from carespiral.errors import CarespiralError
from carespiral.pysd_runner.batch.codegen import Generated, Plan, plan
from carespiral.pysd_runner.batch.loops import ArrayKernel
from carespiral.pysd_runner.batch.lowering import Program

__all__ = ["NumbaUnavailableError", "available", "default_threads", "generate_numba", "load",
           "run_blocks"]

MIN_BLOCK = 64  # runs per thread below which threads cost more than they save

_HELPERS = ("s_minimum", "s_maximum", "s_where", "s_logical_and", "s_logical_or",
            "s_logical_not", "s_step", "s_ramp", "s_ramp_open", "s_pulse", "s_pulse_train",
            "s_xidz", "s_zidz", "s_quantum", "s_modulo", "s_table", "s_interp",
            "s_lookup_extrapolate", "s_lookup_hold_backward", "s_lookup_look_forward",
            "s_lookup_raw", "s_random_0_1",
            "s_random_uniform", "s_random_normal", "s_random_exponential",
            "s_available_level", "s_available_curve")


class NumbaUnavailableError(CarespiralError):
    """engine="numba" was asked for but numba is not installed (or cannot compile the model)."""


def available() -> bool:
    """Whether numba can be imported."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


class _Scalarise(ast.NodeTransformer):
    """Rewrite one vectorised expression into scalar code for the kernel."""

    def __init__(self, prog: Program, inputs: dict[str, int], label: str,
                 canon: dict[str, str] | None = None) -> None:
        from carespiral.pysd_runner.batch.scalar_runtime import SCALAR

        self.scalar = SCALAR
        self.prog = prog
        self.canon = canon or {}  # lookup id -> the first lookup with the same table
        self.inputs = inputs
        self.label = label
        self.names: set[str] = set()  # every variable the expression reads

    def refuse(self, what: str) -> NumbaUnavailableError:
        return NumbaUnavailableError(
            f"{self.prog.path.name}: the numba engine cannot compile {what} (in {self.label}); "
            "use engine='numpy'")

    def visit_Call(self, node: ast.Call) -> ast.AST:
        f = node.func
        # a time input: T['id'](time) -> its value at this step, computed before the kernel
        if isinstance(f, ast.Subscript) and isinstance(f.value, ast.Name) and f.value.id == "T":
            nid = f.slice.value  # type: ignore[attr-defined]
            return ast.parse(f"TI[{self.inputs[nid]}, k - k_from, i]", mode="eval").body
        args = [self.visit(a) for a in node.args]
        if isinstance(f, ast.Name) and f.id.endswith("__t"):  # a lookup table
            lk = self.canon.get(f.id[:-3], f.id[:-3])
            from carespiral.pysd_runner.batch.runtime import Table

            t = Table(list(self.prog.lookups[lk].x), list(self.prog.lookups[lk].y))
            if t.fast:
                extra = [f"{lk}__x", f"{lk}__sl", f"{lk}__xe", f"{lk}__ye"]
                fn = "s_table"
            else:
                extra, fn = [f"{lk}__x", f"{lk}__y"], "s_interp"
            return ast.Call(ast.Name(fn, ast.Load()),
                            [*args, *(ast.Name(e, ast.Load()) for e in extra)], [])
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
            full = f"{f.value.id}.{f.attr}"
            if full == "rt.ramp" and isinstance(node.args[-1], ast.Constant) \
                    and node.args[-1].value is None:
                return ast.Call(ast.Name("s_ramp_open", ast.Load()), args[:-1], [])
            if full == "np.where":
                # a conditional expression, not a call: the same value (the branches are pure),
                # and numba types it far faster than a call (large subscripted models)
                return ast.IfExp(test=args[0], body=args[1], orelse=args[2])
            if full in ("np.minimum", "np.maximum") and all(
                    isinstance(a, (ast.Name, ast.Constant)) for a in args):
                # s_minimum's own test (NaN if either is NaN), written inline
                a, b = args
                op = ast.Lt() if full == "np.minimum" else ast.Gt()
                test = ast.BoolOp(ast.Or(), [ast.Compare(a, [op], [b]),
                                             ast.Compare(a, [ast.NotEq()], [a])])
                return ast.IfExp(test=test, body=a, orelse=b)
            if full not in self.scalar:
                raise self.refuse(full)
            target = self.scalar[full]
            func = (ast.parse(target, mode="eval").body if "." in target
                    else ast.Name(target, ast.Load()))
            return ast.Call(func, args, [])
        raise self.refuse(ast.unparse(f))

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        full = ast.unparse(node)
        if full not in self.scalar:
            raise self.refuse(full)
        return ast.parse(self.scalar[full], mode="eval").body

    def visit_Name(self, node: ast.Name) -> ast.AST:
        lk, sep, part = node.id.rpartition("__")
        if sep and lk in self.canon and lk != self.canon[lk]:  # a lookup's arrays
            return ast.Name(f"{self.canon[lk]}__{part}", node.ctx)
        self.names.add(node.id)
        return node

    def expr(self, code: str) -> str:
        return ast.unparse(self.visit(ast.parse(code, mode="eval")))


def generate_numba(prog: Program, params: Iterable[str], inputs: Iterable[str],
                   outputs: Iterable[str], every_step: bool,
                   loops: bool | None = None, varying: bool = False) -> Generated:
    """Source of a module whose `simulate(P, T, n, t0, dt, nsteps, save_every, rec, check)`
    computes what `codegen.generate`'s does, with the time loop compiled by numba.

    `loops` (default: when the model has subscripts) keeps a run's values in one array and
    computes the cells one equation defines as a loop over them (`loops.ArrayKernel`), rather
    than one statement per cell: the same numbers, compiled in a fraction of the time.
    `varying`: a time step that changes from step to step, as `codegen.generate`'s (the
    kernel reads `DT[k]` at each step; the driver stops at the steps `SAVE` marks)."""
    pl: Plan = plan(prog, params, inputs, outputs, every_step, varying)
    states = prog.states
    # DELAY FIXED: each pipe's ring buffer (depth x runs) and length per run are handed to the
    # kernel; the pipe's push count is the step number, as in runtime.FixedPipe
    pipes: dict[str, str] = {}  # state id -> pipe name
    for sid in pl.moving:
        st = states[sid]
        m = re.fullmatch(rf"{sid} = (\w+)\.push\((\w+)\)", st.update or "")
        if st.setup or m:
            if not (m and st.setup and st.setup.startswith(f"{m[1]} = rt.FixedPipe(")):
                raise NumbaUnavailableError(
                    f"{prog.path.name}: the numba engine cannot compile the state of "
                    f"{st.owner!r}; use engine='numpy'")
            pipes[sid] = m[1]
    in_ids = sorted(pl.inputs)
    in_index = {nid: j for j, nid in enumerate(in_ids)}
    moving = [sid for sid in states if sid in pl.moving]  # the numpy engine's state order
    local = {nid for nid, _ in pl.core} | {nid for nid, _ in pl.extra} | set(moving)
    local |= {"time", "time_step", "dt", "NAN", "INF", "np"}

    reads: set[str] = set()

    # cells lowered from one equation call equal tables of their own: one table for all, so
    # that their statements are alike (loops) and numba holds each table once
    canon: dict[str, str] = {}
    first: dict[tuple, str] = {}
    for lk in prog.lookups.values():
        canon[lk.id] = first.setdefault((lk.x, lk.y, lk.kind), lk.id)

    def scalar(code: str, label: str) -> str:
        sc = _Scalarise(prog, in_index, label, canon)
        out = sc.expr(code)
        reads.update(sc.names)
        return out

    label = {nid: v for v, nid in prog.names.items()}
    core = [(nid, scalar(code, label.get(nid, nid))) for nid, code in pl.core]
    extra = [(nid, scalar(code, label.get(nid, nid))) for nid, code in pl.extra]
    updates: list[str] = []
    euler: list[tuple[str, str]] = []
    for sid in moving:
        st = states[sid]
        if st.ddt:
            reads.add(st.ddt)
            updates.append(f"{sid} = {sid} + {st.ddt} * dt")
            euler.append((sid, st.ddt))
    custom: list[str] = []  # the updates after the Euler steps, in order
    for sid in moving:
        st = states[sid]
        if sid in pipes:
            pipe, value = pipes[sid], st.update.split(".push(", 1)[1][:-1]  # type: ignore[union-attr]
            reads.add(value)
            custom.append(f"{pipe}_B[k % {pipe}_L[i], i] = {value}")
            custom.append(f"{sid} = {pipe}_B[(k + 1) % {pipe}_L[i], i]")
        elif st.update:
            lhs, rhs = st.update.split("=", 1)
            custom.append(f"{lhs.strip()} = {scalar(rhs.strip(), st.owner)}")
    updates += custom
    reads.update(o for o in pl.outputs)
    lookups = {f"{lk}__{s}" for lk in prog.lookups for s in ("x", "y", "sl", "xe", "ye")}
    consts = sorted(r for r in reads if r not in local and r not in lookups
                    and r not in _HELPERS and r not in ("TI", "k", "k_from", "i"))
    pipe_args = "".join(f", {p}_B, {p}_L" for p in pipes.values())
    # the kernel's argument types, so it is compiled (or loaded from the cache) on loading
    steps = "f8, f8[::1]" if varying else "f8, f8, f8"  # time0, then dt and time_step or DT
    signature = (f"(f8[:, ::1], f8[:, ::1], f8[:, :, ::1], i8, i8, i8, {steps}, b1, b1, "
                 "f8[:, ::1], f8[:, ::1]" + ", f8[:, ::1], i8[::1]" * len(pipes) + ", i8, i8)")
    nonneg = [states[sid].lower_limit == 0.0 for sid in pl.checked]

    L: list[str] = [
        "# generated by carespiral.pysd_runner.batch.numba_engine; do not edit",
        "import math",
        "import numba as nb",
        "import numpy as np",
        "from carespiral.pysd_runner.batch import runtime as rt",
        "from carespiral.pysd_runner.batch.numba_engine import run_blocks",
        "from carespiral.pysd_runner.batch.scalar_runtime import (" + ", ".join(_HELPERS) + ")",
        "NAN = math.nan",
        "INF = math.inf",
        f"SIGNATURE = {signature!r}",
        f"NONNEG = np.array({[bool(x) for x in nonneg]!r}, dtype=np.bool_)",
    ]
    from carespiral.pysd_runner.batch.runtime import Table

    for lk in prog.lookups.values():
        if canon[lk.id] != lk.id:
            continue
        t = Table(list(lk.x), list(lk.y))
        L.append(f"{lk.id}__x = np.array({list(lk.x)!r})")
        L.append(f"{lk.id}__y = np.array({list(lk.y)!r})")
        if t.fast:
            slope, xe, ye = (list(map(float, r)) for r in t.rows)
            L.append(f"{lk.id}__sl = np.array({slope!r})")
            L.append(f"{lk.id}__xe = np.array({xe!r})")
            L.append(f"{lk.id}__ye = np.array({ye!r})")
    if loops is None:
        loops = bool(prog.groups)
    head = ["", "", '@nb.njit(cache=True, error_model="numpy", nogil=True)',
            "def kernel(S, C, TI, k_from, k_to, nsteps, time0, "
            + ("DT" if varying else "dt, time_step")
            + f", do_rec, do_check, OUT, CHK{pipe_args}, lo, hi):"]
    per_step = ["dt = DT[k]", "time_step = dt"] if varying else []
    if loops:
        kern = ArrayKernel(consts, moving, frozenset(local - _NOT_NODES) | frozenset(consts))
        body = _array_kernel(kern, core, extra, euler, custom, pl.outputs, pl.checked,
                             per_step)
        L.append(f"IX = np.array({kern.ix!r}, dtype=np.int64)")
        L += head + body
    else:
        L += head + _straight_kernel(moving, consts, core, extra, updates, pl.outputs,
                                     pl.checked, per_step)

    # the driver: numpy initialisation, then the kernel from one recorded step to the next
    if varying:
        L += ["", "", "def simulate(P, T, n, t0, DT, nsteps, SAVE, rec, check, threads=1):",
              "    dt = DT[0]"]
    else:
        L += ["", "", "def simulate(P, T, n, t0, dt, nsteps, save_every, rec, check, threads=1):"]
    L += [f"    {line}" for line in pl.init_lines]
    L.append(f"    S = np.empty((n, {len(moving)}))")
    for j, sid in enumerate(moving):
        L.append(f"    S[:, {j}] = {sid}")
    L.append(f"    C = np.empty((n, {len(consts)}))")
    for j, c in enumerate(consts):
        L.append(f"    C[:, {j}] = {c}")
    for pipe in pipes.values():
        L.append(f"    {pipe}_B = {pipe}.buf")
        L.append(f"    {pipe}_L = np.ascontiguousarray(np.broadcast_to({pipe}.length, (n,)), "
                 "dtype=np.int64)")
    rec_line = f"rec(k_to, time, ({''.join(f'OUT[{j}], ' for j in range(len(pl.outputs)))}))"
    chk_line = f"check(k_to, time, ({''.join(f'CHK[{j}], ' for j in range(len(pl.checked)))}))"
    L += [
        f"    OUT = np.empty(({len(pl.outputs)}, n))",
        f"    CHK = np.empty(({len(pl.checked)}, n))",
    ]
    if varying:
        L += _varying_driver(in_ids, pipe_args, rec_line, chk_line)
        return Generated("\n".join(L) + "\n", pl.outputs, pl.checked, engine="numba")
    L += [
        f"    every = {every_step!r}",
        "    span = 1 if every else save_every",
        f"    TI = np.empty(({len(in_ids)}, span, n))",
        "    k = 0",
        "    while True:",
        "        k_to = min(nsteps, (k // span) * span + span - 1 if every else "
        "-(-k // save_every) * save_every)",
        "        times = [time]",
        "        for _ in range(k_to - k):",
        "            times.append(times[-1] + dt)",
    ]
    for j, nid in enumerate(in_ids):
        L.append("        for s, tt in enumerate(times):")
        L.append(f"            TI[{j}, s, :] = T[{nid!r}](tt)")
    L += [
        "        do_rec = every or k_to % save_every == 0",
        "        do_check = k_to % save_every == 0 or k_to == nsteps",
        "        nbad = run_blocks(kernel, n, threads, S, C, TI, k, k_to, nsteps, float(time), "
        f"float(dt), float(time_step), do_rec, do_check, OUT, CHK{pipe_args})",
        "        time = times[-1]",
        "        if do_rec:",
        f"            {rec_line}",
        "        if do_check and nbad:",
        f"            {chk_line}",
        "        if k_to == nsteps:",
        "            break",
        "        time = time + dt",
        "        k = k_to + 1",
    ]
    return Generated("\n".join(L) + "\n", pl.outputs, pl.checked, engine="numba")


_NOT_NODES = frozenset({"time", "time_step", "dt", "NAN", "INF", "np"})
_CHECK = [  # one loop, not one branch per state: large (subscripted) models compile much faster
    "                    bad = False",
    "                    for j in range(CHK.shape[0]):",
    "                        v = CHK[j, i]",
    "                        if not math.isfinite(v) or (NONNEG[j] and v < 0):",
    "                            bad = True",
    "                    nbad += bad",
]


def _varying_driver(in_ids: list[str], pipe_args: str, rec_line: str,
                    chk_line: str) -> list[str]:
    """The driver's loop on a varying grid: the kernel from one saved step to the next (no
    per-step summaries: `plan` refuses them on a varying grid)."""
    L = [
        "    DT = np.ascontiguousarray(DT, dtype=np.float64)",
        "    stops = [int(s) for s in np.flatnonzero(SAVE[:nsteps])] + [nsteps]",
        "    span = max(b - a for a, b in zip([-1, *stops], stops))",
        f"    TI = np.empty(({len(in_ids)}, span, n))",
        "    k = 0",
        "    for k_to in stops:",
        "        times = [time]",
        "        for s in range(k, k_to):",
        "            times.append(times[-1] + DT[s])",
    ]
    for j, nid in enumerate(in_ids):
        L.append("        for s, tt in enumerate(times):")
        L.append(f"            TI[{j}, s, :] = T[{nid!r}](tt)")
    L += [
        "        do_rec = bool(SAVE[k_to])",
        "        do_check = bool(SAVE[k_to]) or k_to == nsteps",
        "        nbad = run_blocks(kernel, n, threads, S, C, TI, k, k_to, nsteps, float(time), "
        f"DT, do_rec, do_check, OUT, CHK{pipe_args})",
        "        time = times[-1]",
        "        if do_rec:",
        f"            {rec_line}",
        "        if do_check and nbad:",
        f"            {chk_line}",
        "        time = time + DT[k_to]",
        "        k = k_to + 1",
    ]
    return L


def _straight_kernel(moving: list[str], consts: list[str], core: list[tuple[str, str]],
                     extra: list[tuple[str, str]], updates: list[str], outputs: Iterable[str],
                     checked: Iterable[str], per_step: Iterable[str] = ()) -> list[str]:
    """The kernel's body as one statement per node, each value a local variable (registers)."""
    L = ["    nbad = 0",
         "    for i in range(lo, hi):  # runs lo..hi: each thread integrates its own block"]
    L += [f"        {sid} = S[i, {j}]" for j, sid in enumerate(moving)]
    L += [f"        {c} = C[i, {j}]" for j, c in enumerate(consts)]
    L += ["        time = time0", "        for k in range(k_from, k_to + 1):"]
    L += [f"            {line}" for line in per_step]
    L += [f"            {nid} = {code}" for nid, code in core]
    L += ["            if k == k_to:", "                if do_rec:"]
    L += [f"                    {nid} = {code}" for nid, code in extra]
    L += [f"                    OUT[{j}, i] = {o}" for j, o in enumerate(outputs)]
    L += ["                    pass", "                if do_check:"]
    L += [f"                    CHK[{j}, i] = {sid}" for j, sid in enumerate(checked)]
    L += _CHECK
    L += ["            if k == nsteps:", "                break"]
    L += [f"            {u}" for u in updates]
    L.append("            time = time + dt")
    L += [f"        S[i, {j}] = {sid}" for j, sid in enumerate(moving)]
    L.append("    return nbad")
    return L


def _array_kernel(kern: ArrayKernel, core: list[tuple[str, str]],
                  extra: list[tuple[str, str]], euler: list[tuple[str, str]],
                  custom: list[str], outputs: Iterable[str],
                  checked: Iterable[str], per_step: Iterable[str] = ()) -> list[str]:
    """The kernel's body with a run's values in `W` and each group of cells as a loop."""
    nc, ns = len(kern.consts), len(kern.states)
    step = kern.block(core, " " * 12)
    rec = kern.block(extra, " " * 20)
    rec += kern.gather(list(outputs), "OUT", " " * 20)
    chk = kern.gather(list(checked), "CHK", " " * 20)
    upd = kern.euler(euler, " " * 12)
    upd += [kern.statement(u, " " * 12) for u in custom]
    L = ["    nbad = 0",
         f"    W = np.empty({max(kern.size, 1)})  # this block's values of one run, by slot",
         "    for i in range(lo, hi):  # runs lo..hi: each thread integrates its own block",
         f"        for j in range({nc}):",
         "            W[j] = C[i, j]",
         f"        for j in range({ns}):",
         f"            W[{nc} + j] = S[i, j]",
         "        time = time0",
         "        for k in range(k_from, k_to + 1):"]
    L += [f"            {line}" for line in per_step]
    L += step
    L += ["            if k == k_to:", "                if do_rec:"]
    L += rec
    L += ["                    pass", "                if do_check:"]
    L += chk
    L += _CHECK
    L += ["            if k == nsteps:", "                break"]
    L += upd
    L.append("            time = time + dt")
    L += [f"        for j in range({ns}):", f"            S[i, j] = W[{nc} + j]"]
    L.append("    return nbad")
    return L


def default_threads() -> int:
    """The cores this process may use (the numba engine's default number of threads)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


_POOLS: dict[int, ThreadPoolExecutor] = {}


def run_blocks(kernel: Callable, n: int, threads: int, *args: object) -> int:
    """Run `kernel(*args, lo, hi)` over runs 0..n in contiguous blocks, one per thread.

    The kernel releases the GIL (nogil) and every run is computed alone, from its own row of
    the state and parameter arrays into its own column of the outputs, so the numbers are the
    same bits whatever the number of threads. Returns the number of runs flagged."""
    parts = max(1, min(int(threads), n // MIN_BLOCK))
    if parts == 1:
        return int(kernel(*args, 0, n))
    pool = _POOLS.get(parts)
    if pool is None:
        pool = _POOLS[parts] = ThreadPoolExecutor(parts, thread_name_prefix="carespiral-numba")
    edges = [n * j // parts for j in range(parts + 1)]
    futures = [pool.submit(kernel, *args, lo, hi) for lo, hi in itertools.pairwise(edges)]
    return sum(int(f.result()) for f in futures)


def _module_dir() -> str:
    from carespiral.pysd_runner.translate import cache_dir

    return str(cache_dir() / "numba")


def _holds(path: str, source: str) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read() == source.encode("utf-8")
    except OSError:
        return False


def load(gen: Generated) -> Callable:
    """The `simulate` function of generated numba source, written to the cache directory once
    (by a hash of its source) so numba can keep the compiled code between processes."""
    digest = hashlib.sha256(gen.source.encode()).hexdigest()[:24]
    name = f"carespiral_numba_{digest}"
    if name in sys.modules:
        return sys.modules[name].simulate
    path = os.path.join(_module_dir(), f"{name}.py")
    if not _holds(path, gen.source):
        # written whole (a killed writer's temporary is removed later), and rewritten only when
        # missing, damaged or edited: numba's cache is keyed on the file's stamp, so a rewrite
        # also compiles afresh; what runs is always the generated source
        write_text(path, gen.source)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    from numba.core.errors import NumbaError

    try:
        spec.loader.exec_module(module)
        module.kernel.compile(module.SIGNATURE)
    except NumbaError as exc:
        del sys.modules[name]
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise NumbaUnavailableError(f"numba cannot compile this model ({first}); use "
                                    "engine='numpy'") from None
    except BaseException:
        del sys.modules[name]
        raise
    return module.simulate
