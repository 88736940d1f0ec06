"""Calibration specs: which model, area and period; which parameters (bounds, priors); which series.

A spec is a TOML file (bundled ones live in `models/specs/`, e.g. `national`, `local`):

    title = "England"
    model = "collapse_spiral"
    area = "England"                  # a code or a name; `local` leaves it to --area
    period = [2011, 2023]             # DfE reporting years (ending 31 March), inclusive
    scenario = "history"              # optional: the model scenario the fit runs under
    method = "differential_evolution" # optional default for --method

    [fixed]                           # optional constant overrides, not fitted
    "Months per Year" = 12

    [scale]                           # optional: constants set from the area's data
    "Child Population" = "child_population"

    [roles]                           # optional: series -> model variable, for models outside
    caseload = "Average Caseload"     # the catalogue (bundled models map their roles there)

    [parameters."Normal Leaving Rate"]
    lower = 0.005
    upper = 0.03
    prior = "normal"                  # uniform (default) | normal | lognormal | beta
    mean = 0.0125
    sd = 0.004

    autocorrelation = "ar1"           # residuals of every series: ar1 (default) | none
    drivers = ["child_population", "funded_posts"]  # optional: drivers over time from the
                                      # area's data (carespiral.calibration.drivers)
    calendar = "history_calendar.toml"  # optional: the model's calendar of events (beside the
                                      # model); events after a forecast's origin are unknown

    [series.referrals]
    error = "lognormal"               # normal (estimated scale) | lognormal | negbin
    weight = 1.0
    breaks = "after"                  # what to do at a series break: refuse (default) |
                                      # before | after | span
    autocorrelation = "none"          # overrides the spec's for this series

Everything that can be checked without the model or the data is checked on reading; the checks
against a model (`check_model`) and the data (`calibration.observations`) name the spec line too.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from carespiral.calibration.priors import PRIOR_ARGS, Prior
from carespiral.errors import FileFormatError, UnknownNameError

__all__ = [
    "AUTOCORRELATION",
    "BREAK_POLICIES",
    "ERROR_MODELS",
    "CalibrationSpec",
    "ParameterSpec",
    "SeriesSpec",
    "bundled_specs",
    "read_spec",
]

ERROR_MODELS = ("normal", "lognormal", "negbin")
BREAK_POLICIES = ("refuse", "before", "after", "span")
AUTOCORRELATION = ("ar1", "none")
_TOP_KEYS = {"title", "description", "model", "area", "period", "scenario", "method", "fixed",
             "scale", "roles", "parameters", "series", "options", "autocorrelation", "drivers",
             "calendar"}
_PARAM_KEYS = {"lower", "upper", "prior", "initial", *(a for v in PRIOR_ARGS.values() for a in v)}
_SERIES_KEYS = {"error", "weight", "breaks", "period", "dispersion", "autocorrelation"}


@dataclass(frozen=True)
class ParameterSpec:
    """One fitted parameter: its name (Vensim name, Python name or role), bounds and prior."""

    name: str
    lower: float
    upper: float
    prior: Prior
    initial: float | None = None
    line: int | None = None


@dataclass(frozen=True)
class SeriesSpec:
    """One published series to fit: its canonical name, error model, weight and break policy."""

    name: str
    error: str = "normal"
    weight: float = 1.0
    breaks: str = "refuse"
    period: tuple[int, int] | None = None
    dispersion: float | None = None  # negative binomial size; estimated when None
    line: int | None = None
    autocorrelation: str = "ar1"  # residuals: ar1 (AR(1) in the likelihood) | none


@dataclass(frozen=True)
class CalibrationSpec:
    """A whole calibration spec; `text` keeps the source so later checks can name lines."""

    name: str
    model: str
    period: tuple[int, int]
    parameters: tuple[ParameterSpec, ...]
    series: tuple[SeriesSpec, ...]
    area: str | None = None
    title: str = ""
    description: str = ""
    scenario: str | None = None
    method: str = "differential_evolution"
    fixed: dict[str, float] = field(default_factory=dict)
    scale: dict[str, str] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    text: str = ""
    drivers: tuple[str, ...] = ()  # drivers over time from the area's data
    calendar: str | None = None  # the model's calendar of events (a TOML file beside the model)

    @property
    def where(self) -> str:
        return str(self.path) if self.path else f"spec {self.name!r}"

    @property
    def model_ref(self) -> str | Path:
        """The model to load: a model file named relative to the spec file is found beside it;
        otherwise the name as given (a bundled model or a path)."""
        from carespiral.pysd_runner.model import model_beside

        return model_beside(self.model, self.path)

    def error(self, problem: str, *keys: str, hint: str = "") -> FileFormatError:
        """A FileFormatError naming this spec and the line of `keys` (e.g. "series", "caseload")."""
        return FileFormatError(self.where, problem, line=_locate(self.text, keys), hint=hint)

    def with_area(self, area: str) -> CalibrationSpec:
        return replace(self, area=area)

    def with_period(self, first: int, last: int) -> CalibrationSpec:
        """The spec fitted over first-last; a series' own period ends by `last` too, so that a
        fit up to an origin never sees a later year of a series that reaches further."""
        series = tuple(replace(s, period=(s.period[0], min(s.period[1], last)))
                       if s.period else s for s in self.series)
        return replace(self, period=(first, last), series=series)

    def check_model(self, model) -> None:
        """Every parameter and fixed constant exists in `model` and its bounds fit the model's."""
        for p in self.parameters:
            try:
                mp = model.parameter(p.name)
            except UnknownNameError as exc:
                raise self.error(f"unknown parameter {p.name!r} for model {model.name!r}"
                                 + (f"; did you mean {exc.matches[0]!r}?" if exc.matches else ""),
                                 "parameters", p.name) from None
            except Exception as exc:  # a variable that is not a constant
                raise self.error(str(exc), "parameters", p.name) from None
            if p.lower < mp.lower or p.upper > mp.upper:
                raise self.error(
                    f"bounds [{p.lower:g}, {p.upper:g}] of {p.name!r} exceed the model's "
                    f"{mp.bounds_text()}", "parameters", p.name)
        for series, var in self.roles.items():
            try:
                model.resolve(var)
            except UnknownNameError as exc:
                raise self.error(f"[roles] {series}: {exc}", "roles", series) from None
        for table in ("fixed", "scale"):
            for name in getattr(self, table):
                try:
                    model.parameter(name)
                except Exception as exc:
                    raise self.error(f"[{table}]: {exc}", table, name) from None


