"""Published statistics as one tidy long table, validated, with boundary changes and breaks.

    >>> from carespiral.calibration.data import load
    >>> t = load(series="referrals", area="haringey")

One row per area, series and reporting period. Columns (see `COLUMNS`):

- area_code, area_name, level (`national`, `regional`, `la`), region_code, region_name, la_code
  (the DfE three-digit LA number);
- series (canonical name, see `carespiral.calibration.series`), variant (`""` for the primary
  figure; `curated` for a national or Haringey figure that the open data also give; `alt`,
  `as_published`, `revised`, ... for second sources and other vintages);
- year (the published `time_period`), period (a label: `2022-23`, `Sep 2023`, `mid-2023`,
  `2008-12`), period_start, period_end, date (the date the value refers to: 31 March for the
  children in need census, 30 September for the workforce census, 30 June for ONS estimates;
  flows cover period_start..period_end, the 12 months to `date`);
- value (float; NaN where the file has a marker), unit, kind (stock/flow/rate/ratio/change),
  source, confidence (`high` for DfE open data), note (the marker and its meaning, or remarks),
  file and line (where the value was read).

Rule where two sources give the same figure: the DfE open data (2013 onwards, revised) are
primary; the curated figure is kept as variant `curated`. Nothing is spliced across a boundary
change: a reorganised authority has a new area code (see `area_changes()`).
"""

from __future__ import annotations

import csv
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from carespiral.calibration.areas import AREA_CHANGES, find_areas
from carespiral.calibration.series import BREAKS, SERIES, SeriesDef

from carespiral.errors import CarespiralError, FileFormatError, UnknownNameError

__all__ = [
    "COLUMNS",
    "MARKERS",
    "SeriesBreakError",
    "area_changes",
    "areas",
    "check_breaks",
    "coverage",
    "load",
    "load_csv",
    "read_published",
    "series_breaks",
    "validate",
]

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
ENGLAND = ("E92000001", "England")
HARINGEY = ("E09000014", "Haringey", "309")


class SeriesBreakError(CarespiralError):
    """A fit or comparison asked to span a break in a series' definition."""


# ---- the open-data files ----------------------------------------------------------------------

@dataclass(frozen=True)
class _OpenFile:
    name: str
    columns: dict[str, str] = field(default_factory=dict)  # raw column -> series
    by: str = ""  # a column whose value selects the mapping (cla: population_type)
    by_columns: dict[str, dict[str, str]] = field(default_factory=dict)


_META = ("time_period", "time_identifier", "geographic_level", "country_code", "country_name",
         "region_code", "region_name", "old_la_code", "new_la_code", "la_name")
_DUR = {"3_months_or_less": "0_3m", "more_than_3_months_6_months": "3_6m",
        "more_than_6_months_less_than_1_year": "6_12m", "1_year_less_than_2_years": "1_2y",
        "2_years_or_more": "2y_plus"}
