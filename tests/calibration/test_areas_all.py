"""`--area all`: every authority fitted, failures recorded, margins to collapse in the table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

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
    saved = pd.read_csv(out / "areas.csv")
    assert set(saved["area_code"]) == {"E09000014", "E99999999"}
    r = load_result(out / "areas" / "E09000014")
    assert r.area == "Haringey (E09000014)"
    # the scale came from the data: Haringey's children, not England's 12 million
    child = r.manifest["fixed"]["Child Population"]
    assert 40_000 < child < 70_000
    _tips_at_its_threshold(r, ok)


def _tips_at_its_threshold(result, row):
    """The margin's claim, checked by running the fitted system: sustainable at its own
    compliance burden and collapsed at the threshold (or, with no threshold, not even at the
    burden's upper bound; with a margin of 0, collapsed at its own burden), by the same
    collapse criteria."""
    from carespiral.exploration.criteria import classify, default_criteria, outputs_needed
    from carespiral.pysd_runner import load

    spec = read_spec("local")
    model = load(spec.model)
    name = model.resolve("compliance_burden")
    values = {**{model.parameter(k).name: v for k, v in result.manifest["fixed"].items()},
              **result.values}
    base = float(values.get(name, model.parameter(name).default))
    thr, margin = row["compliance_burden threshold"], row["margin compliance_burden"]
    levels = [base, thr] if np.isfinite(thr) else [base, model.parameter(name).upper]
    frame = pd.DataFrame([{**values, name: level} for level in levels])
    crit = [c.bind(model) for c in default_criteria(model)]
    ds = model.run_batch(frame, outputs=outputs_needed(crit), scenario=spec.scenario)
    regimes = list(classify(ds, crit, frame)["regime"])
    if np.isfinite(thr) and margin == 0:  # collapsed at its own burden already (a quick fit)
        assert regimes == ["collapse", "collapse"] and thr == base
    elif np.isfinite(thr):
        assert regimes == ["sustainable", "collapse"]
        assert margin == pytest.approx(thr / base - 1)
    else:
        assert np.isnan(margin) and regimes == ["sustainable", "sustainable"]


def test_dask_path_records_failures(tmp_path):
    table = calibrate_all(read_spec("local"), out=tmp_path / "d", areas=["E99999999"])
    assert list(table["status"]) == ["failed"]
    assert (tmp_path / "d" / "areas.csv").is_file()


def test_all_together_fits_the_rest_and_lists_failures_with_reasons(tmp_path):
    """The default: one vectorised, pooled fit; an unknown area and an authority created by a
    boundary change in April 2023 are listed with their reasons, the others are fitted with
    their own drivers."""
    from carespiral.calibration.pooling.result import AuthoritiesFit

    out = tmp_path / "pooled"
    table = calibrate_all(read_spec("local"), out=out,
                          areas=["E09000014", "E09000007", "E08000025", "E06000063",
                                 "E99999999"])
    rows = table.set_index("area_code")
    assert set(rows.index[rows["status"] == "ok"]) == {"E09000014", "E09000007", "E08000025"}
    assert "unknown area" in rows.loc["E99999999", "message"]
    assert "boundary change on 2023-04-01" in rows.loc["E06000063", "message"]
    for name in ("Underlying Need", "Normal Leaving Rate"):
        ok = rows.loc["E09000014"]
        assert ok[f"{name} lower"] <= ok[name] <= ok[f"{name} upper"]
    fit = AuthoritiesFit.load(out / "fit")
    assert fit.pooling == "partial" and len(fit.population) == len(fit.parameters["parameter"]
                                                                    .unique())
    # each authority runs with its own scale and drivers: Haringey's children, not England's
    consts = fit.constants.set_index(["area_code", "parameter"])["value"]
    assert 40_000 < consts[("E09000014", "Child Population")] < 70_000
    assert consts[("E08000025", "Child Population")] > 200_000  # Birmingham
    assert set(fit.drivers["area_code"]) == {"E09000014", "E09000007", "E08000025"}
    assert pd.read_csv(out / "areas.csv")["area_code"].nunique() == 5
