"""A model's causal dependency graph, read from PySD's translated abstract model.

Every variable is a node typed stock, flow, auxiliary, constant, lookup, stateful (SMOOTH/DELAY
family) or control; an edge `a -> b` means `b`'s equation uses `a`. Initial-value expressions are
left out on purpose: they are not feedback, and including them would invent loops. The graph is
what the loop inventory of a model's documentation is checked against, so the docs fail the build
when the model changes under them.

Each edge also carries a polarity read from the equation's syntax: +1 if `b` rises with `a`, -1 if
it falls, None if the syntax does not settle it (a non-monotone lookup, IF THEN ELSE, a variable
entering with both signs). The reading assumes every variable is non-negative, as quantities in a
stock-and-flow model are, so that a/b falls with b and a product rises with each factor.

    >>> g = dependency_graph("models/collapse_spiral.mdl")
    >>> g.is_cycle(["Burnout", "Effect of Burnout on Leaving", "Leaving", "Social Workers", ...])
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from carespiral.errors import UnknownNameError
from carespiral.pysd_runner.abstract import abstract_model
from carespiral.pysd_runner.names import normalise

__all__ = ["Graph", "Node", "NodeKind", "dependency_graph"]

Polarity = Literal["reinforcing", "balancing"]

# lookup: a table function of its input (a standalone lookup or a WITH LOOKUP variable)
NodeKind = Literal["stock", "flow", "auxiliary", "constant", "lookup", "stateful", "control"]

CONTROL_NAMES = frozenset({"INITIAL TIME", "FINAL TIME", "TIME STEP", "SAVEPER"})
# Fields of PySD's structures that hold initial values, not causal inputs.
_INITIAL_FIELDS = frozenset({"initial"})


@dataclass(frozen=True)
class Node:
    """One variable: Vensim name, PySD Python name, kind and units."""

    name: str
    py_name: str
    kind: NodeKind
    units: str = ""


@dataclass(frozen=True)
class Graph:
    """Nodes by Vensim name and directed edges (cause, effect)."""

    nodes: dict[str, Node]
    edges: frozenset[tuple[str, str]]
    link_signs: dict[tuple[str, str], int | None] = dataclasses.field(default_factory=dict)

    def resolve(self, name: str) -> str:
        """The Vensim name of `name` (Vensim or Python name, any case); UnknownNameError if none."""
        if name in self.nodes:
            return name
        key = normalise(name)
        for node in self.nodes.values():
            if key in (normalise(node.name), normalise(node.py_name)):
                return node.name
        raise UnknownNameError("variable", name, self.nodes)

    def successors(self, name: str) -> list[str]:
        name = self.resolve(name)
        return sorted(b for a, b in self.edges if a == name)

    def predecessors(self, name: str) -> list[str]:
        name = self.resolve(name)
        return sorted(a for a, b in self.edges if b == name)

    def of_kind(self, kind: NodeKind) -> list[str]:
        return sorted(n for n, node in self.nodes.items() if node.kind == kind)

    def missing_links(self, loop: Sequence[str]) -> list[tuple[str, str]]:
        """The links of a closed loop (last back to first) that are not edges of the graph."""
        names = [self.resolve(n) for n in loop]
        if not names:
            return []
        pairs = zip(names, names[1:] + names[:1], strict=True)
        return [(a, b) for a, b in pairs if (a, b) not in self.edges]

    def is_cycle(self, loop: Sequence[str]) -> bool:
        """True if each variable drives the next and the last drives the first, with no repeats."""
        names = [self.resolve(n) for n in loop]
        return bool(names) and len(set(names)) == len(names) and not self.missing_links(names)

    def loop_polarity(self, loop: Sequence[str]) -> Polarity | None:
        """Reinforcing or balancing from the product of the link signs; None if a sign is unknown."""
        names = [self.resolve(n) for n in loop]
        if not self.is_cycle(names):
            raise ValueError(f"not a loop of the model: {self.missing_links(names)} are not links")
        product = 1
        for link in zip(names, names[1:] + names[:1], strict=True):
            sign = self.link_signs.get(link)
            if sign is None:
                return None
            product *= sign
        return "reinforcing" if product > 0 else "balancing"

    def find_cycle(self, through: str) -> list[str] | None:
        """A shortest feedback loop through `through` (as a list of names), or None."""
        start = self.resolve(through)
        succ = self._successor_map()
        parent: dict[str, str] = {}
        queue = deque([start])
        seen = {start}
        while queue:
            node = queue.popleft()
            for nxt in succ.get(node, ()):
                if nxt == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parent[path[-1]])
                    return path[::-1]
                if nxt not in seen:
                    seen.add(nxt)
                    parent[nxt] = node
                    queue.append(nxt)
        return None

    def _successor_map(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for a, b in sorted(self.edges):
            out.setdefault(a, []).append(b)
        return out


def dependency_graph(mdl_path: str | Path) -> Graph:
    """The dependency graph of a `.mdl` (or XMILE) file, from PySD's abstract model."""
    from pysd.translators.structures import abstract_expressions as ae

    am = abstract_model(Path(mdl_path))  # one parse per file version, shared with translation

    elements = [el for section in am.sections for el in section.elements]
    py_name = _python_names([el.name for el in elements])
    py_of = {py: name for name, py in py_name.items()}
    stock_flows: dict[str, set[str]] = {}
    inputs: dict[str, set[str]] = {}
    kinds: dict[str, NodeKind] = {}
    asts: dict[str, list] = {el.name: [c.ast for c in el.components] for el in elements}
    for el in elements:
        refs: set[str] = set()
        kind: NodeKind = "auxiliary"
        for comp in el.components:
            ast = comp.ast
            refs |= _references(ast, ae)
            if isinstance(ast, ae.IntegStructure):
                kind = "stock"
                stock_flows[el.name] = _top_level_terms(ast.flow, ae)
            elif isinstance(ast, ae.LookupsStructure | ae.InlineLookupsStructure):
                kind = "lookup"
            elif isinstance(ast, int | float):
                kind = "constant"
            elif dataclasses.is_dataclass(ast) and type(ast).__name__ in _STATEFUL:
                kind = "stateful"
        if el.name in CONTROL_NAMES:
            kind = "control"
        kinds[el.name] = kind
        # references to functions and builtins (Time) are not variables of the model
        inputs[el.name] = {py_of[r] for r in refs if r in py_of}

    flows = {py_of[t] for terms in stock_flows.values() for t in terms if t in py_of}
    nodes = {}
    for el in elements:
        kind = kinds[el.name]
        if kind == "auxiliary" and el.name in flows:
            kind = "flow"
        nodes[el.name] = Node(el.name, py_name[el.name], kind, str(el.units or ""))
    edges = frozenset((src, dst) for dst, srcs in inputs.items() for src in srcs)
    signs = {(src, dst): _combine(_sign(a, py_name[src], ae) for a in asts[dst]) for src, dst in edges}
    return Graph(nodes=nodes, edges=edges, link_signs=signs)


