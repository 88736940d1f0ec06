"""`carespiral check MODEL`: every equation whose sides or terms disagree in units."""

from __future__ import annotations

from pathlib import Path

import typer

from carespiral.cli._common import console


def check(
    model: str = typer.Argument(..., help="A bundled model name or a path to a .mdl file."),
) -> None:
    """Check a model's units (with the Simlin engine); exit code 1 if anything disagrees."""
    from carespiral.pysd_runner.units import check_units

    path = _model_path(model)
    findings = check_units(path)
    if not findings:
        console.print(f"{path.name}: units consistent, no findings.")
        return
    console.print(f"{path.name}: {len(findings)} unit finding(s)")
    for f in findings:
        console.print(f"  [bold]{f.variable}[/bold]: {f.problem}", markup=True)
        if f.left and f.right:
            console.print(f"    units: {f.left}  vs  {f.right}")
        if f.equation:
            console.print(f"    equation: {f.equation}")
    raise typer.Exit(code=1)


def _model_path(model: str) -> Path:
    """A bundled model's .mdl file, or the path given (a name that is neither is an error)."""
    from carespiral.errors import FileFormatError
    from carespiral.pysd_runner.catalog import get_entry

    if model.endswith(".mdl") or "/" in model or "\\" in model:
        path = Path(model)
        if not path.is_file():
            raise FileFormatError(path, "no such model file",
                                  hint="give a bundled model name or a path to a .mdl file")
        return path
    return get_entry(model).path


def register(app: typer.Typer) -> None:
    app.command("check")(check)
