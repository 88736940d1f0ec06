"""Continuation finds folds where the algebra puts them; sweeps reveal hysteresis."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from carespiral.errors import CarespiralError
from carespiral.exploration import continuation, default_criteria, shock_map, sweep


@pytest.mark.parametrize("mdl", ["fold_teaching.mdl", "fold_teaching_smooth.mdl"])
def test_cubic_folds_where_the_algebra_puts_them(mdl):
    # Equilibria: Drive + L - L^3/3 = 0 (Perceived Level = L). d/dL = 1 - L^2 = 0 at L = +-1,
    # so the folds are at Drive = +2/3 (L = -1) and Drive = -2/3 (L = +1). The second file writes
    # the perception lag as a SMOOTH, whose hidden stock the continuation must include.
    from carespiral.pysd_runner import load

    b = continuation(load(Path(__file__).parent / mdl), "Drive", -1.0, 1.0)
    assert len(b.stocks) == 2
    folds = b.folds[b.folds["kind"] == "fold"].sort_values("param")
    assert len(folds) == 2
    assert folds["param"].to_numpy() == pytest.approx([-2 / 3, 2 / 3], abs=1e-4)
    assert folds["Level"].to_numpy() == pytest.approx([1.0, -1.0], abs=0.02)
    assert list(folds["direction"]) == ["lower", "upper"]
    # Stability: det J = (L^2 - 1)/tau, trace < 0, so stable exactly where |L| > 1.
    br = b.branch
    clear = (br["Level"].abs() - 1).abs() > 0.05
    assert (br.loc[clear, "stable"] == (br.loc[clear, "Level"].abs() > 1)).all()
    # every point is an equilibrium of the cubic
    resid = br["param"] + br["Level"] - br["Level"] ** 3 / 3
    assert np.max(np.abs(resid)) < 1e-6
    # the branch covers the whole range, passing both folds
    assert br["param"].iloc[0] == pytest.approx(-1.0)
    assert br["param"].iloc[-1] >= 1.0 - 1e-9


@pytest.mark.parametrize("establishment", [150.0, 120.0])
def test_workforce_spiral_loses_stability_at_closure_capacity(workforce, establishment):
    # Sustainable branch: S = E, O = 10 R, B = O / (17 S). It exists while closures O/10 = R stay
    # within capacity 2.2 E and leavers E * 0.0125 * f(B) stay within hiring 3 a month. For
    # E = 150 and 120 capacity binds first (the hiring limit would allow R up to ~390 and ~370),
    # so the branch loses stability at R* = 2.2 E: 330 and 264.
    b = continuation(workforce, "Referral Rate", 150.0, 450.0,
                     params={"Funded Establishment": establishment})
    lost = b.folds[(b.folds["kind"] == "stability") & (b.folds["direction"] == "loses")]
    assert len(lost) >= 1
    assert lost["param"].iloc[0] == pytest.approx(2.2 * establishment, abs=0.5)
    stable = b.branch[b.branch["stable"]]
    assert stable["Social Workers"].to_numpy() == pytest.approx(establishment, rel=1e-6)
    assert stable["Open Cases"].to_numpy() == pytest.approx(10 * stable["param"].to_numpy(), rel=1e-6)


def test_continuation_refuses_to_start_in_collapse(workforce):
    with pytest.raises(CarespiralError, match="no equilibrium"):
        continuation(workforce, "Referral Rate", 420.0, 450.0)


def test_sweep_shows_hysteresis(workforce):
    values = np.arange(250.0, 431.0, 30.0)  # 250 ... 430
    s = sweep(workforce, "Referral Rate", values, default_criteria(workforce), hold=120)
    th = s.thresholds().iloc[0]
    # up: sustainable up to 310, collapse from the first value above 330
    assert th["tips_up_at"] == 340.0
    # down: once collapsed (53 FTE left, closing 117 cases a month), lowering demand back to
    # 250 does not bring the system back within ten years
    assert th["collapsed_down_to"] == 250.0
    reg = s.regimes().set_index("param")["regime"]
    assert reg[250.0] == "bistable" and reg[310.0] == "bistable" and reg[430.0] == "collapse"


def test_regime_map_has_both_regimes_and_a_bistable_band(workforce):
    m = shock_map(workforce, "Referral Rate", np.arange(100.0, 461.0, 60.0), "Funded Establishment",
                  [120.0, 200.0], default_criteria(workforce), shock=150.0)
    reg = m.table.set_index(["param2", "param"])["regime"]
    assert set(reg) == {"sustainable", "bistable", "collapse"}
    # Without a shock, collapse starts where the sustainable branch ends: 2.2 * 120 = 264 (first
    # grid value 280); for 200 staff the hiring limit binds first, at about 408 (grid: 460).
    th = m.thresholds().set_index("param2")
    assert th.loc[120.0, "collapse_from"] == 280.0
    assert th.loc[200.0, "collapse_from"] == 460.0
    # Below those, a three-year demand shock of +150 tips the system for good: a bistable band
    # just below each threshold, and the band moves up with the establishment.
    assert reg[(120.0, 220.0)] == "bistable" and reg[(200.0, 400.0)] == "bistable"
    assert reg[(120.0, 100.0)] == "sustainable" and reg[(200.0, 280.0)] == "sustainable"
    assert th.loc[200.0, "bistable_from"] > th.loc[120.0, "bistable_from"]
    # the shocked run never does better than the undisturbed one
    assert not ((m.table["baseline"] == "collapse") & (m.table["shocked"] == "sustainable")).any()


def test_sweep_rejects_a_single_value(workforce):
    with pytest.raises(CarespiralError, match="at least two"):
        sweep(workforce, "Referral Rate", [300.0], default_criteria(workforce))


def test_collapse_spiral_regime_map_has_both_regimes_and_a_bistable_band():
    from carespiral.pysd_runner import load

    m = load("collapse_spiral")
    need = m.parameter("Underlying Need").default
    # Continuation in Compliance Burden at the default need (docs/models/collapse_spiral.md): the
    # sustainable branch ends in a fold at 1.069 and the collapsed branch in a fold at 0.625
    # (1.033 and 0.591 when written; re-measured at f47ee16), so both regimes exist between them.
    # Below 0.625 a five-year surge of +1 is absorbed (0.5);
    # inside the band it tips the service for good (0.8: collapsed 180 months after the surge);
    # far past the upper fold the undisturbed run collapses on its own within the 252 months
    # (1.9; just past the fold the passage takes decades, so the cell is chosen far past it).
    found = shock_map(m, "Compliance Burden", [0.5, 0.8, 1.9], "Underlying Need", [need],
                      default_criteria(m), shock=1.0, duration=60, hold=180)
    assert list(found.table["regime"]) == ["sustainable", "bistable", "collapse"]
    assert list(found.table["baseline"]) == ["sustainable", "sustainable", "collapse"]
