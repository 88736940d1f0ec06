"""`carespiral export RESULT_DIR --mdl OUT.mdl`: the model with the fitted constants in place."""

from __future__ import annotations

from pathlib import Path

import typer

from carespiral.cli._common import console


def export(
    result: Path = typer.Argument(..., help="A result directory from `carespiral calibrate`."),
    mdl: Path = typer.Option(..., "--mdl", help="Write the calibrated model to OUT.mdl "
                             "(and a Vensim change file OUT.cin beside it)."),
) -> None:
    """Write the calibrated model (fitted constants in place) and a Vensim .cin file."""
    from carespiral.calibration.export import export_mdl

    mdl_path, cin_path = export_mdl(result, mdl)
    console.print(f"Wrote {mdl_path} and {cin_path}")


def register(app: typer.Typer) -> None:
    app.command("export")(export)
