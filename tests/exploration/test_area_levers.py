"""The brief's lever search (NSGA-II on an authority's posterior) against answers known by
algebra: margins that are linear (or complementary) in the levers' moves, over draws whose
spread is known, so that the best lever per pound and the best policy at each cost follow
from a fractional knapsack."""

from __future__ import annotations

import numpy as np
import pytest

from carespiral.exploration.area_levers import (
    ROBUST_Q,
    LeverMove,
    LeverProblem,
    front_of,
    search_levers,
)

DRAWS = np.linspace(0.6, 1.4, 11)  # each draw scales every gain: the worst tenth is known
Q = float(np.quantile(DRAWS, ROBUST_Q))


def _problem(spends, code="X"):
    # shares of each move map one-to-one to settings: now 0, full move 1
    moves = [LeverMove(f"L{i}", f"Lever {i}", 0.0, 1.0, s) for i, s in enumerate(spends)]
    return LeverProblem(code, moves)


def _margins(gain):
    """Margins over DRAWS of plans given as settings (= shares): base 0.1 plus gain(x) x draw."""
    def margins(plans):
        return [0.1 + np.array([gain(x) for x in X]).reshape(-1, 1) * DRAWS[None, :]
                if len(X) else np.empty((0, len(DRAWS))) for X in plans]
    return margins


def _knapsack(ratio_order, gains, spends, money):
    """The best gain for `money` when gains add up: fill by gain per £, each up to its move."""
    total, left = 0.0, money
    for j in ratio_order:
        take = min(1.0, left / spends[j])
        total += take * gains[j]
        left -= take * spends[j]
        if left <= 0:
            break
    return total


def test_additive_levers_rank_by_gain_per_pound_and_the_front_is_the_knapsack():
    gains = np.array([0.30, 0.50, 0.20])  # median-draw gain of each full move
    spends = np.array([0.5, 1.0, 0.1])  # £m a year of each full move
    order = np.argsort(-gains / spends)  # lever 2 (2.0 per £m), 0 (0.6), 1 (0.5)
    found = search_levers([_problem(spends)], _margins(lambda x: float(gains @ x)),
                          budget=1.0, population=12, generations=4, seed=1)[0]
    lv = found.levers
    assert lv["variable"].tolist() == [f"L{j}" for j in order]
    med = float(np.median(DRAWS))
    assert lv["gain_per_million"].to_numpy() == pytest.approx((gains / spends)[order] * med)
    assert lv["gain_p10"].to_numpy() == pytest.approx(gains[order] * Q)
    f = found.front
    assert len(f) >= 3 and (f["cost_million"] <= 1.0 + 1e-9).all()
    assert np.all(np.diff(f["cost_million"]) > 0) and np.all(np.diff(f["gain_p10"]) > 0)
    for cost, g in zip(f["cost_million"], f["gain_p10"], strict=True):
        assert g <= Q * _knapsack(order, gains, spends, cost) + 1e-9  # nothing beats algebra
    for money in (0.1, 0.25, 0.5, 0.75, 1.0):  # the best found for each amount is the knapsack
        got = f.loc[f["cost_million"] <= money + 1e-9, "gain_p10"].max()
        assert got == pytest.approx(Q * _knapsack(order, gains, spends, money), rel=0.02)


def test_complementary_levers_are_found_together_though_neither_helps_alone():
    """Levers 0 and 1 buy margin only together (the smaller of their moves); lever 2 is poor
    value. The best for £0.5m: the pair in full (gain 1), which no single lever and no greedy
    start finds (the pair starts do); for £1m: that and lever 2 with the rest (half its move,
    gain 1.1), which no start holds: only the evolution gets past 1."""
    spends = np.array([0.25, 0.25, 1.0])
    found = search_levers(
        [_problem(spends)], _margins(lambda x: min(x[0], x[1]) + 0.2 * x[2]),
        budget=1.0, population=16, generations=6, seed=1)[0]
    singles = found.levers.set_index("variable")
    assert singles.loc["L0", "gain_p10"] == pytest.approx(0.0, abs=1e-12)
    assert singles.loc["L1", "gain_p10"] == pytest.approx(0.0, abs=1e-12)
    f = found.front
    half = f[f["cost_million"] <= 0.5 + 1e-9].iloc[-1]
    assert half["gain_p10"] == pytest.approx(Q * 1.0, rel=0.02)
    assert half["share L0"] == pytest.approx(half["share L1"], abs=0.05)  # bought as a pair
    top = f.iloc[-1]
    assert Q * 1.005 < top["gain_p10"] <= Q * 1.1 + 1e-9
    assert top["share L2"] > 0.02


def test_several_authorities_search_in_lockstep_with_one_call_per_generation():
    calls = []
    inner = _margins(lambda x: float(np.sum(x)))

    def margins(plans):
        calls.append([len(p) for p in plans])
        return inner(plans)

    found = search_levers([_problem([0.5, 0.5], "A"), _problem([0.25], "B")], margins,
                          budget=1.0, population=6, generations=3, seed=0)
    assert len(calls) == 1 + 3  # baseline and singles, then one batch per generation
    assert all(n[0] > 0 and n[1] > 0 for n in calls)  # both authorities in every batch
    assert found[1].front["gain_p10"].iloc[-1] == pytest.approx(Q * 1.0)  # B: its one lever


def test_front_keeps_only_policies_nothing_cheaper_beats():
    import pandas as pd

    ev = pd.DataFrame({"cost_million": [0.0, 0.2, 0.2, 0.5, 0.6, 0.9],
                       "gain_p10": [0.0, 0.1, 0.3, 0.2, 0.4, 0.4]})
    f = front_of(ev)
    assert f["cost_million"].tolist() == [0.2, 0.6]
    assert f["gain_p10"].tolist() == [0.3, 0.4]
