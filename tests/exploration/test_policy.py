"""Robust policy search: a non-dominated front, the baseline, and the short-run verdicts."""

from __future__ import annotations

import numpy as np
import pytest

from carespiral.errors import CarespiralError
from carespiral.exploration import load_result, optimise
from carespiral.exploration.policy import verdict
from carespiral.exploration.spec import spec_from_dict

SPEC = {
    "model": "workforce_spiral", "stop": 120, "seed": 2,
    "uncertainties": {"Referral Rate": [250, 400]},
    "levers": {"establishment": {"range": [120, 220], "cost": 4.5}},
    "optimise": {"population": 6, "generations": 2, "ensemble": 6},
}


def test_front_is_non_dominated_and_beats_the_baseline_on_risk(tmp_path):
    res = optimise(spec_from_dict(SPEC))
    F = res.front[["cost", "collapse_risk", "caseload"]].to_numpy()
    for i in range(len(F)):
        others = np.delete(F, i, axis=0)
        dominated = np.all(others <= F[i], axis=1) & np.any(others < F[i], axis=1)
        assert not dominated.any()
    # The ensemble spans demand 250-400: at the default 150 FTE some of it collapses (R > 330),
    # and cost is monthly cost relative to the default establishment.
    assert 0 < res.baseline["collapse_risk"] < 1 and res.baseline["cost"] == 0
    assert res.front["collapse_risk"].min() < res.baseline["collapse_risk"]
    est = res.front["Funded Establishment"].to_numpy()
    assert res.front["cost"].to_numpy() == pytest.approx(4.5 * (est - 150))
    # Fewer posts never helps here: lowering the establishment is judged harmful.
    low = res.short_run.set_index("setting").loc["low"]
    assert low["verdict"] == "harms" and low["collapse_risk_change"] > 0
    back = load_result(res.save(tmp_path / "pol"))
    assert back.front.equals(res.front) and back.short_run_only == res.short_run_only


@pytest.mark.parametrize(("d", "expected"), [
    ((-1.0, 2.0, 0.0), "short-run only"), ((-1.0, -2.0, 0.1), "short-run only"),
    ((-1.0, -2.0, 0.0), "helps"), ((1.0, -2.0, 0.0), "helps"),
    ((1.0, 2.0, 0.0), "harms"), ((0.0, 0.0, 0.0), "no effect"),
])
def test_verdicts(d, expected):
    assert verdict(*d) == expected


def test_policy_search_needs_levers():
    spec = spec_from_dict({**SPEC, "levers": {}})
    with pytest.raises(CarespiralError, match="levers"):
        optimise(spec)


def test_front_policies_get_recovery_times_on_the_national_model():
    spec = spec_from_dict({
        "model": "collapse_spiral", "stop": 120, "seed": 4,
        "uncertainties": {"Underlying Need": [0.028, 0.034]},
        "levers": {"redesign": {"range": [0, 1], "cost": 5}},
        "optimise": {"population": 4, "generations": 1, "ensemble": 4},
    })
    res = optimise(spec)
    assert "recovery_months" in res.front.columns
    # with need at or below its default no draw collapses, and every policy recovers from a
    # November-2008-sized scandal within the run
    assert (res.front["collapse_risk"] == 0).all()
    assert res.front["recovery_months"].between(1, 96).all()
