"""The model object: load a `.mdl`, describe it, run it without leaking state between runs."""

from __future__ import annotations

import contextlib
import math
import time as _time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from carespiral.errors import CarespiralError, UnknownNameError
from carespiral.pysd_runner.calendar import months_to_dates
from carespiral.pysd_runner.catalog import CatalogEntry, catalog, get_entry
from carespiral.pysd_runner.diagnostics import explain
from carespiral.pysd_runner.limits import check_size
from carespiral.pysd_runner.names import normalise
from carespiral.pysd_runner.parameters import CONTROL_NAMES, Parameter, Variable
from carespiral.pysd_runner.run_inputs import (
    TimeGrid,
    scenario_constants,
    scenario_series,
    time_grid,
)
from carespiral.pysd_runner.scenario import Scenario, read_scenario
from carespiral.pysd_runner.translate import Translation, translation

if TYPE_CHECKING:
    import xarray as xr

    from carespiral.pysd_runner.rates import RateFunction

__all__ = ["LoadInfo", "Model", "load", "model_beside"]

ParamValue = float | int | pd.Series


@dataclass(frozen=True)
class LoadInfo:
    """How a model was loaded: where the translation lives and whether it came from the cache."""

    translated: Path
    cache_hit: bool
    seconds: float


def load(name_or_path: str | Path, allow_external: bool | None = None) -> Model:
    """Load a bundled model by name (see `carespiral models`) or any `.mdl`/XMILE file by path.

    Loading is safe for models from anyone: comments never reach the translated code, and the
    translation is checked before it is imported (see `carespiral.pysd_runner.translate`).
    External data files (GET DIRECT/XLS ...) must lie in the model's folder or below unless
    `allow_external` is true (default: the environment variable CARESPIRAL_ALLOW_EXTERNAL).
    """
    text = str(name_or_path)
    path = Path(text)
    looks_like_path = path.suffix.lower() in (".mdl", ".xmile", ".xml", ".stmx") or "/" in text
    if text in catalog() and not path.is_file():
        entry: CatalogEntry | None = get_entry(text)
        assert entry is not None
        path = entry.path
    elif looks_like_path:
        entry = next((e for e in catalog().values() if _same_file(e.path, path)), None)
    else:
        get_entry(text)  # raises UnknownNameError with the closest bundled model
        raise AssertionError("unreachable")
    return Model(path, entry, allow_external=allow_external)


def model_beside(model: str, spec_path: str | Path | None) -> str | Path:
    """What a spec's `model = "..."` names: a model file given relative to the spec file and
    found beside it, else the name as given (a bundled model, or a path from the working
    folder)."""
    if spec_path and model.lower().endswith((".mdl", ".xmile", ".xml", ".stmx")):
        beside = Path(spec_path).parent / model
        if not Path(model).is_absolute() and beside.is_file():
            return beside
    return model


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


