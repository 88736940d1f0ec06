"""The ranked view of every authority: margins to collapse with intervals, each linking to its
brief.

It consumes an `AuthoritiesTable` (`carespiral.exploration.authorities`, kind `authorities`):
a verdict; every authority as one dot-and-interval column ordered by its margin (one figure of
fixed height, whatever the number of authorities); the nearest to collapse by name; a table of
every authority that sorts by any column (click a heading) with a link to each one's brief when
it has been written; the authorities not fitted with the reason; and the shrinkage of each
parameter towards the national distribution.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from carespiral.pysd_runner.catalog import naming, plain_text

from .page import Page, PlotlyJs, _Html
from .style import GREY, HIGHLIGHT, PALETTE, apply_layout

__all__ = ["NEAREST", "authorities_report", "authorities_verdict", "brief_file", "rank_role",
           "ranked", "render_authorities"]

NEAREST = 20  # authorities named in the second figure

# Sorts a table by the column whose heading is clicked (numbers by data-v, text by content).
_SORT_JS = """
(function () {
  document.querySelectorAll('table.cs-sortable').forEach(function (t) {
    t.querySelectorAll('th').forEach(function (th, i) {
      th.style.cursor = 'pointer';
      th.title = 'sort by this column';
      th.addEventListener('click', function () {
        var body = t.tBodies[0], rows = Array.from(body.rows);
        var up = th.getAttribute('data-up') !== '1';
        t.querySelectorAll('th').forEach(function (h) { h.removeAttribute('data-up'); });
        if (up) th.setAttribute('data-up', '1');
        rows.sort(function (a, b) {
          var x = a.cells[i], y = b.cells[i];
          var vx = x.getAttribute('data-v'), vy = y.getAttribute('data-v');
          var c = (vx !== null && vy !== null) ? (parseFloat(vx) - parseFloat(vy))
                  : x.textContent.localeCompare(y.textContent);
          return up ? c : -c;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
})();
"""


def brief_file(area_name: str) -> str:
    """The file name of an authority's brief ("Bournemouth, Christchurch and Poole" ->
    "bournemouth-christchurch-and-poole.html")."""
    return re.sub(r"[^a-z0-9]+", "-", str(area_name).lower()).strip("-") + ".html"


def rank_role(table: Any) -> str:
    """The margin the view ranks by: need when the table has it, else its first role."""
    roles = list(table.settings.get("roles", []))
    return "underlying_need" if "underlying_need" in roles else roles[0]


def ranked(table: Any, role: str) -> pd.DataFrame:
    """Fitted authorities by margin; ties (most often no margin at all) by the share of draws
    in collapse today, then by the top of the interval."""
    ok = table.ranked(role)
    key = ok[f"{role} margin"].where(~ok[f"{role} censored"].astype(bool), np.inf)
    return (ok.assign(_k=key, _s=-ok["collapse_today_share"].fillna(0))
            .sort_values(["_k", "_s", f"{role} margin upper", "area_name"])
            .drop(columns=["_k", "_s"]).reset_index(drop=True))


def authorities_verdict(table: Any) -> str:
    role = rank_role(table)
    ok = ranked(table, role)
    failed = table.table[table.table["status"] != "ok"]
    what = naming(role, table.model).label.lower()
    out = [f"{len(ok)} of {len(table.table)} authorities fitted together "
           f"({table.pooling} pooling); {len(failed)} could not be fitted (listed with the "
           "reason below)."]
    collapse = ok[ok["regime_today"] == "collapse"]
    out.append(f"By the calibrated model {len(collapse)} "
               f"{'is' if len(collapse) == 1 else 'are'} in collapse today"
               + (f" ({', '.join(collapse['area_name'].head(5))}"
                  + (" and others" if len(collapse) > 5 else "") + ")" if len(collapse) else "")
               + ".")
    if len(ok):
        m = ok[f"{role} margin"]
        none = int((m <= 0).sum())
        if none:
            out.append(f"{none} {'has' if none == 1 else 'have'} no margin: at today's "
                       "pressures the model runs them into collapse before the end of its run.")
        near = ok[m > 0].head(3)
        out.append(f"The median authority could take a rise of {np.nanmedian(m):.0%} in {what} "
                   "before collapsing by the end of the model's run"
                   + ("; the nearest to collapse with some margin are " + ", ".join(
                       f"{n} ({v:.1%})" if v < 0.1 else f"{n} ({v:.0%})" for n, v in
                       zip(near["area_name"], near[f"{role} margin"], strict=True))
                      if len(near) else "") + ".")
        wide = (ok[f"{role} margin upper"] - ok[f"{role} margin lower"]).median()
        out.append(f"The typical 90% interval of a margin is {wide:.0%} wide: ranks close "
                   "together are not different.")
    return " ".join(out)


def authorities_report(table: Any, path: str | Path, *, plotlyjs: PlotlyJs = "inline",
                       briefs: Mapping[str, str] | None = None,
                       title: str = "Every authority, ranked by margin to collapse") -> Path:
    """Write the ranked view of `table` (an `AuthoritiesTable`); `briefs`: area code -> link
    to its brief (relative to the page)."""
    briefs = dict(briefs or {})
    role = rank_role(table)
    ok = ranked(table, role)
    label = naming(role, table.model).label
    page = Page(title, f"{table.model.replace('_', ' ')} model, spec {table.spec}, "
                f"{table.pooling} pooling; margins over {table.settings.get('draws')} posterior "
                "draws per authority")
    page.section("Verdict", authorities_verdict(table))
    sec = page.section("Every authority")
    if len(ok):
        sec.figure(_caterpillar(ok, role, label), how_to_read=(
            f"One column per authority, ordered from the smallest margin (left) to the largest; "
            f"the dot is the rise in {label.lower()} it can absorb before collapse (median over "
            "posterior draws), the line its 90% interval; red dots are in collapse today. Hover "
            "for the name."))
        near = ok[ok[f"{role} margin"] > 0].head(NEAREST)
        none = int((ok[f"{role} margin"] <= 0).sum())
        if len(near):
            sec.figure(_nearest(near, role, label), how_to_read=(
                f"The {len(near)} authorities nearest to collapse that have some margin, by "
                "name, with the same intervals; overlapping lines mean the order between them "
                "is not settled."
                + (f" The {none} with no margin are first in the table below." if none
                   else "")))
    _ranked_table(page, ok, table, role, briefs)
    failed = table.table[table.table["status"] != "ok"]
    if len(failed):
        page.section("Not fitted").table(pd.DataFrame({
            "Authority": failed["area_name"], "Code": failed["area_code"],
            "Reason": [plain_text(str(m), table.model) for m in failed["message"]]}))
    _shrinkage(page, table)
    return page.write(path, plotlyjs)


def _caterpillar(ok: pd.DataFrame, role: str, label: str) -> go.Figure:
    m = 100 * ok[f"{role} margin"].to_numpy(dtype=float)
    lo = 100 * ok[f"{role} margin lower"].to_numpy(dtype=float)
    hi = 100 * ok[f"{role} margin upper"].to_numpy(dtype=float)
    x = np.arange(1, len(ok) + 1)
    colour = np.where(ok["regime_today"] == "collapse", HIGHLIGHT, PALETTE[0])
    fig = go.Figure(go.Scatter(
        x=x, y=m, mode="markers", marker={"size": 5, "color": colour},
        error_y={"type": "data", "symmetric": False, "array": hi - m, "arrayminus": m - lo,
                 "color": GREY, "thickness": 1, "width": 0},
        customdata=np.column_stack([ok["area_name"], lo, hi]),
        hovertemplate=("%{customdata[0]}: %{y:.0f}% (90% interval %{customdata[1]:.0f} to "
                       "%{customdata[2]:.0f}), rank %{x}<extra></extra>")))
    apply_layout(fig, title=f"Margin to collapse ({label.lower()}) of every authority",
                 height=460)
    fig.update_xaxes(title_text="authorities, nearest to collapse on the left")
    fig.update_yaxes(title_text="rise before collapse (%)", rangemode="tozero")
    fig.update_layout(showlegend=False)
    return fig


def _nearest(near: pd.DataFrame, role: str, label: str) -> go.Figure:
    m = 100 * near[f"{role} margin"].to_numpy(dtype=float)
    lo = 100 * near[f"{role} margin lower"].to_numpy(dtype=float)
    hi = 100 * near[f"{role} margin upper"].to_numpy(dtype=float)
    fig = go.Figure(go.Scatter(
        x=m, y=near["area_name"], mode="markers",
        marker={"size": 9, "color": np.where(near["regime_today"] == "collapse", HIGHLIGHT,
                                             PALETTE[0])},
        error_x={"type": "data", "symmetric": False, "array": hi - m, "arrayminus": m - lo,
                 "color": GREY},
        hovertemplate="%{y}: %{x:.0f}%<extra></extra>"))
    apply_layout(fig, title=f"The {len(near)} nearest to collapse with some margin", height=int(130 + 24 * len(near)))
    fig.update_xaxes(title_text=f"rise in {label.lower()} before collapse (%)", rangemode="tozero")
    fig.update_yaxes(autorange="reversed", automargin=True, dtick=1)
    fig.update_layout(showlegend=False)
    return fig


def _cell(text: str, value: float | None = None) -> str:
    v = "" if value is None or not np.isfinite(value) else f' data-v="{value:.6g}"'
    cls = ' class="num"' if v else ""
    return f"<td{v}{cls}>{html.escape(text)}</td>"


def _ranked_table(page: Page, ok: pd.DataFrame, table: Any, role: str,
                  briefs: Mapping[str, str]) -> None:
    roles = list(table.settings.get("roles", []))
    sec = page.section("The table")
    sec.text("Every fitted authority, nearest to collapse first. Click a heading to sort by it; "
             + ("each name links to the authority's brief." if briefs else
                "write the briefs (carespiral brief --area all) to link each name to its own."))
    heads = ["Rank", "Authority", "Region", "Today"]
    heads += [f"Margin: {naming(r, table.model).label.lower()} (90% interval)" for r in roles]
    skill = "backtest mase_model" in ok
    heads += ["Mean error of the fit (MAPE %)"] + (["Forecast error (MASE)"] if skill else [])
    rows = []
    for i, (_, rec) in enumerate(ok.iterrows(), start=1):
        name = html.escape(str(rec["area_name"]))
        href = briefs.get(str(rec["area_code"]))
        link = f'<a href="{html.escape(href, quote=True)}">{name}</a>' if href else name
        cells = [_cell(str(i), i), f"<td>{link}</td>",
                 _cell(str(rec.get("region_name") or "")),
                 _cell(str(rec["regime_today"]))]
        for role_ in roles:
            m = float(rec[f"{role_} margin"])
            more = " or more" if bool(rec[f"{role_} censored"]) else ""
            cells.append(_cell(f"{m:.0%}{more} ({rec[f'{role_} margin lower']:.0%} to "
                               f"{rec[f'{role_} margin upper']:.0%})", m))
        mape = float(rec.get("mean_mape", np.nan))
        cells.append(_cell(f"{mape:.1f}" if np.isfinite(mape) else "–", mape))
        if skill:
            s = float(rec["backtest mase_model"])
            cells.append(_cell(f"{s:.2f}" if np.isfinite(s) else "–", s))
        rows.append(f"<tr>{''.join(cells)}</tr>")
    head = "".join(f"<th>{html.escape(h)}</th>" for h in heads)
    markup = (f'<div class="cs-table-wrap" style="max-height: 640px; overflow-y: auto">'
              f'<table class="cs-table cs-sortable"><thead><tr>{head}</tr></thead>'
              f"<tbody>{''.join(rows)}</tbody></table></div>"
              f"<script>{_SORT_JS}</script>")
    sec.blocks.append(_Html(markup))
    if skill:
        sec.note(f"Forecast error: the mean scaled error (MASE) of forecasts up to three years "
                 f"ahead, fitted up to {table.settings.get('backtest_until') or 'an earlier year'}"
                 "; below 1 beats repeating the last published figure on average over the "
                 "series' own history (the naive rules' errors are in authorities.csv).")
    else:
        sec.note("Forecast error is not shown: this table was made without a backtest "
                 "(`carespiral brief --area all` fits every authority again up to three years "
                 "before the last and adds it).")
    sec.note("Each authority's row, with every fitted parameter and its interval, is in "
             "authorities.csv in the result's folder.")


def _shrinkage(page: Page, table: Any) -> None:
    p = table.parameters
    if p is None or not len(p) or "shrinkage" not in p:
        return
    g = p.groupby("parameter").agg(mean=("shrinkage", "mean"), low=("shrinkage", "min"),
                                   high=("shrinkage", "max"), national=("estimate", "median"))
    page.section("How much each authority borrows from the others", (
        "Shrinkage is the share of an authority's estimate that comes from the national "
        "distribution rather than its own data (0 = its data alone, 1 = the national value): "
        "high where the data say little about a parameter.")).table(pd.DataFrame({
            "Parameter": [naming(n, table.model).label for n in g.index],
            "Mean shrinkage": [f"{v:.2f}" for v in g["mean"]],
            "Range over authorities": [f"{lo:.2f} to {hi:.2f}"
                                       for lo, hi in zip(g["low"], g["high"], strict=True)],
            "Median estimate": [f"{v:.4g}" for v in g["national"]]}))


def render_authorities(result_dir: Path, item: Mapping[str, Any], plotlyjs: PlotlyJs) -> Path:
    """The renderer of a results item of kind `authorities` (`carespiral report`): the table
    in `item["result"]`; briefs are linked where written, in `briefs/` beside its folder."""
    import carespiral.exploration.authorities  # noqa: F401  (defines the result kind)
    from carespiral.results import load_result

    from .results import _field, _html_path

    folder = (Path(result_dir) / _field(Path(result_dir), item, "result", str)).resolve()
    table = load_result(folder)
    out = _html_path(Path(result_dir), item)
    briefs_dir = folder.parent / "briefs"
    links = {}
    for code, name in zip(table.table["area_code"], table.table["area_name"], strict=True):
        page = briefs_dir / brief_file(name)
        if page.exists():
            links[str(code)] = Path(_relative(page, out.parent)).as_posix()
    return authorities_report(table, out, plotlyjs=plotlyjs, briefs=links,
                              title=str(item.get("title") or
                                        "Every authority, ranked by margin to collapse"))


def _relative(path: Path, start: Path) -> str:
    import os

    return os.path.relpath(path.resolve(), start.resolve())
