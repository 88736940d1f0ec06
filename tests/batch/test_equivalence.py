"""Every bundled model: the batch backend gives PySD's results (relative 1e-9, absolute 1e-12)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from carespiral.pysd_runner import load
from carespiral.pysd_runner.batch import compile_model

BUNDLED = sorted((Path(__file__).resolve().parents[2] / "models").glob("*.mdl"))
# a test model using every supported construct at once (SMOOTH*, DELAY*, TREND, FORECAST, ...)
CONSTRUCTS = Path(__file__).parent / "models" / "constructs.mdl"
MODELS = [*BUNDLED, CONSTRUCTS]

_SMOOTH = re.compile(r"^(?P<name>[^\n=~|]+?)\s*=\s*SMOOTH(?P<i>I?)\s*\((?P<args>.*)\)\s*$",
                     re.IGNORECASE | re.DOTALL)


def _split_args(text: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in text:
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur += ch
    return [*out, cur.strip()]


def pysd_reference(mdl: Path, tmp_path: Path) -> Path:
    """The model as PySD should see it: first-order SMOOTH/SMOOTHI written as their stocks.

    PySD 3.14 integrates the first step of a SMOOTH wrongly when the smooth's input depends on
    its own output (see test_smooth_inside_a_feedback_loop_follows_euler). A first-order smooth
    *is* the stock INTEG((input - smooth) / time, initial), which PySD integrates correctly and
    with the same floating-point operations, so the reference uses that form.
    """
    text = mdl.read_text(encoding="utf-8")
    blocks = text.split("|")
    changed = False
    for k, block in enumerate(blocks):
        eq, sep, rest = block.partition("~")
        head = ""
        if eq.lstrip().startswith("{"):  # the file's encoding marker, e.g. {UTF-8}
            head, _, eq = eq.partition("}")
            head += "}"
        m = _SMOOTH.match(eq.strip())
        if not sep or not m:
            continue
        args = _split_args(m["args"].replace("\\\n", " "))
        if (m["i"] and len(args) != 3) or (not m["i"] and len(args) != 2):
            continue
        name = m["name"].strip()
        init = args[2] if m["i"] else args[0]
        lead = eq[: len(eq) - len(eq.lstrip())]
        blocks[k] = (f"{head}{lead}{name}= INTEG (\n\t(({args[0]}) - {name}) / ({args[1]}),\n"
                     f"\t\t{init})\n\t{sep}{rest}")
        changed = True
    if not changed:
        return mdl
    out = tmp_path / mdl.name
    out.write_text("|".join(blocks), encoding="utf-8")
    return out


@pytest.mark.parametrize("mdl", MODELS, ids=[p.stem for p in MODELS])
def test_bundled_model_equals_pysd(mdl, helpers, tmp_path) -> None:
    # bundled models are checked against PySD running their smooths as stocks (see above);
    # the constructs model against PySD's own SMOOTH objects
    model = load(pysd_reference(mdl, tmp_path) if mdl in BUNDLED else mdl)
    bm = compile_model(mdl)  # the batch backend runs the model as written
    # PySD takes several seconds per run of collapse_spiral (each lookup of time goes through
    # xarray's interpolation): one draw there, three elsewhere
    draws = helpers.draws(model.parameters, n=1 if mdl.stem == "collapse_spiral" else 3,
                          seed=20261128)
    assert not draws.empty, "the model should have bounded parameters to vary"
    # run 0: defaults; then random draws of every bounded constant within its bounds
    defaults = {p.name: p.default for p in model.parameters if p.name in draws}
    params = pd.concat([pd.DataFrame([defaults]), draws], ignore_index=True)
    names = [v.name for v in model.variables if v.kind not in ("lookup", "control")]
    ds = bm.run(params, outputs=names)
    compared = 0
    for i in range(len(params)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = model.run(params=params.iloc[i].to_dict() if i else None, outputs=names)
        assert np.allclose(ds["time"].to_numpy(), ref.index.to_numpy())
        for name in names:
            helpers.assert_close(ds[name].to_numpy()[i], ref[name].to_numpy(dtype=float),
                                 f"{mdl.stem} run {i}: {name}")
            compared += 1
    assert compared == len(params) * len(names) > 0


def test_reference_rewrite_only_touches_first_order_smooths(helpers, tmp_path) -> None:
    src = helpers.models / "loop_smooth.mdl"
    ref = pysd_reference(src, tmp_path)
    assert ref != src
    text = ref.read_text(encoding="utf-8")
    assert "SMOOTH" not in text.upper().replace("SMOOTHI WHOSE", "")
    assert "Perceived= INTEG (\n\t((Pressure) - Perceived) / (1),\n\t\t1)" in text
    # the rewritten model is what PySD needs: it now follows Euler like the batch backend
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fixed = load(ref).run()["Perceived"].to_numpy()
    batch = compile_model(src).run()["Perceived"].to_numpy()[0]
    helpers.assert_close(batch, fixed, "loop_smooth via INTEG in PySD")
    # SMOOTH3 and others are left alone
    text3 = pysd_reference(CONSTRUCTS, tmp_path).read_text(encoding="utf-8")
    assert "SMOOTH3(Input, Smooth Time)" in text3 and "SMOOTH N(" in text3


def test_pysd_reads_tables_and_arrays_at_full_precision(helpers) -> None:
    # PySD's builder prints lookup tables and arrays of constants with numpy's print precision
    # (8 decimals) unless the translation asks for exact output; both backends then run the
    # numbers written in the model: 0.967217483 at time 0, not 0.96721748
    mdl = helpers.models / "precise_tables.mdl"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = load(mdl).run()
    assert ref["Scaled"].iloc[0] == 967217.483
    ds = compile_model(mdl).run(engine="numpy")
    for name in ("Scaled", "Stock[North]", "Stock[South]", "Stock[East]"):
        np.testing.assert_array_equal(ds[name].to_numpy()[0], ref[name].to_numpy(dtype=float),
                                      err_msg=name)
