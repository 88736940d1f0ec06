"""Self-contained plotly HTML reports that consume result objects (they never run models)."""
