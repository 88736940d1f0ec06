"""Loops over elements in the numba kernel of a subscripted model.

The lowering gives every element ("cell") of a subscripted variable its own node, and the numba
engine rewrites each node's equation into one scalar statement. A model of many cells then makes
a kernel of thousands of straight-line statements, which numba compiles in minutes. Yet the cells
one equation defines over a range run the same code, differing only in which cells they read.

Here the kernel keeps every value of a run in one array `W` (a slot per node) and the statements
of one step are grouped: two statements share a group when their code is the same once the nodes
they read and write are blanked out (their *template*) and they sit at the same depth of the
step's dependency graph (so no statement of a group reads another, and every group reads only
groups of smaller depth). A group is one loop over its members, `for e in range(n)`, reading
`W[IX[o + e]]` (an index table built at generation; `W[s + e]` where the slots are consecutive).
Each member still computes its own expression's floating-point operations in the same order, so
the numbers are those of the straight-line kernel and of the numpy engine.
"""

from __future__ import annotations

import ast
import copy
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["ArrayKernel", "template_groups"]


# a string literal (kept), a time input's row `TI[3` (numba) or a name not after a dot
_TOKEN = re.compile(r"""'[^']*'|"[^"]*"|(?<![.\w])TI\[(\d+)|(?<![.\w])([A-Za-z_]\w*)""")


class _Holes(ast.NodeTransformer):
    """Number the placeholders `__p<i>` (i: textual order) of a template in visiting order."""

    def __init__(self) -> None:
        self.order: list[int] = []  # visiting position -> textual position

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if not node.id.startswith("__p"):
            return node
        self.order.append(int(node.id[3:]))
        return ast.Name(f"__h{len(self.order) - 1}", ast.Load())


class _Fill(ast.NodeTransformer):
    def __init__(self, holes: dict[str, ast.expr]) -> None:
        self.holes = holes

    def visit_Name(self, node: ast.Name) -> ast.AST:
        return self.holes.get(node.id, node)


class _InW(ast.NodeTransformer):
    def __init__(self, kern: ArrayKernel) -> None:
        self.kern = kern

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id not in self.kern.wnames:
            return node
        return ast.Subscript(ast.Name("W", ast.Load()), ast.Constant(self.kern.place(node.id)),
                             node.ctx)


@dataclass
class _Stmt:
    target: str
    key: str
    tree: ast.expr
    holes: list[tuple[str, object]]


def _parse_all(stmts: Sequence[tuple[str, str]], wnames: set[str] | frozenset[str],
               rename: dict[str, str] | None = None) -> list[_Stmt]:
    """Each statement's template: its code with the names in `wnames` (and time input rows)
    blanked out as holes `__h0, __h1, ...` in visiting order, the other names in `rename`
    renamed. The blanking is textual, so each distinct text is parsed once (the cells of one
    equation share it), not once per cell; members share their template's tree (fill a copy).
    """
    rename = rename or {}
    shapes: dict[str, tuple[str, ast.expr, list[int]]] = {}
    out: list[_Stmt] = []
    values: list[tuple[str, object]] = []  # this statement's ("w", node) | ("t", input row)

    def blank(m: re.Match[str]) -> str:
        if m.group(1) is not None:
            values.append(("t", int(m.group(1))))
            return f"TI[__p{len(values) - 1}"
        name = m.group(2)
        if name is None:
            return m.group(0)
        if name in wnames:
            values.append(("w", name))
            return f"__p{len(values) - 1}"
        return rename.get(name, name)

    for target, code in stmts:
        values.clear()
        text = _TOKEN.sub(blank, code)
        shape = shapes.get(text)
        if shape is None:
            holes = _Holes()
            tree = holes.visit(ast.parse(text, mode="eval").body)
            shape = shapes[text] = (ast.dump(tree), tree, holes.order)
        key, tree, order = shape
        out.append(_Stmt(target, key, tree, [values[i] for i in order]))
    return out


def template_groups(stmts: Sequence[tuple[str, str]], wnames: set[str] | frozenset[str],
                    rename: dict[str, str] | None = None) -> list[tuple[int, list[_Stmt]]]:
    """The statements `target = code` (in dependency order) as groups of alike cells, each
    with its depth: one template (the code with the names in `wnames` blanked) and one depth
    of the statements' dependency graph, so no member reads another and each group reads only
    groups of smaller depth. Groups come by depth, those of one depth in order of first
    appearance. Both engines group this way (numba: one loop per group; numpy: one operation
    over the members' block)."""
    parsed = _parse_all(stmts, wnames, rename)
    targets = {s.target for s in parsed}
    depth: dict[str, int] = {}
    groups: dict[tuple[int, str], list[_Stmt]] = {}
    for s in parsed:
        reads = [v for k, v in s.holes if k == "w" and v in targets]
        depth[s.target] = 1 + max((depth[str(r)] for r in reads), default=-1)
        groups.setdefault((depth[s.target], s.key), []).append(s)
    return sorted(((d, members) for (d, _), members in groups.items()), key=lambda g: g[0])


