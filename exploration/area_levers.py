"""Which levers buy an authority the most margin per pound: the robust policy search on its
posterior, with its own drivers over time.

    >>> from carespiral.exploration.area_levers import fit_lever_problems, search_levers
    >>> problems, margins = fit_lever_problems(fit, ["E09000014"], draws=16)  # doctest: +SKIP
    >>> found = search_levers(problems, margins, budget=1.0)                  # doctest: +SKIP
    >>> found[0].front                      # what each amount a year buys   # doctest: +SKIP

Each authority is one problem of `policy.pareto_search` (pymoo's NSGA-II): its variables are
its costed levers, each as the share (0 to 1) of the move that the whole `budget` buys alone at
the authority's scale (capped at the lever's range), so that the cost is linear in them; its
objectives are the cost (£ million a year, at most `budget`: a constraint) and the margin to
collapse in need gained in the worst tenth of its posterior draws (the 10th percentile over
draws of each draw's margin with the policy minus the same draw's margin without it: paired, so
the draws' own spread does not blur the gain). Every candidate of every authority in a
generation is one batch of margins (`area_margins.batch_margins`: every authority's rows carry
its own drivers over time).

Before the search, each lever alone at the whole budget is judged over the same draws (the
`levers` table, ranked by median gain per £1m) and the search starts from each lever alone at
half its move and from the greedy policies that fill a quarter, half, three quarters and all of
the budget with the levers in order of their robust gain per £ alone (the best policies if the
levers' gains simply added up; the search then finds where they do not), from every pair of
levers in equal shares of their moves spending the whole budget, and from every lever in equal
shares spending half and all of it (starts for levers that only work together). The population
keeps the first of these starts when there are more than it holds. The `front` is the non-dominated set of everything judged
(the singles and every candidate of every generation): for each cost, the most margin in the
worst tenth of the draws that any judged policy bought for that cost or less.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from carespiral.exploration.policy import pareto_search

__all__ = ["LeverMove", "LeverProblem", "LeverSearch", "fit_lever_problems", "front_of",
           "search_levers"]

ROBUST_Q = 0.10  # the worst tenth of the draws
GREEDY = (0.25, 0.5, 0.75, 1.0)  # shares of the budget the greedy starting policies spend
NEGLIGIBLE = 0.02  # a lever moved by less than this share of its full-budget move is not named

# margins of each problem's plans: a list (per problem) of plans x levers settings in; a list
# of plans x draws margins out
Margins = Callable[[list[np.ndarray]], list[np.ndarray]]


@dataclass(frozen=True)
class LeverMove:
    """A costed lever of one authority: its value now, the move the whole budget buys alone
    (signed, capped at its range) and what that move costs (£ million a year)."""

    variable: str
    label: str
    now: float
    step: float
    spend: float
    basis: str = ""
    shown_scale: float = 1.0  # the lever in the authority's own units (posts per child x children)
    shown_unit: str = ""


@dataclass
class LeverProblem:
    """One authority's lever search: its costed levers, and those with no direct spending."""

    code: str
    moves: list[LeverMove]
    free: list[dict] = field(default_factory=list)  # lever, variable, now, basis


@dataclass
class LeverSearch:
    """One authority's result: each lever alone (`levers`), the Pareto front (`front`) and
    every policy judged (`evaluated`)."""

    levers: pd.DataFrame
    front: pd.DataFrame
    evaluated: pd.DataFrame
    runs: int = 0  # model runs (a share of its batch's, when searched with others)
    seconds: float = 0.0  # likewise


