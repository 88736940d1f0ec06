"""`carespiral ensemble MODEL`: many runs at once on the vectorised batch backend (or Dask)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import typer

from carespiral.cli._common import (
    FORCE,
    check_chunk_size,
    check_scheduler,
    check_seed,
    console,
    output_file,
    split_list,
    write_table,
)
from carespiral.errors import CarespiralError, FileFormatError


def parse_vary(items: list[str] | None) -> dict[str, tuple[float, float]]:
    """`NAME=LO:HI` ranges from repeated --vary options."""
    out: dict[str, tuple[float, float]] = {}
    for item in items or []:
        name, sep, rng = item.partition("=")
        lo, sep2, hi = rng.partition(":")
        if not sep or not sep2:
            raise CarespiralError(f"--vary {item!r}: expected NAME=LO:HI, e.g. "
                                  "--vary 'Referral Rate=200:400'")
        try:
            a, b = float(lo), float(hi)
        except ValueError:
            raise CarespiralError(f"--vary {item!r}: LO and HI must be numbers") from None
        if not a < b:
            raise CarespiralError(f"--vary {item!r}: LO must be below HI")
        out[name.strip()] = (a, b)
    return out


def read_samples(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise CarespiralError(f"--samples {path}: no such file")
    try:
        df = pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_csv(path)
    except Exception as exc:  # pandas raises many types for a malformed file
        raise FileFormatError(path, f"cannot read as a table of samples: {exc}") from None
    if df.empty:
        raise FileFormatError(path, "no rows: one row per run expected")
    for col in df.columns:
        if not pd.api.types.is_numeric_dtype(df[col]):
            bad = df[col][pd.to_numeric(df[col], errors="coerce").isna()]
            line = int(bad.index[0]) + 2 if len(bad) else None
            raise FileFormatError(path, f"column {col!r} is not numeric", line=line,
                                  column=col)
    return df


def _check_samples(m, df: pd.DataFrame, path: Path) -> None:
    """Each column a constant of the model and each value within its bounds; a mistake names
    the file, line and column."""
    seen: dict[str, str] = {}
    for col in df.columns:
        try:
            p = m.parameter(str(col))
        except CarespiralError as exc:
            raise FileFormatError(path, str(exc), line=1, column=col) from None
        if p.name in seen:
            raise FileFormatError(path, f"columns {seen[p.name]!r} and {col!r} both set "
                                  f"{p.name!r}", line=1, hint="give each parameter once")
        seen[p.name] = str(col)
        x = df[col].to_numpy(dtype=float)
        bad = np.flatnonzero(~np.isfinite(x) | (x < p.lower) | (x > p.upper))
        if len(bad):
            try:
                p.check(float(x[bad[0]]))
            except CarespiralError as exc:  # the first row out of bounds (line 1 is the header)
                raise FileFormatError(path, str(exc), line=int(bad[0]) + 2,
                                      column=col) from None


def to_table(ds, params: pd.DataFrame) -> pd.DataFrame:
    """One row per run (summaries) or per run and time (trajectories), with the inputs."""
    flags = ["blowup_time", "blowup_variable", "blowup_kind"]
    per_run = {k: ds[k].to_numpy() for k in ds.data_vars if ds[k].dims == ("run",)}
    if "time" in ds.dims:
        traj = [k for k in ds.data_vars if "time" in ds[k].dims]
        long = ds[traj].drop_vars("date", errors="ignore").to_dataframe().reset_index()
        info = pd.DataFrame({"run": ds["run"].to_numpy(), **{f: per_run[f] for f in flags}})
        return long.merge(info, on="run")
    cols: dict[str, np.ndarray] = {}
    for k in ds.data_vars:
        if ds[k].dims == ("run",):
            cols[k] = ds[k].to_numpy()
        else:  # (run, period_end): one column per period
            for j, end in enumerate(ds["period_end"].to_numpy()):
                cols[f"{k}@{end:g}"] = ds[k].to_numpy()[:, j]
    table = pd.DataFrame(cols, index=pd.Index(ds["run"].to_numpy(), name="run"))
    inputs = params.set_axis(table.index)
    return pd.concat([inputs, table], axis=1)


def ensemble(
    model: str = typer.Argument(..., help="A bundled model name or a path to a .mdl file."),
    samples: Path = typer.Option(None, "--samples", help="CSV/Parquet: one run per row, "
                                 "columns named after parameters."),
    lhs: int = typer.Option(None, "--lhs", help="Draw N Latin-hypercube samples of --vary."),
    vary: list[str] = typer.Option(None, "--vary", help="NAME=LO:HI range for --lhs "
                                   "(repeatable)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the Latin hypercube and of the model's RANDOM functions."),
    scenario: str = typer.Option(None, "--scenario", help="Scenario name or TOML file."),
    outputs: str = typer.Option(None, "--outputs", help="Comma-separated outputs (names or "
                                "roles); default: stocks and catalogue outputs."),
    reduce: str = typer.Option(None, "--reduce", help="Per-run summaries instead of "
                               "trajectories: final,max,min,mean,above:VAR:X,below:VAR:X,"
                               "annual_sum,annual_mean,annual_end."),
    saveper: float = typer.Option(None, "--saveper", help="Interval between saved values."),
    period_offset: float = typer.Option(0.0, "--period-offset", help="Start the annual "
                                        "summaries this long after the initial time (6: years "
                                        "to the September workforce census)."),
    scheduler: str = typer.Option(None, "--scheduler", help="Run on Dask: 'local' for a "
                                  "local cluster or an address such as tcp://host:8786."),
    chunk_size: int = typer.Option(None, "--chunk-size", help="Runs per chunk."),
    engine: str = typer.Option("auto", "--engine", help="numpy, numba, or auto (numba from "
                               "1,000 runs when installed)."),
    out: Path = typer.Option(None, "--out", help="Write results to FILE.parquet or FILE.csv."),
    force: bool = FORCE,
) -> None:
    """Run many parameter sets at once and write one table (runs x summaries or x time)."""
    from carespiral.cli._progress import progress_bar
    from carespiral.pysd_runner import load
    from carespiral.pysd_runner.limits import check_size

    output_file(out, "--out", suffixes=(".csv", ".parquet"), force=force,
                inputs=[model, samples, scenario])
    if engine not in ("auto", "numpy", "numba"):
        raise CarespiralError(f"--engine {engine}: expected numpy, numba or auto")
    _check_options(seed, chunk_size, scheduler)
    if not (math.isfinite(period_offset) and period_offset >= 0):
        raise CarespiralError(f"--period-offset {period_offset:g}: expected a finite time from 0 "
                              "up (6: annual summaries to September)")
    if (samples is None) == (lhs is None):
        raise CarespiralError("give either --samples FILE or --lhs N with --vary NAME=LO:HI")
    m = load(model)
    if samples is not None:
        if vary:
            raise CarespiralError("--vary goes with --lhs, not with --samples")
        params = read_samples(samples)
        _check_samples(m, params, samples)
    else:
        if lhs < 1:
            raise CarespiralError(f"--lhs {lhs}: expected a positive number of runs")
        ranges = parse_vary(vary)
        if not ranges:
            raise CarespiralError("--lhs needs at least one --vary NAME=LO:HI")
        for name, (lo, hi) in ranges.items():
            p = m.parameter(name)
            p.check(lo)
            p.check(hi)
        check_size(0, float(lhs) * len(ranges), f"--lhs {lhs:,}", "")  # the samples alone
        from carespiral.exploration.designs import sample_ranges  # the one Latin hypercube

        params = sample_ranges(ranges, lhs, seed)
    with progress_bar() as bar:
        task = bar.add_task(f"{m.name}: {len(params)} runs", total=len(params))
        # backend "auto": a model the batch backend cannot compile runs on PySD
        ds = m.run_batch(params, outputs=split_list(outputs), saveper=saveper,
                         scenario=scenario, reduce=reduce, scheduler=scheduler,
                         chunk_size=chunk_size, period_offset=period_offset, engine=engine, seed=seed,
                         progress=lambda done, total: bar.update(task, completed=done),
                         backend="auto")
    if ds.attrs.get("engine") == "pysd":
        console.print("The batch backend cannot compile this model: ran it on PySD, one run "
                      "at a time (--engine, --scheduler and --chunk-size do not apply).")
    table = to_table(ds, params)
    blowups = int(ds.attrs.get("blowups", 0))
    if out:
        write_table(table, out)
        console.print(f"Wrote {len(table)} rows to {out} ({len(params)} runs, "
                      f"{blowups} blew up)")
    else:
        console.print(table.head(20).to_string())
        console.print(f"{len(params)} runs, {blowups} blew up")


def _check_options(seed: int, chunk_size: int | None, scheduler: str | None) -> None:
    check_seed(seed)
    check_chunk_size(chunk_size)
    check_scheduler(scheduler)


def register(app: typer.Typer) -> None:
    app.command("ensemble")(ensemble)
