"""`--area all`: every authority fitted, failures recorded, margins to collapse in the table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from carespiral.calibration.areas_all import calibrate_all, current_authorities
from carespiral.calibration.result import load_result
from carespiral.calibration.spec import read_spec
from carespiral.exploration.margin import margin_columns


def test_current_authorities_are_the_codes_in_use():
    a = current_authorities(2023)
    assert 140 <= len(a) <= 160
    assert "E09000014" in set(a["area_code"])  # Haringey
    assert "E10000009" not in set(a["area_code"])  # Dorset County, abolished in 2019


def test_one_failure_does_not_stop_the_others(tmp_path):
    out = tmp_path / "all"
    table = calibrate_all(read_spec("local"), method="differential_evolution", budget=120,
                          out=out, scheduler="sync", areas=["E09000014", "E99999999"],
                          per_area=margin_columns)
    rows = table.set_index("area_code")
    assert rows.loc["E99999999", "status"] == "failed"
    assert "unknown area" in rows.loc["E99999999", "message"]
    ok = rows.loc["E09000014"]
    assert ok["status"] == "ok" and ok["area_name"] == "Haringey"
    for name in ("Underlying Need", "Normal Leaving Rate"):
        assert ok[f"{name} lower"] <= ok[name] <= ok[f"{name} upper"]
    # the fitted system tips at a higher compliance burden than its own (or never within bounds)
    margin = ok["margin compliance_burden"]
    assert np.isnan(margin) or margin >= 0
    saved = pd.read_csv(out / "areas.csv")
    assert set(saved["area_code"]) == {"E09000014", "E99999999"}
    r = load_result(out / "areas" / "E09000014")
    assert r.area == "Haringey (E09000014)"
    # the scale came from the data: Haringey's children, not England's 12 million
    child = r.manifest["fixed"]["Child Population"]
    assert 40_000 < child < 70_000


def test_dask_path_records_failures(tmp_path):
    table = calibrate_all(read_spec("local"), out=tmp_path / "d", areas=["E99999999"])
    assert list(table["status"]) == ["failed"]
    assert (tmp_path / "d" / "areas.csv").is_file()
