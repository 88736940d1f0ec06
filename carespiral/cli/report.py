"""`carespiral report RESULT_DIR`: re-render the HTML reports of a results directory."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, TextColumn

from carespiral.cli._common import console


def report(
    result_dir: Path = typer.Argument(
        ..., help="A results directory (manifest.json) or a calibrate/explore/tipping --out folder."
    ),
    inline: bool = typer.Option(
        False, "--inline", help="Embed plotly.js in every page instead of one file beside them."
    ),
) -> None:
    """Re-render the reports of RESULT_DIR: every item of its manifest.json and index.html, or,
    for a folder written by calibrate/explore/tipping/optimise --out, its report.html."""
    from carespiral._atomic import check_complete
    from carespiral.reports.results import implicit_manifest, load_manifest, render_results

    check_complete(result_dir)  # an interrupted run's folder is not drawn as complete
    # fail on a bad directory before drawing anything
    manifest = implicit_manifest(result_dir) or load_manifest(result_dir)
    n = len(manifest["items"]) + (0 if manifest.get("implicit") else 1)
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
        console=console, transient=True,
    ) as bar:
        task = bar.add_task("rendering", total=n)

        def step(name: str) -> None:
            bar.update(task, description=f"rendering {name}", advance=1)

        written = render_results(result_dir, plotlyjs="inline" if inline else "beside",
                                 progress=step)
        bar.update(task, completed=n)
    for path in written:
        console.print(f"Wrote {path}", soft_wrap=True)  # never break a path


def register(app: typer.Typer) -> None:
    app.command("report")(report)
