"""A user's own release of the published statistics, added to or replacing the shipped series.

    >>> from carespiral.data.releases import read_release, with_releases  # doctest: +SKIP
    >>> table = with_releases(["c1_children_in_need_referrals_2013_to_2026.csv"])  # doctest: +SKIP

`read_release(path)` reads one file:

- a DfE open-data CSV exactly as published (any release, any years), recognised by its columns:
  the file whose known value columns (`OPEN_FILES` in `carespiral.data.published`) it shares
  most, read by the same reader as the shipped files (columns a release drops are left out,
  columns it adds are ignored);
- or a file in carespiral's tidy format (`area_code, series, date, value, unit`, ...; see
  `carespiral.data.load_csv`).

`with_releases(paths)` is the shipped table with the files' rows added; a row for the same area,
series, variant and date as a shipped one replaces it (a later release revises earlier years).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from carespiral.data.published import _META, OPEN_FILES, _OpenFile, _read_open
from carespiral.data.tidy import COLUMNS, read_rows, validate
from carespiral.data.user_data import load_csv
from carespiral.errors import FileFormatError

__all__ = ["read_release", "recognise", "with_releases"]

_TIDY = {"area_code", "series", "date", "value", "unit"}


def _value_columns(f: _OpenFile) -> set[str]:
    return set(f.columns) | {c for m in f.by_columns.values() for c in m}


def recognise(header: Iterable[str]) -> _OpenFile | None:
    """The DfE open-data file a header belongs to (most shared value columns), or None."""
    cols = set(header)
    if not set(_META) <= cols:
        return None
    best, shared = None, 0
    for f in OPEN_FILES:
        if f.by and f.by not in cols:
            continue
        n = len(_value_columns(f) & cols)
        if n > shared:
            best, shared = f, n
    return best


def read_release(path: str | Path) -> pd.DataFrame:
    """One user file (a DfE open-data CSV or the tidy format) as rows of the tidy table."""
    path = Path(path)
    if not path.is_file():
        raise FileFormatError(path, "no such file", hint="give a DfE open-data CSV or a file "
                              "in carespiral's tidy format")
    header, _ = read_rows(path, ())
    if set(header) >= _TIDY:
        return load_csv(path)
    f = recognise(header)
    if f is None:
        missing = sorted(set(_META) - set(header))
        raise FileFormatError(
            path, "not a DfE open-data file carespiral knows, nor its tidy format"
            + (f" (no {', '.join(missing[:3])} column)" if missing else
               " (none of its value columns is one carespiral reads)"),
            line=1, hint="the DfE files read are: " + ", ".join(o.name for o in OPEN_FILES)
            + "; the tidy format has columns area_code, series, date, value, unit")
    cols = set(header)
    own = _OpenFile(path.name, {k: v for k, v in f.columns.items() if k in cols}, f.by,
                    {b: {k: v for k, v in m.items() if k in cols}
                     for b, m in f.by_columns.items()})
    if f.by:
        own = _OpenFile(path.name, {}, f.by, {b: m for b, m in own.by_columns.items()})
    problems: list[str] = []
    table = _read_open(own, path.parent, problems, path=path)
    table["file"] = str(path)
    table["source"] = f"DfE open data {path.name} (given with --data; read as {f.name})"
    return table[COLUMNS]


def with_releases(paths: Iterable[str | Path], table: pd.DataFrame | None = None
                  ) -> pd.DataFrame:
    """`table` (the shipped data by default) with the rows of each file added; a row for the
    same area, series, variant and date replaces the earlier one."""
    from carespiral.data.loader import load

    out = load(include_variants=True) if table is None else table
    for p in paths:
        new = read_release(p)
        key = ["area_code", "series", "variant", "date"]
        seen = new[key].drop_duplicates()
        keep = out.merge(seen, on=key, how="left", indicator=True)["_merge"] == "left_only"
        out = pd.concat([out[keep.to_numpy()], new], ignore_index=True)
    out = out.sort_values(["level", "area_code", "series", "variant", "date"], kind="stable",
                          ignore_index=True)
    validate(out)
    return out
