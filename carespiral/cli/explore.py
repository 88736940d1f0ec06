"""`carespiral explore SPEC`: sample uncertainties and levers, find where the system collapses."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import typer
from rich.table import Table

from carespiral.cli._common import FORCE, check_scheduler, check_seed, claim_output, console
from carespiral.cli._progress import progress_bar

__all__ = ["progress_bar", "register"]


def explore(
    spec: Path = typer.Argument(..., help="Exploration spec (TOML), or the name of a bundled spec."),
    runs: int = typer.Option(None, "--runs", min=1, help="Number of experiments (overrides the spec)."),
    out: Path = typer.Option(None, "--out", help="Results folder (default: explore-<spec name>)."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted exploration in --out."),
    html: bool = typer.Option(False, "--html", help="Also write OUT/report.html."),
    scheduler: str = typer.Option(None, "--scheduler", help="Dask scheduler address, or 'local'."),
    seed: int = typer.Option(None, "--seed", help="Seed of the design and of the model's RANDOM "
                             "functions (overrides the spec's `seed`)."),
    force: bool = FORCE,
) -> None:
    """Run an exploration: collapse regimes, PRIM boxes, Sobol indices; saved as they finish."""
    from carespiral.exploration import discover, read_spec, run_experiments
    from carespiral.exploration.sensitivity import analyse

    check_scheduler(scheduler)
    check_seed(seed)
    s = read_spec(spec).with_runs(runs)
    if seed is not None:
        s = dataclasses.replace(s, seed=seed)
    out = out or Path(f"explore-{Path(s.source).stem}")
    claim = claim_output(out, force=force, resume=resume, inputs=[s.source, s.posterior])
    with progress_bar() as bar:
        task = bar.add_task(f"exploring {s.model}", total=None)
        result = run_experiments(s, out=out, resume=resume, scheduler=scheduler,
                                 progress=lambda done, total: bar.update(task, completed=done, total=total))
    from carespiral.reports.verdicts import model_date

    summary = result.summary()
    table = Table("", "", box=None)
    words = {"model": "model", "runs": "scenarios run", "design": "sampling design",
             "collapse_share": "share that collapsed",
             "median_collapse_month": "half of the collapses had begun by",
             "seconds": "seconds taken"}
    for key, text in words.items():
        if key in summary:
            v = summary[key]
            shown = (f"{v:.1%}" if key == "collapse_share" else
                     model_date(result.model, v) if key == "median_collapse_month" else
                     f"{v:,.4g}" if isinstance(v, float) else str(v))
            table.add_row(text, shown)
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
        from carespiral.pysd_runner.catalog import label

        what = ("share of the variation explained, with interactions (Sobol total index)"
                if sens.method == "sobol" else "mean absolute effect (Morris mu*)")
        for k, v in sens.summary().items():
            if isinstance(v, dict):  # "top ST for peak_caseload": the outcome in words
                outcome = k.split(" for ", 1)[-1].replace("_", " ")
                console.print(f"What decides {outcome}, {what}: " + ", ".join(
                    f"{label(a, result.model)} {b:.2f}" for a, b in v.items()))
    ranges = observed_ranges(s.model_ref, out)  # a bundled name, or a model file (beside the spec)
    if html:
        from carespiral.reports.exploration import exploration_report

        page = exploration_report(result, found, sens, out / "report.html", ranges=ranges)
        console.print(f"Wrote {page}")
    from carespiral.reports.verdicts import experiments_verdict

    console.print("[bold]Verdict[/bold]: " + experiments_verdict(result, found, sens, ranges))
    claim.complete()
    console.print(f"Results in {out}")


def observed_ranges(model: str | Path, out: Path):
    """The ranges English authorities have recorded in the model's units (for its default
    child population), saved in OUT/observed_ranges for the report; None if none apply."""
    from carespiral.data.ranges import model_ranges
    from carespiral.pysd_runner import load

    m = load(model)
    if not m.outputs:
        return None
    with console.status("the ranges English authorities have recorded"):
        ranges = model_ranges(m)
    if not len(ranges.table):
        return None
    ranges.save(out / "observed_ranges")
    return ranges


def register(app: typer.Typer) -> None:
    app.command("explore")(explore)

