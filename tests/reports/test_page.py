"""The page builder: plotly.js once, nothing fetched from the network, escaping, atomic writes."""

from __future__ import annotations

import errno
import os
import re

import plotly.graph_objects as go
import plotly.offline
import pytest

from carespiral.errors import CarespiralError, OutputPathError
from carespiral.reports import Page
from carespiral.reports.page import PLOTLYJS_FILE, atomic_write, format_value

PLOTLY_BANNER = re.compile(r"plotly\.js v\d")


def _page(n_figures: int) -> Page:
    page = Page("A <b>title</b>", "sub")
    sec = page.section("Figures", "Some text.\n\nA second paragraph.")
    for i in range(n_figures):
        sec.figure(go.Figure(go.Scatter(x=[1, 2, 3], y=[i, i + 1, i])), how_to_read="Read it.")
    return page


@pytest.mark.parametrize("n", [1, 3])
def test_plotly_js_is_embedded_once_whatever_the_number_of_figures(n):
    html = _page(n).render()
    assert len(PLOTLY_BANNER.findall(html)) == 1
    assert html.count('class="cs-plot"') == n


def test_a_page_without_figures_carries_no_plotly_js():
    page = Page("Only text")
    page.section("Notes").note("nothing drawn")
    html = page.render()
    assert not PLOTLY_BANNER.search(html)
    assert "<script" not in html


def test_no_script_or_stylesheet_comes_from_the_network():
    html = _page(2).render()
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=[\"']?(https?:)?//", html)


def test_beside_mode_writes_one_plotly_file_next_to_the_page(tmp_path):
    _page(2).write(tmp_path / "a.html", plotlyjs="beside")
    _page(1).write(tmp_path / "b.html", plotlyjs="beside")
    html = (tmp_path / "a.html").read_text()
    assert f'src="{PLOTLYJS_FILE}"' in html
    assert not PLOTLY_BANNER.search(html)
    assert (tmp_path / PLOTLYJS_FILE).read_text() == plotly.offline.get_plotlyjs()


def test_text_is_escaped_and_figure_json_cannot_close_its_script():
    page = Page("<script>alert(1)</script>")
    evil = "</script><script>alert(2)</script>"
    fig = go.Figure(go.Scatter(x=[1], y=[1], name=evil))
    fig.update_layout(title=evil)
    page.section("S").figure(fig, how_to_read=evil)
    html = page.render()
    assert "<script>alert(1)" not in html
    assert "<script>alert(2)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_every_figure_needs_a_reading_guide():
    with pytest.raises(ValueError, match="how to read"):
        Page("t").section("s").figure(go.Figure(), how_to_read="  ")


def test_sections_get_unique_anchors_and_a_table_of_contents():
    page = Page("t")
    page.section("Results")
    page.section("Results")
    html = page.render()
    assert 'id="results"' in html and 'id="results-2"' in html
    assert 'href="#results-2"' in html


def test_write_refuses_a_non_html_name(tmp_path):
    with pytest.raises(CarespiralError, match=r"\.html"):
        _page(1).write(tmp_path / "report.txt")


def test_an_interrupted_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "r.html"
    target.write_text("old")

    def fail(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    # a clear error naming the file and why (exit 2 from the CLI), not an OSError's traceback
    with pytest.raises(OutputPathError, match=r"cannot write .*r\.html: no space left"):
        atomic_write(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]


def test_tables_format_numbers_and_highlight_rows():
    import pandas as pd

    page = Page("t")
    page.section("s").table(pd.DataFrame({"a": ["x", "y"], "v": [1234567.0, 0.123456]}),
                            highlight=[1])
    html = page.render()
    assert '<td class="num">1,234,567</td>' in html
    assert '<tr class="cs-highlight"><td>y</td><td class="num">0.1235</td>' in html


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "–"), (float("nan"), "–"), (3, "3"), (2.0, "2"), (12345.678, "12,346"),
     (0.5, "0.5"), (1.23456e-5, "1.23e-05"), (True, "yes")],
)
def test_format_value(value, text):
    assert format_value(value) == text
