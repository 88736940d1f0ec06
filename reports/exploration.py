"""Report entry points used by `carespiral explore|tipping|optimise --html`.

Thin adapters with the positional signatures those commands call; the pages themselves are built
by `carespiral.reports.exploration_report` (one implementation for every exploration result).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from carespiral.pysd_runner.catalog import catalog, label

from .exploration_report import exploration_page

__all__ = [
    "exploration_report", "model_title", "parameter_default", "policy_report", "tipping_report",
]


def exploration_report(result: Any, discovery: Any = None, sensitivity: Any = None,
                       path: str | Path = "report.html", ranges: Any = None) -> Path:
    """Regimes, PRIM box and sensitivity of an exploration (`carespiral explore --html`);
    `ranges`: the observed ranges in the model's units (`carespiral.data.ranges.model_ranges`)."""
    page = exploration_page(title=f"Exploration of {model_title(result.model)}",
                            experiments=result,
                            discovery=discovery, sensitivity=sensitivity, ranges=ranges)
    return page.write(path)


def tipping_report(bifurcation: Any = None, sweep: Any = None,
                   path: str | Path = "report.html", ranges: Any = None,
                   default: float | None = None) -> Path:
    """Bifurcation diagram and hysteresis sweep or regime map (`carespiral tipping --html`);
    `default`: the model's default of the parameter (for the margin to the fold)."""
    first = bifurcation if bifurcation is not None else sweep
    if default is None:
        default = parameter_default(first.model, first.param)
    page = exploration_page(title=f"Tipping points of {model_title(first.model)}",
                            subtitle=f"against {label(first.param, first.model)}",
                            bifurcation=bifurcation, sweep=sweep,
                            tipping_default=default, ranges=ranges)
    return page.write(path)


def policy_report(result: Any, path: str | Path = "report.html", ranges: Any = None) -> Path:
    """Pareto front and the short-run check of a policy search (`carespiral optimise --html`);
    `ranges` carries the child population that puts levers set per child in posts."""
    page = exploration_page(title=f"Robust policies for {model_title(result.model)}",
                            policy=result, ranges=ranges)
    return page.write(path)


def parameter_default(model: str, param: str) -> float | None:
    """The model's default value of a parameter (read from the model, not run), or None."""
    from carespiral.errors import CarespiralError
    from carespiral.pysd_runner import load

    try:
        return float(load(model).parameter(param).default)
    except (CarespiralError, OSError):
        return None


def model_title(model: str) -> str:
    """A bundled model's title ("the collapse spiral model"), else its name."""
    entry = catalog().get(model)
    if entry is None:
        return model
    return "the " + entry.title.split(" (")[0].lower() + " model"
