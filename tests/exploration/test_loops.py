"""Loop dominance (Loops That Matter via pysimlin): the attrition spiral takes over, then fades."""

from __future__ import annotations

import numpy as np
import pytest

from carespiral.errors import CarespiralError
from carespiral.exploration.loops import _with_constants, loop_dominance


def test_attrition_spiral_takes_over_beyond_capacity(workforce):
    below = loop_dominance(workforce, {"Referral Rate": 300})
    above = loop_dominance(workforce, {"Referral Rate": 360})
    loops = above.loops.set_index("id")
    reinforcing = set(loops.index[loops["polarity"].str.contains("R")])
    # beyond the 330 cases a month 150 FTE can close, a reinforcing loop through leaving and
    # social workers dominates for a while; below capacity no reinforcing loop ever does
    took_over = above.switches()
    spiral = took_over[took_over["to"].isin(reinforcing)]
    assert len(spiral) >= 1
    assert "leaving" in spiral["variables"].iloc[0] and "social_workers" in spiral["variables"].iloc[0]
    assert 6 <= spiral["time"].iloc[0] <= 60
    assert not below.dominant().isin(reinforcing).any()


def test_large_model_uses_discovery_with_the_overrides():
    from carespiral.pysd_runner import load

    m = load("collapse_spiral")
    # A doubled compliance load (the burden of the documented hysteresis scenario, far past the
    # fold at 1.069, 1.033 when written, docs/models/collapse_spiral.md) tips the service within
    # three years. Just past the fold (1.3) the tip is slow and the scores of the ~200 discovered
    # loops stay spread out: no loop holds 5% of the behaviour for six months, so no switch shows
    # there.
    tipped = loop_dominance(m, {"Compliance Burden": 2.0})
    assert len(tipped.loops) > 10 and np.isfinite(tipped.scores.to_numpy()).all()
    sw = tipped.switches(min_months=6)
    late = sw[(sw["time"] > 24) & sw["to"].str.startswith("r")]
    assert len(late) >= 1  # a reinforcing loop takes over once the system has tipped
    # and it is the causal story's spiral: the procedure or risk ratchet (R3, R5c) through
    # the workforce (R1, R1b)
    path = late["variables"].iloc[0]
    assert "social_workers" in path and ("procedural_burden" in path or "risk_aversion" in path)


def test_constants_are_written_into_the_copy(workforce):
    text = _with_constants(workforce.mdl_path, {"Referral Rate": 360.0})
    assert "Referral Rate=\n\t360.0\n" in text and text.count("360.0") == 1
    with pytest.raises(CarespiralError, match="plain numeric constant"):
        _with_constants(workforce.mdl_path, {"Caseload": 3.0})  # an equation, not a number
