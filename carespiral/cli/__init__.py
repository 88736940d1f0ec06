"""The `carespiral` command line: a thin layer over the library, one module per command.

Each module in COMMAND_MODULES exposes `register(app)`. User mistakes raise `CarespiralError`;
they are printed as one clear message with exit code 2, never as a traceback. Anything else is
a bug: it is reported as an internal error in one line, with the path of a file holding the
traceback and a request to report it, and exit code 70 (docs/errors.md).
"""

from __future__ import annotations

import importlib
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

import typer
from typer.core import TyperGroup

from carespiral.errors import EXIT_INTERNAL, EXIT_INTERRUPTED, CarespiralError

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
    "backtest",
    "export",
    "simulator",
    "brief",
)


class _Group(TyperGroup):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except CarespiralError as exc:
            typer.echo(f"Error: {exc}", err=True)
            raise typer.Exit(code=exc.exit_code) from None
        except Exception as exc:
            if _is_clicks(exc):
                raise  # click's own: --help, usage errors, typer.Exit
            _internal_error(exc)
        except KeyboardInterrupt:
            typer.echo("Interrupted.", err=True)
            raise typer.Exit(code=EXIT_INTERRUPTED) from None
        finally:
            from carespiral.cli._common import release_claims

            release_claims()


def _is_clicks(exc: BaseException) -> bool:
    """An exception of click (or typer's copy of it): exits, aborts, usage errors."""
    return type(exc).__module__.split(".")[0] in ("click", "typer")


def _internal_error(exc: Exception) -> None:
    saved = save_traceback(exc)
    summary = " ".join(f"{type(exc).__name__}: {exc}".split())
    if len(summary) > 300:
        summary = summary[:297] + "..."
    where = (f"The traceback is saved in {saved}." if saved else
             "The traceback could not be saved (no writable folder).")
    typer.echo(f"Internal error (a bug in carespiral, not in your input): {summary}\n"
               f"{where} Please report it on carespiral's issue tracker, with that file and "
               "the command you ran.", err=True)
    raise typer.Exit(code=EXIT_INTERNAL) from None


def crash_dir() -> Path:
    """Where tracebacks of internal errors are saved: $CARESPIRAL_CRASH_DIR, else
    $XDG_STATE_HOME/carespiral/crashes (default ~/.local/state/carespiral/crashes)."""
    if os.environ.get("CARESPIRAL_CRASH_DIR"):
        return Path(os.environ["CARESPIRAL_CRASH_DIR"])
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "carespiral" / "crashes"


def save_traceback(exc: BaseException) -> Path | None:
    """Write the traceback of `exc`, with the command line and versions, to a new file."""
    from carespiral import __version__

    text = (f"carespiral {__version__}, Python {sys.version.split()[0]}, {sys.platform}\n"
            f"command: {' '.join(sys.argv)}\n"
            f"time: {time.strftime('%Y-%m-%d %H:%M:%S')}\n\n"
            + "".join(traceback.format_exception(exc)))
    name = f"carespiral-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-"
    for folder in (crash_dir(), Path(tempfile.gettempdir())):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, path = tempfile.mkstemp(prefix=name, suffix=".txt", dir=folder)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            return Path(path)
        except OSError:
            continue
    return None


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
