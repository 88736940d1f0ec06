"""Experiments: sample uncertainties and levers, run them in chunks, keep every finished chunk.

The design (Latin hypercube, scrambled Sobol sequence, Saltelli or Morris for sensitivity) is a
pure function of the spec and its seed. Runs go through `Model.run_batch` a chunk at a time; each
chunk's per-run outcomes (regime, time of collapse, criterion, peak and final values) are written to
`OUT/chunks/` the moment they exist. Resuming reads which runs are done and runs only the rest, so
an interrupted exploration loses at most the chunk in flight, and the result is the same for any
chunking: every run is computed on its own, and a model's RANDOM functions draw, for run r of
the design, the stream (spec seed, r) whichever chunk runs it (`evaluate`).
"""

from __future__ import annotations

import contextlib
import itertools
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from carespiral._atomic import FolderClaim
from carespiral.errors import CarespiralError
from carespiral.exploration.criteria import COLLAPSE, classify, criterion_to_dict, outputs_needed
from carespiral.exploration.designs import DESIGNS, get_design
from carespiral.exploration.spec import ExploreSpec
from carespiral.results import Result, write_table

__all__ = ["ExperimentResult", "build_design", "evaluate", "run_experiments"]

Progress = Callable[[int, int], None]


@dataclass
class ExperimentResult(Result):
    """Inputs (`design`, one row per run) and per-run `outcomes` of an exploration."""

    design: pd.DataFrame
    outcomes: pd.DataFrame
    model: str
    factors: list  # [{name, lower, upper, role: uncertainty|lever}]
    settings: dict  # design kind, seed, base_n, criteria, outcomes, seconds ...

    kind = "experiments"
    shares_folder = True  # the folder also holds the design and chunks written as runs finish

    def to_frame(self) -> pd.DataFrame:
        return self.design.join(self.outcomes)

    @property
    def collapsed(self) -> pd.Series:
        return self.outcomes["regime"] == COLLAPSE

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "model": self.model,
            "runs": len(self.outcomes),
            "design": self.settings.get("design"),
            "collapse_share": float(self.collapsed.mean()) if len(self.outcomes) else math.nan,
        }
        crit = self.outcomes.loc[self.collapsed, "criterion"].value_counts()
        out["criterion_fired_first"] = {str(k): int(v) for k, v in crit.items()}
        if self.collapsed.any():
            out["median_collapse_month"] = float(self.outcomes.loc[self.collapsed, "collapse_time"].median())
        for o in self.settings.get("outcomes", []):
            col = self.outcomes[o["name"]]
            out[o["name"]] = {"p10": float(col.quantile(0.1)), "median": float(col.median()),
                              "p90": float(col.quantile(0.9))}
        if "blowup_time" in self.outcomes:
            out["runs_blown_up"] = int(self.outcomes["blowup_time"].notna().sum())
        if "seconds" in self.settings:
            out["seconds"] = self.settings["seconds"]
        return out


# ---- design ---------------------------------------------------------------------------------


