"""`carespiral models`: the bundled models."""

from __future__ import annotations

import typer
from rich.table import Table

from carespiral.cli._common import console


def models() -> None:
    """List the bundled models with their titles."""
    from carespiral.pysd_runner.catalog import catalog

    table = Table("model", "title", "file", box=None)
    for name, entry in sorted(catalog().items()):
        table.add_row(name, entry.title, entry.path.name)
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("models")(models)
