"""Exploration report: each figure against the result it draws, and large results stay light."""

from __future__ import annotations

import numpy as np
import pytest

from carespiral.errors import CarespiralError
from carespiral.reports import exploration_report
from carespiral.reports.exploration_figures import (
    BINS,
    MAX_LINES,
    parallel_figure,
    regime_map_figure,
)
from carespiral.reports.exploration_report import exploration_page


def figures(page):
    return {b.fig.layout.title.text: b.fig for s in page.sections for b in s.blocks
            if hasattr(b, "fig")}


def test_every_result_gets_its_section(exploration_results):
    page = exploration_page(title="x", **exploration_results)
    assert [s.heading for s in page.sections] == [
        "Verdict", "Runs and regimes", "Scenario discovery (PRIM)", "Global sensitivity",
        "Tipping points and hysteresis", "Policies", "Fan charts"]
    assert len(figures(page)) == 9


def test_regime_map_cells_hold_the_collapse_share_of_their_runs(experiments_maker):
    ex = experiments_maker(3000)
    fig, note = regime_map_figure(ex.design, ex.outcomes, "demand", "compliance", ex.factors)
    z = np.asarray(fig.data[0].z, dtype=float)  # rows: compliance bins, columns: demand bins
    assert z.shape == (BINS, BINS)
    # recompute one cell by hand: demand bin 20, compliance bin 5
    xe, ye = np.linspace(0.5, 1.5, BINS + 1), np.linspace(0, 0.6, BINS + 1)
    d, c = ex.design["demand"], ex.design["compliance"]
    inside = (d >= xe[20]) & (d < xe[21]) & (c >= ye[5]) & (c < ye[6])
    assert z[5, 20] == pytest.approx(100 * ex.outcomes.loc[inside, "collapse"].mean())
    # the known boundary: cells well below demand + compliance = 1.4 never collapse
    assert np.nanmax(z[:4, :8]) == 0 and np.nanmin(z[-4:, -4:]) == 100
    assert "All 3,000 runs" in note


def test_map_inputs_default_to_what_prim_restricts(exploration_results):
    page = exploration_page(title="x", experiments=exploration_results["experiments"],
                            discovery=exploration_results["discovery"])
    assert "Regime map: collapse share by demand and compliance" in figures(page)
    page = exploration_page(title="x", experiments=exploration_results["experiments"],
                            map_inputs=("retention", "demand"))
    assert "Regime map: collapse share by retention and demand" in figures(page)


def test_parallel_coordinates_sample_large_results_and_say_so(experiments_maker):
    ex = experiments_maker(20_000)
    fig, note = parallel_figure(ex.design, ex.outcomes, ex.factors)
    drawn = {tr.name.split(" (")[0]: int(tr.name.split("(")[1].rstrip(")")) for tr in fig.data}
    assert sum(drawn.values()) <= MAX_LINES + 25
    assert min(drawn.values()) >= 25
    assert "of 20,000 runs drawn" in note
    small = experiments_maker(100)
    _, note = parallel_figure(small.design, small.outcomes, small.factors)
    assert note == "All 100 runs drawn."


def test_sensitivity_bars_are_the_indices(exploration_results):
    fig = figures(exploration_page(title="x", sensitivity=exploration_results["sensitivity"]))[
        "What decides collapse"]
    st = next(tr for tr in fig.data if tr.name == "total (ST)")
    assert dict(zip(st.y, st.x, strict=True)) == {"retention": 0.01, "compliance": 0.45,
                                                   "demand": 0.65}
    assert list(st.error_x.array) == [0.01, 0.05, 0.05]


def test_bifurcation_marks_the_folds_and_styles_stability(exploration_results):
    fig = figures(exploration_page(title="x", bifurcation=exploration_results["bifurcation"]))[
        "Equilibria: Backlog against demand"]
    folds = next(tr for tr in fig.data if tr.name == "fold (tipping point)")
    assert sorted(folds.x) == pytest.approx([-2 / (3 * np.sqrt(3)), 2 / (3 * np.sqrt(3))])
    # every branch is drawn and named: stable, unstable, stable, joined end to start
    dashes = {tr.name: tr.line.dash for tr in fig.data if tr.mode == "lines"}
    assert dashes == {"stable branch 1": "solid", "unstable branch 1": "dash",
                      "stable branch 2": "solid"}
    segs = [tr for tr in fig.data if tr.mode == "lines"]
    assert len(segs) == 3 and segs[0].x[-1] == segs[1].x[0]
    # folds are labelled F1, F2 by annotations set apart from each other
    texts = [a.text for a in fig.layout.annotations]
    assert sorted(t.split(":")[0] for t in texts) == ["F1", "F2"]


def test_sweep_shows_both_legs_and_the_hysteresis_band(exploration_results):
    page = exploration_page(title="x", sweep=exploration_results["sweep"])
    fig = figures(page)["Hysteresis sweep: Caseload against demand"]
    assert [tr.name for tr in fig.data] == ["demand going up", "demand going down"]
    html = page.render()
    assert ("<th>collapses on the way up at</th><th>still collapsed on the way down at</th>"
            in html)
    assert '<td class="num">0.7</td><td class="num">0.4</td>' in html


