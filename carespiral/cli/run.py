"""`carespiral run MODEL`: one simulation, written to CSV/Parquet and/or an HTML page."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from carespiral.cli._common import console, parse_sets, split_list, write_table
from carespiral.errors import CarespiralError


def run(
    model: str = typer.Argument(..., help="A bundled model name or a path to a .mdl file."),
    set_: list[str] = typer.Option(None, "--set", help="NAME=VALUE parameter override (repeatable)."),
    scenario: str = typer.Option(None, "--scenario", help="Scenario name or TOML file."),
    start: float = typer.Option(None, "--start", help="Start time (model months)."),
    stop: float = typer.Option(None, "--stop", help="Stop time (model months)."),
    time_step: float = typer.Option(None, "--time-step", help="Integration time step."),
    saveper: float = typer.Option(None, "--saveper", help="Interval between saved values."),
    outputs: str = typer.Option(None, "--outputs", help="Comma-separated outputs (names or roles)."),
    out: Path = typer.Option(None, "--out", help="Write results to FILE.csv or FILE.parquet."),
    html: Path = typer.Option(None, "--html", help="Write a self-contained plotly page."),
) -> None:
    """Run a model once and write its outputs over time."""
    from carespiral.pysd_runner import load

    if out is not None and out.suffix.lower() not in (".csv", ".parquet"):
        raise CarespiralError(f"--out {out}: expected a .csv or .parquet file name")
    if html is not None and html.suffix.lower() not in (".html", ".htm"):
        raise CarespiralError(f"--html {html}: expected an .html file name")
    m = load(model)
    params = parse_sets(set_)
    wanted = split_list(outputs) or (list(m.outputs.values()) or m.stocks)
    names = [m.resolve(o) for o in wanted]
    for name in params:
        m.parameter(name)  # fail on a bad name before running
    df = m.run(params=params, scenario=scenario, start=start, stop=stop, time_step=time_step,
               saveper=saveper, outputs=names)
    if out:
        write_table(df, out)
        console.print(f"Wrote {len(df)} rows to {out}")
    if html:
        from carespiral.reports import run_report

        label = scenario or "default"
        units = {v.name: v.units for v in m.variables}
        run_report({label: df}, html, title=f"{m.title}: {label}", units=units, outputs=names)
        console.print(f"Wrote {html}")
    if not out and not html:
        table = Table("output", "units", "start", "end", "min", "max", box=None)
        units = {v.name: v.units for v in m.variables}
        for n in names:
            s = df[n]
            table.add_row(n, units.get(n, ""), f"{s.iloc[0]:.4g}", f"{s.iloc[-1]:.4g}",
                          f"{s.min():.4g}", f"{s.max():.4g}")
        console.print(table)


def register(app: typer.Typer) -> None:
    app.command("run")(run)
