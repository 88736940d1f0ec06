"""carespiral: stock-and-flow models of English children's social care.

Load a bundled model (or any Vensim `.mdl`), run it, calibrate it against published statistics and
explore where it tips into the collapse spiral.
"""

__version__ = "0.1.0"
