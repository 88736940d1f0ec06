"""Translating `.mdl`/XMILE files with PySD, cached outside the source tree.

The cache key is the SHA-256 of the model file's bytes plus the PySD version, so an edited model
is translated again and an unchanged one never is. The cache lives in `$CARESPIRAL_CACHE_DIR`, or
`$XDG_CACHE_HOME/carespiral`, or `~/.cache/carespiral`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import warnings
from pathlib import Path

from carespiral.errors import FileFormatError

__all__ = ["cache_dir", "model_hash", "translate"]

VENSIM_SUFFIXES = {".mdl"}
XMILE_SUFFIXES = {".xmile", ".xml", ".stmx"}


def cache_dir() -> Path:
    """Where translated models are kept."""
    env = os.environ.get("CARESPIRAL_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "carespiral"


def model_hash(path: Path) -> str:
    import pysd

    h = hashlib.sha256(path.read_bytes())
    h.update(pysd.__version__.encode())
    return h.hexdigest()[:20]


def translate(path: Path) -> tuple[Path, bool]:
    """Return the translated Python file for `path` and whether it came from the cache."""
    path = Path(path)
    if not path.is_file():
        raise FileFormatError(path, "no such model file", hint="give a bundled model name or a .mdl path")
    suffix = path.suffix.lower()
    if suffix not in VENSIM_SUFFIXES | XMILE_SUFFIXES:
        raise FileFormatError(
            path, f"unsupported model file type {suffix!r}", hint="expected a Vensim .mdl or XMILE file"
        )
    target_dir = cache_dir() / f"{path.stem}-{model_hash(path)}"
    py_file = target_dir / (path.stem + ".py")
    if py_file.is_file():
        return py_file, True

    cache_dir().mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".translate-", dir=cache_dir()))
    try:
        copy = work / path.name
        shutil.copyfile(path, copy)
        _run_pysd_translator(path, copy)
        try:
            os.replace(work, target_dir)
        except OSError:  # another process translated the same model meanwhile
            if not py_file.is_file():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return py_file, False


def _run_pysd_translator(original: Path, copy: Path) -> None:
    import pysd
    from parsimonious.exceptions import ParseError

    try:
        with warnings.catch_warnings():
            # PySD warns when a file does not declare its encoding; the bundled models do.
            warnings.filterwarnings("ignore", message="No encoding specified")
            if copy.suffix.lower() in VENSIM_SUFFIXES:
                pysd.read_vensim(str(copy), initialize=False)
            else:
                pysd.read_xmile(str(copy), initialize=False)
    except ParseError as exc:
        line, snippet = _locate(original, exc)
        raise FileFormatError(
            original,
            f"cannot parse the equation near {snippet!r}: {_short_parse_message(exc)}",
            line=line,
            hint="check the equation's syntax (operators, parentheses, '~' separators; "
            "a '~' inside a comment ends the comment field)",
        ) from None
    except KeyError as exc:
        name = str(exc.args[0]) if exc.args else "?"
        line = _find_line(original, name.replace("_", " "))
        raise FileFormatError(
            original,
            f"an equation refers to {name.replace('_', ' ')!r}, which is not defined",
            line=line,
            hint="define the variable, or correct the name where it is used "
            "(a '~' inside a comment also breaks the equation that follows)",
        ) from None
    except (ValueError, TypeError, AttributeError, NotImplementedError) as exc:
        raise FileFormatError(original, f"PySD cannot translate this model: {exc}") from None


def _short_parse_message(exc: Exception) -> str:
    msg = str(exc)
    return msg.split(" (line")[0]


def _locate(path: Path, exc) -> tuple[int | None, str]:
    """Map a parsimonious error (positions relative to one equation) to a line of the file."""
    text = getattr(exc, "text", "") or ""
    pos = getattr(exc, "pos", 0) or 0
    snippet = text[pos : pos + 30].strip() or text.strip()[:30]
    content = path.read_text(encoding="utf-8", errors="replace")
    anchor = text.strip()[:60]
    idx = content.find(anchor) if anchor else -1
    if idx < 0:
        return None, snippet
    offset = content.find(text[pos : pos + 10], idx) if text[pos : pos + 10].strip() else idx
    if offset < 0:
        offset = idx
    return content.count("\n", 0, offset) + 1, snippet


def _find_line(path: Path, needle: str) -> int | None:
    content = path.read_text(encoding="utf-8", errors="replace").lower()
    idx = content.find(needle.lower())
    return None if idx < 0 else content.count("\n", 0, idx) + 1
