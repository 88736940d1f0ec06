"""The catalogue of bundled models (`models/catalog.toml`) and the canonical roles."""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

from carespiral.errors import FileFormatError, UnknownNameError

__all__ = [
    "DRIVER_ROLES",
    "LEVER_ROLES",
    "OUTPUT_ROLES",
    "CatalogEntry",
    "Naming",
    "catalog",
    "code_names",
    "get_entry",
    "label",
    "models_dir",
    "naming",
    "plain_text",
    "plain_unit",
    "published_unit",
    "unit",
]

OUTPUT_ROLES: tuple[str, ...] = (
    "referrals",
    "re_referral_rate",
    "assessments",
    "awaiting_assessment",
    "children_in_need",
    "cp_plans",
    "cp_plans_started",
    "s47_enquiries",
    "social_workers_fte",
    "agency_fte",
    "vacancy_rate",
    "turnover_rate",
    "agency_rate",
    "caseload",
    "workload_pressure",
)
LEVER_ROLES: tuple[str, ...] = (
    "establishment",
    "compliance_burden",
    "upstream_failure_demand",
    "referral_threshold",
    "agency_cap",
    "retention_measures",
    "redesign",
)
DRIVER_ROLES: tuple[str, ...] = ("underlying_need", "scandal_shock", "child_population",
                                  "covid_disruption", "history")

_ROLE_TABLES = {"outputs": OUTPUT_ROLES, "levers": LEVER_ROLES, "drivers": DRIVER_ROLES}


@dataclass(frozen=True)
class CatalogEntry:
    """One bundled model: its file, description, calendar and canonical roles."""

    name: str
    path: Path
    title: str
    description: str = ""
    time_unit: str = "Month"
    start_date: dt.date | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    levers: dict[str, str] = field(default_factory=dict)
    drivers: dict[str, str] = field(default_factory=dict)

    @property
    def roles(self) -> dict[str, str]:
        """Every role of the model (outputs, levers, drivers) mapped to its Vensim name."""
        return {**self.outputs, **self.levers, **self.drivers}

    @property
    def scenarios_dir(self) -> Path:
        return self.path.parent / "scenarios" / self.name


def models_dir() -> Path:
    """The folder of the bundled `.mdl` files (inside the installed package)."""
    return Path(str(resources.files("carespiral.models")))


@lru_cache(maxsize=1)
def catalog() -> dict[str, CatalogEntry]:
    """All bundled models by name, read from `models/catalog.toml`."""
    return _read_catalog(models_dir() / "catalog.toml")


def get_entry(name: str) -> CatalogEntry:
    """The catalogue entry of a bundled model; unknown names list the models and the closest one."""
    entries = catalog()
    if name in entries:
        return entries[name]
    raise UnknownNameError(
        "model",
        name,
        entries,
        hint="Bundled models: " + ", ".join(sorted(entries)) + " (or give a path to a .mdl file).",
    )


def _read_catalog(path: Path) -> dict[str, CatalogEntry]:
    from carespiral.pysd_runner.catalog_schema import CatalogFile
    from carespiral.schema import check, read_toml

    doc, text = read_toml(path, "model catalogue")
    check(CatalogFile, doc, path, text)  # the shape: mistakes name their line and key
    entries: dict[str, CatalogEntry] = {}
    for name, table in doc.get("models", {}).items():
        if "file" not in table:
            raise FileFormatError(path, f"model {name!r} has no 'file'")
        roles: dict[str, dict[str, str]] = {}
        for kind, allowed in _ROLE_TABLES.items():
            given = dict(table.get(kind, {}))
            unknown = [r for r in given if r not in allowed]
            if unknown:
                raise FileFormatError(
                    path,
                    f"model {name!r}: {kind} role(s) {unknown} are not canonical",
                    hint="canonical " + kind + ": " + ", ".join(allowed),
                )
            roles[kind] = given
        start = table.get("start_date")
        if isinstance(start, str):
            start = dt.date.fromisoformat(start)
        entries[name] = CatalogEntry(
            name=name,
            path=path.parent / table["file"],
            title=table.get("title", name),
            description=" ".join(table.get("description", "").split()),
            time_unit=table.get("time_unit", "Month"),
            start_date=start,
            outputs=roles["outputs"],
            levers=roles["levers"],
            drivers=roles["drivers"],
        )
    return entries


# ---- human names and units ----------------------------------------------------------------
# The [labels] tables of catalog.toml: every canonical role's label, unit in words and published
# form; [models.NAME.labels] override them for one model. Reports call `naming` so that no title,
# axis or table shows a code name or "Dmnl".


@dataclass(frozen=True)
class Naming:
    """How a role or variable is shown: its label, its unit in words, how DfE publishes it."""

    label: str
    unit: str
    published: str = ""
    role: str = ""


@lru_cache(maxsize=1)
def _label_tables() -> tuple[dict[str, dict[str, str]], dict[str, dict[str, dict[str, str]]]]:
    path = models_dir() / "catalog.toml"
    doc = tomllib.loads(path.read_text(encoding="utf-8"))
    roles = {k: dict(v) for k, v in doc.get("labels", {}).items()}
    per_model = {name: {k: dict(v) for k, v in table.get("labels", {}).items()}
                 for name, table in doc.get("models", {}).items()}
    return roles, per_model


