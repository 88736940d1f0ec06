"""The published data moved to `carespiral.data`; this module keeps the old import path working."""

from carespiral.data import *  # noqa: F403
from carespiral.data import __all__  # noqa: F401
