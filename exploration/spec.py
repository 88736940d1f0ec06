"""Exploration specs: a TOML file naming the model, its uncertainties, levers, criteria, outcomes.

    model = "workforce_spiral"
    title = "Where does a mid-sized authority tip?"
    runs = 512                     # experiments (rounded up to a power of two for Sobol designs)
    design = "lhs"                 # lhs | sobol | saltelli (Sobol indices) | morris (screening)
    seed = 1                       # the design's and the model's RANDOM functions' seed
    chunk = 64                     # runs per batch; each chunk is saved as soon as it is done
    stop = 240                     # months (optional: start, time_step, saveper, scenario)

    [uncertainties]
    "Referral Rate" = [200, 450]   # uniform range (names: Vensim, Python or role)
    # posterior = "calibration/out"  # optional: draws from a calibration result folder

    [levers]
    establishment = { range = [120, 220] }   # costed in £ by exploration/costs.py; override with
                                             # cost / cost_below = £ a year per unit above / below
                                             # the default

    [costs]                        # optional: override unit costs of data/unit_costs.csv
    salary = 45000

    [[criteria]]                   # optional: defaults in `criteria.py`
    type = "above"                 # above | below | growing
    variable = "caseload"
    value = 25
    months = 12

    [[outcomes]]                   # optional: peak and final of every output role by default
    name = "peak_caseload"
    variable = "caseload"
    stat = "max"                   # max | min | final | mean | mean_last (with `months`)

    [optimise]                     # for `carespiral optimise`
    population = 24
    generations = 10
    ensemble = 32                  # uncertainty draws every candidate policy is tested on
    robustness = "p90"             # p90 | mean (maximum regret is reported for the front)
    short_run = 24                 # months: the horizon that reveals levers that only look good early
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from carespiral.errors import CarespiralError
from carespiral.exploration.criteria import Criterion, default_criteria, read_criteria
from carespiral.exploration.designs import DESIGNS

__all__ = ["ExploreSpec", "Lever", "OptimiseSettings", "Outcome", "Uncertainty", "read_spec"]

STATS = ("max", "min", "final", "mean", "mean_last")


@dataclass(frozen=True)
class Uncertainty:
    """A parameter we do not know, sampled uniformly between `lower` and `upper`."""

    name: str
    lower: float
    upper: float


@dataclass(frozen=True)
class Lever:
    """A policy setting between `lower` and `upper`; `cost`/`cost_below`: £ a year per unit above /
    below the model's default, overriding the cost model (`exploration.costs`) when given."""

    name: str
    lower: float
    upper: float
    cost: float | None = None
    cost_below: float | None = None


@dataclass(frozen=True)
class Outcome:
    """A per-run summary of one output: its max, min, final value or mean (over the last months)."""

    name: str
    variable: str
    stat: str = "max"
    months: float = 12.0

    def compute(self, values, times):
        import numpy as np

        if self.stat == "max":
            return np.nanmax(values, axis=1)
        if self.stat == "min":
            return np.nanmin(values, axis=1)
        if self.stat == "final":
            return values[:, -1]
        if self.stat == "mean":
            return np.nanmean(values, axis=1)
        keep = times >= times[-1] - self.months - 1e-9
        return np.nanmean(values[:, keep], axis=1)


@dataclass(frozen=True)
class OptimiseSettings:
    population: int = 24
    generations: int = 10
    ensemble: int = 32
    robustness: str = "p90"
    short_run: float = 24.0


