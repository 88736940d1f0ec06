"""A model's structure as the model report needs it: typed nodes, directed edges, named loops.

`structure_from` accepts the dependency graph from `carespiral.pysd_runner.graph` or any object
(or dict, e.g. read back from JSON) with `nodes` and `edges`, so the report depends on a small
shape and not on how the graph is built. `layout` places the nodes for drawing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from carespiral.errors import CarespiralError, FileFormatError

__all__ = ["NODE_KINDS", "Loop", "Structure", "layout", "loops_from", "structure_from"]

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

    def pipes(self) -> list[tuple[str, str]]:
        """Edges between a flow and a stock: the material pipes of the stock-flow diagram."""
        kinds = self.nodes
        return [
            (a, b)
            for a, b in self.edges
            if {kinds.get(a), kinds.get(b)} == {"flow", "stock"} and kinds.get(b) == "stock"
        ]

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
        out = Structure(dict(graph.nodes), list(graph.edges), dict(graph.units), list(graph.loops))
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
    for e in raw_edges:
        if isinstance(e, list | tuple):
            a, b = str(e[0]), str(e[1])
        else:
            a, b = str(_get(e, "source", "src", "cause")), str(_get(e, "target", "dst", "effect"))
        if a in nodes and b in nodes and (a, b) not in edges:
            edges.append((a, b))
    lps = loops if loops is not None else _get(graph, "loops")
    return Structure(nodes, edges, units, loops_from(lps) if lps else [])


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


def layout(structure: Structure, names: Sequence[str], seed: int = 7) -> dict[str, tuple[float, float]]:
    """Positions in [0, 1]^2 by a force-directed layout (Fruchterman & Reingold), deterministic.

    Stocks start on a circle and everything else near what it touches, so the picture keeps the
    stocks apart and puts flows and auxiliaries between the stocks they connect.
    """
    n = len(names)
    if n == 0:
        return {}
    if n == 1:
        return {names[0]: (0.5, 0.5)}
    index = {nm: i for i, nm in enumerate(names)}
    rng = np.random.default_rng(seed)
    pos = rng.uniform(-0.3, 0.3, size=(n, 2))
    stocks = [index[s] for s in names if structure.nodes.get(s) == "stock"]
    for j, i in enumerate(stocks):
        angle = 2 * np.pi * j / max(len(stocks), 1)
        pos[i] = (np.cos(angle), np.sin(angle))
    pairs = np.array(
        [(index[a], index[b]) for a, b in structure.edges if a in index and b in index and a != b],
        dtype=int,
    ).reshape(-1, 2)
    weight = np.ones(len(pairs))
    pipe_set = set(structure.pipes())
    for k, (a, b) in enumerate(pairs):
        if (names[a], names[b]) in pipe_set:
            weight[k] = 3.0  # flows sit close to their stocks
    k_opt = 1.0 / np.sqrt(n)
    temp = 0.15
    for _ in range(400):
        delta = pos[:, None, :] - pos[None, :, :]
        dist = np.sqrt((delta**2).sum(-1)) + 1e-9
        np.fill_diagonal(dist, np.inf)
        disp = ((k_opt**2 / dist**2)[:, :, None] * delta).sum(1)  # repulsion
        if len(pairs):
            d = pos[pairs[:, 0]] - pos[pairs[:, 1]]
            dl = np.sqrt((d**2).sum(-1)) + 1e-9
            f = (dl / k_opt * weight)[:, None] * d  # attraction along edges
            np.add.at(disp, pairs[:, 0], -f)
            np.add.at(disp, pairs[:, 1], f)
        length = np.sqrt((disp**2).sum(-1)) + 1e-9
        pos += disp / length[:, None] * np.minimum(length, temp)[:, None]
        temp *= 0.99
    lo, hi = pos.min(0), pos.max(0)
    span = np.where(hi - lo > 1e-9, hi - lo, 1.0)
    pos = (pos - lo) / span
    return {nm: (float(pos[i, 0]), float(pos[i, 1])) for nm, i in index.items()}
