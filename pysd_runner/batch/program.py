"""The lowered program: the data structures the lowering produces and the engines consume.

- `Aux` nodes: one numpy expression each (Python source text) with the names it reads, and an
  optional separate expression used while initialising (ACTIVE INITIAL);
- `State` nodes: values carried from step to step, with an initial expression and a derivative
  node (Euler: ``x = x + ddt * dt``), or a custom update (DELAY FIXED, SAMPLE IF TRUE);
- `Lookup` tables, kept as arrays;
- `Program`: all of them, with the model's names, units, limits and control variables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from carespiral.errors import CarespiralError

__all__ = ["CONTROL", "RANDOM_RUN", "RANDOM_SEED", "Aux", "Lookup", "Program", "State", "UnsupportedConstructError"]

# Nodes every run of a model with RANDOM functions is given: the batch's seed and the run's
# position in the batch (its stream; see random_streams)
RANDOM_SEED = "random_seed"
RANDOM_RUN = "random_run"
CONTROL = {"initial_time": "INITIAL TIME", "final_time": "FINAL TIME",
           "time_step": "TIME STEP", "saveper": "SAVEPER"}



class UnsupportedConstructError(CarespiralError):
    """The model uses something the batch backend cannot compile (named with its variable)."""

    def __init__(self, construct: str, variable: str, path: Path | str, hint: str = "") -> None:
        self.construct = construct
        self.variable = variable
        msg = (f"{path}: variable {variable!r} uses {construct}, which the batch backend does "
               f"not support")
        msg += f" ({hint})" if hint else "; use the PySD backend (Model.run) for this model"
        super().__init__(msg)


@dataclass
class Aux:
    """An auxiliary: `code` is a numpy expression over other nodes' variables."""

    id: str
    code: str
    deps: set[str]
    init_code: str | None = None  # used while initialising, when it differs (ACTIVE INITIAL)
    init_deps: set[str] | None = None
    vensim: str | None = None
    is_constant: bool = False  # a literal number: a parameter a user may set
    is_data: bool = False  # a data variable: must be given as a time input


@dataclass
class State:
    """A value integrated over time. `ddt` names the Aux holding its derivative (Euler)."""

    id: str
    init_code: str
    init_deps: set[str]
    ddt: str | None = None
    # custom updates (DELAY FIXED, SAMPLE IF TRUE, INITIAL): statements run after derivatives
    update: str | None = None
    update_deps: set[str] = field(default_factory=set)
    setup: str | None = None  # statements run once after initialisation
    vensim: str | None = None
    lower_limit: float | None = None
    owner: str = ""  # the model variable this state belongs to (for blow-up reports)


@dataclass
class Lookup:
    id: str
    x: tuple[float, ...]
    y: tuple[float, ...]
    kind: str  # interpolate | extrapolate | hold_backward | look_forward | raw (data series)
    vensim: str


@dataclass
class Program:
    """The lowered model: everything the code generator needs."""

    path: Path
    aux: dict[str, Aux]
    states: dict[str, State]
    lookups: dict[str, Lookup]
    names: dict[str, str]  # Vensim name -> node id
    py_names: dict[str, str]  # PySD python name -> Vensim name
    units: dict[str, str]
    limits: dict[str, tuple[float | None, float | None]]
    control: dict[str, str]  # initial_time/final_time/time_step/saveper -> node id
    groups: dict[str, list[str]] = field(default_factory=dict)  # subscripted name -> cells
    external_files: tuple[str, ...] = ()  # data files read at lowering (GET ...)

    @property
    def stocks(self) -> list[str]:
        return [s.vensim for s in self.states.values() if s.vensim and s.ddt]

    def node(self, vensim: str) -> Aux | State:
        nid = self.names[vensim]
        return self.aux.get(nid) or self.states[nid]


def _ident(clean: str, used: set[str], prefix: str = "v_") -> str:
    s = re.sub(r"[^0-9a-zA-Z_]", "", re.sub(r"\s+", "_", clean))
    s = prefix + re.sub(r"_+", "_", s)
    out, i = s, 1
    while out in used:
        out, i = f"{s}_{i}", i + 1
    used.add(out)
    return out


