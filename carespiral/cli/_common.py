"""Helpers shared by the CLI commands: parsing options, checking outputs, writing tables.

Every output a command writes is checked before anything runs (`output_file`,
`output_folder`): a folder where a file is wanted, a path under a file, a place that cannot
hold files, one of the command's own inputs, a file shipped with carespiral, and an existing
output without `--force` are refused with a `CarespiralError`, so nothing is lost and no long
run ends in a failure to write.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
import typer
from rich.console import Console

from carespiral._atomic import INCOMPLETE, FolderClaim, atomic_path, is_busy
from carespiral.errors import CarespiralError, FolderBusyError, OutputPathError

__all__ = [
    "FORCE",
    "check_chunk_size",
    "check_count",
    "check_scheduler",
    "check_seed",
    "claim_output",
    "console",
    "err_console",
    "output_file",
    "output_folder",
    "packaged_roots",
    "parse_sets",
    "release_claims",
    "split_list",
    "write_table",
]

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

FORCE = typer.Option(False, "--force", help="Replace an existing output file or folder.")

_CLAIMS: list[FolderClaim] = []  # released when the command ends, however it ends

# the installed packages whose folders hold carespiral's own files (models, data, code)
_PACKAGES = ("carespiral", "carespiral.models", "carespiral.data", "carespiral.pysd_runner",
             "carespiral.calibration", "carespiral.exploration", "carespiral.reports",
             "carespiral.model_docs")


def parse_sets(items: list[str] | None) -> dict[str, float]:
    """`NAME=VALUE` pairs from repeated --set options."""
    out: dict[str, float] = {}
    for item in items or []:
        if "=" not in item:
            raise CarespiralError(f"--set {item!r}: expected NAME=VALUE, e.g. --set 'Referral Rate=300'")
        name, _, value = item.partition("=")
        name, value = name.strip(), value.strip()
        try:
            out[name] = float(value)
        except ValueError:
            raise CarespiralError(f"--set {name}={value!r}: expected a number after '='") from None
        if not math.isfinite(out[name]):
            raise CarespiralError(f"--set {name}={value!r}: expected a finite number")
    return out


def split_list(text: str | None) -> list[str] | None:
    if not text:
        return None
    return [part.strip() for part in text.split(",") if part.strip()]


def write_table(df: pd.DataFrame, path: Path) -> None:
    """Write a CSV or Parquet file (with the index) whole or not at all."""
    if path.suffix.lower() not in (".csv", ".parquet"):
        raise CarespiralError(f"--out {path}: expected a .csv or .parquet file name")
    with atomic_path(path) as tmp:
        if path.suffix.lower() == ".csv":
            df.to_csv(tmp)
        else:
            df.to_parquet(tmp)


# ---- numbers given as options --------------------------------------------------------------


def check_seed(seed: int | None, flag: str = "--seed") -> None:
    if seed is not None and not 0 <= seed < 2**32:
        raise CarespiralError(f"{flag} {seed}: expected a whole number from 0 up (at most 4,294,967,295)")


def check_chunk_size(chunk_size: int | None, flag: str = "--chunk-size") -> None:
    if chunk_size is not None and chunk_size < 1:
        raise CarespiralError(f"{flag} {chunk_size}: expected a positive number of runs")


def check_count(value: int | None, flag: str, least: int = 1, what: str = "") -> None:
    """A count option (runs, points, walkers, budget) of at least `least`."""
    if value is not None and value < least:
        raise CarespiralError(f"{flag} {value}: expected {what or 'a whole number'} of at "
                              f"least {least}")


def check_scheduler(scheduler: str | None, flag: str = "--scheduler") -> None:
    if scheduler is not None and scheduler != "local" and not re.fullmatch(
            r"[a-z][a-z0-9+.-]*://\S+|[A-Za-z0-9_.-]+:\d+", scheduler):
        raise CarespiralError(f"{flag} {scheduler!r}: expected 'local' or a Dask scheduler "
                              "address such as tcp://host:8786")


# ---- outputs -------------------------------------------------------------------------------


def packaged_roots() -> list[Path]:
    """The folders of carespiral's installed packages (nothing is ever written there)."""
    from importlib import resources

    roots = []
    for name in _PACKAGES:
        try:
            roots.append(Path(str(resources.files(name))).resolve())
        except (ModuleNotFoundError, TypeError):
            continue
    return roots