def search_levers(problems: Sequence[LeverProblem], margins: Margins, budget: float = 1.0,
                  population: int = 16, generations: int = 4, seed: int = 0,
                  progress: Callable[[int], None] | None = None) -> list[LeverSearch]:
    """Each problem's singles and Pareto front of cost against robust gain (see the module
    docstring); `margins` judges plans (settings of each problem's levers) over its draws."""
    # baseline (nothing moved) and each lever alone at the whole budget: one batch
    first = [np.vstack([_settings(p, np.zeros(len(p.moves))),
                        *[_settings(p, row) for row in np.eye(len(p.moves))]])
             for p in problems]
    m0 = margins(first)
    base = [m[0] for m in m0]
    judged: list[list[tuple[np.ndarray, np.ndarray]]] = [
        [(np.eye(len(p.moves)), m[1:])] for p, m in zip(problems, m0, strict=True)]
    active = [i for i, p in enumerate(problems) if p.moves]
    if active and generations > 0:
        spend = [np.array([mv.spend for mv in problems[i].moves]) for i in active]

        def evaluate(Xs: list[np.ndarray]) -> list[np.ndarray]:
            # pareto_search drops problems as they finish; all finish together here
            got = margins_of(Xs)
            out = []
            for k, (X, m) in enumerate(zip(Xs, got, strict=True)):
                i = active[k]
                judged[i].append((X, m))
                gain = m - base[i][None, :]
                out.append(np.column_stack([X @ spend[k], -np.quantile(gain, ROBUST_Q, axis=1)]))
            return out

        def margins_of(Xs: list[np.ndarray]) -> list[np.ndarray]:
            plans = [np.empty((0, 0))] * len(problems)
            for k, X in enumerate(Xs):
                plans[active[k]] = _settings(problems[active[k]], X)
            res = margins(plans)
            return [res[i] for i in active]

        n = [len(problems[i].moves) for i in active]
        starts = [_starts(judged[i][0][1] - base[i][None, :], s, budget)
                  for i, s in zip(active, spend, strict=True)]
        pareto_search([(np.zeros(k), np.ones(k)) for k in n], evaluate, n_obj=2,
                      population=population, generations=generations, seed=seed,
                      initial=starts,
                      budget=[(lambda X, s=s: X @ s - budget) for s in spend],
                      progress=progress)
    return [_result(p, base[i], judged[i], budget) for i, p in enumerate(problems)]


def _starts(single_gain: np.ndarray, spend: np.ndarray, budget: float) -> np.ndarray:
    """The first policies of the search, in order (the population keeps the first ones):
    greedy at each share of the budget, every pair of levers in equal shares of their moves
    spending the whole budget, then every lever in equal shares at half and all of it."""
    from itertools import combinations

    k = len(spend)
    greedy = [_greedy(single_gain, spend, f * budget) for f in GREEDY]
    pairs = []
    for a, b in combinations(range(k), 2):
        x = np.zeros(k)
        x[[a, b]] = min(1.0, budget / (spend[a] + spend[b]))
        pairs.append(x)
    even = [np.full(k, min(1.0, f * budget / spend.sum())) for f in (0.5, 1.0)]
    return np.vstack([*greedy, *pairs, *even])


def _greedy(single_gain: np.ndarray, spend: np.ndarray, money: float) -> np.ndarray:
    """Shares of each lever's move bought by filling `money` with the levers in order of
    their gain per £ alone (worst tenth of the draws), each up to its full move: the best
    policy if the levers' gains simply added up, a starting point for the search."""
    per = np.quantile(single_gain, ROBUST_Q, axis=1) / spend
    x = np.zeros(len(spend))
    left = money
    for j in np.argsort(-per):
        if per[j] <= 0 or left <= 0:
            break
        x[j] = min(1.0, left / spend[j])
        left -= x[j] * spend[j]
    return x


def _settings(p: LeverProblem, X: np.ndarray) -> np.ndarray:
    """Shares of each lever's full-budget move -> the levers' values (plans x levers)."""
    X = np.atleast_2d(X)
    if not p.moves:
        return np.empty((len(X), 0))
    now = np.array([mv.now for mv in p.moves])
    step = np.array([mv.step for mv in p.moves])
    return now[None, :] + X * step[None, :]


