"""A model's structure as the model report needs it: typed nodes, directed edges, named loops.

`structure_from` accepts the dependency graph from `carespiral.pysd_runner.graph` or any object
(or dict, e.g. read back from JSON) with `nodes` and `edges`, so the report depends on a small
shape and not on how the graph is built. `layout` places the nodes for drawing (Graphviz).
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from carespiral.errors import CarespiralError, FileFormatError

__all__ = [
    "NODE_KINDS",
    "Box",
    "Loop",
    "Structure",
    "layout",
    "loops_from",
    "loops_from_doc",
    "structure_from",
]

NODE_KINDS = ("stock", "flow", "aux", "constant", "lookup")
_KIND_ALIASES = {
    "auxiliary": "aux",
    "aux": "aux",
    "stock": "stock",
    "level": "stock",
    "flow": "flow",
    "rate": "flow",
    "constant": "constant",
    "const": "constant",
    "lookup": "lookup",
    "table": "lookup",
    "data": "aux",
    "stateful": "aux",  # SMOOTH/DELAY-family variables: drawn as auxiliaries
}
_CONTROL = {"INITIAL TIME", "FINAL TIME", "TIME STEP", "SAVEPER", "Time", "TIME"}


@dataclass(frozen=True)
class Loop:
    """A named feedback loop: its variables in causal order (the last one feeds the first)."""

    name: str
    variables: tuple[str, ...]
    title: str = ""
    polarity: str = ""  # "reinforcing" or "balancing"; inferred from an R/B name if empty

    @property
    def kind(self) -> str:
        if self.polarity:
            return self.polarity
        if re.match(r"^R\d", self.name):
            return "reinforcing"
        if re.match(r"^B\d", self.name):
            return "balancing"
        return ""


@dataclass
class Structure:
    """Nodes (name -> kind), directed influence edges (cause, effect), units and named loops."""

    nodes: dict[str, str]
    edges: list[tuple[str, str]]
    units: dict[str, str] = field(default_factory=dict)
    loops: list[Loop] = field(default_factory=list)
    signs: dict[tuple[str, str], int | None] = field(default_factory=dict)  # +1, -1, None

    def pipes(self) -> list[tuple[str, str]]:
        """Edges between a flow and a stock: the material pipes of the stock-flow diagram."""
        kinds = self.nodes
        return [
            (a, b)
            for a, b in self.edges
            if {kinds.get(a), kinds.get(b)} == {"flow", "stock"} and kinds.get(b) == "stock"
        ]

    def flow_direction(self, flow: str, stock: str) -> str:
        """"in", "out" or "" (unknown) for a pipe, from the sign of the flow in the stock."""
        return {1: "in", -1: "out"}.get(self.signs.get((flow, stock)) or 0, "")

    def polarity(self, loop: Loop) -> str:
        """"reinforcing" or "balancing" from the product of the link signs; "" if unknown."""
        seq = list(loop.variables)
        product = 1
        for step in zip(seq, seq[1:] + seq[:1], strict=True):
            sign = self.signs.get(step)
            if sign not in (1, -1):
                return ""
            product *= sign
        return "reinforcing" if product > 0 else "balancing"

    def missing_links(self, loop: Loop) -> list[tuple[str, str]]:
        """The steps of `loop` that are not edges of the graph (empty: it is a real cycle)."""
        have = set(self.edges)
        seq = list(loop.variables)
        steps = list(zip(seq, seq[1:] + seq[:1], strict=True))
        return [s for s in steps if s not in have]

    def to_dict(self) -> dict[str, Any]:
        return {
            "nodes": [{"name": n, "kind": k, "units": self.units.get(n, "")} for n, k in
                      self.nodes.items()],
            "edges": [list(e) for e in self.edges],
            "signs": [[a, b, sg] for (a, b), sg in self.signs.items()],
            "loops": [
                {"name": lp.name, "title": lp.title, "polarity": lp.polarity,
                 "variables": list(lp.variables)}
                for lp in self.loops
            ],
        }

    def save(self, path: str | Path) -> None:
        from .page import atomic_write

        atomic_write(path, json.dumps(self.to_dict(), indent=1))

    @classmethod
    def load(cls, path: str | Path) -> Structure:
        try:
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise FileFormatError(path, f"cannot read the structure JSON: {exc}") from None
        try:
            return structure_from(raw)
        except CarespiralError as exc:
            raise FileFormatError(path, str(exc)) from None


def _get(obj: Any, *names: str) -> Any:
    for n in names:
        if isinstance(obj, Mapping) and n in obj:
            return obj[n]
        if hasattr(obj, n):
            return getattr(obj, n)
    return None


def structure_from(graph: Any, loops: Any = None) -> Structure:
    """Normalise a dependency graph (object or dict with `nodes` and `edges`) to a `Structure`.

    Nodes may be a mapping name -> kind, a mapping name -> object with `kind`, or objects/dicts
    with `name` and `kind` (and optionally `units`). Edges may be pairs or objects/dicts with
    source/target (or src/dst). Control variables (TIME STEP, ...) are left out.
    """
    if isinstance(graph, Structure):
        out = Structure(dict(graph.nodes), list(graph.edges), dict(graph.units), list(graph.loops),
                        dict(graph.signs))
        if loops is not None:
            out.loops = loops_from(loops)
        return out
    raw_nodes = _get(graph, "nodes")
    raw_edges = _get(graph, "edges")
    if raw_nodes is None or raw_edges is None:
        raise CarespiralError("a model structure needs 'nodes' and 'edges'")
    if callable(raw_nodes):  # a networkx-like graph: nodes(data=True)
        raw_nodes = dict(raw_nodes(data=True))
    if callable(raw_edges):
        raw_edges = list(raw_edges())
    nodes: dict[str, str] = {}
    units: dict[str, str] = {}

    def add(name: Any, kind: Any, unit: Any = None) -> None:
        name = str(name)
        if name in _CONTROL:
            return
        k = _KIND_ALIASES.get(str(kind).lower())
        if k is None:
            if str(kind).lower() == "control":
                return
            raise CarespiralError(
                f"node {name!r} has kind {kind!r}; expected one of {', '.join(NODE_KINDS)}"
            )
        nodes[name] = k
        if unit:
            units[name] = str(unit)

    if isinstance(raw_nodes, Mapping):
        for name, val in raw_nodes.items():
            if isinstance(val, str):
                add(name, val)
            else:
                add(name, _get(val, "kind"), _get(val, "units"))
    else:
        for item in raw_nodes:
            if isinstance(item, list | tuple):
                add(item[0], item[1], item[2] if len(item) > 2 else None)
            else:
                add(_get(item, "name"), _get(item, "kind"), _get(item, "units"))
    edges: list[tuple[str, str]] = []
    if isinstance(raw_edges, set | frozenset):  # unordered: sort so pictures are reproducible
        raw_edges = sorted(raw_edges, key=lambda e: tuple(map(str, e)) if isinstance(
            e, list | tuple) else (str(e),))
    for e in raw_edges:
        if isinstance(e, list | tuple):
            a, b = str(e[0]), str(e[1])
        else:
            a, b = str(_get(e, "source", "src", "cause")), str(_get(e, "target", "dst", "effect"))
        if a in nodes and b in nodes and (a, b) not in edges:
            edges.append((a, b))
    signs: dict[tuple[str, str], int | None] = {}
    raw_signs = _get(graph, "link_signs", "signs")
    if isinstance(raw_signs, Mapping):
        items = [(k[0], k[1], v) for k, v in raw_signs.items()]
    else:
        items = [tuple(x) for x in raw_signs or ()]
    for a, b, sign in items:
        if (str(a), str(b)) in edges:
            signs[(str(a), str(b))] = int(sign) if sign in (1, -1, 0) else None
    lps = loops if loops is not None else _get(graph, "loops")
    return Structure(nodes, edges, units, loops_from(lps) if lps else [], signs)


def loops_from(loops: Any) -> list[Loop]:
    """Loops from Loop objects, dicts, or a mapping name -> list of variables."""
    if not loops:
        return []
    out: list[Loop] = []
    items: Iterable[Any] = loops.items() if isinstance(loops, Mapping) else loops
    for item in items:
        if isinstance(item, Loop):
            out.append(item)
        elif isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
            out.append(Loop(item[0], tuple(str(v) for v in item[1])))
        else:
            name = _get(item, "name")
            variables = _get(item, "variables", "path", "cycle")
            if not name or not variables:
                raise CarespiralError(f"a loop needs a name and its variables, got {item!r}")
            out.append(
                Loop(
                    str(name),
                    tuple(str(v) for v in variables),
                    str(_get(item, "title", "label", "description") or ""),
                    str(_get(item, "polarity") or ""),
                )
            )
    return out


_INVENTORY_LINE = re.compile(
    r"^\s*(?P<name>[A-Za-z][\w.]*)\s*(?:\((?P<polarity>[a-z]+)\))?\s*(?P<title>[^:]*):"
    r"\s*(?P<path>.+->.+)$"
)


def loops_from_doc(path: str | Path) -> list[Loop]:
    """Loops from the ```loop-inventory block of a model's documentation (Markdown).

    Each line: `R1 (reinforcing) attrition spiral: A -> B -> C -> A` (the last name repeats the
    first). Raises FileFormatError naming the line when one cannot be read.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise FileFormatError(path, f"cannot read: {exc.strerror}") from None
    loops: list[Loop] = []
    inside = False
    for no, line in enumerate(lines, 1):
        if line.strip().startswith("```"):
            if inside:
                break
            inside = line.strip() == "```loop-inventory"
            continue
        if not inside or not line.strip():
            continue
        m = _INVENTORY_LINE.match(line)
        if not m:
            raise FileFormatError(path, "cannot read this loop", line=no,
                                  hint="expected 'R1 (reinforcing) name: A -> B -> A'")
        names = [v.strip() for v in m["path"].split("->")]
        if len(names) > 1 and names[-1] == names[0]:
            names = names[:-1]
        loops.append(Loop(m["name"], tuple(names), m["title"].strip(), m["polarity"] or ""))
    if not loops:
        raise FileFormatError(path, "no ```loop-inventory block with loops")
    return loops


