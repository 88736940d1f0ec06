"""`carespiral report RESULT_DIR`: re-render the HTML reports of a results directory."""

from __future__ import annotations

from pathlib import Path

import typer

from carespiral.cli._common import console


def report(
    result_dir: Path = typer.Argument(
        ..., help="A results directory (manifest.json), a calibrate/explore/tipping/optimise "
        "--out folder, or a folder holding several of them (each rendered, with an index)."
    ),
    inline: bool = typer.Option(
        False, "--inline", help="Embed plotly.js in every page instead of one file beside them."
    ),
) -> None:
    """Re-render the reports of RESULT_DIR: every item of its manifest.json and index.html; for
    a folder written by calibrate/explore/tipping/optimise --out, its report.html; for a folder
    of such folders, each one's report and an index.html with one line per result (kind,
    title, verdict)."""
    from carespiral._atomic import check_complete
    from carespiral.cli._progress import progress_bar
    from carespiral.reports.results import count_reports, render_results

    check_complete(result_dir)  # an interrupted run's folder is not drawn as complete
    n = count_reports(result_dir)  # fails on a bad directory before drawing anything
    with progress_bar() as bar:
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
