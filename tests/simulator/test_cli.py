"""`carespiral simulator`: the page it writes, the tipping marks it computes, and bad input."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from carespiral.cli import app

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


def config_of(path) -> dict:
    text = path.read_text(encoding="utf-8")
    m = re.search(r'<script type="application/json" id="cs-sim-config">(.*?)</script>', text, re.S)
    return json.loads(m.group(1))


def test_writes_one_self_contained_page(tmp_path):
    out = tmp_path / "sim.html"
    res = invoke("simulator", "workforce_spiral", "--no-tipping", "--out", str(out))
    assert res.exit_code == 0, res.output
    text = out.read_text(encoding="utf-8")
    assert out.stat().st_size < 6_000_000
    # nothing is fetched: no external scripts, styles or images
    assert not re.search(r'<(script|link|img)[^>]+(src|href)=', text)
    cfg = config_of(out)
    assert [s["key"] for s in cfg["sliders"]] == ["establishment", "underlying_need"]
    assert [s["key"] for s in cfg["shocks"]] == ["freeze", "surge"]  # no scandal in this model
    assert cfg["area"] == "England" and not cfg["calibrated"]
    assert "Wrote" in res.output


def test_calibration_sets_the_start_scenario_area_and_draws(tmp_path, calibration_dir):
    from carespiral.calibration import load_result

    out = tmp_path / "cal.html"
    res = invoke("simulator", "collapse_spiral", "--calibration", str(calibration_dir),
                 "--no-tipping", "--out", str(out))
    assert res.exit_code == 0, res.output
    cfg = config_of(out)
    fitted = load_result(calibration_dir).values
    start = {s["name"]: s["start"] for s in cfg["sliders"]}
    assert start["Underlying Need"] == fitted["Underlying Need"]
    assert cfg["base"]["Normal Leaving Rate"] == fitted["Normal Leaving Rate"]
    assert cfg["base"]["Child Population"] == 60000.0
    assert cfg["scenario"] == "Baseline" or cfg["scenario"].lower().startswith("baseline")
    assert cfg["area"] == "Haringey"
    assert len(cfg["draws"]["rows"]) == 100
    # the spec's drivers over time, if it has any (see the test below)
    from carespiral.calibration.spec import read_spec

    assert ("Relative Child Population" in cfg["inputs"]) == bool(read_spec("local").drivers)


def test_tipping_marks_are_the_continuations_folds(tmp_path, monkeypatch):
    # the marks are where the continuation the command runs (kept here as it runs) loses the
    # steady state the slider starts in, above the starting value (the failure-demand model has
    # both a burden and a need: its continuations take seconds, the main model's longer)
    import carespiral.exploration as exploration

    real, seen = exploration.continuation, {}

    def kept(model, param, lower, upper, **kw):
        seen[param] = (lower, upper, real(model, param, lower, upper, **kw))
        return seen[param][2]

    monkeypatch.setattr(exploration, "continuation", kept)
    out = tmp_path / "tip.html"
    res = invoke("simulator", "failure_demand", "--out", str(out))
    assert res.exit_code == 0, res.output
    cfg = config_of(out)
    marks = {s["name"]: s["tipping"] for s in cfg["sliders"]}
    assert sorted(seen) == ["Compliance Share", "Upstream Demand"], res.output
    for name, (lower, upper, bif) in seen.items():
        s = next(s for s in cfg["sliders"] if s["name"] == name)
        assert (lower, upper) == (s["start"], s["upper"])
        folds = bif.folds
        lost = folds[((folds["kind"] == "fold") & (folds["direction"] == "upper"))
                     | ((folds["kind"] == "stability") & (folds["direction"] == "loses"))]
        assert marks[name] is not None, res.output
        assert marks[name]["value"] == lost["param"].min()
        assert marks[name]["value"] > s["start"]
    assert all(v is None for k, v in marks.items() if k not in seen)


@pytest.mark.parametrize("args, message", [
    (["nosuchmodel"], "unknown model"),
    (["workforce_spiral", "--scenario", "nosuch"], "unknown scenario"),
    (["workforce_spiral", "--area", "Atlantis"], "Atlantis"),
    (["workforce_spiral", "--calibration", "missing-folder"], "no such folder"),
    (["workforce_spiral", "--draws", "10"], "100"),
])
def test_bad_input_is_one_clear_error_and_writes_nothing(tmp_path, args, message):
    out = tmp_path / "sim.html"
    res = invoke("simulator", *args, "--no-tipping", "--out", str(out))
    assert res.exit_code == 2, res.output
    assert message in res.output
    assert "Traceback" not in res.output
    assert list(tmp_path.iterdir()) == []


def test_calibration_of_another_model_and_a_wrong_file_name_are_refused(tmp_path,
                                                                       calibration_dir):
    res = invoke("simulator", "workforce_spiral", "--calibration", str(calibration_dir),
                 "--no-tipping", "--out", str(tmp_path / "sim.html"))
    assert res.exit_code == 2 and "is for model 'collapse_spiral'" in res.output
    res = invoke("simulator", "workforce_spiral", "--out", str(tmp_path / "sim.txt"))
    assert res.exit_code == 2 and ".html" in res.output
    assert list(tmp_path.iterdir()) == []


def test_a_calibration_without_spread_draws_no_band(tmp_path, calibration_dir):
    # a point fit whose Laplace approximation failed saves identical draws: no band, said so
    import dataclasses

    import pandas as pd

    from carespiral.calibration import load_result

    result = load_result(calibration_dir)
    same = pd.DataFrame([result.values] * 200)
    flat = dataclasses.replace(result, draws=same)
    folder = flat.save(tmp_path / "flat")
    out = tmp_path / "flat.html"
    res = invoke("simulator", "collapse_spiral", "--calibration", str(folder), "--no-tipping",
                 "--out", str(out))
    assert res.exit_code == 0, res.output
    cfg = config_of(out)
    assert cfg["draws"] is None
    assert "no band" in cfg["drawsNote"]
    assert cfg["calibrated"]


def test_a_calibration_with_drivers_runs_its_area_with_them(tmp_path, calibration_dir):
    # a spec with drivers (national: child population and funded posts over time) ran its area
    # with them: the page does too
    import dataclasses

    import numpy as np

    from carespiral.calibration import load_result
    from carespiral.calibration.drivers import driver_inputs

    result = load_result(calibration_dir)
    national = dataclasses.replace(result, spec="national", area="England (E92000001)")
    folder = national.save(tmp_path / "national")
    out = tmp_path / "national.html"
    res = invoke("simulator", "collapse_spiral", "--calibration", str(folder), "--no-tipping",
                 "--out", str(out))
    assert res.exit_code == 0, res.output
    cfg = config_of(out)
    grid = np.asarray(cfg["grid"]["knots"])
    expected = driver_inputs(["child_population", "funded_posts"], "E92000001").inputs
    assert sorted(expected) == ["Relative Child Population", "Relative Establishment"]
    for name, series in expected.items():
        assert name in cfg["inputs"]
        table = np.asarray(cfg["scenarioInputs"][name]["table"])
        # linear between published points, held before the first and after the last
        assert table[0] == series.iloc[0] and table[-1] == series.iloc[-1]
        k = series.index
        mid = (k[0] + k[1]) / 2
        j = int(np.searchsorted(grid, mid))
        assert grid[j] == mid
        assert table[j] == pytest.approx((series.iloc[0] + series.iloc[1]) / 2, rel=1e-12)