def build_design(spec: ExploreSpec, model=None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The experiment table (index `run`, one column per factor) and design facts (e.g. base_n).

    `spec` must be bound to the model (`spec.bind(model)`); posterior draws need `model` too.
    """
    factors = spec.factors
    names = [f.name for f in factors]
    lo = np.array([f.lower for f in factors], dtype=float)
    hi = np.array([f.upper for f in factors], dtype=float)
    info: dict[str, Any] = {"design": spec.design, "seed": spec.seed}
    entry = get_design(spec.design)
    if entry.independent and spec.posterior:
        usable = [d.name for d in DESIGNS.values() if not d.independent]
        raise CarespiralError(
            f"{spec.source}: design {spec.design!r} needs independent ranges; posterior draws "
            f"work with design = {' or '.join(repr(n) for n in usable)}"
        )
    x, facts = entry.sample(names, lo, hi, spec.runs, spec.seed)
    info.update(facts)
    design = pd.DataFrame(x, columns=names)
    if spec.posterior:
        draws = _posterior_draws(spec.posterior, model)
        rng = np.random.default_rng(spec.seed)
        pick = rng.integers(0, len(draws), size=len(design))
        for col in draws.columns:
            if col in names:
                continue  # an explicit range wins over the posterior
            design[col] = draws[col].to_numpy()[pick]
        info["posterior"] = spec.posterior
        info["posterior_draws"] = len(draws)
    design.index = pd.RangeIndex(len(design), name="run")
    return design, info


def _posterior_draws(path: str, model) -> pd.DataFrame:
    """Parameter draws from a calibration result folder (read by the calibration's own loader)
    or from a CSV or Parquet file of draws (one column per parameter, one row per draw)."""
    p = Path(path)
    if p.is_dir():
        from carespiral.calibration.result import load_result  # exploration reads calibrations

        df = load_result(p).draws
        if df is None:
            raise CarespiralError(f"posterior {path}: the calibration result has no draws")
    elif p.suffix in (".parquet", ".csv") and p.is_file():
        df = pd.read_parquet(p) if p.suffix == ".parquet" else pd.read_csv(p)
    else:
        raise CarespiralError(
            f"posterior {path}: expected a calibration result folder (`carespiral calibrate "
            "--out`) or a .parquet or .csv file of draws (one column per parameter)"
        )
    known = {p.name for p in model.parameters}
    keep = {}
    for col in df.columns:
        try:
            name = model.resolve(str(col))
        except CarespiralError:
            continue  # e.g. chain/step/log-probability columns
        if name in known:
            keep[name] = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)
    if not keep:
        raise CarespiralError(f"posterior {path}: no column names a parameter of model {model.name!r}")
    out = pd.DataFrame(keep).dropna()
    if out.empty:
        raise CarespiralError(f"posterior {path}: every draw has a missing value")
    return out


# ---- running ----------------------------------------------------------------------------------


def needed_outputs(spec: ExploreSpec) -> list[str]:
    names = outputs_needed(spec.criteria) + [o.variable for o in spec.outcomes]
    return list(dict.fromkeys(n for n in names if n))


def evaluate(model, spec: ExploreSpec, design: pd.DataFrame,
             first_run: int | None = None) -> pd.DataFrame:
    """Run the rows of `design` and reduce each run to its outcomes (one row per run).

    A model's RANDOM functions draw from the streams (`spec.seed`, position): row i's position
    is `first_run + i`, or by default (None) the row's run number, the design's index as
    `build_design` numbers it, so that a chunk of the design draws what the same rows draw when
    the whole design runs at once (rows whose numbers are not consecutive run as consecutive
    pieces). Models without RANDOM functions give the same numbers for any seed."""
    # the seed and first run are checked by `run_batch` (whole numbers from 0)
    pieces = (_consecutive_runs(design.index) if first_run is None
              else [(first_run, 0, len(design))])
    frames = []
    for start, lo, hi in pieces:
        rows = design.iloc[lo:hi]
        ds = model.run_batch(rows, outputs=needed_outputs(spec), saveper=spec.saveper,
                             scenario=spec.scenario, start=spec.start, stop=spec.stop,
                             time_step=spec.time_step, backend="auto", seed=spec.seed,
                             first_run=start)
        frames.append(reduce_runs(ds, spec, rows))
    return frames[0] if len(frames) == 1 else pd.concat(frames)


def _consecutive_runs(index: pd.Index) -> list[tuple[int, int, int]]:
    """(first run number, first row, end row) of each stretch of consecutive run numbers."""
    values = index.to_numpy()
    if len(values) == 0 or values.dtype.kind not in "iu" or values.min() < 0:
        raise CarespiralError(
            "the design's rows must be numbered by run (whole numbers from 0, as build_design "
            f"numbers them), got an index of {index.dtype} {list(values[:3])!r}; give "
            "first_run to number them from there")
    breaks = np.flatnonzero(np.diff(values) != 1) + 1
    edges = [0, *breaks.tolist(), len(values)]
    return [(int(values[a]), a, b) for a, b in itertools.pairwise(edges)]


def reduce_runs(ds, spec: ExploreSpec, design: pd.DataFrame) -> pd.DataFrame:
    out = classify(ds, spec.criteria, design)
    out.insert(1, "collapse", out["regime"] == COLLAPSE)
    t = ds["time"].to_numpy()
    for o in spec.outcomes:
        values = np.asarray(ds[o.variable].transpose("run", "time").to_numpy(), dtype=float)
        out[o.name] = o.compute(values, t)
    if "blowup_time" in ds:
        # the batch backend flags runs whose numbers left the finite range; keep the flag
        out["blowup_time"] = np.asarray(ds["blowup_time"].to_numpy(), dtype=float)
    out.index = design.index
    return out


def run_experiments(
    spec: ExploreSpec,
    out: str | Path | None = None,
    resume: bool = False,
    scheduler: str | None = None,
    progress: Progress | None = None,
    on_chunk: Callable[[int], None] | None = None,
) -> ExperimentResult:
    """Run the exploration `spec`; with `out`, save chunks as they finish and the result at the end.

    `resume=True` continues an interrupted run in `out` (the spec must be unchanged). `scheduler`
    is a Dask distributed address ("tcp://host:8786") or "local" for a local cluster; without it
    chunks run in this process. `on_chunk(n_done)` is called after each saved chunk.
    """
    from carespiral.pysd_runner import load

    t0 = time.perf_counter()
    model = load(spec.model_ref)
    spec = spec.bind(model)
    design, info = build_design(spec, model)
    # the folder is locked while this runs and marked incomplete until the result is saved
    # (inside a command that claimed it already, that command decides when it is complete)
    if out is not None:
        _check_out(Path(out), design, resume)  # before the folder is touched
    claim = FolderClaim(out if out is not None else ".", "run_experiments")
    with claim if out is not None else contextlib.nullcontext():
        done: dict[int, pd.DataFrame] = {}
        chunk_dir = None
        if out is not None:
            out = Path(out)
            chunk_dir = out / "chunks"
            done = _prepare_out(out, design, resume)
        finished = {int(i) for rows in done.values() for i in rows.index}
        todo = [i for i in design.index if i not in finished]
        chunks = [todo[k:k + spec.chunk] for k in range(0, len(todo), spec.chunk)]
        n_total = len(design)
        n_done = sum(len(v) for v in done.values())
        if progress:
            progress(n_done, n_total)

        def keep(rows: pd.DataFrame) -> None:
            nonlocal n_done
            first, last = int(rows.index[0]), int(rows.index[-1])
            if chunk_dir is not None:
                write_table(rows, chunk_dir / f"runs-{first:09d}-{last:09d}.parquet")
            done[first] = rows
            n_done += len(rows)
            if progress:
                progress(n_done, n_total)
            if on_chunk:
                on_chunk(n_done)

        if scheduler:
            _run_dask(scheduler, model, spec, design, chunks, keep)
        else:
            for idx in chunks:
                keep(evaluate(model, spec, design.loc[idx]))

        outcomes = pd.concat([done[k] for k in sorted(done)]).sort_index() if done else pd.DataFrame()
        settings = {
            **info,
            "runs": n_total,
            "chunk": spec.chunk,
            "criteria": [criterion_to_dict(c) for c in spec.criteria],
            "outcomes": [asdict(o) for o in spec.outcomes],
            "scenario": spec.scenario,
            "stop": spec.stop if spec.stop is not None else model.control("final_time"),
            "source": spec.source,
            "seconds": time.perf_counter() - t0,
        }
        factors = [{"name": f.name, "lower": f.lower, "upper": f.upper,
                    "role": "lever" if f in spec.levers else "uncertainty"} for f in spec.factors]
        result = ExperimentResult(design, outcomes, model.name, factors, settings)
        if out is not None:
            result.save(out)
            claim.complete()
    return result


def _check_out(out: Path, design: pd.DataFrame, resume: bool) -> None:
    """Refuse to start over an exploration (without `resume`) or to resume a different one."""
    design_file = out / "design.parquet"
    if design_file.exists():
        if not resume:
            raise CarespiralError(
                f"{out} already holds an exploration; add --resume to continue it or choose "
                "another --out folder"
            )
        old = pd.read_parquet(design_file)
        same = (old.shape == design.shape and list(old.columns) == list(design.columns)
                and np.allclose(old.to_numpy(), design.to_numpy(), rtol=0, atol=0, equal_nan=True))
        if not same:
            raise CarespiralError(
                f"{out}: the spec's design differs from the one being resumed (changed ranges, "
                "runs, design or seed?); use another --out folder"
            )


def _prepare_out(out: Path, design: pd.DataFrame, resume: bool) -> dict[int, pd.DataFrame]:
    _check_out(out, design, resume)
    design_file = out / "design.parquet"
    if not design_file.exists():
        out.mkdir(parents=True, exist_ok=True)
        write_table(design, design_file)
    done: dict[int, pd.DataFrame] = {}
    for f in sorted((out / "chunks").glob("runs-*.parquet")):
        rows = pd.read_parquet(f)
        done[int(rows.index[0])] = rows
    # A chunk is written atomically, so every file here is complete.
    return done


# Workers keep loaded models between chunks (loading translates once, then hits the cache).
_WORKER_MODELS: dict[str, Any] = {}


def _evaluate_on_worker(mdl_path: str, spec: ExploreSpec, design: pd.DataFrame) -> pd.DataFrame:
    from carespiral.pysd_runner import load

    model = _WORKER_MODELS.get(mdl_path)
    if model is None:
        model = _WORKER_MODELS[mdl_path] = load(mdl_path)
    return evaluate(model, spec, design)


def _run_dask(scheduler: str, model, spec: ExploreSpec, design: pd.DataFrame,
              chunks: list[list[int]], keep: Callable[[pd.DataFrame], None]) -> None:
    from distributed import as_completed

    from carespiral._dask import open_client

    client, close = open_client(scheduler)
    try:
        futures = [client.submit(_evaluate_on_worker, str(model.mdl_path), spec, design.loc[idx],
                                 pure=False) for idx in chunks]
        for fut in as_completed(futures):
            keep(fut.result())
    finally:
        close()
