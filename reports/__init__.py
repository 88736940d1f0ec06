"""Self-contained plotly HTML reports that consume result objects (they never run models).

Each report kind is one function that takes results (DataFrames, structure descriptions, data
tables) and writes one offline HTML page; `render_results` re-renders a results directory from its
manifest. See docs/reports.md.
"""

from carespiral.reports.page import Page
from carespiral.reports.run_report import run_report

__all__ = ["Page", "run_report"]