class Model:
    """A translated model, ready to run. Every run starts from the model as written."""

    def __init__(self, path: Path, entry: CatalogEntry | None = None,
                 allow_external: bool | None = None) -> None:
        self.mdl_path = Path(path)
        self.entry = entry
        self.name = entry.name if entry else self.mdl_path.stem
        t0 = _time.perf_counter()
        self._translation: Translation = translation(self.mdl_path, allow_external)
        with self._explained():
            self._pysd = _load_pysd(self._translation.module)
            self._defaults = {v.py_name: self._pysd.components.__getattribute__(v.py_name)()
                              for v in self.variables if v.kind in ("constant", "control")}
        self.load_info = LoadInfo(self._translation.cached_module, self._translation.cache_hit,
                                  _time.perf_counter() - t0)

    def __repr__(self) -> str:
        return f"<Model {self.name!r} from {self.mdl_path}>"

    # ---- description -------------------------------------------------------------------------

    @property
    def title(self) -> str:
        return self.entry.title if self.entry else self.name

    @property
    def description(self) -> str:
        return self.entry.description if self.entry else ""

    @cached_property
    def variables(self) -> list[Variable]:
        """Every variable of the model, with its kind (stock, flow, auxiliary, constant, ...)."""
        doc = self._pysd.doc
        deps = self._pysd._dependencies
        # A flow is a named rate of a stock. A stock whose rate mentions the stock itself (e.g.
        # (Target - Stock) / Time) is an adjustment, and what it mentions are not flows.
        flows: set[str] = set()
        for k, v in deps.items():
            if k.startswith("_integ_"):
                step = v.get("step", {})
                if k.removeprefix("_integ_") not in step:
                    flows.update(step)
        out = []
        for row in doc.itertuples(index=False):
            real, py = row[0], row[1]
            if py == "time":
                continue
            typ, sub = row.Type, row.Subtype
            if real in CONTROL_NAMES:
                kind = "control"
            elif typ == "Stateful" and sub == "Integ":
                kind = "stock"
            elif typ == "Stateful":
                kind = "stateful"
            elif typ == "Constant":
                kind = "constant"
            elif typ == "Lookup":
                kind = "lookup"
            elif py in flows:
                kind = "flow"
            else:
                kind = "auxiliary"
            lo, hi = _limits(row.Limits)
            units = self._translation.units.get(real, "")
            comment = self._translation.comments.get(real, "")
            out.append(Variable(
                name=real, py_name=py, kind=kind,
                units="" if not isinstance(units, str) else units,
                description="" if not isinstance(comment, str) else " ".join(comment.split()),
                lower=lo, upper=hi,
            ))
        return out

    @cached_property
    def parameters(self) -> list[Parameter]:
        """The constants a user may set, with units, default and bounds."""
        return [
            Parameter(v.name, v.py_name, v.units, float(self._defaults[v.py_name]),
                      v.lower, v.upper, v.description)
            for v in self.variables if v.kind == "constant"
        ]

    @property
    def stocks(self) -> list[str]:
        return [v.name for v in self.variables if v.kind == "stock"]

    @property
    def flows(self) -> list[str]:
        return [v.name for v in self.variables if v.kind == "flow"]

    @property
    def outputs(self) -> dict[str, str]:
        """Canonical output roles of this model mapped to its variable names."""
        return dict(self.entry.outputs) if self.entry else {}

    @property
    def levers(self) -> dict[str, str]:
        return dict(self.entry.levers) if self.entry else {}

    @property
    def drivers(self) -> dict[str, str]:
        return dict(self.entry.drivers) if self.entry else {}

    @property
    def roles(self) -> dict[str, str]:
        return {**self.outputs, **self.levers, **self.drivers}

    @property
    def start_date(self):
        return self.entry.start_date if self.entry else None

    @property
    def doc(self) -> pd.DataFrame:
        """One row per variable: kind, units, bounds, default (constants) and description."""
        role_of = {v: r for r, v in self.roles.items()}
        rows = [{
            "name": v.name, "py_name": v.py_name, "kind": v.kind, "units": v.units,
            "default": self._defaults.get(v.py_name, np.nan), "lower": v.lower, "upper": v.upper,
            "role": role_of.get(v.name, ""), "description": v.description,
        } for v in self.variables]
        return pd.DataFrame(rows).set_index("name")

    def parameter(self, name: str) -> Parameter:
        real = self.resolve(name)
        for p in self.parameters:
            if p.name == real:
                return p
        raise CarespiralError(
            f"{real!r} is not a constant of model {self.name!r} and cannot be set; "
            f"settable: {', '.join(p.name for p in self.parameters[:8])}..."
        )

    # ---- names ----------------------------------------------------------------------------------

    @cached_property
    def _names(self) -> dict[str, str]:
        table: dict[str, str] = {}
        for v in self.variables:
            table[normalise(v.name)] = v.name
            table[normalise(v.py_name)] = v.name
        for role, real in self.roles.items():
            table.setdefault(normalise(role), real)
        return table

    def resolve(self, name: str) -> str:
        """The Vensim name for a Vensim name, a PySD Python name or a catalogue role."""
        key = normalise(name)
        if key in self._names:
            return self._names[key]
        known = [v.name for v in self.variables] + list(self.roles)
        raise UnknownNameError("variable", name, known, hint=f"(model {self.name!r})")

    # ---- scenarios ----------------------------------------------------------------------------

    @property
    def scenarios(self) -> dict[str, Path]:
        """Scenario files beside the model (`scenarios/<model>/*.toml`), by name."""
        folder = self.mdl_path.parent / "scenarios" / self.name
        return {p.stem: p for p in sorted(folder.glob("*.toml"))} if folder.is_dir() else {}

    def scenario(self, name_or_path: str | Path | Scenario) -> Scenario:
        if isinstance(name_or_path, Scenario):
            return name_or_path
        text = str(name_or_path)
        if text in self.scenarios:
            return read_scenario(self.scenarios[text])
        path = Path(text)
        if path.suffix == ".toml" or path.exists():
            if not path.is_file():
                raise CarespiralError(f"scenario file {path} does not exist")
            return read_scenario(path)
        available = ", ".join(self.scenarios) or "none"
        raise UnknownNameError(
            "scenario", text, self.scenarios,
            hint=f"(model {self.name!r} has scenarios: {available}; or give a path to a .toml file)",
        )

    # ---- running ------------------------------------------------------------------------------

    def control(self, name: str) -> float:
        return float(self._defaults[name])

    def run(
        self,
        params: Mapping[str, ParamValue] | None = None,
        scenario: str | Path | Scenario | None = None,
        start: float | None = None,
        stop: float | None = None,
        time_step: float | None = None,
        saveper: float | None = None,
        outputs: Sequence[str] | None = None,
        seed: int | None = None,
    ) -> pd.DataFrame:
        """Run once and return the outputs by model time (plus a `date` column if dated).

        `params` maps names (Vensim, Python or role) to numbers or to pandas Series indexed by
        model time; they override the scenario's values. Nothing carries over to the next run.
        `seed` fixes the draws of the model's RANDOM functions (PySD's own generator, so they
        differ from the batch engines' draws for the same seed); None leaves them unseeded.
        """
        grid = self.time_grid(start, stop, time_step, saveper)
        columns = [self.resolve(o) for o in outputs] if outputs else None
        self._check_size(grid, len(columns) if columns else len(self.variables))
        sc = self.scenario(scenario) if scenario is not None else None
        values = self._run_values(params, sc, grid)
        df = self._simulate(values, grid, columns, seed)
        if self.start_date is not None:
            df.insert(0, "date", months_to_dates(df.index.to_numpy(), self.start_date))
        return df

    def time_grid(self, start: float | None = None, stop: float | None = None,
                  time_step: float | None = None, saveper: float | None = None) -> TimeGrid:
        """The time grid `run` uses for these options (the model's controls unless given)."""
        return time_grid(self, start, stop, time_step, saveper)

    def run_batch(
        self,
        params: pd.DataFrame | None = None,
        outputs: Sequence[str] | None = None,
        saveper: float | None = None,
        scenario: str | Path | Scenario | None = None,
        start: float | None = None,
        stop: float | None = None,
        time_step: float | None = None,
        reduce: str | Sequence[Any] | None = None,
        backend: str = "batch",
        **options: Any,
    ) -> xr.Dataset:
        """Run one simulation per row of `params` and return an `xarray.Dataset` (run x time).

        `backend="batch"` (default) integrates all rows at once with the vectorised backend
        (`carespiral.pysd_runner.batch`; options: `chunk_size`, `scheduler`, `engine`, `seed`,
        `first_run`, `progress`, `inputs`, `period`, `period_offset`, `check_bounds`). `seed`
        keys the RANDOM functions' draws: row i draws from the stream (seed, first_run + i),
        the same whatever the chunks, engine or scheduler; `first_run` (default 0) is the
        position of the first row in a larger ensemble run in pieces, so that the pieces draw
        what one call with every row would (both whole numbers from 0); `streams` instead gives
        each row its own position (rows may share one). `backend="pysd"` runs
        PySD once per row: the reference (options: `progress`, `inputs`, `period`,
        `period_offset`, `check_bounds`, `seed`, `first_run`; row i seeds PySD's own generator
        with (seed, first_run + i), so its draws are reproducible but not the batch engines').
        `backend="auto"` uses the batch backend and falls back to PySD for a model the batch
        backend refuses (`UnsupportedConstructError`); the options that only steer the batch
        backend (`chunk_size`, `scheduler`, `engine`) are then not used. Every backend returns
        the same layout, with per-run blow-up flags.
        """
        kw = dict(outputs=outputs, saveper=saveper, scenario=scenario, start=start, stop=stop,
                  time_step=time_step, reduce=reduce)
        if backend == "auto":
            from carespiral.pysd_runner.batch import UnsupportedConstructError

            try:
                return self.run_batch(params, backend="batch", **kw, **options)
            except UnsupportedConstructError:
                pysd_options = {k: v for k, v in options.items() if k not in _BATCH_ONLY}
                return self.run_batch(params, backend="pysd", **kw, **pysd_options)
        if backend == "batch":
            from carespiral.pysd_runner.batch.adapter import run_batch

            return run_batch(self, params, **kw, **options)
        if backend != "pysd":
            raise UnknownNameError("backend", backend, ("auto", "batch", "pysd"))
        unknown = sorted(set(options) - _PYSD_OPTIONS)
        if unknown:
            raise CarespiralError(f"the pysd backend does not take {', '.join(unknown)} "
                                  f"(it takes {', '.join(sorted(_PYSD_OPTIONS))})")
        from carespiral.pysd_runner.pysd_batch import run_batch_pysd

        return run_batch_pysd(self, params, **kw, **options)

    def rate_function(self, params: Mapping[str, float] | None = None) -> RateFunction:
        """d(state)/dt of the model as a function of its state, at constants `params`: what
        equilibrium finding and continuation need (see `RateFunction`)."""
        from carespiral.pysd_runner.rates import RateFunction

        return RateFunction(self, params)

    # ---- internals ----------------------------------------------------------------------------

    def _check_size(self, grid: TimeGrid, columns: int, runs: int = 1) -> None:
        """Refuse a run (or `runs` runs) too long or too big before it starts."""
        what = f"this run of {self.name!r}" if runs == 1 else f"{runs:,} runs of {self.name!r}"
        check_size(grid.steps, float(runs) * grid.saved * columns, what,
                   f"(({grid.stop:g} - {grid.start:g}) / {grid.time_step:g})")

    @contextlib.contextmanager
    def _explained(self) -> Iterator[None]:
        """Turn what PySD raises for a mistake in the model into a CarespiralError."""
        try:
            yield
        except CarespiralError:
            raise
        except Exception as exc:
            t = self._translation
            err = explain(exc, str(self.mdl_path), t.module, t.copies)
            if err is None:
                raise
            raise err from None

    def _run_values(self, params: Mapping[str, ParamValue] | None, sc: Scenario | None,
                    grid: TimeGrid, check: bool = True) -> dict[str, Any]:
        """Values for PySD by Vensim name: the scenario's, then `params` over them, checked
        against the declared bounds; a scenario's time-varying inputs as Series on the grid."""
        merged: dict[str, ParamValue] = dict(scenario_constants(self, sc)) if sc else {}
        given: set[str] = set()
        for k, v in (params or {}).items():
            name = self.parameter(k).name
            if name in given:
                raise CarespiralError(f"{k!r} and another name both set {name!r}; give each "
                                      "parameter once")
            given.add(name)
            merged[name] = v
        values: dict[str, Any] = {}
        for name, v in merged.items():
            p = self.parameter(name)
            if isinstance(v, pd.Series):
                if check:
                    for x in v.to_numpy(dtype=float):
                        p.check(float(x))
                values[name] = v
            else:
                x = _as_number(name, v)
                if check:
                    p.check(x)
                values[name] = x
        if sc is not None and sc.inputs:
            t = grid.times()
            bases = {}
            for name in {self.parameter(i.name).name for i in sc.inputs}:
                base = values.get(name)
                if isinstance(base, pd.Series):
                    raise CarespiralError(f"{name!r} is both a time series and a scenario input")
                if base is not None:
                    bases[name] = np.array([base])
            for name, series in scenario_series(self, sc, bases, t, grid.time_step).items():
                if check:
                    p = self.parameter(name)
                    for x in series:
                        p.check(float(x))
                values[name] = pd.Series(series, index=t)
        return values

    def _simulate(self, values: Mapping[str, Any], grid: TimeGrid,
                  columns: Sequence[str] | None,
                  seed: int | Sequence[int] | None = None) -> pd.DataFrame:
        """One PySD run from the model as written; nothing carries over to the next run."""
        pm = self._pysd
        pm.reload()  # PySD keeps parameters and control values between runs; start clean
        try:
            with self._explained(), warnings.catch_warnings(), _pysd_seed(seed):
                # Time-series inputs replace constants on purpose; PySD warns each time.
                warnings.filterwarnings("ignore", message="Replacing a constant value")
                df = pm.run(
                    params=dict(values) or None,
                    return_columns=list(columns) if columns is not None else None,
                    initial_condition=(grid.start, {}),
                    final_time=grid.stop,
                    time_step=grid.time_step,
                    saveper=grid.saveper,
                )
        finally:
            pm.reload()
        df.index = df.index.astype(float)
        df.index.name = "time"
        return df


