"""`carespiral optimise SPEC`: robust lever settings (Pareto front of cost, risk and caseload)."""

from __future__ import annotations

from pathlib import Path

import typer

from carespiral.cli._common import FORCE, check_seed, claim_output, console


def optimise(
    spec: Path = typer.Argument(..., help="Exploration spec with [levers] ranges and [optimise]."),
    out: Path = typer.Option(None, "--out", help="Results folder (default: optimise-<spec name>)."),
    html: bool = typer.Option(False, "--html", help="Also write OUT/report.html."),
    seed: int = typer.Option(None, "--seed", help="Seed of the ensemble, the search and the "
                             "model's RANDOM functions (overrides the spec's `seed`)."),
    force: bool = FORCE,
) -> None:
    """Search for policies that keep the system out of collapse across the uncertainty ensemble."""
    from carespiral.cli._progress import progress_bar
    from carespiral.cli.explore import observed_ranges
    from carespiral.exploration import optimise as run_optimise
    from carespiral.exploration import read_spec

    check_seed(seed)
    s = read_spec(spec)
    out = out or Path(f"optimise-{Path(s.source).stem}")
    claim = claim_output(out, force=force, inputs=[s.source, s.posterior])
    with progress_bar() as bar:
        task = bar.add_task(f"NSGA-II on {s.model}", total=s.optimise.generations)
        res = run_optimise(s, seed=seed, progress=lambda g, n: bar.update(task, completed=min(g, n), total=n))
    res.save(out)
    # the spec's model (a bundled name or a .mdl path): its child population puts posts in numbers
    ranges = observed_ranges(s.model_ref, out)
    # plain echo, not rich: a wide table must not be re-wrapped to the terminal width
    from carespiral.pysd_runner.catalog import label
    from carespiral.reports.exploration_report import policy_columns

    words = policy_columns(res)  # columns in words with units, levers by their labels
    shown = res.front.rename(columns={c: words.get(c) or label(c, res.model)
                                      for c in res.front.columns})
    typer.echo(shown.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    only = res.short_run_only
    console.print("Levers that only look good in the short run: " + (", ".join(only) or "none"))
    if html:
        from carespiral.reports.exploration import policy_report

        console.print(f"Wrote {policy_report(res, out / 'report.html', ranges=ranges)}")
    from carespiral.reports.verdicts import policy_verdict

    console.print("[bold]Verdict[/bold]: " + policy_verdict(res, getattr(ranges, "children",
                                                                         None)))
    claim.complete()
    console.print(f"Results in {out}")


def register(app: typer.Typer) -> None:
    app.command("optimise")(optimise)
