"""Readable pages, checked in headless Chromium at 1280 px: the verdict comes first, no label's
box overlaps another's, no code name or "Dmnl" is visible, and no table is cut off.

The pages are the run, model, tipping, exploration, policy and data reports and the index of a
folder of results (the set-up of test_browser.py). Screenshots go to $CARESPIRAL_SCREENSHOTS
when set.
"""

from __future__ import annotations

import re

import pytest

from carespiral.pysd_runner.catalog import code_names
from carespiral.reports import exploration_report, model_report, run_report

pytestmark = pytest.mark.browser

# Every text label plotly draws in a figure (point labels, annotations, titles, legend entries),
# with its box, figure by figure; plus the page's visible text and its table boxes.
_LAYOUT_JS = """
var figs = Array.from(document.querySelectorAll('div.cs-plot')).map(function (el) {
  var sel = 'g.textpoint text, g.annotation-text-g text, g.g-gtitle text, g.g-xtitle text,'
          + ' g.g-ytitle text, g.legend text.legendtext';
  return Array.from(el.querySelectorAll(sel)).filter(function (t) {
    var r = t.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && t.textContent.trim();
  }).map(function (t) {
    var r = t.getBoundingClientRect();
    return {text: t.textContent, x0: r.left, y0: r.top, x1: r.right, y1: r.bottom};
  });
});
var svgText = Array.from(document.querySelectorAll('div.cs-plot svg text')).map(
  function (t) { return t.textContent; }).join(' ');
var tables = Array.from(document.querySelectorAll('.cs-table-wrap')).map(function (w) {
  return {scroll: w.scrollHeight, client: w.clientHeight};
});
var verdict = document.querySelector('section#verdict');
var axisText = Array.from(document.querySelectorAll('div.cs-plot')).map(function (el) {
  return Array.from(el.querySelectorAll('g.ytick text, g.xtick text, g.textpoint text'))
    .filter(function (t) { var r = t.getBoundingClientRect(); return r.width > 0; })
    .map(function (t) {
      var r = t.getBoundingClientRect();
      return {text: t.textContent, x0: r.left, y0: r.top, x1: r.right, y1: r.bottom};
    });
});
return {figs: figs, ticks: axisText, text: document.body.innerText + ' ' + svgText,
        tables: tables,
        verdict: verdict ? verdict.innerText : '',
        first: (document.querySelector('main section') || {}).id || ''};
"""


def _overlapping(labels: list[dict], slack: float = 1.0) -> list[tuple[str, str]]:
    bad = []
    for i, a in enumerate(labels):
        for b in labels[i + 1:]:
            if (min(a["x1"], b["x1"]) - max(a["x0"], b["x0"]) > slack
                    and min(a["y1"], b["y1"]) - max(a["y0"], b["y0"]) > slack):
                bad.append((a["text"], b["text"]))
    return bad


def assert_readable(open_report, browser, path) -> dict:
    check = open_report(path)
    assert check.status == "rendered" and check.errors == [], (check.status, check.errors)
    state = browser.execute_script(_LAYOUT_JS)
    # the verdict is the first section and has two to five sentences
    assert state["first"] == "verdict", state["first"]
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", state["verdict"].strip()) if s]
    assert 2 <= len(sentences) - 1 <= 12, state["verdict"]  # heading + one or more paragraphs
    # no label covers another, in any figure
    for labels in state["figs"]:
        assert _overlapping(labels) == [], _overlapping(labels)[:5]
    # no code name (a canonical role) or Vensim's "Dmnl" in what a reader sees
    words = set(re.findall(r"[A-Za-z0-9_]+", state["text"]))
    assert words & code_names() == set(), words & code_names()
    assert "Dmnl" not in words
    # every table shows all its rows (no fixed-height box with a scroll bar)
    for t in state["tables"]:
        assert t["scroll"] <= t["client"] + 1, t
    return state


