"""The catalogue of bundled models (`models/catalog.toml`) and the canonical roles."""

from __future__ import annotations

import datetime as dt
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
    "catalog",
    "get_entry",
    "models_dir",
]

OUTPUT_ROLES: tuple[str, ...] = (
    "referrals",
    "re_referral_rate",
    "assessments",
    "awaiting_assessment",
    "children_in_need",
    "cp_plans",
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
DRIVER_ROLES: tuple[str, ...] = ("underlying_need", "scandal_shock")

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
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise FileFormatError(path, f"not valid TOML: {exc}") from None
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