_PYSD_OPTIONS = frozenset({"progress", "inputs", "period", "period_offset", "check_bounds",
                           "seed", "first_run", "streams"})
_BATCH_ONLY = frozenset({"chunk_size", "scheduler", "engine"})


@contextlib.contextmanager
def _pysd_seed(seed: int | Sequence[int] | None) -> Iterator[None]:
    """PySD's RANDOM functions draw from numpy's global generator: seed it for one run and put
    back the caller's state afterwards, so that seeding a run changes nothing outside it."""
    if seed is None:
        yield
        return
    state = np.random.get_state()
    # the legacy generator takes 32-bit words; a SeedSequence maps any whole numbers to them
    np.random.seed(np.random.SeedSequence(seed).generate_state(4))
    try:
        yield
    finally:
        np.random.set_state(state)


def _as_number(name: str, v: Any) -> float:
    if isinstance(v, bool):
        raise CarespiralError(f"{name}: expected a number, got {v!r}")
    try:
        return float(v)
    except (TypeError, ValueError):
        raise CarespiralError(f"{name}: expected a number, got {v!r}") from None


def _limits(value) -> tuple[float, float]:
    lo, hi = -math.inf, math.inf
    if isinstance(value, tuple) and len(value) == 2:
        a, b = value
        lo = -math.inf if a is None or (isinstance(a, float) and math.isnan(a)) else float(a)
        hi = math.inf if b is None or (isinstance(b, float) and math.isnan(b)) else float(b)
    return lo, hi


def _load_pysd(py_file: Path):
    import pysd

    from carespiral.pysd_runner.fast_lookups import install

    return install(pysd.load(str(py_file)))
