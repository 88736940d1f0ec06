"""Helpers shared by `carespiral calibrate` and `carespiral backtest`: the user's data files,
the progress bar that counts model runs, the command line recorded in a result, the forecast
mode's checks and the rolling-origin backtest with its bar."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING

from carespiral.cli._common import console
from carespiral.errors import CarespiralError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from rich.progress import Progress, TaskID

    from carespiral.calibration.rolling import BacktestResult
    from carespiral.calibration.spec import CalibrationSpec

__all__ = ["check_forecast_mode", "command_line", "read_data", "run_backtest", "runs_bar"]


def read_data(paths: list[Path] | None) -> pd.DataFrame | None:
    """The published table with the user's files merged in (None: the shipped data)."""
    if not paths:
        return None
    from carespiral.data.releases import with_releases

    with console.status("reading " + ", ".join(str(p) for p in paths)):
        return with_releases(paths)


def runs_bar(description: str, total: int) -> tuple[Progress, TaskID]:
    """A rich progress bar counting model runs, with elapsed time and a time estimate."""
    from rich.progress import (
        BarColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.table import Column

    def keep(width: int) -> Column:  # on an 80-column terminal the time estimate still shows
        return Column(min_width=width, no_wrap=True)

    bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                   TextColumn("{task.completed:,.0f} of about {task.total:,.0f} runs",
                              table_column=keep(27)),
                   TimeElapsedColumn(table_column=keep(7)),
                   TextColumn("left about", table_column=keep(10)),
                   TimeRemainingColumn(table_column=keep(7)),
                   TextColumn("best log-posterior {task.fields[best]}"),
                   console=console, transient=True)
    task = bar.add_task(description, total=total, best="-")
    return bar, task


def command_line(spec: str, profiles: bool, **options) -> str:
    """The `carespiral calibrate` command line that reproduces this run (recorded in the
    manifest); `backtest` swaps the command's name."""
    parts = ["carespiral", "calibrate", shlex.quote(spec)]
    for key, value in options.items():
        if value == "":
            parts.append(f"--{key.replace('_', '-')}")  # a flag
        elif isinstance(value, list):  # a repeatable option
            for v in value:
                parts += [f"--{key.replace('_', '-')}", shlex.quote(str(v))]
        elif value is not None:
            parts += [f"--{key.replace('_', '-')}", shlex.quote(str(value))]
    if not profiles:
        parts.append("--no-profiles")
    return " ".join(parts)


def check_forecast_mode(mode: str, warmup: str | None) -> list[int] | None:
    """--forecast-mode and --warmup checked: the warm-up origins (None: the default)."""
    from carespiral.calibration.rolling import BACKTEST_MODES, parse_origins

    if mode not in BACKTEST_MODES:
        raise CarespiralError(f"--forecast-mode {mode!r}: expected one of "
                              f"{', '.join(BACKTEST_MODES)}")
    if warmup is not None and mode != "nested":
        raise CarespiralError("--warmup applies to --forecast-mode nested only")
    return parse_origins(warmup, "--warmup") if warmup else None


def run_backtest(spec: CalibrationSpec, area: str | None, origins: list[int], horizon: int,
                 data: pd.DataFrame | None, method: str | None, seed: int, budget: int | None,
                 ex_ante: bool, command: str, mode: str = "nested",
                 warmup: list[int] | None = None) -> BacktestResult:
    """The rolling-origin backtest with a progress bar over all origins' model runs (warm-up
    origins of the nested mode included). `origins`: the scored ones, sorted; `warmup`: the
    nested mode's warm-up origins (None: `rolling.warmup_origins`), ignored by other modes."""
    from carespiral.calibration.engine import expected_runs
    from carespiral.calibration.methods import get_method
    from carespiral.calibration.rolling import rolling_backtest, warmup_origins

    entry = get_method(method or spec.method)
    scored = list(origins)
    if mode == "nested":
        warmup = warmup if warmup is not None else warmup_origins(origins[0], spec.period[0])
        origins = sorted(set(origins) | set(warmup))  # for the bar: every origin fitted
    else:
        warmup = []
    per_origin = expected_runs(len(spec.parameters), budget or entry.budget, profiles=False,
                               sampler=entry.name == "emcee")
    bar, task = runs_bar(f"backtest, {len(origins)} origins ({entry.name})",
                             per_origin * len(origins))
    finished = {"n": 0}
    with bar:
        def progress(runs: int, best: float) -> None:
            bar.update(task, completed=runs, best=f"{best:,.2f}")

        def on_origin(origin: int, result) -> None:
            # a fit that stops early (converged) leaves its share of the estimate unspent
            finished["n"] += 1
            runs = bar.tasks[0].completed
            left = len(origins) - finished["n"]
            bar.update(task, total=runs + left * per_origin,
                       description=f"backtest, origin {origin} done, {left} to go")

        return rolling_backtest(spec, area, scored, horizon, data=data, method=method,
                                seed=seed, budget=budget, ex_ante=ex_ante, progress=progress,
                                on_origin=on_origin, command=command, mode=mode,
                                warmup=warmup)
