"""Atomic file and directory writes: a result appears whole or not at all.

Every file carespiral writes goes through here: `atomic_path` (a temporary path renamed onto
the target), `atomic_dir` (a temporary directory swapped in whole) and `write_text`. A folder
that several steps fill (an exploration, a tipping analysis, the fits of every area) is claimed
with `claim_folder`: it holds a lock, so a second process cannot write into it at the same time,
and an `INCOMPLETE.txt` marker that is removed only when every step has finished, so a folder
left by a killed run never reads as complete (`check_complete`).

Temporary files and folders are hidden (`.NAME.PID-XXXXXXXX.part`) and carry the id of the
process writing them; those of processes that no longer exist (a killed run) are removed the
next time anything is written into the same folder. A failure to write (a folder where a file
is wanted, a read-only place, a full disk) is an `OutputPathError` naming the path.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from carespiral.errors import FolderBusyError, IncompleteResultError, OutputPathError

__all__ = [
    "INCOMPLETE",
    "FolderClaim",
    "atomic_dir",
    "atomic_path",
    "check_complete",
    "claim_folder",
    "clean_leftovers",
    "is_busy",
    "write_text",
]

INCOMPLETE = "INCOMPLETE.txt"
_PART = re.compile(r"^\..+\.(\d+)-[A-Za-z0-9_]+\.part$")
_CLEANED: set[Path] = set()  # folders already cleaned by this process (once is enough)


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; rename it onto `target` only if the block succeeds."""
    target = Path(target)
    with _writing(target):
        _make_parent(target)
        fd, tmp = tempfile.mkstemp(prefix=_prefix(target), suffix=".part", dir=target.parent)
        os.close(fd)
    tmp_path = Path(tmp)
    try:
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; results are ordinary files
        with _writing(target):
            yield tmp_path
        with _writing(target):
            os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text(path: str | Path, text: str) -> None:
    """Write a UTF-8 text file whole or not at all."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


@contextlib.contextmanager
def atomic_dir(target: str | Path) -> Iterator[Path]:
    """Yield a temporary directory beside `target`; it replaces `target` only if the block succeeds."""
    target = Path(target)
    old = target.with_name(f".{target.name}.old")
    with _writing(target):
        _make_parent(target)
        if old.is_dir() and not target.exists():  # a swap cut short: put the old folder back
            os.replace(old, target)
        tmp = Path(tempfile.mkdtemp(prefix=_prefix(target), suffix=".part", dir=target.parent))
    try:
        os.chmod(tmp, 0o777 & ~_umask())
        yield tmp
        with _writing(target):
            if target.exists() and not target.is_dir():
                raise FileExistsError(errno.EEXIST, "File exists", str(target))
            if target.exists():
                shutil.rmtree(old, ignore_errors=True)
                os.replace(target, old)
                os.replace(tmp, target)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


# ---- folders filled in several steps ----------------------------------------------------------


class FolderClaim:
    """A claim on a folder filled in several steps: entering it locks the folder (a second
    claim while it is held is a `FolderBusyError`) and writes `INCOMPLETE.txt`; `complete()`
    removes the marker, the last step of a successful command; leaving it releases the lock
    (the marker stays if `complete()` was not called, so the folder reads as incomplete).
    A claim on a folder this process already holds is nested: it does nothing, and the outer
    claim decides when the folder is complete."""

    _held: ClassVar[dict[Path, FolderClaim]] = {}

    def __init__(self, folder: str | Path, command: str = "") -> None:
        self.folder = Path(folder)
        self.command = command
        self.marker = self.folder / INCOMPLETE
        self._fd: int | None = None
        self._created = False
        self._completed = False
        self._nested = False

    def __enter__(self) -> FolderClaim:
        folder, marker = self.folder, self.marker
        key = folder.resolve()
        if key in FolderClaim._held:
            self._nested = True
            return self
        self._created = not folder.exists()
        self._was_marked = marker.exists()
        self._before = _snapshot(folder)
        with _writing(folder):
            folder.mkdir(parents=True, exist_ok=True)
        while True:
            with _writing(marker):
                fd = os.open(marker, os.O_RDWR | os.O_CREAT, 0o666 & ~_umask())
            if not _try_lock(fd):
                os.close(fd)
                raise FolderBusyError(
                    f"{folder}: another carespiral process is writing this folder now "
                    f"({_describe(marker)}); wait for it to finish or choose another output")
            try:  # the process that held it may have removed the marker: start again
                same = os.fstat(fd).st_ino == os.stat(marker).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        self._fd = fd
        FolderClaim._held[key] = self
        note = {"pid": os.getpid(), "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                "command": self.command,
                "meaning": "this folder is being written, or its command was interrupted; "
                           "its results are not complete"}
        with _writing(marker):
            os.ftruncate(fd, 0)
            os.write(fd, (json.dumps(note, indent=2) + "\n").encode())
            os.fsync(fd)
        clean_leftovers(folder, recursive=True)
        return self

    def complete(self) -> None:
        """Mark the folder complete (remove the marker); the lock is kept until exit."""
        if self._fd is not None:
            self.marker.unlink(missing_ok=True)
            self._completed = True

    def __exit__(self, *exc: object) -> None:
        if self._fd is None:
            return
        FolderClaim._held.pop(self.folder.resolve(), None)
        try:
            if not self._completed and _snapshot(self.folder) == self._before:
                # stopped before changing anything (a mistake found early): leave the folder
                # as it was
                if not self._was_marked:
                    self.marker.unlink(missing_ok=True)
                if self._created:
                    shutil.rmtree(self.folder, ignore_errors=True)
        finally:
            os.close(self._fd)  # releases the lock
            self._fd = None


@contextlib.contextmanager
def claim_folder(folder: str | Path, command: str = "") -> Iterator[Path]:
    """Hold `folder` for one block (see `FolderClaim`): complete if the block succeeds."""
    with FolderClaim(folder, command) as claim:
        yield claim.folder
        claim.complete()


def check_complete(folder: str | Path) -> None:
    """Raise `IncompleteResultError` if `folder` (or a folder above it, up to three levels) is
    marked incomplete: a command is still writing it or was interrupted."""
    folder = Path(folder)
    for up in [folder, *list(folder.parents)[:3]]:
        marker = up / INCOMPLETE
        if not marker.is_file():
            continue
        busy = _held(marker)
        state = ("is still being written by another carespiral process"
                 if busy else "was left incomplete: the command writing it was interrupted")
        raise IncompleteResultError(
            up, f"{state} ({_describe(marker)})",
            hint=("wait for it to finish" if busy else
                  "run the command again (an exploration continues with --resume), or remove "
                  f"the folder; {INCOMPLETE} says which command wrote it"))


def is_busy(folder: str | Path) -> bool:
    """Whether another process is writing `folder` now (it holds the folder's lock)."""
    marker = Path(folder) / INCOMPLETE
    return marker.is_file() and _held(marker)


def clean_leftovers(folder: str | Path, recursive: bool = False) -> list[Path]:
    """Remove the hidden temporary files and folders of processes that no longer exist."""
    folder = Path(folder)
    removed: list[Path] = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for p in entries:
        m = _PART.match(p.name)
        if m and not _alive(int(m.group(1))):
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    p.unlink()
            removed.append(p)
        elif recursive and p.is_dir() and not p.is_symlink() and not p.name.startswith("."):
            removed += clean_leftovers(p, recursive=True)
    return removed


# ---- helpers ---------------------------------------------------------------------------------


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Size and modification time of every file under `folder` but the marker."""
    out: dict[str, tuple[int, int]] = {}
    for root, _, files in os.walk(folder):
        for f in files:
            p = Path(root) / f
            if p == folder / INCOMPLETE:
                continue
            try:
                st = p.stat()
            except OSError:
                continue
            out[str(p.relative_to(folder))] = (st.st_size, st.st_mtime_ns)
    return out


def _prefix(target: Path) -> str:
    folder = target.parent.resolve() if target.parent.exists() else target.parent
    if folder not in _CLEANED:
        _CLEANED.add(folder)
        clean_leftovers(target.parent)
    return f".{target.name}.{os.getpid()}-"


def _make_parent(target: Path) -> None:
    for up in reversed([target.parent, *target.parent.parents]):
        if up.exists() and not up.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, "Not a directory", str(up))
    target.parent.mkdir(parents=True, exist_ok=True)


@contextlib.contextmanager
def _writing(target: Path) -> Iterator[None]:
    """Turn a failure to write `target` (not a bug) into an OutputPathError naming it."""
    try:
        yield
    except OutputPathError:
        raise
    except OSError as exc:
        raise OutputPathError(f"cannot write {target}: {_why(exc)}") from None


def _why(exc: OSError) -> str:
    if exc.errno == errno.ENOTDIR:
        return f"{exc.filename or 'a part of the path'} is a file, not a folder"
    if exc.errno == errno.EISDIR:
        return "a folder of that name is in the way"
    if exc.errno == errno.EEXIST:
        return "a file of that name is in the way"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "no space left on the device"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "not allowed to write there"
    if exc.errno == errno.ENOENT:
        return "that place cannot hold files"
    return exc.strerror or str(exc)


def _try_lock(fd: int) -> bool:
    try:
        import fcntl
    except ImportError:  # no advisory locks on this platform: the marker alone
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _held(marker: Path) -> bool:
    """Whether another process holds the lock on `marker` now."""
    try:
        fd = os.open(marker, os.O_RDONLY)
    except OSError:
        return False
    try:
        import fcntl

        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        return False
    except ImportError:
        return False
    finally:
        os.close(fd)


def _describe(marker: Path) -> str:
    try:
        note = json.loads(marker.read_text(encoding="utf-8"))
        return f"process {note['pid']}, started {note['started']}: {note['command'] or '?'}"
    except (OSError, ValueError, KeyError, TypeError):
        return f"see {marker}"


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
