"""Robust policy search: lever settings judged across the whole uncertainty ensemble.

Each candidate policy (a setting of every lever in the spec) is run against the same ensemble of
uncertainty draws (Latin hypercube over the ranges, or posterior draws), and scored on three
objectives to minimise: `cost` of the levers in £ million a year over the model's defaults (from
published unit costs, `costs.py`; never negative), `collapse_risk`
(share of the ensemble that collapses) and a robust caseload (the 90th percentile across the
ensemble of the mean caseload over the last 12 months, or its mean). pymoo's NSGA-II evolves a
population; every generation is one batch of population x ensemble runs. The front's policies also
get their maximum regret: how much worse their caseload is, in the worst draw, than the best policy
on the front (or the baseline) in that draw, and, for models with a `scandal_shock` driver, their
recovery time after a further scandal of height 1 for six months (see `resilience.py`): in
`collapse_spiral` about half the fitted size of November 2008's (2.21).

Levers that only look good in the short run: moving a lever from its default to an end of its
range, across the ensemble, lowers the mean caseload over the first `short_run` months but raises
the caseload over the last 12 months or the collapse risk.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from carespiral.errors import CarespiralError
from carespiral.exploration.costs import CostModel
from carespiral.exploration.criteria import COLLAPSE, classify
from carespiral.exploration.experiments import build_design, needed_outputs
from carespiral.exploration.spec import ExploreSpec
from carespiral.pysd_runner.streams import run_on_streams
from carespiral.results import Result

__all__ = ["Found", "PolicyResult", "optimise", "pareto_search"]


@dataclass
class PolicyResult(Result):
    """The Pareto `front` (levers and objectives), every evaluated policy and the short-run check."""

    front: pd.DataFrame
    evaluated: pd.DataFrame
    short_run: pd.DataFrame  # lever, setting, short/long caseload change, risk change, verdict
    baseline: dict
    model: str
    settings: dict

    kind = "policy"

    def to_frame(self) -> pd.DataFrame:
        return self.front

    @property
    def short_run_only(self) -> list[str]:
        sr = self.short_run
        return sorted(set(sr.loc[sr["verdict"] == "short-run only", "lever"]))

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"model": self.model, "front_size": len(self.front),
                               "evaluated": len(self.evaluated), "baseline": self.baseline}
        safe = self.front[self.front["collapse_risk"] <= self.front["collapse_risk"].min() + 1e-12]
        if len(safe):
            best = safe.sort_values("cost").iloc[0]
            out["cheapest_lowest_risk"] = {k: float(best[k]) for k in self.front.columns}
        out["short_run_only_levers"] = self.short_run_only
        if "seconds" in self.settings:
            out["seconds"] = self.settings["seconds"]
        return out


class _Evaluator:
    """Runs candidate policies against the ensemble and reduces each to its objectives."""

    def __init__(self, model, spec: ExploreSpec, ensemble: pd.DataFrame) -> None:
        self.model, self.spec, self.ensemble = model, spec, ensemble
        self.seed = spec.seed  # of the model's RANDOM functions
        self.levers = [lv.name for lv in spec.levers]
        self.defaults = np.array([model.parameter(n).default for n in self.levers])
        self.cost_model = CostModel().with_overrides(spec.costs, spec.source or "spec")
        self.lever_costs = self.cost_model.lever_costs(model, spec.levers)
        caseload = model.outputs.get("caseload")
        if caseload is None:
            raise CarespiralError(f"model {model.name!r} has no `caseload` output role to optimise")
        self.caseload = caseload
        self.agency = model.outputs.get("agency_fte")  # agency spending, shown beside the cost
        self.outputs = list(dict.fromkeys([*needed_outputs(spec), caseload,
                                           *([self.agency] if self.agency else [])]))
        self.calls = 0

    def run(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Per policy (rows of X) and ensemble member: collapse, short- and long-run caseload.
        Ensemble member j draws the RANDOM stream (seed, j) under every policy (common random
        numbers), so policies are compared on the same draws and a policy's objectives do not
        depend on its place in a generation."""
        n_pol, n_ens = len(X), len(self.ensemble)
        batch = pd.concat([self.ensemble] * n_pol, ignore_index=True)
        for j, name in enumerate(self.levers):
            batch[name] = np.repeat(X[:, j], n_ens)
        batch.index = pd.RangeIndex(len(batch), name="run")
        s = self.spec
        ds = run_on_streams(self.model, batch, np.tile(np.arange(n_ens), n_pol), self.seed,
                            outputs=self.outputs, saveper=s.saveper, scenario=s.scenario,
                            start=s.start, stop=s.stop, time_step=s.time_step)
        self.calls += len(batch)
        regime = classify(ds, s.criteria, batch)["regime"].to_numpy() == COLLAPSE
        t = ds["time"].to_numpy()
        c = np.asarray(ds[self.caseload].transpose("run", "time").to_numpy(), dtype=float)
        short = t <= t[0] + s.optimise.short_run + 1e-9
        long = t >= t[-1] - 12 - 1e-9
        shape = (n_pol, n_ens)
        out = {"collapse": regime.reshape(shape),
               "short": c[:, short].mean(axis=1).reshape(shape),
               "long": c[:, long].mean(axis=1).reshape(shape)}
        if self.agency:
            a = np.asarray(ds[self.agency].transpose("run", "time").to_numpy(), dtype=float)
            out["agency"] = a[:, long].mean(axis=1).reshape(shape)
        return out

    def objectives(self, X: np.ndarray, r: dict[str, np.ndarray]) -> np.ndarray:
        cost = CostModel.policy_cost(X, self.defaults, self.lever_costs)
        risk = r["collapse"].mean(axis=1)
        if self.spec.optimise.robustness == "mean":
            load = r["long"].mean(axis=1)
        else:  # p90
            load = np.percentile(r["long"], 90, axis=1)
        return np.column_stack([cost, risk, load])


