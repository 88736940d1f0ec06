"""The numba kernel of a subscripted model: one loop per group of alike cells (`loops.py`).

The loops must give the very numbers of the kernel with one statement per cell (the same
operations per cell), and the kernel must not grow with the number of elements.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import numpy as np

from carespiral.pysd_runner.batch import TimeInput, compile_model, numba_engine
from carespiral.pysd_runner.batch.all_areas import subscript_by_area
from carespiral.pysd_runner.batch.model import BatchModel

REPO = Path(__file__).resolve().parents[2]
SINGLE = REPO / "models" / "collapse_spiral.mdl"
AREAS = ["Haringey", "Leeds", "Cornwall", "Bristol", "Camden"]


def _kernel(source: str) -> list[str]:
    return source.split("def kernel(", 1)[1].split("def simulate(", 1)[0].splitlines()


def _areas_model(tmp_path: Path, n: int) -> Path:
    mdl = tmp_path / f"areas_{n}.mdl"
    mdl.write_text(subscript_by_area(SINGLE, AREAS[:n]), encoding="utf-8")
    return mdl


def test_kernel_size_does_not_grow_with_the_elements(tmp_path) -> None:
    kernels = {}
    for n in (2, 5):
        prog = compile_model(_areas_model(tmp_path, n)).program
        gen = numba_engine.generate_numba(prog, [], [], list(prog.names.values()), False)
        kernels[n] = _kernel(gen.source)
        straight = numba_engine.generate_numba(prog, [], [], list(prog.names.values()), False,
                                               loops=False)
        # one statement per cell without loops: the kernel grows with the areas
        assert len(_kernel(straight.source)) > n * 100
    assert len(kernels[2]) == len(kernels[5])
    assert any("for e in range(5):" in line for line in kernels[5])
    # statements computing element e of a group: every equation of the model, over the areas
    per_element = [line for line in kernels[5]
                   if re.match(r"\s+W\[(IX\[)?(\d+ \+ )?e\]\]? = ", line)]
    assert len(per_element) > 50
    # a model without subscripts keeps a statement per variable, in registers
    prog = compile_model(SINGLE).program
    gen = numba_engine.generate_numba(prog, [], [], list(prog.names.values()), False)
    assert not any("for e in range" in line for line in _kernel(gen.source))


def test_loops_give_the_numbers_of_one_statement_per_cell(helpers, monkeypatch) -> None:
    """A model of stocks by region and age, a shared lookup, SMOOTH and DELAY3 per cell, SUMs,
    per-cell parameters and per-cell time inputs (each cell its own input row), 80 runs:
    every variable the same bits with and without loops, and as the numpy engine's."""
    bm = compile_model(helpers.models / "loops.mdl")
    n = 80
    params = helpers.draws(bm.parameters, n=n, seed=5)
    assert {"Base Arrivals[North]", "Capacity[West]", "Stay Time"} <= set(params.columns)
    times = np.arange(0.0, 25.0, 3.0)
    regions = ["North", "South", "East", "West"]
    inputs = {f"Pressure[{c}]": TimeInput(
        times, np.stack([1.0 + 0.05 * (i + 1) * np.sin(times / (r + 3)) for r in range(n)],
                        axis=1)) for i, c in enumerate(regions)}
    outs = list(bm.variables)
    looped = bm.run(params, outputs=outs, inputs=inputs, engine="numba")
    source = "".join(g.source for g, _ in bm._gen.values())
    assert "for e in range(8):" in source and "for e in range(4):" in source
    monkeypatch.setattr(numba_engine, "generate_numba",
                        functools.partial(numba_engine.generate_numba, loops=False))
    fresh = BatchModel(bm.program)
    straight = fresh.run(params, outputs=outs, inputs=inputs, engine="numba")
    assert "for e in range" not in "".join(g.source for g, _ in fresh._gen.values())
    vectorised = bm.run(params, outputs=outs, inputs=inputs, engine="numpy")
    assert looped.attrs["blowups"] == straight.attrs["blowups"] == 0
    for v in outs:
        a, b = looped[v].to_numpy(), straight[v].to_numpy()
        assert np.array_equal(a, b), v
        np.testing.assert_allclose(a, vectorised[v].to_numpy(), rtol=1e-12, atol=0, err_msg=v)
    # each cell read its own input row and its own parameters
    arrivals = [looped[f"Arrivals[{c},Young]"].to_numpy() for c in regions]
    expected = [params[f"Base Arrivals[{c}]"].to_numpy()[:, None] * 0.4 for c in regions]
    for i in range(4):
        pressure = np.stack([np.interp(looped.time, times, inputs[f"Pressure[{regions[i]}]"]
                                       .values[:, r]) for r in range(n)])
        np.testing.assert_allclose(arrivals[i], expected[i] * pressure, rtol=1e-12)