def bundled_specs() -> dict[str, Path]:
    """The specs shipped with the package (`models/specs/*.toml`), by name."""
    from importlib import resources

    folder = Path(str(resources.files("carespiral.models"))) / "specs"
    if not folder.is_dir():
        return {}
    # the folder also holds exploration specs; a calibration spec has [series.*] tables
    return {p.stem: p for p in sorted(folder.glob("*.toml"))
            if re.search(r"^\s*\[series\.", p.read_text(encoding="utf-8"), re.MULTILINE)}


def read_spec(name_or_path: str | Path) -> CalibrationSpec:
    """Read a spec by bundled name (`national`, `local`) or by path; errors name file and line."""
    text_name = str(name_or_path)
    bundled = bundled_specs()
    path = Path(text_name)
    if text_name in bundled and not path.is_file():
        path = bundled[text_name]
    elif not path.is_file():
        if path.suffix == ".toml" or "/" in text_name:
            raise FileFormatError(path, "spec file does not exist")
        raise UnknownNameError("calibration spec", text_name, bundled,
                               hint="(bundled specs: " + ", ".join(bundled) + "; or a .toml path)")
    from carespiral.schema import read_text

    return parse_spec(read_text(path, "calibration spec"), path=path, name=path.stem)


def parse_spec(text: str, path: Path | None = None, name: str = "spec") -> CalibrationSpec:
    """Parse spec text (see the module docstring)."""
    where = str(path) if path else f"spec {name!r}"

    def fail(problem: str, *keys: str, hint: str = "") -> FileFormatError:
        return FileFormatError(where, problem, line=_locate(text, keys), hint=hint)

    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise FileFormatError(where, f"not valid TOML: {str(exc).split(' (at')[0]}",
                              line=int(m.group(1)) if m else None) from None
    from carespiral.calibration.spec_schema import CalibrationSpecFile
    from carespiral.schema import check

    check(CalibrationSpecFile, doc, where, text)  # the shape: mistakes name line and key
    unknown = sorted(set(doc) - _TOP_KEYS)
    if unknown:
        raise fail(f"unknown key {unknown[0]!r}", unknown[0],
                   hint="a spec has " + ", ".join(sorted(_TOP_KEYS)))
    if "model" not in doc or not isinstance(doc["model"], str):
        raise fail("missing `model = \"NAME\"` (a bundled model name or a .mdl path)")
    period = _period(doc.get("period"), fail, ("period",))
    if period is None:
        raise fail("missing `period = [FIRST_YEAR, LAST_YEAR]`")

    params = []
    raw_params = doc.get("parameters", {})
    if not isinstance(raw_params, dict) or not raw_params:
        raise fail("no [parameters.NAME] tables: name at least one parameter to fit")
    for pname, raw in raw_params.items():
        params.append(_parameter(pname, raw, fail))
    series = []
    raw_series = doc.get("series", {})
    if not isinstance(raw_series, dict) or not raw_series:
        raise fail("no [series.NAME] tables: name at least one published series to fit")
    auto = doc.get("autocorrelation", "ar1")
    if auto not in AUTOCORRELATION:
        raise fail(f"unknown autocorrelation {auto!r}", "autocorrelation",
                   hint="expected one of " + ", ".join(AUTOCORRELATION))
    for sname, raw in raw_series.items():
        series.append(_series(sname, raw, fail, auto))
    drivers = doc.get("drivers", [])
    if not isinstance(drivers, list) or not all(isinstance(d, str) for d in drivers):
        raise fail(f"drivers must be a list of driver names, got {drivers!r}", "drivers",
                   hint='e.g. drivers = ["child_population", "funded_posts"]')
    from carespiral.calibration.drivers import driver_names

    unknown = [d for d in drivers if d not in driver_names()]
    if unknown:
        raise fail(f"unknown driver(s) {', '.join(map(repr, unknown))}", "drivers",
                   hint="the drivers are " + ", ".join(driver_names()))
    calendar = doc.get("calendar")
    if calendar is not None and not isinstance(calendar, str):
        raise fail(f"calendar must name a TOML file, got {calendar!r}", "calendar")
    fixed = {}
    for k, v in doc.get("fixed", {}).items():
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise fail(f"[fixed] {k!r} must be a number, got {v!r}", "fixed", k)
        fixed[k] = float(v)
    scale = {}
    for k, v in doc.get("scale", {}).items():
        if not isinstance(v, str):
            raise fail(f"[scale] {k!r} must name a data series, got {v!r}", "scale", k)
        scale[k] = v
    roles = {}
    for k, v in doc.get("roles", {}).items():
        if not isinstance(v, str):
            raise fail(f"[roles] {k!r} must name a model variable, got {v!r}", "roles", k)
        roles[k] = v
    area = doc.get("area")
    if area is not None and not isinstance(area, str):
        raise fail("`area` must be a string (a code or a name)", "area")
    return CalibrationSpec(
        name=name, model=doc["model"], period=period, parameters=tuple(params),
        series=tuple(series), area=area or None, title=str(doc.get("title", name)),
        description=" ".join(str(doc.get("description", "")).split()),
        scenario=doc.get("scenario"), method=str(doc.get("method", "differential_evolution")),
        fixed=fixed, scale=scale, roles=roles, options=dict(doc.get("options", {})), path=path,
        text=text, drivers=tuple(drivers), calendar=calendar,
    )


