"""The every-authority model: generated from the single-area model, and equal to it area by area.

`models/generated/collapse_spiral_all_areas.mdl` is derived from `models/collapse_spiral.mdl`
by `carespiral.pysd_runner.batch.all_areas` (one element of `Area` per current authority).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from carespiral.pysd_runner.batch import TimeInput, compile_model
from carespiral.pysd_runner.batch.all_areas import element_name, subscript_by_area

REPO = Path(__file__).resolve().parents[2]
SINGLE = REPO / "models" / "collapse_spiral.mdl"
GENERATED = REPO / "models" / "generated" / "collapse_spiral_all_areas.mdl"
SCRIPT = REPO / "scripts" / "generate_all_areas_model.py"


def _script():
    spec = importlib.util.spec_from_file_location("generate_all_areas_model", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_model_is_up_to_date() -> None:
    gen = _script()
    expected = subscript_by_area(SINGLE, gen.authorities())
    assert GENERATED.read_text(encoding="utf-8") == expected, (
        "models/generated/collapse_spiral_all_areas.mdl is out of date with "
        "models/collapse_spiral.mdl: run `python scripts/generate_all_areas_model.py`")
    assert len(gen.authorities()) > 140


def test_each_area_equals_the_single_area_model(tmp_path, helpers) -> None:
    areas = ["Haringey", "Bristol, City of", "St. Helens", "Kingston upon Hull, City of"]
    cells = [element_name(a) for a in areas]
    mdl = tmp_path / "four_areas.mdl"
    mdl.write_text(subscript_by_area(SINGLE, areas), encoding="utf-8")
    single, every = compile_model(SINGLE), compile_model(mdl)
    draws = helpers.draws(single.parameters, n=len(areas), seed=3)  # each area its own values
    draws["History"] = 1.0
    wide = pd.DataFrame({f"{p}[{c}]": [draws[p].iloc[i]] for p in draws.columns
                         for i, c in enumerate(cells)})
    # each area's own driver over time (children relative to mid-2019), a per-area time input
    times = np.arange(0.0, 241.0, 12.0)
    index = np.stack([1.0 + 0.002 * (i + 1) * (times - 168) / 12 for i in range(len(areas))],
                     axis=1)
    control = {"INITIAL TIME", "FINAL TIME", "TIME STEP", "SAVEPER"}
    outs = [v for v in single.variables if v not in control]  # every variable
    one = single.run(draws, outputs=outs, engine="numpy",
                     inputs={"Relative Child Population": TimeInput(times, index)})
    inputs = {f"Relative Child Population[{c}]": TimeInput(times, index[:, i])
              for i, c in enumerate(cells)}
    all_ = every.run(wide, outputs=outs, engine="numpy", inputs=inputs)
    assert all_.attrs["blowups"] == 0 and one.attrs["blowups"] == 0
    for i, c in enumerate(cells):
        for v in outs:
            np.testing.assert_allclose(all_[f"{v}[{c}]"].to_numpy()[0], one[v].to_numpy()[i],
                                       rtol=1e-9, atol=1e-12, err_msg=f"{v}[{c}]")


def test_generator_refuses_a_subscripted_model(helpers) -> None:
    from carespiral.errors import CarespiralError

    with pytest.raises(CarespiralError, match="already subscripted"):
        subscript_by_area(helpers.models / "subscripted.mdl", ["A", "B"])
    assert element_name("Kingston upon Thames / Richmond upon Thames") == \
        "Kingston upon Thames Richmond upon Thames"
