"""Drivers over time for one area, from the shipped data: child population and funded posts.

    >>> from carespiral.data.drivers import area_drivers
    >>> d = area_drivers("haringey")
    >>> round(d.child_population_reference)
    57133
    >>> inputs = d.time_inputs()      # for Model.run_batch(..., inputs=inputs)
    >>> params = d.params()           # the scale constants, for the params frame

The collapse-spiral model takes each driver as a level at a reference date times an index over
time (1 at the reference), so that one model serves England and any authority:

- `Children in Area = Child Population x Relative Child Population`. The level is the ONS
  mid-year estimate of children aged 0-17 at mid-2019; the index is the estimate at each
  30 June over the mid-2019 one.
- `Funded Establishment = Children in Area x Establishment per Child x Relative Establishment`.
  Funded posts are the workforce census's FTE in post plus FTE vacancies at 30 September, per
  child (the population interpolated to the census date); the level is September 2019's, the
  index each census's over it.

Rules between and beyond the published values (stated, and the same in the model's embedded
England series, which `england_lookups` writes):

- between two values: linear interpolation in model time (what the batch backend, PySD and a
  Vensim lookup all do with points);
- child population before mid-2012 (the first estimate shipped): held at mid-2012; after the
  last estimate (mid-2024): held there. No projection is used.
- funded posts per child before the September 2017 census (the first comparable one; earlier
  figures are surveys): held at the 2017 ratio, so posts follow the population; after the last
  census shipped (September 2023): held at that ratio.
- ex ante, at a forecast's origin (`carespiral.calibration.drivers.driver_inputs(until=...)`):
  only the values dated up to the origin, held after it by default. The alternative rule,
  `damped_trend`, extends them by the growth of their last three yearly intervals (on the log
  scale; fewer when fewer are known, none with one value), damped by 0.8 a year, so the level
  tends to four years' growth past the last value; chosen by reasoning before it was scored
  (a council's medium-term financial plan runs about three years; 0.8^3 is about one half) and
  measured in docs/calibration.md ("Drivers after the origin").
- an authority whose workforce the census reports jointly with another (Kingston upon Thames
  with Richmond upon Thames; North with West Northamptonshire) takes the joint ratio: joint
  posts over the joint child population.

Model time is months from 1 April 2005: 30 June Y is month 12(Y-2005)+3, 30 September Y month
12(Y-2005)+6 (the end of the day, `carespiral.pysd_runner.calendar.reference_months`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from carespiral.data.areas import find_areas
from carespiral.data.loader import areas as known_areas
from carespiral.data.loader import load
from carespiral.errors import CarespiralError
from carespiral.pysd_runner.calendar import reference_months

__all__ = [
    "CHILD_POPULATION",
    "ESTABLISHMENT_PER_CHILD",
    "POPULATION_INDEX",
    "POSTS_INDEX",
    "REFERENCE_CENSUS_MONTH",
    "REFERENCE_POPULATION_MONTH",
    "TREND_DAMPING",
    "TREND_YEARS",
    "AreaDrivers",
    "area_drivers",
    "damped_trend",
    "england_lookups",
]

# The model variables the drivers set (collapse_spiral).
CHILD_POPULATION = "Child Population"
POPULATION_INDEX = "Relative Child Population"
ESTABLISHMENT_PER_CHILD = "Establishment per Child"
POSTS_INDEX = "Relative Establishment"

REFERENCE_POPULATION_MONTH = 171.0  # 30 June 2019
REFERENCE_CENSUS_MONTH = 174.0  # 30 September 2019
FIRST_CENSUS_YEAR = 2017  # the first comparable workforce census

# The ex-ante rule after an origin (`damped_trend`): growth measured over the last (up to)
# TREND_YEARS yearly intervals, damped by TREND_DAMPING a year, extended for EXTEND_YEARS.
TREND_YEARS = 3
TREND_DAMPING = 0.8
EXTEND_YEARS = 20


@dataclass(frozen=True)
class AreaDrivers:
    """An area's drivers: published points (model month -> value) and the rules applied."""

    area_code: str
    area_name: str
    child_population: pd.Series  # ONS estimate at each 30 June (children)
    posts_per_child: pd.Series  # (FTE in post + FTE vacancies) / children, each census
    notes: tuple[str, ...] = field(default=())

    @property
    def child_population_reference(self) -> float:
        """Children at mid-2019 (held or interpolated by the stated rules)."""
        return float(_at(self.child_population, REFERENCE_POPULATION_MONTH))

    @property
    def posts_per_child_reference(self) -> float:
        """Funded posts per child at September 2019."""
        return float(_at(self.posts_per_child, REFERENCE_CENSUS_MONTH))

    def params(self) -> dict[str, float]:
        """The scale constants: the levels at the reference dates."""
        return {CHILD_POPULATION: self.child_population_reference,
                ESTABLISHMENT_PER_CHILD: self.posts_per_child_reference}

    def time_inputs(self) -> dict[str, pd.Series]:
        """The indices over model time, as the batch backend's `inputs` take them.

        A Series of points (model month -> index); the backend interpolates linearly between
        them and holds the end values, which is the stated rule.
        """
        pop = self.child_population / self.child_population_reference
        posts = self.posts_per_child / self.posts_per_child_reference
        return {POPULATION_INDEX: pop.rename(POPULATION_INDEX),
                POSTS_INDEX: posts.rename(POSTS_INDEX)}

    def funded_posts(self, months: np.ndarray) -> np.ndarray:
        """Funded posts (FTE) at model times: children times posts per child, by the rules."""
        months = np.asarray(months, dtype=float)
        return _at(self.child_population, months) * _at(self.posts_per_child, months)


