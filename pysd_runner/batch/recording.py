"""What a batch run keeps: whole trajectories, or per-run summaries computed on the fly.

A recorder is called by the generated code with the outputs' values (arrays over runs) at every
saved time (or every step, for summaries that integrate over time). Summaries never hold the
trajectories, so a million-run ensemble needs memory for a few arrays of a million floats.

Also here: the blow-up check (NaN, infinity, or a stock below a lower limit of 0), per run.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from carespiral.errors import CarespiralError

__all__ = ["BlowUpCheck", "ReduceRecorder", "Reduction", "Rows", "TrajectoryRecorder",
           "parse_reduce"]

STATS = ("final", "max", "min", "mean", "above", "below", "annual_sum", "annual_mean",
         "annual_end")


@dataclass(frozen=True)
class Reduction:
    """One per-run summary of one output.

    stat: final | max | min | mean (over saved times); above | below (time, in model time
    units, that the output spends above/below `threshold`, summed over time steps); annual_sum
    (integral over each period of `period` time units, e.g. a flow's yearly total), annual_mean,
    annual_end (value at each period's end, e.g. a stock at 31 March).
    """

    stat: str
    var: str | None = None  # None: every output
    threshold: float | None = None

    def label(self, var: str) -> str:
        if self.stat in ("above", "below"):
            return f"{var}:{self.stat}:{self.threshold:g}"
        return f"{var}:{self.stat}"


def parse_reduce(spec: str | Sequence[str | Reduction] | None) -> list[Reduction]:
    """Read `final,max,above:Caseload:25,annual_sum:Referrals` (or a list of such items)."""
    if spec is None:
        return []
    items = [s for s in spec.split(",")] if isinstance(spec, str) else list(spec)
    out: list[Reduction] = []
    for item in items:
        if isinstance(item, Reduction):
            out.append(item)
            continue
        text = item.strip()
        if not text:
            continue
        parts = [p.strip() for p in re.split(r":(?![^\[]*\])", text)]
        stat = parts[0].lower()
        if stat not in STATS:
            from carespiral.errors import UnknownNameError

            raise UnknownNameError("summary", stat, STATS,
                                   hint="(e.g. final, max, above:VARIABLE:THRESHOLD)")
        if stat in ("above", "below"):
            if len(parts) != 3:
                raise CarespiralError(
                    f"summary {text!r}: write {stat}:VARIABLE:THRESHOLD, e.g. above:Caseload:25")
            try:
                thr = float(parts[2])
            except ValueError:
                raise CarespiralError(f"summary {text!r}: threshold {parts[2]!r} is not a "
                                      "number") from None
            out.append(Reduction(stat, parts[1], thr))
        elif len(parts) == 1:
            out.append(Reduction(stat))
        elif len(parts) == 2:
            out.append(Reduction(stat, parts[1]))
        else:
            raise CarespiralError(f"summary {text!r}: write {stat} or {stat}:VARIABLE")
    return out


class Rows:
    """Values that are rows of one array, `block[index]` (a subscripted model's numpy engine
    keeps every value in one array): a sequence of rows (arrays over runs) like the tuple of
    values the recorders are given, which a recorder may also read at once."""

    __slots__ = ("block", "index")

    def __init__(self, block: np.ndarray, index: np.ndarray) -> None:
        self.block = block
        self.index = index

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> np.ndarray:
        return self.block[self.index[i]]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return (self.block[j] for j in self.index)

    def values(self) -> np.ndarray:
        """Every row at once: (rows, runs), a copy."""
        return self.block[self.index]


class TrajectoryRecorder:
    """Keeps every output at every saved time: arrays (run, time)."""

    every_step = False

    def __init__(self, n: int, names: Sequence[str], n_saved: int, save_every: int) -> None:
        # one array for all outputs, so that values given as `Rows` are copied in one go
        self.block = np.empty((len(names), n, n_saved))
        self.data = {name: self.block[i] for i, name in enumerate(names)}
        self.arrays = [self.data[name] for name in names]
        self.save_every = save_every
        self.n = n

    def __call__(self, k: int, time: float, values: tuple | Rows) -> None:
        j = k // self.save_every
        if isinstance(values, Rows) and len(values) == len(self.arrays):
            self.block[:, :, j] = values.values()
            return
        for arr, v in zip(self.arrays, values, strict=True):
            arr[:, j] = v


class ReduceRecorder:
    """Per-run summaries, updated as the run goes; nothing per time is kept."""

    def __init__(self, n: int, names: Sequence[str], reductions: Sequence[Reduction],
                 save_every: int, nsteps: int, t0: float, dt: float, period: float,
                 period_offset: float = 0.0) -> None:
        self.n, self.save_every, self.nsteps, self.dt = n, save_every, nsteps, dt
        self.names = list(names)
        idx = {name: i for i, name in enumerate(names)}
        self.jobs: list[tuple[str, int, Reduction, str]] = []  # (stat, output index, red, label)
        for red in reductions:
            targets = [red.var] if red.var else list(names)
            for var in targets:
                if var not in idx:
                    raise CarespiralError(f"summary {red.stat} of {var!r}: not an output")
                self.jobs.append((red.stat, idx[var], red, red.label(var)))
        self.every_step = any(s in ("above", "below") or s.startswith("annual")
                              for s, *_ in self.jobs)
        steps_per_period = period / dt
        self.spp = round(steps_per_period)
        if any(s.startswith("annual") for s, *_ in self.jobs) and (
                abs(steps_per_period - self.spp) > 1e-9 or self.spp < 1):
            raise CarespiralError(f"the annual period ({period:g}) is not a whole number of "
                                  f"time steps ({dt:g})")
        # periods start `period_offset` after the initial time (e.g. 6 months: years to the
        # September workforce census); only whole periods within the run are summarised
        self.k0 = round(period_offset / dt)
        if any(s.startswith("annual") for s, *_ in self.jobs) and (
                abs(self.k0 * dt - period_offset) > 1e-9 or not 0 <= period_offset < period):
            raise CarespiralError(f"the period offset ({period_offset:g}) must be a whole number "
                                  f"of time steps ({dt:g}) in [0, {period:g})")
        self.n_periods = max(0, (nsteps - self.k0) // self.spp) if self.spp else 0
        self.t0, self.period = t0, period
        self.acc: dict[str, np.ndarray] = {}
        self.count = 0
        for stat, _, _, label in self.jobs:
            if stat.startswith("annual"):
                self.acc[label] = np.zeros((n, self.n_periods))
            elif stat == "max":
                self.acc[label] = np.full(n, -np.inf)
            elif stat == "min":
                self.acc[label] = np.full(n, np.inf)
            else:
                self.acc[label] = np.zeros(n)

    def __call__(self, k: int, time: float, values: tuple) -> None:
        saved = k % self.save_every == 0
        if saved:
            self.count += 1
        for stat, i, red, label in self.jobs:
            v = values[i]
            a = self.acc[label]
            if stat in ("above", "below"):
                if k < self.nsteps:
                    a += ((v > red.threshold) if stat == "above" else (v < red.threshold)) * self.dt
            elif stat.startswith("annual"):
                kk = k - self.k0
                if kk < 0:
                    continue
                p = kk // self.spp
                if stat == "annual_end":
                    if kk % self.spp == 0 and 0 < p <= self.n_periods:
                        a[:, p - 1] = v
                elif p < self.n_periods:
                    col = a[:, p]
                    col += v * self.dt if stat == "annual_sum" else v / self.spp
            elif not saved:
                continue
            elif stat == "final":
                a[:] = v
            elif stat == "max":
                np.fmax(a, v, out=a)
            elif stat == "min":
                np.fmin(a, v, out=a)
            elif stat == "mean":
                a += v

    def results(self) -> dict[str, np.ndarray]:
        out = {}
        for stat, _, _, label in self.jobs:
            a = self.acc[label]
            out[label] = a / self.count if stat == "mean" else a
        return out


class BlowUpCheck:
    """Flags, per run, the first checked time at which a state is NaN, infinite or negative."""

    def __init__(self, n: int, labels: Sequence[str], nonneg: Sequence[bool]) -> None:
        self.time = np.full(n, np.nan)
        self.variable = np.full(n, "", dtype=object)
        self.kind = np.full(n, "", dtype=object)
        self.labels = list(labels)
        self.nonneg = list(nonneg)
        self.bad = np.zeros(n, dtype=bool)

    def __call__(self, k: int, time: float, states: tuple | Rows) -> None:
        if isinstance(states, Rows) and len(states) == len(self.labels):
            # every state at once; only those with something to flag are looked at, in order
            x = states.values()
            bad_all = ~np.isfinite(x)
            neg_all = (x < 0) & np.asarray(self.nonneg, dtype=bool)[:, None]
            for i in np.flatnonzero(bad_all.any(axis=1) | neg_all.any(axis=1)):
                if neg_all[i].any():
                    self._flag(np.broadcast_to(neg_all[i], self.bad.shape), time,
                               self.labels[i], "negative")
                if bad_all[i].any():
                    self._flag(np.broadcast_to(bad_all[i], self.bad.shape), time,
                               self.labels[i], "not finite")
            return
        for label, nonneg, x in zip(self.labels, self.nonneg, states, strict=True):
            x = np.asarray(x)
            bad = ~np.isfinite(x)
            kind = "not finite"
            if nonneg:
                neg = x < 0
                if neg.any():
                    self._flag(np.broadcast_to(neg, self.bad.shape), time, label, "negative")
            if bad.any():
                self._flag(np.broadcast_to(bad, self.bad.shape), time, label, kind)

    def _flag(self, mask: np.ndarray, time: float, label: str, kind: str) -> None:
        new = mask & ~self.bad
        if new.any():
            self.time[new] = time
            self.variable[new] = label
            self.kind[new] = kind
            self.bad |= new
