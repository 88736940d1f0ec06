"""Calibrate one spec to every local authority: all together (pooled), or one process each.

**All together** (the default, `method=None`): every current authority in one vectorised fit
with partial pooling (`carespiral.calibration.pooling`): the folder holds `fit/` (the
`AuthoritiesFit`), `areas.csv` (one row per authority: status, the reason for one not fitted,
each parameter's estimate and 95% interval) and, when an `assess` function is given (the
command line passes the exploration's table of margins to collapse and regime today),
`authorities/` with its columns merged into `areas.csv`.

**One process each** (a `method` named, e.g. `differential_evolution`), on Dask: each authority
is one task: fit (no profiles, to keep it affordable), save its result directory
under `areas/<code>/`, and add the columns a `per_area` function computes from the result (the
command line passes the exploration's margin to collapse, `exploration.margin.margin_columns`).
A task that fails (missing series, a run that cannot be fitted) becomes a row with status
`failed` and the reason; it never stops the others. The table `areas.csv` has one row per
authority: status, message, convergence, each parameter's estimate and 95% interval, and the
extra columns. The whole directory is written atomically: an interrupted run leaves nothing
that looks complete.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from carespiral._atomic import atomic_dir
from carespiral.calibration.spec import CalibrationSpec
from carespiral.errors import CarespiralError

__all__ = ["Assess", "PerArea", "calibrate_all", "current_authorities"]

# Extra columns of an authority's row from its result and the spec (picklable, for Dask).
PerArea = Callable[[Any, CalibrationSpec], dict[str, Any]]
# The table of every authority from the pooled fit (a Result whose `table` has area_code).
Assess = Callable[[Any], Any]


def current_authorities(last_year: int) -> pd.DataFrame:
    """Local authorities with published data up to `last_year` (codes in use then)."""
    from carespiral import data as published

    a = published.areas()
    a = a[(a["level"] == "la") & (a["last_year"] >= last_year)]
    return a[["area_code", "area_name"]].drop_duplicates("area_code").reset_index(drop=True)


def fit_area(spec: CalibrationSpec, code: str, name: str, method: str | None,
             fit_until: int | None, seed: int, budget: int | None, folder: Path,
             command: str, per_area: PerArea | None = None) -> dict[str, Any]:
    """One authority's row of the table (never raises for a user-level failure)."""
    from carespiral.calibration.engine import calibrate

    t0 = time.perf_counter()
    row: dict[str, Any] = {"area_code": code, "area_name": name}
    try:
        result = calibrate(spec, area=code, method=method, fit_until=fit_until, seed=seed,
                           budget=budget, profiles=False, command=command)
    except CarespiralError as exc:
        return {**row, "status": "failed", "message": str(exc),
                "seconds": time.perf_counter() - t0}
    except Exception as exc:  # a numerical failure in one area must not stop the others
        return {**row, "status": "failed", "message": f"{type(exc).__name__}: {exc}",
                "seconds": time.perf_counter() - t0}
    result.save(folder / code)
    row.update(status="ok", message=result.message, converged=result.converged)
    for _, p in result.parameters.iterrows():
        row[f"{p['parameter']}"] = p["estimate"]
        row[f"{p['parameter']} lower"] = p["lower"]
        row[f"{p['parameter']} upper"] = p["upper"]
    if per_area is not None:
        extra = dict(per_area(result, spec))
        note = extra.pop("message", "")
        row.update(extra)
        if note:
            row["message"] += f"; {note}"
    if len(result.fit):
        row["mean_mape"] = float(result.fit["mape"].mean())
    row["seconds"] = time.perf_counter() - t0
    return row


