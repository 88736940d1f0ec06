"""Self-contained plotly HTML reports that consume result objects (they never run models).

Each report kind is one function that takes results (DataFrames, a structure description, the
data table, calibration and exploration result objects) and writes one offline HTML page;
`render_results` re-renders a results directory from its manifest. See docs/reports.md.
"""

from .calibration_report import calibration_report
from .data_report import data_report
from .exploration_report import exploration_report
from .model_report import model_report
from .page import Page
from .results import (
    index_page,
    render_results,
    save_calibration_results,
    save_data_results,
    save_exploration_results,
    save_model_results,
    save_run_results,
)
from .run_report import run_report

__all__ = [
    "Page",
    "calibration_report",
    "data_report",
    "exploration_report",
    "index_page",
    "model_report",
    "render_results",
    "run_report",
    "save_calibration_results",
    "save_data_results",
    "save_exploration_results",
    "save_model_results",
    "save_run_results",
]
