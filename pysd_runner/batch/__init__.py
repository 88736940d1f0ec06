"""Vectorised batch backend: many parameter sets integrated at once."""