OPEN_FILES = (
    _OpenFile("c1_children_in_need_referrals_and_rereferrals_2013_to_2023.csv", {
        "referral_count": "referrals", "rereferral_count": "re_referrals",
        "rereferral_percent": "re_referral_rate", "no_further_action_count": "referrals_nfa",
        "no_further_action_percent": "referrals_nfa_rate",
        "not_in_need_count": "referrals_not_in_need",
        "not_in_need_percent": "referrals_not_in_need_rate",
        "referral_child_count": "referred_children",
        "rereferral_child_count": "re_referred_children",
        "rereferral_child_percent": "re_referred_children_rate"}),
    _OpenFile("b1_children_in_need_2013_to_2023.csv", {
        "Anypoint_episodes": "cin_episodes_in_year", "Anypoint_child": "cin_children_in_year",
        "Started_episodes": "cin_episodes_started", "Started_child": "cin_children_started",
        "Ended_episodes": "cin_episodes_ended", "Ended_child": "cin_children_ended",
        "At31_episodes": "children_in_need", "awaiting_assessment": "awaiting_assessment"}),
    _OpenFile("c4_children_in_need_section_47s_and_icpcs_2013_to_2023.csv", {
        "Section47": "s47_enquiries", "Section47_child": "s47_children",
        "ICPC": "initial_cp_conferences", "ICPC_child": "icpc_children",
        "Duration_0-10_days": "icpc_days_0_10", "Duration_11-15_days": "icpc_days_11_15",
        "Duration_16-20_days": "icpc_days_16_20", "Duration_21+_days": "icpc_days_21_plus",
        "Duration_25th_Percentile": "icpc_days_p25", "Duration_median": "icpc_days_median",
        "Duration_75th_Percentile": "icpc_days_p75"}),
    _OpenFile("d3_cpps_subsequent_plan_2013_to_2023.csv", {
        "CPP_start": "cp_plans_started", "CPP_subsequent": "cp_plans_subsequent",
        "CPP_subsequent_percent": "cp_plans_subsequent_rate"}),
    _OpenFile("d5_cpps_at31march_by_duration_2013_to_2023.csv", {
        "CPP_At31": "cp_plans",
        **{k: f"cp_plans_duration_{v}" for k, v in _DUR.items()},
        **{f"{k}_percent": f"cp_plans_duration_{v}_rate" for k, v in _DUR.items()}}),
    _OpenFile("cla_number_and_rate_per_10k_children_2021_to_2023.csv", by="population_type",
              by_columns={
                  "Children looked after on 31 March each year": {
                      "children_count": "children_looked_after",
                      "rate_per_10000": "children_looked_after_rate_per_10k"},
                  "Children starting to be looked after each year": {
                      "children_count": "cla_started", "rate_per_10000": "cla_started_rate_per_10k"},
                  "Children ceasing to be looked after each year": {
                      "children_count": "cla_ceased", "rate_per_10000": "cla_ceased_rate_per_10k"},
              }),
    _OpenFile("csww_indicators_2017_to_2023.csv", {
        "inpost_fte": "social_workers_fte", "inpost_headcount": "social_workers_headcount",
        "starters_fte": "sw_starters_fte", "starters_headcount": "sw_starters_headcount",
        "leavers_fte": "sw_leavers_fte", "leavers_headcount": "sw_leavers_headcount",
        "turnover_rate_fte": "turnover_rate", "turnover_rate_headcount": "turnover_rate_headcount",
        "agency_fte": "agency_fte", "agency_headcount": "agency_headcount",
        "agency_rate_fte": "agency_rate", "agency_rate_headcount": "agency_rate_headcount",
        "agency_cover_fte": "agency_covering_vacancies_fte",
        "agency_cover_rate_fte": "agency_covering_vacancies_rate",
        "vacancy_fte": "sw_vacancies_fte", "vacancy_rate_fte": "vacancy_rate",
        "vacancy_agency_cover_rate_fte": "vacancies_covered_by_agency_rate",
        "case_holders_fte": "case_holders_fte", "cases": "sw_cases", "caseload_fte": "caseload",
        "working_days_lost_fte": "sw_working_days_lost", "absence_rate_fte": "sw_absence_rate"}),
    _OpenFile("ons_mid-year_population_estimates_2012_to_2024.csv",
              {"population_estimate": "child_population"}),
)

