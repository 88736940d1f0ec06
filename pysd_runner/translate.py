"""Translating `.mdl`/XMILE files with PySD, cached outside the source tree, and made safe.

PySD translates a model into a Python module, which is then imported: opening a model runs code.
So that opening a model is as safe as opening a document:

1. the model is parsed from its neutralised text (`abstract`, `mdl_text`): comments never reach
   PySD; the abstract model is built into Python with every documentation field empty and every
   external data file renamed to its copy in the cache entry (`externals`);
2. every module PySD writes is checked (`verify`) before anything imports it: only the
   constructs PySD's builder writes are accepted;
3. the cache entry records the SHA-256 of each file (`cache`); on a later load an entry that does
   not match is translated again, and the module is checked again either way;
4. what is imported is a private copy of the checked bytes, in a folder of this process, so a
   file changed in the cache after the check (or a stale `__pycache__` beside it) is never run.

The cache key is the SHA-256 of the model file's bytes, the model's folder, PySD's version and
the cache format, so an edited model is translated again and an unchanged one never is; a
changed external data file invalidates the entry too.
"""

from __future__ import annotations

import atexit
import copy
import hashlib
import re
import shutil
import tempfile
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

from carespiral.errors import FileFormatError, UnsafeModelError
from carespiral.pysd_runner.abstract import (
    abstract_model,
    model_path,
    parse_model,
)
from carespiral.pysd_runner.cache import (
    FORMAT,
    cache_dir,
    file_digest,
    install,
    read_entry,
    work_folder,
    write_manifest,
)
from carespiral.pysd_runner.diagnostics import check_simultaneous
from carespiral.pysd_runner.externals import (
    allow_external_default,
    check_sources,
    find_externals,
)
from carespiral.pysd_runner.verify import verify_source

__all__ = ["Translation", "abstract_model", "cache_dir", "model_hash", "translate",
           "translation"]

MAIN_MODULE = "model.py"


@dataclass(frozen=True)
class Translation:
    """A translated model: the checked module to import, and what the cache knew of it."""

    module: Path  # the private, checked copy to import
    entry: Path  # the cache entry it came from
    cache_hit: bool
    comments: dict[str, str]  # Vensim name -> comment (capped), for documentation
    units: dict[str, str]  # Vensim name -> units as written
    externals: dict[str, str]  # source file -> SHA-256
    copies: dict[str, str]  # external file's name in the entry -> its path as written

    @property
    def cached_module(self) -> Path:
        return self.entry / MAIN_MODULE


def model_hash(path: Path) -> str:
    """The cache key of a model file (content, folder, PySD version, cache format)."""
    import pysd

    h = hashlib.sha256(Path(path).read_bytes())
    for part in (str(Path(path).resolve().parent), pysd.__version__, str(FORMAT)):
        h.update(b"\0" + part.encode())
    return h.hexdigest()[:24]


def translate(path: Path) -> tuple[Path, bool]:
    """The checked Python module for `path` and whether it came from the cache."""
    t = translation(path)
    return t.module, t.cache_hit


def translation(path: str | Path, allow_external: bool | None = None) -> Translation:
    """Translate `path` (or take it from the cache), check it and stage it for import.

    `allow_external`: let the model read data files outside its folder (default: the
    environment variable CARESPIRAL_ALLOW_EXTERNAL).
    """
    path = model_path(path)
    allow = allow_external_default() if allow_external is None else bool(allow_external)
    stem = re.sub(r"[^A-Za-z0-9_-]", "_", path.stem)[:40] or "model"
    entry = cache_dir() / f"{stem}-{model_hash(path)}"
    manifest = read_entry(entry)
    hit = manifest is not None and _sources_unchanged(manifest)
    if hit:
        check_sources(path, manifest["sources"], allow)
    else:
        _build(path, entry, allow)
        manifest = read_entry(entry)
        if manifest is None:
            raise FileFormatError(path, f"the translation cache entry {entry} cannot be "
                                  "written back and read (is the disk full?)")
    try:
        module, manifest = _stage_fresh(path, entry, manifest, allow)
    except UnsafeModelError:
        if not hit:
            raise
        # the entry matched its manifest, but both were replaced: translate the model again
        _build(path, entry, allow)
        hit, manifest = False, read_entry(entry)
        if manifest is None:
            raise
        module, manifest = _stage_fresh(path, entry, manifest, allow)
    return Translation(module, entry, hit, dict(manifest.get("comments", {})),
                       dict(manifest.get("units", {})), dict(manifest.get("sources", {})),
                       dict(manifest.get("copies", {})))


def _sources_unchanged(manifest: dict) -> bool:
    try:
        return all(Path(src).is_file() and file_digest(Path(src)) == digest
                   for src, digest in manifest["sources"].items())
    except (OSError, KeyError, TypeError, AttributeError):
        return False


