"""Exploring models: collapse criteria, experiments, scenario discovery, tipping points, policies."""