def _result(p: LeverProblem, base: np.ndarray, judged, budget: float) -> LeverSearch:
    spend = np.array([mv.spend for mv in p.moves])
    X = np.vstack([x for x, _ in judged]) if p.moves else np.empty((0, 0))
    M = np.vstack([m for _, m in judged]) if p.moves else np.empty((0, len(base)))
    gain = M - base[None, :]
    ev = pd.DataFrame({
        "cost_million": X @ spend if len(X) else np.empty(0),
        "margin_before": float(np.median(base)),
        "margin_after": np.median(M, axis=1),
        "gain_median": np.median(gain, axis=1),
        "gain_p10": np.quantile(gain, ROBUST_Q, axis=1),
        "gain_p90": np.quantile(gain, 1 - ROBUST_Q, axis=1)})
    for j, mv in enumerate(p.moves):
        ev[mv.variable] = mv.now + X[:, j] * mv.step
        ev[f"share {mv.variable}"] = X[:, j]
    ev["policy"] = [describe(p, x) for x in X]
    singles = []
    for j, mv in enumerate(p.moves):
        r = ev.iloc[j]
        singles.append({"lever": mv.label, "variable": mv.variable, "now": mv.now,
                        "setting": mv.now + mv.step, "shown_now": mv.now * mv.shown_scale,
                        "shown_setting": (mv.now + mv.step) * mv.shown_scale,
                        "shown_unit": mv.shown_unit, "cost_million": mv.spend,
                        "margin_before": r["margin_before"], "margin_after": r["margin_after"],
                        "gain_median": r["gain_median"], "gain_p10": r["gain_p10"],
                        "gain_per_million": r["gain_median"] / mv.spend,
                        "ranked": True, "basis": mv.basis})
    for f in p.free:
        singles.append({**f, "setting": f["now"], "cost_million": 0.0, "ranked": False})
    levers = pd.DataFrame(singles)
    if len(levers) and "gain_per_million" in levers:
        levers = levers.sort_values(["ranked", "gain_per_million"], ascending=[False, False],
                                    ignore_index=True, na_position="last")
    feasible = ev[ev["cost_million"] <= budget * (1 + 1e-9)]
    return LeverSearch(levers, front_of(feasible), ev)


def front_of(ev: pd.DataFrame) -> pd.DataFrame:
    """The policies no other beats on both cost and the gain in the worst tenth (ties on both:
    the first kept), cheapest first; only those that gain something in that tenth."""
    if not len(ev):
        return ev.copy()
    order = ev.sort_values(["cost_million", "gain_p10"], ascending=[True, False], kind="stable")
    keep, best = [], 0.0
    for idx, g in zip(order.index, order["gain_p10"].to_numpy(), strict=True):
        if g > best + 1e-12:
            keep.append(idx)
            best = g
    return order.loc[keep].reset_index(drop=True)


def describe(p: LeverProblem, x: np.ndarray) -> str:
    """A policy in words: each lever moved (by at least `NEGLIGIBLE` of its move), from its
    value now to the policy's, in the authority's own units."""
    parts = []
    for mv, share in zip(p.moves, np.atleast_1d(x), strict=True):
        if share < NEGLIGIBLE:
            continue
        a, b = mv.now * mv.shown_scale, (mv.now + share * mv.step) * mv.shown_scale
        unit = mv.shown_unit or ""
        verb = "raise" if mv.step > 0 else "cut"
        parts.append(f"{verb} {mv.label.lower()} from {_num(a)} to {_num(b)}"
                     + (f" {unit}" if unit else ""))
    return "; ".join(parts) if parts else "nothing moved"


def _num(v: float) -> str:
    a = abs(v)
    return f"{v:,.0f}" if a >= 100 else f"{v:,.1f}" if a >= 10 else f"{v:,.2f}"


# ---- an authority of a pooled fit: its levers, costs and margins -----------------------------


YARDSTICK = "underlying_need"  # the margin levers are judged by