@dataclass(frozen=True)
class ExploreSpec:
    """Everything an exploration needs; `read_spec` builds it from TOML and checks every name."""

    model: str
    title: str = ""
    description: str = ""
    runs: int = 256
    design: str = "lhs"  # a name in `designs.DESIGNS`
    seed: int = 1
    chunk: int = 64
    start: float | None = None
    stop: float | None = None
    time_step: float | None = None
    saveper: float | None = None
    scenario: str | None = None
    uncertainties: tuple[Uncertainty, ...] = ()
    levers: tuple[Lever, ...] = ()
    posterior: str | None = None
    criteria: tuple[Criterion, ...] = ()
    outcomes: tuple[Outcome, ...] = ()
    optimise: OptimiseSettings = field(default_factory=OptimiseSettings)
    source: str = ""
    costs: Mapping[str, float] = field(default_factory=dict)  # unit-cost overrides ([costs])

    @property
    def model_ref(self) -> str | Path:
        """The model to load: a model file named relative to the spec file is found beside it;
        otherwise the name as given (a bundled model or a path)."""
        from carespiral.pysd_runner.model import model_beside

        return model_beside(self.model, self.source or None)

    @property
    def factors(self) -> tuple[Uncertainty | Lever, ...]:
        """Everything sampled in an exploration: uncertainties then levers."""
        return (*self.uncertainties, *self.levers)

    def with_runs(self, runs: int | None) -> ExploreSpec:
        from dataclasses import replace

        return self if runs is None else replace(self, runs=int(runs))

    def bind(self, model) -> ExploreSpec:
        """Resolve every name against `model` (roles and Python names become Vensim names),
        check ranges against the model's bounds and fill in default criteria and outcomes."""
        from dataclasses import replace

        where = self.source or "spec"

        def param(name: str) -> str:
            try:
                return model.parameter(name).name
            except CarespiralError as exc:
                raise CarespiralError(f"{where}: {exc}") from None

        def ranged(obj):
            p = model.parameter(param(obj.name))
            for v in (obj.lower, obj.upper):
                try:
                    p.check(v)
                except CarespiralError as exc:
                    raise CarespiralError(f"{where}: range of {obj.name!r}: {exc}") from None
            return replace(obj, name=p.name)

        self._check_size(model, where)
        unc = tuple(ranged(u) for u in self.uncertainties)
        lev = tuple(ranged(lv) for lv in self.levers)
        names = [f.name for f in (*unc, *lev)]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise CarespiralError(f"{where}: {sorted(dup)} listed more than once")
        if not self.criteria and not default_criteria(model):
            raise CarespiralError(
                f"{where}: no default collapse criteria apply to model {model.name!r} (it has "
                "none of the roles caseload, vacancy_rate, social_workers_fte, "
                "awaiting_assessment); give [[criteria]] tables"
            )
        try:
            crit = tuple(c.bind(model) for c in (self.criteria or default_criteria(model)))
            outs = self.outcomes or default_outcomes(model)
            outs = tuple(replace(o, variable=model.resolve(o.variable)) for o in outs)
        except CarespiralError as exc:
            raise CarespiralError(f"{where}: {exc}") from None
        return replace(self, uncertainties=unc, levers=lev, criteria=crit, outcomes=outs)


    def _check_size(self, model, where: str) -> None:
        """A stop after the start, and runs x steps within the runner's limits (checked before
        the design is built, so a spec of 10^13 runs is refused, not a MemoryError)."""
        from carespiral.pysd_runner.limits import check_size

        start = model.control("initial_time") if self.start is None else self.start
        stop = model.control("final_time") if self.stop is None else self.stop
        dt = model.control("time_step") if self.time_step is None else self.time_step
        if not stop > start:
            raise CarespiralError(f"{where}: stop = {stop:g} must come after the start "
                                  f"({start:g}): the runs would have no length")
        kept = (stop - start) / (self.saveper or model.control("saveper") or dt) + 1
        per_run = len(self.factors) + max(len(self.outcomes), 12) + 4  # design and outcomes
        check_size((stop - start) / dt, float(self.runs) * per_run + self.chunk * kept * 16,
                   f"{where}: {self.runs:,} runs", f"(({stop:g} - {start:g}) / {dt:g})")


def default_outcomes(model) -> tuple[Outcome, ...]:
    out = []
    for role in ("caseload", "social_workers_fte", "vacancy_rate", "awaiting_assessment",
                 "children_in_need", "workload_pressure"):
        if role in model.outputs:
            out.append(Outcome(f"peak_{role}", role, "max"))
            out.append(Outcome(f"final_{role}", role, "final"))
    return tuple(out)


def read_spec(path: str | Path) -> ExploreSpec:
    """Read and check an exploration spec (see the module docstring for the format)."""
    path = Path(path)
    if not path.is_file():
        from importlib.resources import files

        bundled = Path(str(files("carespiral.models") / "specs"))
        alt = bundled / (path.name if path.suffix == ".toml" else f"{path.name}.toml")
        if not alt.is_file():
            known = sorted(p.stem for p in bundled.glob("*.toml")) if bundled.is_dir() else []
            raise CarespiralError(
                f"spec {path} does not exist (bundled specs: {', '.join(known) or 'none'})"
            )
        path = alt
    from carespiral.exploration.spec_schema import ExploreSpecFile
    from carespiral.schema import check, read_toml

    data, text = read_toml(path, "exploration spec")
    check(ExploreSpecFile, data, path, text)  # the shape: mistakes name their line and key
    return spec_from_dict(data, path)


