"""`carespiral data list|show|plot`: the published statistics shipped with carespiral."""

from __future__ import annotations

from pathlib import Path

import typer

from carespiral.cli._common import FORCE, console, err_console, output_file

__all__ = ["register"]

data_app = typer.Typer(help="Published statistics: list series and areas, show and plot them.",
                       no_args_is_help=True)


@data_app.command("list")
def list_series(
    area: str | None = typer.Option(None, "--area", help="Area code, DfE LA number or name."),
    level: str | None = typer.Option(None, "--level", help="national, regional or la."),
    areas_: bool = typer.Option(False, "--areas", help="List the areas instead of the series."),
    changes: bool = typer.Option(False, "--changes", help="List local authority reorganisations."),
    problems: bool = typer.Option(False, "--problems",
                                  help="List problems found in the published files."),
) -> None:
    """List series and their coverage (or areas, boundary changes, data problems)."""
    from carespiral import data

    if problems:
        for p in data.problems():
            console.print(f"- {p}", soft_wrap=True, markup=False)
        return
    if changes:
        t = data.area_changes()
        for r in t.itertuples():
            console.print(f"{r.effective}  {r.kind}: {r.old_names} ({r.old_codes}) -> "
                          f"{r.new_names} ({r.new_codes})\n    last year under the old code: "
                          f"{r.last_old}\n    first year under the new code: {r.first_new}\n"
                          f"    {r.description}", soft_wrap=True)
        return
    rows = data.load(area=area, level=level)
    if areas_:
        a = data.areas(rows)
        a["years"] = a["first_year"].astype(str) + "-" + a["last_year"].astype(str)
        _print(a[["area_code", "area_name", "level", "region_name", "la_code", "years"]])
        console.print(f"{len(a)} areas ({(a['level'] == 'la').sum()} local authority codes)")
        return
    cov = data.coverage(rows)
    cov["years"] = cov["first"].astype(str) + "-" + cov["last"].astype(str)
    _print(cov[["series", "unit", "kind", "levels", "areas", "years", "values"]])
    console.print(f"{len(cov)} series; `carespiral data show SERIES --area NAME` shows one")


def _print(t) -> None:
    """A plain aligned table: whole names at any terminal width, easy to grep and copy."""
    console.print(t.to_string(index=False), soft_wrap=True, markup=False)


@data_app.command("show")
def show(
    series: str = typer.Argument(..., help="Series name, e.g. referrals or re_referral_rate."),
    area: str = typer.Option("England", "--area", help="Area code, DfE LA number or name."),
    out: Path | None = typer.Option(None, "--out", help="Write the rows to a .csv file."),
    variants: bool = typer.Option(False, "--variants",
                                  help="Include second sources and other vintages."),
    force: bool = FORCE,
) -> None:
    """Show one series for an area (all its codes, never spliced across a boundary change)."""
    from carespiral import data
    from carespiral._atomic import atomic_path
    from carespiral.errors import CarespiralError

    output_file(out, "--out", suffixes=(".csv",), force=force)
    rows = data.load(series=series, area=area, include_variants=variants)
    if out is not None:
        with atomic_path(out) as tmp:
            rows.to_csv(tmp, index=False, date_format="%Y-%m-%d")
        err_console.print(f"wrote {len(rows)} rows to {out}")
        return
    if rows.empty:
        raise CarespiralError(f"no {series} figures for {area}")
    several = rows["area_code"].nunique() > 1
    names = " / ".join(dict.fromkeys(rows["area_name"]))
    console.print(f"{rows['series'].iloc[0]} — {names} ({rows['unit'].iloc[0]})", markup=False)
    cols = ["area_code", "period", "date", "value", "confidence", "note", "source"]
    if variants:
        cols.insert(4, "variant")
    if not several:
        cols.remove("area_code")
    shown = rows.sort_values(["date", "area_code"])[cols].assign(
        date=lambda d: d["date"].dt.strftime("%Y-%m-%d"),
        value=lambda d: d["value"].map(lambda v: "" if v != v else f"{v:,.6g}"))
    _print(shown)
    if several:
        console.print("Several area codes: the authority was reorganised "
                      "(`carespiral data list --changes`).")


@data_app.command("plot")
def plot(
    series: str = typer.Argument(..., help="Series name."),
    area: str | None = typer.Option(None, "--area", help="Area (default England)."),
    html: Path | None = typer.Option(None, "--html", help="Write a self-contained HTML page."),
    force: bool = FORCE,
) -> None:
    """The data report: a series over time for an area with its region and England, and a
    ranking of authorities."""
    from carespiral import data
    from carespiral.cli._progress import progress_bar
    from carespiral.errors import CarespiralError
    from carespiral.reports.data_report import data_page

    if html is None:
        html = Path(f"{series}-{(area or 'england').lower().replace(' ', '_')}.html")
    output_file(html, "--html", suffixes=(".html", ".htm"), force=force)
    with progress_bar(counts=False) as bar:
        task = bar.add_task("reading the published data", total=3)
        rows = data.load(series=series, area=area or "England")  # clear errors for bad names
        if rows.empty:
            raise CarespiralError(f"no {series} figures for {area or 'England'}")
        name, code = str(rows["series"].iloc[0]), str(rows["area_code"].iloc[0])
        table = data.load()
        bar.update(task, advance=1, description="finding its statistical neighbours")
        try:
            near = list(data.neighbours(code, table)["area_code"])
        except CarespiralError:  # England, a region, an authority without a grouping
            near = None
        bar.update(task, advance=1, description="drawing the page")
        page = data_page(table, area=code, series=[name], rank_series=name, neighbours=near)
        page.write(html)
        bar.update(task, advance=1)
    console.print(f"wrote {html}")
    console.print("[bold]Verdict[/bold]: " + page.verdict)


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")
