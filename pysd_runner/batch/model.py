"""`compile_model(path) -> BatchModel`: a model compiled to run many parameter sets at once."""

from __future__ import annotations

import collections
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from carespiral.errors import CarespiralError, UnknownNameError
from carespiral.pysd_runner.batch import numba_engine, runtime, time_grid
from carespiral.pysd_runner.batch.allocation import fixed_types
from carespiral.pysd_runner.batch.codegen import Generated, control_source, generate
from carespiral.pysd_runner.batch.lowering import Program, lower_file
from carespiral.pysd_runner.batch.numba_engine import NumbaUnavailableError
from carespiral.pysd_runner.batch.program import RANDOM_RUN, RANDOM_SEED
from carespiral.pysd_runner.batch.random_streams import stream_positions
from carespiral.pysd_runner.batch.recording import (
    BlowUpCheck,
    ReduceRecorder,
    Reduction,
    TrajectoryRecorder,
    parse_reduce,
)
from carespiral.pysd_runner.limits import check_size
from carespiral.pysd_runner.names import normalise

__all__ = ["BatchModel", "BatchParameter", "TimeInput", "compile_model"]

DEFAULT_CHUNK = 10_000  # runs integrated together: bounds memory; arrays stay in cache
ENGINES = ("auto", "numpy", "numba")
# "auto" uses numba from this many runs: below it, compiling (or loading the cached kernel)
# can cost more than the numpy engine's whole run
AUTO_NUMBA_RUNS = 1_000


def _choose_engine(engine: str | None, nruns: int) -> str:
    engine = "auto" if engine is None else str(engine).lower()
    if engine not in ENGINES:
        raise UnknownNameError("engine", engine, ENGINES)
    if engine == "auto":
        return "auto" if nruns >= AUTO_NUMBA_RUNS and numba_engine.available() else "numpy"
    return engine


@dataclass(frozen=True)
class BatchParameter:
    name: str
    default: float
    lower: float | None
    upper: float | None
    units: str


class TimeInput:
    """A time-varying input: values at given times, linearly interpolated, held at the ends.

    `values` is 1-D (the same series for every run) or 2-D (times x runs).
    """

    def __init__(self, times: Sequence[float], values: Any) -> None:
        self.times = np.asarray(times, dtype=float)
        self.values = np.asarray(values, dtype=float)
        if self.times.ndim != 1 or len(self.times) < 1 or np.any(np.diff(self.times) <= 0):
            raise CarespiralError("a time input needs strictly increasing times")
        if self.values.shape[0] != len(self.times) or self.values.ndim not in (1, 2):
            raise CarespiralError(
                f"a time input has {len(self.times)} times but values of shape "
                f"{self.values.shape}; give one value per time (or times x runs)")

    @classmethod
    def from_pandas(cls, obj: pd.Series | pd.DataFrame) -> TimeInput:
        return cls(obj.index.to_numpy(dtype=float), obj.to_numpy(dtype=float))

    def rows(self, sel: slice) -> TimeInput:
        return self if self.values.ndim == 1 else TimeInput(self.times, self.values[:, sel])

    def __call__(self, time: float) -> Any:
        if self.values.ndim == 1:
            return np.interp(time, self.times, self.values)  # np.float64
        t = self.times
        if time <= t[0]:
            return self.values[0]
        if time >= t[-1]:
            return self.values[-1]
        i = int(np.searchsorted(t, time, side="right")) - 1
        w = (time - t[i]) / (t[i + 1] - t[i])
        return self.values[i] + (self.values[i + 1] - self.values[i]) * w


def _norm(name: str) -> str:
    return normalise(name)  # the runner's one name rule (subscripted cells included)


# one BatchModel per file version (the model and the data files it reads), so its generated
# code is reused between calls
_COMPILED: collections.OrderedDict[tuple[str, float], tuple[BatchModel, tuple]] = \
    collections.OrderedDict()
_CACHE_SIZE = 32


def _stamps(files: Sequence[str]) -> tuple:
    return tuple(os.stat(f).st_mtime_ns if os.path.exists(f) else None for f in files)


