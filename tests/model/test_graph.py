"""The dependency graph typed from PySD's abstract model, on the small teaching model."""

from __future__ import annotations

import pytest

from carespiral.errors import FileFormatError, UnknownNameError
from carespiral.pysd_runner.catalog import get_entry
from carespiral.pysd_runner.graph import dependency_graph


@pytest.fixture(scope="module")
def g():
    return dependency_graph(get_entry("workforce_spiral").path)


def test_node_kinds(g):
    assert g.of_kind("stock") == ["Burnout", "Open Cases", "Social Workers"]
    assert g.of_kind("flow") == ["Case Closures", "Hiring", "Leaving", "Referrals Accepted"]
    assert "Effect of Burnout on Leaving" in g.of_kind("lookup")
    assert "Funded Establishment" in g.of_kind("constant")
    assert g.nodes["Social Workers"].units == "FTE"


def test_edges_follow_equations_and_skip_initial_values(g):
    assert set(g.predecessors("Leaving")) == {
        "Social Workers", "Normal Leaving Rate", "Effect of Burnout on Leaving"}
    # Social Workers starts at Funded Establishment, but that is not a causal link
    assert g.predecessors("Social Workers") == ["Hiring", "Leaving"]


def test_cycles(g):
    r1 = ["Social Workers", "Caseload", "Workload Pressure", "Burnout",
          "Effect of Burnout on Leaving", "Leaving"]
    assert g.is_cycle(r1)
    assert not g.is_cycle(r1[:-1])
    loop = g.find_cycle("Burnout")
    assert loop is not None and loop[0] == "Burnout" and g.is_cycle(loop)
    assert g.find_cycle("Funded Establishment") is None
    assert g.resolve("social_workers") == "Social Workers"
    with pytest.raises(UnknownNameError, match="Social Workers"):
        g.resolve("Social Worker")


def test_link_signs_and_loop_polarity(g):
    signs = g.link_signs
    assert signs[("Leaving", "Social Workers")] == -1  # outflow
    assert signs[("Hiring", "Social Workers")] == +1  # inflow
    assert signs[("Social Workers", "Caseload")] == -1  # divisor (inside ZIDZ)
    assert signs[("Burnout", "Effect of Burnout on Leaving")] == +1  # rising lookup
    assert signs[("Social Workers", "Hiring")] == -1  # subtracted inside MAX
    assert signs[("Burnout", "Burnout")] == -1  # first-order adjustment
    r1 = ["Social Workers", "Caseload", "Workload Pressure", "Burnout",
          "Effect of Burnout on Leaving", "Leaving"]
    assert g.loop_polarity(r1) == "reinforcing"
    b1 = ["Social Workers", "Hiring"]
    assert g.loop_polarity(b1) == "balancing"
    with pytest.raises(ValueError, match="not a loop"):
        g.loop_polarity(["Social Workers", "Burnout"])


def test_missing_file_is_a_user_error(tmp_path):
    with pytest.raises(FileFormatError, match="no such model file"):
        dependency_graph(tmp_path / "none.mdl")
