"""The CLI: `carespiral calibrate national` at a reduced budget, `export`, and user errors."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from carespiral.calibration.result import load_result
from carespiral.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def national(tmp_path_factory):
    out = tmp_path_factory.mktemp("cal") / "nat"
    res = runner.invoke(app, ["calibrate", "national", "--method", "differential_evolution",
                              "--budget", "200", "--no-profiles", "--fit-until", "2019",
                              "--forecast-mode", "ar1",  # one fit, not the nested warm-ups
                              "--seed", "3", "--out", str(out), "--html"])
    assert res.exit_code == 0, res.output
    return out, res.output


@pytest.mark.slow  # the national fit (~30 s on 2 busy cores) is this module's fixture
def test_national_fit_at_a_reduced_budget(national):
    out, output = national
    assert "Theil" in output or "U^M" in output
    r = load_result(out)
    assert r.model == "collapse_spiral" and r.area == "England (E92000001)"
    assert r.method == "differential_evolution" and r.seed == 3
    assert set(r.fit["series"]) == {"referrals", "re_referral_rate", "children_in_need",
                                    "cp_plans", "cp_plans_started", "s47_enquiries",
                                    "social_workers_fte",
                                    "turnover_rate", "vacancy_rate", "agency_rate", "caseload"}
    # fitted to 2019, forecast 2020-2023, compared with published and naive forecasts
    assert r.fitted["year"].max() == 2019
    assert r.backtest["year"].min() == 2020 and r.backtest["year"].max() == 2023
    assert {"mase_model", "mase_persistence", "mase_trend"} <= set(r.backtest_summary.columns)
    # the fit beats the prior's centre (what an uncalibrated model would give)
    assert "start_logpost" in r.diagnostics, sorted(r.diagnostics)
    assert r.diagnostics["best_logpost"] > r.diagnostics["start_logpost"]
    m = json.loads((out / "manifest.json").read_text())
    assert m["command"].startswith("carespiral calibrate national")
    assert m["fit_until"] == "2019" and len(m["data_sha256"]) == 64
    html = (out / "report.html").read_text()
    assert "Data against fit" in html and "Backtest" in html


@pytest.mark.slow
def test_export_writes_a_runnable_model_with_the_fitted_constants(national, tmp_path):
    from carespiral.pysd_runner import load

    out, _ = national
    res = runner.invoke(app, ["export", str(out), "--mdl", str(tmp_path / "fitted.mdl")])
    assert res.exit_code == 0, res.output
    r = load_result(out)
    m = load(tmp_path / "fitted.mdl")
    for name, value in r.values.items():
        assert m.parameter(name).default == pytest.approx(value, rel=1e-9)
    # the fitted constants and those the fit held from the data (drivers' levels, events after
    # the origin at size 0), so that the copy reproduces the fitted run
    cin = dict(line.split(" = ") for line in
               (tmp_path / "fitted.cin").read_text().splitlines())
    fixed = r.manifest.get("fixed", {})
    assert set(cin) == set(r.values) | set(fixed)
    for name, value in {**fixed, **r.values}.items():
        assert float(cin[name]) == pytest.approx(value, rel=1e-9)
    df = m.run(stop=24, outputs=["referrals"])
    assert df["Referrals"].notna().all()


@pytest.mark.parametrize(("args", "words"), [
    (["calibrate", "nationall"], "did you mean 'national'"),
    (["calibrate", "missing/spec.toml"], "does not exist"),
    (["calibrate", "national", "--method", "simplex"], "unknown method"),
    (["calibrate", "local"], "no area"),
    (["calibrate", "national", "--fit-until", "2030"], "--fit-until 2030"),
    (["calibrate", "local", "--area", "Atlantis"], "unknown area"),
    (["calibrate", "national", "--walkers", "64"], "--walkers applies to --method emcee"),
])
def test_user_errors_exit_2_with_a_message(args, words, tmp_path):
    res = runner.invoke(app, [*args, "--out", str(tmp_path / "x")])
    assert res.exit_code == 2, res.output
    assert words in res.output
    assert not (tmp_path / "x").exists()


def test_export_of_a_non_result_is_an_error(tmp_path):
    res = runner.invoke(app, ["export", str(tmp_path), "--mdl", str(tmp_path / "a.mdl")])
    assert res.exit_code == 2 and "manifest.json" in res.output