def calibrate_all(
    spec: CalibrationSpec,
    method: str | None = None,
    fit_until: int | None = None,
    seed: int = 0,
    budget: int | None = None,
    out: str | Path = "calibration-all",
    scheduler: str | None = None,
    command: str = "",
    console: Any = None,
    areas: Sequence[str] | None = None,
    per_area: PerArea | None = None,
    pooling: str = "partial",
    assess: Assess | None = None,
) -> pd.DataFrame:
    """Fit every current local authority (or `areas`, codes) and write `out/areas.csv`.

    method None: all together, `pooling` partial or none (see the module docstring); `assess`
    adds the table of margins. A method named: one fit per authority, where scheduler is None
    for a local Dask cluster, a `tcp://` address for an existing cluster, or "sync" to fit one
    after the other in this process, and per_area adds columns per authority from its result
    (e.g. `carespiral.exploration.margin.margin_columns`).
    """
    if method is None:
        return _all_together(spec, fit_until, seed, Path(out), command, console, areas,
                             pooling, assess)
    names = current_authorities(spec.period[1])
    if areas is not None:
        wanted = list(areas)
        known = dict(zip(names["area_code"], names["area_name"], strict=True))
        names = pd.DataFrame({"area_code": wanted, "area_name": [known.get(c, c) for c in wanted]})
    out = Path(out)
    rows: list[dict[str, Any]] = []
    with atomic_dir(out) as tmp:
        folder = tmp / "areas"
        folder.mkdir()
        jobs = [(spec, c, n, method, fit_until, seed, budget, folder, command, per_area)
                for c, n in zip(names["area_code"], names["area_name"], strict=True)]
        progress = _progress(console, len(jobs))
        if scheduler == "sync":
            for job in jobs:
                rows.append(fit_area(*job))
                progress(rows[-1])
        else:
            rows = _on_dask(jobs, scheduler, progress)
        table = pd.DataFrame(rows).sort_values("area_name", ignore_index=True)
        table.to_csv(tmp / "areas.csv", index=False)
    return table


def _all_together(spec, fit_until, seed, out: Path, command, console, areas, pooling,
                  assess) -> pd.DataFrame:
    from carespiral.calibration.pooling.authorities import authority_cases
    from carespiral.calibration.pooling.run import HORIZON, fit_authorities

    say = (lambda text: console.print(text)) if console is not None else (lambda text: None)
    t0 = time.perf_counter()

    def progress(stage: str, runs: int) -> None:
        say(f"{stage}: {runs:,} model runs, {time.perf_counter() - t0:.0f} s")

    with atomic_dir(out) as tmp:
        cases, failures = authority_cases(spec, areas, fit_until, horizon=HORIZON)
        if not cases:  # nothing to fit: the reasons are the result
            table = pd.DataFrame([{"area_code": f.code, "area_name": f.name,
                                   "status": "failed", "message": f.reason} for f in failures])
            table.to_csv(tmp / "areas.csv", index=False)
            return table
        fit = fit_authorities(spec, areas=areas, fit_until=fit_until, pooling=pooling,
                              seed=seed, progress=progress, command=command,
                              prepared=(cases, failures))
        fit.save(tmp / "fit")
        table = fit.to_frame()
        if assess is not None:
            assessed = assess(fit)
            assessed.save(tmp / "authorities")
            extra = assessed.table.drop(columns=[c for c in assessed.table.columns
                                                 if c in table.columns and c != "area_code"])
            table = table.merge(extra, on="area_code", how="left")
        table.to_csv(tmp / "areas.csv", index=False)
    for row in table[table["status"] != "ok"].itertuples():
        say(f"not fitted: {row.area_name} ({row.area_code}): {row.message}")
    return table


def _on_dask(jobs, scheduler, progress) -> list[dict[str, Any]]:
    from distributed import as_completed

    from carespiral._dask import open_client

    client, close = open_client(scheduler or "local")
    try:
        futures = [client.submit(fit_area, *job, pure=False, retries=1) for job in jobs]
        rows = []
        for fut in as_completed(futures):
            rows.append(fut.result())
            progress(rows[-1])
        return rows
    finally:
        close()


def _progress(console, total: int):
    if console is None:
        return lambda row: None
    done = {"n": 0, "ok": 0}

    def report(row: dict[str, Any]) -> None:
        done["n"] += 1
        done["ok"] += row.get("status") == "ok"
        console.print(f"[{done['n']}/{total}] {row['area_name']} ({row['area_code']}): "
                      f"{row['status']}" + ("" if row["status"] == "ok" else f" - {row['message']}"))

    return report
