"""Fitting models to published data: data loading, observation operators, calibration methods."""
