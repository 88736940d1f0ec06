"""Resilience: recovery after a demand shock, per establishment."""

from __future__ import annotations

import numpy as np
import pandas as pd

from carespiral.exploration.resilience import resilience


def test_bigger_workforce_recovers_where_the_default_does_not(workforce):
    # +200 referrals a month for four years: 450 a month is beyond the 330 that 150 FTE can close,
    # the backlog and burnout spiral and the default authority never comes back (hysteresis);
    # 220 FTE close up to 484 a month and absorb the shock.
    pol = pd.DataFrame({"establishment": [150.0, 220.0]})
    r = resilience(workforce, pol, driver="Referral Rate", height=200, start=12, duration=48, stop=240)
    t = r.table.set_index("Funded Establishment")
    assert not t.loc[150.0, "recovered"] and np.isnan(t.loc[150.0, "recovery_months"])
    assert t.loc[220.0, "recovered"] and 0 < t.loc[220.0, "recovery_months"] < 120


def test_no_shock_means_no_recovery_time(workforce):
    r = resilience(workforce, pd.DataFrame({"establishment": [150.0]}), driver="Referral Rate",
                   height=0.0, stop=120)
    assert bool(r.table["recovered"].iloc[0]) and r.table["recovery_months"].iloc[0] == 0.0
    assert r.table["peak_deviation"].iloc[0] == 0.0
