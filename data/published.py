"""Reading the shipped files: DfE open data and the curated series, into the tidy table.

The open data (2013 onwards) are primary; a curated figure they also give becomes variant
`curated`. Problems found on the way (undated rows, inconsistent codes, suppressed figures
next to published ones) are collected in `Published.problems`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from carespiral.data.series import SERIES, SeriesDef
from carespiral.data.tidy import COLUMNS, parse_values, read_rows, validate
from carespiral.errors import FileFormatError

__all__ = ["CURATED_NAMES", "OPEN_FILES", "RECODED_CODES", "Published", "read_published"]

_LEVEL_OF = {"National": "national", "Regional": "regional", "Local authority": "la"}
ENGLAND = ("E92000001", "England")
HARINGEY = ("E09000014", "Haringey", "309")

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


def data_dir() -> Path:
    """The folder of the shipped files (beside this module, installed or not)."""
    return Path(__file__).resolve().parent



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
RECODED_CODES = {"E06000048": "E06000057", "E08000020": "E08000037"}


def _read_open(f: _OpenFile, directory: Path, problems: list[str],
               path: Path | None = None) -> pd.DataFrame:
    path = path or directory / "dfe" / f.name  # `path`: a release given by the user
    required = list(_META) + ([f.by] if f.by else [])
    header, rows = read_rows(path, required)
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
    old = np.isin(meta["area_code"], list(RECODED_CODES))
    if old.any():
        for code in sorted(set(meta["area_code"][old])):
            ys = sorted(set(col["time_period"][meta["area_code"] == code]))
            problems.append(f"dfe/{f.name}: {code} used for {ys[0]}-{ys[-1]}, where the other "
                            f"files use {RECODED_CODES[code]} for the same years; recoded to "
                            f"{RECODED_CODES[code]}")
        meta["area_code"] = np.array([RECODED_CODES.get(c, c) for c in meta["area_code"]],
                                     dtype=object)
    years = col["time_period"].astype(int)
    # Collect plain arrays per column and build one frame at the end (many small frames are
    # slow to build and concatenate).
    cols: dict[str, list] = {k: [] for k in (*meta, "series", "year", "value", "note", "line",
                                             "def")}
    for raw_col in sorted(mapping):
        j = header.index(raw_col)
        if f.by:
            series = np.array([f.by_columns[b].get(raw_col) for b in col[f.by]], dtype=object)
            keep = series != None  # noqa: E711
        else:
            series = np.full(len(rows), f.columns[raw_col], dtype=object)
            keep = np.ones(len(rows), dtype=bool)
        value, note = parse_values(arr[keep, j], path, lines[keep],
                                   [raw_col] * int(keep.sum()))
        for k, v in meta.items():
            cols[k].append(v[keep])
        cols["series"].append(series[keep])
        cols["year"].append(years[keep])
        cols["value"].append(value)
        cols["note"].append(note)
        cols["line"].append(lines[keep])
        cols["def"].append(np.array([SERIES[s] for s in series[keep]], dtype=object))
    flat = {k: np.concatenate(v) for k, v in cols.items()}
    defs = flat.pop("def")
    when = [_year_dates(int(y), d.census, d.span) for y, d in zip(flat["year"], defs,
                                                                   strict=True)]
    return pd.DataFrame({
        **{k: flat[k] for k in meta}, "series": flat["series"], "variant": "",
        "year": flat["year"], "period": [w[0] for w in when],
        "period_start": pd.DatetimeIndex([w[1] for w in when]),
        "period_end": pd.DatetimeIndex([w[2] for w in when]),
        "date": pd.DatetimeIndex([w[3] for w in when]),
        "value": flat["value"], "unit": [d.unit for d in defs], "kind": [d.kind for d in defs],
        "source": f"DfE open data {f.name}", "confidence": "high", "note": flat["note"],
        "file": f"dfe/{f.name}", "line": flat["line"],
    })


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
    header, rows = read_rows(path, required)
    raw = pd.DataFrame(rows, columns=header)
    raw["line"] = np.arange(2, len(rows) + 2)
    value, note = parse_values(raw["value"], path, raw["line"], ["value"] * len(raw))
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
    directory = Path(directory) if directory is not None else data_dir()
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
    return out + _rate_problems(t)


# Published rates and the counts they are defined from: rate = 100 * numerator / (sum of
# denominator series); caseload is not a percentage (factor 1).
_RATE_DEFS = {
    "re_referral_rate": ("re_referrals", ("referrals",), 100.0),
    "referrals_nfa_rate": ("referrals_nfa", ("referrals",), 100.0),
    "cp_plans_subsequent_rate": ("cp_plans_subsequent", ("cp_plans_started",), 100.0),
    "turnover_rate": ("sw_leavers_fte", ("social_workers_fte",), 100.0),
    "vacancy_rate": ("sw_vacancies_fte", ("sw_vacancies_fte", "social_workers_fte"), 100.0),
    "agency_rate": ("agency_fte", ("agency_fte", "social_workers_fte"), 100.0),
    "caseload": ("sw_cases", ("case_holders_fte",), 1.0),
}


def _rate_problems(t: pd.DataFrame) -> list[str]:
    """Published rates that do not follow from the published counts beyond rounding."""
    needed = set(_RATE_DEFS) | {n for num, dens, _ in _RATE_DEFS.values() for n in (num, *dens)}
    t = t[t["value"].notna() & t["series"].isin(needed)]
    wide = t.set_index(["area_code", "area_name", "level", "year", "series"])["value"]
    wide = wide[~wide.index.duplicated()].unstack("series")
    where = t.drop_duplicates(["area_code", "year", "series"]).set_index(
        ["area_code", "year", "series"])[["file", "line"]]
    out = []
    for rate, (num, dens, factor) in _RATE_DEFS.items():
        den = sum(wide[d] for d in dens)
        calc = factor * wide[num] / den.where(den > 0)
        # rates are published to 0.1 and FTE to 0.1 (0.5 for caseload); national and
        # regional counts are rounded to 10, which moves a ratio by up to 5/den * (1 + ratio)
        tol = (0.51 if factor == 1.0 else 0.15) + np.where(
            wide.index.get_level_values("level") == "la", 0.0,
            factor * 5.0 / den * (1 + wide[num] / den))
        bad = (calc - wide[rate]).abs() > tol
        for key, pub in wide.loc[bad.fillna(False), rate].items():
            code, name, _level, year = key
            f, line = where.loc[(code, year, rate)]
            den_text = dens[0] if len(dens) == 1 else f"({' + '.join(dens)})"
            out.append(f"{f} line {line}: {rate} for {name} {year} is {pub:g}, but "
                       f"{num} / {den_text} gives {calc.loc[key]:.4g}")
    return out
