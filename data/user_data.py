"""A user's own statistics (e.g. an authority's unpublished monthly figures) in the same long
format as the shipped data, read and checked the same way."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from carespiral.data.series import SERIES, SeriesDef
from carespiral.data.tidy import COLUMNS, MARKERS, parse_values, read_rows, validate
from carespiral.errors import FileFormatError

__all__ = ["load_csv"]

_USER_REQUIRED = ("area_code", "series", "date", "value", "unit")


def load_csv(path: str | Path) -> pd.DataFrame:
    """A user's own long-format CSV (e.g. an authority's monthly figures), checked like ours.

    Required columns: area_code, series, date (the date the value refers to, YYYY-MM-DD), value,
    unit. Optional: area_name, level (default `la`), kind (stock, flow, rate, ratio or change;
    guessed for series carespiral does not know), period_start and period_end (a flow's
    period; by default the series' own span, e.g. the 12 months to `date`), period, variant,
    source, confidence, note, region_code, region_name, la_code. Markers such as `c` or `[x]`
    in `value` become missing with the marker in `note`. Known series must use their unit.
    """
    path = Path(path)
    if not path.exists():
        raise FileFormatError(path, "no such file")
    header, rows = read_rows(path, _USER_REQUIRED)
    raw = pd.DataFrame(rows, columns=header)
    lines = pd.Series(np.arange(2, len(rows) + 2))
    # An empty value whose note starts with a marker ("c: suppressed ...", as `load` writes
    # them) is that marker; any other empty value is an error.
    text = raw["value"].str.strip()
    if "note" in raw:
        lead = raw["note"].str.extract(r"^\s*\[?([a-z~:.\-]+)\]?:")[0].fillna("")
        text = text.where((text != "") | ~lead.isin(list(MARKERS)), lead)
    value, note = parse_values(text, path, lines, ["value"] * len(raw))

    def dates(col: str) -> pd.Series:
        d = pd.to_datetime(raw[col].str.strip(), format="%Y-%m-%d", errors="coerce")
        bad = d.isna() & (raw[col].str.strip() != "")
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise FileFormatError(path, f"{col} {raw[col].iloc[i]!r} is not a date "
                                  "(expected YYYY-MM-DD)", line=int(lines.iloc[i]), column=col)
        return d

    date = dates("date")
    if date.isna().any():
        i = int(np.flatnonzero(date.isna().to_numpy())[0])
        raise FileFormatError(path, "empty date", line=int(lines.iloc[i]), column="date")
    series = raw["series"].str.strip()
    units = raw["unit"].str.strip()
    defs = []
    for i, (s, u) in enumerate(zip(series, units, strict=True)):
        d = SERIES.get(s)
        if d is not None and u != d.unit:
            raise FileFormatError(path, f"unit {u!r} for series {s!r}; expected {d.unit!r}",
                                  line=int(lines.iloc[i]), column="unit")
        defs.append(d or SeriesDef(s, "", u, "rate" if u == "%" else "stock", "point"))
    default_start = pd.Series(
        [dt if d.span == "point" else
         (dt - pd.DateOffset(years=1) + pd.Timedelta(days=1) if d.span == "year"
          else dt.replace(day=1)) for dt, d in zip(date, defs, strict=True)], index=raw.index)
    start = dates("period_start") if "period_start" in raw else pd.Series(pd.NaT, index=raw.index)
    end = dates("period_end") if "period_end" in raw else pd.Series(pd.NaT, index=raw.index)
    start = start.fillna(default_start)
    end = end.fillna(date)
    kind = [d.kind if (d.name in SERIES or d.kind == "rate") else
            ("flow" if s < e else "stock") for d, s, e in zip(defs, start, end, strict=True)]
    if "kind" in raw:  # a user may say what an unknown series is
        kinds = ("stock", "flow", "rate", "ratio", "change")
        for i, (k, d) in enumerate(zip(raw["kind"].str.strip(), defs, strict=True)):
            if k and (k not in kinds or (d.name in SERIES and k != d.kind)):
                want = d.kind if d.name in SERIES else " or ".join(kinds)
                raise FileFormatError(path, f"kind {k!r} for series {d.name!r}; expected {want}",
                                      line=int(lines.iloc[i]), column="kind")
            kind[i] = k or kind[i]

    def opt(col: str, default: str) -> pd.Series:
        return raw[col].str.strip() if col in raw else pd.Series(default, index=raw.index)

    user_note = opt("note", "")
    table = pd.DataFrame({
        "area_code": raw["area_code"].str.strip(),
        "area_name": opt("area_name", "").where(opt("area_name", "") != "",
                                                raw["area_code"].str.strip()),
        "level": opt("level", "la").str.lower(),
        "region_code": opt("region_code", ""), "region_name": opt("region_name", ""),
        "la_code": opt("la_code", ""), "series": series, "variant": opt("variant", ""),
        "year": date.dt.year, "period": opt("period", "").where(
            opt("period", "") != "", date.dt.strftime("%Y-%m-%d")),
        "period_start": start, "period_end": end, "date": date, "value": value,
        "unit": units, "kind": kind, "source": opt("source", f"user file {path.name}"),
        "confidence": opt("confidence", "user"),
        "note": [b if a and b.startswith(a) else "; ".join(x for x in (a, b) if x)
                 for a, b in zip(note, user_note, strict=True)],
        "file": str(path), "line": lines.to_numpy(),
    })[COLUMNS]
    validate(table)
    return table