def _build(path: Path, entry: Path, allow: bool) -> None:
    """Translate into a fresh folder beside the entry, check it, then install it."""
    parsed = parse_model(path)
    am = copy.deepcopy(parsed.abstract)
    check_simultaneous(am, path)
    work = work_folder(entry.parent, "translate")
    try:
        externals = find_externals(am, path, allow)
        for ext in externals:
            target = work / ext.copy
            target.parent.mkdir(exist_ok=True)
            shutil.copyfile(ext.source, target)
        macros = 0
        for section in am.sections:
            for el in section.elements:
                # free text stays out of the module (kept in the manifest for documentation)
                el.documentation = ""
                el.units = ""
            if section.type == "main":
                section.path = work / MAIN_MODULE
            else:
                macros += 1
                section.path = work / f"macro_{macros}.py"
        _run_builder(path, am)
        for module in sorted(work.glob("*.py")):
            _check_module(path, module, work)
        write_manifest(work, {
            "model": str(path.resolve()),
            "pysd": _pysd_version(),
            "sources": {str(e.source): file_digest(e.source) for e in externals},
            "copies": {e.copy: e.written for e in externals},
            "comments": parsed.comments,
            "units": {el.name: el.units for section in parsed.abstract.sections
                      if section.type == "main" for el in section.elements if el.units},
        })
        install(work, entry)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run_builder(path: Path, am) -> None:
    import numpy as np
    from pysd.builders.python.python_model_builder import ModelBuilder

    try:
        # PySD writes lookup tables and arrays of constants with np.array2string, which rounds
        # to numpy's print precision (8 decimals): print each number so that it reads back exact
        with warnings.catch_warnings(), np.printoptions(floatmode="unique"):
            warnings.simplefilter("ignore")  # PySD warns on constructs it builds as stubs
            ModelBuilder(am).build_model()
    except KeyError as exc:
        name = str(exc.args[0]) if exc.args else "?"
        raise FileFormatError(
            path, f"an equation refers to {name.replace('_', ' ')!r}, which is not defined",
            hint="define the variable, or correct the name where it is used "
            "(a '~' inside a comment also breaks the equation that follows)") from None
    except (ValueError, TypeError, AttributeError, NotImplementedError, IndexError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FileFormatError(path, f"PySD cannot translate this model: {first[:300]}") from None


def _check_module(path: Path, module: Path, folder: Path, source: str | None = None) -> None:
    text = module.read_text(encoding="utf-8") if source is None else source
    found = verify_source(text, path)
    for macro in found.macros:
        if not (folder / macro).is_file():
            raise FileFormatError(path, f"the translation refers to a macro module {macro!r} "
                                  "that PySD did not write")


def _pysd_version() -> str:
    import pysd

    return str(pysd.__version__)


# ---- staging: import a private copy of the checked bytes -----------------------------------

_stage_lock = threading.Lock()
_stage_root: Path | None = None


class _EntryReplaced(FileFormatError):
    """Another process replaced the cache entry between its manifest and its files."""


def _stage_fresh(path: Path, entry: Path, manifest: dict, allow: bool) -> tuple[Path, dict]:
    """`_stage`, reading the entry again when another process (a second test worker, a
    parallel job) replaced it while it was being read: (main module, the manifest staged)."""
    for _ in range(4):
        try:
            return _stage(path, entry, manifest), manifest
        except _EntryReplaced:
            fresh = read_entry(entry)
            if fresh is None:
                _build(path, entry, allow)
                fresh = read_entry(entry)
            if fresh is None:
                raise
            manifest = fresh
    return _stage(path, entry, manifest), manifest


def _stage(path: Path, entry: Path, manifest: dict) -> Path:
    """Copy the entry's files, checked, into this process's private folder; the main module."""
    global _stage_root
    with _stage_lock:
        if _stage_root is None:
            _stage_root = Path(tempfile.mkdtemp(prefix="carespiral-models-"))
            atexit.register(shutil.rmtree, _stage_root, True)
        digest = hashlib.sha256(repr(sorted(manifest["files"].items())).encode()).hexdigest()
        target = _stage_root / f"{entry.name}-{digest[:12]}"
        if (target / MAIN_MODULE).is_file():
            return target / MAIN_MODULE
        work = Path(tempfile.mkdtemp(prefix=".stage-", dir=_stage_root))
        try:
            modules: dict[str, str] = {}
            for rel, expected in manifest["files"].items():
                data = (entry / rel).read_bytes()
                if hashlib.sha256(data).hexdigest() != expected:
                    raise _EntryReplaced(path, f"the translation cache entry {entry} changed "
                                         "while it was being read; load the model again")
                dest = work / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(data)
                if rel.endswith(".py"):
                    try:
                        modules[rel] = data.decode("utf-8")
                    except UnicodeDecodeError:
                        raise UnsafeModelError(path, f"the translated module {rel} in the "
                                               f"cache entry {entry} is not text") from None
            for rel, source in modules.items():
                _check_module(path, work / rel, work, source)
            work.rename(target)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return target / MAIN_MODULE
