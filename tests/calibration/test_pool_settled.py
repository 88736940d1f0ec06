"""When the rounds of a pooled fit count as settled: a spread the data barely inform creeps
towards the floor for ever in log terms; below TAU_SETTLED such moves do not count."""

from __future__ import annotations

import numpy as np
import pytest

from carespiral.calibration.pooling.hierarchy import TAU_FLOOR, TAU_SETTLED, Population


def test_a_creeping_small_spread_counts_as_settled():
    a = Population(np.array([0.0, -0.64]), np.array([0.5, 0.079]))
    b = Population(np.array([0.0, -0.641]), np.array([0.5, 0.075]))
    # by hand: log(0.079/0.075) = 0.052, above the rounds' tolerance of 0.02; mean shift
    # 0.001/0.079 = 0.013
    assert a.change(b) == pytest.approx(np.log(0.079 / 0.075))
    # with both spreads below TAU_SETTLED (0.1): only the mean shift in units of 0.1 counts
    assert a.change(b, settled=TAU_SETTLED) == pytest.approx(0.001 / TAU_SETTLED)
    assert TAU_FLOOR < 0.075 < TAU_SETTLED


def test_spreads_above_it_and_crossing_it_still_count():
    a = Population(np.array([0.0]), np.array([0.5]))
    b = Population(np.array([0.0]), np.array([0.47]))
    assert a.change(b, settled=TAU_SETTLED) == pytest.approx(np.log(0.5 / 0.47))
    # from 0.2 down to 0.05: counted from 0.2 to 0.1, log 2
    c = Population(np.array([0.0]), np.array([0.2]))
    d = Population(np.array([0.0]), np.array([0.05]))
    assert c.change(d, settled=TAU_SETTLED) == pytest.approx(np.log(2.0))
    # a mean shift is measured in units of the larger of the spread and TAU_SETTLED
    e = Population(np.array([0.3]), np.array([0.05]))
    f = Population(np.array([0.35]), np.array([0.05]))
    assert e.change(f, settled=TAU_SETTLED) == pytest.approx(0.5)
    assert e.change(f) == pytest.approx(1.0)
