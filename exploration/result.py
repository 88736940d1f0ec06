"""Typed results: dataclasses of DataFrames and plain values that save to a folder and load back.

Every result of the exploration layer (an experiment, a PRIM box, Sobol indices, a bifurcation
diagram, a policy front) is a dataclass deriving from `Result`. Its DataFrame fields are written as
Parquet files and everything else as `result.json`, each file atomically, `result.json` last, so a
folder with a `result.json` is complete. `load_result(folder)` returns the right class.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np
import pandas as pd

from carespiral._atomic import atomic_path
from carespiral.errors import CarespiralError, FileFormatError

__all__ = ["Result", "load_result", "write_frame", "write_json"]

RESULT_FILE = "result.json"
_KINDS: dict[str, type[Result]] = {}
R = TypeVar("R", bound="Result")


class Result:
    """Base class of result dataclasses (see the module docstring)."""

    kind: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.kind:
            _KINDS[cls.kind] = cls

    def to_frame(self) -> pd.DataFrame:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    def summary(self) -> dict[str, Any]:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    def report(self) -> str:
        """A plain-text report: the summary, one line per entry."""
        lines = [f"{self.kind} result"]
        for k, v in self.summary().items():
            lines.append(f"  {k}: {_fmt(v)}")
        return "\n".join(lines)

    def save(self, folder: str | Path) -> Path:
        """Write every field into `folder` (created if needed); return the folder."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        meta: dict[str, Any] = {"kind": self.kind, "frames": [], "values": {}}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            v = getattr(self, f.name)
            if isinstance(v, pd.DataFrame):
                write_frame(v, folder / f"{f.name}.parquet")
                meta["frames"].append(f.name)
            else:
                meta["values"][f.name] = _jsonable(v)
        write_json(meta, folder / RESULT_FILE)
        return folder

    @classmethod
    def load(cls: type[R], folder: str | Path) -> R:
        res = load_result(folder)
        if not isinstance(res, cls):
            raise CarespiralError(f"{folder} holds a {res.kind!r} result, not {cls.kind!r}")
        return res


def load_result(folder: str | Path) -> Result:
    """Load any saved result folder."""
    folder = Path(folder)
    path = folder / RESULT_FILE
    if not path.is_file():
        raise CarespiralError(
            f"{folder} is not a finished result folder (no {RESULT_FILE}); an interrupted "
            "exploration can be continued with --resume"
        )
    try:
        meta = json.loads(path.read_text())
        cls = _KINDS[meta["kind"]]
    except (json.JSONDecodeError, KeyError) as exc:
        raise FileFormatError(path, f"not a carespiral result file ({exc})") from None
    kwargs: dict[str, Any] = dict(meta["values"])
    for name in meta["frames"]:
        kwargs[name] = pd.read_parquet(folder / f"{name}.parquet")
    return cls(**kwargs)


def write_frame(df: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        df.to_parquet(tmp)


def write_json(obj: Any, path: Path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(_jsonable(obj), indent=2))


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, Path):
        return str(v)
    return v


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, dict):
        return ", ".join(f"{k}={_fmt(x)}" for k, x in v.items())
    return str(v)