def compile_model(path: str | Path) -> BatchModel:
    """Compile a Vensim `.mdl` (or XMILE) file for batch runs; cached per file version (the
    model file and the external data files it reads).

    Raises `UnsupportedConstructError` naming the construct and variable if the model uses
    something the batch backend cannot vectorise.
    """
    p = Path(path).resolve()
    if not p.is_file():
        raise CarespiralError(f"model file {path} does not exist")
    key = (str(p), p.stat().st_mtime)
    hit = _COMPILED.get(key)
    if hit is not None and hit[1] == _stamps(hit[0].program.external_files):
        _COMPILED.move_to_end(key)
        return hit[0]
    bm = BatchModel(lower_file(p))
    _COMPILED[key] = (bm, _stamps(bm.program.external_files))
    while len(_COMPILED) > _CACHE_SIZE:
        _COMPILED.popitem(last=False)
    return bm


class BatchModel:
    """A compiled model. `run(params)` integrates every row of `params` at once."""

    def __init__(self, program: Program) -> None:
        self.program = program
        self._gen: dict[tuple, tuple[Generated, Callable]] = {}
        self._ctl: dict[frozenset, Callable] = {}
        names = program.names
        self._lookup_names = {v for v, nid in names.items() if nid in program.lookups}
        self._fixed = fixed_types(program.aux)  # ALLOCATE AVAILABLE's profile types
        self._table: dict[str, str] = {}
        for v in names:
            self._table.setdefault(_norm(v), v)
        for py, v in program.py_names.items():
            if v in names:
                self._table.setdefault(_norm(py), v)
        self._groups = {_norm(g): cells for g, cells in program.groups.items()}
        for py, v in program.py_names.items():
            if v in program.groups:
                self._groups.setdefault(_norm(py), program.groups[v])

    def __getstate__(self) -> dict:
        return {"program": self.program}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["program"])  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"<BatchModel {self.program.path.name}: {len(self.program.states)} states>"

    # ---- description -----------------------------------------------------------------------

    @property
    def path(self) -> Path:
        return self.program.path

    @property
    def variables(self) -> list[str]:
        """Model variables that can be recorded (everything but lookups)."""
        return [v for v in self.program.names if v not in self._lookup_names]

    @property
    def stocks(self) -> list[str]:
        return self.program.stocks

    @property
    def parameters(self) -> list[BatchParameter]:
        """The model's constants (not the control variables), with defaults and bounds."""
        out = []
        control = set(self.program.control.values())
        for v, nid in self.program.names.items():
            a = self.program.aux.get(nid)
            if a is not None and a.is_constant and nid not in control:
                lo, hi = self.program.limits[v]
                out.append(BatchParameter(v, float(eval(a.code, {"NAN": math.nan,
                                                                  "INF": math.inf})),
                                          lo, hi, self.program.units[v]))
        return out

    def resolve(self, name: str) -> str:
        """Vensim name for a Vensim name or PySD python name (case and spaces ignored); a cell of
        a subscripted variable is named with its elements, e.g. `Establishment[Haringey]`."""
        if name in self.program.names:
            return name
        key = _norm(name)
        if key in self._table:
            return self._table[key]
        if key in self._groups:
            raise UnknownNameError(
                f"single variable of {self.path.name}", name, self._groups[key][:5],
                hint=f"({name!r} is subscripted: name one element, e.g. "
                     f"{self._groups[key][0]!r})")
        raise UnknownNameError(f"variable of {self.path.name}", name, self.program.names)

    def expand(self, name: str) -> list[str]:
        """Vensim names of every cell of a subscripted variable (or the one name)."""
        key = _norm(name)
        if name not in self.program.names and key in self._groups:
            return list(self._groups[key])
        return [self.resolve(name)]

    @property
    def subscripted(self) -> dict[str, list[str]]:
        """Subscripted variables and the Vensim names of their cells."""
        return {k: list(v) for k, v in self.program.groups.items()}

    # ---- running -----------------------------------------------------------------------------

    def run(
        self,
        params: pd.DataFrame | None = None,
        outputs: Sequence[str] | None = None,
        saveper: float | None = None,
        start: float | None = None,
        stop: float | None = None,
        time_step: float | None = None,
        reduce: str | Sequence[str | Reduction] | None = None,
        inputs: Mapping[str, TimeInput | pd.Series | pd.DataFrame] | None = None,
        period: float = 12.0,
        period_offset: float = 0.0,
        chunk_size: int | None = None,
        scheduler: Any = None,
        progress: Callable[[int, int], None] | None = None,
        n: int | None = None,
        engine: str | None = None,
        threads: int | None = None,
        seed: int = 0,
        first_run: int = 0,
        streams: np.ndarray | None = None,
    ) -> xr.Dataset:
        """Run every row of `params` (one run per row) and return an `xarray.Dataset`.

        params: columns are constants (Vensim or PySD names), one row per run; `n` runs of the
            defaults when None. inputs: time-varying inputs by variable name (a `TimeInput`, a
            Series indexed by time for all runs, or a DataFrame indexed by time with one column
            per run). outputs: variables to keep (default: all). reduce: per-run summaries
            instead of trajectories (see `Reduction`); `period` is the length of the annual
            aggregates in model time units, and they start `period_offset` after the initial
            time. chunk_size: runs per chunk (memory bound).
            engine: "numpy" (vectorised over runs), "numba" (a compiled loop over runs and
            steps; needs numba) or None/"auto": numba when it is installed, the model is one it
            compiles and the batch has at least `AUTO_NUMBA_RUNS` runs, else numpy. Both give
            the same numbers. threads: the numba engine's threads (default: every core this
            process may use); the results are the same bits for any number.
            scheduler: None (in this process) or a Dask scheduler: "local" for a local cluster,
            an address "tcp://...", or a `distributed.Client`; see `run_distributed`.
            seed: RANDOM functions' seed (a whole number from 0): run i (the i-th row) draws
            from the stream (seed, first_run + i), whatever the chunks, engine or threads.
            first_run: the position of the first row in a larger ensemble run in pieces (a
            whole number from 0, default 0), so that the pieces draw the streams one run of
            the whole ensemble would: rows 0-99 with first_run=0 then rows 100-199 with
            first_run=100 give the numbers of the 200 rows in one call.
            streams: instead of `first_run`, each row's own stream position (whole numbers from
            0, rows may share one): row i draws from (seed, streams[i]), so runs compared under
            common random numbers share one call.

        The result has dims (run, time) (or (run,) / (run, period) with `reduce`) and per-run
        blow-up flags: `blowup_time` (NaN when the run stayed finite), `blowup_variable`,
        `blowup_kind`.
        """
        if scheduler is not None:
            from carespiral.pysd_runner.batch.distributed import run_distributed

            return run_distributed(self, params, outputs=outputs, saveper=saveper, start=start,
                                   stop=stop, time_step=time_step, reduce=reduce,
                                   inputs=inputs, period=period,
                                   period_offset=period_offset, chunk_size=chunk_size,
                                   scheduler=scheduler, progress=progress, n=n,
                                   engine=engine, seed=seed, first_run=first_run,
                                   streams=streams)
        job = self.prepare(params, outputs=outputs, saveper=saveper, start=start, stop=stop,
                           time_step=time_step, reduce=reduce, inputs=inputs, period=period,
                           period_offset=period_offset, n=n, engine=engine, seed=seed,
                           first_run=first_run, streams=streams)
        job.threads = numba_engine.default_threads() if threads is None else max(1, int(threads))
        size = chunk_size or DEFAULT_CHUNK
        store: dict[str, np.ndarray] = {}
        for lo in range(0, job.n, size):
            hi = min(lo + size, job.n)
            job.store(store, lo, hi, self.run_rows(job, lo, hi))
            if progress:
                progress(hi, job.n)
        return job.finish(store)

    def prepare(self, params: pd.DataFrame | None = None, outputs: Sequence[str] | None = None,
                saveper: float | None = None, start: float | None = None,
                stop: float | None = None, time_step: float | None = None,
                reduce: str | Sequence[str | Reduction] | None = None,
                inputs: Mapping[str, Any] | None = None, period: float = 12.0,
                period_offset: float = 0.0, n: int | None = None,
                engine: str | None = None, seed: int = 0, first_run: int = 0,
                streams: np.ndarray | None = None) -> Job:
        """Check names and values and fix the time grid, once for a whole ensemble.

        `first_run`: the position of the first row in the whole ensemble (a Dask chunk's
        offset), which keys each run's RANDOM stream with `seed`; or `streams`, each row's own
        position. All are whole numbers from 0 (checked for every model, so a mistake shows
        before a model gains RANDOM functions)."""
        prog = self.program
        if params is None:
            params = pd.DataFrame(index=pd.RangeIndex(1 if n is None else n, name="run"))
        if not isinstance(params, pd.DataFrame):
            raise CarespiralError("params must be a pandas DataFrame with one row per run")
        nruns = len(params)
        if nruns == 0:
            raise CarespiralError("params has no rows: nothing to run")
        positions = stream_positions(seed, first_run, nruns, streams)
        P: dict[str, Any] = {}
        ctl_over: dict[str, float] = {}
        control_ids = set(prog.control.values())
        cols = [(col, v) for col in params.columns for v in self.expand(str(col))]
        for col, v in cols:
            nid = prog.names[v]
            if nid in prog.states:
                raise CarespiralError(f"{v!r} is a stock and cannot be set per run; set the "
                                      "constants its initial value is computed from")
            if nid in prog.lookups:
                raise CarespiralError(f"{v!r} is a lookup table and cannot be set per run")
            if nid in self._fixed:
                raise CarespiralError(f"{v!r} is the priority profile type of an ALLOCATE "
                                      "AVAILABLE, which the batch backend fixes from the model "
                                      "(one curve per target); it cannot be set per run: "
                                      "change it in the model")
            try:
                vals = params[col].to_numpy(dtype=float)
            except (TypeError, ValueError):
                raise CarespiralError(f"params column {col!r} is not numeric") from None
            if np.isnan(vals).any():
                bad = int(np.flatnonzero(np.isnan(vals))[0])
                raise CarespiralError(f"params column {col!r} has a missing value (row {bad})")
            if nid in control_ids:
                if not np.all(vals == vals[0]):
                    raise CarespiralError(f"{v} must be the same for every run of a batch")
                ctl_over[nid] = float(vals[0])
                continue
            P[nid] = np.ascontiguousarray(vals)
        if RANDOM_RUN in prog.aux:
            P[RANDOM_SEED] = np.float64(seed)
            P[RANDOM_RUN] = positions
        c = prog.control
        for key, val in (("initial_time", start), ("final_time", stop),
                         ("time_step", time_step), ("saveper", saveper)):
            if val is not None:
                ctl_over[c[key]] = float(val)
        T: dict[str, TimeInput] = {}
        for name, series in (inputs or {}).items():
            v = self.resolve(name)
            nid = prog.names[v]
            ti = series if isinstance(series, TimeInput) else TimeInput.from_pandas(series)
            if ti.values.ndim == 2 and ti.values.shape[1] != nruns:
                raise CarespiralError(f"time input {v!r} has {ti.values.shape[1]} runs, params "
                                      f"has {nruns} rows")
            if nid in P:
                raise CarespiralError(f"{v!r} is given both as a parameter and a time input")
            T[nid] = ti
        # the parameters the control variables read are shared by every run (one grid)
        ctl_in = {**ctl_over, **time_grid.shared_parameters(prog, ctl_over, P, T)}
        grid = time_grid.build_grid(prog, ctl_in)  # None: control variables without Time
        if grid is None:
            key = frozenset(ctl_in)
            if key not in self._ctl:
                ns: dict[str, Any] = {"np": np, "rt": runtime, "NAN": math.nan, "INF": math.inf}
                exec(compile(control_source(prog, key), f"<control {prog.path.name}>", "exec"),
                     ns)
                self._ctl[key] = ns["control"]
            t0, tf, dt, sp = (float(np.asarray(x)) for x in self._ctl[key](ctl_in))
            if not dt > 0:
                raise CarespiralError(f"TIME STEP must be positive, got {dt:g}")
            nsteps = max(0, math.ceil((tf - t0) / dt - 1e-5))
            how = f"(({tf:g} - {t0:g}) / {dt:g})"
            save_every = round(sp / dt)
            if save_every < 1 or abs(save_every * dt - sp) > 1e-9 * max(1.0, abs(sp)):
                raise CarespiralError(f"SAVEPER ({sp:g}) must be a whole multiple of TIME STEP "
                                      f"({dt:g})")
        else:
            t0, dt, nsteps = grid.t0, float(grid.dts[0]), grid.nsteps
            how = "(its control variables' grid, stepped before the run)"
            fixed_grid = grid.uniform()
            if fixed_grid is not None:  # one step size, saved every s steps: the usual code
                dt, save_every = fixed_grid
                grid = None
            else:
                save_every = 1
        out_names = list(outputs) if outputs is not None else [
            v for v in self.variables if prog.names[v] not in control_ids]
        out_names = list(dict.fromkeys(c for o in out_names for c in self.expand(o)))
        for o in out_names:
            if prog.names[o] in prog.lookups:
                raise CarespiralError(f"{o!r} is a lookup table, not a variable to record")
        reductions = parse_reduce(reduce)
        for red in reductions:
            if red.var is not None:
                rv = self.resolve(red.var)
                if rv not in out_names:
                    out_names.append(rv)
        reductions = [Reduction(r.stat, None if r.var is None else self.resolve(r.var),
                                r.threshold) for r in reductions]
        if reduce is not None and not reductions:
            raise CarespiralError("reduce names no summary (e.g. final,max)")
        every = any(r.stat in ("above", "below") or r.stat.startswith("annual")
                    for r in reductions)
        if grid is not None and every:
            raise CarespiralError(
                f"{prog.path.name}: its TIME STEP or SAVEPER changes over time; the summaries "
                "above, below and annual_* need a fixed time step (use final, max, min or mean, "
                "or the trajectories)")
        # what the batch keeps, counted on the grid as it is: a SAVEPER that changes over time
        # saves `grid.saved.sum()` times, not what its first value implies
        saved = int(grid.saved.sum()) if grid is not None else nsteps // save_every + 1
        check_size(nsteps, float(nruns) * len(out_names) * (4.0 if reductions else saved),
                   f"{nruns:,} runs of {prog.path.stem!r}", how)
        out_ids = [prog.names[o] for o in out_names]
        gen, func = self._compiled(P, T, out_ids, every, _choose_engine(engine, nruns),
                                   grid is not None)
        index = params.index if params.index.is_unique else pd.RangeIndex(nruns)
        return Job(self, P, T, {**ctl_over}, out_names, reductions, t0, dt, nsteps,
                   save_every, period, period_offset, nruns, index, gen, func, grid=grid)

    def _compiled(self, P: Mapping[str, Any], T: Mapping[str, Any], out_ids: list[str],
                  every: bool, engine: str, varying: bool = False) -> tuple[Generated, Callable]:
        """Generated code and its function for one run configuration (cached); `varying`: a
        time grid whose step changes (control variables that read Time, `time_grid`)."""
        gkey = (frozenset(P), frozenset(T), tuple(out_ids), every, engine, varying)
        if engine == "auto":
            # numba when it compiles this configuration; what it refuses runs on numpy
            if gkey not in self._gen:
                try:
                    self._gen[gkey] = self._compiled(P, T, out_ids, every, "numba", varying)
                except NumbaUnavailableError:
                    self._gen[gkey] = self._compiled(P, T, out_ids, every, "numpy", varying)
            return self._gen[gkey]
        if gkey not in self._gen:
            prog = self.program
            if engine == "numba":
                if not numba_engine.available():
                    raise NumbaUnavailableError(
                        "engine='numba' needs the numba package: pip install numba "
                        "(or use engine='numpy')")
                gen = numba_engine.generate_numba(prog, P, T, out_ids, every, varying=varying)
                self._gen[gkey] = (gen, numba_engine.load(gen))
            else:
                gen = generate(prog, P, T, out_ids, every, varying)
                ns = {"np": np, "rt": runtime, "NAN": math.nan, "INF": math.inf}
                exec(compile(gen.source, f"<batch {prog.path.name}>", "exec"), ns)
                self._gen[gkey] = (gen, ns["simulate"])
        return self._gen[gkey]

    def run_rows(self, job: Job, lo: int, hi: int) -> dict[str, np.ndarray]:
        """Integrate runs lo..hi of a prepared job; returns plain arrays (for chunking)."""
        n = hi - lo
        sel = slice(lo, hi)
        P = {k: (v[sel] if isinstance(v, np.ndarray) else v) for k, v in job.P.items()}
        P.update(job.ctl)
        T = {k: v.rows(sel) for k, v in job.T.items()}
        n_saved = job.nsteps // job.save_every + 1
        labels, nonneg = [], []
        for sid in job.gen.checked:
            st = self.program.states[sid]
            labels.append(st.vensim or st.owner)
            nonneg.append(st.lower_limit == 0.0)
        check = BlowUpCheck(n, labels, nonneg)
        rec: TrajectoryRecorder | ReduceRecorder
        steps: tuple = (job.dt, job.nsteps, job.save_every)
        if job.grid is not None:  # control variables that change over time
            steps = (job.grid.dts, job.nsteps, job.grid.saved)
            rec = (ReduceRecorder(n, job.outputs, job.reductions, 1, job.nsteps, job.t0,
                                  job.dt, job.period, job.period_offset) if job.reductions
                   else time_grid.GridRecorder(n, job.outputs, job.grid))
        elif job.reductions:
            rec = ReduceRecorder(n, job.outputs, job.reductions, job.save_every, job.nsteps,
                                 job.t0, job.dt, job.period, job.period_offset)
        else:
            rec = TrajectoryRecorder(n, job.outputs, n_saved, job.save_every)
        with np.errstate(all="ignore"):
            try:
                extra = {"threads": job.threads} if job.gen.engine == "numba" else {}
                job.func(P, T, n, job.t0, *steps, rec, check, **extra)
            except ZeroDivisionError:
                # only constants are plain Python numbers: a constant equation divides by zero
                raise CarespiralError(
                    f"{self.path.name}: an equation of constants divides by zero while the "
                    "model is initialised; check the constants' values") from None
        data = rec.results() if isinstance(rec, ReduceRecorder) else rec.data
        return {**data, "blowup_time": check.time, "blowup_variable": check.variable,
                "blowup_kind": check.kind}