@dataclass(frozen=True)
class Box:
    """A laid-out variable: centre (x, y), width and height in points, and its wrapped label."""

    x: float
    y: float
    width: float
    height: float
    label: str


LABEL_FONT = "Helvetica"  # Graphviz measures labels in this font; the figure draws them in it
LABEL_SIZE = 11.0  # points
WRAP = 16  # characters a label line


def wrap_label(name: str, width: int = WRAP) -> str:
    """A variable's name broken into short lines (joined by newlines) so boxes stay compact."""
    return "\n".join(textwrap.wrap(name, width)) or name


def layout(structure: Structure, names: Sequence[str], seed: int = 7) -> dict[str, Box]:
    """Boxes of `names` laid out by Graphviz (neato, stress majorization) without overlaps.

    Each variable is a box that fits its wrapped label at `LABEL_SIZE` points; neato places them
    so that linked variables sit close, and its `prism` overlap removal moves boxes apart until
    no two overlap, so no label covers another however dense the model. The result is in
    points, y upwards, with the drawing's lower-left corner at (0, 0). Deterministic (fixed seed).
    """
    import graphviz

    if not names:
        return {}
    ids = {nm: f"n{i}" for i, nm in enumerate(names)}
    g = graphviz.Digraph(engine="neato", graph_attr={
        "overlap": "prism", "sep": "+7", "mode": "major", "start": str(seed), "splines": "false",
        "outputorder": "edgesfirst"}, node_attr={
        "shape": "box", "fontsize": f"{LABEL_SIZE:g}", "fontname": LABEL_FONT,
        "margin": "0.06,0.03"})
    for nm in names:
        g.node(ids[nm], label=wrap_label(nm))
    for a, b in structure.edges:
        if a in ids and b in ids and a != b:
            g.edge(ids[a], ids[b])
    try:
        raw = json.loads(g.pipe(format="json0", encoding="utf-8"))
    except graphviz.ExecutableNotFound:
        raise CarespiralError(
            "the model picture is laid out by Graphviz, whose 'neato' program was not found; "
            "install Graphviz (Debian/Ubuntu: apt-get install graphviz; macOS: brew install "
            "graphviz) and run again"
        ) from None
    by_id = {v: k for k, v in ids.items()}
    out: dict[str, Box] = {}
    for obj in raw.get("objects", []):
        nm = by_id.get(obj.get("name", ""))
        if nm is None:
            continue
        x, y = (float(v) for v in obj["pos"].split(","))
        out[nm] = Box(x, y, float(obj["width"]) * 72, float(obj["height"]) * 72, wrap_label(nm))
    return out