def output_file(path: Path | None, flag: str, *, suffixes: Iterable[str] = (),
                force: bool = False, inputs: Iterable[str | Path | None] = ()) -> Path | None:
    """Check an output file before anything runs (see the module docstring); return it."""
    if path is None:
        return None
    path = Path(path)
    suffixes = tuple(suffixes)
    if suffixes and path.suffix.lower() not in suffixes:
        names = " or ".join(suffixes)
        raise CarespiralError(f"{flag} {path}: expected a file name ending in {names}")
    if path.is_dir():
        raise OutputPathError(f"{flag} {path}: is a folder; give a file name inside it, e.g. "
                              f"{flag} {path / ('out' + (suffixes[0] if suffixes else ''))}")
    _not_input(path, flag, inputs)
    if path.exists() and not force:
        raise OutputPathError(f"{flag} {path}: the file exists; add --force to replace it, or "
                              "choose another name")
    _writable(path.parent, flag, path)
    return path


def output_folder(path: Path, flag: str, *, force: bool = False,
                  inputs: Iterable[str | Path | None] = (), resume: bool | None = None) -> Path:
    """Check an output folder before anything runs: not a file, not under a file, writable, not
    an input or packaged folder; an existing folder with anything in it needs `force` (or, for
    an exploration, `resume`; None: the command cannot resume)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputPathError(f"{flag} {path}: is a file, not a folder; choose a folder name")
    _not_input(path, flag, inputs, folder=True)
    if is_busy(path):
        raise FolderBusyError(f"{flag} {path}: another carespiral process is writing this "
                              "folder now; wait for it to finish or choose another folder")
    if path.is_dir() and any(path.iterdir()) and not (force or resume):
        state = (" (an interrupted run: it holds " + INCOMPLETE + ")"
                 if (path / INCOMPLETE).exists() else "")
        how = "add --resume to continue it, " if resume is not None else "add "
        raise OutputPathError(f"{flag} {path}: the folder exists and is not empty{state}; {how}"
                              "--force to replace what it holds, or choose another folder")
    _writable(path, flag, path)
    return path


def claim_output(path: Path, flag: str = "--out", *, force: bool = False,
                 inputs: Iterable[str | Path | None] = (),
                 resume: bool | None = None) -> FolderClaim:
    """Check an output folder (`output_folder`), lock it and mark it incomplete for the rest of
    the command; the command calls `.complete()` on the claim as its last step. With `force`,
    an existing carespiral output folder is emptied first (any other folder is refused)."""
    path = output_folder(path, flag, force=force, inputs=inputs, resume=resume)
    if resume and force:
        raise CarespiralError("--resume continues a folder and --force replaces it: give one")
    replace = force and not resume and path.is_dir() and any(path.iterdir())
    if replace and not _is_output_folder(path):
        raise OutputPathError(f"{flag} {path}: holds files carespiral did not write; --force "
                              "only replaces a carespiral output folder, so choose another")
    claim = FolderClaim(path, " ".join(["carespiral", *sys.argv[1:]]))
    claim.__enter__()
    _CLAIMS.append(claim)
    if replace:
        for p in path.iterdir():
            if p.name != INCOMPLETE:
                shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
    return claim


def release_claims() -> None:
    """Release the folders claimed by the command that just ended (the CLI calls this)."""
    while _CLAIMS:
        _CLAIMS.pop().__exit__(None, None, None)


def _is_output_folder(path: Path) -> bool:
    marks = ("manifest.json", "result.json", INCOMPLETE, "design.parquet", "areas.csv")
    if any((path / m).exists() for m in marks):
        return True
    return any((p / "manifest.json").is_file() for p in path.iterdir() if p.is_dir())


def _not_input(path: Path, flag: str, inputs: Iterable[str | Path | None],
               folder: bool = False) -> None:
    """Refuse an output that is an input (or, for a folder, holds one: --force empties it)."""
    target = _resolved(path)
    for item in inputs:
        if item is None:
            continue
        src = _resolved(Path(item))
        if target == src or (folder and target in src.parents):
            raise OutputPathError(f"{flag} {path}: would write over {item}, an input of this "
                                  "command; choose another name")
    for root in packaged_roots():
        if target == root or root in target.parents:
            raise OutputPathError(f"{flag} {path}: is inside carespiral's installed files "
                                  f"({root}); write your outputs somewhere else")


def _writable(folder: Path, flag: str, path: Path) -> None:
    """Create and remove a probe file in the nearest existing folder on the way to `folder`."""
    probe = folder
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    for up in [folder, *folder.parents]:
        if up.exists() and not up.is_dir():
            raise OutputPathError(f"{flag} {path}: {up} is a file, not a folder")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".carespiral-probe.", dir=probe)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        raise OutputPathError(f"{flag} {path}: cannot write in {probe} "
                              f"({exc.strerror or exc})") from None


def _resolved(path: Path) -> Path:
    try:
        return path.expanduser().resolve()
    except (OSError, RuntimeError):
        return path.absolute()