@dataclass
class Job:
    """A prepared batch: resolved inputs, time grid and compiled code."""

    model: BatchModel
    P: dict[str, Any]
    T: dict[str, TimeInput]
    ctl: dict[str, float]
    outputs: list[str]
    reductions: list[Reduction]
    t0: float
    dt: float
    nsteps: int
    save_every: int
    period: float
    period_offset: float
    n: int
    index: pd.Index
    gen: Generated
    func: Callable
    threads: int = 1  # the numba engine's threads
    # the steps when the control variables change the step size or saving (else None: the
    # grid is t0 + k * dt, saved every save_every steps)
    grid: time_grid.TimeGrid | None = None

    @property
    def times(self) -> np.ndarray:
        if self.grid is not None:
            return self.grid.saved_times
        ks = np.arange(0, self.nsteps + 1, self.save_every)
        return np.round(self.t0 + ks * self.dt, 10)

    def store(self, merged: dict[str, np.ndarray], lo: int, hi: int,
              part: dict[str, np.ndarray]) -> None:
        """Copy one chunk's results into the whole ensemble's arrays (allocated on first use),
        so that chunks never pile up in memory."""
        for k, v in part.items():
            if k not in merged:
                merged[k] = np.empty((self.n, *v.shape[1:]), dtype=v.dtype)
            merged[k][lo:hi] = v

    def finish(self, merged: dict[str, np.ndarray]) -> xr.Dataset:
        run = self.index.rename("run") if self.index.name != "run" else self.index
        coords: dict[str, Any] = {"run": run.to_numpy()}
        data_vars: dict[str, Any] = {}
        if self.reductions:
            spp = round(self.period / self.dt)
            k0 = round(self.period_offset / self.dt)
            nper = max(0, (self.nsteps - k0) // spp) if spp and self.grid is None else 0
            coords["period_end"] = np.round(
                self.t0 + self.period_offset + self.period * np.arange(1, nper + 1), 10)
            for k, v in merged.items():
                if v.ndim == 2:
                    data_vars[k] = (("run", "period_end"), v)
                else:
                    data_vars[k] = (("run",), v)
        else:
            coords["time"] = self.times
            for k, v in merged.items():
                data_vars[k] = (("run", "time"), v) if v.ndim == 2 else (("run",), v)
        ds = xr.Dataset(data_vars, coords=coords)
        ds.attrs["model"] = str(self.model.path.name)
        ds.attrs["time_step"] = self.dt
        ds.attrs["blowups"] = int(np.isfinite(merged["blowup_time"]).sum())
        ds.attrs["engine"] = self.gen.engine
        return ds
