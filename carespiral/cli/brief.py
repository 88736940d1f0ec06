"""`carespiral brief --area NAME`: one authority's brief, from the pooled fit of every authority.

    carespiral calibrate local --area all            # every authority, fitted together (minutes)
    carespiral brief --area haringey --html          # calibration-local-all/briefs/haringey.html
    carespiral brief --area all --html               # every brief and the ranked index

The brief reads a pooled fit (`--from`: the folder `calibrate local --area all` wrote, or its
`fit/` folder) and, when present, the table of margins beside it (`authorities/`); it computes
what the brief shows (`carespiral.exploration.brief`) and writes the result folder, and with
`--html` the page (`carespiral.reports.brief`). The levers come from the robust policy search
(NSGA-II) on each authority's posterior draws with its own drivers; with `--area all` the
searches of `CHUNK` authorities share each batch, and when the table has no backtest skill a
one-origin backtest (every authority fitted again up to `--backtest-until`) adds it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from carespiral.cli._common import FORCE, check_seed, claim_output, console, output_file
from carespiral.errors import CarespiralError

__all__ = ["register"]

DEFAULT_FROM = Path("calibration-local-all")
CHUNK = 8  # authorities whose lever searches run in one batch (--area all)


def brief(
    area: str = typer.Option(..., "--area", help="The authority (name, ONS code such as "
                             "E09000014, or part of its name), or `all` for every brief and "
                             "an index."),
    source: Path = typer.Option(DEFAULT_FROM, "--from", help="The pooled fit: the folder of "
                                "`carespiral calibrate local --area all` (or its fit/ folder)."),
    out: Path = typer.Option(None, "--out", help="Folder for the briefs (default: briefs/ in "
                             "the --from folder, where the ranked view links to them)."),
    html: bool = typer.Option(False, "--html", help="Write the HTML page(s) too."),
    draws: int = typer.Option(16, "--draws", min=2, help="Posterior draws the levers (and, "
                              "without a saved table, the margins) are judged over."),
    budget: float = typer.Option(1.0, "--budget", help="£ million a year the lever search may "
                                 "spend in all (each lever alone is also tried at all of it)."),
    population: int = typer.Option(12, "--population", min=4, help="Policies per generation "
                                   "of the lever search (NSGA-II)."),
    generations: int = typer.Option(4, "--generations", min=1, help="Generations of the "
                                    "lever search."),
    backtest: bool = typer.Option(True, "--backtest/--no-backtest", help="With --area all and "
                                  "a table without backtest skill: fit every authority again up "
                                  "to --backtest-until and score its forecasts against the "
                                  "naive rules (one more pooled fit)."),
    backtest_until: int = typer.Option(None, "--backtest-until", help="The backtest's last "
                                       "fitted year (default: three years before the fit's "
                                       "last); given with one --area, runs the backtest too."),
    loops: bool = typer.Option(True, "--loops/--no-loops", help="Score the feedback loops "
                               "now (Simlin; a few seconds per authority)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the posterior draws."),
    inline: bool = typer.Option(False, "--inline", help="Embed plotly.js in every page."),
    force: bool = FORCE,
) -> None:
    """Write the brief of one authority (or of every one, with an index ranked by margin)."""
    from carespiral.cli._progress import progress_bar
    from carespiral.exploration.brief import build_brief

    check_seed(seed)
    if not (0 < budget < 1e3):
        raise CarespiralError(f"--budget {budget}: give £ million a year, above 0 and below "
                              "1,000 (e.g. --budget 1)")
    fit, table, base = _inputs(source)
    out = out or base / "briefs"
    last = int(fit.fitted["year"].max())
    if backtest_until is not None and not (2000 < backtest_until < last):
        raise CarespiralError(f"--backtest-until {backtest_until}: give a year before the "
                              f"fit's last ({last}), e.g. --backtest-until {last - 3}")
    named = _named_loops(fit.model) if loops else None
    every = area.strip().lower() == "all"
    codes = fit.fitted_codes if every else [fit.area(area)]
    if not every:
        _refuse_unfitted(fit, codes[0])
    names = dict(zip(fit.areas["area_code"], fit.areas["area_name"], strict=True))
    from carespiral.reports.authorities_report import brief_file

    if every:
        claim = claim_output(out, force=force, inputs=[source])
    else:
        claim = None
        target = out / brief_file(names[codes[0]])
        # checks the folder is writable and not an input; the page may exist only with --force
        output_file(target, "--out", suffixes=(".html",), force=force or not html,
                    inputs=[source])
        if not force and (out / target.stem).exists():
            raise CarespiralError(f"--out {out / target.stem}: the brief exists; add --force "
                                  "to replace it, or choose another --out")
    plotlyjs = "inline" if inline else "beside"
    written: list[Path] = []
    skill = table is not None and any(c.startswith("backtest ") for c in table.table.columns)
    run_backtest = (every and backtest and not skill) or (backtest_until is not None)
    searches: dict[str, Any] = {}
    with progress_bar() as bar:
        steps = 4 if named else 3
        task = bar.add_task("briefs", total=len(codes) * steps + (1 if every else 0)
                            + (1 if run_backtest else 0))
        if every and table is None:
            bar.update(task, description="margins of every authority")
            table = _assess(fit, draws, seed)
            bar.update(task, advance=1)
        elif every:
            bar.update(task, advance=1)
        if run_backtest and table is not None:
            year = backtest_until or last - 3
            bar.update(task, description=f"backtest: every authority fitted up to {year}")
            table = _with_backtest(fit, table, year, seed, out / f"backtest-until{year}")
            table.save(out / "authorities")
            bar.update(task, advance=1)
        if every:
            for at in range(0, len(codes), CHUNK):
                part = codes[at:at + CHUNK]
                bar.update(task, description=f"lever search, authorities {at + 1}-"
                           f"{at + len(part)} of {len(codes)} together")
                from carespiral.exploration.brief import lever_searches

                found, _ = lever_searches(fit, part, draws, budget, seed, population,
                                          generations)
                searches.update(zip(part, found, strict=True))
        for code in codes:
            def stage(what: str, name: str = names[code]) -> None:
                bar.update(task, description=f"{name}: {what}", advance=1 if what != "standing"
                           else 0)

            b = build_brief(fit, code, table=table, named_loops=named, draws=draws,
                            budget=budget, seed=seed, progress=stage, population=population,
                            generations=generations, search=searches.get(code))
            stem = brief_file(b.area_name)[:-5]
            b.save(out / stem)
            if html:
                from carespiral.reports.brief import brief_report

                written.append(brief_report(b, out / f"{stem}.html", plotlyjs=plotlyjs,
                                            index="index.html" if every else None))
            else:
                written.append(out / stem)
            bar.update(task, advance=1)
        if every and html and table is not None:
            from carespiral.reports.authorities_report import authorities_report

            links = {c: brief_file(names[c]) for c in codes}
            written.append(authorities_report(table, out / "index.html", plotlyjs=plotlyjs,
                                              briefs=links))
    if claim is not None:
        claim.complete()
    if not every:
        from carespiral.reports.brief import brief_verdict

        console.print(brief_verdict(b))
    for p in written[-3:] if every else written:
        console.print(f"Wrote {p}", soft_wrap=True)
    if every:
        console.print(f"Wrote {len(codes)} briefs in {out}", soft_wrap=True)


def _inputs(source: Path) -> tuple[Any, Any, Path]:
    """The pooled fit, the saved table of margins (or None) and the folder holding them."""
    import carespiral.calibration.pooling.result  # (result kinds)
    import carespiral.exploration.authorities  # noqa: F401
    from carespiral._atomic import check_complete
    from carespiral.results import load_result, read_manifest

    source = Path(source)
    if not source.exists():
        raise CarespiralError(
            f"--from {source}: no pooled fit there; fit every authority first with "
            "`carespiral calibrate local --area all` (it writes calibration-local-all), or give "
            "--from the folder it wrote")
    check_complete(source)
    folder = source
    if (source / "manifest.json").is_file() and read_manifest(source).get("kind") == \
            "authorities_fit":
        base = source.parent
    elif (source / "fit" / "manifest.json").is_file():
        folder, base = source / "fit", source
    else:
        raise CarespiralError(
            f"--from {source}: not a pooled fit of every authority (expected fit/manifest.json "
            "inside, as `carespiral calibrate local --area all` writes)")
    fit = load_result(folder)
    if fit.kind != "authorities_fit":
        raise CarespiralError(f"--from {source}: holds a {fit.kind!r} result, not a pooled fit")
    table = None
    if (base / "authorities" / "manifest.json").is_file():
        table = load_result(base / "authorities")
    return fit, table, base


def _refuse_unfitted(fit, code: str) -> None:
    row = fit.areas.set_index("area_code").loc[code]
    if row["status"] != "ok":
        raise CarespiralError(f"{row['area_name']} ({code}) could not be fitted: "
                              f"{row['message']}; no brief can be written for it")


def _named_loops(model: str):
    from carespiral.cli.describe import model_doc
    from carespiral.exploration.brief import NamedLoop
    from carespiral.reports.structure import loops_from_doc

    doc = model_doc(model)
    if doc is None:
        return None
    return [NamedLoop(lp.name, lp.title, lp.polarity, tuple(lp.variables))
            for lp in loops_from_doc(doc)]


def _assess(fit, draws: int, seed: int):
    from carespiral.exploration.authorities import assess_authorities

    return assess_authorities(fit, draws=max(draws, 8), seed=seed)


def _with_backtest(fit, table, year: int, seed: int, where: Path):
    """The table with the skill of a backtest: every fitted authority fitted again up to
    `year` (one pooled fit, saved in `where`) and its forecasts scored against the naive
    rules; the margins are not recomputed."""
    from carespiral.calibration.pooling.run import fit_authorities
    from carespiral.exploration.authorities import with_backtest

    bt = fit_authorities(fit.spec, areas=fit.fitted_codes, fit_until=year,
                         pooling=fit.pooling, seed=seed)
    bt.save(where)
    return with_backtest(table, bt)


def register(app: typer.Typer) -> None:
    app.command("brief")(brief)