_STATEFUL = frozenset({
    "SmoothStructure", "SmoothNStructure", "DelayStructure", "DelayNStructure",
    "DelayFixedStructure", "TrendStructure", "ForecastStructure", "SampleIfTrueStructure",
    "InitialStructure",
})


def _references(ast: object, ae) -> set[str]:
    """Python names referenced by an expression, skipping function names and initial values."""
    out: set[str] = set()
    stack = [ast]
    while stack:
        node = stack.pop()
        if isinstance(node, ae.ReferenceStructure):
            out.add(node.reference)
        elif isinstance(node, ae.CallStructure):
            stack.extend(node.arguments)  # node.function names the function, not a variable
        elif isinstance(node, ae.IntegStructure):
            stack.append(node.flow)
        elif dataclasses.is_dataclass(node) and not isinstance(node, type):
            for f in dataclasses.fields(node):
                if f.name not in _INITIAL_FIELDS:
                    stack.append(getattr(node, f.name))
        elif isinstance(node, list | tuple):
            stack.extend(node)
    return out


def _combine(signs: Iterable[int | None]) -> int | None:
    """One sign from several places a variable enters: 0 if none, None if they disagree."""
    found = set(signs) - {0}
    if not found:
        return 0
    if len(found) == 1:
        return found.pop()
    return None


