"""`carespiral explore SPEC`: sample uncertainties and levers, find where the system collapses."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from carespiral.cli._common import FORCE, check_scheduler, claim_output, console


def progress_bar() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeRemainingColumn(), console=console, transient=True)


def explore(
    spec: Path = typer.Argument(..., help="Exploration spec (TOML), or the name of a bundled spec."),
    runs: int = typer.Option(None, "--runs", min=1, help="Number of experiments (overrides the spec)."),
    out: Path = typer.Option(None, "--out", help="Results folder (default: explore-<spec name>)."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted exploration in --out."),
    html: bool = typer.Option(False, "--html", help="Also write OUT/report.html."),
    scheduler: str = typer.Option(None, "--scheduler", help="Dask scheduler address, or 'local'."),
    force: bool = FORCE,
) -> None:
    """Run an exploration: collapse regimes, PRIM boxes, Sobol indices; saved as they finish."""
    from carespiral.exploration import discover, read_spec, run_experiments
    from carespiral.exploration.sensitivity import analyse

    check_scheduler(scheduler)
    s = read_spec(spec).with_runs(runs)
    out = out or Path(f"explore-{Path(s.source).stem}")
    claim = claim_output(out, force=force, resume=resume, inputs=[s.source, s.posterior])
    with progress_bar() as bar:
        task = bar.add_task(f"exploring {s.model}", total=None)
        result = run_experiments(s, out=out, resume=resume, scheduler=scheduler,
                                 progress=lambda done, total: bar.update(task, completed=done, total=total))
    summary = result.summary()
    table = Table("", "", box=None)
    for key in ("model", "runs", "design", "collapse_share", "median_collapse_month", "seconds"):
        if key in summary:
            v = summary[key]
            table.add_row(key, f"{v:.4g}" if isinstance(v, float) else str(v))
    console.print(table)
    found = None
    if 0 < result.collapsed.sum() < len(result.outcomes):
        found = discover(result)
        found.save(out / "discovery")
        console.print(f"PRIM box for collapse: coverage {found.coverage:.2f}, density {found.density:.2f}")
        for r in found.restricted.itertuples(index=False):
            console.print(f"  {r.factor}: [{r.lower:.4g}, {r.upper:.4g}]  (quasi-p {r.qp_value:.2g})")
    else:
        console.print("All runs share one regime: no PRIM box (widen the ranges).")
    sens = analyse(result)  # Sobol indices or Morris screening, when the design is made for one
    if sens is not None:
        sens.save(out / "sensitivity")
        for k, v in sens.summary().items():
            if isinstance(v, dict):
                console.print(f"{k}: " + ", ".join(f"{a} {b:.3f}" for a, b in v.items()))
    if html:
        from carespiral.reports.exploration import exploration_report

        page = exploration_report(result, found, sens, out / "report.html")
        console.print(f"Wrote {page}")
    from carespiral.reports.verdicts import experiments_verdict

    console.print("[bold]Verdict[/bold]: " + experiments_verdict(result, found, sens))
    claim.complete()
    console.print(f"Results in {out}")


def register(app: typer.Typer) -> None:
    app.command("explore")(explore)

