"""Loop dominance with Loops That Matter (optional: needs `pysimlin`, `pip install carespiral[simlin]`).

Simlin compiles the same `.mdl` file, finds every feedback loop and scores each loop's share of the
behaviour at every time (relative loop scores, between -1 and 1; negative for balancing loops). The
dominant loop at a time is the one with the largest absolute score; `switches()` lists when
dominance changes hands, so a report can say "the attrition spiral took over in month 30".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from carespiral.errors import CarespiralError
from carespiral.exploration.result import Result

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

    def switches(self) -> pd.DataFrame:
        """Times at which the dominant loop changes: time, from, to, the new loop's variables."""
        d = self.dominant()
        change = (d != d.shift()) & ~(d.shift().isna() & (d == ""))
        rows = []
        variables = self.loops.set_index("id")["variables"]
        for t, new in d[change].items():
            prev = d.shift()[t]
            rows.append({"time": float(t), "from": prev if isinstance(prev, str) else "",
                         "to": new, "variables": variables.get(new, "")})
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


def loop_dominance(model, params: Mapping[str, float] | None = None) -> LoopDominance:
    """Loop scores over a run of `model` (a carespiral Model) with constant overrides `params`."""
    try:
        import simlin
    except ImportError:
        raise CarespiralError(
            "loop dominance needs the optional pysimlin package: pip install 'carespiral[simlin]'"
        ) from None
    overrides = {}
    for k, v in (params or {}).items():
        name = model.parameter(k).name
        overrides[_ident(name)] = float(v)
    sm = simlin.load(str(model.mdl_path))
    try:
        run = sm.run(overrides=overrides, analyze_loops=True)
    except simlin.SimlinError as exc:
        raise CarespiralError(f"simlin could not run {model.mdl_path}: {exc}") from None
    index = pd.Index(np.asarray(run.results.index, dtype=float), name="time")
    scores = pd.DataFrame({lp.id: np.asarray(lp.behavior_time_series, dtype=float)
                           for lp in run.loops}, index=index).fillna(0.0)
    loops = pd.DataFrame([{"id": lp.id, "polarity": str(lp.polarity),
                           "variables": " -> ".join(lp.variables)} for lp in run.loops])
    return LoopDominance(scores, loops, model.name, overrides)


def _ident(name: str) -> str:
    # simlin's canonical identifiers: lower case, spaces as underscores
    return "_".join(name.lower().split())
