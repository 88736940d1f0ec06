"""Control variables that change over time: the batch's time grid, stepped before the run.

Vensim (and PySD) evaluate INITIAL TIME, FINAL TIME, TIME STEP and SAVEPER like any other
variable: a model may shorten its step, save less often or stop early as Time passes. The
batch engines integrate every run of a batch on one grid, so when the control variables read
only Time and constants (the same for every run), that grid is computed here, before the run, by
stepping the control equations through Time exactly as PySD's integrator does:

- INITIAL TIME is evaluated once, at Time 0 (PySD's rule); when it reads Time, its value there
  must give itself again (otherwise the start is ambiguous and the model is refused);
- at each time t (from INITIAL TIME, t = t + TIME STEP(t), the engines' own additions):
  t is saved when (t - INITIAL TIME) is a multiple of SAVEPER(t), to 1e-5 of TIME STEP(t);
  the run stops at the first t with t + 1e-5 * TIME STEP(t) >= FINAL TIME(t).

A control variable that reads a stock, a RANDOM function, a time input or a parameter that
differs between runs would need one grid per run: refused, naming the control variable and what
it reads. A grid that turns out uniform (one step size, saves every s steps) runs on the
engines' ordinary fixed-grid code; any other runs on their varying-grid variant (`DT[k]` per
step, `SAVE[k]` per step).
"""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from carespiral.errors import CarespiralError, RunTooLargeError
from carespiral.pysd_runner.batch import runtime
from carespiral.pysd_runner.batch.program import (
    CONTROL,
    RANDOM_RUN,
    RANDOM_SEED,
    Program,
    UnsupportedConstructError,
)
from carespiral.pysd_runner.batch.recording import TrajectoryRecorder
from carespiral.pysd_runner.limits import max_steps

__all__ = ["GridRecorder", "TimeGrid", "build_grid", "control_reads", "shared_parameters"]

RPREC = 1e-5  # PySD's relative precision for the final and saved times (of TIME STEP)
_HINT = ("a control variable may change over time through Time and constants only: the runs "
         "of a batch share one time grid, computed before the run; use the PySD backend "
         "(Model.run) for this model")


@dataclass(frozen=True)
class TimeGrid:
    """The steps of a run: `times[k]`, the step `dts[k]` taken from it (TIME STEP at that time;
    the last one is only read by equations at the final time) and whether it is `saved`."""

    t0: float
    times: np.ndarray
    dts: np.ndarray
    saved: np.ndarray

    @property
    def nsteps(self) -> int:
        return len(self.times) - 1

    def uniform(self) -> tuple[float, int] | None:
        """(dt, save_every) when the fixed-grid engines compute this very grid, else None."""
        dt = float(self.dts[0])
        if not np.all(self.dts == dt):
            return None
        ks = np.flatnonzero(self.saved)
        every = int(ks[1]) if len(ks) > 1 else self.nsteps + 1
        if not np.array_equal(ks, np.arange(0, self.nsteps + 1, every)):
            return None
        return dt, every

    @property
    def saved_times(self) -> np.ndarray:
        return np.round(self.times[self.saved], 10)


class GridRecorder(TrajectoryRecorder):
    """Trajectories at the saved steps of a varying grid (not every `save_every` steps)."""

    def __init__(self, n: int, names: list[str], grid: TimeGrid) -> None:
        super().__init__(n, names, int(grid.saved.sum()), 1)
        self.slot = np.cumsum(grid.saved) - 1  # step -> column

    def __call__(self, k: int, time: float, values: tuple) -> None:
        j = int(self.slot[k])
        for arr, v in zip(self.arrays, values, strict=True):
            arr[:, j] = v


def _name(prog: Program, nid: str) -> str:
    """A node's Vensim name (a scan of every name: only for messages)."""
    return next((v for v, n in prog.names.items() if n == nid), nid)


