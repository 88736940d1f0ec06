"""Results: one base class, one on-disk format, every file written atomically.

Every result of carespiral (a calibration, an exploration, a PRIM box, a bifurcation diagram, a
policy front, the index of a results directory) is a dataclass deriving from `Result`, with
`to_frame()`, `summary()`, `report()`, `save(folder)` and `load(folder)`. On disk a result is a
folder: its DataFrame fields as tables (Parquet, or CSV where the class names a `.csv` file),
`report.txt`, and `manifest.json` with everything else:

    {"format": "carespiral", "version": 2, "kind": "calibration",
     "tables": {"parameters": "parameters.csv", ...}, "model": "collapse_spiral", ...}

The manifest is written last, so a folder with one is complete. Non-finite numbers are written
as null (NaN) and "inf"/"-inf", and read back as numbers. A result owns its folder: `save`
builds it beside and swaps it in whole. A class whose folder also holds other files (an
exploration keeps its chunks there) sets `shares_folder`; it writes file by file instead,
removing the old manifest first and writing the new one last.

`load_result(folder)` reads any result back as its own class (the kind registry: a class
registers its `kind` by being defined). Folders written before this format (version 1: a
calibration's flat `manifest.json`, an exploration's `result.json`, a results directory's
`"format": "carespiral-results"`) load too.

    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Counts(Result):
    ...     table: pd.DataFrame
    ...     label: str
    ...     kind = "counts"
    ...     def to_frame(self): return self.table
    ...     def summary(self): return {"label": self.label, "rows": len(self.table)}
    >>> folder = Counts(pd.DataFrame({"n": [1, 2]}), "demo").save("counts")
    >>> sorted(p.name for p in folder.iterdir())
    ['manifest.json', 'report.txt', 'table.parquet']
    >>> load_result(folder).summary()
    {'label': 'demo', 'rows': 2}
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np
import pandas as pd

from carespiral._atomic import atomic_dir, atomic_path, check_complete, write_text
from carespiral.errors import CarespiralError, FileFormatError

__all__ = [
    "FORMAT",
    "MANIFEST",
    "VERSION",
    "Result",
    "from_json",
    "inside",
    "kinds",
    "load_result",
    "read_json",
    "read_manifest",
    "read_table",
    "to_json",
    "write_json",
    "write_table",
]

FORMAT = "carespiral"
VERSION = 2
MANIFEST = "manifest.json"
REPORT = "report.txt"
_RESERVED = ("format", "version", "kind", "tables")
_V1_EXPLORATION = "result.json"
_V1_RESULTS = "carespiral-results"
_KINDS: dict[str, type[Result]] = {}
R = TypeVar("R", bound="Result")


# ---- JSON and tables ------------------------------------------------------------------------


def inside(folder: str | Path, rel: Any, what: str = "a file") -> Path:
    """`folder / rel` for a path a manifest names, refused (FileFormatError naming the manifest)
    unless it is a relative path that stays inside `folder`: a hand-edited or received result
    must not make carespiral read, or copy into a page, a file elsewhere (`/etc/passwd`)."""
    folder = Path(folder)
    path = folder / str(rel)
    root = folder.resolve()
    if (not isinstance(rel, str) or not rel or Path(rel).is_absolute()
            or (path.resolve() != root and root not in path.resolve().parents)):
        raise FileFormatError(folder / MANIFEST, f"{what} {rel!r} is not inside the result "
                              "folder", hint="a result names its files relative to its folder")
    return path


def to_json(obj: Any) -> Any:
    """`obj` as plain JSON values: NaN -> None, +-inf -> "inf"/"-inf", numpy and paths too."""
    if isinstance(obj, Mapping):
        return {str(k): to_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | np.ndarray):
        return [to_json(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, pd.Timestamp):
        return obj.isoformat()
    return obj


def from_json(obj: Any) -> Any:
    """The inverse of `to_json` for what it changed: "inf"/"-inf" become numbers again."""
    if isinstance(obj, dict):
        return {k: from_json(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [from_json(v) for v in obj]
    if obj in ("inf", "-inf"):
        return float(obj)
    return obj


def write_json(obj: Any, path: str | Path) -> None:
    """Write `obj` (through `to_json`) as indented JSON, whole or not at all."""
    write_text(path, json.dumps(to_json(obj), indent=2) + "\n")


def read_json(path: str | Path) -> Any:
    """A JSON file's content; a malformed file is a FileFormatError naming its line."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise FileFormatError(path, f"not valid JSON: {exc.msg}", line=exc.lineno) from None
    except OSError as exc:
        raise FileFormatError(path, f"cannot read: {exc.strerror}") from None


