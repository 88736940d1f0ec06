"""An authority's brief and the ranked view of every authority, end to end.

One small pooled fit (two authorities, a short optimiser budget) is shared by the module: it
is the only way to check the brief against a real fit (about 20-40 s on 2 cores), so every
check here reuses it. The brief's figures are checked against the published data and the
cost model's algebra, the command's errors against what a user would type, and the pages in
headless Chromium (no console errors, no network requests, nothing wider than 800 px).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from carespiral import data as published
from carespiral.cli import app

pytestmark = pytest.mark.slow

AREAS = ["E09000014", "E09000007"]  # Haringey, Camden
runner = CliRunner()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A `calibrate local --area all` folder for two authorities: fit/ and authorities/."""
    from carespiral.calibration.pooling.authorities import authority_cases
    from carespiral.calibration.pooling.run import fit_cases
    from carespiral.calibration.spec import read_spec
    from carespiral.exploration.authorities import assess_authorities

    spec = read_spec("local")
    cases, failures = authority_cases(spec, [*AREAS, "E99999999"], horizon=3)
    fit = fit_cases(cases, failures, starts=8, iterations=4, max_rounds=1, n_draws=40,
                    n_predictive=8, labels={"model": spec.model, "spec": spec.name,
                                            "scenario": str(spec.scenario or "")})
    out = tmp_path_factory.mktemp("all")
    fit.save(out / "fit")
    assess_authorities(fit, draws=6, points=5, refine=3).save(out / "authorities")
    return out


@pytest.fixture(scope="module")
def brief_page(folder):
    res = runner.invoke(app, ["brief", "--area", "haringey", "--from", str(folder), "--html",
                              "--draws", "6", "--population", "8", "--generations", "2"])
    assert res.exit_code == 0, res.output
    return folder / "briefs" / "haringey.html"


def test_brief_is_written_with_its_result_and_says_its_verdict_first(brief_page):
    from carespiral.results import load_result

    assert brief_page.is_file()
    b = load_result(brief_page.parent / "haringey")
    assert b.kind == "brief" and b.area_name == "Haringey"
    text = brief_page.read_text(encoding="utf-8")
    assert text.index('id="verdict"') < text.index('id="where-it-stands"')
    assert b.settings["region"] == "Inner London"


def test_standing_matches_the_published_figures(brief_page):
    """Per 10,000 children for counts, as published for rates; rank among the neighbours
    counted from the published table."""
    from carespiral.results import load_result

    b = load_result(brief_page.parent / "haringey")
    s = b.standing.set_index("series")
    tab = published.load()
    near = [c for c in published.neighbours("E09000014")["area_code"] if c]

    def value(code, series, year):
        v = tab[(tab["area_code"] == code) & (tab["series"] == series) & (tab["year"] == year)]
        return float(v["value"].iloc[-1]) if len(v) else np.nan

    year = int(s.loc["re_referral_rate", "year"])
    assert s.loc["re_referral_rate", "value"] == pytest.approx(
        value("E09000014", "re_referral_rate", year))
    y = int(s.loc["children_in_need", "year"])
    per10k = value("E09000014", "children_in_need", y) / value(
        "E09000014", "child_population", y) * 1e4
    assert s.loc["children_in_need", "value"] == pytest.approx(per10k)
    others = [value(c, "re_referral_rate", year) for c in near]
    others = [v for v in others if np.isfinite(v)]
    higher = sum(v > s.loc["re_referral_rate", "value"] for v in others)
    assert s.loc["re_referral_rate", "rank_neighbours"] == higher + 1
    assert s.loc["re_referral_rate", "neighbours"] == len(others)


def test_levers_spend_at_most_the_budget_and_the_front_is_the_robust_search(brief_page):
    from carespiral.pysd_runner import load
    from carespiral.results import load_result

    b = load_result(brief_page.parent / "haringey")
    model = load(b.model)
    budget = b.settings["budget_million"]
    ranked = b.levers[b.levers["ranked"].astype(bool)]
    assert len(ranked) >= 3
    for r in ranked.itertuples():  # each lever alone: the whole budget, or its range's end
        p = model.parameter(r.variable)
        assert r.cost_million <= budget + 1e-9
        at_bound = np.isclose(r.setting, p.upper) or np.isclose(r.setting, p.lower)
        assert at_bound or r.cost_million == pytest.approx(budget)
        assert r.gain_p10 <= r.gain_median + 1e-12
    per = ranked["gain_per_million"].to_numpy()
    assert np.all(np.diff(per[np.isfinite(per)]) <= 1e-12)  # ranked by margin per £1m
    f = b.front  # NSGA-II's front over the same draws: cheapest first, each buying more
    assert len(f) >= 2 and (f["cost_million"] <= budget + 1e-9).all()
    assert np.all(np.diff(f["cost_million"]) > 0) and np.all(np.diff(f["gain_p10"]) > 0)
    assert (f["gain_p10"] <= f["gain_median"] + 1e-12).all()
    # its cost is the levers' moves at the cost model's rates, at Haringey's scale
    spend = {r.variable: r.cost_million / abs(r.setting - r.now) for r in ranked.itertuples()}
    moved = sum(abs(f[v] - ranked.set_index("variable").loc[v, "now"]) * c
                for v, c in spend.items())
    assert f["cost_million"].to_numpy() == pytest.approx(moved.to_numpy())
    # the singles were judged over the same draws: none beats the front at its own cost
    for r in ranked.itertuples():
        assert f.loc[f["cost_million"] <= r.cost_million + 1e-9, "gain_p10"].max() >= \
            r.gain_p10 - 1e-12
    assert b.settings["policies_judged"] >= b.settings["population"] * \
        b.settings["generations"]
    assert b.settings["backtest"].startswith("not run")  # one brief: no backtest unless asked