def test_pareto_front_in_percent_with_lever_hover(exploration_results):
    policy = exploration_results["policy"]
    fig = figures(exploration_page(title="x", policy=policy))[
        "Policy trade-off: cost against collapse risk"]
    front = next(tr for tr in fig.data if tr.name == "Pareto front")
    np.testing.assert_allclose(front.y, policy.front["collapse_risk"] * 100)
    assert "Funded social worker posts:" in front.hovertext[0]
    assert fig.layout.xaxis.title.text == "cost (£ million a year above doing nothing)"
    assert "short-run only" in exploration_page(title="x", policy=policy).render()


def test_fan_chart_bands_are_quantiles_over_runs(exploration_results):
    ens = exploration_results["ensemble"]
    page = exploration_page(title="x", ensemble=ens, units={"Caseload": "cases/FTE"})
    fig = figures(page)["Fan chart: Caseload"]
    median = next(tr for tr in fig.data if tr.name == "median")
    np.testing.assert_allclose(median.y, np.quantile(ens["Caseload"].to_numpy(), 0.5, axis=0))
    outer = next(tr for tr in fig.data if tr.name == "5–95% of runs")
    np.testing.assert_allclose(outer.y, np.quantile(ens["Caseload"].to_numpy(), 0.05, axis=0))


def test_a_large_exploration_stays_a_light_page(experiments_maker, tmp_path):
    ex = experiments_maker(300_000, seed=9)
    path = exploration_report(tmp_path / "big.html", title="big", experiments=ex,
                              plotlyjs="beside")
    size = path.stat().st_size
    assert size < 600_000, f"{size} bytes of page for 300,000 runs"
    assert "of 300,000 runs drawn" in path.read_text()


def test_nothing_to_report_is_refused():
    with pytest.raises(CarespiralError, match="at least one"):
        exploration_page(title="x")


def test_unknown_map_input_is_named(exploration_results):
    with pytest.raises(CarespiralError, match="'supply'"):
        exploration_page(title="x", experiments=exploration_results["experiments"],
                         map_inputs=("supply", "demand"))


def test_regime_map_cells_carry_their_regime(regime_map_result):
    rm = regime_map_result
    page = exploration_page(title="x", sweep=rm)  # the tipping command passes it as the sweep
    fig = figures(page)["Regime map: undisturbed and shocked runs"]
    hm = fig.data[0]
    codes = {"sustainable": 0, "bistable": 1, "collapse": 2}
    for row in rm.table.itertuples(index=False):
        i = list(hm.y).index(row.param2)
        j = list(hm.x).index(row.param)
        assert hm.z[i][j] == codes[row.regime] and hm.customdata[i][j] == row.regime
    assert "bistable from" in page.render()


def test_cli_adapters_keep_their_signatures(exploration_results, regime_map_result, tmp_path):
    from carespiral.reports.exploration import (
        exploration_report as explore_html,
    )
    from carespiral.reports.exploration import (
        policy_report,
        tipping_report,
    )

    r = exploration_results
    p1 = explore_html(r["experiments"], r["discovery"], r["sensitivity"], tmp_path / "e.html")
    p2 = tipping_report(r["bifurcation"], regime_map_result, tmp_path / "t.html")
    p3 = policy_report(r["policy"], tmp_path / "p.html")
    assert p1.read_text().count('class="cs-plot"') == 5
    assert "Regime map: undisturbed and shocked runs" in p2.read_text()
    html = p3.read_text()
    assert "Levers that only look good in the short run: Agency cap." in html
    assert '<tr class="cs-highlight"><td>Agency cap</td>' in html


def test_pareto_marks_the_baseline(exploration_results):
    fig = figures(exploration_page(title="x", policy=exploration_results["policy"]))[
        "Policy trade-off: cost against collapse risk"]
    base = next(tr for tr in fig.data if tr.name == "doing nothing")
    assert list(base.x) == [0.0] and list(base.y) == [80.0]


def test_regime_map_uses_fewer_cells_for_few_runs(experiments_maker):
    ex = experiments_maker(300)
    fig, note = regime_map_figure(ex.design, ex.outcomes, "demand", "compliance", ex.factors)
    assert np.asarray(fig.data[0].z).shape == (7, 7)  # sqrt(300 / 5) cells a side
    assert "7×7 grid (about 6 runs a cell" in note


def test_the_tipping_page_explains_why_the_sweep_tips_after_the_fold(exploration_results):
    # fold at 2/(3 sqrt 3) = 0.385; the sweep steps by 0.1 and first collapses at 0.7: the first
    # value past the fold is 0.4, and the 3 steps 0.4, 0.5, 0.6 held 60 months did not tip
    page = exploration_page(title="x", bifurcation=exploration_results["bifurcation"],
                            sweep=exploration_results["sweep"])
    text = " ".join(b.markup for s in page.sections for b in s.blocks if hasattr(b, "markup"))
    assert "ends at demand = 0.3849 (where the" in text
    assert "but the sweep first collapsed at 0.7" in text
    assert "every 0.1, and the first value past the fold is 0.4" in text
    assert "the 3 values from 0.4 up to 0.7 were each held 60 months" in text
    verdict = page.sections[0].blocks[0].markup
    assert page.sections[0].heading == "Verdict"
    assert "two stable states" in verdict and "collapsed at 0.7" in verdict


