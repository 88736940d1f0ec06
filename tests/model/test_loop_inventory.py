"""The documented loop inventory must match the model: every listed loop is a real cycle."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from carespiral.pysd_runner.catalog import get_entry
from carespiral.pysd_runner.graph import dependency_graph

DOC = Path(__file__).resolve().parents[2] / "docs" / "models" / "collapse_spiral.md"
LINE = re.compile(r"^(?P<id>[RB]\d+[a-z]?) \((?P<polarity>reinforcing|balancing)\) (?P<title>[^:]+): (?P<chain>.+)$")


def read_inventory(text: str) -> list[dict]:
    block = text.split("```loop-inventory", 1)[1].split("```", 1)[0]
    loops = []
    for raw in block.strip().splitlines():
        m = LINE.match(raw.strip())
        assert m, f"malformed loop line: {raw!r}"
        names = [n.strip() for n in m["chain"].split("->")]
        loops.append({**m.groupdict(), "names": names})
    return loops


@pytest.fixture(scope="module")
def graph():
    return dependency_graph(get_entry("collapse_spiral").path)


@pytest.fixture(scope="module")
def inventory():
    return read_inventory(DOC.read_text(encoding="utf-8"))


def test_inventory_lists_every_loop_of_the_causal_story(inventory):
    ids = {loop["id"] for loop in inventory}
    assert {"R1", "R2", "R3", "R4", "R5", "B1", "B2", "B3"} <= ids
    for loop in inventory:
        expected = "reinforcing" if loop["id"].startswith("R") else "balancing"
        assert loop["polarity"] == expected, loop["id"]


def test_each_documented_loop_is_a_cycle_of_the_model(graph, inventory):
    for loop in inventory:
        names = loop["names"]
        assert names[0] == names[-1], f"{loop['id']} must end where it starts"
        assert graph.missing_links(names[:-1]) == [], loop["id"]
        assert graph.is_cycle(names[:-1]), loop["id"]


def test_each_documented_polarity_follows_from_the_equations(graph, inventory):
    for loop in inventory:
        assert graph.loop_polarity(loop["names"][:-1]) == loop["polarity"], loop["id"]


def test_a_broken_loop_is_detected(graph, inventory):
    r1 = next(loop for loop in inventory if loop["id"] == "R1")["names"][:-1]
    broken = [n for n in r1 if n != "Burnout Change"]  # skip a link: no longer a chain of edges
    assert not graph.is_cycle(broken)
    assert ("Workload Pressure", "Burnout") in graph.missing_links(broken)
    assert not graph.is_cycle(list(reversed(r1)))  # causal direction matters
