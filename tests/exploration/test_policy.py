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
    # and cost is £ million a year of posts above the default establishment (the spec's rate of
    # £4.5 a year per FTE); fewer posts than the default cost nothing, never a negative amount.
    assert 0 < res.baseline["collapse_risk"] < 1 and res.baseline["cost"] == 0
    assert res.front["collapse_risk"].min() < res.baseline["collapse_risk"]
    est = res.front["Funded Establishment"].to_numpy()
    assert res.front["cost"].to_numpy() == pytest.approx(4.5 * np.clip(est - 150, 0, None) / 1e6)
    assert (res.evaluated["cost"] >= 0).all()
    assert res.settings["cost_unit"] == "£ million a year"
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
    # with need at or below its default no draw collapses, and every policy gets back within 5%
    # of its undisturbed backlog after the scandal optimise applies (height 1 for six months).
    # With the ratchet a scandal's effect lapses only over years (forgetting time 195 months)
    # and the front door screens the extra referrals, so the backlog barely leaves the band
    # (0 months is a recovery time: never outside it).
    assert (res.front["collapse_risk"] == 0).all()
    assert res.front["recovery_months"].between(0, 96).all()
    # A disturbance this model does recover from within the run: a year of need 30% above its
    # default. The front's policies leave the 5% band on caseload and come back to it.
    from carespiral.exploration.resilience import resilience
    from carespiral.pysd_runner import load

    model = load("collapse_spiral")
    surge = 0.3 * model.parameter("Underlying Need").default
    rec = resilience(model, res.front[["Redesign"]], driver="Underlying Need", height=surge,
                     start=24.0, duration=12.0, output="Caseload", stop=120)
    assert (rec.table["peak_deviation"] > 0.05).all()
    assert rec.table["recovered"].all() and rec.table["recovery_months"].between(1, 96).all()


# ---- the cost model --------------------------------------------------------------------------


def test_employment_cost_and_agency_premium_follow_the_unit_costs():
    from carespiral.exploration.costs import CostModel

    cm = CostModel().with_overrides({"salary": 40000, "employer_ni_rate": 0.1,
                                     "employer_ni_threshold": 10000, "pension_rate": 0.2,
                                     "agency_day_rate": 300, "agency_days": 200})
    # 40,000 + 10% of (40,000 - 10,000) + 20% of 40,000
    assert cm.employment_cost == pytest.approx(51000)
    assert cm.agency_premium == pytest.approx(300 * 200 - 51000)
    cheap = cm.with_overrides({"agency_day_rate": 100})
    assert cheap.agency_premium == 0  # never negative
    assert set(cm.overridden) >= {"salary", "agency_days"}


def test_unit_costs_name_their_source_and_confidence():
    from carespiral.exploration.costs import load_unit_costs

    for u in load_unit_costs().values():
        assert u.source and u.unit and u.confidence in ("high", "medium", "judgement"), u
        # nothing dated after 2023 (the held-out years)
        assert not any(y in u.prices for y in ("2024", "2025")), u


def test_lever_costs_of_the_national_model_scale_with_its_size():
    from carespiral.exploration.costs import CostModel
    from carespiral.exploration.spec import read_spec
    from carespiral.pysd_runner import load

    spec = read_spec("optimise_national")
    model = load(spec.model)
    spec = spec.bind(model)
    cm = CostModel()
    costs = {lc.name: lc for lc in cm.lever_costs(model, spec.levers)}
    children = model.parameter("Child Population").default
    leaving = 12 * model.parameter("Normal Leaving Rate").default
    per_post = cm.employment_cost + cm.value("cost_per_hire") * leaving
    est = costs["Establishment per Child"]
    assert est.above == pytest.approx(per_post * children) and est.below == 0
    # a cut in the compliance burden costs money; raising it costs nothing
    comp = costs["Compliance Burden"]
    assert comp.above == 0 and comp.below > 0
    defaults = np.array([model.parameter(lv.name).default for lv in spec.levers])
    lows = np.array([lv.lower for lv in spec.levers])
    highs = np.array([lv.upper for lv in spec.levers])
    rng = np.random.default_rng(1)
    X = lows + rng.random((200, len(lows))) * (highs - lows)
    cost = CostModel.policy_cost(X, defaults, list(costs.values()))
    assert (cost >= 0).all()
    assert CostModel.policy_cost(defaults[None, :], defaults, list(costs.values()))[0] == 0
    # 0.0001 more FTE per child = 1,200 posts
    one = defaults.copy()
    one[0] += 0.0001
    assert CostModel.policy_cost(one[None, :], defaults, list(costs.values()))[0] == \
        pytest.approx(0.0001 * children * per_post / 1e6)


def test_the_spec_overrides_unit_costs_and_lever_rates():
    spec = spec_from_dict({**SPEC, "costs": {"salary": 50000},
                           "levers": {"establishment": {"range": [120, 220], "cost_below": 7.0}}})
    assert spec.costs == {"salary": 50000.0}
    assert spec.levers[0].cost is None and spec.levers[0].cost_below == 7.0
    # the schema names the table, the key, what it expects and what it found
    with pytest.raises(CarespiralError,
                       match=r"\[levers\.establishment\], key cost: expected a number of at "
                             r"least 0, found -5"):
        spec_from_dict({**SPEC, "levers": {"establishment": {"range": [120, 220], "cost": -5}}})
    from carespiral.exploration.costs import CostModel

    with pytest.raises(CarespiralError, match="not a unit cost"):
        CostModel().with_overrides({"salry": 1.0})