def control_reads(prog: Program, fixed: Mapping[str, Any]) -> tuple[list[str], bool]:
    """The nodes the control variables read (in evaluation order, fixed ones as leaves) and
    whether any reads Time. Refuses a control variable that reads a stock or a RANDOM draw."""
    order: list[str] = []
    seen: set[str] = set()
    timed = False
    for key in CONTROL:
        root = prog.control[key]
        stack: list[tuple[str, list[str]]] = [(root, [])]
        while stack:
            nid, via = stack.pop()
            if nid in seen:
                continue
            seen.add(nid)
            if nid in fixed:
                continue
            path = [*via, nid]
            if nid in prog.states:
                st = prog.states[nid]
                what = (f"the stock {st.vensim!r}" if st.vensim and st.ddt
                        else f"the stock inside {st.owner or nid!r}")  # SMOOTH, DELAY...
                through = [repr(_name(prog, p)) for p in path[1:-1]]
                if through:
                    what += f" (through {', '.join(through)})"
                raise UnsupportedConstructError(f"{what} in a control variable",
                                                _name(prog, root), prog.path, _HINT)
            if nid in (RANDOM_RUN, RANDOM_SEED):
                raise UnsupportedConstructError("a RANDOM function in a control variable",
                                                _name(prog, root), prog.path, _HINT)
            a = prog.aux[nid]
            timed = timed or "time" in a.deps
            for d in sorted(a.deps - {"time"}, reverse=True):
                stack.append((d, path))
    # evaluation order: dependencies first (the reads form no cycle: the model lowered)
    done: set[str] = set()

    def visit(nid: str) -> None:
        stack = [(nid, False)]
        while stack:
            node, expanded = stack.pop()
            if node in done:
                continue
            if expanded:
                done.add(node)
                order.append(node)
                continue
            stack.append((node, True))
            if node not in fixed and node in prog.aux:
                stack.extend((d, False) for d in sorted(prog.aux[node].deps - {"time"})
                             if d not in done)

    for key in CONTROL:
        visit(prog.control[key])
    return order, timed


def shared_parameters(prog: Program, fixed: Mapping[str, Any], P: Mapping[str, Any],
                      T: Mapping[str, Any]) -> dict[str, float]:
    """The run parameters the control variables read, as one value each: every run shares the
    grid, so a parameter they read must be the same in every run (else refused)."""
    order, _ = control_reads(prog, fixed)
    out: dict[str, float] = {}
    for nid in order:
        if nid in fixed:
            continue
        if nid in T:
            raise CarespiralError(
                f"{prog.path.name}: {_name(prog, nid)!r} is given as a time input but the control variables "
                "(INITIAL TIME, FINAL TIME, TIME STEP, SAVEPER) read it; the runs of a batch "
                "share one time grid: give it as a parameter")
        if nid in P:
            vals = np.asarray(P[nid], dtype=float).reshape(-1)
            if not np.all(vals == vals[0]):
                raise CarespiralError(
                    f"{prog.path.name}: {_name(prog, nid)!r} differs between runs but the control variables "
                    "(INITIAL TIME, FINAL TIME, TIME STEP, SAVEPER) read it; the runs of a batch "
                    "share one time grid: give it one value per batch")
            out[nid] = float(vals[0])
    return out


def _names(code: str) -> set[str]:
    return {n.id for n in ast.walk(ast.parse(code, mode="eval")) if isinstance(n, ast.Name)}