def naming(name: str, model: str | None = None, units: str | None = None) -> Naming:
    """The label and unit in words of a role, Vensim name or Python name.

    `model` (a bundled model's name) picks that model's meaning of a role; without it a variable
    is looked up in every bundled model (the main model first). `units` is the variable's unit as
    the .mdl declares it, used for variables that no role covers. Unknown names keep their name
    and get `plain_unit(units)`.
    """
    roles, per_model = _label_tables()
    entries = catalog()
    if model is not None and model not in entries and name not in roles:
        return Naming(_title(name), plain_unit(units, name))  # a model of the user's own
    order = [model] if model in entries else []
    order += [m for m in ("collapse_spiral", *entries) if m in entries and m not in order]
    role = name if name in roles else ""
    owner = model if model in entries else None
    if not role:
        for m in order:
            found = _role_of(entries[m], name)
            if found:
                role, owner = found, m
                break
    if role:
        base = dict(roles.get(role, {}))
        if owner:
            mine = {**per_model.get(owner, {}).get(role, {}),
                    **per_model.get(owner, {}).get(entries[owner].roles.get(role, ""), {})}
            if mine:  # a model's own meaning: the published form applies only if it says so
                base = {"published": "", **{k: v for k, v in base.items() if k != "published"},
                        **mine}
        return Naming(base.get("label", _title(role)), base.get("unit") or plain_unit(units, name),
                      base.get("published", ""), role)
    for m in order:
        over = per_model.get(m, {}).get(name)
        if over:
            return Naming(over.get("label", name), over.get("unit") or plain_unit(units, name),
                          over.get("published", ""))
    return Naming(_title(name), plain_unit(units, name))


def label(name: str, model: str | None = None) -> str:
    """The human label of a role or variable (see `naming`)."""
    return naming(name, model).label


def unit(name: str, model: str | None = None, units: str | None = None) -> str:
    """The unit in words, with its period, of a role or variable (see `naming`)."""
    return naming(name, model, units).unit


def published_unit(name: str, model: str | None = None) -> str:
    """How the DfE publishes the series of a role ("children in need on 31 March"), or ""."""
    return naming(name, model).published


def code_names() -> set[str]:
    """Names that must not appear in a report's visible text: canonical roles (snake_case)."""
    return {r for r in (*OUTPUT_ROLES, *LEVER_ROLES, *DRIVER_ROLES, *_label_tables()[0])
            if "_" in r}


def plain_text(text: str, model: str | None = None) -> str:
    """Free text (a model's comment, a description) with every code name replaced by its label
    ("... Wakefield 2016, re_referral_rate" -> "... Wakefield 2016, re-referral rate"), so text
    written for modellers reads in a report."""
    names = code_names()
    if not text or "_" not in text:
        return text

    def words(m: re.Match[str]) -> str:
        found = naming(m.group(0), model).label
        # mid-sentence a label reads in lower case, unless it starts with an acronym (FTE ...)
        return found if found[1:2].isupper() else found[:1].lower() + found[1:]

    pattern = r"\b(?:" + "|".join(sorted(map(re.escape, names), key=len, reverse=True)) + r")\b"
    return re.sub(pattern, words, text)


def _role_of(entry: CatalogEntry, name: str) -> str:
    key = _py(name)
    for role, var in entry.roles.items():
        if var == name or _py(var) == key:
            return role
    return ""


def _py(name: str) -> str:
    return "_".join(name.strip().lower().replace("-", " ").split())


def _title(name: str) -> str:
    """A snake_case name as words ("re_referral_rate" -> "Re referral rate"); others unchanged."""
    if "_" in name and " " not in name:
        words = name.replace("_", " ").strip()
        return words[:1].upper() + words[1:]
    return name


_WORDS = {"children": "children", "cases": "cases", "fte": "FTE", "hours": "hours",
          "month": "months", "year": "years", "percent": "%", "people": "people"}
_SINGULAR = {"children": "child", "cases": "case", "months": "month", "years": "year",
             "hours": "hour"}
_PERIODS = {"month": "a month", "year": "a year"}


def plain_unit(units: str | None, name: str = "") -> str:
    """A Vensim unit in words: "Children/Month" -> "children a month", "Dmnl" -> what the
    variable's name says it is (a share, a multiplier, a ratio to its reference), never "Dmnl".
    """
    u = (units or "").split("[")[0].strip()
    low = name.lower()
    if u.lower() in ("", "dmnl", "1", "dimensionless", "fraction"):
        if not u:
            return "unit not given"
        if any(w in low for w in ("fraction", "share", "rate")):
            return "share (0 to 1)"
        if low.startswith("effect of") or "multiplier" in low:
            return "multiplier (1 = no effect)"
        if low.startswith(("relative", "reference")) or "pressure" in low:
            return "ratio to the reference level (1 = reference)"
        if "sensitivity" in low:
            return "sensitivity (no unit)"
        return "index (no unit)"
    if u.lower() == "percent":
        return "%"
    num, _, den = u.partition("/")
    nums = [t.strip().lower() for t in num.replace("(", "").replace(")", "").split("*")]
    dens = [t.strip().lower() for t in den.replace("(", "").replace(")", "").split("*") if t]
    if "month" in nums and "month" in dens:  # FTE*Month/Month: an experience co-flow
        nums.remove("month")
        dens.remove("month")
        nums.append("month")
        return "FTE-months a month" if "fte" in nums else plain_unit("*".join(nums), name)
    words = [_WORDS.get(t, t) for t in nums if t != "1"]
    head = "-".join(w.rstrip("s") if len(words) > 1 and i < len(words) - 1 else w
                    for i, w in enumerate(words))
    period = next((_PERIODS[t] for t in dens if t in _PERIODS), "")
    per = [_SINGULAR.get(_WORDS.get(t, t), _WORDS.get(t, t)) for t in dens if t not in _PERIODS]
    per_text = "".join(f" per {w}" for w in per)
    if not head:  # 1/Month: a fraction of something each month
        kind = "share" if any(w in low for w in ("rate", "fraction")) else "fraction"
        return f"{kind} {period}".strip() if period else f"per {' per '.join(per)}"
    return f"{head}{per_text} {period}".strip()