def _period(raw, fail, keys) -> tuple[int, int] | None:
    if raw is None:
        return None
    if (not isinstance(raw, list) or len(raw) != 2
            or not all(isinstance(y, int) and not isinstance(y, bool) for y in raw)):
        raise fail(f"period must be [FIRST_YEAR, LAST_YEAR], got {raw!r}", *keys)
    if raw[1] < raw[0]:
        raise fail(f"period {raw}: the last year is before the first", *keys)
    return int(raw[0]), int(raw[1])


def _number(raw: dict, key: str, fail, keys) -> float | None:
    if key not in raw:
        return None
    v = raw[key]
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise fail(f"{key} must be a finite number, got {v!r}", *keys, key)
    return float(v)


def _check_table(what: str, keys: tuple[str, str], raw: Any, allowed: set[str], expected: str,
                 fail) -> None:
    """A `[parameters."X"]` or `[series.x]` entry is a table of known keys."""
    if not isinstance(raw, dict):
        raise fail(f"{what} {keys[1]!r}: expected a table ({expected})", *keys)
    extra = sorted(set(raw) - allowed)
    if extra:
        raise fail(f"{what} {keys[1]!r}: unknown key {extra[0]!r}", *keys, extra[0],
                   hint="expected " + ", ".join(sorted(allowed)))


