"""The margin to collapse (`exploration.margin`) where the threshold is known by construction.

In the workforce-spiral teaching model cases close at their normal pace (open cases over the
normal duration D) up to the workforce's capacity, Social Workers x Cases Closed per FTE. With
the workforce at its establishment E (hiring keeps up while leaving stays under the market's
limit) the steady state at referral rate R has R x D open cases, a caseload of R x D / E and no
vacancies; it exists only while R <= E x c. Above E x c open cases grow by R - E x c a month
without end, so the run collapses (caseload above 25 for a year) once they have had the time:
from a caseload of R* D / E, (25 - R* D / E) E / (R - R*) months. The threshold the margin
finds on a horizon of H months therefore lies just above R* = E x c, by at most that growth
allowance plus one step of its search grid. The parameter sets below keep the caseload
criterion itself (R = 25 E / D) above R*, so it is the capacity that tips the system.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from carespiral.exploration.criteria import classify, default_criteria, outputs_needed
from carespiral.exploration.margin import collapse_margin
from carespiral.pysd_runner import load

HORIZON = 2400.0  # months: long enough for a slow pile-up to cross the caseload criterion
D = 10.0  # Normal Case Duration (the model's default)


class LongRuns:
    """The teaching model run to HORIZON (its own horizon is 240 months)."""

    def __init__(self, model):
        self._m = model

    def __getattr__(self, name):
        return getattr(self._m, name)

    def run_batch(self, *args, **kw):
        kw["stop"] = kw.get("stop") or HORIZON
        return self._m.run_batch(*args, **kw)


@pytest.fixture(scope="module")
def workforce():
    return LongRuns(load("workforce_spiral"))


@pytest.mark.parametrize(("establishment", "closures"), [(150.0, 2.0), (200.0, 1.8)])
def test_the_margin_is_the_capacity_of_the_workforce(workforce, establishment, closures):
    base = 200.0
    values = {"Funded Establishment": establishment, "Cases Closed per FTE": closures,
              "Referral Rate": base}
    capacity = establishment * closures  # R* by construction
    assert 25 * establishment / D > capacity  # the caseload criterion is not what tips it
    points, refine = 24, 60
    m = collapse_margin(workforce, values, "underlying_need", points=points, refine=refine)
    upper = workforce.parameter("Referral Rate").upper
    step = (upper - base) / (points - 1) / (refine + 1)
    allowance = (25 - capacity * D / establishment) * establishment / (HORIZON - 12)
    assert capacity < m["threshold"] <= capacity + allowance + step, m
    assert m["margin"] == pytest.approx(capacity / base - 1, abs=(allowance + step) / base)


def test_a_workforce_the_market_cannot_replace_has_no_margin(workforce):
    # 1,000 FTE lose about 10 a month at a light caseload; the market supplies 3: it drains
    values = {"Funded Establishment": 1000.0, "Cases Closed per FTE": 5.0, "Referral Rate": 200.0}
    assert collapse_margin(workforce, values, "underlying_need")["margin"] == 0.0


def test_a_system_past_its_capacity_has_no_margin(workforce):
    values = {"Funded Establishment": 150.0, "Cases Closed per FTE": 2.0, "Referral Rate": 320.0}
    assert collapse_margin(workforce, values, "underlying_need") == {
        "value": 320.0, "threshold": 320.0, "margin": 0.0}


def test_no_threshold_within_the_bounds_is_no_margin_not_a_number_made_up(workforce):
    # capacity 5,000 and the caseload criterion at 2,500 a month, both above the bound of 2,000;
    # the market supplies 50 recruits a month, more than the 1,000 FTE ever lose (about 15)
    values = {"Funded Establishment": 1000.0, "Cases Closed per FTE": 5.0, "Referral Rate": 200.0,
              "Maximum Hiring Rate": 50.0}
    m = collapse_margin(workforce, values, "underlying_need")
    assert np.isnan(m["threshold"]) and np.isnan(m["margin"])
    # and indeed the run at the bound does not collapse
    model = workforce
    crit = [c.bind(model) for c in default_criteria(model)]
    frame = pd.DataFrame([{**values, "Referral Rate": 2000.0}])
    ds = model.run_batch(frame, outputs=outputs_needed(crit))
    assert classify(ds, crit, frame)["regime"].iloc[0] == "sustainable"
