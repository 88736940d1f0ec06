"""Loop dominance (Loops That Matter via pysimlin): the attrition spiral takes over, then fades."""

from __future__ import annotations

import pytest

pytest.importorskip("simlin")

from carespiral.exploration.loops import loop_dominance


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
