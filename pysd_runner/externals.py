"""External data files of a model (GET DIRECT/XLS DATA, LOOKUPS, CONSTANTS, SUBSCRIPT).

Vensim resolves these paths relative to the model file, so carespiral does too (not relative to
the translation cache). The rule: a model may read files in its own folder and below; a path
that leads elsewhere (`../`, an absolute path, a symbolic link out of the folder) is refused
unless the user allows it, with `load(..., allow_external=True)` or the environment variable
`CARESPIRAL_ALLOW_EXTERNAL=1`. Each file is copied into the model's cache entry, and its
SHA-256 recorded there, so a changed file invalidates the translation.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from carespiral.errors import FileFormatError

__all__ = ["ALLOW_ENV", "ExternalFile", "allow_external_default", "check_sources",
           "find_externals"]

ALLOW_ENV = "CARESPIRAL_ALLOW_EXTERNAL"
_QUOTED_FIELDS = ("tab", "cell", "x_row_or_col", "time_row_or_col")
_UNSAFE = re.compile(r"['\\\r\n]")


@dataclass(frozen=True)
class ExternalFile:
    """A file a model reads: who reads it, the path as written, where it is, its cache name."""

    variable: str
    written: str
    source: Path
    copy: str  # "externals/<n>_<name>" inside the cache entry


def allow_external_default() -> bool:
    return os.environ.get(ALLOW_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def find_externals(am: Any, model: Path, allow: bool) -> list[ExternalFile]:
    """Every external file of the (deep-copied) abstract model `am`, checked against the rule;
    the model's references are rewritten to the files' cache names."""
    from pysd.translators.structures import abstract_expressions as ae

    kinds = (ae.GetDataStructure, ae.GetLookupsStructure, ae.GetConstantsStructure)
    folder = model.resolve().parent
    found: dict[Path, ExternalFile] = {}

    def register(variable: str, written: str) -> ExternalFile:
        source = _resolve(model, folder, variable, written, allow)
        if source not in found:
            name = re.sub(r"[^A-Za-z0-9._-]", "_", source.name).lstrip(".") or "data"
            found[source] = ExternalFile(variable, written, source,
                                         f"externals/{len(found)}_{name}")
        return found[source]

    for section in am.sections:
        for sub in section.subscripts:
            if isinstance(sub.subscripts, dict) and "file" in sub.subscripts:
                _check_text(model, sub.name, sub.subscripts)
                ext = register(sub.name, str(sub.subscripts["file"]))
                sub.subscripts["file"] = str(ext.source)  # read while building only
        for el in section.elements:
            for comp in el.components:
                for node in _walk(comp.ast):
                    if isinstance(node, kinds):
                        _check_text(model, el.name, dataclasses.asdict(node))
                        node.file = register(el.name, str(node.file)).copy
    return list(found.values())


def check_sources(model: Path, sources: dict[str, str], allow: bool) -> None:
    """Apply the rule to the sources recorded in a cache entry (the user may have changed it)."""
    folder = model.resolve().parent
    for source in sources:
        path = Path(source)
        if not allow and not path.is_relative_to(folder):
            raise _outside(model, "", str(path), path, folder)


def _resolve(model: Path, folder: Path, variable: str, written: str, allow: bool) -> Path:
    text = written.strip().replace("\\", "/")
    if not text or text.startswith("?"):
        raise FileFormatError(
            model, f"variable {variable!r} reads the external file {written!r}, an indirect "
            "reference PySD does not support", hint="write the file's path in the equation")
    source = (folder / text).resolve()
    if not allow and not source.is_relative_to(folder):
        raise _outside(model, variable, written, source, folder)
    if not source.is_file():
        raise FileFormatError(
            model, f"variable {variable!r} reads the external data file {written!r}, which "
            f"does not exist (looked for {source})",
            hint="external files are found relative to the model file's folder")
    return source


def _outside(model: Path, variable: str, written: str, source: Path,
             folder: Path) -> FileFormatError:
    who = f"variable {variable!r} reads" if variable else "the model reads"
    return FileFormatError(
        model, f"{who} {written!r} ({source}), which is outside the model's folder {folder}",
        hint=f"move the file beside the model, or allow files elsewhere with {ALLOW_ENV}=1 "
        "or load(..., allow_external=True)")


def _check_text(model: Path, variable: str, fields: dict[str, Any]) -> None:
    """PySD writes tab and cell names inside quotes: refuse quotes and backslashes in them."""
    for key in (*_QUOTED_FIELDS, "firstcell", "lastcell", "prefix"):
        value = fields.get(key)
        if isinstance(value, str) and _UNSAFE.search(value):
            raise FileFormatError(
                model, f"variable {variable!r}: the {key.replace('_', ' ')} {value!r} of its "
                "external data holds a quote, a backslash or a line break",
                hint="name sheets and cells with plain text")


def _walk(node: Any):
    stack = [node]
    while stack:
        item = stack.pop()
        if dataclasses.is_dataclass(item) and not isinstance(item, type):
            yield item
            stack.extend(getattr(item, f.name) for f in dataclasses.fields(item))
        elif isinstance(item, list | tuple):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
