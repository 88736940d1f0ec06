"""Every current authority's calibration problem from a spec, or the reason it has none.

The authorities are the local authorities of today (after every reorganisation in
`carespiral.data.AREA_CHANGES`). Each gets the spec's problem for its own published series
(`calibration.engine.build_problem`), with its own drivers (`calibration.drivers`, added to the
spec when it names none and its model has them): the child population at mid-2019 and funded
posts per child at September 2019 as constants, and their indices over time as time inputs
(with a fit-until year, only what was published by then: later values held). The drivers
replace the spec's `[scale]` constants, and a parameter the drivers set (funded posts per
child) is not fitted.

- A **code change on the same boundary** (Buckinghamshire 2020, North Yorkshire and Somerset
  2023) leaves the area as it was: the series published under the old code are read as the new
  code's, and the note says so.
- An authority **created by a boundary change** has only the years since; with fewer than
  `MIN_VALUES` published values of a series it is recorded as not fitted, naming the change.
- Any other problem (a series missing or suppressed, no workforce census) is recorded with the
  error's message. Nothing here stops the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import pandas as pd

from carespiral.calibration.pooling.stack import AreaCase
from carespiral.calibration.spec import CalibrationSpec
from carespiral.errors import CarespiralError

__all__ = ["MIN_VALUES", "Failure", "authority_cases", "current_authorities", "with_drivers"]

MIN_VALUES = 2  # published values a series needs in the fitted years (one change: a MASE scale)


@dataclass(frozen=True)
class Failure:
    """An authority that is not fitted, and why."""

    code: str
    name: str
    reason: str


def current_authorities(table: pd.DataFrame | None = None) -> pd.DataFrame:
    """Today's local authorities (area_code, area_name, la_code): every code in the data that
    no reorganisation has replaced; joint workforce rows are not authorities."""
    from carespiral import data as published

    a = published.areas(table)
    a = a[a["level"] == "la"]
    old = {c for ch in published.AREA_CHANGES for c in ch.old}
    a = a[~a["area_code"].isin(old) & ~a["area_code"].str.contains(" / ", regex=False)]
    a = a.drop_duplicates("area_code").sort_values("area_name")
    return a[["area_code", "area_name", "la_code"]].reset_index(drop=True)


def authority_cases(spec: CalibrationSpec, areas: Sequence[str] | None = None,
                    fit_until: int | None = None, table: pd.DataFrame | None = None,
                    horizon: int | None = None) -> tuple[list[AreaCase], list[Failure]]:
    """The problem of each authority (`areas`: codes or names; default every current one),
    and the authorities that cannot be fitted with the reason. With `fit_until`, the years
    after it (up to `horizon` years) are held out, and the drivers are those known then."""
    from carespiral import data as published

    table = published.load() if table is None else table
    spec = with_drivers(spec)
    known = current_authorities(table)
    if areas is None:
        wanted = list(zip(known["area_code"], known["area_name"], strict=True))
    else:
        names = dict(zip(known["area_code"], known["area_name"], strict=True))
        wanted = []
        for a in areas:
            try:
                codes = published.find_areas(a, published.areas(table))
            except CarespiralError as exc:
                wanted.append((str(a), f"!{exc}"))
                continue
            current = [c for c in codes if c in names]
            code = current[-1] if current else codes[-1]
            wanted.append((code, names.get(code, str(a))))
    groups = {str(c): g for c, g in table.groupby("area_code", sort=False)}
    joint = [c for c in groups if " / " in c]
    cases, failures = [], []
    for code, name in wanted:
        if name.startswith("!"):
            failures.append(Failure(code, code, name[1:]))
            continue
        try:
            cases.append(_case(spec, code, name, fit_until, groups, joint, horizon))
        except CarespiralError as exc:
            failures.append(Failure(code, name, str(exc)))
        except Exception as exc:  # one authority's broken data must not stop the others
            failures.append(Failure(code, name, f"{type(exc).__name__}: {exc}"))
    return cases, failures


def with_drivers(spec: CalibrationSpec) -> CalibrationSpec:
    """The spec with each authority's own drivers over time (child population, funded posts)
    when its model has them and the spec does not name drivers itself; and its inadequate
    Ofsted judgements when the spec fits their size (`Inadequate Judgement Size`)."""
    from carespiral.calibration.drivers import DRIVERS, EVENT_DRIVERS, known_driver
    from carespiral.pysd_runner import load

    if spec.drivers:
        return spec
    names = {v.name for v in load(spec.model_ref).variables}
    wanted = ("child_population", "funded_posts")
    if not (all(known_driver(d) for d in wanted) and all(
            level in names and index in names for level, index in
            (DRIVERS[d] for d in wanted))):
        return spec
    fitted = {p.name.lower() for p in spec.parameters}
    events = tuple(d for d, (index, size) in EVENT_DRIVERS.items()
                   if index in names and size.lower() in fitted)
    levels = {DRIVERS[d][0].lower() for d in wanted}  # set by the drivers: not fitted
    return replace(spec, drivers=wanted + events,
                   parameters=tuple(p for p in spec.parameters if p.name.lower() not in levels),
                   scale={k: v for k, v in spec.scale.items() if k.lower() not in levels})


def _changes_for(code: str) -> list:
    from carespiral import data as published

    return [ch for ch in published.AREA_CHANGES if code in ch.new]


def _area_rows(groups: dict[str, pd.DataFrame], code: str) -> tuple[pd.DataFrame, list[str]]:
    """The authority's rows, with the rows of the code it replaced on the same boundary."""
    empty = next(iter(groups.values())).iloc[:0]
    rows = [groups.get(code, empty)]
    notes = []
    for ch in _changes_for(code):
        if ch.same_boundary and len(ch.old) == len(ch.new):
            old = ch.old[ch.new.index(code)]  # listed in the same order
            prev = groups.get(old, empty)
            if len(prev):
                rows.append(prev.assign(area_code=code))
                notes.append(f"figures published under {old} before {ch.effective.date()} "
                             f"are read as this authority's (same boundary): {ch.description}")
    out = pd.concat(rows, ignore_index=True)
    # a figure published under both codes for the same date: the current code's is kept
    return out.drop_duplicates(["series", "variant", "date"], keep="first"), notes