def test_unknown_area_missing_fit_and_unfitted_area_are_clear_errors(folder, tmp_path):
    res = runner.invoke(app, ["brief", "--area", "haringe", "--from", str(folder)])
    assert res.exit_code == 2 and "did you mean 'Haringey'" in res.output
    res = runner.invoke(app, ["brief", "--area", "haringey", "--from", str(tmp_path / "no")])
    assert res.exit_code == 2 and "calibrate local --area all" in res.output
    res = runner.invoke(app, ["brief", "--area", "E99999999", "--from", str(folder)])
    assert res.exit_code == 2 and "could not be fitted" in res.output
    res = runner.invoke(app, ["brief", "--area", "all", "--from", str(folder),
                              "--backtest-until", "2023", "--out", str(tmp_path / "b")])
    assert res.exit_code == 2 and "--backtest-until 2023: give a year before" in res.output
    assert not (tmp_path / "b").exists()  # nothing half-written
    assert "Traceback" not in res.output


def _code_names_shown(page: str) -> list[str]:
    """Catalogue code names (snake_case roles) in a page's visible text."""
    import html
    import re

    from carespiral.pysd_runner.catalog import code_names

    text = html.unescape(re.sub(r"<[^>]+>", " ", re.sub(r"<script.*?</script>", "", page,
                                                          flags=re.S)))
    return [c for c in code_names() if re.search(rf"\b{re.escape(c)}\b", text)]


def test_report_draws_the_ranked_view_linking_to_the_brief(folder, brief_page):
    res = runner.invoke(app, ["report", str(folder)])
    assert res.exit_code == 0, res.output
    page = (folder / "authorities" / "report.html").read_text(encoding="utf-8")
    assert _code_names_shown(page) == []
    assert _code_names_shown(brief_page.read_text(encoding="utf-8")) == []
    assert 'href="../briefs/haringey.html"' in page
    assert "Camden" in page and "E99999999" in page  # fitted and not fitted, with the reason
    table = pd.read_csv(folder / "authorities" / "authorities.csv")
    assert set(table["area_code"]) == {*AREAS, "E99999999"}


@pytest.mark.browser
def test_brief_and_ranked_view_render_offline_and_fit_800_px(brief_page, folder, open_report):
    runner.invoke(app, ["report", str(folder)])
    for page in (brief_page, folder / "authorities" / "report.html"):
        check = open_report(page, width=800)
        assert check.status == "rendered", check.status
        assert check.errors == [] and check.requests == []
        assert check.overflow == 0  # no sideways scrolling at 800 px
        assert check.figures and all(f["svg"] and 0 < f["width"] <= 800 and f["height"] > 0
                                     for f in check.figures)


def test_every_brief_with_the_backtest_skill_in_the_table(folder, tmp_path):
    """`--area all`: the lever searches of all authorities in one batch, and a backtest (the
    authorities fitted again up to 2020) whose skill the table and each brief show."""
    from carespiral.results import load_result

    out = tmp_path / "every"
    res = runner.invoke(app, ["brief", "--area", "all", "--from", str(folder), "--out",
                              str(out), "--html", "--draws", "4", "--population", "4",
                              "--generations", "1", "--no-loops"])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out / "authorities" / "authorities.csv")
    ok = table[table["status"] == "ok"].set_index("area_code")
    assert ok["backtest mase_model"].notna().all()
    bt = load_result(out / "backtest-until2020")
    assert bt.fit_until == 2020 and set(bt.fitted_codes) == set(AREAS)
    mine = bt.backtest_summary.groupby("area_code")["mase_model"].mean()
    assert ok.loc[AREAS, "backtest mase_model"].to_numpy() == pytest.approx(
        mine.loc[AREAS].to_numpy())
    b = load_result(out / "camden")
    assert b.settings["backtest"] == "ok" and b.settings["backtest_origin"] == 2020
    assert b.settings["backtest_mase_model"] == pytest.approx(mine.loc["E09000007"])
    page = (out / "camden.html").read_text(encoding="utf-8")
    assert "Fitted to Camden" in page and "(MASE)" in page
    assert "Forecast error (MASE)" in (out / "index.html").read_text(encoding="utf-8")
