"""`carespiral calibrate SPEC`: fit a model to published data and write a result directory."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from carespiral.cli._common import (
    FORCE,
    check_count,
    check_scheduler,
    check_seed,
    claim_output,
    console,
)
from carespiral.cli._fitting import (
    check_forecast_mode,
    command_line,
    read_data,
    run_backtest,
    runs_bar,
)
from carespiral.errors import CarespiralError


def calibrate(
    spec: str = typer.Argument(..., help="A bundled spec (national, local) or a spec .toml file."),
    area: str = typer.Option(None, "--area", help="Area code or name (overrides the spec's); "
                             "`all` fits every local authority."),
    method: str = typer.Option(None, "--method", help="least_squares, differential_evolution "
                               "or emcee (default: the spec's)."),
    fit_until: int = typer.Option(None, "--fit-until", help="Fit up to this year and forecast "
                                  "the later years in the data (backtest)."),
    data: list[Path] = typer.Option(None, "--data", help="A DfE open-data CSV as published "
                                    "(any release, recognised by its columns) or a file in "
                                    "carespiral's tidy format, added to the shipped series "
                                    "(its rows replace shipped ones for the same area, series "
                                    "and date). Repeatable."),
    origins: str = typer.Option(None, "--origins", help="Also run a rolling-origin backtest "
                                "from these origins (e.g. 2016:2022); its section goes in "
                                "the report."),
    horizon: int = typer.Option(3, "--horizon", help="Years ahead each backtest origin "
                                "forecasts."),
    ex_post: bool = typer.Option(False, "--ex-post", help="Backtests: give the model the "
                                 "drivers and events after the origin as they happened "
                                 "(default: only what was known at the origin)."),
    forecast_mode: str = typer.Option("nested", "--forecast-mode", help="Forecasts after "
                                      "--fit-until or each --origins year: nested (per series, "
                                      "the mode whose forecasts from up to four earlier "
                                      "origins, fitted too, did best on the years known by "
                                      "then; intervals recalibrated the same way), ar1, rw, "
                                      "skill, run or auto."),
    seed: int = typer.Option(0, "--seed", help="Random seed (the run is reproducible)."),
    budget: int = typer.Option(None, "--budget", help="Model runs the method may spend."),
    out: Path = typer.Option(None, "--out", help="Result directory (default calibration-SPEC[-AREA])."),
    html: bool = typer.Option(False, "--html", help="Also write the HTML report (report.html)."),
    profiles: bool = typer.Option(True, "--profiles/--no-profiles",
                                  help="Profile likelihood per parameter (point methods)."),
    scheduler: str = typer.Option(None, "--scheduler", help="Dask scheduler address for "
                                  "--area all (default: a local cluster)."),
    walkers: int = typer.Option(None, "--walkers", help="emcee walkers (more walkers, more "
                                "runs per batch: 1,024 uses the compiled batch engine)."),
    force: bool = FORCE,
) -> None:
    """Calibrate a model to published data, with intervals, fit statistics and a backtest."""
    from carespiral.calibration.spec import read_spec

    check_seed(seed)
    check_count(budget, "--budget", 1, "a number of model runs")
    check_scheduler(scheduler)
    s = read_spec(spec)
    target = out or Path(_default_out(s.name, area or s.area, fit_until))
    if walkers is not None:
        from carespiral.calibration.methods import METHODS, get_method

        if "walkers" not in get_method(method or s.method).options:
            takes = [m.name for m in METHODS.values() if "walkers" in m.options]
            raise CarespiralError(f"--walkers applies to --method {' or '.join(takes)} only")
        if walkers < 2:
            raise CarespiralError(f"--walkers {walkers}: need at least 2")
    if walkers is not None and walkers < 2 * len(s.parameters):
        raise CarespiralError(f"--walkers {walkers}: emcee needs at least twice as many walkers "
                              f"as fitted parameters ({len(s.parameters)} here), so at least "
                              f"{2 * len(s.parameters)}")
    check_count(horizon, "--horizon", 1, "a number of years")
    check_forecast_mode(forecast_mode, None)
    every = area is not None and area.strip().lower() == "all"
    if every and (data or origins):
        raise CarespiralError("--data and --origins apply to one area; with --area all, "
                              "calibrate each authority's release separately")
    if origins:
        from carespiral.calibration.rolling import parse_origins

        origin_years = parse_origins(origins)
    else:
        origin_years = None
    claim = claim_output(target, force=force, inputs=[s.path, *(data or [])])
    table = read_data(data)
    command = command_line(spec, area=area, method=method, fit_until=fit_until, seed=seed,
                       budget=budget, walkers=walkers, out=str(target), profiles=profiles,
                       data=[str(p) for p in data] if data else None,
                       origins=origins, horizon=horizon if origins else None,
                       # --area all forecasts in the ar1 mode (no warm-up fits per authority)
                       forecast_mode=forecast_mode if (fit_until or origins) and not every
                       else None,
                       **({"ex_post": ""} if ex_post else {}))
    if every:
        if fit_until is not None and forecast_mode != "ar1":
            console.print(f"--area all: the forecasts after {fit_until} are in the ar1 mode "
                          f"(the {forecast_mode} mode needs warm-up fits of every authority)")
        _all_areas(s, method, fit_until, seed, budget, target, scheduler, command)
        claim.complete()
        return
    options = {"walkers": walkers} if walkers else None
    from carespiral.calibration.predict import recording

    with recording() as rec:
        result = _one(s, area, method, fit_until, seed, budget, profiles, command, options,
                      table, ex_post)
    if fit_until is not None and result.backtest is not None and forecast_mode != "ar1":
        result = _forecasts_in_mode(result, rec, s, area, fit_until, forecast_mode, table,
                                    method, seed, budget, ex_post)
    if origin_years:
        bt = run_backtest(s, area, origin_years, horizon, table, method, seed, budget,
                          not ex_post, command, forecast_mode)
        result.rolling = bt.forecasts
    result.save(target)
    console.print(result.report(), markup=False, highlight=False, soft_wrap=True)
    console.print(f"Wrote {target}/")
    if html:
        from carespiral.reports import calibration_report

        page = calibration_report(result, target / "report.html")
        console.print(f"Wrote {page}")
    claim.complete()
    from carespiral.calibration.verdict import calibration_verdict

    console.print("\n" + calibration_verdict(result), markup=False, highlight=False,
                  soft_wrap=True)


def _one(spec, area, method, fit_until, seed, budget, profiles, command, options=None,
         data=None, ex_post=False):
    from carespiral.calibration.engine import calibrate, expected_runs
    from carespiral.calibration.methods import get_method

    entry = get_method(method or spec.method)
    name = entry.name
    total = expected_runs(len(spec.parameters), budget or entry.budget, profiles,
                          sampler=name == "emcee")
    bar, task = runs_bar(f"calibrating ({name})", total)
    with bar:
        def progress(runs: int, best: float) -> None:
            if runs > bar.tasks[0].total:
                bar.update(task, total=runs)
            bar.update(task, completed=runs, best=f"{best:,.2f}")

        return calibrate(spec, area=area, method=method, fit_until=fit_until, seed=seed,
                         budget=budget, profiles=profiles, progress=progress, command=command,
                         method_options=options, data=data, ex_ante=not ex_post)


def _forecasts_in_mode(result, recorded, spec, area, fit_until, mode, data, method, seed,
                       budget, ex_post):
    """The fit's held-out forecasts under another mode; nested fits the warm-up origins."""
    from carespiral.calibration.engine import expected_runs
    from carespiral.calibration.methods import get_method
    from carespiral.calibration.rolling import warmup_origins, with_forecast_mode

    warm = warmup_origins(fit_until, spec.period[0]) if mode == "nested" else []
    entry = get_method(method or spec.method)
    per = expected_runs(len(spec.parameters), budget or entry.budget, profiles=False,
                        sampler=entry.name == "emcee")
    bar, task = runs_bar(f"nested forecasts: {len(warm)} earlier origins", per * len(warm))
    with bar:
        done = {"before": 0, "last": 0}

        def progress(runs: int, best: float) -> None:
            if runs < done["last"]:  # a new origin's fit counts from zero
                done["before"] += done["last"]
            done["last"] = runs
            bar.update(task, completed=done["before"] + runs, best=f"{best:,.2f}")

        return with_forecast_mode(result, recorded, spec, fit_until, mode, area, data=data,
                                  method=method, seed=seed, budget=budget,
                                  ex_ante=not ex_post, warmup=warm, progress=progress)


