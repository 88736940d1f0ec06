"""Model report: structure normalisation, loop checks against the graph, layout, parameters."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from carespiral.errors import CarespiralError
from carespiral.reports import model_report
from carespiral.reports.model_report import model_page, parameter_table
from carespiral.reports.structure import Loop, Structure, layout, structure_from

LOOPS = {
    "R1": ["Social Workers", "Caseload", "Burnout Change", "Burnout", "Leaving"],
    "B1": ["Social Workers", "Vacancies", "Hiring"],
}


def test_the_accepted_graph_shapes_give_the_same_structure(sample_graph):
    from_dicts = structure_from(sample_graph)
    as_mapping = structure_from(
        {"nodes": {n["name"]: n["kind"] for n in sample_graph["nodes"]},
         "edges": [{"source": a, "target": b} for a, b in sample_graph["edges"]]}
    )
    as_objects = structure_from(SimpleNamespace(
        nodes=[SimpleNamespace(name=n["name"], kind=n["kind"], units=n["units"])
               for n in sample_graph["nodes"]],
        edges=[SimpleNamespace(src=a, dst=b) for a, b in sample_graph["edges"]],
    ))
    for st in (as_mapping, as_objects):
        assert st.nodes == from_dicts.nodes
        assert st.edges == from_dicts.edges
    assert "TIME STEP" not in from_dicts.nodes  # control variables are not part of the picture
    assert from_dicts.nodes["Caseload"] == "aux"  # "auxiliary" normalised
    assert from_dicts.units["Social Workers"] == "FTE"


def test_pipes_are_the_flow_to_stock_edges(sample_graph):
    st = structure_from(sample_graph)
    assert set(st.pipes()) == {("Hiring", "Social Workers"), ("Leaving", "Social Workers"),
                               ("Burnout Change", "Burnout"), ("Case Intake", "Open Cases")}


def test_loops_are_checked_against_the_graph(sample_graph):
    st = structure_from(sample_graph, LOOPS)
    assert st.missing_links(st.loops[0]) == []
    assert st.missing_links(st.loops[1]) == []
    broken = Loop("R9", ("Caseload", "Hiring", "Social Workers"))
    assert st.missing_links(broken) == [("Caseload", "Hiring")]
    assert [lp.kind for lp in st.loops] == ["reinforcing", "balancing"]


def test_loop_table_reports_a_loop_that_is_not_a_cycle(sample_graph, sample_parameters):
    loops = {**LOOPS, "R9": ["Caseload", "Hiring", "Social Workers"]}
    html = model_page(sample_graph, sample_parameters, title="m", loops=loops).render()
    assert "no: missing Caseload → Hiring" in html
    assert html.count("<td>yes</td>") == 2


def test_unknown_node_kind_is_refused(sample_graph):
    sample_graph["nodes"].append({"name": "X", "kind": "gizmo"})
    with pytest.raises(CarespiralError, match="gizmo"):
        structure_from(sample_graph)


def _overlaps(boxes) -> list[tuple[str, str]]:
    items = list(boxes.items())
    bad = []
    for i, (a, p) in enumerate(items):
        for b, q in items[i + 1:]:
            if (abs(p.x - q.x) < (p.width + q.width) / 2 - 0.5
                    and abs(p.y - q.y) < (p.height + q.height) / 2 - 0.5):
                bad.append((a, b))
    return bad


def test_layout_is_deterministic_and_no_two_boxes_overlap(sample_graph):
    st = structure_from(sample_graph)
    names = list(st.nodes)
    a, b = layout(st, names), layout(st, names)
    assert a == b
    assert set(a) == set(names)
    assert _overlaps(a) == []
    # every box is at least as wide as the longest line of its label needs (about 0.45 em a
    # character at 11 pt is a lower bound for Helvetica)
    for box in a.values():
        longest = max(len(line) for line in box.label.split("\n"))
        assert box.width >= 0.45 * 11 * longest
        assert all(len(line) <= 16 or " " not in line for line in box.label.split("\n"))


def test_the_main_model_is_laid_out_without_overlapping_boxes():
    from carespiral.pysd_runner import load
    from carespiral.pysd_runner.graph import dependency_graph

    st = structure_from(dependency_graph(load("collapse_spiral").mdl_path))
    keep = [n for n, k in st.nodes.items() if k != "constant"]
    boxes = layout(st, keep)
    assert len(boxes) == len(keep) > 80
    assert _overlaps(boxes) == []
    # linked variables sit closer than unlinked ones on average (a layout, not a scatter)
    xy = {n: np.array([b.x, b.y]) for n, b in boxes.items()}
    linked = [np.linalg.norm(xy[a] - xy[b]) for a, b in st.edges if a in xy and b in xy]
    names = list(xy)
    rng = np.random.default_rng(0)
    pairs = rng.choice(len(names), size=(400, 2))
    anyp = [np.linalg.norm(xy[names[i]] - xy[names[j]]) for i, j in pairs if i != j]
    assert np.median(linked) < 0.6 * np.median(anyp)


def test_structure_figure_hides_constants_unless_asked(sample_graph, sample_parameters):
    def drawn(page):
        fig = next(b.fig for s in page.sections for b in s.blocks if hasattr(b, "fig"))
        return {t.replace("<br>", " ") for tr in fig.data if tr.mode == "text"
                for t in (tr.text or ())}

    hidden = drawn(model_page(sample_graph, sample_parameters, title="m"))
    shown = drawn(model_page(sample_graph, sample_parameters, title="m", show_constants=True))
    assert "Funded Establishment" not in hidden and "Social Workers" in hidden
    assert "Effect of Burnout on Leaving" in hidden  # lookups are drawn; constants only if asked
    assert "Funded Establishment" in shown


def test_loop_menu_switches_each_loop_on_alone(sample_graph, sample_parameters):
    page = model_page(sample_graph, sample_parameters, title="m", loops=LOOPS)
    fig = next(b.fig for s in page.sections for b in s.blocks if hasattr(b, "fig"))
    buttons = fig.layout.updatemenus[0].buttons
    assert [b.label for b in buttons] == ["no loop", "R1", "B1", "all loops"]
    n = len(fig.data)
    r1 = buttons[1].args[0]["visible"]
    assert len(r1) == n and r1[-2:] == [True, False]


def test_parameter_table_from_parameter_objects_and_frames(sample_parameters):
    from carespiral.pysd_runner.parameters import Parameter

    objs = [Parameter("Funded Establishment", "funded_establishment", "FTE", 30000.0, 0.0,
                      100000.0, "posts funded"),
            Parameter("Referral Rate", "referral_rate", "children/Month", 50000.0, 0.0, math.inf,
                      "new referrals a month")]
    a, b = parameter_table(objs), parameter_table(sample_parameters)
    assert list(a.columns) == ["parameter", "value", "unit", "lower", "upper", "description"]
    assert a.equals(b)
    assert math.isnan(a.loc[1, "upper"])  # an unbounded side is left blank, not "inf"


def test_a_description_naming_a_role_by_its_code_name_says_its_label():
    from carespiral.pysd_runner.parameters import Parameter

    p = Parameter("Maximum Re Referral Fraction", "maximum_re_referral_fraction", "Dmnl", 0.45,
                  0.2, 0.8, "None more than 67.6% (Wakefield 2016, re_referral_rate; "
                  "social_workers_fte_x stays).")
    described = parameter_table([p]).loc[0, "description"]
    # a whole code name becomes its catalogue label; a longer word that contains one does not
    assert described == ("None more than 67.6% (Wakefield 2016, re-referral rate; "
                         "social_workers_fte_x stays).")


def test_parameter_frame_without_names_is_refused():
    import pandas as pd

    with pytest.raises(CarespiralError, match="parameter"):
        parameter_table(pd.DataFrame({"x": [1]}))


def test_model_report_writes_tables_and_the_structure_picture(sample_graph, sample_parameters,
                                                              tmp_path):
    path = model_report(sample_graph, sample_parameters, tmp_path / "m.html", title="Model",
                        loops=LOOPS)
    html = path.read_text()
    assert "Social Workers → Caseload → Burnout Change → Burnout → Leaving → Social Workers" in html
    assert "Funded Establishment" in html and "100,000" in html
    assert "3 stocks, 4 flows, 2 auxiliaries, 1 lookup, 2 constants" in html


def test_structure_round_trips_through_json(sample_graph, tmp_path):
    st = structure_from(sample_graph, LOOPS)
    st.save(tmp_path / "s.json")
    back = Structure.load(tmp_path / "s.json")
    assert back.nodes == st.nodes and back.edges == st.edges and back.units == st.units
    assert back.loops == st.loops


def test_report_of_a_bundled_model_from_its_dependency_graph(tmp_path):
    from carespiral.pysd_runner import load
    from carespiral.pysd_runner.graph import dependency_graph

    model = load("workforce_spiral")
    graph = dependency_graph(model.mdl_path)
    loops = {
        "R1": ["Social Workers", "Caseload", "Workload Pressure", "Burnout",
               "Effect of Burnout on Leaving", "Leaving"],
        "B1": ["Social Workers", "Hiring"],
        "X1": ["Social Workers", "Caseload", "Hiring"],  # not a loop of this model
    }
    page = model_page(graph, model.parameters, title=model.title, loops=loops)
    st = structure_from(graph)
    assert st.nodes["Social Workers"] == "stock" and st.nodes["Caseload"] == "aux"
    assert not any(k == "control" for k in st.nodes.values())
    assert set(st.pipes()) >= {("Hiring", "Social Workers"), ("Leaving", "Social Workers")}
    html = page.render()
    assert html.count("<td>yes</td>") == 2
    assert "no: missing Caseload → Hiring" in html
    for p in model.parameters:
        assert f"<td>{p.name}</td>" in html
    assert model_report(graph, model.parameters, tmp_path / "m.html", title="m").exists()


def test_loops_are_read_from_a_loop_inventory_block(tmp_path):
    from carespiral.errors import FileFormatError
    from carespiral.reports.structure import loops_from_doc

    doc = tmp_path / "model.md"
    doc.write_text(
        "# Model\n\nText.\n\n```loop-inventory\n"
        "R1 (reinforcing) attrition spiral: A -> B -> C -> A\n"
        "B1 (balancing) hiring: C -> D -> C\n```\n\nMore text -> not a loop.\n"
    )
    loops = loops_from_doc(doc)
    assert loops == [Loop("R1", ("A", "B", "C"), "attrition spiral", "reinforcing"),
                     Loop("B1", ("C", "D"), "hiring", "balancing")]
    doc.write_text("```loop-inventory\nR1 attrition spiral A B C\n```\n")
    with pytest.raises(FileFormatError, match="line 2"):
        loops_from_doc(doc)
    doc.write_text("no block here\n")
    with pytest.raises(FileFormatError, match="no ```loop-inventory block"):
        loops_from_doc(doc)


SIGNS = {("Hiring", "Social Workers"): 1, ("Leaving", "Social Workers"): -1,
         ("Social Workers", "Caseload"): -1, ("Open Cases", "Caseload"): 1,
         ("Caseload", "Burnout Change"): 1, ("Burnout Change", "Burnout"): 1,
         ("Burnout", "Leaving"): 1, ("Social Workers", "Vacancies"): -1,
         ("Vacancies", "Hiring"): 1, ("Case Intake", "Open Cases"): 1}


def test_link_signs_give_flow_directions_and_loop_polarity(sample_graph, sample_parameters,
                                                          tmp_path):
    sample_graph["link_signs"] = SIGNS
    st = structure_from(sample_graph, LOOPS)
    assert st.flow_direction("Leaving", "Social Workers") == "out"
    assert st.flow_direction("Hiring", "Social Workers") == "in"
    # R1: SW -(-)-> Caseload -> Burnout Change -> Burnout -> Leaving -(-)-> SW: two negatives
    assert st.polarity(st.loops[0]) == "reinforcing"
    # B1: SW -(-)-> Vacancies -> Hiring -> SW: one negative
    assert st.polarity(st.loops[1]) == "balancing"
    assert st.polarity(Loop("X", ("Social Workers", "Leaving"))) == ""  # SW -> Leaving unsigned
    page = model_page(sample_graph, sample_parameters, title="m", loops=LOOPS)
    html = page.render()
    assert "<td>Social Workers</td><td>FTE</td><td>Hiring</td><td>Leaving</td>" in html
    fig = next(b.fig for s in page.sections for b in s.blocks if hasattr(b, "fig"))
    colours = {(a.ax, a.x): a.arrowcolor for a in fig.layout.annotations}
    assert "#D55E00" in colours.values() and "#8a8a8a" in colours.values()
    st.save(tmp_path / "s.json")
    assert Structure.load(tmp_path / "s.json").signs == st.signs


def test_real_model_loop_polarity_from_its_equations():
    from carespiral.pysd_runner import load
    from carespiral.pysd_runner.graph import dependency_graph

    graph = dependency_graph(load("workforce_spiral").mdl_path)
    st = structure_from(graph, {
        "R1": ["Social Workers", "Caseload", "Workload Pressure", "Burnout",
               "Effect of Burnout on Leaving", "Leaving"],
        "B1": ["Social Workers", "Hiring"]})
    assert [st.polarity(lp) for lp in st.loops] == ["reinforcing", "balancing"]
    assert st.flow_direction("Leaving", "Social Workers") == "out"


def test_the_loop_menu_traces_take_no_room_in_the_legend(sample_graph, sample_parameters):
    from carespiral.reports.page import _legend_rows

    long_loops = {f"R{i} a loop with a long descriptive title number {i}": v
                  for i, v in enumerate(LOOPS.values())} | {
        f"B{i} another loop with a long title": v for i, v in enumerate(LOOPS.values())}
    page = model_page(sample_graph, sample_parameters, title="m", loops=long_loops)
    fig = next(b.fig for s in page.sections for b in s.blocks if hasattr(b, "fig"))
    hidden = [t for t in fig.data if t.visible is False]
    assert len(hidden) == 4  # one per loop, shown from the menu
    # the legend keys (flows, stocks, flows, auxiliaries, lookups) fit one row: the hidden
    # loop traces add no rows, so no blank band opens above the picture
    assert _legend_rows(fig) == 1
