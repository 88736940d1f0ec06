"""The JavaScript twins of the batch backend's RANDOM streams (`random_streams`).

A draw is a function of (seed, run position, call site, step) only: the SplitMix64 finaliser
hashes them into 53 bits, a number u in (0, 1), which a distribution's inverse CDF maps to the
draw. JavaScript has no 64-bit integers in its numbers, so each 64-bit word is kept as two
unsigned 32-bit halves and the products are built from 16-bit pieces, all exact in doubles: the
bits of u are the Python function's, bit for bit (BigInt would give the same bits, many times
slower). The inverse normal's polynomials (AS241) are written here from `random_streams`' own
functions, term by term, so they are the same operations on the same constants. `erfc` (the
truncated normal's bounds) is a series below 2 and a continued fraction above, within about
1e-14 of scipy's. The functions take the call site as its two halves (`site_halves`), since a
site number does not fit in a double.
"""

from __future__ import annotations

import ast
import inspect

from carespiral.pysd_runner.batch import random_streams as rs

__all__ = ["JS_RANDOM", "RANDOM_CALLS", "RANDOM_NAMES", "site_halves"]

# the numpy runtime's RANDOM functions -> their JavaScript twins (a `$` local of the model)
RANDOM_CALLS = {"rt.random_0_1": "random01", "rt.random_uniform": "randomUniform",
                "rt.random_normal": "randomNormal",
                "rt.random_exponential": "randomExponential"}
RANDOM_NAMES = ("unit", "random01", "randomUniform", "randomNormal", "randomExponential",
                "erfc", "ndtri")


def site_halves(site: int) -> tuple[int, int]:
    """A call site's 64-bit number as its (high, low) unsigned 32-bit halves."""
    if not 0 <= site < 2 ** 64:
        raise ValueError(f"a call site must be a 64-bit unsigned number, got {site}")
    return site >> 32, site & 0xFFFFFFFF


def _halves_js(name: str, value: int) -> str:
    hi, lo = site_halves(value)
    return f"var {name}_HI = {hi:#010x}, {name}_LO = {lo:#010x};"


def _poly_js(func) -> str:
    """One of `random_streams`' AS241 polynomials as a JavaScript function, term by term."""
    tree = ast.parse(inspect.getsource(func)).body[0]
    if not isinstance(tree, ast.FunctionDef):
        raise ValueError(f"random_streams.{func.__name__} is not a plain function")
    arg = tree.args.args[0].arg
    lines = [f"function {tree.name}({arg}) {{"]

    def expr(n: ast.AST) -> str:
        if isinstance(n, ast.Constant) and isinstance(n.value, float):
            return repr(n.value)
        if isinstance(n, ast.Name):
            return n.id
        ops = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
        if isinstance(n, ast.BinOp) and type(n.op) in ops:
            return f"({expr(n.left)} {ops[type(n.op)]} {expr(n.right)})"
        raise ValueError(f"random_streams.{tree.name}: {ast.unparse(n)} has no JavaScript form")

    for stmt in tree.body:
        if isinstance(stmt, ast.Expr):  # the docstring
            continue
        if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name):
            name = stmt.targets[0].id
            lines.append(f"  {'' if name == arg else 'var '}{name} = {expr(stmt.value)};")
        elif isinstance(stmt, ast.Return) and stmt.value is not None:
            lines.append(f"  return {expr(stmt.value)};")
        else:
            raise ValueError(f"random_streams.{tree.name}: a statement with no JavaScript form")
    lines.append("}")
    return "\n".join(lines)


_WORDS = "\n".join(_halves_js(n, v) for n, v in (("GOLDEN", rs.GOLDEN), ("MIX1", rs.MIX1),
                                                 ("MIX2", rs.MIX2)))
_POLYS = "\n".join(_poly_js(f) for f in (rs.ndtri_central, rs.ndtri_near, rs.ndtri_far))