def area_drivers(area: str, table: pd.DataFrame | None = None) -> AreaDrivers:
    """Drivers of England, a region or an authority (ONS code, DfE number or name).

    `table` is a tidy published table (`carespiral.data.load()`); the shipped data by default.
    A name that matches codes before and after a boundary change gives the current code.
    """
    t = load(series=["child_population", "social_workers_fte", "sw_vacancies_fte"]) \
        if table is None else table
    known = known_areas(t)
    codes = find_areas(area, known)
    pop_all = t[(t["series"] == "child_population") & t["value"].notna()
                & (t["variant"].fillna("") == "")]
    with_pop = [c for c in codes if c in set(pop_all["area_code"])]
    if not with_pop:
        raise CarespiralError(f"area {area!r}: no ONS child population estimate in the data")
    last = pop_all[pop_all["area_code"].isin(with_pop)].groupby("area_code")["year"].max()
    code = str(last.sort_values().index[-1])
    name = str(pop_all.loc[pop_all["area_code"] == code, "area_name"].iloc[0])
    pop = _points(pop_all[pop_all["area_code"] == code])
    notes = ["child population: ONS mid-year estimates "
             f"{int(pop_all.loc[pop_all['area_code'] == code, 'year'].min())}-"
             f"{int(pop_all.loc[pop_all['area_code'] == code, 'year'].max())}, held beyond"]
    posts, note = _posts_per_child(t, code, name, pop_all)
    notes.append(note)
    return AreaDrivers(code, name, pop, posts, tuple(notes))


