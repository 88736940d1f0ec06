"""The explore, tipping and optimise commands: results on disk, clear errors, HTML pages."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from carespiral.cli import app
from carespiral.exploration import load_result

FOLD_MDL = Path(__file__).parent / "fold_teaching.mdl"

runner = CliRunner()


def test_explore_writes_results_discovery_and_a_page(small_spec, tmp_path):
    out = tmp_path / "ex"
    r = runner.invoke(app, ["explore", str(small_spec), "--runs", "16", "--out", str(out), "--html"])
    assert r.exit_code == 0, r.output
    res = load_result(out)
    assert len(res.outcomes) == 16 and res.kind == "experiments"
    assert "PRIM box for collapse" in r.output
    box = load_result(out / "discovery")
    # demand is what tips this model: PRIM restricts Referral Rate from below
    restricted = box.restricted.set_index("factor")
    assert "Referral Rate" in restricted.index and restricted.loc["Referral Rate", "lower"] > 250
    page = (out / "report.html").read_text()
    assert "PRIM" in page and page.count("<script") >= 1
    # running again without --resume refuses to overwrite
    again = runner.invoke(app, ["explore", str(small_spec), "--runs", "16", "--out", str(out)])
    assert again.exit_code == 2 and "--resume" in again.output


def test_explore_reports_spec_mistakes_without_traceback(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('model = "workforce_spiral"\n[uncertainties]\n"Referal Rate" = [200, 300]\n')
    r = runner.invoke(app, ["explore", str(bad), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2
    assert "Referral Rate" in r.output and "Traceback" not in r.output
    r = runner.invoke(app, ["explore", str(tmp_path / "missing.toml")])
    assert r.exit_code == 2 and "does not exist" in r.output


def test_tipping_on_the_teaching_fold(tmp_path):
    out = tmp_path / "tip"
    r = runner.invoke(app, ["tipping", str(FOLD_MDL), "--param", "Drive", "--range=-1:1",
                            "--out", str(out), "--html"])
    assert r.exit_code == 0, r.output
    assert "fold (upper) at Drive = 0.66667" in r.output
    folds = load_result(out / "bifurcation").folds
    assert len(folds[folds["kind"] == "fold"]) == 2
    assert (out / "report.html").is_file()


def test_tipping_regime_map(tmp_path):
    out = tmp_path / "map"
    r = runner.invoke(app, ["tipping", "workforce_spiral", "--param", "Referral Rate",
                            "--range", "100:460", "--points", "4", "--param2", "establishment",
                            "--range2", "120:200", "--points2", "2", "--out", str(out), "--html"])
    assert r.exit_code == 0, r.output
    table = load_result(out / "regime_map").table
    assert set(table["regime"]) >= {"sustainable", "collapse"}
    assert "Regime map" in (out / "report.html").read_text()


def test_tipping_names_the_dominant_loops(tmp_path):
    r = runner.invoke(app, ["tipping", "workforce_spiral", "--param", "Referral Rate", "--range",
                            "150:450", "--points", "3", "--loops", "360", "--out", str(tmp_path / "l")])
    assert r.exit_code == 0, r.output
    ld = load_result(tmp_path / "l" / "loops")
    assert ld.kind == "loop_dominance"
    switches = ld.switches(min_months=6)
    assert len(switches) >= 1
    for row in switches.itertuples(index=False):  # every saved switch is printed
        assert f"month {row.time:g}: {row.to or '(none)'}" in r.output
    # with demand above its capacity the model is driven by its one reinforcing loop, R1:
    # workload -> burnout -> leaving -> fewer staff (docs/models/workforce_spiral.md)
    assert any("burnout" in v and "leaving" in v for v in switches["variables"])


def test_tipping_bad_range(tmp_path):
    r = runner.invoke(app, ["tipping", "workforce_spiral", "--param", "Referral Rate",
                            "--range", "400-200"])
    assert r.exit_code == 2 and "LOW:HIGH" in r.output


def test_optimise_writes_the_front(tmp_path):
    spec = tmp_path / "opt.toml"
    spec.write_text(
        'model = "workforce_spiral"\nstop = 120\n[uncertainties]\n"Referral Rate" = [250, 400]\n'
        '[levers]\nestablishment = { range = [120, 220], cost = 4.5 }\n'
        '[optimise]\npopulation = 4\ngenerations = 2\nensemble = 4\n'
    )
    out = tmp_path / "opt"
    r = runner.invoke(app, ["optimise", str(spec), "--out", str(out), "--html"])
    assert r.exit_code == 0, r.output
    res = load_result(out)
    assert isinstance(res.front, pd.DataFrame) and len(res.front) >= 1
    assert "short run" in r.output and (out / "report.html").is_file()