def _evaluator(prog: Program, fixed: Mapping[str, float], order: list[str]) -> Any:
    """`control(time) -> (initial, final, step, saveper)`: the control equations at one time.

    TIME STEP's own reads come first, so that built-ins reading the step (STEP, PULSE) see the
    value of TIME STEP at that time, as in PySD."""
    step_reads = _reads_of(prog, fixed, prog.control["time_step"])
    first = [n for n in order if n in step_reads]
    rest = [n for n in order if n not in step_reads]
    ns: dict[str, Any] = {"np": np, "rt": runtime, "NAN": math.nan, "INF": math.inf,
                          "__fixed": dict(fixed)}
    lines = ["def control(time):"]

    def emit(nid: str, before_step: bool) -> None:
        if nid in fixed:
            lines.append(f"    {nid} = __fixed[{nid!r}]")
            return
        code = prog.aux[nid].code
        names = _names(code)
        if before_step and "time_step" in names:
            raise UnsupportedConstructError(
                "the time step (STEP, PULSE...) in TIME STEP's own equation",
                _name(prog, nid), prog.path, _HINT)
        for name in names:  # the lookup tables it reads, as the engines' set-up makes them
            lk_id, _, part = name.rpartition("__")
            if lk_id in prog.lookups and part in ("x", "y", "t"):
                lk = prog.lookups[lk_id]
                ns[name] = (runtime.Table(list(lk.x), list(lk.y)) if part == "t"
                            else np.array(getattr(lk, part)))
        lines.append(f"    {nid} = {code}")

    for nid in first:
        emit(nid, True)
    lines.append(f"    time_step = {prog.control['time_step']}")
    for nid in rest:
        emit(nid, False)
    c = prog.control
    lines.append(f"    return ({c['initial_time']}, {c['final_time']}, {c['time_step']}, "
                 f"{c['saveper']})")
    exec(compile("\n".join(lines) + "\n", f"<control grid {prog.path.name}>", "exec"), ns)
    return ns["control"]


def _reads_of(prog: Program, fixed: Mapping[str, Any], root: str) -> set[str]:
    """Every node one control variable reads (itself included)."""
    out: set[str] = set()
    stack = [root]
    while stack:
        nid = stack.pop()
        if nid in out:
            continue
        out.add(nid)
        if nid not in fixed and nid in prog.aux:
            stack.extend(prog.aux[nid].deps - {"time"})
    return out


def build_grid(prog: Program, fixed: Mapping[str, float]) -> TimeGrid | None:
    """The grid of a model whose control variables read Time (None when they do not: the
    engines' fixed grid from `codegen.control_source` applies). `fixed`: the control variables
    and parameters given for the batch, by node id."""
    order, timed = control_reads(prog, fixed)
    if not timed:
        return None
    control = _evaluator(prog, fixed, order)
    name = prog.path.name

    def at(time: float) -> tuple[float, float, float, float]:
        with np.errstate(all="ignore"):
            try:
                vals = control(np.float64(time))
            except ZeroDivisionError:
                raise CarespiralError(f"{name}: a control variable divides by zero at time "
                                      f"{time:g}") from None
        return tuple(float(np.asarray(v)) for v in vals)  # type: ignore[return-value]

    t0 = at(0.0)[0]  # PySD evaluates INITIAL TIME once, with Time 0
    again = at(t0)[0]
    if not (math.isfinite(t0) and again == t0):
        raise CarespiralError(
            f"{name}: INITIAL TIME reads Time: at Time 0 it is {t0:g}, at Time {t0:g} it is "
            f"{again:g}; the start is ambiguous: write INITIAL TIME without Time")
    times: list[float] = []
    dts: list[float] = []
    saved: list[bool] = []
    time = np.float64(t0)  # as the engines: the same additions give the same times
    # the project's limit on steps per run (the size check before a run sees the first step
    # only, so a step that shrinks later is caught here, before the grid grows further)
    limit = max_steps()
    while True:
        _, tf, dt, sp = at(time)
        if not dt > 0 or not math.isfinite(dt):
            raise CarespiralError(f"{name}: TIME STEP must be positive, got {dt:g} at time "
                                  f"{float(time):g}")
        if not sp > 0:
            raise CarespiralError(f"{name}: SAVEPER must be positive, got {sp:g} at time "
                                  f"{float(time):g}")
        prec = dt * RPREC
        since = float(time) - t0
        times.append(float(time))
        dts.append(dt)
        saved.append(since % sp < prec or -since % sp < prec)
        if not float(time) + prec < tf:
            break
        if len(times) > limit:
            raise RunTooLargeError(
                f"{name}: the run takes more than {limit:,} steps (time {float(time):g}, "
                f"FINAL TIME {tf:g}, TIME STEP {dt:g}); check the control variables (or raise "
                "the limit with CARESPIRAL_MAX_STEPS)")
        time = time + dt
    return TimeGrid(t0, np.array(times), np.array(dts), np.array(saved, dtype=bool))
