"""carespiral: stock-and-flow models of English children's social care.

Load a bundled model (or any Vensim `.mdl`), run it, calibrate it against published statistics and
explore where it tips into the collapse spiral.

    >>> import carespiral
    >>> model = carespiral.load("workforce_spiral")
    >>> df = model.run(params={"establishment": 170}, outputs=["caseload"])
"""

from carespiral.errors import CarespiralError
from carespiral.pysd_runner import Model, Parameter, Scenario, catalog, load

__version__ = "0.1.0"

__all__ = ["CarespiralError", "Model", "Parameter", "Scenario", "__version__", "catalog", "load"]
