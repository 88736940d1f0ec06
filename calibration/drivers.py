"""What a calibration gives the model besides its parameters: drivers over time and events.

A spec's `drivers = ["child_population", "funded_posts"]` runs each area with its own series
from the data layer (`carespiral.data.drivers.area_drivers`): a level at the reference date
(a constant) and an index over model time (a time input that replaces the model's own):

    child_population   Child Population, Relative Child Population (ONS mid-year estimates)
    funded_posts       Establishment per Child, Relative Establishment (census posts per child)

and event drivers, a time input whose size is a calibrated parameter, not set from the data:

    inadequate_judgements   Inadequate Judgement (Ofsted's inadequate judgements of the
                            authority, `carespiral.data.inspections`), sized by
                            Inadequate Judgement Size

Between published values the index is interpolated linearly; beyond the last one it is held
(the data layer's stated rule). A forecast made at an origin knows only what was published up
to it: `until` drops every driver value dated after the last fitted figure (ex ante), and
`after` says how they go on. The default, `national`, holds the child population and grows
funded posts per child as England's grew by their damped trend (`grown_as`,
`carespiral.data.drivers.damped_trend`: growth of the last three years, fading by 0.8 a year),
for England and every authority alike: an authority's own posts series is too short and noisy
for a trend. `hold` holds every driver; `damped` gives each driver its own damped trend. Both
are measured in docs/calibration.md. Before the first workforce census (September 2017) posts
per child are held at that census's ratio (the data layer's rule), so an origin before it sees
the 2017 level (flat, no trend).

A spec's `calendar = "history_calendar.toml"` names the model's calendar of events (a TOML file
beside the model with `[[event]]` tables: `month`, `size` or `sizes`, the constants that set
each event's size). Ex ante, an event that starts after the origin is unknown: its sizes are
set to 0 and not fitted. So is an event driver's: ex ante, only judgements published up to the
last fitted figure are in the input, and none after it.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from carespiral.errors import CarespiralError, FileFormatError

__all__ = [
    "AFTER_RULES",
    "DEFAULT_AFTER",
    "DRIVERS",
    "ENGLAND",
    "EVENT_DRIVERS",
    "DriverInputs",
    "Event",
    "calendar_events",
    "driver_inputs",
    "driver_names",
    "grown_as",
    "known_driver",
    "later_event_sizes",
    "resolve_calendar",
]

# driver name -> (level constant, index over time) in the collapse-spiral model's names
DRIVERS: dict[str, tuple[str, str]] = {}
# event driver name -> (time input, the calibrated constant that sizes it)
EVENT_DRIVERS: dict[str, tuple[str, str]] = {
    "inadequate_judgements": ("Inadequate Judgement", "Inadequate Judgement Size"),
}


def _drivers() -> dict[str, tuple[str, str]]:
    if not DRIVERS:
        from carespiral.data import drivers as d

        DRIVERS.update({
            "child_population": (d.CHILD_POPULATION, d.POPULATION_INDEX),
            "funded_posts": (d.ESTABLISHMENT_PER_CHILD, d.POSTS_INDEX),
        })
    return DRIVERS


@dataclass(frozen=True)
class DriverInputs:
    """An area's drivers for a run: constants (levels) and time inputs (indices), with notes."""

    params: dict[str, float] = field(default_factory=dict)
    inputs: dict[str, pd.Series] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


def driver_names() -> list[str]:
    """Every driver a spec may name: level-and-index drivers, then event drivers."""
    return [*_drivers(), *EVENT_DRIVERS]


def known_driver(name: str) -> bool:
    return name in driver_names()


# How a driver goes on after a forecast's origin (ex ante): `national` (the default: child
# population held, funded posts per child grown as England's did, by England's damped trend),
# `hold` (every driver at its last known value) or `damped` (each driver's own damped trend,
# `carespiral.data.drivers.damped_trend`). See docs/calibration.md.
AFTER_RULES = ("national", "hold", "damped")
DEFAULT_AFTER = "national"
ENGLAND = "E92000001"


def grown_as(points: pd.Series, reference: pd.Series) -> pd.Series:
    """`points` extended after their last value by the growth of `reference`'s damped trend
    after its own last value (`damped_trend`): year h on gets points[-1] times the reference's
    factor for year h. An authority's posts series is too short and noisy for a trend of its
    own (local vacancy rates move by ten points in a year); England's is smooth."""
    from carespiral.data.drivers import damped_trend

    if len(reference) < 2 or len(points) == 0:
        return points
    ext = damped_trend(reference)
    last = float(reference.index[-1])
    later = ext[ext.index > last + 1e-9]
    factors = later.to_numpy(dtype=float) / float(reference.iloc[-1])
    new = pd.Series(float(points.iloc[-1]) * factors,
                    index=float(points.index[-1]) + (later.index.to_numpy(dtype=float) - last))
    return pd.concat([points, new]).rename(points.name)


def _england_posts(table: pd.DataFrame | None) -> pd.Series:
    """England's posts per child from `table`, or from the shipped data when a table of a few
    authorities has no England rows."""
    from carespiral.data.drivers import area_drivers

    try:
        return area_drivers(ENGLAND, table).posts_per_child
    except CarespiralError:
        if table is None:
            raise
        return area_drivers(ENGLAND).posts_per_child