# Curated series: raw name -> canonical name (names not listed are kept as they are).
CURATED_NAMES = {
    "re_referral_rate_12m": "re_referral_rate", "re_referrals_12m": "re_referrals",
    "referrals_assessed_not_in_need_rate": "referrals_not_in_need_rate",
    "children_in_need_31mar": "children_in_need",
    "children_awaiting_assessment_31mar": "awaiting_assessment",
    "children_on_cp_plan_31mar": "cp_plans",
    "cp_plans_second_or_subsequent_rate": "cp_plans_subsequent_rate",
    "s47_enquiries_started": "s47_enquiries", "assessments_completed": "assessments",
    "initial_assessments_completed": "initial_assessments",
    "core_assessments_completed": "core_assessments",
    "children_looked_after_31mar": "children_looked_after",
    "cla_started_in_year": "cla_started", "cla_ceased_in_year": "cla_ceased",
    "cla_rate_per_10k": "children_looked_after_rate_per_10k",
    "sw_fte_in_post_30sep": "social_workers_fte",
    "sw_headcount_in_post_30sep": "social_workers_headcount",
    "sw_agency_fte_30sep": "agency_fte", "sw_agency_rate_fte": "agency_rate",
    "sw_vacancy_rate_fte": "vacancy_rate", "sw_vacancies_fte_30sep": "sw_vacancies_fte",
    "sw_turnover_rate_fte": "turnover_rate", "sw_turnover_rate": "turnover_rate",
    "sw_vacancy_rate": "vacancy_rate",
    "sw_avg_caseload_per_fte_case_holder": "caseload", "sw_cases_held_30sep": "sw_cases",
    "sw_absence_rate_fte": "sw_absence_rate",
}
# Second sources and other vintages: `name__alt`, `name_as_published`, `name_revised`, ...
_VARIANT = re.compile(
    r"^(?P<base>.+?)(?:__(?P<v1>alt\d*)"
    r"|_(?P<v2>as_published\w*|as_first_published\w*|first_published|revised\w*|provisional"
    r"|experimental\w*|nspcc_cite))$"
)
# Curated rows whose series means something else in a given file: the 2009 Haringey vacancy
# rate counts only posts without agency cover, a different basis from the census rate.
_CURATED_KEEP_RAW = {("haringey.csv", "sw_vacancy_rate")}


def _data_dir() -> Path:
    return Path(str(resources.files("carespiral.data")))


# ---- reading ----------------------------------------------------------------------------------

def _read_rows(path: Path, required: Iterable[str]) -> tuple[list[str], list[list[str]]]:
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