def _all_areas(spec, method, fit_until, seed, budget, target, scheduler, command) -> None:
    from carespiral.calibration.areas_all import calibrate_all
    from carespiral.exploration.margin import margin_columns

    def assess(fit):  # the pooled path: margins and regime today of every authority
        from carespiral.exploration.authorities import assess_authorities

        console.print("margins to collapse of every authority over posterior draws ...")
        return assess_authorities(fit, seed=seed)

    table = calibrate_all(spec, method=method, fit_until=fit_until, seed=seed, budget=budget,
                          out=target, scheduler=scheduler, command=command, console=console,
                          per_area=margin_columns, assess=assess)
    ok = int((table["status"] == "ok").sum())
    console.print(f"Fitted {ok} of {len(table)} areas; wrote {target}/areas.csv")
    if method is None:
        console.print(f"Ranked view: carespiral report {target}; briefs: carespiral brief "
                      f"--from {target} --area all --html", soft_wrap=True)


def _default_out(spec: str, area: str | None, fit_until: int | None) -> str:
    parts = ["calibration", spec]
    if area:
        parts.append(re.sub(r"[^A-Za-z0-9]+", "_", area).strip("_").lower())
    if fit_until:
        parts.append(f"until{fit_until}")
    return "-".join(parts)


def register(app: typer.Typer) -> None:
    app.command("calibrate")(calibrate)
