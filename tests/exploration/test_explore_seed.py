"""Seeds across exploration chunks: a model with RANDOM functions explored in chunks.

Reference answer: the batch model's own run of the whole design in one call with the spec's
seed (`BatchModel.run(design, seed=...)`: run i draws from the stream (seed, i)), which every
chunking must reproduce. Chunks must not repeat one another's streams (before, every chunk
started again at run 0 with seed 0), the same seed reproduces the exploration, another seed
changes the draws, and a model without RANDOM functions gives today's numbers for any seed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from carespiral.cli import app
from carespiral.errors import CarespiralError
from carespiral.exploration import load_result, run_experiments
from carespiral.exploration.experiments import build_design, evaluate
from carespiral.exploration.spec import spec_from_dict
from carespiral.pysd_runner import load
from carespiral.pysd_runner.batch import compile_model

HERE = Path(__file__).parent
MODEL = HERE / "random_walk.mdl"
FOLD = HERE / "fold_teaching.mdl"  # no RANDOM function


def _spec(model: Path = MODEL, **over):
    data = {
        "model": str(model), "runs": 12, "chunk": 5, "seed": 3,
        "uncertainties": {"Noise Scale": [0.5, 2.0]},
        "levers": {"Decay Time": [2.0, 10.0]},
        "criteria": [{"type": "above", "variable": "Level", "value": 1.0, "months": 2}],
        "outcomes": [{"name": "final_level", "variable": "Level", "stat": "final"},
                     {"name": "peak_level", "variable": "Level", "stat": "max"}],
    }
    return spec_from_dict({**data, **over}, "seed_spec.toml")


def _frame(res) -> pd.DataFrame:
    return res.to_frame().sort_index()


def _whole_design_levels(spec, design: pd.DataFrame) -> np.ndarray:
    """Final levels of the whole design run in one call of the batch model, seed `spec.seed`."""
    ds = compile_model(MODEL).run(design, outputs=["Level"], seed=spec.seed, engine="numpy")
    return ds["Level"].to_numpy()[:, -1]


def test_chunked_exploration_equals_one_run_of_the_whole_design(tmp_path) -> None:
    spec = _spec()
    chunked = run_experiments(spec, out=tmp_path / "chunked")
    whole = run_experiments(_spec(chunk=12))
    ones = run_experiments(_spec(chunk=1))
    pd.testing.assert_frame_equal(_frame(chunked), _frame(whole))
    pd.testing.assert_frame_equal(_frame(chunked), _frame(ones))
    assert len(list((tmp_path / "chunked" / "chunks").glob("*.parquet"))) == 3
    want = _whole_design_levels(spec, chunked.design)
    np.testing.assert_allclose(chunked.outcomes["final_level"].to_numpy(), want, rtol=1e-12,
                               atol=1e-12)
    assert set(chunked.outcomes["regime"]) == {"collapse", "sustainable"}


def test_chunks_draw_different_streams() -> None:
    """Ten identical runs in two chunks: every run draws its own stream (chunk 2 does not
    repeat chunk 1), and each run draws what it draws in one call of the ten."""
    spec = _spec().bind(load(MODEL))
    design = pd.DataFrame({"Noise Scale": [1.0] * 10, "Decay Time": [5.0] * 10},
                          index=pd.RangeIndex(10, name="run"))
    model = load(MODEL)
    first, second = evaluate(model, spec, design.iloc[:5]), evaluate(model, spec, design.iloc[5:])
    finals = np.r_[first["final_level"].to_numpy(), second["final_level"].to_numpy()]
    assert len(np.unique(finals)) == 10  # ten streams, no chunk repeating another
    np.testing.assert_allclose(finals, _whole_design_levels(spec, design), rtol=1e-12,
                               atol=1e-12)
    # the run numbers place the rows: rows 5-9 given alone, or numbered from 5 explicitly
    again = evaluate(model, spec, design.iloc[5:].reset_index(drop=True), first_run=5)
    np.testing.assert_array_equal(again["final_level"].to_numpy(),
                                  second["final_level"].to_numpy())
    # rows whose run numbers are not consecutive run as consecutive pieces
    gaps = evaluate(model, spec, design.iloc[[0, 1, 7, 8]])
    np.testing.assert_array_equal(gaps["final_level"].to_numpy(), finals[[0, 1, 7, 8]])


def test_same_seed_reproduces_another_seed_differs() -> None:
    a, b = run_experiments(_spec()), run_experiments(_spec())
    pd.testing.assert_frame_equal(_frame(a), _frame(b))
    model = load(MODEL)
    spec3, spec4 = (_spec(seed=s).bind(model) for s in (3, 4))
    design, _ = build_design(spec3, model)
    three, four = evaluate(model, spec3, design), evaluate(model, spec4, design)
    # the same design, other streams: no run ends at the same level
    assert not np.any(three["final_level"].to_numpy() == four["final_level"].to_numpy())
    np.testing.assert_allclose(four["final_level"].to_numpy(),
                               _whole_design_levels(spec4, design), rtol=1e-12, atol=1e-12)


def test_a_model_without_random_functions_is_unchanged_by_the_seed() -> None:
    model = load(FOLD)
    fold = {"uncertainties": {"Drive": [-1.0, 1.0]}, "levers": {"Perception Time": [1.0, 4.0]}}
    spec3, spec9 = (_spec(FOLD, seed=s, **fold).bind(model) for s in (3, 9))
    design, _ = build_design(spec3, model)
    three, nine = evaluate(model, spec3, design), evaluate(model, spec9, design)
    pd.testing.assert_frame_equal(three, nine)
    today = model.run_batch(design, outputs=["Level"], stop=spec3.stop, backend="auto")
    np.testing.assert_array_equal(three["final_level"].to_numpy(),
                                  today["Level"].to_numpy()[:, -1])


def test_explore_seed_option(tmp_path) -> None:
    spec_file = tmp_path / "seed_spec.toml"
    spec_file.write_text(
        f'model = "{MODEL.as_posix()}"\nruns = 12\nchunk = 5\nseed = 3\n\n'
        '[uncertainties]\n"Noise Scale" = [0.5, 2.0]\n\n[levers]\n"Decay Time" = [2.0, 10.0]\n\n'
        '[[criteria]]\ntype = "above"\nvariable = "Level"\nvalue = 1.0\nmonths = 2\n\n'
        '[[outcomes]]\nname = "final_level"\nvariable = "Level"\nstat = "final"\n\n'
        '[[outcomes]]\nname = "peak_level"\nvariable = "Level"\nstat = "max"\n',
        encoding="utf-8")
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["explore", str(spec_file), "--seed", "7", "--out", str(out)])
    assert r.exit_code == 0, r.output
    saved = load_result(out)
    assert saved.settings["seed"] == 7
    pd.testing.assert_frame_equal(_frame(saved), _frame(run_experiments(_spec(seed=7))),
                                  check_names=False)


@pytest.mark.parametrize("bad", [-1, 1.5, True, "x", 2 ** 53])
def test_a_bad_first_run_or_seed_is_a_clear_error(bad) -> None:
    model = load(MODEL)
    spec = _spec().bind(model)
    design = pd.DataFrame({"Noise Scale": [1.0], "Decay Time": [5.0]})
    with pytest.raises(CarespiralError, match=r"first_run must be a whole number from 0"):
        evaluate(model, spec, design, first_run=bad)
    with pytest.raises(CarespiralError, match=r"seed must be a whole number from 0"):
        model.run_batch(design, outputs=["Level"], seed=bad)
    with pytest.raises(CarespiralError, match=r"first_run must be a whole number from 0"):
        compile_model(MODEL).run(design, first_run=bad)


def test_a_design_not_numbered_by_run_is_refused() -> None:
    model = load(MODEL)
    spec = _spec().bind(model)
    design = pd.DataFrame({"Noise Scale": [1.0, 1.2], "Decay Time": [5.0, 5.0]},
                          index=pd.Index(["a", "b"]))
    with pytest.raises(CarespiralError, match="numbered by run"):
        evaluate(model, spec, design)
    pd.testing.assert_frame_equal(evaluate(model, spec, design, first_run=0).reset_index(drop=True),
                                  evaluate(model, spec, design.reset_index(drop=True)))


def test_first_run_places_rows_in_process_and_on_dask() -> None:
    """Rows 4-11 of a batch given alone with first_run=4 draw what they draw among all 12,
    in this process or as Dask chunks (each chunk keeps its offset on top of first_run)."""
    import distributed

    bm = compile_model(MODEL)
    params = pd.DataFrame({"Noise Scale": np.linspace(0.5, 2.0, 12)})
    whole = bm.run(params, outputs=["Noise"], seed=5, engine="numpy")["Noise"].to_numpy()
    part = params.iloc[4:].reset_index(drop=True)
    alone = bm.run(part, outputs=["Noise"], seed=5, first_run=4, engine="numpy")
    np.testing.assert_array_equal(alone["Noise"].to_numpy(), whole[4:])
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        on_dask = bm.run(part, outputs=["Noise"], seed=5, first_run=4, engine="numpy",
                         scheduler=client, chunk_size=3)
    np.testing.assert_array_equal(on_dask["Noise"].to_numpy(), whole[4:])
