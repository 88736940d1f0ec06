"""End to end with a user's own model file and own data table: spec -> fit -> export."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from carespiral.calibration import calibrate, export_mdl, read_spec
from carespiral.pysd_runner import load
from carespiral.pysd_runner.catalog import models_dir

SPEC = """\
model = "my_model.mdl"
area = "Testshire"
period = [2007, 2024]
scenario = "demand_surge"

[parameters."Normal Leaving Rate"]
lower = 0.005
upper = 0.03

[parameters."Reference Caseload"]
lower = 10
upper = 30

[roles]
caseload = "Caseload"
social_workers_fte = "Social Workers"

[series.caseload]
error = "lognormal"
breaks = "span"        # the user's own series has no census break

[series.social_workers_fte]
error = "lognormal"
breaks = "span"
"""


def _published(model, truth: dict[str, float], rng) -> pd.DataFrame:
    """A tidy table like the loader's, with the model's own values at `truth` plus 4% noise."""
    from carespiral.data.observe import observe_batch

    years = np.arange(2007, 2025)
    rows = []
    for series, unit in (("caseload", "cases per FTE"), ("social_workers_fte", "FTE")):
        for y in years:
            rows.append({"area_code": "E06999999", "area_name": "Testshire", "level": "la",
                         "region_code": "", "region_name": "", "la_code": "999",
                         "series": series, "variant": "", "year": int(y), "period": f"Sep {y}",
                         "period_start": pd.Timestamp(f"{y}-09-30"),
                         "period_end": pd.Timestamp(f"{y}-09-30"),
                         "date": pd.Timestamp(f"{y}-09-30"), "value": np.nan, "unit": unit,
                         "kind": "ratio" if series == "caseload" else "stock"})
    table = pd.DataFrame(rows)
    ds = model.run_batch(pd.DataFrame([truth]), outputs=["Caseload", "Social Workers"],
                         scenario="demand_surge", saveper=1)
    roles = {"caseload": "Caseload", "social_workers_fte": "Social Workers"}
    clean = observe_batch(ds[list(roles.values())], table, roles).to_numpy()[:, 0]
    table["value"] = clean * np.exp(0.04 * rng.standard_normal(len(clean)))
    return table


def test_user_model_and_data_fit_and_export(tmp_path):
    shutil.copy(models_dir() / "workforce_spiral.mdl", tmp_path / "my_model.mdl")
    scen = tmp_path / "scenarios" / "my_model"
    scen.mkdir(parents=True)
    shutil.copy(models_dir() / "scenarios" / "workforce_spiral" / "demand_surge.toml", scen)
    (tmp_path / "spec.toml").write_text(SPEC, encoding="utf-8")
    spec = read_spec(tmp_path / "spec.toml")
    model = load(tmp_path / "my_model.mdl")
    truth = {"Normal Leaving Rate": 0.014, "Reference Caseload": 18.0}
    data = _published(model, truth, np.random.default_rng(21))
    result = calibrate(spec, method="least_squares", budget=150, data=data, seed=2)
    p = result.to_frame()
    for name, value in truth.items():
        assert p.loc[name, "estimate"] == pytest.approx(value, rel=0.05), result.report()
        # the reported interval is the profile one (the lookup tables and MIN/MAX of the
        # model make the likelihood kinked, where a Laplace interval can be over-confident),
        # and it contains the truth
        assert (p.loc[name, "lower"], p.loc[name, "upper"]) == (
            p.loc[name, "profile_lower"], p.loc[name, "profile_upper"])
        assert p.loc[name, "lower"] <= value <= p.loc[name, "upper"], result.report()
    assert result.area == "Testshire (E06999999)" and result.model == "my_model.mdl"
    # the user's model file is exported with the fitted constants in place
    result.save(tmp_path / "res")
    mdl, cin = export_mdl(tmp_path / "res", tmp_path / "out" / "fitted.mdl")
    fitted = load(mdl)
    for name, value in result.values.items():
        assert fitted.parameter(name).default == pytest.approx(value, rel=1e-9)
    assert cin.read_text().count(" = ") == 2
    # and refused once the original changes under it
    with open(tmp_path / "my_model.mdl", "a", encoding="utf-8") as f:
        f.write("\n")
    from carespiral.errors import CarespiralError

    with pytest.raises(CarespiralError, match="has changed since the calibration"):
        export_mdl(tmp_path / "res", tmp_path / "out2.mdl")


def test_a_model_without_the_role_needs_a_roles_table(tmp_path):
    shutil.copy(models_dir() / "workforce_spiral.mdl", tmp_path / "my_model.mdl")
    scen = tmp_path / "scenarios" / "my_model"
    scen.mkdir(parents=True)
    shutil.copy(models_dir() / "scenarios" / "workforce_spiral" / "demand_surge.toml", scen)
    text = SPEC.replace('caseload = "Caseload"\n', "")
    (tmp_path / "spec.toml").write_text(text, encoding="utf-8")
    from carespiral.errors import FileFormatError

    model = load(tmp_path / "my_model.mdl")
    data = _published(model, {"Normal Leaving Rate": 0.0125, "Reference Caseload": 17.0},
                      np.random.default_rng(0))
    with pytest.raises(FileFormatError, match=r"map one in a \[roles\] table") as info:
        calibrate(read_spec(tmp_path / "spec.toml"), budget=50, data=data)
    assert info.value.line == text.splitlines().index("[series.caseload]") + 1
