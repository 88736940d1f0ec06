"""The user's seed reaches the RANDOM functions of every exploration that runs the model.

Model: noisy_caseload.mdl, a caseload fed by demand x compliance burden plus normal noise drawn
at every step (RANDOM NORMAL), closed after Duration months. Reference answer: the batch model's
own run (`BatchModel.run(frame, seed=s, first_run=k)`: row i draws from the stream (s, k + i)),
which each exploration must reproduce for the streams it documents: policies share the ensemble
member's stream (common random numbers), every level of a margin search and every cell of a
regime map the stream (s, 0). Before, these runs ignored the seed (always 0) and drew by their
row's place in the batch, so two identical policies (or cells) drew different numbers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from carespiral.cli import app
from carespiral.exploration.policy import _Evaluator, optimise
from carespiral.exploration.spec import spec_from_dict
from carespiral.pysd_runner import Model
from carespiral.pysd_runner.batch import compile_model
from carespiral.pysd_runner.catalog import CatalogEntry
from carespiral.pysd_runner.streams import draws_random, run_on_streams

HERE = Path(__file__).parent
MODEL = HERE / "noisy_caseload.mdl"
PLAIN = HERE / "fold_teaching.mdl"  # no RANDOM function


def _model() -> Model:
    """The noisy model with the roles the explorations read (a user .mdl has none)."""
    return Model(MODEL, CatalogEntry(name="noisy_caseload", path=MODEL, title="noisy",
                                     outputs={"caseload": "Caseload"},
                                     levers={"compliance_burden": "Compliance Burden"}))


@pytest.fixture(scope="module")
def noisy() -> Model:
    return _model()


def _reference(frame: pd.DataFrame, seed: int, first_run: int = 0) -> np.ndarray:
    """Caseload (runs x time) of the batch model's own run: row i on the stream
    (seed, first_run + i)."""
    ds = compile_model(MODEL).run(frame, outputs=["Caseload"], seed=seed, first_run=first_run,
                                  engine="numpy")
    return ds["Caseload"].transpose("run", "time").to_numpy()


# ---- the helper ---------------------------------------------------------------------------


def test_rows_on_any_streams_run_in_one_call(noisy, monkeypatch) -> None:
    """Shared and scattered streams need no splitting (before: a call per layer of rows)."""
    calls = []
    real = noisy.run_batch
    monkeypatch.setattr(noisy, "run_batch", lambda *a, **k: calls.append(k) or real(*a, **k))
    frame = pd.DataFrame({"Compliance Burden": [1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 1.5, 2.5]})
    run_on_streams(noisy, frame, np.array([0, 1, 2, 0, 1, 2, 5, 0]), 3, outputs=["Caseload"])
    assert len(calls) == 1
    assert calls[0]["streams"].tolist() == [0, 1, 2, 0, 1, 2, 5, 0]


def test_each_row_draws_its_stream(noisy) -> None:
    frame = pd.DataFrame({"Compliance Burden": [1.0, 2.0, 2.0, 3.0, 1.0]},
                         index=pd.Index([10, 11, 12, 13, 14], name="run"))
    streams = np.array([0, 0, 1, 0, 7])
    ds = run_on_streams(noisy, frame, streams, 5, outputs=["Caseload"])
    assert ds["run"].to_numpy().tolist() == [10, 11, 12, 13, 14]
    got = ds["Caseload"].transpose("run", "time").to_numpy()
    for i, s in enumerate(streams):
        want = _reference(frame.iloc[[i]], 5, first_run=int(s))[0]
        np.testing.assert_allclose(got[i], want, rtol=1e-12, atol=1e-12)
    assert draws_random(noisy) and not draws_random(Model(PLAIN))


# ---- policy search ----------------------------------------------------------------------------

SPEC = {
    "model": str(MODEL), "stop": 120, "seed": 4,
    "uncertainties": {"Noise Scale": [0.5, 2.0]},
    "levers": {"Duration": {"range": [6.0, 30.0], "cost": 1000.0}},
    "criteria": [{"type": "above", "variable": "Caseload", "value": 25.0, "months": 12}],
    "optimise": {"population": 4, "generations": 2, "ensemble": 5},
}


def test_policies_share_the_ensembles_streams_and_the_seed(noisy) -> None:
    spec = spec_from_dict({**SPEC, "seed": 9}).bind(noisy)
    ensemble = pd.DataFrame({"Noise Scale": [0.5, 1.0, 1.5, 2.0]})
    ev = _Evaluator(noisy, spec, ensemble)
    X = np.array([[12.0], [20.0], [12.0]])
    r = ev.run(X)
    # the same policy twice draws the same numbers (before: rows 0-3 and 8-11 differed)
    np.testing.assert_array_equal(r["long"][0], r["long"][2])
    # each policy's ensemble member j is the reference run on the stream (9, j)
    for p, d in enumerate(X[:, 0]):
        frame = ensemble.assign(Duration=d)
        ref = _reference(frame, 9)
        np.testing.assert_allclose(r["long"][p], ref[:, -13:].mean(axis=1), rtol=1e-12)
    other = _Evaluator(noisy, spec_from_dict({**SPEC, "seed": 10}).bind(noisy), ensemble)
    assert not np.allclose(other.run(X[:1])["long"], r["long"][:1])


def test_optimise_is_reproducible_and_its_front_is_the_seeds(monkeypatch) -> None:
    monkeypatch.setattr("carespiral.pysd_runner.load", lambda *a, **k: _model())
    spec = spec_from_dict(SPEC)
    a, b = optimise(spec, seed=21), optimise(spec_from_dict({**SPEC, "seed": 21}))
    pd.testing.assert_frame_equal(a.evaluated, b.evaluated)
    pd.testing.assert_frame_equal(a.front, b.front)
    assert a.settings["seed"] == 21
    # the front's robust caseload (90th percentile over the ensemble of the last 12 months'
    # mean) is the reference runs' on the streams (21, j)
    from dataclasses import replace

    from carespiral.exploration.experiments import build_design

    m = _model()
    bound = spec_from_dict({**SPEC, "seed": 21}).bind(m)
    ensemble, _ = build_design(replace(bound, levers=(), design="lhs", runs=5), m)
    for row in a.front.itertuples(index=False):
        ref = _reference(ensemble.reset_index(drop=True).assign(Duration=row.Duration), 21)
        want = np.percentile(ref[:, -13:].mean(axis=1), 90)
        assert row.caseload == pytest.approx(want, rel=1e-12)
    c = optimise(spec, seed=22)
    assert not a.evaluated["caseload"].equals(c.evaluated["caseload"])


def test_the_optimise_command_takes_a_seed(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr("carespiral.pysd_runner.load", lambda *a, **k: _model())
    path = tmp_path / "policy.toml"
    path.write_text(
        f'model = "{MODEL}"\nstop = 120\nseed = 4\n'
        '[uncertainties]\n"Noise Scale" = [0.5, 2.0]\n'
        '[levers]\nDuration = { range = [6.0, 30.0], cost = 1000.0 }\n'
        '[[criteria]]\ntype = "above"\nvariable = "Caseload"\nvalue = 25.0\nmonths = 12\n'
        '[optimise]\npopulation = 4\ngenerations = 2\nensemble = 5\n', encoding="utf-8")
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["optimise", str(path), "--seed", "21", "--out", str(out)])
    assert res.exit_code == 0, res.output
    from carespiral.exploration import load_result

    got = load_result(out)
    want = optimise(spec_from_dict(SPEC), seed=21)
    np.testing.assert_allclose(got.front["caseload"].to_numpy(),
                               want.front["caseload"].to_numpy(), rtol=1e-12)
    bad = CliRunner().invoke(app, ["optimise", str(path), "--seed", "-1", "--out",
                                   str(tmp_path / "bad")])
    assert bad.exit_code == 2 and "--seed -1" in bad.output and "Traceback" not in bad.output


# ---- margins, regime maps, resilience ----------------------------------------------------------


class _Spy:
    """The model, recording the seed and the streams its rows draw in every batch."""

    def __init__(self, model: Model) -> None:
        self._m = model
        self.calls: list[tuple[int, set[int]]] = []  # (seed, the rows' stream positions)

    def __getattr__(self, name: str):
        return getattr(self._m, name)

    def run_batch(self, params, **kw):
        first = kw.get("first_run", 0)
        streams = kw.get("streams")
        rows = range(first, first + len(params)) if streams is None else streams
        self.calls.append((kw.get("seed", 0), {int(r) for r in rows}))
        return self._m.run_batch(params, **kw)


def test_margin_levels_draw_the_seeds_first_stream(noisy) -> None:
    from carespiral.exploration.margin import collapse_margin

    spy = _Spy(noisy)
    noise = {"Noise Scale": 3.0}
    a = collapse_margin(spy, noise, "compliance_burden", seed=3)
    assert spy.calls and all(c == (3, {0}) for c in spy.calls)
    assert a == collapse_margin(noisy, noise, "compliance_burden", seed=3)
    # burden 1 settles at 12, collapse (> 25 for the last 12 months) needs about twice that;
    # the draws move the threshold: other seeds, other thresholds
    others = {collapse_margin(noisy, noise, "compliance_burden", seed=s)["threshold"]
              for s in (4, 5)}
    assert all(1.5 < t < 3 for t in {a["threshold"], *others})
    assert len({a["threshold"], *others}) > 1


def test_regime_map_cells_draw_the_seeds_first_stream(noisy) -> None:
    from carespiral.exploration import default_criteria, shock_map

    spy = _Spy(noisy)
    criteria = default_criteria(noisy)  # caseload above 25 for 12 months
    args = ("Compliance Burden", [1.5, 2.0, 2.5], "Noise Scale", [1.0, 3.0], criteria)
    found = shock_map(spy, *args, shock=0.5, duration=12, hold=60, seed=6)
    assert spy.calls and all(c == (6, {0}) for c in spy.calls)
    again = shock_map(noisy, *args, shock=0.5, duration=12, hold=60, seed=6)
    pd.testing.assert_frame_equal(found.table, again.table)
    assert found.shock["seed"] == 6


def test_resilience_runs_draw_the_seeds_first_stream(noisy) -> None:
    from carespiral.exploration.resilience import resilience

    spy = _Spy(noisy)
    policies = pd.DataFrame({"Duration": [10.0, 12.0, 10.0]})
    res = resilience(spy, policies, driver="Demand", output="Caseload", start=24, duration=6,
                     seed=2)
    assert spy.calls and all(c == (2, {0}) for c in spy.calls)
    t = res.table  # the same policy twice: the same draws, the same recovery
    assert t.loc[0, "peak_deviation"] == t.loc[2, "peak_deviation"]
    other = resilience(noisy, policies, driver="Demand", output="Caseload", start=24,
                       duration=6, seed=3)
    assert not np.allclose(other.table["peak_deviation"], t["peak_deviation"])


def test_authority_margins_keep_each_systems_stream(noisy) -> None:
    from carespiral.exploration.area_margins import batch_margins

    base = pd.DataFrame({"Compliance Burden": [1.0, 1.0, 1.2, 1.0]})
    spy = _Spy(noisy)
    res = batch_margins(spy, base, {}, ["compliance_burden"], points=5, refine=3, chunk=2,
                        seed=4)
    assert spy.calls and all(seed == 4 for seed, _ in spy.calls)
    # rows 0, 1 and 3 are one system at different streams; streams (4, i) whatever the chunk
    whole = batch_margins(noisy, base, {}, ["compliance_burden"], points=5, refine=3,
                          chunk=100, seed=4)
    pd.testing.assert_frame_equal(res.margins["compliance_burden"],
                                  whole.margins["compliance_burden"])
    # given one stream, the three equal rows are one system: one threshold
    same = batch_margins(noisy, base, {}, ["compliance_burden"], points=5, refine=3,
                         seed=4, streams=np.zeros(4, dtype=int))
    thr = same.margins["compliance_burden"]["threshold"].to_numpy()
    assert thr[0] == thr[1] == thr[3]