def _times(sign: int | None, factor: int) -> int | None:
    return None if sign is None else sign * factor


def _sign(node: object, x: str, ae) -> int | None:
    """How `node` moves when variable `x` rises: +1, -1, 0 (not at all) or None (unknown)."""
    if isinstance(node, ae.ReferenceStructure):
        return 1 if node.reference == x else 0
    if not dataclasses.is_dataclass(node) or isinstance(node, type):
        return 0  # numbers and other literals
    if x not in _references(node, ae):
        return 0
    if isinstance(node, ae.ArithmeticStructure):
        ops, args = list(node.operators), list(node.arguments)
        if ops == ["negative"]:
            return _times(_sign(args[0], x, ae), -1)
        if "^" in ops:
            return _sign(args[0], x, ae) if _sign(args[1], x, ae) == 0 else None
        # ops[i - 1] sits before args[i]; subtracted terms and divisors count against
        return _combine(_times(_sign(a, x, ae), -1 if i and ops[i - 1] in "-/" else 1)
                        for i, a in enumerate(args))
    if isinstance(node, ae.CallStructure):
        fn = node.function.reference if isinstance(node.function, ae.ReferenceStructure) else ""
        args = list(node.arguments)
        if fn in ("min", "max"):
            return _combine(_sign(a, x, ae) for a in args)
        if fn in ("zidz", "xidz"):
            if _is_share(args[0], args[1], ae):  # rises with its own part, falls with the rest
                own = _sign(args[0], x, ae)
                return own if own != 0 else _times(_sign(args[1], x, ae), -1)
            return _combine([_sign(args[0], x, ae), _times(_sign(args[1], x, ae), -1),
                             *(_sign(a, x, ae) for a in args[2:])])
        return None
    if isinstance(node, ae.InlineLookupsStructure):
        return _times(_sign(node.argument, x, ae), _monotone(node.lookups.y))
    if isinstance(node, ae.IntegStructure):
        return _sign(node.flow, x, ae)
    if hasattr(node, "input") and type(node).__name__ in _STATEFUL:
        others = [getattr(node, f.name) for f in dataclasses.fields(node)
                  if f.name not in ("input", *_INITIAL_FIELDS)]
        if any(_sign(o, x, ae) != 0 for o in others):
            return None
        return _sign(node.input, x, ae)
    return None


def _is_share(num: object, den: object, ae) -> bool:
    """num / (num + others): a share of a total, which rises with num though num is in both."""
    return (isinstance(den, ae.ArithmeticStructure) and set(den.operators) == {"+"}
            and num in den.arguments)


def _monotone(ys: Sequence[float]) -> int | None:
    steps = [b - a for a, b in itertools.pairwise(ys)]
    if all(d >= 0 for d in steps):
        return 1
    if all(d <= 0 for d in steps):
        return -1
    return None


def _top_level_terms(flow: object, ae) -> set[str]:
    """Variables added or subtracted directly in a stock's net flow: the stock's named flows.

    A rate written inline, such as (Target - Stock) / Time, has no named flow.
    """
    if isinstance(flow, ae.ReferenceStructure):
        return {flow.reference}
    if isinstance(flow, ae.ArithmeticStructure) and set(flow.operators) <= {"+", "-"}:
        out: set[str] = set()
        for arg in flow.arguments:
            out |= _top_level_terms(arg, ae)
        return out
    if isinstance(flow, ae.LogicStructure | ae.ArithmeticStructure) and flow.operators == ["negative"]:
        return _top_level_terms(flow.arguments[0], ae)
    return set()


def _python_names(names: Sequence[str]) -> dict[str, str]:
    """PySD's Python names for Vensim names, made the way PySD's builder makes them."""
    from pysd.builders.python.namespace import NamespaceManager

    ns = NamespaceManager()
    for name in names:
        ns.add_to_namespace(name)
    return {name: ns.namespace[name] for name in names}