def driver_inputs(names: Iterable[str], area: str, table: pd.DataFrame | None = None,
                  until: pd.Timestamp | None = None, after: str = DEFAULT_AFTER) -> DriverInputs:
    """Levels and indices of the drivers `names` for `area` from `table` (the shipped data by
    default); with `until`, only values dated up to it, extended after it by `after`:
    `national` (the default: population held, posts per child grown as England's, `grown_as`),
    `hold` (the last known value) or `damped` (their damped trend,
    `carespiral.data.drivers.damped_trend`)."""
    from carespiral.data.drivers import area_drivers, damped_trend
    from carespiral.pysd_runner.calendar import reference_months

    if after not in AFTER_RULES:
        raise CarespiralError(f"drivers after the origin: {after!r} is not a rule; one of "
                              f"{', '.join(AFTER_RULES)}")

    def extend(points: pd.Series) -> pd.Series:
        return damped_trend(points) if after == "damped" else points

    names = list(names)
    unknown = [n for n in names if not known_driver(n)]
    if unknown:
        raise CarespiralError(f"driver(s) {', '.join(map(repr, unknown))} not known; the drivers "
                              f"are {', '.join(driver_names())}")
    events = [n for n in names if n in EVENT_DRIVERS]
    names = [n for n in names if n not in EVENT_DRIVERS]
    table_d = drivers = area_drivers(area, table)
    if until is not None:
        cut = float(reference_months(pd.DatetimeIndex([until]))[0])

        def upto(points: pd.Series) -> pd.Series:
            kept = points[points.index <= cut + 1e-9]
            return kept if len(kept) else points.iloc[:1]  # before the first value: its value

        if after == "national":  # England's posts as known at the origin set the growth
            posts = grown_as(upto(drivers.posts_per_child), upto(_england_posts(table)))
            drivers = replace(drivers, child_population=upto(drivers.child_population),
                              posts_per_child=posts)
        else:
            drivers = replace(drivers, child_population=extend(upto(drivers.child_population)),
                              posts_per_child=extend(upto(drivers.posts_per_child)))
    params, inputs = drivers.params(), drivers.time_inputs()
    out_p: dict[str, float] = {}
    out_i: dict[str, pd.Series] = {}
    for n in names:
        level, index = _drivers()[n]
        out_p[level] = params[level]
        out_i[index] = inputs[index]
    notes = list(table_d.notes)
    if events:
        from carespiral.data.inspections import inadequate_input

        code = table_d.area_code
        for n in events:  # one event driver so far: Ofsted's inadequate judgements
            series = inadequate_input(code, until=until)
            out_i[EVENT_DRIVERS[n][0]] = series.rename(EVENT_DRIVERS[n][0])
            judged = int((series.diff() > 0).sum())
            count = {0: "no inadequate judgement", 1: "1 inadequate judgement"}.get(
                judged, f"{judged} inadequate judgements")
            notes.append(f"Ofsted: {count} published"
                         + (f" up to {pd.Timestamp(until):%d %B %Y}" if until is not None
                            else " by September 2023"))
    if until is not None:
        notes.append(f"drivers known up to {pd.Timestamp(until):%d %B %Y}, " + {
            "damped": "extended by their damped trend after",
            "national": "after it child population held and funded posts per child grown "
                        "as England's by their damped trend",
        }.get(after, "held after"))
    return DriverInputs(out_p, out_i, tuple(notes))


@dataclass(frozen=True)
class Event:
    """One calendar event: its id, start (model month) and the constants setting its size."""

    id: str
    month: float
    sizes: tuple[str, ...]


def calendar_events(path: str | Path) -> list[Event]:
    """The events of a calendar file (`[[event]]` tables with id, month, size or sizes)."""
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FileFormatError(path, f"cannot read the calendar: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise FileFormatError(path, f"not valid TOML: {exc}") from None
    out = []
    for i, ev in enumerate(doc.get("event", [])):
        sizes = ev.get("sizes") or ([ev["size"]] if "size" in ev else [])
        if "month" not in ev or not sizes:
            raise FileFormatError(path, f"event {i + 1} ({ev.get('id', '?')}): needs `month` and "
                                  "`size` (or `sizes`)")
        out.append(Event(str(ev.get("id", f"event {i + 1}")), float(ev["month"]),
                         tuple(str(s) for s in sizes)))
    return out


def later_event_sizes(events: Iterable[Event], after_month: float) -> dict[str, Any]:
    """The size constants of events that start after `after_month`, each set to 0."""
    return {s: 0.0 for ev in events if ev.month > after_month + 1e-9 for s in ev.sizes}


def resolve_calendar(spec_path: Path | None, model_path: Path, name: str) -> Path:
    """A calendar file named by a spec: beside the model, else beside the spec."""
    for folder in (Path(model_path).parent, spec_path.parent if spec_path else None):
        if folder is not None and (folder / name).is_file():
            return folder / name
    raise CarespiralError(f"calendar {name!r}: no such file beside the model "
                          f"({Path(model_path).parent}) or the spec")
