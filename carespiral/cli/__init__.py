"""The `carespiral` command line: a thin layer over the library, one module per command.

Each module in COMMAND_MODULES exposes `register(app)`. User mistakes raise `CarespiralError`;
they are printed as one clear message with exit code 2, never as a traceback.
"""

from __future__ import annotations

import importlib

import typer
from typer.core import TyperGroup

from carespiral.errors import CarespiralError

__all__ = ["app", "main"]

COMMAND_MODULES: tuple[str, ...] = (
    "models",
    "describe",
    "run",
    "report",
    "data",
    "explore",
    "tipping",
    "optimise",
    "ensemble",
    "check",
    "calibrate",
    "export",
    "simulator",
)


class _Group(TyperGroup):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except CarespiralError as exc:
            typer.echo(f"Error: {exc}", err=True)
            raise typer.Exit(code=exc.exit_code) from None


app = typer.Typer(
    cls=_Group,
    name="carespiral",
    help="Stock-and-flow models of English children's social care: run, calibrate, explore.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    # an eager option callback runs while the options are parsed, before click would stop
    # with "Missing command"
    if value:
        from carespiral import __version__

        typer.echo(f"carespiral {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", help="Print the version and exit.",
                                 is_eager=True, callback=_print_version),
) -> None:
    """Stock-and-flow models of English children's social care: run, calibrate, explore."""


for _name in COMMAND_MODULES:
    importlib.import_module(f"carespiral.cli.{_name}").register(app)


def main() -> None:
    """Console-script entry point."""
    app()