def write_table(frame: pd.DataFrame, path: str | Path) -> None:
    """Write a DataFrame as Parquet or CSV (by suffix), whole or not at all. Parquet keeps the
    index; CSV writes it unless it is a plain 0..n-1 range."""
    path = Path(path)
    if path.suffix not in (".parquet", ".csv"):
        raise CarespiralError(f"{path}: expected a .parquet or .csv file name")
    with atomic_path(path) as tmp:
        if path.suffix == ".parquet":
            frame.to_parquet(tmp)
        else:
            plain = isinstance(frame.index, pd.RangeIndex) and frame.index.name is None
            frame.to_csv(tmp, index=not plain)


def read_table(path: str | Path, *, index: str | None = None) -> pd.DataFrame:
    """Read a table written by `write_table`; `index` names a CSV column to make the index.
    A CSV's `date` column is read as dates."""
    path = Path(path)
    if not path.exists():
        raise FileFormatError(path, "file listed in the manifest does not exist")
    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        if path.suffix == ".csv":
            frame = pd.read_csv(path)
            if index and index in frame.columns:
                frame = frame.set_index(index)
            if "date" in frame.columns:
                frame["date"] = pd.to_datetime(frame["date"])
            return frame
    except (OSError, ValueError) as exc:
        raise FileFormatError(path, f"cannot read the table: {exc}") from None
    raise FileFormatError(path, "expected a .parquet or .csv file")


# ---- the base class -------------------------------------------------------------------------


class Result:
    """Base class of result dataclasses (see the module docstring).

    Subclasses set `kind` (registered by name), may name table files in `tables` (field ->
    file name; default `FIELD.parquet`) and may adapt what goes into the manifest and how it
    comes back (`_manifest_values`, `_from_parts`).
    """

    kind: ClassVar[str] = ""
    tables: ClassVar[Mapping[str, str]] = {}
    shares_folder: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.kind:
            _KINDS[cls.kind] = cls

    def to_frame(self) -> pd.DataFrame:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    def summary(self) -> dict[str, Any]:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    def report(self) -> str:
        """A plain-text report: the summary, one line per entry."""
        lines = [f"{self.kind} result"]
        lines += [f"  {k}: {_fmt(v)}" for k, v in self.summary().items()]
        return "\n".join(lines)

    # ---- persistence ----------------------------------------------------------------------

    def save(self, folder: str | Path) -> Path:
        """Write the result into `folder` (see the module docstring); return the folder."""
        folder = Path(folder)
        frames = {name: df for name, df in self._fields().items()
                  if isinstance(df, pd.DataFrame)}
        files = {name: self.tables.get(name, f"{name}.parquet") for name in frames}
        values = self._manifest_values()
        clash = set(values) & set(_RESERVED)
        if clash:
            raise TypeError(f"{type(self).__name__}: {sorted(clash)} are manifest keys")
        manifest = {"format": FORMAT, "version": VERSION, "kind": self.kind, "tables": files,
                    **values}

        def write(into: Path) -> None:
            for name, df in frames.items():
                write_table(df, into / files[name])
            text = self.report()
            write_text(into / REPORT, text if text.endswith("\n") else text + "\n")
            write_json(manifest, into / MANIFEST)

        if self.shares_folder:
            folder.mkdir(parents=True, exist_ok=True)
            for old in (MANIFEST, _V1_EXPLORATION):  # a half-written folder must not look done
                (folder / old).unlink(missing_ok=True)
            write(folder)
        else:
            with atomic_dir(folder) as tmp:
                write(tmp)
        return folder

    @classmethod
    def load(cls: type[R], folder: str | Path) -> R:
        """Read a result of this class (an error names the kind the folder holds instead)."""
        res = load_result(folder)
        if not isinstance(res, cls):
            raise CarespiralError(f"{folder} holds a {res.kind!r} result, not {cls.kind!r}")
        return res

    # ---- hooks ----------------------------------------------------------------------------

    def _fields(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    def _manifest_values(self) -> dict[str, Any]:
        """Everything but the tables, as it goes into the manifest."""
        return {k: v for k, v in self._fields().items()
                if not isinstance(v, pd.DataFrame) and not (k in self.tables and v is None)}

    @classmethod
    def _from_parts(cls: type[R], values: dict[str, Any], frames: dict[str, pd.DataFrame],
                    folder: Path) -> R:
        """The result from its manifest values and tables."""
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in {**values, **frames}.items() if k in names})


