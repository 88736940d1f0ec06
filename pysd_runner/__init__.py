"""Running models: PySD translation (cached), a typed model object, scenarios, the catalogue.

    >>> from carespiral.pysd_runner import load
    >>> model = load("workforce_spiral")
    >>> df = model.run(params={"Referral Rate": 300}, outputs=["caseload"])
"""

from carespiral.pysd_runner.catalog import CatalogEntry, catalog
from carespiral.pysd_runner.model import Model, load
from carespiral.pysd_runner.parameters import Parameter, Variable
from carespiral.pysd_runner.protocol import Runner
from carespiral.pysd_runner.scenario import Scenario, read_scenario

__all__ = [
    "CatalogEntry",
    "Model",
    "Parameter",
    "Runner",
    "Scenario",
    "Variable",
    "catalog",
    "load",
    "read_scenario",
]
