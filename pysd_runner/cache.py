"""The translation cache: where translated models are kept, and how an entry is trusted.

The cache lives in `$CARESPIRAL_CACHE_DIR`, or `$XDG_CACHE_HOME/carespiral`, or
`~/.cache/carespiral`. A folder that cannot be created or written falls back, with one warning,
to a private temporary folder for the rest of the session.

An entry is a folder holding the translated module(s), the external data files the model reads
(copied in), and `manifest.json`, which records the SHA-256 of every file of the entry, of every
source file it was made from, and the model's comments. `read_entry` returns the manifest only
when every file is present and unchanged; anything else (an edited, truncated, garbled, empty or
binary module, a missing file, a damaged manifest) reads as no entry, and the model is translated
again. `install` puts a freshly built entry in place atomically, replacing a damaged or stale one.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Any

from carespiral._atomic import clean_leftovers

__all__ = ["cache_dir", "file_digest", "install", "read_entry", "work_folder", "write_manifest"]

MANIFEST = "manifest.json"
FORMAT = 4  # bump when the layout of an entry or the translation pipeline changes

_usable: dict[str, Path] = {}
_lock = threading.Lock()


def _configured() -> Path:
    env = os.environ.get("CARESPIRAL_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "carespiral"


def cache_dir() -> Path:
    """Where translated models (and compiled batch kernels) are kept: a folder that exists and
    can be written; a private temporary one (with a warning) when the configured one cannot."""
    configured = _configured()
    key = str(configured)
    with _lock:
        if key in _usable:
            return _usable[key]
        try:
            configured.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(prefix=".probe-", dir=configured)
            os.close(fd)
            os.unlink(probe)
            _usable[key] = configured
            clean_leftovers(configured)  # the work folders of translations that were killed
        except OSError as exc:
            fallback = Path(tempfile.mkdtemp(prefix="carespiral-cache-"))
            atexit.register(shutil.rmtree, fallback, True)
            warnings.warn(
                f"the translation cache {configured} cannot be used "
                f"({exc.strerror or exc}); using {fallback} for this session (set "
                "CARESPIRAL_CACHE_DIR to a writable folder to keep translations)",
                RuntimeWarning, stacklevel=2)
            _usable[key] = fallback
        return _usable[key]


def work_folder(parent: Path, what: str) -> Path:
    """A new hidden folder in `parent` named with this process's id (`.WHAT.PID-XXXX.part`),
    so a folder left by a killed process is removed when the cache is next opened."""
    return Path(tempfile.mkdtemp(prefix=f".{what}.{os.getpid()}-", suffix=".part", dir=parent))


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_entry(entry: Path) -> dict[str, Any] | None:
    """The entry's manifest if the entry is complete and unchanged, else None."""
    try:
        manifest = json.loads((entry / MANIFEST).read_text(encoding="utf-8"))
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            return None
        files = manifest["files"]
        if not isinstance(files, dict) or "model.py" not in files:
            return None
        for rel, digest in files.items():
            target = (entry / rel).resolve()
            if entry.resolve() not in target.parents or file_digest(target) != digest:
                return None
        return manifest
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def write_manifest(work: Path, manifest: dict[str, Any]) -> None:
    """Record the digest of every file in `work` and write the manifest there."""
    files = {}
    for p in sorted(work.rglob("*")):
        if p.is_file() and p.name != MANIFEST and "__pycache__" not in p.parts:
            files[p.relative_to(work).as_posix()] = file_digest(p)
    manifest = {**manifest, "format": FORMAT, "files": files}
    (work / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True),
                                 encoding="utf-8")


def install(work: Path, entry: Path) -> None:
    """Move a built entry into place, replacing what is there (a damaged or stale entry); if
    another process installs one at the same moment, keep whichever sound entry is there."""
    try:
        os.replace(work, entry)
        return
    except OSError:
        pass
    trash = work_folder(entry.parent, "old")
    try:
        with contextlib.suppress(OSError):
            os.replace(entry, trash / "entry")
        try:
            os.replace(work, entry)
        except OSError:
            if read_entry(entry) is None:
                raise
    finally:
        shutil.rmtree(trash, ignore_errors=True)
