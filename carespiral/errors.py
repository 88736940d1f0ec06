"""User-facing errors.

Every mistake a user can make (a wrong name, a bad value, a malformed file) raises a
`CarespiralError` whose message says what was wrong, where, and what to do instead. The CLI turns
these into a message and exit code 2 (`EXIT_USER`); anything else is a bug, reported by the CLI
as an internal error with exit code 70 (`EXIT_INTERNAL`) and its traceback saved to a file.
docs/errors.md lists the classes and exit codes.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_USER",
    "CarespiralError",
    "FileFormatError",
    "FolderBusyError",
    "IncompleteResultError",
    "ModelRunError",
    "OutputPathError",
    "RunTooLargeError",
    "UnknownNameError",
    "UnsafeModelError",
    "ValueOutOfBoundsError",
    "closest",
]


EXIT_USER = 2  # a mistake in the input: the message says what to change
EXIT_INTERNAL = 70  # a bug (BSD sysexits EX_SOFTWARE): the traceback is saved for a report
EXIT_INTERRUPTED = 130  # stopped by Ctrl-C (128 + SIGINT)


class CarespiralError(Exception):
    """A problem caused by input (names, values, files), reported without a traceback."""

    exit_code = EXIT_USER


class UnknownNameError(CarespiralError, KeyError):
    """A name (model, parameter, series, area, ...) that does not exist, with close matches."""

    def __init__(self, kind: str, name: str, known: Iterable[str], hint: str = "") -> None:
        self.kind = kind
        self.name = name
        self.known = sorted(set(known))
        self.matches = closest(name, self.known)
        msg = f"unknown {kind} {name!r}"
        if self.matches:
            msg += "; did you mean " + " or ".join(repr(m) for m in self.matches) + "?"
        if hint:
            msg += (" " if hint.startswith("(") or self.matches else "; ") + hint
        super().__init__(msg)

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0])


class ValueOutOfBoundsError(CarespiralError, ValueError):
    """A value outside the bounds a model or spec declares."""


class FileFormatError(CarespiralError, ValueError):
    """A file that cannot be read as what it claims to be; names the file and, if known, the line."""

    def __init__(
        self,
        path: str | Path,
        problem: str,
        line: int | None = None,
        column: str | int | None = None,
        hint: str = "",
    ) -> None:
        self.path = Path(path)
        self.line = line
        self.column = column
        where = str(path)
        if line is not None:
            where += f", line {line}"
        if column is not None:
            where += f", column {column}"
        msg = f"{where}: {problem}"
        if hint:
            msg += f" ({hint})"
        super().__init__(msg)


class UnsafeModelError(FileFormatError):
    """A model whose translation contains code PySD's translator does not write: refused
    before anything of it runs."""


class ModelRunError(CarespiralError, ArithmeticError):
    """A run that fails for its numbers (a division by zero, an overflow) at the parameter
    values it was given; other values may run. Calibration scores such a run -inf."""


class RunTooLargeError(CarespiralError, ValueError):
    """A run or batch whose estimated steps or memory exceed a limit (both figures named)."""


class OutputPathError(CarespiralError):
    """An output that cannot or must not be written: a folder where a file is wanted, a place
    that is not writable, an input of the command, a packaged file, or an existing file without
    --force. Nothing has been written."""


class FolderBusyError(CarespiralError):
    """An output folder another carespiral process is writing now (its lock is held)."""


class IncompleteResultError(FileFormatError):
    """A result folder whose command was interrupted (or is still running): its completeness
    marker is missing, so it must not be read as a finished result."""


def closest(name: str, known: Iterable[str], n: int = 3) -> list[str]:
    """The known names most like `name`, ignoring case, spaces and underscores."""

    def norm(s: str) -> str:
        return s.lower().replace("_", " ").strip()

    known = list(known)
    by_norm: dict[str, str] = {}
    for k in known:
        by_norm.setdefault(norm(k), k)
    hits = difflib.get_close_matches(norm(name), list(by_norm), n=n, cutoff=0.5)
    out = [by_norm[h] for h in hits]
    if not out:  # substring matches help with long Vensim names
        out = [k for k in known if norm(name) in norm(k)][:n]
    return out
