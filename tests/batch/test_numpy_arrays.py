"""The numpy engine of a subscripted model: the cells of one equation as one block (`arrays.py`).

The blocks must give the very numbers of the per-cell code (`codegen.generate(arrays=False)`,
the same operations per cell), the step must not grow with the number of elements, and a model
without subscripts must keep its per-cell source (the source is a cache key).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from carespiral.pysd_runner.batch import TimeInput, codegen, compile_model
from carespiral.pysd_runner.batch import model as batch_model
from carespiral.pysd_runner.batch.all_areas import element_name, subscript_by_area
from carespiral.pysd_runner.batch.model import BatchModel

REPO = Path(__file__).resolve().parents[2]
SINGLE = REPO / "models" / "collapse_spiral.mdl"
CONFORMANCE = REPO / "tests" / "conformance"
AREAS = ["Haringey", "Bristol, City of", "St. Helens", "Leeds", "Camden"]


def _step(source: str) -> list[str]:
    """The statements of the time loop."""
    return source.split("    for k in range(nsteps + 1):", 1)[1].splitlines()


def _areas_model(tmp_path: Path, n: int) -> Path:
    mdl = tmp_path / f"areas_{n}.mdl"
    mdl.write_text(subscript_by_area(SINGLE, AREAS[:n]), encoding="utf-8")
    return mdl


def _both(bm: BatchModel, monkeypatch, **run) -> tuple:
    """The run with blocks, and the same run with a statement per cell (a fresh model)."""
    blocks = bm.run(engine="numpy", **run)
    assert all("W[" in g.source for g, _ in bm._gen.values())
    with monkeypatch.context() as m:
        m.setattr(batch_model, "generate", functools.partial(codegen.generate, arrays=False))
        fresh = BatchModel(bm.program)
        cells = fresh.run(engine="numpy", **run)
        assert not any("W[" in g.source for g, _ in fresh._gen.values())
    return blocks, cells


def _assert_same(a, b) -> None:
    assert set(a.data_vars) == set(b.data_vars)
    for v in b.data_vars:
        x, y = a[v].to_numpy(), b[v].to_numpy()
        if x.dtype.kind == "f":
            assert np.array_equal(x, y, equal_nan=True), v
        else:
            assert (x == y).all(), v
    assert a.attrs["blowups"] == b.attrs["blowups"]


def test_step_does_not_grow_with_the_elements(tmp_path) -> None:
    steps = {}
    for n in (2, 5):
        prog = compile_model(_areas_model(tmp_path, n)).program
        gen = codegen.generate(prog, [], [], list(prog.names.values()), False)
        steps[n] = _step(gen.source)
        per_cell = codegen.generate(prog, [], [], list(prog.names.values()), False, arrays=False)
        assert len(_step(per_cell.source)) > n * 100  # a statement per cell
    assert len(steps[2]) == len(steps[5]) < 150
    # statements over the five areas' block of one equation, reading others' blocks as views
    assert sum(bool(re.match(r"\s+W\[\d+:\d+\] = ", line)) for line in steps[5]) > 50
    assert any(re.search(r"= .*W\[\d+:\d+\]", line) for line in steps[5])


def test_a_model_without_subscripts_keeps_its_source() -> None:
    prog = compile_model(SINGLE).program
    assert not prog.groups
    outs = list(prog.names.values())[:40]
    default = codegen.generate(prog, [], [], outs, False)
    assert default == codegen.generate(prog, [], [], outs, False, arrays=False)
    assert "W[" not in default.source


def test_blocks_give_the_numbers_of_a_statement_per_cell(helpers, monkeypatch) -> None:
    """DELAY FIXED, DELAY N, SMOOTH3, SAMPLE IF TRUE and RANDOM per cell, a lookup per region
    (two regions share a table), a variable of two constant cells and one computed cell, a
    SUM, per-cell parameters and per-cell time inputs, and stocks that go below zero in some
    runs: every variable and every blow-up the same with blocks and with a statement per cell."""
    bm = compile_model(helpers.models / "arrays.mdl")
    n = 40
    params = helpers.draws(bm.parameters, n=n, seed=11)
    assert {"Base[North]", "Lag[East]", "Income[South]", "Noise"} <= set(params.columns)
    times = np.arange(0.0, 25.0, 2.0)
    regions = ["North", "South", "East"]
    inputs = {f"Pressure[{c}]": TimeInput(
        times, np.stack([1.0 + 0.05 * (i + 1) * np.sin(times / (r + 2)) for r in range(n)],
                        axis=1)) for i, c in enumerate(regions)}
    blocks, cells = _both(bm, monkeypatch, params=params, inputs=inputs, seed=5)
    _assert_same(blocks, cells)
    assert 0 < blocks.attrs["blowups"] < n  # the blow-up check sees the block's states
    assert set(blocks["blowup_variable"].to_numpy()) >= {"", "Reserve[North]"}
    # each cell read its own parameter, input row and table: the regions differ
    first = [blocks[f"Stock[{c}]"].to_numpy()[:, 5] for c in regions]
    assert not np.array_equal(first[0], first[1]) and not np.array_equal(first[0], first[2])
    # summaries (ReduceRecorder) read the same rows
    red = _both(BatchModel(bm.program), monkeypatch, params=params, inputs=inputs,
                reduce="final,max,annual_mean:Stock[South]", period=4.0)
    _assert_same(*red)


# every model of the conformance suite with subscripts that the batch backend runs, but
# vector_select (a minute or more to lower and run twice; the conformance suite compares its
# block code with Vensim's output)
SUBSCRIPTED = (
    'allocate_available/test_allocate_available.mdl',
    'allocate_by_priority/test_allocate_by_priority.mdl',
    'arithmetics/test_arithmetics.mdl',
    'arithmetics_exp/test_arithmetics_exp.mdl',
    'array_with_line_break/test_array_with_line_break.mdl',
    'conditional_subscripts/test_conditional_subscripts.mdl',
    'data_from_other_model/model_to_generate_data.mdl',
    'elm_count/test_elm_count.mdl',
    'except/test_except.mdl',
    'except_multiple/test_except_multiple.mdl',
    'except_subranges/test_except_subranges.mdl',
    'forecast/test_forecast.mdl',
    'get_constants_incomplete_subscript/test_get_constants_incomplete_subscript.mdl',
    'get_constants_subranges/test_get_constants_subranges.mdl',
    'get_data_args_3d_xls/test_get_data_args_3d_xls.mdl',
    'get_lookups_data_3d_xls/test_get_lookups_data_3d_xls.mdl',
    'get_lookups_subscripted_args/test_get_lookups_subscripted_args.mdl',
    'get_lookups_subset/test_get_lookups_subset.mdl',
    'get_mixed_definitions/test_get_mixed_definitions.mdl',
    'get_subscript_3d_arrays_xls/test_get_subscript_3d_arrays_xls.mdl',
    'get_values_order/test_get_values_order.mdl',
    'get_with_missing_values_xlsx/test_get_with_missing_values_xlsx.mdl',
    'get_xls_cellrange/test_get_xls_cellrange.mdl',
    'invert_matrix/test_invert_matrix.mdl',
    'multiple_lines_def/test_multiple_lines_def.mdl',
    'partial_range_definitions/test_partial_range_definitions.mdl',
    'power/power.mdl',
    'reality_checks/test_reality_checks.mdl',
    'repeated_subscript/test_repeated_subscript.mdl',
    'sample_if_true/test_sample_if_true.mdl',
    'smaller_range/test_smaller_range.mdl',
    'subrange_merge/test_subrange_merge.mdl',
    'subscript_1d_arrays/test_subscript_1d_arrays.mdl',
    'subscript_2d_arrays/test_subscript_2d_arrays.mdl',
    'subscript_3d_arrays/test_subscript_3d_arrays.mdl',
    'subscript_3d_arrays_lengthwise/test_subscript_3d_arrays_lengthwise.mdl',
    'subscript_3d_arrays_widthwise/test_subscript_3d_arrays_widthwise.mdl',
    'subscript_aggregation/test_subscript_aggregation.mdl',
    'subscript_constant_call/test_subscript_constant_call.mdl',
    'subscript_copy/test_subscript_copy.mdl',
    'subscript_definition/test_subscript_definition.mdl',
    'subscript_docs/subscript_docs.mdl',
    'subscript_element_name/test_subscript_element_name.mdl',
    'subscript_individually_defined_1_of_2d_arrays/subscript_individually_defined_1_of_2d_arrays.mdl',
    'subscript_individually_defined_1_of_2d_arrays_from_floats/subscript_individually_defined_1_of_2d_arrays_from_floats.mdl',
    'subscript_individually_defined_1d_arrays/subscript_individually_defined_1d_arrays.mdl',
    'subscript_individually_defined_stocks/test_subscript_individually_defined_stocks.mdl',
    'subscript_logicals/test_subscript_logicals.mdl',
    'subscript_mapping_simple/test_subscript_mapping_simple.mdl',
    'subscript_mapping_vensim/test_subscript_mapping_vensim.mdl',
    'subscript_mixed_assembly/test_subscript_mixed_assembly.mdl',
    'subscript_multiples/test_multiple_subscripts.mdl',
    'subscript_numeric_range/test_subscript_numeric_range.mdl',
    'subscript_selection/subscript_selection.mdl',
    'subscript_subranges/test_subscript_subrange.mdl',
    'subscript_subranges_equal/test_subscript_subrange_equal.mdl',
    'subscript_switching/subscript_switching.mdl',
    'subscript_transposition/test_subscript_transposition.mdl',
    'subscript_updimensioning/test_subscript_updimensioning.mdl',
    'subscripted_delays/test_subscripted_delays.mdl',
    'subscripted_flows/test_subscripted_flows.mdl',
    'subscripted_if_then_else/test_subscripted_if_then_else.mdl',
    'subscripted_logicals/test_subscripted_logicals.mdl',
    'subscripted_lookups/test_subscripted_lookups.mdl',
    'subscripted_ramp_step/test_subscripted_ramp_step.mdl',
    'subscripted_round/test_subscripted_round.mdl',
    'subscripted_smooth/test_subscripted_smooth.mdl',
    'subscripted_trend/test_subscripted_trend.mdl',
    'subscripted_trig/test_subscripted_trig.mdl',
    'subscripted_xidz/test_subscripted_xidz.mdl',
    'subset_duplicated_coord/test_subset_duplicated_coord.mdl',
    'tabbed_arrays/tabbed_arrays.mdl',
    'vector_order/test_vector_order.mdl',
    'with_lookup/test_with_lookup.mdl',
)


@pytest.mark.parametrize("model", SUBSCRIPTED)
def test_conformance_models_give_the_numbers_of_a_statement_per_cell(model, helpers,
                                                                     monkeypatch) -> None:
    bm = compile_model(CONFORMANCE / "models" / model)
    assert bm.program.groups
    params = helpers.draws(bm.parameters, n=4, seed=2)
    run = {"params": params} if len(params.columns) else {"n": 4}
    _assert_same(*_both(bm, monkeypatch, **run))


def test_every_authority_model_by_blocks(tmp_path, helpers, monkeypatch) -> None:
    """Three areas, each with its own parameters (set per element, e.g. `Establishment per
    Child[Haringey]`) and its own driver over time: the same numbers as a statement per cell."""
    bm = compile_model(_areas_model(tmp_path, 3))
    cells = [element_name(a) for a in AREAS[:3]]
    single = compile_model(SINGLE)
    draws = helpers.draws(single.parameters, n=3, seed=4)
    draws["History"] = 1.0
    wide = pd.DataFrame({f"{p}[{c}]": draws[p].to_numpy() * (1 + 0.01 * i)
                         if p != "History" else draws[p].to_numpy()
                         for p in draws.columns for i, c in enumerate(cells)})
    assert "Establishment per Child[Haringey]" in wide.columns
    times = np.arange(0.0, 421.0, 12.0)
    inputs = {f"Relative Child Population[{c}]":
              TimeInput(times, 1.0 + 0.002 * (i + 1) * (times - 168) / 12)
              for i, c in enumerate(cells)}
    blocks, per_cell = _both(bm, monkeypatch, params=wide, inputs=inputs)
    _assert_same(blocks, per_cell)
    # an element's parameter moves its own area only
    more = wide.copy()
    more["Establishment per Child[Haringey]"] *= 1.2
    moved = bm.run(more, engine="numpy", inputs=inputs)
    for c in cells:
        same = np.array_equal(moved[f"Social Workers[{c}]"].to_numpy(),
                              blocks[f"Social Workers[{c}]"].to_numpy())
        assert same == (c != "Haringey"), c
