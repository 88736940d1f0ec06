"""Data read from spreadsheets and CSV files at lowering (GET DIRECT/XLS CONSTANTS, LOOKUPS
and DATA).

The files are found as PySD finds them, under the rule of `pysd_runner.externals` (relative to
the model, in its folder or below unless the user allows more; see docs/security.md), and read
with PySD's own readers (`pysd.py_backend.external`: pandas and openpyxl), once per equation.
Each cell of a CONSTANTS equation then becomes a plain constant, which a run may set like any
other; each cell of a LOOKUPS equation a lookup table; each cell of a DATA equation a table of
time read at the current time with the equation's interpolation (`Lookup.kind`).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from carespiral.errors import FileFormatError

__all__ = ["ExternalData"]


class ExternalData:
    """The GET ... equations of one model, each read on first use."""

    def __init__(self, am: Any, path: Path) -> None:
        self.path = path
        self.folder = path.resolve().parent
        self.sources: dict[str, Path] = {}  # file as written -> where it is (rule applied)
        self._read: dict[int, Any] = {}
        self._cleaned = False
        for section in am.sections:  # type: ignore[attr-defined]
            for sub in section.subscripts:  # GET ... SUBSCRIPT: resolved before the ranges
                spec = sub.subscripts
                if isinstance(spec, dict) and "file" in spec:
                    spec["file"] = str(self.source(str(spec["file"]), sub.name))

    def missing(self, node: Any) -> bool:
        """Whether the file a GET names is absent (nothing is read from it either way)."""
        text = str(node.file).strip().replace("\\", "/")
        return not text or not (self.folder / text).resolve().is_file()

    def source(self, written: str, variable: str) -> Path:
        """The file a model names, under the rule of `pysd_runner.externals` (FileFormatError
        for a file outside the model's folder, unless allowed, or missing)."""
        from carespiral.pysd_runner.externals import _resolve, allow_external_default

        if written not in self.sources:
            self.sources[written] = _resolve(self.path, self.folder, variable, written,
                                             allow_external_default())
            if not self._cleaned:  # PySD keeps files it has read for the whole process
                from pysd.py_backend.external import Excels

                Excels.clean()
                self._cleaned = True
        return self.sources[written]

    def value(self, node: Any, shape_of: list[list[str]], k: int, variable: str) -> float:
        """The k-th cell (in the order of the equation's left-hand side) of a GET CONSTANTS."""
        if id(node) not in self._read:
            values = np.asarray(self._load(node, shape_of, variable, "constants"), dtype=float)
            self._read[id(node)] = self._cells(values.reshape(-1), shape_of, variable, node)
        return float(self._read[id(node)][k])

    def series(self, node: Any, shape_of: list[list[str]], k: int,
               variable: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """The k-th cell of a GET LOOKUPS (x, y) or GET DATA (times, values): its points, less
        those the file leaves empty."""
        kind = "lookups" if type(node).__name__ == "GetLookupsStructure" else "data"
        if id(node) not in self._read:
            arr = self._load(node, shape_of, variable, kind)
            x = np.asarray(arr.coords[arr.dims[0]].values, dtype=float)
            y = np.asarray(arr.values, dtype=float).reshape(len(x), -1)
            self._read[id(node)] = (x, self._cells(y.T, shape_of, variable, node))
        x, ys = self._read[id(node)]
        y = ys[k]
        keep = np.isfinite(y) & np.isfinite(x)
        if not keep.any():
            raise FileFormatError(self.path, f"variable {variable!r} reads no number from "
                                  f"{Path(str(node.file)).name}")
        return tuple(map(float, x[keep])), tuple(map(float, y[keep]))

    def _cells(self, values: np.ndarray, shape_of: list[list[str]], variable: str,
               node: Any) -> np.ndarray:
        size = int(np.prod([len(e) for e in shape_of])) if shape_of else 1
        if len(values) != size:
            raise FileFormatError(self.path, f"variable {variable!r}: "
                                  f"{Path(str(node.file)).name} gives {len(values)} "
                                  f"values for {size} elements")
        return values

    def _load(self, node: Any, shape_of: list[list[str]], variable: str, kind: str) -> Any:
        from pysd.py_backend import external

        source = self.source(str(node.file), variable)
        coords = {f"dim{i}": list(elements) for i, elements in enumerate(shape_of)}
        where = (source.name, str(node.tab))
        if kind == "constants":
            ext = external.ExtConstant(*where, str(node.cell), coords, source.parent, coords,
                                       variable)
        elif kind == "lookups":
            ext = external.ExtLookup(*where, str(node.x_row_or_col), str(node.cell), coords,
                                     source.parent, coords, variable)
        else:
            ext = external.ExtData(*where, str(node.time_row_or_col), str(node.cell), None,
                                   coords, source.parent, coords, variable)
        if kind != "constants":
            ext.missing = "keep"  # an empty cell is no point of the series (dropped per cell)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ext.initialize()
        except Exception as exc:  # PySD's readers raise many kinds; the file is the problem
            first = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            raise FileFormatError(
                self.path, f"variable {variable!r} reads {source.name} (sheet {node.tab!r}, "
                f"cell {node.cell!r}), which PySD's reader cannot read: {first}",
                hint="check the sheet and cell names against the file") from None
        return ext.data
