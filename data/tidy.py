"""The tidy long table of published statistics: its columns, DfE markers, and its checks.

Shared by the shipped files (`published`), a user's own files (`user_data`) and the loader
(`data`). Every check names the file, line and column of the first problem it finds.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from carespiral.errors import FileFormatError

__all__ = ["COLUMNS", "LEVELS", "MARKERS", "parse_values", "read_rows", "validate"]

COLUMNS = [
    "area_code", "area_name", "level", "region_code", "region_name", "la_code", "series",
    "variant", "year", "period", "period_start", "period_end", "date", "value", "unit", "kind",
    "source", "confidence", "note", "file", "line",
]
LEVELS = ("national", "regional", "la")
_LEVEL_OF = {"National": "national", "Regional": "regional", "Local authority": "la"}

# DfE's symbols for values it does not publish (with and without the square brackets of its
# newer tables). None of them is a zero.
MARKERS = {
    "c": "suppressed to protect confidentiality",
    "x": "not available",
    "z": "not applicable",
    "u": "low reliability",
    "low": "positive but rounds to zero",
    ":": "not available",
    "..": "not available",
    ".": "not applicable",
    "~": "positive but rounds to zero",
    "-": "not available",
}

def read_rows(path: Path, required: Iterable[str]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a CSV, checking every row has the header's number of fields."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if not header:
                raise FileFormatError(path, "the file is empty", line=1)
            rows = []
            for row in reader:
                if len(row) != len(header):
                    if not row:  # a blank line
                        continue
                    raise FileFormatError(
                        path, f"row has {len(row)} fields, the header has {len(header)}",
                        line=reader.line_num,
                        column=header[len(row)] if len(row) < len(header) else None,
                        hint="the file may be truncated or have a stray comma",
                    )
                rows.append(row)
    except UnicodeDecodeError as e:
        raise FileFormatError(path, f"not UTF-8 text ({e.reason})") from None
    except csv.Error as e:
        raise FileFormatError(path, f"not a valid CSV file ({e})") from None
    missing = [c for c in required if c not in header]
    if missing:
        raise FileFormatError(path, f"missing column(s) {', '.join(missing)}", line=1,
                              hint=f"expected columns include {', '.join(required)}")
    if not rows:
        raise FileFormatError(path, "the file has a header but no data rows", line=2)
    return header, rows


def parse_values(raw: Iterable[str], path: Path, lines: Iterable[int],
                  columns: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
    """Numbers from published text; DfE markers become NaN with the marker in the note."""
    values, notes = [], []
    for text, line, col in zip(raw, lines, columns, strict=True):
        t = text.strip()
        try:
            values.append(float(t.replace(",", "")) if t else _bad(path, t, line, col))
            notes.append("")
        except ValueError:
            m = t.strip("[]").lower()
            if m not in MARKERS:
                _bad(path, t, line, col)
            values.append(np.nan)
            notes.append(f"{m}: {MARKERS[m]}")
    return np.asarray(values, dtype=float), np.asarray(notes, dtype=object)


def _bad(path: Path, text: str, line: int, column: str) -> float:
    raise FileFormatError(
        path, f"value {text!r} is neither a number nor a DfE marker" if text else "empty value",
        line=int(line), column=column, hint="markers: " + ", ".join(MARKERS),
    )


def _where(table: pd.DataFrame, i: int) -> tuple[str, int | None]:
    r = table.iloc[i]
    f = r.get("file", "") or "<table>"
    line = r.get("line")
    return f, (int(line) if line is not None and pd.notna(line) else None)


def validate(table: pd.DataFrame) -> None:
    """Check a tidy table: schema, levels, dates, markers, bounds and duplicate keys.

    Raises FileFormatError naming the file, line and column of the first problem.
    """
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise FileFormatError("<table>", f"missing column(s) {', '.join(missing)}")

    def fail(mask: np.ndarray | pd.Series, column: str, problem) -> None:
        mask = np.asarray(mask, dtype=bool)
        if mask.any():
            i = int(np.flatnonzero(mask)[0])
            f, line = _where(table, i)
            raise FileFormatError(f, problem(table.iloc[i]), line=line, column=column)

    fail(~table["level"].isin(LEVELS), "level",
         lambda r: f"level {r['level']!r}; expected one of {', '.join(LEVELS)}")
    fail(table["area_code"].astype(str).str.strip() == "", "area_code",
         lambda r: "empty area code")
    fail(table["series"].astype(str).str.fullmatch(r"[a-z][a-z0-9_]*") == False,  # noqa: E712
         "series", lambda r: f"series name {r['series']!r} is not snake_case")
    fail(table["date"].isna(), "date", lambda r: "missing date")
    fail(table["period_start"] > table["period_end"], "period_start",
         lambda r: f"period starts {r['period_start'].date()} after it ends "
                   f"{r['period_end'].date()}")
    v = table["value"].to_numpy(dtype=float)
    fail(np.isnan(v) & (table["note"].astype(str) == "").to_numpy(), "value",
         lambda r: "missing value without a marker saying why")
    fail(np.isinf(v), "value", lambda r: "infinite value")
    rate = (table["kind"] == "rate").to_numpy()
    fail(rate & ((v < 0) | (v > 100)), "value",
         lambda r: f"{r['series']} = {r['value']:g}% for {r['area_name']} {r['period']}: "
                   "a percentage must lie in 0-100")
    nonneg = table["kind"].isin(["stock", "flow", "ratio"]).to_numpy()
    fail(nonneg & (v < 0), "value",
         lambda r: f"{r['series']} = {r['value']:g} for {r['area_name']} {r['period']}: "
                   "a count or ratio cannot be negative")
    key = ["area_code", "series", "variant", "period_start", "period_end"]
    dup = table.duplicated(key, keep=False).to_numpy()
    if dup.any():
        first = table[dup].iloc[:2]
        f, line = _where(first, 1)
        _, other = _where(first, 0)
        r = first.iloc[1]
        raise FileFormatError(f, f"duplicate value for {r['series']} / {r['area_code']} / "
                              f"{r['period']} (also on line {other})", line=line,
                              column="series")