def test_policy_costs_are_pounds_and_the_verdict_names_the_cheapest_safe_policy(
        exploration_results):
    p = exploration_results["policy"]
    page = exploration_page(title="x", policy=p)
    verdict = page.sections[0].blocks[0].markup
    safe = p.front[p.front["collapse_risk"] == p.front["collapse_risk"].min()]
    cheapest = safe["cost"].min()
    assert f"costs £{cheapest:,.1f} million a year" in verdict
    assert "Doing nothing has a collapse risk of 80%" in verdict
    html = page.render()
    assert "<th>cost (£ million a year)</th>" in html


def test_the_exploration_verdict_gives_the_share_and_the_box(exploration_results):
    ex, d = exploration_results["experiments"], exploration_results["discovery"]
    page = exploration_page(title="x", experiments=ex, discovery=d)
    verdict = page.sections[0].blocks[0].markup
    share = (ex.outcomes["regime"] == "collapse").mean()
    assert f"Of 4,000 sampled scenarios, {share:.0%} collapsed" in verdict
    assert "Collapse concentrates where" in verdict and "not probabilities" in verdict


def test_collapse_criteria_are_named_in_words():
    from carespiral.reports.exploration_report import criterion_words

    assert criterion_words("awaiting_assessment > 2 x its starting level for 12 months",
                           "collapse_spiral") == (
        "children awaiting assessment above 2 times its starting level for 12 months")
    assert criterion_words("social_workers_fte < 0.5 x establishment for 6 months",
                           "collapse_spiral") == (
        "social workers in post below 0.5 times establishment for 6 months")


def test_decision_tree_rules_read_as_one_range_per_input():
    from carespiral.reports.exploration_report import rule_words

    rule = ("Compliance Burden > 1.106 and Underlying Need <= 0.03255 and "
            "Compliance Burden > 1.184 and Compliance Burden <= 1.4")
    assert rule_words(rule, "collapse_spiral") == (
        "Compliance burden from 1.18 to 1.4 and underlying need at most 0.0326")
    assert rule_words("all scenarios", "collapse_spiral") == "all scenarios"  # left as it is


def test_the_explore_command_says_its_sobol_results_in_words(tmp_path):
    from typer.testing import CliRunner

    from carespiral.cli import app

    spec = tmp_path / "sobol.toml"
    spec.write_text('model = "workforce_spiral"\ntitle = "t"\nruns = 32\ndesign = "saltelli"\n'
                    'seed = 1\nstop = 120\n\n[uncertainties]\n"Referral Rate" = [200, 450]\n\n'
                    '[levers]\nestablishment = [120, 200]\n')
    res = CliRunner().invoke(app, ["explore", str(spec), "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert ("What decides collapse, share of the variation explained, with interactions "
            "(Sobol total index): ") in text
    assert "top ST" not in text and "Funded social worker posts" in text  # labels, not names


def test_folds_are_numbered_among_themselves_and_tiny_values_read_zero(exploration_results):
    import pandas as pd

    from carespiral.exploration.tipping import Bifurcation

    b = exploration_results["bifurcation"]
    folds = b.folds.copy()
    stab = folds.assign(kind="stability", direction=["loses", "gains"])
    rows = pd.concat([folds.iloc[[0]], stab.iloc[[0]], folds.iloc[[1]], stab.iloc[[1]]],
                     ignore_index=True)
    rows["Backlog"] = [0.5, 4e-53, -0.5, -2e-53]
    bif = Bifurcation(b.branch, rows, b.model, b.param, b.stocks)
    page = exploration_page(title="x", bifurcation=bif)
    fig = next(iter(figures(page).values()))
    marks = next(tr for tr in fig.data if tr.name == "fold (tipping point)").customdata
    assert list(marks) == ["F1", "F2"]  # not F1, F3: stability changes are not numbered
    table = next(bl.frame for s in page.sections for bl in s.blocks if hasattr(bl, "frame"))
    assert list(table["mark"]) == ["F1", "", "F2", ""]
    assert list(table["Backlog"]) == [0.5, 0.0, -0.5, 0.0]


def test_the_optimise_command_prints_its_front_in_words(tmp_path):
    from typer.testing import CliRunner

    from carespiral.cli import app

    spec = tmp_path / "opt.toml"
    spec.write_text(
        'model = "workforce_spiral"\nstop = 120\n[uncertainties]\n"Referral Rate" = [250, 400]\n'
        '[levers]\nestablishment = { range = [120, 220], cost = 4.5 }\n'
        '[optimise]\npopulation = 4\ngenerations = 2\nensemble = 4\n')
    res = CliRunner().invoke(app, ["optimise", str(spec), "--out", str(tmp_path / "opt")])
    assert res.exit_code == 0, res.output
    assert "cost (£ million a year)" in res.output and "collapse risk" in res.output
    assert "collapse_risk" not in res.output and "max_regret" not in res.output
