"""Vensim subscripts for the batch backend: ranges, subranges, mappings and cell bindings.

The batch backend gives every element ("cell") of a subscripted variable its own node: a
variable `Stock[Region, Age]` becomes the nodes `Stock[North,Young]`, `Stock[North,Old]`, ...,
each an array over runs. An equation defined over ranges is lowered once per cell, with each
range on its left-hand side *bound* to that cell's element. A reference on the right-hand side
then names one cell: a range is read from the binding, directly (same range), through a subrange
or parent of the same dimension (same element), or through a mapping (same position); a range
marked `!` is bound by the vector function (SUM, VMAX, ...) that iterates over it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = ["Binding", "Subscripts", "cell_name"]


def _key(name: str) -> str:
    return " ".join(name.lower().replace("_", " ").split())


def _read_range(spec: dict) -> list[str]:
    """Elements read from a file by PySD's reader; the file was resolved under the external
    file rule (`pysd_runner.externals.find_externals`) before lowering."""
    from pathlib import Path

    from pysd.py_backend.external import ExtSubscript

    file = Path(str(spec["file"]))
    ext = ExtSubscript(file.name, str(spec["tab"]), str(spec["firstcell"]),
                       str(spec["lastcell"]), str(spec.get("prefix") or ""), file.parent)
    return [str(e) for e in ext.subscript]


def cell_name(name: str, cell: Sequence[str]) -> str:
    """The Vensim name of one cell: `Stock[North,Young]` (just `Stock` without subscripts)."""
    return f"{name}[{','.join(cell)}]" if cell else name


@dataclass(frozen=True)
class Binding:
    """The elements bound while lowering one cell: left-hand side positions and `!` ranges."""

    lhs: tuple[tuple[str, str], ...] = ()  # (range or element as written, element)
    bang: tuple[tuple[str, str], ...] = ()  # (range without "!", element)

    def with_bang(self, rng: str, element: str) -> Binding:
        return Binding(self.lhs, ((rng, element), *self.bang))

    def with_lhs(self, rng: str, element: str, same: object) -> Binding:
        """The binding with the left-hand side positions of range `rng` bound to `element`
        (`same(a, b)` compares range names), or `rng` added as iterated when it has none."""
        lhs = tuple((s, element) if same(s, rng) else (s, e) for s, e in self.lhs)
        if lhs == self.lhs and not any(same(s, rng) for s, _ in self.lhs):
            return self.with_bang(rng, element)
        return Binding(lhs, self.bang)


@dataclass
class Subscripts:
    """The model's subscript ranges (name -> elements) with their mappings."""

    ranges: dict[str, list[str]] = field(default_factory=dict)
    maps: dict[str, list[str]] = field(default_factory=dict)  # range -> ranges it maps to
    copies: dict[str, str] = field(default_factory=dict)  # copy -> original (A <-> B)
    _lower: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_abstract(cls, ranges: Iterable[object]) -> Subscripts:
        """From PySD's `AbstractSubscriptRange`s (copies refer to an earlier or later range)."""
        sub = cls()
        pending: dict[str, str] = {}
        for r in ranges:
            name = r.name  # type: ignore[attr-defined]
            elems = r.subscripts  # type: ignore[attr-defined]
            if isinstance(elems, str):
                pending[name] = elems
            elif isinstance(elems, list):
                sub.ranges[name] = [str(e) for e in elems]
            elif isinstance(elems, dict) and "file" in elems:
                sub.ranges[name] = _read_range(elems)  # GET DIRECT/XLS SUBSCRIPT
            else:
                raise ValueError(f"subscript range {name!r} read from a file")
            maps = []
            for m in r.mapping or []:  # type: ignore[attr-defined]
                if not isinstance(m, str):
                    raise ValueError(f"subscript range {name!r} has an element-wise mapping")
                maps.append(m)
            sub.maps[name] = maps
        for name, orig in pending.items():
            sub.ranges[name] = list(sub.ranges[orig])
            sub.copies[name] = orig

        def flat(name: str, seen: tuple[str, ...]) -> list[str]:
            # a range may list other ranges among its elements: `dim: A, subdim1, B`
            out: list[str] = []
            for e in sub.ranges[name]:
                if e in sub.ranges and e not in seen:
                    out.extend(flat(e, (*seen, e)))
                else:
                    out.append(e)
            return out

        sub.ranges = {name: flat(name, (name,)) for name in sub.ranges}
        sub._lower = {_key(k): k for k in sub.ranges}
        return sub

    def range_name(self, name: str) -> str | None:
        """The range called `name` (case, spaces and underscores ignored), or None."""
        return self._lower.get(_key(name.rstrip("!")))

    def element(self, name: str) -> str | None:
        """The element called `name` (case, spaces and underscores ignored), or None."""
        key = _key(name)
        for elems in self.ranges.values():
            for e in elems:
                if _key(e) == key:
                    return e
        return None

    def position(self, element: str) -> int:
        """An element read as a number: its position (from 1) in the first range declaring it,
        so the same element has the same number in every range (as Vensim compares them)."""
        for elems in self.ranges.values():
            if element in elems:
                return elems.index(element) + 1
        raise KeyError(element)

    def family(self, rng: str) -> str:
        """The dimension a range belongs to: the first largest range holding all its elements
        (a copy `A <-> B` is a dimension of its own)."""
        if rng in self.copies:
            return rng
        elems = set(self.ranges[rng])
        best = rng
        for name, other in self.ranges.items():
            if name in self.copies:
                continue
            if elems <= set(other) and len(other) > len(self.ranges[best]):
                best = name
        return best

    def expand(self, subs: Sequence[str]) -> list[tuple[str, ...]]:
        """Every cell of a left-hand side like `[Region, Young]`, in row-major order."""
        return list(itertools.product(*(self.elements_of(s) for s in subs)))

    def elements_of(self, s: str) -> list[str]:
        r = self.range_name(s)
        return list(self.ranges[r]) if r else [s]

    def bindings(self, subs: Sequence[str]) -> list[tuple[tuple[str, ...], Binding]]:
        cells = self.expand(subs)
        return [(cell, Binding(tuple(zip(subs, cell, strict=True)))) for cell in cells]

    def _mapped(self, a: str, b: str) -> bool:
        """Whether range `a` maps to `b` or `b` to `a` (declared `->`, or a copy `<->`)."""
        return (b in self.maps.get(a, []) or a in self.maps.get(b, [])
                or self.copies.get(a) == b or self.copies.get(b) == a)

    def resolve(self, sub: str, bind: Binding) -> str:
        """The element a subscript of a reference stands for under `bind` (KeyError if none)."""
        rng = self.range_name(sub)
        if rng is None:
            return sub  # an element
        if sub.endswith("!"):  # a range iterated by an enclosing vector function
            for r, e in bind.bang:
                if r == rng:
                    return e
            raise KeyError(sub)
        lhs = [(self.range_name(s), e) for s, e in bind.lhs]
        for r, e in lhs:  # the same range
            if r == rng:
                return e
        for r, e in bind.bang:  # a range iterated by a vector function, named without "!"
            if r == rng:
                return e
        for r, e in lhs:  # a mapping or copy: the element at the same position
            if r is not None and self._mapped(rng, r):
                pos = self.ranges[r].index(e)
                if pos < len(self.ranges[rng]):
                    return self.ranges[rng][pos]
        fam = self.family(rng)
        for r, e in lhs:  # a subrange or parent of the same dimension: the same element
            if r is not None and self.family(r) == fam and e in self.ranges[rng]:
                return e
        for r, e in lhs:  # an element on the left-hand side that belongs to the range
            if r is None and e in self.ranges[rng]:
                return e
        raise KeyError(sub)

    def free(self, subs: Sequence[str], bind: Binding) -> list[str]:
        """Ranges of a reference that `bind` does not give an element for."""
        out = []
        for s in subs:
            try:
                self.resolve(s, bind)
            except KeyError:
                out.append(self.range_name(s) or s)
        return out
