"""The runner's PySD lookups (`pysd_runner.fast_lookups`) against PySD's own, bit for bit.

Reference answer: the same translated module loaded by `pysd.load` with PySD's xarray
interpolation. Models: the main model's history (three tables of time, read at every step, at
table points and between them), with a table-driven parameter set as a series, and conformance
models whose tables are read outside their range, inline, with expressions and by subscript.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pysd
import pytest

from carespiral.pysd_runner import load
from carespiral.pysd_runner.fast_lookups import install

SUITE = Path(__file__).resolve().parents[1] / "conformance" / "models"
CASES = ["lookups", "lookups_inline", "lookups_with_expr", "lookups_without_range",
         "subscripted_lookups", "with_lookup", "lookups_funcnames"]


def _both(module: Path, **run) -> tuple[pd.DataFrame, pd.DataFrame]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        slow = pysd.load(str(module)).run(**run)
        fast = install(pysd.load(str(module)))
        first = fast.run(**run)
        fast.reload()  # the tables made again by PySD are made fast again
        again = fast.run(**run)
    pd.testing.assert_frame_equal(first, again)
    return slow, first


def _same(slow: pd.DataFrame, fast: pd.DataFrame) -> None:
    assert list(slow.columns) == list(fast.columns)
    for c in slow.columns:
        a, b = slow[c].to_numpy(), fast[c].to_numpy()
        if a.dtype == object:  # subscripted columns hold arrays
            a, b = np.stack(a).astype(float), np.stack(b).astype(float)
        np.testing.assert_array_equal(a, b, err_msg=c)


def test_the_main_models_history_is_unchanged_bit_for_bit():
    m = load("collapse_spiral")
    module = m._translation.module
    slow, fast = _both(module, params={"History": 1}, final_time=240)
    _same(slow, fast)
    # the tables were read at their points and between them
    assert slow["Relative Child Population"].nunique() > 100


@pytest.mark.parametrize("case", CASES)
def test_conformance_lookups_are_unchanged_bit_for_bit(case):
    mdl = next((SUITE / case).glob("*.mdl"))
    module = load(mdl)._translation.module
    _same(*_both(module))


def test_the_runners_model_takes_the_fast_path_after_a_reload():
    """Not a timing assertion: the history's three tables must go through numpy.interp."""
    pm = load("collapse_spiral")._pysd
    pm.reload()
    tables = pm._lookup_elements
    assert len(tables) == 3 and all(type(e).__name__ == "FastLookups" for e in tables)
    pm.run(final_time=12)
    assert all(getattr(e, "_fast_of", None) is e.data for e in tables)
