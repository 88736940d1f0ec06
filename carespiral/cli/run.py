"""`carespiral run MODEL`: simulations written to CSV/Parquet and/or an HTML page."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import typer
from rich.table import Table

from carespiral.cli._common import (
    FORCE,
    check_seed,
    console,
    output_file,
    parse_sets,
    split_list,
    write_table,
)
from carespiral.errors import CarespiralError


def run(
    model: str = typer.Argument(..., help="A bundled model name or a path to a .mdl file."),
    set_: list[str] = typer.Option(None, "--set", help="NAME=VALUE parameter override (repeatable)."),
    scenario: list[str] = typer.Option(
        None, "--scenario", help="Scenario name or TOML file; repeat to overlay scenarios."
    ),
    start: float = typer.Option(None, "--start", help="Start time (model months)."),
    stop: float = typer.Option(None, "--stop", help="Stop time (model months)."),
    time_step: float = typer.Option(None, "--time-step", help="Integration time step."),
    saveper: float = typer.Option(None, "--saveper", help="Interval between saved values."),
    outputs: str = typer.Option(None, "--outputs", help="Comma-separated outputs (names or roles)."),
    out: Path = typer.Option(None, "--out", help="Write results to FILE.csv or FILE.parquet."),
    html: Path = typer.Option(None, "--html", help="Write a self-contained plotly page."),
    seed: int = typer.Option(
        0, "--seed", help="Seed of the model's RANDOM functions (every scenario draws the same "
                          "numbers, so differences come from the scenarios)."),
    force: bool = FORCE,
) -> None:
    """Run a model and write its outputs over time (one run per scenario)."""
    from carespiral.pysd_runner import load

    check_seed(seed)
    inputs = [model, *(scenario or [])]
    output_file(out, "--out", suffixes=(".csv", ".parquet"), force=force, inputs=inputs)
    output_file(html, "--html", suffixes=(".html", ".htm"), force=force, inputs=inputs)
    if out is not None and html is not None and out.resolve() == html.resolve():
        raise CarespiralError("--out and --html name the same file")
    m = load(model)
    params = parse_sets(set_)
    wanted = split_list(outputs) or (list(m.outputs.values()) or m.stocks)
    names = list(dict.fromkeys(m.resolve(o) for o in wanted))
    for name in params:
        m.parameter(name)  # fail on a bad name before running
    scenarios = [m.scenario(s) for s in scenario] if scenario else [None]
    runs, shocks, children = _run_all(m, scenarios, params, names, start, stop, time_step,
                                      saveper, seed)
    # people read scenario titles ("Heavy compliance"); the table written keeps the names
    titles = {sc.name: sc.title or sc.name for sc in scenarios if sc is not None}
    shown = {titles.get(k, k): df for k, df in runs.items()}
    shown_children = {titles.get(k, k): v for k, v in children.items()}
    ranges = None
    if any(m.outputs.get(r) in names for r in m.outputs):  # outputs with published figures
        from carespiral.data.ranges import model_ranges

        with console.status("the ranges English authorities have recorded"):
            ranges = model_ranges(m, children=next(iter(children.values()), None))
    if out:
        table = next(iter(runs.values())) if len(runs) == 1 else pd.concat(
            [df.assign(scenario=label) for label, df in runs.items()])
        write_table(table, out)
        console.print(f"Wrote {len(table)} rows to {out}")
    if html:
        from carespiral.reports import run_report

        units = {v.name: v.units for v in m.variables}
        title = f"{m.title}: " + ", ".join(shown)
        run_report(shown, html, title=title, units=units, outputs=names, shocks=shocks,
                   model=m.name, ranges=ranges, children=shown_children or None)
        console.print(f"Wrote {html}")
    if not out and not html:
        units = {v.name: v.units for v in m.variables}
        for label, df in runs.items():
            table = Table("output", "units", "start", "end", "min", "max", box=None,
                          title=label if len(runs) > 1 else None, title_justify="left")
            for n in names:
                s = df[n]
                table.add_row(n, units.get(n, ""), f"{s.iloc[0]:.4g}", f"{s.iloc[-1]:.4g}",
                              f"{s.min():.4g}", f"{s.max():.4g}")
            console.print(table)
    from carespiral.reports.run_report import verdict_of_runs

    units = {v.name: v.units for v in m.variables}
    console.print("\n[bold]Verdict[/bold]: " + verdict_of_runs(shown, names, m.name, units,
                                                             ranges, shown_children or None))


def _run_all(m, scenarios, params, names, start, stop, time_step, saveper, seed
             ) -> tuple[dict[str, pd.DataFrame], list[tuple[float, str]], dict[str, float]]:
    """One run per scenario under a bar with a time estimate (a short pilot run times the
    first; later runs take the first's time). Also the child population of each run."""
    from carespiral.cli._progress import estimated, pilot_seconds

    pop = (m.drivers or {}).get("child_population")
    wanted = names + ([pop] if pop and pop not in names else [])
    grid = m.time_grid(start, stop, time_step, saveper)
    runs: dict[str, pd.DataFrame] = {}
    shocks: list[tuple[float, str]] = []
    children: dict[str, float] = {}
    took: float | None = None
    for k, sc in enumerate(scenarios, 1):
        label = sc.name if sc is not None else "default"
        kw = dict(params=params, scenario=sc, start=start, time_step=time_step, saveper=saveper,
                  seed=seed)
        if took is None:
            with console.status(f"timing a short run of {m.name}"):
                took = pilot_seconds(lambda months, kw=kw: m.run(
                    **kw, stop=grid.start + months, outputs=names[:1]), grid.stop - grid.start)
        what = f"running {label}" + (f" ({k} of {len(scenarios)})" if len(scenarios) > 1 else "")
        t0 = time.perf_counter()
        with estimated(what, took):
            df = m.run(**kw, stop=stop, outputs=wanted)
        took = time.perf_counter() - t0
        if pop:
            children[label] = float(df[pop].iloc[0])
            if pop not in names:
                df = df.drop(columns=pop)
        runs[label] = df
        if sc is not None:
            shocks.extend(sc.events())
    return runs, shocks, children


def register(app: typer.Typer) -> None:
    app.command("run")(run)
