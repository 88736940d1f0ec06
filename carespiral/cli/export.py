"""`carespiral export RESULT_DIR --mdl OUT.mdl`: the model with the fitted constants in place."""

from __future__ import annotations

from pathlib import Path

import typer

from carespiral.cli._common import FORCE, console, output_file


def export(
    result: Path = typer.Argument(..., help="A result directory from `carespiral calibrate`."),
    mdl: Path = typer.Option(..., "--mdl", help="Write the calibrated model to OUT.mdl "
                             "(and a Vensim change file OUT.cin beside it)."),
    force: bool = FORCE,
) -> None:
    """Write the calibrated model (fitted constants in place) and a Vensim .cin file."""
    from carespiral.calibration.export import export_mdl

    output_file(mdl, "--mdl", suffixes=(".mdl",), force=force, inputs=[result])
    output_file(mdl.with_suffix(".cin"), "--mdl", force=force, inputs=[result])
    mdl_path, cin_path = export_mdl(result, mdl)
    console.print(f"Wrote {mdl_path} and {cin_path}")


def register(app: typer.Typer) -> None:
    app.command("export")(export)