def _case(spec: CalibrationSpec, code: str, name: str, fit_until: int | None,
          groups: dict[str, pd.DataFrame], joint: list[str], horizon: int | None) -> AreaCase:
    from carespiral.calibration.engine import build_problem

    rows, notes = _area_rows(groups, code)
    shared = [j for j in joint if code in j.split(" / ")]
    if shared:  # its workforce is published only with another authority's: fit the rest
        own = set(rows.loc[rows["value"].notna(), "series"])
        dropped = [s.name for s in spec.series if s.name not in own]
        if dropped and len(dropped) < len(spec.series):
            spec = replace(spec, series=tuple(s for s in spec.series if s.name in own))
            notes.append(f"the workforce census reports it jointly with another authority "
                         f"({shared[0]}), so its own {', '.join(dropped)} are not published "
                         "and not fitted: its workforce parameters come from the national "
                         "distribution")
    _check_years(spec, code, name, rows, fit_until, shared)
    partners = {m for j in shared for m in j.split(" / ")} - {code}
    census = pd.concat([rows, *(groups[j] for j in shared),
                        *(groups[m] for m in partners if m in groups)], ignore_index=True)
    problem, holdout, _label = build_problem(spec, code, fit_until, census, horizon=horizon,
                                             fit_idle_events=True)
    inputs = dict(getattr(problem, "inputs", None) or {})
    fixed = dict(problem.fixed)
    params = [p for p in problem.parameters if p.name not in fixed]
    problem = replace(problem, parameters=params, fixed=fixed, n_runs=0)
    notes += list(getattr(problem, "notes", ()) or ())
    return AreaCase(code, name, problem, holdout, inputs, tuple(dict.fromkeys(notes)))


def _check_years(spec: CalibrationSpec, code: str, name: str, rows: pd.DataFrame,
                 fit_until: int | None, shared: list[str]) -> None:
    """Refuse, naming the reorganisation, an authority with too few years of a series."""
    first, last = spec.period
    last = fit_until or last
    short = []
    for s in spec.series:
        lo, hi = s.period or (first, last)
        got = rows[(rows["series"] == s.name) & rows["value"].notna()
                   & (rows["variant"].fillna("") == "")
                   & (rows["year"] >= lo) & (rows["year"] <= min(hi, last))]
        n = int(got["year"].nunique())
        if n < MIN_VALUES:
            short.append(f"{s.name} {n}")
    if not short:
        return
    why = ""
    if shared:
        why = (f"the workforce census reports it jointly with another authority ({shared[0]}), "
               "so its own workforce figures are not published; ")
    for ch in _changes_for(code):
        if not ch.same_boundary:
            why = (f"created by a boundary change on {ch.effective.date()} ({ch.description}), "
                   "so its series start then; ")
    raise CarespiralError(f"{name} ({code}): {why}too few published values to fit in "
                          f"{first}-{last} (need {MIN_VALUES} of each series; have "
                          + ", ".join(short) + ")")
