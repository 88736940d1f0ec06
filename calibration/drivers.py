"""What a calibration gives the model besides its parameters: drivers over time and events.

A spec's `drivers = ["child_population", "funded_posts"]` runs each area with its own series
from the data layer (`carespiral.data.drivers.area_drivers`): a level at the reference date
(a constant) and an index over model time (a time input that replaces the model's own):

    child_population   Child Population, Relative Child Population (ONS mid-year estimates)
    funded_posts       Establishment per Child, Relative Establishment (census posts per child)

Between published values the index is interpolated linearly; beyond the last one it is held
(the data layer's stated rule). A forecast made at an origin knows only what was published up
to it: `until` drops every driver value dated after the last fitted figure, so the hold rule
applies from there (ex ante). `after="damped"` extends the known values by their damped trend
instead (`carespiral.data.drivers.damped_trend`: growth of the last three years, fading by 0.8
a year), an option measured in docs/calibration.md and not the default. The one exception is the data layer's rule before the first
workforce census (September 2017): posts per child are held at that census's ratio, so an
origin before it sees the 2017 level (flat, no trend).

A spec's `calendar = "history_calendar.toml"` names the model's calendar of events (a TOML file
beside the model with `[[event]]` tables: `month`, `size` or `sizes`, the constants that set
each event's size). Ex ante, an event that starts after the origin is unknown: its sizes are
set to 0 and not fitted.
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
    "DriverInputs",
    "Event",
    "calendar_events",
    "driver_inputs",
    "known_driver",
    "later_event_sizes",
    "resolve_calendar",
]

# driver name -> (level constant, index over time) in the collapse-spiral model's names
DRIVERS: dict[str, tuple[str, str]] = {}


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


def known_driver(name: str) -> bool:
    return name in _drivers()


# How a driver goes on after a forecast's origin (ex ante): `hold` (the default: the last known
# value) or `damped` (`carespiral.data.drivers.damped_trend`). See docs/calibration.md.
AFTER_RULES = ("hold", "damped")
DEFAULT_AFTER = "hold"


def driver_inputs(names: Iterable[str], area: str, table: pd.DataFrame | None = None,
                  until: pd.Timestamp | None = None, after: str = DEFAULT_AFTER) -> DriverInputs:
    """Levels and indices of the drivers `names` for `area` from `table` (the shipped data by
    default); with `until`, only values dated up to it, extended after it by `after`:
    `hold` (the last known value, the default) or `damped` (their damped trend,
    `carespiral.data.drivers.damped_trend`)."""
    from carespiral.data.drivers import area_drivers, damped_trend
    from carespiral.pysd_runner.calendar import reference_months

    if after not in AFTER_RULES:
        raise CarespiralError(f"drivers after the origin: {after!r} is not a rule; one of "
                              f"{', '.join(AFTER_RULES)}")

    def extend(points: pd.Series) -> pd.Series:
        return damped_trend(points) if after == "damped" else points

    names = list(names)
    table_d = drivers = area_drivers(area, table)
    if until is not None:
        cut = float(reference_months(pd.DatetimeIndex([until]))[0])

        def upto(points: pd.Series) -> pd.Series:
            kept = points[points.index <= cut + 1e-9]
            return kept if len(kept) else points.iloc[:1]  # before the first value: its value

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
    if until is not None:
        notes.append(f"drivers known up to {pd.Timestamp(until):%d %B %Y}, "
                     + ("extended by their damped trend after" if after == "damped"
                        else "held after"))
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