def fit_lever_problems(fit, codes: Sequence[str], draws: int = 16, budget: float = 1.0,
                       seed: int = 0) -> tuple[list[LeverProblem], Margins]:
    """Each authority's lever problem (its costed levers at its scale), and the function that
    judges plans over its posterior draws with its own constants and drivers over time."""
    from types import SimpleNamespace

    from carespiral.exploration.area_margins import batch_margins
    from carespiral.exploration.authorities import _rows
    from carespiral.exploration.costs import CostModel
    from carespiral.pysd_runner import load
    from carespiral.pysd_runner.catalog import label

    model = load(fit.model)
    codes = list(codes)
    base, inputs, owner = _rows(fit, codes, draws, seed)
    role_of = {v: r for r, v in model.levers.items()}
    problems = []
    for a, code in enumerate(codes):
        values = fit.values(code)
        costs = CostModel().lever_costs(_AtScale(model, values),
                                        [SimpleNamespace(name=v) for v in model.levers.values()])
        moves, free = [], []
        for lc in costs:
            p = model.parameter(lc.name)
            now = float(values.get(p.name, p.default))
            name = label(role_of[lc.name], model.name)
            step, spend = _step(lc, now, p, budget)
            if spend <= 0:
                free.append({"lever": name, "variable": lc.name, "now": now, "basis": lc.basis})
                continue
            per_child = (p.units or "").replace(" ", "") == "FTE/Children"
            moves.append(LeverMove(
                lc.name, name, now, step, spend, lc.basis,
                float(values.get("Child Population", 1.0)) if per_child else 1.0,
                "funded FTE posts" if per_child else ""))
        problems.append(LeverProblem(code, moves, free))
        rows = owner == a
        for mv in moves:  # every lever's own value in every row, moved or not
            if mv.variable not in base:
                base[mv.variable] = np.nan
            base.loc[rows, mv.variable] = mv.now
    def margins(plans: list[np.ndarray]) -> list[np.ndarray]:
        frames, cols, sizes = [], [], []
        for a, (p, X) in enumerate(zip(problems, plans, strict=True)):
            rows = np.flatnonzero(owner == a)
            n = len(X)
            sizes.append(n)
            for k in range(n):
                f = base.iloc[rows].copy()
                for j, mv in enumerate(p.moves):
                    q = model.parameter(mv.variable)
                    f[mv.variable] = float(np.clip(X[k, j], q.lower, q.upper))
                frames.append(f)
                cols.append(rows)
        if not frames:
            return [np.empty((0, draws)) for _ in problems]
        batch = pd.concat(frames, ignore_index=True)
        idx = np.concatenate(cols)
        ins = {k: (t, v[:, idx]) for k, (t, v) in inputs.items()}
        # each (authority, draw) keeps its stream under every plan: common random numbers
        res = batch_margins(model, batch, ins, [YARDSTICK], scenario=fit.scenario or None,
                            points=6, refine=4, seed=seed, streams=idx)
        margins.runs += res.runs  # type: ignore[attr-defined]
        m = res.margins[YARDSTICK]["margin"].to_numpy(dtype=float)
        out, at = [], 0
        for n in sizes:
            out.append(m[at:at + n * draws].reshape(n, draws))
            at += n * draws
        return out

    margins.runs = 0  # type: ignore[attr-defined]  # model runs so far, for the settings
    return problems, margins


class _AtScale:
    """A model whose parameter defaults are one authority's values (so that lever costs are
    at its scale: its child population, its funded posts)."""

    def __init__(self, model, values: dict[str, float]) -> None:
        self._m, self._v = model, values
        self.levers = model.levers

    def parameter(self, name: str):
        from dataclasses import replace

        p = self._m.parameter(name)
        return replace(p, default=float(self._v[p.name])) if p.name in self._v else p

    @property
    def parameters(self):
        return [self.parameter(p.name) for p in self._m.parameters]


def _step(lc, now: float, p, money: float) -> tuple[float, float]:
    """The move of a lever that `money` (£ million a year) buys, capped at its range, and
    what it spends; (0, 0) for a lever with no direct spending."""
    if lc.above > 0 and p.upper > now:
        step = min(money * 1e6 / lc.above, p.upper - now)
        return step, step * lc.above / 1e6
    if lc.below > 0 and p.lower < now:
        step = -min(money * 1e6 / lc.below, now - p.lower)
        return step, -step * lc.below / 1e6
    return 0.0, 0.0
