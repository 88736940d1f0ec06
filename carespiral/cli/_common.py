"""Helpers shared by the CLI commands: parsing options, loading models, writing tables."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from rich.console import Console

from carespiral._atomic import atomic_path
from carespiral.errors import CarespiralError

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def parse_sets(items: list[str] | None) -> dict[str, float]:
    """`NAME=VALUE` pairs from repeated --set options."""
    out: dict[str, float] = {}
    for item in items or []:
        if "=" not in item:
            raise CarespiralError(f"--set {item!r}: expected NAME=VALUE, e.g. --set 'Referral Rate=300'")
        name, _, value = item.partition("=")
        name, value = name.strip(), value.strip()
        try:
            out[name] = float(value)
        except ValueError:
            raise CarespiralError(f"--set {name}={value!r}: expected a number after '='") from None
    return out


def split_list(text: str | None) -> list[str] | None:
    if not text:
        return None
    return [part.strip() for part in text.split(",") if part.strip()]


def write_table(df: pd.DataFrame, path: Path) -> None:
    """Write a CSV or Parquet file (with the index) whole or not at all."""
    if path.suffix.lower() not in (".csv", ".parquet"):
        raise CarespiralError(f"--out {path}: expected a .csv or .parquet file name")
    with atomic_path(path) as tmp:
        if path.suffix.lower() == ".csv":
            df.to_csv(tmp)
        else:
            df.to_parquet(tmp)
