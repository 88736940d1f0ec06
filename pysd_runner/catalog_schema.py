"""The declared shape of the model catalogue (`models/catalog.toml`, see `catalog.py`).

Each `[models.NAME]` table names its `.mdl` file and may map canonical roles (outputs, levers,
drivers) to the model's variables and override role labels; `[labels.ROLE]` tables give every
role its label, unit in words and published form.
"""

from __future__ import annotations

import datetime as dt

from pydantic import Field, field_validator

from carespiral.schema import Schema

__all__ = ["CatalogFile"]


class Label(Schema):
    label: str = Field(min_length=1)
    unit: str = ""
    published: str = ""


class ModelTable(Schema):
    file: str = Field(min_length=1)
    title: str = ""
    description: str = ""
    time_unit: str = "Month"
    start_date: str | dt.date | None = None
    outputs: dict[str, str] = Field(default_factory=dict)
    levers: dict[str, str] = Field(default_factory=dict)
    drivers: dict[str, str] = Field(default_factory=dict)
    labels: dict[str, Label] = Field(default_factory=dict)

    @field_validator("start_date")
    @classmethod
    def _iso_date(cls, value: str | dt.date | None) -> str | dt.date | None:
        if isinstance(value, str):
            try:
                dt.date.fromisoformat(value)
            except ValueError:
                raise ValueError(f"a date written YYYY-MM-DD, not {value!r}") from None
        return value


class CatalogFile(Schema):
    """The catalogue: models and role labels."""

    models: dict[str, ModelTable] = Field(default_factory=dict)
    labels: dict[str, Label] = Field(default_factory=dict)