@dataclass
class ArrayKernel:
    """Slots of every node of a run in `W`, the index table `IX`, and the emitted loops."""

    consts: Sequence[str]  # W[0 : len(consts)], loaded from C[i, :]
    states: Sequence[str]  # the next slots, loaded from S[i, :]
    wnames: frozenset[str] = frozenset()
    slot: dict[str, int] = field(default_factory=dict)
    ix: list[int] = field(default_factory=list)
    loops: int = 0  # how many loops were emitted (a measure for tests and reports)

    def __post_init__(self) -> None:
        for name in [*self.consts, *self.states]:
            self.slot.setdefault(name, len(self.slot))

    @property
    def size(self) -> int:
        return len(self.slot)

    def place(self, name: str) -> int:
        if name not in self.slot:
            self.slot[name] = len(self.slot)
        return self.slot[name]

    def _index(self, values: Sequence[int], var: str = "e") -> str:
        """The slot (or input row) of the group's element `var`, from the members' values."""
        if all(v == values[0] for v in values):
            return str(values[0])
        if all(v == values[0] + e for e, v in enumerate(values)):
            return f"{values[0]} + {var}" if values[0] else var
        off = len(self.ix)
        self.ix.extend(int(v) for v in values)
        return f"IX[{off} + {var}]" if off else f"IX[{var}]"

    def block(self, stmts: Sequence[tuple[str, str]], indent: str) -> list[str]:
        """The statements `target = code` (in dependency order) as loops and single lines."""
        # groups of one depth are independent of each other: those of the same size share one
        # loop (fewer loops, faster to compile)
        by_size: dict[tuple[int, int], list[list[_Stmt]]] = {}
        for d, members in template_groups(stmts, self.wnames):
            by_size.setdefault((d, len(members)), []).append(members)
        lines: list[str] = []
        for (_, n), fused in sorted(by_size.items(), key=lambda kv: kv[0][0]):
            body: list[str] = []
            for members in fused:
                for m in members:
                    self.place(m.target)
                body += self._emit(members, indent + ("    " if n > 1 else ""))
            if n > 1:
                self.loops += 1
                lines.append(f"{indent}for e in range({n}):")
            lines += body
        return lines

    def _emit(self, members: list[_Stmt], indent: str) -> list[str]:
        n = len(members)
        holes: dict[str, ast.expr] = {}
        for h, (kind, _) in enumerate(members[0].holes):
            values = [m.holes[h][1] for m in members]
            if kind == "w":
                at = self._index([self.place(str(v)) for v in values]) if n > 1 else \
                    str(self.place(str(values[0])))
                holes[f"__h{h}"] = ast.parse(f"W[{at}]", mode="eval").body
            else:
                at = self._index([int(v) for v in values]) if n > 1 else str(values[0])  # type: ignore[call-overload]
                holes[f"__h{h}"] = ast.parse(at, mode="eval").body
        body = ast.unparse(_Fill(holes).visit(copy.deepcopy(members[0].tree)))
        if n == 1:
            return [f"{indent}W[{self.slot[members[0].target]}] = {body}"]
        tgt = self._index([self.slot[m.target] for m in members])
        return [f"{indent}W[{tgt}] = {body}"]

    def statement(self, code: str, indent: str) -> str:
        """One statement (an update `a = b`, a pipe's push) with its nodes read from `W`."""
        return indent + ast.unparse(_InW(self).visit(ast.parse(code)))

    def euler(self, pairs: Sequence[tuple[str, str]], indent: str) -> list[str]:
        """`x = x + ddt * dt` for every (state, derivative), as one loop."""
        if not pairs:
            return []
        if len(pairs) == 1:
            s, d = pairs[0]
            return [f"{indent}W[{self.place(s)}] = W[{self.place(s)}] + W[{self.place(d)}] * dt"]
        self.loops += 1
        s = self._index([self.place(p[0]) for p in pairs])
        d = self._index([self.place(p[1]) for p in pairs])
        return [f"{indent}for e in range({len(pairs)}):",
                f"{indent}    W[{s}] = W[{s}] + W[{d}] * dt"]

    def gather(self, names: Sequence[str], dest: str, indent: str) -> list[str]:
        """`dest[j, i] = W[slot of names[j]]` for every j, as one loop."""
        if not names:
            return []
        at = self._index([self.place(n) for n in names], "j")
        return [f"{indent}for j in range({len(names)}):", f"{indent}    {dest}[j, i] = W[{at}]"]
