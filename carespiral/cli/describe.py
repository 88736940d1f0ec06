"""`carespiral describe MODEL`: stocks, flows, parameters and roles of a model."""

from __future__ import annotations

import typer
from rich.table import Table

from carespiral.cli._common import console


def describe(
    model: str = typer.Argument(..., help="A bundled model name or a path to a .mdl file."),
) -> None:
    """Show a model's stocks, flows, parameters (units, default, bounds) and catalogue roles."""
    from carespiral.pysd_runner import load

    m = load(model)
    console.print(f"[bold]{m.title}[/bold]  ({m.mdl_path.name})")
    if m.description:
        console.print(m.description)
    if m.start_date:
        console.print(f"Time unit: {m.entry.time_unit if m.entry else 'Month'}; time 0 = {m.start_date}")
    units = {v.name: v.units for v in m.variables}
    console.print("\n[bold]Stocks[/bold]")
    for s in m.stocks:
        console.print(f"  {s} [{units[s]}]")
    console.print("\n[bold]Flows[/bold]")
    for f in m.flows:
        console.print(f"  {f} [{units[f]}]")
    table = Table("parameter", "units", "default", "bounds", title="Parameters", title_justify="left",
                  box=None)
    for p in m.parameters:
        table.add_row(p.name, p.units, f"{p.default:g}", p.bounds_text())
    console.print()
    console.print(table)
    for label, roles in (("Outputs", m.outputs), ("Levers", m.levers), ("Drivers", m.drivers)):
        if roles:
            console.print(f"\n[bold]{label}[/bold] (canonical role -> variable)")
            for role, var in roles.items():
                console.print(f"  {role} -> {var}")
    if m.scenarios:
        console.print("\n[bold]Scenarios[/bold]: " + ", ".join(m.scenarios))


def register(app: typer.Typer) -> None:
    app.command("describe")(describe)