def test_run_report_of_the_main_model_is_readable(open_report, browser, tmp_path):
    from carespiral.pysd_runner import load

    m = load("collapse_spiral")
    outs = [m.outputs[r] for r in ("caseload", "awaiting_assessment", "social_workers_fte",
                                   "re_referral_rate")]
    # the vectorised backend (equal to PySD's runs within 1e-9, tests/batch) takes a second
    # where two PySD runs of the main model take about sixteen
    runs = {}
    for s in ("baseline", "heavy_compliance"):
        frame = m.run_batch(None, outputs=outs, scenario=s).isel(run=0).to_dataframe()
        runs[m.scenario(s).title] = frame[["date", *outs]]
    units = {v.name: v.units for v in m.variables}
    shocks = [e for s in ("baseline",) for e in m.scenario(s).events()]
    path = run_report(runs, tmp_path / "run_collapse_spiral.html", title=m.title, units=units,
                      outputs=outs, shocks=shocks, model=m.name)
    state = assert_readable(open_report, browser, path)
    assert "Children awaiting assessment" in state["text"]


def test_model_report_of_the_main_model_is_readable(open_report, browser, tmp_path):
    from carespiral.pysd_runner import load
    from carespiral.pysd_runner.graph import dependency_graph
    from carespiral.reports.structure import loops_from_doc

    m = load("collapse_spiral")
    path = model_report(dependency_graph(m.mdl_path), m.parameters,
                        tmp_path / "model_collapse_spiral.html", title=m.title,
                        description=m.description,
                        loops=loops_from_doc("docs/models/collapse_spiral.md"))
    state = assert_readable(open_report, browser, path)
    assert len(state["figs"][0]) > 80  # every variable's label was measured


def test_exploration_tipping_and_policy_reports_are_readable(open_report, browser, tmp_path,
                                                            exploration_results):
    r = exploration_results
    explore = exploration_report(tmp_path / "exploration.html", title="Exploration",
                                 experiments=r["experiments"], discovery=r["discovery"],
                                 sensitivity=r["sensitivity"])
    tipping = exploration_report(tmp_path / "tipping.html", title="Tipping points",
                                 bifurcation=r["bifurcation"], sweep=r["sweep"])
    policy = exploration_report(tmp_path / "policy.html", title="Policies", policy=r["policy"])
    for path in (explore, tipping, policy):
        assert_readable(open_report, browser, path)


def test_the_overlap_check_can_fail(open_report, browser, tmp_path):
    import plotly.graph_objects as go

    from carespiral.reports import Page

    page = Page("control")
    page.section("Verdict", "One sentence. Two sentences.")
    fig = go.Figure(go.Scatter(x=[1, 1.0001], y=[1, 1], mode="text",
                               text=["a long label", "another long label"]))
    fig.update_xaxes(range=[0, 2])  # the two points (and their labels) drawn on top of each other
    page.sections[-1].figure(fig, how_to_read="two labels on top of each other")
    path = page.write(tmp_path / "overlap.html")
    open_report(path)
    state = browser.execute_script(_LAYOUT_JS)
    assert _overlapping(state["figs"][0]) != []


def test_data_report_of_the_published_data_is_readable(open_report, browser, tmp_path):
    from carespiral import data
    from carespiral.reports import data_report

    table = data.load()
    near = list(data.neighbours("Haringey", table)["area_code"])
    path = data_report(table, tmp_path / "data_report.html", area="E09000014",
                       rank_series="caseload", neighbours=near)
    state = assert_readable(open_report, browser, path)
    # the verdict names the ranked series, the area and its place
    assert "Haringey's caseload stood at" in state["verdict"] and "rank" in state["verdict"]
    # the ranking shows the area, its neighbours and the extremes, not every authority: its
    # bar labels and values (tick and text labels) do not overlap either
    ranking = state["ticks"][-1]
    names = [t["text"] for t in ranking if ". " in t["text"]]
    assert any(n.endswith("Haringey") for n in names) and 10 < len(names) < 30
    assert _overlapping(ranking) == []


def test_index_of_a_folder_of_results_is_readable(open_report, browser, folder_of_results):
    from carespiral.reports import render_results

    render_results(folder_of_results)
    state = assert_readable(open_report, browser, folder_of_results / "index.html")
    for kind in ("Calibration", "Exploration", "Tipping points"):
        assert kind in state["verdict"]
    assert "Of 4,000 sampled scenarios" in state["verdict"]


def test_calibration_report_is_readable(open_report, browser, tmp_path, calibration_result):
    from carespiral.reports import calibration_report

    path = calibration_report(calibration_result, tmp_path / "calibration_report.html")
    state = assert_readable(open_report, browser, path)
    # the verdict names the fitted series by their labels and says how well each fits
    assert "Re-referral rate" in state["verdict"] or "re-referral rate" in state["verdict"]
    assert "Referrals" in state["verdict"] or "referrals" in state["verdict"]