def spec_from_dict(data: Mapping[str, Any], path: str | Path = "spec") -> ExploreSpec:
    from carespiral.exploration.spec_schema import ExploreSpecFile
    from carespiral.schema import check

    check(ExploreSpecFile, data, path)
    data = dict(data)
    where = str(path)

    def err(msg: str) -> CarespiralError:
        return CarespiralError(f"{where}: {msg}")

    known = {"model", "title", "description", "runs", "design", "seed", "chunk", "start", "stop",
             "time_step", "saveper", "scenario", "uncertainties", "levers", "criteria", "outcomes",
             "optimise", "costs"}
    unknown = set(data) - known
    if unknown:
        raise err(f"unknown keys {sorted(unknown)}; expected some of {sorted(known)}")
    if "model" not in data:
        raise err("needs `model = \"NAME\"` (a bundled model name or a .mdl path)")
    design = data.get("design", "lhs")
    if design not in DESIGNS:
        raise err(f"design must be one of {', '.join(DESIGNS)}, got {design!r}")

    def posint(key: str, default: int) -> int:
        v = data.get(key, default)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise err(f"{key} must be a positive whole number, got {v!r}")
        return v

    unc_table = dict(data.get("uncertainties", {}))
    posterior = unc_table.pop("posterior", None)
    if posterior is not None:
        p = Path(posterior)
        posterior = str(p if p.is_absolute() else Path(where).parent / p)
    uncertainties = tuple(
        Uncertainty(name, *_range(v, f"{where}: [uncertainties] {name!r}"))
        for name, v in unc_table.items()
    )
    levers = []
    for name, v in dict(data.get("levers", {})).items():
        ctx = f"{where}: [levers] {name!r}"
        if isinstance(v, dict):
            extra = set(v) - {"range", "cost", "cost_below"}
            if extra or "range" not in v:
                raise CarespiralError(f"{ctx}: expected {{ range = [low, high], cost = £ a year "
                                      "per unit above the default, cost_below = ... below }")
            lo, hi = _range(v["range"], ctx)
            rates = {k: _num(v[k], f"{ctx} {k}") for k in ("cost", "cost_below") if k in v}
            if any(r < 0 for r in rates.values()):
                raise CarespiralError(f"{ctx}: costs are spending in £ a year and cannot be "
                                      "negative; a cut that costs money is cost_below")
            levers.append(Lever(name, lo, hi, rates.get("cost"), rates.get("cost_below")))
        else:
            levers.append(Lever(name, *_range(v, ctx)))
    if not uncertainties and not levers and posterior is None:
        raise err("nothing to vary: give [uncertainties] and/or [levers]")
    outcomes = []
    for i, o in enumerate(data.get("outcomes", []), 1):
        ctx = f"{where}: [[outcomes]] number {i}"
        o = dict(o)
        try:
            out = Outcome(str(o.pop("name")), str(o.pop("variable")), str(o.pop("stat", "max")),
                          _num(o.pop("months", 12.0), ctx))
        except KeyError as exc:
            raise CarespiralError(f"{ctx} needs a {exc.args[0]!r} key") from None
        if o:
            raise CarespiralError(f"{ctx}: unknown keys {sorted(o)}")
        if out.stat not in STATS:
            raise CarespiralError(f"{ctx}: stat must be one of {', '.join(STATS)}, got {out.stat!r}")
        outcomes.append(out)
    opt = dict(data.get("optimise", {}))
    extra = set(opt) - {"population", "generations", "ensemble", "robustness", "short_run"}
    if extra:
        raise err(f"[optimise]: unknown keys {sorted(extra)}")
    robustness = opt.get("robustness", "p90")
    if robustness not in ("p90", "mean"):
        raise err(f"[optimise] robustness must be p90 or mean, got {robustness!r}")
    settings = OptimiseSettings(
        population=int(opt.get("population", 24)), generations=int(opt.get("generations", 10)),
        ensemble=int(opt.get("ensemble", 32)), robustness=robustness,
        short_run=_num(opt.get("short_run", 24.0), f"{where}: [optimise] short_run"),
    )
    costs = dict(data.get("costs", {}))
    for k, v in costs.items():
        costs[k] = _num(v, f"{where}: [costs] {k}")
    return ExploreSpec(
        model=str(data["model"]),
        title=str(data.get("title", "")),
        description=str(data.get("description", "")),
        runs=posint("runs", 256),
        design=design,
        seed=int(data.get("seed", 1)),
        chunk=posint("chunk", 64),
        start=_opt_num(data, "start", where),
        stop=_opt_num(data, "stop", where),
        time_step=_opt_num(data, "time_step", where),
        saveper=_opt_num(data, "saveper", where),
        scenario=data.get("scenario"),
        uncertainties=uncertainties,
        levers=tuple(levers),
        posterior=posterior,
        criteria=tuple(read_criteria(data.get("criteria", []), where)),
        outcomes=tuple(outcomes),
        optimise=settings,
        source=where,
        costs=costs,
    )


def _num(v: Any, ctx: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise CarespiralError(f"{ctx}: expected a finite number, got {v!r}")
    return float(v)


def _opt_num(data: Mapping[str, Any], key: str, where: str) -> float | None:
    return None if key not in data else _num(data[key], f"{where}: {key}")


def _range(v: Any, ctx: str) -> tuple[float, float]:
    if not isinstance(v, list) or len(v) != 2:
        raise CarespiralError(f"{ctx}: expected a range [low, high], got {v!r}")
    lo, hi = _num(v[0], ctx), _num(v[1], ctx)
    if not lo < hi:
        raise CarespiralError(f"{ctx}: low ({lo:g}) must be below high ({hi:g})")
    return lo, hi
