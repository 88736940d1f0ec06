"""Exploring models: collapse criteria, experiments, scenario discovery, tipping points, policies.

    >>> from carespiral.exploration import read_spec, run_experiments, discover
    >>> result = run_experiments(read_spec("explore_national"), out="explore-out")
    >>> box = discover(result)                       # PRIM box (and CART leaves) for collapse

Every result is a typed object with `to_frame()`, `summary()`, `report()` and `save(folder)`;
`load_result(folder)` reads any of them back.
"""

from carespiral.exploration.criteria import Growing, Threshold, classify, default_criteria
from carespiral.exploration.discovery import Discovery, discover, prim_box
from carespiral.exploration.experiments import ExperimentResult, run_experiments
from carespiral.exploration.loops import LoopDominance, loop_dominance
from carespiral.exploration.policy import PolicyResult, optimise
from carespiral.exploration.regimes import RegimeMap, shock_map
from carespiral.exploration.resilience import Resilience, resilience
from carespiral.exploration.sensitivity import Sensitivity, morris, sobol
from carespiral.exploration.spec import ExploreSpec, read_spec
from carespiral.exploration.tipping import Bifurcation, Sweep, continuation, sweep
from carespiral.results import load_result

__all__ = [
    "Bifurcation",
    "Discovery",
    "ExperimentResult",
    "ExploreSpec",
    "Growing",
    "LoopDominance",
    "PolicyResult",
    "RegimeMap",
    "Resilience",
    "Sensitivity",
    "Sweep",
    "Threshold",
    "classify",
    "continuation",
    "default_criteria",
    "discover",
    "load_result",
    "loop_dominance",
    "morris",
    "optimise",
    "prim_box",
    "read_spec",
    "resilience",
    "run_experiments",
    "shock_map",
    "sobol",
    "sweep",
]