def _parse_values(raw: Iterable[str], path: Path, lines: Iterable[int],
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


@functools.lru_cache(maxsize=4096)
def _year_dates(year: int, census: str, span: str,
                ) -> tuple[str, pd.Timestamp, pd.Timestamp, pd.Timestamp]:
    """(label, period start, period end, date) of published year `year` of a series."""
    md = {"mar31": (3, 31), "sep30": (9, 30), "jun30": (6, 30)}[census]
    date = pd.Timestamp(year, *md)
    start = date if span == "point" else date - pd.DateOffset(years=1) + pd.Timedelta(days=1)
    label = {"mar31": f"{year - 1}-{str(year)[2:]}", "sep30": f"Sep {year}",
             "jun30": f"mid-{year}"}[census]
    return label, start, date, date


# Codes superseded in April 2013 (a small Gateshead-Northumberland boundary adjustment) that
# one DfE file still uses for 2013-2019 while the others use the new codes for the same years.
_RECODE = {"E06000048": "E06000057", "E08000020": "E08000037"}


def _read_open(f: _OpenFile, directory: Path, problems: list[str]) -> pd.DataFrame:
    path = directory / "dfe" / f.name
    required = list(_META) + ([f.by] if f.by else [])
    header, rows = _read_rows(path, required)
    arr = np.array(rows, dtype=object)
    col = {c: arr[:, header.index(c)] for c in required}
    lines = np.arange(2, len(rows) + 2)
    if f.by:
        mapping = {c for m in f.by_columns.values() for c in m}
        for i, v in enumerate(col[f.by]):
            if v not in f.by_columns:
                raise FileFormatError(path, f"unknown {f.by} {v!r}", line=int(lines[i]),
                                      column=f.by)
    else:
        mapping = set(f.columns)
    missing = [c for c in mapping if c not in header]
    if missing:
        raise FileFormatError(path, f"missing column(s) {', '.join(sorted(missing))}", line=1)
    for i, (y, lv) in enumerate(zip(col["time_period"], col["geographic_level"], strict=True)):
        if not (len(y) == 4 and y.isdigit()):
            raise FileFormatError(path, f"{y!r} is not a four-digit year", line=int(lines[i]),
                                  column="time_period")
        if lv not in _LEVEL_OF:
            raise FileFormatError(path, f"{lv!r} is not one of {', '.join(_LEVEL_OF)}",
                                  line=int(lines[i]), column="geographic_level")
    level = np.array([_LEVEL_OF[v] for v in col["geographic_level"]], dtype=object)
    is_la, is_reg = level == "la", level == "regional"
    meta = {
        "area_code": np.where(is_la, col["new_la_code"],
                              np.where(is_reg, col["region_code"], col["country_code"])),
        "area_name": np.where(is_la, col["la_name"],
                              np.where(is_reg, col["region_name"], col["country_name"])),
        "level": level,
        "region_code": np.where(is_la | is_reg, col["region_code"], ""),
        "region_name": np.where(is_la | is_reg, col["region_name"], ""),
        "la_code": np.where(is_la, col["old_la_code"], ""),
    }
    old = np.isin(meta["area_code"], list(_RECODE))
    if old.any():
        for code in sorted(set(meta["area_code"][old])):
            ys = sorted(set(col["time_period"][meta["area_code"] == code]))
            problems.append(f"dfe/{f.name}: {code} used for {ys[0]}-{ys[-1]}, where the other "
                            f"files use {_RECODE[code]} for the same years; recoded to "
                            f"{_RECODE[code]}")
        meta["area_code"] = np.array([_RECODE.get(c, c) for c in meta["area_code"]],
                                     dtype=object)
    years = col["time_period"].astype(int)
    parts = []
    for raw_col in sorted(mapping):
        j = header.index(raw_col)
        if f.by:
            series = np.array([f.by_columns[b].get(raw_col) for b in col[f.by]], dtype=object)
            keep = series != None  # noqa: E711
        else:
            series = np.full(len(rows), f.columns[raw_col], dtype=object)
            keep = np.ones(len(rows), dtype=bool)
        value, note = _parse_values(arr[keep, j], path, lines[keep],
                                    [raw_col] * int(keep.sum()))
        defs = [SERIES[s] for s in series[keep]]
        when = [_year_dates(int(y), d.census, d.span) for y, d in zip(years[keep], defs,
                                                                       strict=True)]
        parts.append(pd.DataFrame({
            **{k: v[keep] for k, v in meta.items()},
            "series": series[keep], "variant": "", "year": years[keep],
            "period": [w[0] for w in when],
            "period_start": pd.DatetimeIndex([w[1] for w in when]),
            "period_end": pd.DatetimeIndex([w[2] for w in when]),
            "date": pd.DatetimeIndex([w[3] for w in when]),
            "value": value, "unit": [d.unit for d in defs], "kind": [d.kind for d in defs],
            "source": f"DfE open data {f.name}", "confidence": "high", "note": note,
            "file": f"dfe/{f.name}", "line": lines[keep],
        }))
    return pd.concat(parts, ignore_index=True)


# ---- curated files --------------------------------------------------------------------------

_UNITS = (  # published unit text (start) -> unit
    ("percent", "%"), ("count", "count"), ("fte", "FTE"), ("headcount", "headcount"),
    ("days", "days"), ("per 10,000", "per 10,000 children"), ("cases per", "cases per FTE"),
    ("applications", "count"), ("s31 care applications", "count"), ("public law", "count"), ("cases", "count"), ("posts", "count"),
    ("agency workers", "count"), ("children per social worker", "cases per FTE"),
)


def _unit(text: str) -> tuple[str, str]:
    """A clean unit and, when the published unit said more, a note keeping what it said."""
    low = text.strip().lower()
    for start, unit in _UNITS:
        if low.startswith(start):
            rest = text.strip()[len(start):].strip(" ,")
            return unit, (f"published unit: {text.strip()}" if rest else "")
    return text.strip(), ""


def _guess_def(name: str, unit: str) -> SeriesDef:
    """Kind and dates of a curated series that has no entry in SERIES (documented rules)."""
    if "change" in name or "growth" in name:
        kind = "change"
    elif unit == "%":
        kind = "rate"
    elif unit in ("days", "per 10,000 children", "cases per FTE"):
        kind = "ratio"
    elif any(k in name for k in ("31mar", "30sep", "backlog", "posts", "caseload", "workers",
                                  "_rate")):
        kind = "stock"
    else:
        kind = "flow"
    point = kind == "stock" or "vacancy" in name or "agency" in name or "posts" in name
    census = "sep30" if name.startswith("sw_") else "mar31"
    return SeriesDef(name, "", unit, kind, "point" if point else "year", census)


_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")


def _curated_when(text: str, d: SeriesDef) -> tuple[int, str, pd.Timestamp, pd.Timestamp,
                                                     pd.Timestamp] | None:
    """(year, label, start, end, date) of a curated time field, or None when undated."""
    text = text.strip()
    if re.fullmatch(r"\d{4}", text):
        y = int(text)
        label, start, end, date = _year_dates(y, d.census, d.span)
        return y, label, start, end, date
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        t = pd.Timestamp(text)
        return t.year, text, t, t, t
    if m := _MONTH.fullmatch(text):
        first = pd.Timestamp(int(m[1]), int(m[2]), 1)
        last = first + pd.offsets.MonthEnd(0)
        return first.year, text, (first if d.span != "point" else last), last, last
    if m := _QUARTER.fullmatch(text):
        first = pd.Timestamp(int(m[1]), 3 * int(m[2]) - 2, 1)
        last = first + pd.offsets.QuarterEnd(0)
        return first.year, text, first, last, last
    return None


def _read_curated(name: str, directory: Path, problems: list[str]) -> pd.DataFrame:
    path = directory / "curated" / name
    when_col = "month" if name == "cafcass_monthly.csv" else "year"
    required = [when_col, "series", "value", "unit", "source_title", "source_url", "confidence"]
    header, rows = _read_rows(path, required)
    raw = pd.DataFrame(rows, columns=header)
    raw["line"] = np.arange(2, len(rows) + 2)
    value, note = _parse_values(raw["value"], path, raw["line"], ["value"] * len(raw))
    bad_conf = ~raw["confidence"].isin(["high", "medium", "low"])
    if bad_conf.any():
        i = int(np.flatnonzero(bad_conf.to_numpy())[0])
        raise FileFormatError(path, f"confidence {raw['confidence'].iloc[i]!r}; expected "
                              "high, medium or low", line=int(raw["line"].iloc[i]),
                              column="confidence")
    if name == "haringey.csv":
        area = {"area_code": HARINGEY[0], "area_name": HARINGEY[1], "level": "la",
                "la_code": HARINGEY[2]}
    else:
        area = {"area_code": ENGLAND[0], "area_name": ENGLAND[1], "level": "national",
                "la_code": ""}
    out = []
    for i, r in enumerate(raw.itertuples(index=False)):
        rawname = r.series
        m = _VARIANT.match(rawname)
        base, variant = (m["base"], m["v1"] or m["v2"]) if m else (rawname, "")
        if (name, base) not in _CURATED_KEEP_RAW:
            base = CURATED_NAMES.get(base, base)
        unit, unit_note = _unit(r.unit)
        d = SERIES.get(base) or _guess_def(base, unit)
        if base in SERIES and unit != d.unit:
            raise FileFormatError(path, f"unit {r.unit!r} for series {rawname!r}; expected "
                                  f"{d.unit!r}", line=int(r.line), column="unit")
        when = _curated_when(getattr(r, when_col), d)
        if when is None:
            problems.append(f"curated/{name} line {r.line}: {rawname} is undated "
                            f"({getattr(r, when_col)!r}); left out")
            continue
        notes = [n for n in (note[i], unit_note) if n]
        if r.confidence == "low":
            notes.append("derived figure")
        out.append({**area, "region_code": "", "region_name": "", "series": base,
                    "variant": variant, "year": when[0], "period": when[1],
                    "period_start": when[2], "period_end": when[3], "date": when[4],
                    "value": value[i], "unit": unit, "kind": d.kind,
                    "source": f"{r.source_title} <{r.source_url}>",
                    "confidence": r.confidence, "note": "; ".join(notes),
                    "file": f"curated/{name}", "line": int(r.line)})
    return pd.DataFrame(out)


# ---- assembling -------------------------------------------------------------------------------

@dataclass
class Published:
    """Everything read from the shipped files: the table and the problems found on the way."""

    table: pd.DataFrame
    problems: list[str]


def read_published(directory: str | Path | None = None) -> Published:
    """Read and validate every shipped file (uncached; `load()` caches the default)."""
    directory = Path(directory) if directory is not None else _data_dir()
    problems: list[str] = []
    open_parts = [_read_open(f, directory, problems) for f in OPEN_FILES]
    opened = pd.concat(open_parts, ignore_index=True)
    curated = pd.concat(
        [_read_curated(n, directory, problems)
         for n in ("england_children_social_care.csv", "haringey.csv", "cafcass_monthly.csv")],
        ignore_index=True)
    # Haringey's region comes from the open data.
    har = opened[opened["area_code"] == HARINGEY[0]].iloc[0]
    hmask = curated["area_code"] == HARINGEY[0]
    curated.loc[hmask, "region_code"] = har["region_code"]
    curated.loc[hmask, "region_name"] = har["region_name"]
    # Open data first: a curated primary figure the open data also give becomes a variant.
    key = ["area_code", "series", "date"]
    have = opened.loc[opened["value"].notna() | (opened["note"] != ""), key]
    dup = curated.merge(have.drop_duplicates(), on=key, how="left", indicator=True)["_merge"]
    both = (dup == "both").to_numpy() & (curated["variant"] == "").to_numpy()
    curated.loc[both, "variant"] = "curated"
    problems += _compare_sources(opened, curated[both])
    table = pd.concat([opened, curated], ignore_index=True)[COLUMNS]
    table = table.sort_values(["level", "area_code", "series", "variant", "date"],
                              kind="stable", ignore_index=True)
    validate(table)
    problems += _published_problems(table)
    return Published(table, problems)


def _compare_sources(opened: pd.DataFrame, curated: pd.DataFrame) -> list[str]:
    """Curated figures that disagree with the open data by more than rounding (1%)."""
    key = ["area_code", "series", "date"]
    m = curated.merge(opened[[*key, "value"]], on=key, suffixes=("", "_open"))
    off = (m["value"] - m["value_open"]).abs() > 0.01 * m["value_open"].abs() + 0.5
    return [f"{r.file} line {r.line}: {r.series} {r.period} for {r.area_name} is {r.value:g}, "
            f"the open data give {r.value_open:g} (open data used)"
            for r in m[off].itertuples()]


def _published_problems(table: pd.DataFrame) -> list[str]:
    """Oddities in the published files that the loader keeps but a user should know about."""
    out = []
    t = table[table["file"].str.startswith("dfe/")]
    # A referral count suppressed while its re-referral count is published as a number.
    ref = t[t["series"] == "referrals"].set_index(["area_code", "date"])
    rr = t[t["series"] == "re_referrals"].set_index(["area_code", "date"])
    j = ref.join(rr[["value"]], rsuffix="_rr", how="inner")
    for (_code, date), r in j[j["value"].isna() & j["value_rr"].notna()].iterrows():
        out.append(f"{r['file']} line {r['line']}: referrals for {r['area_name']} "
                   f"{date.year} are {r['note'].split(':')[0]!r} but re-referrals are given "
                   f"as {r['value_rr']:g}")
    # Rows for areas that did not exist in that year (all values 'z').
    cla = t[t["file"].str.contains("cla_")]
    z = cla.assign(z=cla["value"].isna() & cla["note"].str.startswith("z"))
    allz = z.groupby(["area_code", "area_name", "year", "file"])["z"].all()
    for (code, name, year, file), _ in allz[allz].items():
        out.append(f"{file}: {name} ({code}) has rows for {year} with every value 'z' "
                   "(not applicable)")
    return out


@functools.lru_cache(maxsize=1)
def _cached() -> Published:
    return read_published()


def problems() -> list[str]:
    """Data problems found in the shipped files while loading them."""
    return list(_cached().problems)


def load(
    series: str | Iterable[str] | None = None,
    area: str | Iterable[str] | None = None,
    level: str | None = None,
    include_variants: bool = False,
    dropna: bool = False,
) -> pd.DataFrame:
    """The published statistics as one tidy long table (a copy; the parse is cached).

    series: canonical names (case-insensitive); area: ONS codes, DfE LA numbers or names
    (`"haringey"`); level: national, regional or la; include_variants: also second sources,
    other vintages and curated duplicates of open-data figures; dropna: leave out rows whose
    value is a marker.
    """
    t = _cached().table
    return select(t, series=series, area=area, level=level,
                  include_variants=include_variants, dropna=dropna)


def select(
    table: pd.DataFrame,
    series: str | Iterable[str] | None = None,
    area: str | Iterable[str] | None = None,
    level: str | None = None,
    include_variants: bool = False,
    dropna: bool = False,
) -> pd.DataFrame:
    """Rows of a tidy table by series, area and level, with name checks and suggestions."""
    mask = np.ones(len(table), dtype=bool)
    if not include_variants:
        mask &= (table["variant"] == "").to_numpy()
    if series is not None:
        wanted = [series] if isinstance(series, str) else list(series)
        known = list(table["series"].unique())
        lower = {s.lower(): s for s in known}
        names = []
        for s in wanted:
            if s.strip().lower() not in lower:
                raise UnknownNameError("series", s, known,
                                       hint="`carespiral data list` lists the series.")
            names.append(lower[s.strip().lower()])
        mask &= table["series"].isin(names).to_numpy()
    if level is not None:
        lv = {"local authority": "la", "local": "la", "region": "regional"}.get(
            level.lower(), level.lower())
        if lv not in LEVELS:
            raise UnknownNameError("level", level, LEVELS)
        mask &= (table["level"] == lv).to_numpy()
    if area is not None:
        queries = [area] if isinstance(area, str) else list(area)
        codes: list[str] = []
        for q in queries:
            codes += find_areas(q, areas(table))
        mask &= table["area_code"].isin(codes).to_numpy()
    out = table[mask]
    if dropna:
        out = out[out["value"].notna()]
    return out.reset_index(drop=True).copy()


def areas(table: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per area code: name, level, region, DfE LA number and the years it has data."""
    t = _cached().table if table is None else table
    g = t.groupby(["area_code", "area_name", "level"], sort=False)
    out = g.agg(region_code=("region_code", "first"), region_name=("region_name", "first"),
                la_code=("la_code", "first"), first_year=("year", "min"),
                last_year=("year", "max")).reset_index()
    order = {"national": 0, "regional": 1, "la": 2}
    return out.sort_values(["level", "area_name", "first_year"],
                           key=lambda s: s.map(order) if s.name == "level" else s,
                           ignore_index=True)


def coverage(table: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per series: unit, kind, levels, number of areas with values, first and last year."""
    t = _cached().table if table is None else table
    t = t[t["value"].notna() & (t["variant"] == "")]
    g = t.groupby("series")
    out = g.agg(unit=("unit", "first"), kind=("kind", "first"),
                levels=("level", lambda s: ",".join(sorted(set(s)))),
                areas=("area_code", "nunique"), first=("year", "min"), last=("year", "max"),
                values=("value", "size")).reset_index()
    return out


# ---- boundary changes and breaks -------------------------------------------------------------

def area_changes(table: pd.DataFrame | None = None) -> pd.DataFrame:
    """Reorganisations of local authorities, with the years each file shows old and new codes.

    Columns: effective, kind, old_codes, old_names, new_codes, new_names, last_old, first_new,
    description. last_old/first_new summarise the data: the last year with a value under an
    old code and the first year under a new one (per file, e.g. `cin: 2019/2020`), so a user
    can see that workforce (30 September) and CIN (31 March) years change at different times.
    """
    t = _cached().table if table is None else table
    t = t[(t["level"] == "la") & (t["variant"] == "") & t["value"].notna()]
    name = t.groupby("area_code")["area_name"].first().to_dict()
    fam = t["file"].str.extract(r"/(?:([a-z]+\d?)_)")[0]
    rows = []
    for ch in AREA_CHANGES:
        def years(codes: tuple[str, ...], last: bool) -> str:
            sel = t["area_code"].isin(codes)
            # the combined Northamptonshire workforce code counts as new
            if not last and "E06000061" in codes:
                sel |= t["area_code"] == "E06000061 / E06000062"
            g = t[sel].groupby(fam[sel])["year"]
            ys = g.max() if last else g.min()
            return ", ".join(f"{k}: {v}" for k, v in ys.items())

        rows.append({
            "effective": ch.effective.date(), "kind": ch.kind,
            "old_codes": " ".join(ch.old),
            "old_names": "; ".join(name.get(c) or name.get(_RECODE.get(c, ""), "?")
                                   for c in ch.old),
            "new_codes": " ".join(ch.new), "new_names": "; ".join(name.get(c, "?") for c in ch.new),
            "last_old": years(ch.old, True), "first_new": years(ch.new, False),
            "description": ch.description,
        })
    return pd.DataFrame(rows)


def series_breaks(series: str | None = None) -> pd.DataFrame:
    """Breaks in definitions or sources, optionally only those affecting `series`."""
    rows = [{"name": b.name, "series": ", ".join(b.series), "last_before": b.last_before.date(),
             "first_after": b.first_after.date(), "description": b.description}
            for b in BREAKS if series is None or b.applies_to(series)]
    return pd.DataFrame(rows, columns=["name", "series", "last_before", "first_after",
                                       "description"])


def check_breaks(table: pd.DataFrame) -> None:
    """Raise SeriesBreakError if any series in `table` has values on both sides of a break
    (or in its transition years), so a fit cannot silently span a change of definition."""
    t = table[table["value"].notna()]
    found = []
    for s, g in t.groupby("series"):
        for b in BREAKS:
            if not b.applies_to(str(s)):
                continue
            before = (g["date"] <= b.last_before).any()
            after = (g["date"] >= b.first_after).any()
            within = ((g["date"] > b.last_before) & (g["date"] < b.first_after)).any()
            if (before and after) or (within and (before or after)):
                found.append(f"{s} crosses break {b.name} (comparable up to "
                             f"{b.last_before.date()} and from {b.first_after.date()}): "
                             f"{b.description}")
    if found:
        raise SeriesBreakError(
            "; ".join(found) + " Select one side, e.g. rows with date >= the break's first_after."
        )


# ---- validation -------------------------------------------------------------------------------

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


# ---- a user's own file ------------------------------------------------------------------------

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
    header, rows = _read_rows(path, _USER_REQUIRED)
    raw = pd.DataFrame(rows, columns=header)
    lines = pd.Series(np.arange(2, len(rows) + 2))
    # An empty value whose note starts with a marker ("c: suppressed ...", as `load` writes
    # them) is that marker; any other empty value is an error.
    text = raw["value"].str.strip()
    if "note" in raw:
        lead = raw["note"].str.extract(r"^\s*\[?([a-z~:.\-]+)\]?:")[0].fillna("")
        text = text.where((text != "") | ~lead.isin(list(MARKERS)), lead)
    value, note = _parse_values(text, path, lines, ["value"] * len(raw))

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
