"""Calibration report: every table of a calibration result drawn, against the result's values."""

from __future__ import annotations

import numpy as np
import pytest

from carespiral.errors import CarespiralError
from carespiral.reports import calibration_report
from carespiral.reports.calibration_report import MAX_DRAWS, calibration_page


def figures(page):
    return {b.fig.layout.title.text: b.fig for s in page.sections for b in s.blocks
            if hasattr(b, "fig")}


def test_sections_and_figures(calibration_result):
    page = calibration_page(calibration_result)
    assert [s.heading for s in page.sections] == [
        "Verdict", "Summary", "Data against fit", "Parameters", "Posterior pairs",
        "Backtest against naive forecasts"]
    assert set(figures(page)) == {
        "Referrals", "Re-referral rate", "Theil decomposition of the mean squared error",
        "Estimates and 95% intervals within the bounds",
        "Profiles: drop in log-posterior as each parameter moves",
        "Posterior draws, two parameters at a time", "Forecast: Referrals"}


def test_fit_figure_holds_data_model_and_band(calibration_result):
    fig = figures(calibration_page(calibration_result))["Referrals"]
    by = {tr.name: tr for tr in fig.data}
    want = calibration_result.fitted.query("series == 'referrals'")
    np.testing.assert_allclose(by["published"].y, want["observed"])
    np.testing.assert_allclose(by["model"].y, want["fitted"])
    np.testing.assert_allclose(by["95% predictive interval"].y, want["lower"])
    assert fig.layout.yaxis.title.text == "referrals in the year to 31 March"


def test_theil_bars_are_the_fit_table(calibration_result):
    fig = figures(calibration_page(calibration_result))[
        "Theil decomposition of the mean squared error"]
    total = sum(np.asarray(tr.x, dtype=float) for tr in fig.data)
    np.testing.assert_allclose(total, [1.0, 1.0])
    assert fig.layout.barmode == "stack"


def test_parameter_intervals_are_placed_within_their_bounds(calibration_result):
    fig = figures(calibration_page(calibration_result))[
        "Estimates and 95% intervals within the bounds"]
    est = fig.data[0]
    p = calibration_result.parameters
    pos = (p["estimate"] - p["bound_lower"]) / (p["bound_upper"] - p["bound_lower"])
    np.testing.assert_allclose(est.x, pos)
    np.testing.assert_allclose(est.customdata[:, 0].astype(float), p["estimate"])


def test_pairs_show_the_widest_five_parameters_and_sample_draws(calibration_result):
    page = calibration_page(calibration_result)
    fig = figures(page)["Posterior draws, two parameters at a time"]
    assert len(fig.data) == 5 + 10  # diagonal histograms + lower triangle
    assert all(len(tr.x) == MAX_DRAWS for tr in fig.data)
    html = page.render()
    assert "The 5 parameters with the widest intervals (of 6) are shown." in html
    assert f"{MAX_DRAWS:,} of 4,000 draws drawn" in html
    # the flat parameter F (widest interval relative to its bounds) is among them
    assert fig.layout.yaxis.title.text == "Parameter F"


def test_backtest_shows_model_and_naive_forecasts(calibration_result):
    page = calibration_page(calibration_result)
    fig = figures(page)["Forecast: Referrals"]
    assert [tr.name for tr in fig.data][1:] == [
        "model 95% interval", "model", "persistence", "linear trend", "published"]
    assert "<td>Referrals</td><td class=\"num\">3</td><td class=\"num\">0.4</td>" in page.render()


def test_non_convergence_is_stated(calibration_result):
    calibration_result.converged = False
    calibration_result.message = "chains did not mix"
    html = calibration_page(calibration_result).render()
    assert "did not converge: chains did not mix" in html
    # the verdict says it too, for a sampler in its own words
    assert "The sampler did not converge" in calibration_page(calibration_result).verdict


def test_a_result_without_its_tables_is_refused():
    with pytest.raises(CarespiralError, match="'fitted'"):
        calibration_page(object())


def test_calibration_report_round_trips_through_the_result_directory(calibration_result,
                                                                      tmp_path):
    from carespiral.calibration.result import load_result

    calibration_result.save(tmp_path / "calib")
    back = load_result(tmp_path / "calib")
    path = calibration_report(back, tmp_path / "calibration.html")
    assert path.read_text().count('class="cs-plot"') == 7


def test_profile_panels_show_the_95_percent_region(calibration_result):
    fig = figures(calibration_page(calibration_result))[
        "Profiles: drop in log-posterior as each parameter moves"]
    # the quadratic profiles reach 4.5 at +-3 sd: the panels show up to that, reversed
    lo, hi = fig.layout.yaxis.range
    assert lo == pytest.approx(4.5 * 1.05) and hi < 0
    shapes = [s for s in fig.layout.shapes if s.y0 == s.y1]
    assert len(shapes) == 6 and all(s.y0 == 1.92 for s in shapes)


def test_verdict_first_names_series_by_label_and_warns_of_a_wrong_trend(calibration_result):
    import re

    from carespiral.pysd_runner.catalog import code_names

    fit = calibration_result.fit.copy()
    fit["r"] = [0.9, -0.8]
    fit["slope_observed"] = [2000.0, -0.4]
    fit["slope_fitted"] = [2100.0, 0.3]
    fit["trend_sign"] = ["right", "wrong"]
    fit["r2"] = [0.9, -0.5]
    calibration_result.fit = fit
    page = calibration_page(calibration_result)
    assert page.sections[0].heading == "Verdict"
    v = page.verdict
    assert "well (R² at least 0.5) on referrals" in v
    assert "runs against the data on re-referral rate" in v
    assert "better than 'same as last year' on 1 of 1 series" in v
    html = page.render()
    assert "Warning: Re-referral rate runs against the data" in html
    # a trend of a percentage in percentage points (the slopes set above: -0.4 and +0.3)
    assert "move -0.4 percentage points a year, the fitted model +0.3." in html
    # no code names in the visible text (tags, scripts and figure data left out)
    body = re.sub(r"<script.*?</script>", " ", html, flags=re.S)
    visible = re.sub(r"<[^>]+>", " ", body)
    for name in code_names() | {"start_logpost", "laplace_positive_definite", "mase_model"}:
        assert name not in visible, name
