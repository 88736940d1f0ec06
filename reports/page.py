"""A small builder for self-contained HTML report pages.

A `Page` holds sections; a section holds text, figures (each with a one-line "how to read this"),
tables and notes. `Page.write` renders the page and writes it atomically. plotly.js is included
once per page (inline in the head, or as one `plotly.min.js` file beside the page), never once per
figure, and nothing is fetched from the network, so a page opens from disk offline.

Figures are stored as JSON in the page and drawn by one short script at the end of the body. When
every figure has been drawn it sets `data-plots-rendered="N"` on `<body>` (or `data-plots-failed`),
which is what the browser tests wait for.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import plotly.offline

from carespiral._atomic import write_text as atomic_write
from carespiral.errors import CarespiralError

__all__ = ["PLOTLYJS_FILE", "Page", "Section", "atomic_write", "format_value", "page_verdict"]

PLOTLYJS_FILE = "plotly.min.js"
PlotlyJs = Literal["inline", "beside"]

_CSS = """
:root { --ink:#222; --muted:#5f6368; --rule:#dadce0; --accent:#0072B2; --note:#fff8e1; }
* { box-sizing: border-box; }
body { margin:0; color:var(--ink); background:#fff; line-height:1.5;
  font-family: system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif; }
main, header, footer { max-width: 1180px; margin: 0 auto; padding: 0 20px; }
header { padding-top: 18px; border-bottom: 1px solid var(--rule); }
h1 { font-size: 1.7rem; margin: 0.2em 0; }
h2 { font-size: 1.3rem; margin-top: 1.8em; border-bottom: 1px solid var(--rule); padding-bottom: 4px; }
.cs-subtitle { font-size: 1.05rem; color: var(--muted); margin: 0 0 0.5em; }
.cs-meta { font-size: 0.85rem; color: var(--muted); }
nav.cs-toc { font-size: 0.9rem; margin: 0.6em 0 1em; }
nav.cs-toc a { margin-right: 1.2em; color: var(--accent); }
figure.cs-figure { margin: 1.2em 0; border: 1px solid var(--rule); border-radius: 6px; padding: 6px; }
.cs-plot { width: 100%; min-height: 200px; }
figcaption { font-size: 0.92rem; color: var(--ink); padding: 4px 8px; }
figcaption .cs-how { font-weight: 600; }
.cs-table-wrap { overflow-x: auto; margin: 1em 0; border: 1px solid var(--rule); }
table.cs-table { border-collapse: collapse; font-size: 0.88rem; width: 100%; }
table.cs-table caption { text-align: left; font-weight: 600; padding: 6px 8px; caption-side: top; }
table.cs-table th, table.cs-table td { padding: 4px 8px; border-bottom: 1px solid #eee; }
table.cs-table th { background: #f5f5f5; position: sticky; top: 0; text-align: left; }
table.cs-table td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.cs-table td:first-child:not(.num) { min-width: 18em; }  /* names and sentences keep room */
table.cs-table tr.cs-highlight td { background: #fde7d9; font-weight: 600; }
aside.cs-note { background: var(--note); border-left: 4px solid #E69F00; padding: 6px 12px;
  margin: 1em 0; font-size: 0.92rem; }
footer { color: var(--muted); font-size: 0.8rem; padding: 2em 20px; border-top: 1px solid var(--rule);
  margin-top: 3em; }
ul.cs-links li { margin: 0.5em 0; }
ul.cs-links .cs-desc { color: var(--muted); display: block; font-size: 0.9rem; }
"""

# Draws every figure from its JSON and records the outcome on <body> for tests and scripts.
_RENDER_JS = """
(function () {
  var body = document.body;
  var plots = document.querySelectorAll('div.cs-plot');
  if (typeof Plotly === 'undefined') {
    body.setAttribute('data-plots-failed', 'plotly.js did not load');
    console.error('carespiral: plotly.js did not load; figures cannot be drawn');
    return;
  }
  var jobs = [];
  plots.forEach(function (el) {
    var spec = JSON.parse(document.getElementById(el.id + '-spec').textContent);
    jobs.push(Plotly.newPlot(el, spec.figure.data, spec.figure.layout, spec.config));
  });
  Promise.all(jobs).then(function () {
    body.setAttribute('data-plots-rendered', String(jobs.length));
  }, function (err) {
    body.setAttribute('data-plots-failed', String(err));
    console.error('carespiral: a figure failed to draw', err);
  });
})();
"""


def format_value(value: object) -> str:
    """A table cell: numbers to four significant figures with thousands separators."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        if value == int(value) and abs(value) < 1e15:
            return f"{int(value):,}"
        if abs(value) >= 1e-3:
            return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
        return f"{value:.3g}"
    if isinstance(value, pd.Timestamp | _dt.date):
        return value.strftime("%d %b %Y")
    return str(value)


def _paragraphs(text: str) -> str:
    parts = [p.strip() for p in re.split(r"\n\s*\n", text or "") if p.strip()]
    return "".join(f"<p>{html.escape(p)}</p>" for p in parts)


def _slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return s or "section"


@dataclass
class _Figure:
    fig: go.Figure
    how_to_read: str
    caption: str


@dataclass
class _Table:
    frame: pd.DataFrame
    caption: str
    highlight: frozenset[int]


@dataclass
class _Html:
    markup: str


@dataclass
class Section:
    """A titled part of a page; add text, figures, tables and notes in reading order."""

    heading: str
    anchor: str
    blocks: list[_Figure | _Table | _Html] = field(default_factory=list)

    def text(self, text: str) -> Section:
        """Plain paragraphs (blank lines separate them); the text is escaped."""
        self.blocks.append(_Html(_paragraphs(text)))
        return self

    def figure(self, fig: go.Figure, how_to_read: str, caption: str = "") -> Section:
        """A plotly figure with its obligatory one-line reading guide."""
        if not how_to_read.strip():
            raise ValueError("every figure needs a 'how to read this' line")
        self.blocks.append(_Figure(fig, how_to_read.strip(), caption.strip()))
        return self

    def table(
        self, frame: pd.DataFrame, caption: str = "", highlight: Iterable[int] = ()
    ) -> Section:
        """A table of a DataFrame (index ignored); `highlight` = row positions to emphasise."""
        self.blocks.append(_Table(frame.reset_index(drop=True), caption, frozenset(highlight)))
        return self

    def note(self, text: str) -> Section:
        """A boxed remark, e.g. what was sampled or left out of a figure."""
        self.blocks.append(_Html(f'<aside class="cs-note">{html.escape(text)}</aside>'))
        return self

    def links(self, items: Sequence[tuple[str, str, str]]) -> Section:
        """A list of (href, label, description) links to other pages."""
        lis = "".join(
            f'<li><a href="{html.escape(href, quote=True)}">{html.escape(label)}</a>'
            f'<span class="cs-desc">{html.escape(desc)}</span></li>'
            for href, label, desc in items
        )
        self.blocks.append(_Html(f'<ul class="cs-links">{lis}</ul>'))
        return self


class Page:
    """An HTML report page: a title, an optional subtitle and a list of sections."""

    def __init__(self, title: str, subtitle: str = "") -> None:
        self.title = title
        self.subtitle = subtitle
        self.sections: list[Section] = []

    def section(self, heading: str, text: str = "") -> Section:
        """Start a new section (and return it); `text` becomes its opening paragraphs."""
        anchor = _slug(heading)
        taken = {s.anchor for s in self.sections}
        n = 2
        while anchor in taken:
            anchor = f"{_slug(heading)}-{n}"
            n += 1
        sec = Section(heading, anchor)
        if text:
            sec.text(text)
        self.sections.append(sec)
        return sec

    @property
    def verdict(self) -> str:
        """The plain text of the page's "Verdict" section ("" without one)."""
        for sec in self.sections:
            if sec.heading.strip().lower() == "verdict":
                texts = [b.markup for b in sec.blocks if isinstance(b, _Html)]
                plain = re.sub(r"<[^>]+>", " ", " ".join(texts))
                return " ".join(html.unescape(plain).split())
        return ""

    @property
    def n_figures(self) -> int:
        return sum(isinstance(b, _Figure) for s in self.sections for b in s.blocks)

    def render(self, plotlyjs: PlotlyJs = "inline") -> str:
        """The page as one HTML string."""
        from carespiral import __version__

        if plotlyjs not in ("inline", "beside"):
            raise CarespiralError(f"plotlyjs must be 'inline' or 'beside', not {plotlyjs!r}")
        out: list[str] = [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<meta name="generator" content="carespiral">',
            f"<title>{html.escape(self.title)}</title>",
            # the verdict, for an index of pages and for previews
            f'<meta name="description" content="{html.escape(self.verdict, quote=True)}">',
            f"<style>{_CSS}</style>",
        ]
        has_figures = self.n_figures > 0
        if has_figures:
            if plotlyjs == "inline":
                # the bundle contains no "</script>"; guard anyway so the page cannot break
                js = plotly.offline.get_plotlyjs().replace("</script", "<\\/script")
                out.append(f'<script type="text/javascript">{js}</script>')
            else:
                out.append(f'<script type="text/javascript" src="{PLOTLYJS_FILE}"></script>')
        out.append("</head><body>")
        stamp = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        out.append(f"<header><h1>{html.escape(self.title)}</h1>")
        if self.subtitle:
            out.append(f'<p class="cs-subtitle">{html.escape(self.subtitle)}</p>')
        hint = (
            " Figures are interactive: hover for values, drag to zoom, double-click to reset,"
            " click a legend entry to hide or show it."
            if has_figures
            else ""
        )
        out.append(
            f'<p class="cs-meta">Made by carespiral {html.escape(__version__)} on {stamp}.{hint}</p>'
        )
        if len(self.sections) > 1:
            toc = "".join(
                f'<a href="#{s.anchor}">{html.escape(s.heading)}</a>' for s in self.sections
            )
            out.append(f'<nav class="cs-toc">{toc}</nav>')
        out.append("</header><main>")
        n = 0
        for sec in self.sections:
            out.append(f'<section id="{sec.anchor}"><h2>{html.escape(sec.heading)}</h2>')
            for block in sec.blocks:
                if isinstance(block, _Figure):
                    n += 1
                    out.append(_figure_html(block, f"cs-fig-{n}"))
                elif isinstance(block, _Table):
                    out.append(_table_html(block))
                else:
                    out.append(block.markup)
            out.append("</section>")
        out.append(
            "</main><footer>carespiral report. Self-contained: it needs no network connection."
            "</footer>"
        )
        if has_figures:
            out.append(f"<script>{_RENDER_JS}</script>")
        out.append("</body></html>")
        return "\n".join(out)

    def write(self, path: str | Path, plotlyjs: PlotlyJs = "inline") -> Path:
        """Render and write the page atomically (with plotly.min.js beside it if asked)."""
        path = Path(path)
        if path.suffix.lower() not in (".html", ".htm"):
            raise CarespiralError(f"{path}: a report must be written to an .html file")
        text = self.render(plotlyjs)
        if plotlyjs == "beside" and self.n_figures:
            js_path = path.parent / PLOTLYJS_FILE
            js = plotly.offline.get_plotlyjs()
            if not js_path.exists() or js_path.stat().st_size != len(js.encode("utf-8")):
                atomic_write(js_path, js)
        atomic_write(path, text)
        return path


LEGEND_WIDTH = 950  # px a top legend may fill on a 1280-px window (plot area, conservatively)


def _legend_rows(fig: go.Figure, width: float = LEGEND_WIDTH) -> int:
    """Rows a horizontal legend takes (entries packed left to right as plotly does)."""
    names = [str(t.name) for t in fig.data
             if t.type in ("scatter", "bar", "histogram", "box") and t.showlegend is not False
             and t.visible is not False and t.name]  # hidden traces (a loop menu's) take no room
    if fig.layout.showlegend is False or (fig.layout.showlegend is None and len(names) < 2):
        return 0
    rows, used = 1, 0.0
    for n in names:
        w = 48 + 7.4 * len(re.sub(r"<[^>]+>", "", n))  # symbol, gap and text at 13 px
        if used and used + w > width:
            rows, used = rows + 1, 0.0
        used += w
    return rows


def _fit_top(fig: go.Figure) -> None:
    """Room above the plot for the title and a legend set under it, so neither covers the
    other however many entries the legend has (the title is pinned to the top)."""
    leg = fig.layout.legend
    if leg.orientation != "h" or leg.y is None or leg.y < 1:
        return
    rows = _legend_rows(fig)
    if not rows:
        return
    title = fig.layout.title.text or ""
    lines = title.count("<br>") + 1 if title else 0
    need = 14 + 26 * lines + 23 * rows + 12
    top = fig.layout.margin.t if fig.layout.margin.t is not None else 90
    if need > top:
        fig.update_layout(margin={"t": need})
        h = fig.layout.height or 450
        fig.update_layout(height=int(h + need - top))  # the plot keeps its height
    if title:
        fig.update_layout(title={"y": 1.0, "yref": "container", "yanchor": "top",
                                 "pad": {"t": 12}})


def _figure_html(block: _Figure, div_id: str) -> str:
    _fit_top(block.fig)
    title = block.fig.layout.title.text or "figure"
    config = {
        "responsive": True,
        "displaylogo": False,
        "toImageButtonOptions": {"format": "png", "filename": _slug(title)},
    }
    spec = '{"figure": ' + pio.to_json(block.fig, validate=False) + ', "config": '
    spec += json.dumps(config) + "}"
    spec = spec.replace("</", "<\\/")  # a JSON escape, so text cannot close the script element
    # the div gets the figure's height: plotly's responsive mode resizes a figure to its div on
    # every window resize, and a div sized only by its content would collapse
    height = int(block.fig.layout.height or 450)
    caption = (
        f'<span class="cs-how">How to read this:</span> {html.escape(block.how_to_read)}'
    )
    if block.caption:
        caption += f"<br>{html.escape(block.caption)}"
    return (
        f'<figure class="cs-figure"><div class="cs-plot" id="{div_id}" '
        f'style="height: {height}px"></div>'
        f"<figcaption>{caption}</figcaption>"
        f'<script type="application/json" id="{div_id}-spec">{spec}</script></figure>'
    )


def _table_html(block: _Table) -> str:
    frame = block.frame
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
               for c in frame.columns]
    rows = []
    for i, rec in enumerate(frame.itertuples(index=False, name=None)):
        cells = "".join(
            f'<td class="num">{html.escape(format_value(_py(v)))}</td>'
            if num
            else f"<td>{html.escape(format_value(_py(v)))}</td>"
            for v, num in zip(rec, numeric, strict=True)
        )
        cls = ' class="cs-highlight"' if i in block.highlight else ""
        rows.append(f"<tr{cls}>{cells}</tr>")
    cap = f"<caption>{html.escape(block.caption)}</caption>" if block.caption else ""
    return (
        f'<div class="cs-table-wrap"><table class="cs-table">{cap}<thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _py(v: object) -> object:
    """numpy scalars to Python scalars, missing values to None."""
    if isinstance(v, list | tuple):
        return ", ".join(str(x) for x in v)
    if v is None or (not isinstance(v, str) and pd.isna(v)):  # type: ignore[arg-type]
        return None
    if hasattr(v, "item") and not isinstance(v, pd.Timestamp):
        return v.item()  # type: ignore[no-any-return]
    return v


def page_verdict(path: str | Path) -> str:
    """The verdict a report page was written with (its description), or ""."""
    try:
        head = Path(path).read_text(encoding="utf-8", errors="replace")[:200_000]
    except OSError:
        return ""
    m = re.search(r'<meta name="description" content="([^"]*)"', head)
    return html.unescape(m.group(1)) if m else ""