def _parameter(name: str, raw: Any, fail) -> ParameterSpec:
    keys = ("parameters", name)
    _check_table("parameter", keys, raw, _PARAM_KEYS, "lower, upper and a prior", fail)
    lower, upper = _number(raw, "lower", fail, keys), _number(raw, "upper", fail, keys)
    if lower is None or upper is None:
        raise fail(f"parameter {name!r}: needs both lower and upper bounds", *keys)
    if not lower < upper:
        raise fail(f"parameter {name!r}: bounds reversed or empty (lower {lower:g} >= upper "
                   f"{upper:g})", *keys, "lower")
    kind = raw.get("prior", "uniform")
    if kind not in PRIOR_ARGS:
        raise fail(f"parameter {name!r}: unknown prior {kind!r}", *keys, "prior",
                   hint="expected one of " + ", ".join(PRIOR_ARGS))
    args = {}
    for a in PRIOR_ARGS[kind]:
        v = _number(raw, a, fail, keys)
        if v is None:
            raise fail(f"parameter {name!r}: a {kind} prior needs "
                       + " and ".join(PRIOR_ARGS[kind]), *keys, "prior")
        args[a] = v
    stray = sorted((set(raw) & {x for v in PRIOR_ARGS.values() for x in v}) - set(args))
    if stray:
        raise fail(f"parameter {name!r}: {stray[0]!r} does not belong to a {kind} prior",
                   *keys, stray[0])
    for a in ("sd", "sigma", "alpha", "beta"):
        if a in args and args[a] <= 0:
            raise fail(f"parameter {name!r}: {a} must be positive", *keys, a)
    if kind == "lognormal" and upper <= 0:
        raise fail(f"parameter {name!r}: a lognormal prior needs positive values", *keys)
    prior = Prior(kind, lower, upper, args)
    centre = args.get("mean", math.exp(args["mu"]) if "mu" in args else None)
    if centre is not None and not lower <= centre <= upper:
        raise fail(f"parameter {name!r}: the prior's centre {centre:g} lies outside the bounds "
                   f"[{lower:g}, {upper:g}]", *keys, "mean" if "mean" in args else "mu")
    if not prior.contains_mass():
        raise fail(f"parameter {name!r}: the prior puts no mass inside the bounds", *keys, "prior")
    initial = _number(raw, "initial", fail, keys)
    if initial is not None and not lower <= initial <= upper:
        raise fail(f"parameter {name!r}: initial {initial:g} outside the bounds", *keys, "initial")
    return ParameterSpec(name, lower, upper, prior, initial, _locate_text_line(fail, keys))


