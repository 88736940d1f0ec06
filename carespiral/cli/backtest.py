"""`carespiral backtest SPEC --origins 2016:2022 --horizon 3`: rolling-origin forecast checks."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from carespiral.cli._common import FORCE, check_count, check_seed, claim_output, console
from carespiral.cli._fitting import check_forecast_mode, command_line, read_data, run_backtest


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
    warm = check_forecast_mode(forecast_mode, warmup)
    s = read_spec(spec)
    where = area or s.area
    target = out or Path("-".join(["backtest", s.name] + (
        [re.sub(r"[^A-Za-z0-9]+", "_", where).strip("_").lower()] if where else [])))
    claim = claim_output(target, force=force, inputs=[s.path, *(data or [])])
    table = read_data(data)
    command = command_line(spec, profiles=True, area=area, method=method, seed=seed, budget=budget,
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


def register(app: typer.Typer) -> None:
    app.command("backtest")(backtest)
