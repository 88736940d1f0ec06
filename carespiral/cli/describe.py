"""`carespiral describe MODEL`: stocks, flows, parameters and roles of a model."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from carespiral.cli._common import FORCE, console, output_file


def describe(
    model: str = typer.Argument(..., help="A bundled model name or a path to a .mdl file."),
    html: Path = typer.Option(
        None, "--html", help="Also write the model report: structure picture, loops, parameters."
    ),
    force: bool = FORCE,
) -> None:
    """Show a model's stocks, flows, parameters (units, default, bounds) and catalogue roles."""
    from carespiral.pysd_runner import load

    output_file(html, "--html", suffixes=(".html", ".htm"), force=force, inputs=[model])
    m = load(model)
    if html is not None:
        _write_model_report(m, html)
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
    from carespiral.pysd_runner.graph import dependency_graph
    from carespiral.reports.model_report import model_verdict
    from carespiral.reports.structure import loops_from_doc, structure_from

    doc = model_doc(m.name)
    st = structure_from(dependency_graph(m.mdl_path), loops_from_doc(doc) if doc else None)
    console.print("\n[bold]Verdict[/bold]: " + model_verdict(st))


def _write_model_report(m, html: Path) -> None:
    from carespiral.pysd_runner.graph import dependency_graph
    from carespiral.reports import model_report
    from carespiral.reports.structure import loops_from_doc

    doc = model_doc(m.name)
    loops = loops_from_doc(doc) if doc is not None else None
    model_report(dependency_graph(m.mdl_path), m.parameters, html, title=m.title,
                 description=m.description, loops=loops)
    console.print(f"Wrote {html}")


def model_doc(name: str) -> Path | None:
    """The shipped documentation of a bundled model (with its loop inventory), if there is one."""
    from importlib import resources

    path = Path(str(resources.files("carespiral.model_docs"))) / f"{name}.md"
    return path if path.is_file() else None


def register(app: typer.Typer) -> None:
    app.command("describe")(describe)