def _series(name: str, raw: Any, fail, autocorrelation: str = "ar1") -> SeriesSpec:
    keys = ("series", name)
    _check_table("series", keys, raw, _SERIES_KEYS, "error, weight, breaks", fail)
    error = raw.get("error", "normal")
    if error not in ERROR_MODELS:
        raise fail(f"series {name!r}: unknown error model {error!r}", *keys, "error",
                   hint="expected one of " + ", ".join(ERROR_MODELS))
    auto = raw.get("autocorrelation", autocorrelation if error != "negbin" else "none")
    if auto not in AUTOCORRELATION:
        raise fail(f"series {name!r}: unknown autocorrelation {auto!r}", *keys,
                   "autocorrelation", hint="expected one of " + ", ".join(AUTOCORRELATION))
    if auto == "ar1" and error == "negbin":
        raise fail(f"series {name!r}: autocorrelated residuals need error = \"normal\" or "
                   "\"lognormal\"", *keys, "autocorrelation",
                   hint='set autocorrelation = "none" for a negbin series')
    weight = _number(raw, "weight", fail, keys)
    if weight is not None and weight <= 0:
        raise fail(f"series {name!r}: weight must be positive", *keys, "weight")
    breaks = raw.get("breaks", "refuse")
    if breaks not in BREAK_POLICIES:
        raise fail(f"series {name!r}: unknown break policy {breaks!r}", *keys, "breaks",
                   hint="expected one of " + ", ".join(BREAK_POLICIES))
    dispersion = _number(raw, "dispersion", fail, keys)
    if dispersion is not None and (error != "negbin" or dispersion <= 0):
        raise fail(f"series {name!r}: dispersion is a positive number for error = \"negbin\"",
                   *keys, "dispersion")
    return SeriesSpec(name, error, 1.0 if weight is None else weight, breaks,
                      _period(raw.get("period"), fail, (*keys, "period")), dispersion,
                      _locate_text_line(fail, keys), auto)


def _locate_text_line(fail, keys) -> int | None:
    return fail("", *keys).line


def _locate(text: str, keys: tuple[str, ...]) -> int | None:
    """Best-effort line of a key path such as ("parameters", "X", "lower") in TOML text."""
    if not text or not keys:
        return None
    lines = text.splitlines()

    def key_re(k: str) -> str:
        return r"(?:" + re.escape(k) + r'|"' + re.escape(k) + r'"|' + r"'" + re.escape(k) + r"')"

    # a table header [a."b"] for the first two keys, then a key inside that table
    if len(keys) >= 2:
        head = re.compile(r"^\s*\[\s*" + key_re(keys[0]) + r"\s*\.\s*" + key_re(keys[1]) + r"\s*\]")
        for i, line in enumerate(lines):
            if head.match(line):
                if len(keys) == 2:
                    return i + 1
                inner = re.compile(r"^\s*" + key_re(keys[2]) + r"\s*=")
                for j in range(i + 1, len(lines)):
                    if lines[j].lstrip().startswith("["):
                        break
                    if inner.match(lines[j]):
                        return j + 1
                return i + 1
    # a key in a [section] table, e.g. [fixed] "Name" = 1, or an inline table name = {...}
    if len(keys) >= 2:
        sect = re.compile(r"^\s*\[\s*" + key_re(keys[0]) + r"\s*\]")
        inner = re.compile(r"^\s*" + key_re(keys[1]) + r"\s*=")
        inside = False
        for i, line in enumerate(lines):
            if line.lstrip().startswith("["):
                inside = bool(sect.match(line))
                continue
            if inside and inner.match(line):
                return i + 1
    top = re.compile(r"^\s*" + key_re(keys[0]) + r"\s*=")
    for i, line in enumerate(lines):
        if top.match(line):
            return i + 1
    for i, line in enumerate(lines):  # last resort: the first line mentioning the last key
        if keys[-1] in line:
            return i + 1
    return None
