"""Loop dominance with Loops That Matter, computed by the Simlin engine (`pysimlin`).

Simlin compiles the same `.mdl` file, finds every feedback loop and scores each loop's share of the
behaviour at every time (relative loop scores, between -1 and 1; negative for balancing loops). The
dominant loop at a time is the one with the largest absolute score; `switches()` lists when
dominance changes hands, so a report can say "the attrition spiral took over in month 30".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from carespiral.errors import CarespiralError
from carespiral.results import Result

__all__ = ["LoopDominance", "loop_dominance"]


@dataclass
class LoopDominance(Result):
    """`scores` (time x loop id: relative loop score) and `loops` (id, polarity, variables)."""

    scores: pd.DataFrame
    loops: pd.DataFrame
    model: str
    overrides: dict

    kind = "loop_dominance"

    def to_frame(self) -> pd.DataFrame:
        return self.scores

    def dominant(self, min_score: float = 0.05) -> pd.Series:
        """The loop with the largest |score| at each time ('' where none reaches `min_score`)."""
        a = self.scores.abs()
        top = a.idxmax(axis=1).where(a.max(axis=1) >= min_score, "")
        return top.rename("dominant")

    def switches(self, min_months: float = 0.0) -> pd.DataFrame:
        """Times at which the dominant loop changes: time, from, to, the new loop's variables.

        Spells of dominance shorter than `min_months` are ignored, so a flicker between two
        loops of similar strength does not read as a change of regime.
        """
        d = self.dominant()
        t = d.index.to_numpy(dtype=float)
        spells = []  # (start time, loop) of each unbroken spell
        for i, loop in enumerate(d.to_numpy()):
            if not spells or spells[-1][1] != loop:
                spells.append((t[i], loop, i))
        kept = []
        for k, (start, loop, _) in enumerate(spells):
            end = spells[k + 1][0] if k + 1 < len(spells) else t[-1] + (t[-1] - t[-2] if len(t) > 1 else 0)
            if end - start >= min_months and (not kept or kept[-1][1] != loop):
                kept.append((start, loop))
        variables = self.loops.set_index("id")["variables"]
        rows = [{"time": float(start), "from": kept[k - 1][1] if k else "", "to": loop,
                 "variables": variables.get(loop, "")}
                for k, (start, loop) in enumerate(kept) if loop or k]
        return pd.DataFrame(rows, columns=["time", "from", "to", "variables"])

    def in_window(self, start: float, end: float, n: int = 3) -> pd.Series:
        """Loops with the largest mean |score| between `start` and `end` (e.g. before the tip)."""
        idx = self.scores.index
        w = self.scores[(idx >= start) & (idx <= end)]
        return w.abs().mean().sort_values(ascending=False).head(n)

    def summary(self) -> dict[str, Any]:
        sw = self.switches()
        return {"model": self.model, "loops": len(self.loops),
                "switches": [f"month {r.time:g}: {r['from'] or '-'} -> {r.to or '-'}"
                             for _, r in sw.iterrows()][:12]}


def loop_dominance(model, params: Mapping[str, float] | None = None,
                   timeout: float = 60.0) -> LoopDominance:
    """Loop scores over a run of `model` (a carespiral Model) with constant overrides `params`.

    Small models get every loop (exhaustive enumeration). Models too large for that (simlin
    switches to discovery mode) get the loops found by simlin's post-simulation discovery, which
    runs on the model as written: the overrides are then written into a temporary copy of the
    `.mdl` file, constant by constant.
    """
    import tempfile
    import warnings

    import simlin  # pysimlin, a core dependency; imported here because it is heavy

    values = {model.parameter(k).name: float(v) for k, v in (params or {}).items()}
    overrides = {_ident(k): v for k, v in values.items()}
    sm = simlin.load(str(model.mdl_path))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # "too large": handled below
            run = sm.run(overrides=overrides, analyze_loops=True)
        loops, times = run.loops, run.results.index
        if not loops:
            with tempfile.TemporaryDirectory() as tmp:
                copy = Path(tmp) / model.mdl_path.name
                copy.write_text(_with_constants(model.mdl_path, values), encoding="utf-8")
                found = simlin.load(str(copy)).analyze(timeout=timeout)
            if found.analysis_error:
                raise CarespiralError(f"simlin could not analyse {model.mdl_path}: "
                                      f"{found.analysis_error}")
            loops = found.loops
    except simlin.SimlinError as exc:
        raise CarespiralError(f"simlin could not run {model.mdl_path}: {exc}") from None
    index = pd.Index(np.asarray(times, dtype=float), name="time")
    scores = pd.DataFrame({lp.id: np.asarray(lp.behavior_time_series, dtype=float)[:len(index)]
                           for lp in loops}, index=index).fillna(0.0)
    table = pd.DataFrame([{"id": lp.id, "polarity": str(lp.polarity),
                           "variables": " -> ".join(lp.variables)} for lp in loops],
                         columns=["id", "polarity", "variables"])
    return LoopDominance(scores, table, model.name, overrides)


def _with_constants(path: Path, values: Mapping[str, float]) -> str:
    """The .mdl text with each named constant's equation replaced by a number."""
    text = path.read_text(encoding="utf-8")
    for name, v in values.items():
        pattern = re.compile(rf"^({re.escape(name)}\s*=\s*\n\s*)[-+0-9.eE]+(\s*\n\s*~)", re.M)
        text, n = pattern.subn(lambda m, v=v: f"{m.group(1)}{v!r}{m.group(2)}", text)
        if n != 1:
            raise CarespiralError(f"{path}: cannot find {name!r} as a plain numeric constant to set")
    return text


def _ident(name: str) -> str:
    # simlin's canonical identifiers: lower case, spaces as underscores
    return "_".join(name.lower().split())
