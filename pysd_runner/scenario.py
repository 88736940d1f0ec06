"""Scenarios: named sets of parameter overrides and time-varying inputs, read from TOML.

    title = "Demand surge"
    description = "..."
    [params]
    "Referral Rate" = 300          # a constant override
    [[inputs]]                      # a time-varying input replacing a constant
    name = "Referral Rate"
    type = "step"                   # step | pulse | ramp | table
    base = 250                      # optional: defaults to the override or the model default
    height = 100
    start = 60                      # model time (months)

Several inputs on one name add up (a step plus a pulse); a `table` gives absolute values
(`times`, `values`, linearly interpolated, held flat beyond the ends) and stands alone.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from carespiral.errors import CarespiralError, FileFormatError

__all__ = ["Input", "Scenario", "read_scenario"]

_FIELDS = {
    "step": ({"name", "type", "height", "start"}, {"base"}),
    "pulse": ({"name", "type", "height", "start", "duration"}, {"base"}),
    "ramp": ({"name", "type", "slope", "start"}, {"base", "end"}),
    "table": ({"name", "type", "times", "values"}, set()),
}


@dataclass(frozen=True)
class Input:
    """A time-varying input: one of step, pulse, ramp or table."""

    name: str
    type: str
    height: float = 0.0
    start: float = 0.0
    duration: float = 0.0
    slope: float = 0.0
    end: float | None = None
    base: float | None = None
    times: tuple[float, ...] = ()
    values: tuple[float, ...] = ()

    def increment(self, t: np.ndarray, dt: float) -> np.ndarray:
        """The change this input adds to its base at times `t` (Euler grid with step `dt`)."""
        # Half a step of slack, as Vensim does, so a step at month 60 switches exactly at t=60.
        on = t >= self.start - dt / 2
        if self.type == "step":
            return np.where(on, self.height, 0.0)
        if self.type == "pulse":
            off = t >= self.start + self.duration - dt / 2
            return np.where(on & ~off, self.height, 0.0)
        if self.type == "ramp":
            stop = np.inf if self.end is None else self.end
            return self.slope * (np.clip(t, self.start, stop) - self.start)
        raise AssertionError(self.type)

    def table_values(self, t: np.ndarray) -> np.ndarray:
        return np.interp(t, self.times, self.values)


@dataclass(frozen=True)
class Scenario:
    """A named scenario: constant overrides and time-varying inputs."""

    name: str
    title: str = ""
    description: str = ""
    params: dict[str, float] = field(default_factory=dict)
    inputs: tuple[Input, ...] = ()
    path: Path | None = None

    def series(self, name: str, base: float, t: np.ndarray, dt: float) -> np.ndarray:
        """Values of input `name` on the time grid `t`, starting from `base`."""
        mine = [i for i in self.inputs if i.name == name]
        tables = [i for i in mine if i.type == "table"]
        if tables:
            return tables[0].table_values(t)
        explicit = [i.base for i in mine if i.base is not None]
        value = np.full_like(t, explicit[0] if explicit else base, dtype=float)
        for i in mine:
            value = value + i.increment(t, dt)
        return value

    def events(self) -> list[tuple[float, str]]:
        """When each step, pulse or ramp starts, labelled for marking on charts."""
        label = self.title or self.name
        return [(i.start, f"{label}: {i.name} {i.type}") for i in self.inputs if i.type != "table"]

    @property
    def input_names(self) -> list[str]:
        return sorted({i.name for i in self.inputs})

    @contextlib.contextmanager
    def locating(self, key: str, item: int | None = None) -> Iterator[None]:
        """Prefix a CarespiralError raised in the block (an unknown name, a value out of bounds)
        with this scenario's file and the line of `key` in [params], or of [[inputs]] number
        `item` (from 0)."""
        try:
            yield
        except CarespiralError as exc:
            if self.path is None or not exc.args or not isinstance(exc.args[0], str):
                raise
            try:
                text = self.path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                text = ""
            line = (_nth_line(text, "[[inputs]]", item) if item is not None
                    else _find_key_line(text, key))
            where = f"{self.path}, line {line}" if line else str(self.path)
            what = f"[[inputs]] number {item + 1}" if item is not None else "[params]"
            exc.args = (f"{where}: {what}: {exc.args[0]}", *exc.args[1:])
            raise


def read_scenario(path: str | Path) -> Scenario:
    """Read a scenario TOML file; errors name the file, the line and what was expected."""
    from carespiral.pysd_runner.scenario_schema import ScenarioFile
    from carespiral.schema import check, read_toml

    path = Path(path)
    doc, text = read_toml(path, "scenario")
    check(ScenarioFile, doc, path, text)  # the shape: every mistake names its line and key
    unknown = set(doc) - {"title", "description", "params", "inputs"}
    if unknown:
        key = sorted(unknown)[0]
        raise FileFormatError(
            path, f"unknown key {key!r}", line=_find_key_line(text, key),
            hint="a scenario has title, description, [params] and [[inputs]]",
        )
    params: dict[str, float] = {}
    for name, value in doc.get("params", {}).items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise FileFormatError(
                path, f"parameter {name!r} must be a number, got {value!r}",
                line=_find_key_line(text, name),
            )
        params[name] = float(value)
    inputs = []
    for k, raw in enumerate(doc.get("inputs", [])):
        inputs.append(_read_input(path, text, k, raw))
    return Scenario(
        name=path.stem,
        title=str(doc.get("title", path.stem)),
        description=" ".join(str(doc.get("description", "")).split()),
        params=params,
        inputs=tuple(inputs),
        path=path,
    )


def _read_input(path: Path, text: str, k: int, raw: dict) -> Input:
    where = f"[[inputs]] number {k + 1}"
    line = _nth_line(text, "[[inputs]]", k)
    kind = raw.get("type")
    if kind not in _FIELDS:
        raise FileFormatError(
            path, f"{where}: type must be one of {sorted(_FIELDS)}, got {kind!r}", line=line
        )
    required, optional = _FIELDS[kind]
    missing = sorted(required - set(raw))
    extra = sorted(set(raw) - required - optional)
    if missing:
        raise FileFormatError(path, f"{where} ({kind}): missing {missing}", line=line)
    if extra:
        raise FileFormatError(
            path, f"{where} ({kind}): unexpected {extra}", line=line,
            hint=f"a {kind} takes {sorted(required | optional)}",
        )
    try:
        if kind == "table":
            times = tuple(float(x) for x in raw["times"])
            values = tuple(float(x) for x in raw["values"])
            if len(times) != len(values) or len(times) < 1:
                raise ValueError("times and values must be non-empty lists of equal length")
            if any(b <= a for a, b in itertools.pairwise(times)):
                raise ValueError("times must increase")
            return Input(name=str(raw["name"]), type=kind, times=times, values=values)
        nums = {k2: float(v) for k2, v in raw.items() if k2 not in ("name", "type")}
    except (TypeError, ValueError) as exc:
        raise FileFormatError(path, f"{where} ({kind}): {exc}", line=line) from None
    return Input(name=str(raw["name"]), type=kind, **nums)


def _line_of(exc: tomllib.TOMLDecodeError) -> int | None:
    m = re.search(r"line (\d+)", str(exc))
    return int(m.group(1)) if m else None


def _find_key_line(text: str, key: str) -> int | None:
    for n, line in enumerate(text.splitlines(), 1):
        if key in line:
            return n
    return None


def _nth_line(text: str, marker: str, k: int) -> int | None:
    seen = -1
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip().startswith(marker):
            seen += 1
            if seen == k:
                return n
    return None