# ---- loading --------------------------------------------------------------------------------


def kinds() -> list[str]:
    """The result kinds known to this process (each package registers its own on import)."""
    return sorted(_KINDS)


def load_result(folder: str | Path) -> Result:
    """Load any saved result folder as its own class."""
    folder = Path(folder)
    meta = read_manifest(folder)
    cls = _KINDS.get(meta["kind"])
    if cls is None:
        raise FileFormatError(folder / MANIFEST, f"unknown result kind {meta['kind']!r}",
                              hint="known kinds: " + ", ".join(kinds()))
    frames = {name: read_table(inside(folder, file)) for name, file in meta["tables"].items()}
    values = {k: v for k, v in meta.items() if k not in _RESERVED}
    return cls._from_parts(values, frames, folder)


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """A result folder's manifest: `kind`, `tables` (field -> file) and the values; a folder of
    version 1 is read into the same shape. A folder whose command was interrupted (it, or a
    folder above it, holds INCOMPLETE.txt) is an IncompleteResultError."""
    folder = Path(folder)
    check_complete(folder)
    path = folder / MANIFEST
    if path.is_file():
        meta = read_json(path)
        if isinstance(meta, dict) and meta.get("format") == FORMAT:
            if meta.get("version") != VERSION:
                raise FileFormatError(path, f"manifest version {meta.get('version')!r} is not "
                                      f"supported (this carespiral reads version {VERSION} and "
                                      "the folders of version 1)")
            if not isinstance(meta.get("kind"), str) or not isinstance(meta.get("tables"), dict):
                raise FileFormatError(path, "the manifest needs a \"kind\" and a \"tables\" "
                                      "object")
            return from_json(meta)
        return _version_1(folder, meta, path)
    if (folder / _V1_EXPLORATION).is_file():
        return _version_1(folder, read_json(folder / _V1_EXPLORATION), folder / _V1_EXPLORATION)
    raise FileFormatError(
        folder, f"not a finished carespiral result (no {MANIFEST})",
        hint="give a folder written by `carespiral calibrate|explore|tipping|optimise --out`; "
             "an interrupted exploration can be continued with --resume")


def _version_1(folder: Path, meta: Any, path: Path) -> dict[str, Any]:
    """The manifest of a folder written before the one format, in the current shape."""
    if not isinstance(meta, dict):
        raise FileFormatError(path, "expected a JSON object")
    if meta.get("format") == _V1_RESULTS:  # a results directory's index
        if meta.get("version") != 1:
            raise FileFormatError(path, f"manifest version {meta.get('version')!r} is not "
                                  f"supported (this carespiral reads version {VERSION} and "
                                  "the folders of version 1)")
        return {"kind": "results", "tables": {},
                **{k: v for k, v in meta.items() if k not in ("format", "version")}}
    if "format" in meta:
        raise FileFormatError(path, f"expected a JSON object with \"format\": \"{FORMAT}\" "
                              f"(or \"{_V1_RESULTS}\" from version 1)")
    if {"kind", "frames", "values"} <= set(meta):  # an exploration result
        return {"kind": meta["kind"], "tables": {f: f"{f}.parquet" for f in meta["frames"]},
                **meta["values"]}
    if {"model", "method"} <= set(meta):  # a calibration result
        cls = _KINDS.get("calibration")
        tables = {} if cls is None else {
            name: file for name, file in cls.tables.items() if (folder / file).is_file()}
        return {**from_json(meta), "kind": "calibration", "tables": tables}
    raise FileFormatError(path, "not a carespiral result manifest")


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, dict):
        return ", ".join(f"{k}={_fmt(x)}" for k, x in v.items())
    return str(v)
