"""Vensim's INVERT MATRIX, lowered to elementwise equations.

`INVERT MATRIX(m[..., row, col], n)` inverts the matrix of the last two subscripts. Each cell of
the matrix is its own node (see `subscripts`), so the inverse is written as the adjugate over
the determinant: every minor is a hidden node made once (expanded along its first row, so a
minor is reused by every larger minor and every cofactor that contains it) and each cell of the
inverse reads its cofactor and the determinant. A singular matrix gives infinities or NaN (PySD
stops with numpy's error); numbers are exact algebra, without pivoting, which is accurate for the
small matrices a model inverts (up to `MAX_SIZE`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from carespiral.pysd_runner.batch.expressions import _Lowerer

__all__ = ["MAX_SIZE", "lower_invert_matrix"]

MAX_SIZE = 6  # the minors of an n x n matrix number about n^2 2^n


def lower_invert_matrix(low: _Lowerer, args: tuple, deps: set[str]) -> str:
    from carespiral.pysd_runner.batch.program import Aux
    from carespiral.pysd_runner.batch.vectors import _terms

    if len(args) not in (1, 2):
        raise low.refuse(f"INVERT MATRIX with {len(args)} arguments")
    arg = args[0]
    subs = list(getattr(getattr(arg, "subscripts", None), "subscripts", None) or [])
    if len(subs) < 2:
        raise low.refuse("INVERT MATRIX of something that is not a matrix (two subscripts)")
    rows, cols = (low.subs.range_name(s) for s in subs[-2:])
    if rows is None or cols is None or rows == cols:
        raise low.refuse("INVERT MATRIX whose last two subscripts are not two ranges")
    n = len(low.subs.ranges[rows])
    if len(low.subs.ranges[cols]) != n:
        raise low.refuse("INVERT MATRIX of a matrix that is not square")
    if n > MAX_SIZE:
        raise low.refuse(f"INVERT MATRIX of a {n} x {n} matrix",
                         f"the batch backend inverts matrices up to {MAX_SIZE} x {MAX_SIZE}")
    i = low.subs.ranges[rows].index(low.subs.resolve(subs[-2], low.bind))
    j = low.subs.ranges[cols].index(low.subs.resolve(subs[-1], low.bind))
    d: set[str] = set()
    cells = _terms(low, arg, d, [rows, cols], rebind=True)  # row-major
    deps |= d
    key = ("invert", *cells)
    if key not in low.vector_solutions:
        m = [cells[r * n:(r + 1) * n] for r in range(n)]
        minors: dict[tuple[tuple[int, ...], tuple[int, ...]], str] = {}

        def det(rs: tuple[int, ...], cs: tuple[int, ...]) -> str:
            """The determinant of m[rs, cs] (a node, or the cell when 1 x 1)."""
            if len(rs) == 1:
                return m[rs[0]][cs[0]]
            if (rs, cs) not in minors:
                code, reads = "", set(d)
                for k, c in enumerate(cs):  # Laplace along the first row
                    sub = det(rs[1:], cs[:k] + cs[k + 1:])
                    reads.add(sub)
                    code += f" {'-' if k % 2 else '+'} ({m[rs[0]][c]} * {sub})" if code \
                        else f"({m[rs[0]][c]} * {sub})"
                nid = low.hidden("minor")
                low.aux[nid] = Aux(nid, f"({code})", reads)
                minors[(rs, cs)] = nid
            return minors[(rs, cs)]

        full = tuple(range(n))
        whole = det(full, full) if n > 1 else m[0][0]
        out = []
        for r in range(n):
            for c in range(n):
                if n == 1:
                    code, reads = f"(1.0 / {whole})", set(d)
                else:  # inverse[r][c] = cofactor[c][r] / det
                    cof = det(full[:c] + full[c + 1:], full[:r] + full[r + 1:])
                    sign = "-" if (r + c) % 2 else ""
                    code, reads = f"({sign}{cof} / {whole})", {*d, cof, whole}
                nid = low.hidden("inverse")
                low.aux[nid] = Aux(nid, code, reads)
                out.append(nid)
        low.vector_solutions[key] = out
    nodes = low.vector_solutions[key]
    deps.update(nodes)
    return nodes[i * n + j]