def optimise(
    spec: ExploreSpec,
    seed: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> PolicyResult:
    """Search lever settings for the Pareto front of cost, collapse risk and robust caseload.

    `seed` (default: the spec's) seeds the ensemble's design, NSGA-II and the model's RANDOM
    functions (ensemble member j draws the stream (seed, j) under every policy)."""
    from carespiral.pysd_runner import load

    t0 = time.perf_counter()
    if seed is not None:
        spec = replace(spec, seed=seed)
    model = load(spec.model_ref)
    spec = spec.bind(model)
    if not spec.levers:
        raise CarespiralError(f"{spec.source}: policy search needs [levers] with ranges")
    opt = spec.optimise
    ens_spec = replace(spec, levers=(), design="lhs", runs=opt.ensemble)
    if not ens_spec.uncertainties and not ens_spec.posterior:
        raise CarespiralError(f"{spec.source}: policy search needs [uncertainties] to be robust over")
    ensemble, _ = build_design(ens_spec, model)
    ev = _Evaluator(model, spec, ensemble)
    lo = np.array([lv.lower for lv in spec.levers])
    hi = np.array([lv.upper for lv in spec.levers])
    archive: list[pd.DataFrame] = []

    def evaluate(Xs: list[np.ndarray]) -> list[np.ndarray]:
        X = Xs[0]
        F = ev.objectives(X, ev.run(X))
        df = pd.DataFrame(X, columns=ev.levers)
        df[["cost", "collapse_risk", "caseload"]] = F
        archive.append(df)
        return [F]

    found = pareto_search([(lo, hi)], evaluate, n_obj=3, population=opt.population,
                          generations=opt.generations,
                          seed=spec.seed,
                          progress=(lambda g: progress(g, opt.generations)) if progress
                          else None)[0]
    X = found.X
    r = ev.run(X)
    front = pd.DataFrame(X, columns=ev.levers)
    front[["cost", "collapse_risk", "caseload"]] = ev.objectives(X, r)
    base_X = ev.defaults[None, :].clip(lo, hi)
    rb = ev.run(base_X)
    # Regret in each draw against the best of the front and the baseline.
    best = np.minimum(r["long"].min(axis=0), rb["long"][0])
    front["max_regret"] = (r["long"] - best).max(axis=1)
    front["short_run_caseload"] = r["short"].mean(axis=1)
    if "agency" in r:  # £ million a year paid over permanent staff for agency cover, long run
        front["agency_premium"] = r["agency"].mean(axis=1) * ev.cost_model.agency_premium / 1e6
    if "scandal_shock" in model.drivers:
        # Resilience of each front policy (uncertainties at their defaults): months to get back
        # within 5% of the undisturbed backlog after a scandal of height 1 for six months (in
        # collapse_spiral about half the fitted 2008 scandal, 2.21), NaN if it never does.
        from carespiral.exploration.resilience import resilience

        rec = resilience(model, front[ev.levers], height=1.0, start=24.0, duration=6.0,
                         stop=spec.stop, seed=spec.seed)
        front["recovery_months"] = rec.table["recovery_months"].to_numpy()
    front = front.sort_values(["collapse_risk", "cost"], ignore_index=True)
    fb = ev.objectives(base_X, rb)[0]
    baseline = {**dict(zip(ev.levers, base_X[0].tolist(), strict=True)), "cost": float(fb[0]),
                "collapse_risk": float(fb[1]), "caseload": float(fb[2])}
    if "agency" in rb:
        baseline["agency_premium"] = float(rb["agency"].mean() * ev.cost_model.agency_premium / 1e6)
    short = _short_run_check(ev, rb, lo, hi)
    settings = {"population": opt.population, "generations": opt.generations,
                "ensemble": opt.ensemble, "robustness": opt.robustness, "short_run": opt.short_run,
                "runs": ev.calls, "seconds": time.perf_counter() - t0, "source": spec.source,
                "seed": spec.seed,
                "cost_unit": "£ million a year",
                "lever_costs": [{"lever": lc.name, "above": lc.above, "below": lc.below,
                                 "basis": lc.basis, "costed": lc.costed}
                                for lc in ev.lever_costs],
                "unit_costs": ev.cost_model.sources(),
                "employment_cost": ev.cost_model.employment_cost,
                "agency_premium_per_fte": ev.cost_model.agency_premium}
    evaluated = pd.concat(archive, ignore_index=True) if archive else pd.DataFrame()
    return PolicyResult(front, evaluated, short, baseline, model.name, settings)


@dataclass
class Found:
    """What NSGA-II kept for one problem: the non-dominated settings of its last population
    (`X`, `F`), and every setting it evaluated in order (`evaluated_X`, `evaluated_F`)."""

    X: np.ndarray
    F: np.ndarray
    evaluated_X: np.ndarray
    evaluated_F: np.ndarray


Bounds = tuple[np.ndarray, np.ndarray]


def pareto_search(problems: Sequence[Bounds],
                  evaluate: Callable[[list[np.ndarray]], list[np.ndarray]], n_obj: int,
                  population: int, generations: int, seed: int,
                  initial: Sequence[np.ndarray | None] | None = None,
                  budget: Sequence[Callable[[np.ndarray], np.ndarray] | None] | None = None,
                  progress: Callable[[int], None] | None = None) -> list[Found]:
    """pymoo's NSGA-II on several problems in lockstep (ask and tell), all objectives
    minimised: each generation, `evaluate` gets every problem's candidates (a list of arrays,
    candidates x variables) and returns their objectives, so that the model runs of all
    problems (authorities, or one ensemble) share one batch. `problems`: each one's (lower,
    upper) bounds; `initial`: a problem's first candidates (the rest sampled at random);
    `budget`: per problem, a function of its candidates whose positive values are constraint
    violations (e.g. spending over a budget)."""
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.core.evaluator import Evaluator
    from pymoo.core.problem import Problem
    from pymoo.operators.sampling.rnd import FloatRandomSampling
    from pymoo.problems.static import StaticProblem

    algs, probs = [], []
    for i, (lo, hi) in enumerate(problems):
        g = budget[i] if budget is not None else None
        prob = Problem(n_var=len(lo), n_obj=n_obj, n_ieq_constr=0 if g is None else 1,
                       xl=np.asarray(lo, float), xu=np.asarray(hi, float))
        start = initial[i] if initial is not None else None
        sampling = (FloatRandomSampling() if start is None
                    else _seeded(np.atleast_2d(np.asarray(start, float))))
        alg = NSGA2(pop_size=population, sampling=sampling)
        alg.setup(prob, termination=("n_gen", generations), seed=seed, verbose=False)
        algs.append(alg)
        probs.append(prob)
    seen: list[tuple[list[np.ndarray], list[np.ndarray]]] = [([], []) for _ in problems]
    gen = 0
    while any(a.has_next() for a in algs):
        live = [i for i, a in enumerate(algs) if a.has_next()]
        asked = {i: algs[i].ask() for i in live}
        Xs = [asked[i].get("X") for i in live]
        Fs = evaluate(Xs)
        for i, X, F in zip(live, Xs, Fs, strict=True):
            out = {"F": np.asarray(F, float)}
            if budget is not None and budget[i] is not None:
                out["G"] = np.asarray(budget[i](X), float).reshape(-1, 1)
            Evaluator().eval(StaticProblem(probs[i], **out), asked[i])
            algs[i].tell(infills=asked[i])
            seen[i][0].append(X)
            seen[i][1].append(out["F"])
        gen += 1
        if progress:
            progress(gen)
    found = []
    for a, (xs, fs) in zip(algs, seen, strict=True):
        r = a.result()
        X = np.atleast_2d(r.X) if r.X is not None else np.empty((0, len(a.problem.xl)))
        F = np.atleast_2d(r.F) if r.F is not None else np.empty((0, n_obj))
        found.append(Found(X, F, np.vstack(xs), np.vstack(fs)))
    return found


def _seeded(first: np.ndarray):
    """A pymoo sampling whose first population starts with `first` (clipped to the bounds),
    the rest drawn uniformly at random."""
    from pymoo.core.sampling import Sampling
    from pymoo.operators.sampling.rnd import random

    class _Seeded(Sampling):
        def _do(self, problem, n_samples, *args, random_state=None, **kwargs):
            head = np.clip(first[:n_samples], problem.xl, problem.xu)
            rest = random(problem, n_samples - len(head), random_state=random_state)
            return np.vstack([head, rest.reshape(-1, problem.n_var)])

    return _Seeded()


def _short_run_check(ev: _Evaluator, rb, lo, hi) -> pd.DataFrame:
    rows = []
    for j, name in enumerate(ev.levers):
        for label, value in (("low", lo[j]), ("high", hi[j])):
            X = ev.defaults[None, :].copy()
            X[0, j] = value
            r = ev.run(X)
            d_short = float(r["short"].mean() - rb["short"].mean())
            d_long = float(r["long"].mean() - rb["long"].mean())
            d_risk = float(r["collapse"].mean() - rb["collapse"].mean())
            rows.append({"lever": name, "setting": label, "value": float(value),
                         "short_run_caseload_change": d_short, "long_run_caseload_change": d_long,
                         "collapse_risk_change": d_risk, "verdict": verdict(d_short, d_long, d_risk)})
    return pd.DataFrame(rows)


def verdict(d_short: float, d_long: float, d_risk: float, tol: float = 1e-9) -> str:
    """Classify a lever move by its changes in short-run caseload, long-run caseload and risk."""
    if d_short < -tol and (d_long > tol or d_risk > tol):
        return "short-run only"
    if d_long < -tol and d_risk <= tol:
        return "helps"
    if d_long > tol or d_risk > tol:
        return "harms"
    return "no effect"
