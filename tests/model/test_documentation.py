"""Parameter assessment: every constant has units, bounds around its default and a sourced
comment; every nonlinear effect is 1 at the reference (the no-shock steady state)."""

from __future__ import annotations

import math
import re

# A comment names its source: a published series or year, a study, or "judgement"/"calibrated"/
# "derived"; calendar and unit conversions, levers and drivers say so.
SOURCE = re.compile(r"(csww|\bc1\b|dfe|\bons\b|judgement|calibrated|derived|munro|homer|mansell|"
                    r"oliva|vanguard|\b(19|20)\d\d\b|conversion|definition|starting value|"
                    r"steady.state|a lever|a driver)")


def test_every_constant_has_units_bounds_and_a_sourced_comment(model):
    constants = model.parameters
    assert len(constants) > 50
    for p in constants:
        assert p.units.strip(), f"{p.name}: no units"
        assert math.isfinite(p.lower) and math.isfinite(p.upper), f"{p.name}: bounds {p.lower}, {p.upper}"
        assert p.lower <= p.default <= p.upper, f"{p.name}: default {p.default} outside bounds"
        text = p.description.lower()
        assert len(text) > 20, f"{p.name}: comment too short"
        assert SOURCE.search(text), f"{p.name}: comment names no source"
        assert "~" not in p.description


def test_nonlinear_effects_are_one_at_the_reference(model, no_shocks):
    effects = [v.name for v in model.variables if v.name.startswith("Effect of")]
    assert len(effects) >= 10
    df = model.run(scenario="no_shocks", saveper=12, outputs=effects)
    for name in effects:
        assert df[name].between(0.97, 1.03).all(), f"{name} leaves 1 +- 3% without shocks"