JS_RANDOM = r"""
(function () {
  "use strict";
  var TWO32 = 4294967296, TWO16 = 65536;
  var UNIT = """ + repr(rs.UNIT) + """, SMALL = """ + repr(rs.SMALL_VENSIM) + """;
""" + _WORDS + "\n" + _POLYS + r"""
  // 64-bit words are (high, low) halves; the operations leave their result in H, L
  var H = 0, L = 0;
  function add(ah, al, bh, bl) {
    var lo = al + bl, c = lo >= TWO32 ? 1 : 0;
    L = lo - c * TWO32;
    H = (ah + bh + c) >>> 0;
  }
  function mul(ah, al, bh, bl) {  // the product modulo 2^64
    var a0 = al & 0xFFFF, a1 = al >>> 16, b0 = bl & 0xFFFF, b1 = bl >>> 16;
    var mid = a0 * b1 + a1 * b0;  // below 2^33: exact
    var low = a0 * b0 + (mid & 0xFFFF) * TWO16;  // the low 32 bits of al * bl, and a carry
    var lo = low >>> 0;  // ToUint32 of a whole number: modulo 2^32
    var hi = a1 * b1 + (mid - (mid & 0xFFFF)) / TWO16 + (low - lo) / TWO32;
    H = (hi + Math.imul(ah, bl) + Math.imul(al, bh)) >>> 0;  // ToUint32: modulo 2^32
    L = lo;
  }
  function mix(h, l) {  // SplitMix64's finaliser
    l = (l ^ ((l >>> 30) | (h << 2))) >>> 0; h = (h ^ (h >>> 30)) >>> 0;
    mul(h, l, MIX1_HI, MIX1_LO); h = H; l = L;
    l = (l ^ ((l >>> 27) | (h << 5))) >>> 0; h = (h ^ (h >>> 27)) >>> 0;
    mul(h, l, MIX2_HI, MIX2_LO); h = H; l = L;
    L = (l ^ ((l >>> 31) | (h << 1))) >>> 0; H = (h ^ (h >>> 31)) >>> 0;
  }
  // u in (0, 1) from (seed, run position, call site, step); seed and run are whole numbers
  // below 2^53 (exact doubles), as the batch gives them
  function unit(seed, run, siteHi, siteLo, k) {
    var sh = Math.floor(seed / TWO32), rh = Math.floor(run / TWO32);
    add(sh, seed - sh * TWO32, GOLDEN_HI, GOLDEN_LO);
    mix(H, L);
    mix((H ^ rh) >>> 0, (L ^ (run - rh * TWO32)) >>> 0);
    mix((H ^ siteHi) >>> 0, (L ^ siteLo) >>> 0);
    var h = H, l = L, k1 = k + 1, kh = Math.floor(k1 / TWO32);
    mul(kh, k1 - kh * TWO32, GOLDEN_HI, GOLDEN_LO);
    add(h, l, H, L);
    mix(H, L);
    return (H * 2097152 + (L >>> 11) + 0.5) * UNIT;  // (h >> 11) + 0.5, then exact scaling
  }

  function min(a, b) { return (a < b || a !== a) ? a : b; }  // np.minimum: NaN wins
  function max(a, b) { return (a > b || a !== a) ? a : b; }
  function xidz(a, b, x) { return (Math.abs(b) < SMALL) ? x : a / b; }
  function ndtri(p) {
    var q = p - 0.5;
    if (Math.abs(q) <= 0.425) return ndtri_central(q);
    var tail = Math.sqrt(-Math.log(q < 0 ? p : 1.0 - p));
    var val = tail <= 5.0 ? ndtri_near(tail) : ndtri_far(tail);
    return q < 0 ? -val : val;
  }
  // erfc: 1 - erf by erf's series of positive terms below 2 (erfc >= 0.0046 there, so the
  // subtraction keeps 13 digits and more), Laplace's continued fraction (modified Lentz) above
  var RSQRTPI = 0.5641895835477563, MAXLOG = 709.782712893384;  // 1 / sqrt(pi), log(max)
  function erfc(x) {
    if (x !== x) return x;
    if (x < 0) return 2.0 - erfc(-x);
    if (x < 2.0) {
      var x2 = 2.0 * x * x, term = x, sum = x;
      for (var n = 1; n < 200 && term > 1e-17 * sum; n++) {
        term = term * x2 / (2 * n + 1);
        sum += term;
      }
      return 1.0 - 2.0 * RSQRTPI * Math.exp(-x * x) * sum;
    }
    if (x * x > MAXLOG) return 0.0;  // scipy's (Cephes') underflow
    var f = x, C = x, D = 0.0;
    for (var j = 1; j < 500; j++) {
      var a = 0.5 * j;
      D = 1.0 / (x + a * D);
      C = x + a / C;
      var delta = C * D;
      f *= delta;
      if (Math.abs(delta - 1.0) < 1e-16) break;
    }
    return Math.exp(-x * x) * RSQRTPI / f;
  }
  function phi(x) { return 0.5 * erfc(-x / Math.SQRT2); }

  function random01(seed, run, siteHi, siteLo, k) { return unit(seed, run, siteHi, siteLo, k); }
  function randomUniform(lo, hi, seed, run, siteHi, siteLo, k) {
    return lo + (hi - lo) * unit(seed, run, siteHi, siteLo, k);
  }
  function randomNormal(lo, hi, mean, sd, seed, run, siteHi, siteLo, k) {
    var u = unit(seed, run, siteHi, siteLo, k);
    var a = xidz(lo - mean, sd, -Infinity), b = xidz(hi - mean, sd, Infinity);
    var flip = a > 0;  // both bounds above the mean: the mirror image, of small CDF values
    if (flip) { var t = a; a = -b; b = -t; }
    var pa = phi(a), pb = phi(b);
    var z = min(max(ndtri(pa + u * (pb - pa)), a), b);
    return mean + sd * (flip ? -z : z);
  }
  function randomExponential(lo, hi, shift, stretch, seed, run, siteHi, siteLo, k) {
    var u = unit(seed, run, siteHi, siteLo, k);
    var loc = max(lo, shift);
    var b = xidz(hi - loc, stretch, Infinity);
    return loc + stretch * -Math.log1p(u * Math.expm1(-b));
  }
  return {unit: unit, random01: random01, randomUniform: randomUniform,
          randomNormal: randomNormal, randomExponential: randomExponential, erfc: erfc,
          ndtri: ndtri};
})()
"""
