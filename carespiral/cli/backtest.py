"""`carespiral backtest SPEC --origins 2016:2022 --horizon 3`: rolling-origin forecast checks."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from carespiral.cli._common import FORCE, check_count, check_seed, claim_output, console
from carespiral.cli.calibrate import _command, progress_bar, read_data

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from carespiral.calibration.rolling import BacktestResult
    from carespiral.calibration.spec import CalibrationSpec


def backtest(
    spec: str = typer.Argument(..., help="A bundled spec (national, local) or a spec .toml file."),
    origins: str = typer.Option("2016:2022", "--origins", help="Origins: fit to each of these "
                                "years (FIRST:LAST or a comma-separated list)."),
    horizon: int = typer.Option(3, "--horizon", help="Years ahead forecast from each origin."),
    area: str = typer.Option(None, "--area", help="Area code or name (overrides the spec's)."),
    method: str = typer.Option(None, "--method", help="Calibration method (default: the "
                               "spec's)."),
    seed: int = typer.Option(0, "--seed", help="Random seed (the run is reproducible)."),
    budget: int = typer.Option(None, "--budget", help="Model runs each origin's fit may "
                               "spend."),
    data: list[Path] = typer.Option(None, "--data", help="A DfE open-data CSV as published "
                                    "(any release) or a file in carespiral's tidy format, "
                                    "added to the shipped series. Repeatable."),
    ex_post: bool = typer.Option(False, "--ex-post", help="Give the model the drivers and "
                                 "events after each origin as they happened (default: only "
                                 "what was known at the origin)."),
    forecast_mode: str = typer.Option("nested", "--forecast-mode", help="How a forecast goes "
                                      "on from the last published value: nested (per "
                                      "series, the mode whose earlier origins' forecasts did "
                                      "best on years known by then; intervals recalibrated "
                                      "the same way), ar1, rw, skill, run or auto."),
    warmup: str = typer.Option(None, "--warmup", help="nested: origins fitted only to inform "
                               "the choice at later ones, not scored (FIRST:LAST or a list; "
                               "default up to four years before the first origin)."),
    out: Path = typer.Option(None, "--out", help="Result directory (default "
                             "backtest-SPEC[-AREA])."),
    html: bool = typer.Option(False, "--html", help="Also write the HTML report (report.html)."),
    force: bool = FORCE,
) -> None:
    """Fit at each origin, forecast the next years, and score the forecasts against
    'same as last year', the linear trend and the in-sample mean (MASE, 95% coverage)."""
    from carespiral.calibration.rolling import parse_origins
    from carespiral.calibration.spec import read_spec

    check_seed(seed)
    check_count(budget, "--budget", 1, "a number of model runs")
    check_count(horizon, "--horizon", 1, "a number of years")
    years = parse_origins(origins)
    warm = _check_mode(forecast_mode, warmup)
    s = read_spec(spec)
    where = area or s.area
    target = out or Path("-".join(["backtest", s.name] + (
        [re.sub(r"[^A-Za-z0-9]+", "_", where).strip("_").lower()] if where else [])))
    claim = claim_output(target, force=force, inputs=[s.path, *(data or [])])
    table = read_data(data)
    command = _command(spec, profiles=True, area=area, method=method, seed=seed, budget=budget,
                       data=[str(p) for p in data] if data else None, origins=origins,
                       horizon=horizon, out=str(target), forecast_mode=forecast_mode,
                       warmup=warmup, **({"ex_post": ""} if ex_post else {}))
    command = command.replace("carespiral calibrate", "carespiral backtest", 1)
    result = run_backtest(s, area, years, horizon, table, method, seed, budget, not ex_post,
                          command, forecast_mode, warm)
    result.save(target)
    console.print(result.report(), markup=False, highlight=False, soft_wrap=True)
    console.print(f"Wrote {target}/")
    if html:
        from carespiral.reports.backtest_report import backtest_report

        console.print(f"Wrote {backtest_report(result, target / 'report.html')}")
    claim.complete()
    from carespiral.calibration.verdict import backtest_verdict

    console.print("\n" + backtest_verdict(result), markup=False, highlight=False,
                  soft_wrap=True)


def _check_mode(mode: str, warmup: str | None) -> list[int] | None:
    """--forecast-mode and --warmup checked: the warm-up origins (None: the default)."""
    from carespiral.calibration.rolling import BACKTEST_MODES, parse_origins
    from carespiral.errors import CarespiralError

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
    bar, task = progress_bar(f"backtest, {len(origins)} origins ({entry.name})",
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


def register(app: typer.Typer) -> None:
    app.command("backtest")(backtest)
