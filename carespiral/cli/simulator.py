"""`carespiral simulator MODEL --out sim.html`: the model as a self-contained web page.

The page runs the model in the browser (compiled to JavaScript) with every catalogue lever as a
slider, shock buttons, the verdict by the collapse tests and the area's published figures. With
`--calibration` the sliders start at the fitted values and the page runs posterior draws for a
90% band. Tipping points on the burden and need sliders come from a continuation of the model's
equilibria, computed here when the page is built.
"""

from __future__ import annotations

import re
from pathlib import Path

import typer

from carespiral.cli._common import FORCE, console, output_file
from carespiral.errors import CarespiralError

# sliders that get a tipping point from a continuation: the burden and the need
TIPPING_ROLES = ("compliance_burden", "underlying_need")


def _area_table(area: str):
    """(the area's published rows, its name) from the data layer."""
    from carespiral import data

    table = data.load(area=area)
    if table.empty:
        return None, area
    last = table.groupby("area_code")["year"].max().sort_values()
    rows = table[table["area_code"] == last.index[-1]]
    return rows, str(rows["area_name"].iloc[0])


def _calibration_drivers(result) -> dict:
    """The drivers over time the calibration ran its area with (its spec's `drivers`, such as
    the area's child population index), as published: {variable: series over model months}."""
    from carespiral.calibration.drivers import driver_inputs
    from carespiral.calibration.spec import read_spec

    try:
        spec = read_spec(result.spec)
    except CarespiralError:  # a spec file not at hand: the page keeps the model's own
        console.print(f"The calibration's spec {result.spec!r} was not found: the page runs "
                      "without its drivers over time.")
        return {}
    if not spec.drivers:
        return {}
    code = re.search(r"\(([A-Z]\d{8})\)", str(result.area))
    return dict(driver_inputs(spec.drivers, code.group(1) if code else str(result.area)).inputs)


def simulator(
    model: str = typer.Argument(..., help="A bundled model name or a path to a .mdl file."),
    out: Path = typer.Option(..., "--out", help="The page to write (an .html file)."),
    calibration: Path = typer.Option(
        None, "--calibration",
        help="A calibration result folder: sliders start at its fitted values; its posterior "
             "draws make a 90% band."),
    scenario: list[str] = typer.Option(
        None, "--scenario", help="Scenario name or TOML file the page starts from (repeat to "
                                 "overlay). Default: the calibration's scenario, else none."),
    area: str = typer.Option(
        None, "--area", help="Area whose published figures are drawn (name or code). Default: "
                             "the calibration's area, else England."),
    draws: int = typer.Option(100, "--draws", min=100,
                              help="Posterior draws the page runs with --calibration."),
    tipping: bool = typer.Option(True, "--tipping/--no-tipping",
                                 help="Mark tipping points on the burden and need sliders."),
    force: bool = FORCE,
) -> None:
    """Write a flight simulator: the model as one web page that runs offline."""
    from carespiral.pysd_runner import load
    from carespiral.reports.simulator import simulator_page
    from carespiral.reports.simulator_content import slider_specs, starting_values

    output_file(out, "--out", suffixes=(".html", ".htm"), force=force,
                inputs=[model, calibration, *(scenario or [])])
    m = load(model)
    result = None
    if calibration is not None:
        from carespiral.calibration import load_result

        if not calibration.is_dir():
            raise CarespiralError(f"--calibration {calibration}: no such folder; give the folder "
                                  "written by `carespiral calibrate --out`")
        result = load_result(calibration)
        if result.model != m.name:
            raise CarespiralError(f"--calibration {calibration}: the result is for model "
                                  f"{result.model!r}, not {m.name!r}")
    names = list(scenario or [])
    if not names and result is not None and result.manifest.get("scenario"):
        names = [str(result.manifest["scenario"])]
    scenarios = [m.scenario(s) for s in names]
    drivers = _calibration_drivers(result) if result is not None else {}

    table, area_name = None, None
    if m.outputs:  # published figures are drawn against catalogue outputs only
        wanted = area
        if wanted is None and result is not None:
            code = re.search(r"\(([A-Z]\d{8})\)", str(result.area))
            wanted = code.group(1) if code else str(result.area)
        table, area_name = _area_table(wanted or "England")

    bifs = {}
    if tipping:
        from carespiral.exploration import continuation

        base, _ = starting_values(m, result, scenarios)
        for s in slider_specs(m, base):
            if s["key"] not in TIPPING_ROLES:
                continue
            with console.status(f"tipping point of {s['label'].lower()} (continuation)"):
                try:
                    bifs[s["name"]] = continuation(m, s["name"], s["start"], s["upper"],
                                                   params={k: v for k, v in base.items()
                                                           if k != s["name"]})
                except CarespiralError as exc:
                    console.print(f"No tipping point for {s['label']}: {exc}")
    with console.status("writing the page"):
        path = simulator_page(m, out, calibration=result, scenarios=scenarios, tipping=bifs,
                              data=table, area=area_name, draws=draws, inputs=drivers)
    size = path.stat().st_size / 1e6
    console.print(f"Wrote {path} ({size:.1f} MB). Open it in a web browser; it needs no network, "
                  "so it can be sent as an email attachment.")


def register(app: typer.Typer) -> None:
    app.command("simulator")(simulator)