def damped_trend(points: pd.Series, years: int = TREND_YEARS, damping: float = TREND_DAMPING,
                 extend: int = EXTEND_YEARS) -> pd.Series:
    """`points` (model month -> positive value, yearly) extended after the last one by a
    damped trend of their growth: the ex-ante rule for a driver after a forecast's origin.

    The growth rate b (a year, on the log scale) is that of the last `years` intervals, or of
    all of them when fewer are known: b = ln(v_T / v_(T-k)) / (years between them). Year h
    after the last point (at month t_T + 12 h, h = 1..`extend`) gets
    v_T exp(b (phi + phi^2 + ... + phi^h)), phi = `damping`: the trend fades by phi a year, so
    the level tends to v_T exp(b phi / (1 - phi)) (four years' growth at 0.8), and is held
    after the last added point. A single point (no growth known) is held as before.
    """
    if not 0.0 <= damping <= 1.0:
        raise CarespiralError(f"damped trend: damping {damping} must be within 0 to 1")
    if years < 1 or extend < 0:
        raise CarespiralError(f"damped trend: years {years} must be at least 1 and extend "
                              f"{extend} not negative")
    points = points.sort_index()
    values = points.to_numpy(dtype=float)
    months = points.index.to_numpy(dtype=float)
    if len(points) < 2 or extend == 0:
        return points
    if np.any(values <= 0) or not np.all(np.isfinite(values)):
        raise CarespiralError("damped trend: a driver's values must be positive numbers")
    k = min(int(years), len(points) - 1)
    span = (months[-1] - months[-1 - k]) / 12.0
    if span <= 0:
        return points
    b = float(np.log(values[-1] / values[-1 - k]) / span)
    h = np.arange(1, int(extend) + 1, dtype=float)
    cum = np.cumsum(damping ** h)  # phi + ... + phi^h
    new = pd.Series(values[-1] * np.exp(b * cum), index=months[-1] + 12.0 * h)
    return pd.concat([points, new]).rename(points.name)


def england_lookups(digits: int = 6) -> dict[str, list[tuple[float, float]]]:
    """England's indices as (model month, value) points: the model's embedded lookups."""
    d = area_drivers("England")
    return {name: [(float(m), round(float(v), digits)) for m, v in s.items()]
            for name, s in d.time_inputs().items()}


# ---- helpers ----------------------------------------------------------------------------------

def _points(rows: pd.DataFrame) -> pd.Series:
    rows = rows.sort_values("date")
    months = reference_months(rows["date"].to_numpy())
    return pd.Series(rows["value"].to_numpy(dtype=float), index=months, name="value")


def _at(points: pd.Series, months) -> np.ndarray:
    """Linear interpolation, ends held: the stated rule."""
    return np.interp(months, points.index.to_numpy(dtype=float), points.to_numpy(dtype=float))


def _posts_per_child(t: pd.DataFrame, code: str, name: str, pop_all: pd.DataFrame
                     ) -> tuple[pd.Series, str]:
    """Funded posts per child at each comparable census for `code` (or its joint census row)."""
    census = t[t["series"].isin(["social_workers_fte", "sw_vacancies_fte"])
               & t["value"].notna() & (t["variant"].fillna("") == "")
               & (t["year"] >= FIRST_CENSUS_YEAR)]
    mine = census[census["area_code"] == code]
    members = [code]
    if mine.empty:  # a joint census row such as "E09000021 / E09000027"
        joint = [c for c in census["area_code"].unique() if code in str(c).split(" / ")]
        if joint:
            mine = census[census["area_code"] == joint[0]]
            members = str(joint[0]).split(" / ")
    if mine.empty:
        raise CarespiralError(
            f"area {name!r} ({code}): no workforce census (FTE in post and vacancies) from "
            f"September {FIRST_CENSUS_YEAR} in the data, so its funded posts are unknown")
    wide = mine.pivot_table(index="date", columns="series", values="value", aggfunc="first")
    wide = wide.dropna()
    if wide.empty:
        raise CarespiralError(f"area {name!r} ({code}): no census with both FTE in post and "
                              "vacancies")
    months = reference_months(wide.index.to_numpy())
    children = np.zeros(len(months))
    for m in members:
        rows = pop_all[pop_all["area_code"] == m]
        if rows.empty:
            raise CarespiralError(f"area {name!r}: no child population for {m}, which shares "
                                  "its workforce census")
        children += _at(_points(rows), months)
    posts = (wide["social_workers_fte"] + wide["sw_vacancies_fte"]).to_numpy(dtype=float)
    note = (f"funded posts: workforce census {int(wide.index.year.min())}-"
            f"{int(wide.index.year.max())} (FTE in post + vacancies) per child"
            + (f", joint with {' and '.join(m for m in members if m != code)}"
               if len(members) > 1 else "")
            + "; before the first census and after the last: held at their ratio")
    return pd.Series(posts / children, index=months, name="value"), note
