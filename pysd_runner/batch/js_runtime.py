"""The JavaScript twins of `runtime` and `scalar_runtime`, used by code from `js_target`.

`JS_RUNTIME` is the source of one JavaScript expression: an object of functions, each computing
for one run the same IEEE double operations in the same order as its numpy counterpart (the
numba engine's scalar functions are the model), so that a model compiled to JavaScript gives the
numpy engine's numbers. Where JavaScript's own operators differ from numpy's they are not used:
`np.where` and the logical functions test truth as numpy does (NaN counts as true), `np.minimum`
and `np.maximum` propagate NaN, `np.mod` takes the divisor's sign, `np.round` rounds half to
even, `np.power` keeps C's `pow(1, NaN) = 1`, and `np.interp` is followed line by line
(including its retry when a slope is not finite).
"""

from __future__ import annotations

from carespiral.pysd_runner.batch.allocation import ITERATIONS, reach
from carespiral.pysd_runner.batch.js_random import JS_RANDOM, RANDOM_NAMES

__all__ = ["JS_RUNTIME", "RUNTIME_NAMES"]

JS_RUNTIME = r"""
(function () {
  "use strict";
  var SMALL = 1e-6;  // what Vensim treats as zero (ZIDZ, XIDZ, ramp and pulse edges)

  function truth(c) { return c != 0; }  // numpy: non-zero (and NaN) is true; works for booleans
  function min(a, b) { return (a < b || a !== a) ? a : b; }
  function max(a, b) { return (a > b || a !== a) ? a : b; }
  function where(c, a, b) { return (c != 0) ? a : b; }
  function and(a, b) { return (a != 0) && (b != 0); }
  function or(a, b) { return (a != 0) || (b != 0); }
  function not(a) { return a == 0; }
  function pow(a, b) {
    // C's pow: 1^y = 1 and (-1)^(+-inf) = 1, where JavaScript gives NaN
    if (a === 1) return 1;
    if (a === -1 && (b === Infinity || b === -Infinity)) return 1;
    return Math.pow(a, b);
  }
  function mod(a, b) {
    // np.mod for floats (npy_divmod): the result has the divisor's sign
    var m = a % b;  // fmod: exact
    if (b === 0) return m;
    if (m !== 0) {
      if ((b < 0) !== (m < 0)) m += b;
    } else {
      m = (b < 0) ? -0 : 0;
    }
    return m;
  }
  function roundHalfEven(x) {
    var r = Math.round(x);
    if (Math.abs(x - Math.trunc(x)) === 0.5) r = 2 * Math.round(x / 2);
    return r;
  }
  function step(time, timeStep, value, tstep) { return value * ((time + timeStep / 2) > tstep); }
  function ramp(time, slope, start, finish) {
    return (((time + SMALL) > start) * slope) * (min(finish, time) - start);
  }
  function rampOpen(time, slope, start) { return (((time + SMALL) > start) * slope) * (time - start); }
  function pulse(time, timeStep, start, width) {
    var w = (width == 0) ? timeStep : width;
    return ((start - SMALL) <= time && time < (start + w)) ? 1.0 : 0.0;
  }
  function pulseTrain(time, start, repeat, width, end) {
    if (repeat == 0) return ((start - SMALL <= time) && (time < start + width)) ? 1.0 : 0.0;
    var on = (start <= time) && (time < end);
    return (on && (mod((time - start) + SMALL, repeat) < width)) ? 1.0 : 0.0;
  }
  function xidz(a, b, x) { return (Math.abs(b) < SMALL) ? x : a / b; }
  function zidz(a, b) { return (Math.abs(b) < SMALL) ? 0.0 : a / b; }
  function quantum(a, b) { return (b < SMALL) ? a : b * Math.trunc(a / b); }
  function modulo(x, m) { return x - quantum(x, m); }

  // numpy's interp for one x (compiled_base.c: arr_interp), ends held
  function interp(x, xp, fp) {
    var n = xp.length;
    if (n === 1) return fp[0];  // numpy: left, right and the only value are all fp[0]
    if (x !== x) return x;
    if (x < xp[0]) return fp[0];
    if (x > xp[n - 1]) return fp[n - 1];
    var lo = 0, hi = n - 1;  // largest j with xp[j] <= x
    while (hi - lo > 1) {
      var mid = (lo + hi) >> 1;
      if (xp[mid] <= x) lo = mid; else hi = mid;
    }
    var j = (xp[hi] <= x) ? hi : lo;
    if (j === n - 1) return fp[j];
    if (xp[j] === x) return fp[j];
    var slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j]);
    var r = slope * (x - xp[j]) + fp[j];
    if (r !== r) {
      r = slope * (x - xp[j + 1]) + fp[j + 1];
      if (r !== r && fp[j] === fp[j + 1]) r = fp[j];
    }
    return r;
  }
  // runtime.Table's branch-free formula: i = knots at or below x; slope_i * (x - x_i) + y_i
  function table(x, xs, sl, xe, ye) {
    var i = 0;
    for (var j = 0; j < xs.length; j++) i += (x >= xs[j]);
    return sl[i] * (x - xe[i]) + ye[i];
  }
  function lookupExtrapolate(x, xs, ys) {
    var out = interp(x, xs, ys), n = xs.length;
    var lo = ys[0] + ((ys[1] - ys[0]) / (xs[1] - xs[0])) * (x - xs[0]);
    var hi = ys[n - 1] + ((ys[n - 1] - ys[n - 2]) / (xs[n - 1] - xs[n - 2])) * (x - xs[n - 1]);
    return (x < xs[0]) ? lo : ((x > xs[n - 1]) ? hi : out);
  }
  function lookupHoldBackward(x, xs, ys) {
    var n = xs.length, i = n;
    if (x === x) { i = 0; while (i < n && xs[i] <= x) i++; }
    return ys[Math.min(Math.max(i - 1, 0), n - 1)];
  }
  function firstAtOrAfter(x, xs) {
    var n = xs.length, i = n;
    if (x === x) { i = 0; while (i < n && xs[i] < x) i++; }
    return Math.min(i, n - 1);
  }
  function lookupLookForward(x, xs, ys) { return ys[firstAtOrAfter(x, xs)]; }
  function lookupRaw(x, xs, ys) { var i = firstAtOrAfter(x, xs); return xs[i] === x ? ys[i] : NaN; }
  function delayNOrder(order, timeStep, delayTime) {
    var m = order;
    while (m * timeStep > delayTime && m > 1) m -= 1;
    return m;
  }
  function initialOrder(cap, order, timeStep, delayTime, lower) {
    var m = Math.trunc(order);
    if (!(m >= 1) || m > cap) {
      throw new Error("a DELAY N or SMOOTH N order of " + m + " at the initial time: the " +
                      "model was compiled for orders from 1 to " + cap);
    }
    if (lower) while (m * timeStep > delayTime && m > 1) m -= 1;
    return m;
  }
  // DELAY FIXED: a ring buffer of round(max(delay / TIME STEP, 1)) values (runtime.FixedPipe)
  function fixedPipe(initial, delayTime, timeStep) {
    var len = roundHalfEven(max(delayTime / timeStep, 1.0) + SMALL);
    var buf = new Float64Array(len);
    buf.fill(initial);
    return {buf: buf, len: len, k: 0};
  }
  function push(p, value) {
    p.buf[p.k % p.len] = value;
    p.k += 1;
    return p.buf[p.k % p.len];
  }
  // a time input (model.TimeInput): np.interp for a series shared by runs ("interp"), or the
  // per-run formula v_i + (v_{i+1} - v_i) * w of a times x runs input ("linear"). Time only
  // moves forward, so the interval found last is tried first; the interval is the same one a
  // search finds (times strictly increase), so the numbers are too.
  function input(T, id) {
    var s = T[id];
    if (!s || !s.t || !s.v || s.t.length !== s.v.length || s.t.length < 1) {
      throw new Error("time input " + id + " needs equal-length arrays t and v");
    }
    return {t: s.t, v: s.v, linear: s.mode === "linear", j: 0};
  }
  function interval(inp, time) {  // largest i with t[i] <= time (t[0] <= time <= t[n - 1])
    var t = inp.t, n = t.length, j = inp.j;
    if (t[j] <= time && (j === n - 1 || time < t[j + 1])) return j;
    if (j + 1 < n - 1 && t[j + 1] <= time && time < t[j + 2]) { inp.j = j + 1; return j + 1; }
    var lo = 0, hi = n - 1;
    while (hi - lo > 1) {
      var mid = (lo + hi) >> 1;
      if (t[mid] <= time) lo = mid; else hi = mid;
    }
    inp.j = (t[hi] <= time) ? hi : lo;
    return inp.j;
  }
  function inputAt(inp, time) {
    var t = inp.t, v = inp.v, n = t.length, j;
    if (!inp.linear) {  // np.interp, as `interp` below
      if (n === 1) return v[0];
      if (time !== time) return time;
      if (time < t[0]) return v[0];
      if (time > t[n - 1]) return v[n - 1];
      j = interval(inp, time);
      if (j === n - 1) return v[j];
      if (t[j] === time) return v[j];
      var slope = (v[j + 1] - v[j]) / (t[j + 1] - t[j]);
      var r = slope * (time - t[j]) + v[j];
      if (r !== r) {
        r = slope * (time - t[j + 1]) + v[j + 1];
        if (r !== r && v[j] === v[j + 1]) r = v[j];
      }
      return r;
    }
    if (time <= t[0]) return v[0];
    if (time >= t[n - 1]) return v[n - 1];
    j = interval(inp, time);
    var w = (time - t[j]) / (t[j + 1] - t[j]);
    return v[j] + (v[j + 1] - v[j]) * w;
  }
  function param(P, id) {
    var v = P[id];
    if (typeof v !== "number") throw new Error("parameter " + id + " has no numeric value");
    return v;
  }
  return {truth: truth, min: min, max: max, where: where, and: and, or: or, not: not, pow: pow,
          mod: mod, step: step, ramp: ramp, rampOpen: rampOpen, pulse: pulse,
          pulseTrain: pulseTrain, xidz: xidz, zidz: zidz, quantum: quantum, modulo: modulo,
          interp: interp, table: table, lookupExtrapolate: lookupExtrapolate,
          lookupHoldBackward: lookupHoldBackward, lookupLookForward: lookupLookForward,
          lookupRaw: lookupRaw, delayNOrder: delayNOrder,
          initialOrder: initialOrder, fixedPipe: fixedPipe, push: push, input: input,
          inputAt: inputAt, param: param, roundHalfEven: roundHalfEven};
})()
"""

# Every function the generated code may call (bound to `$name` locals in the model's factory).
RUNTIME_NAMES = ("truth", "min", "max", "where", "and", "or", "not", "pow", "mod", "step",
                 "ramp", "rampOpen", "pulse", "pulseTrain", "xidz", "zidz", "quantum",
                 "modulo", "interp", "table", "lookupExtrapolate", "lookupHoldBackward",
                 "lookupLookForward", "lookupRaw", "delayNOrder", "initialOrder", "fixedPipe", "push", "input", "inputAt", "param")

# ALLOCATE AVAILABLE (allocation.available_level / available_curve, scalar_runtime's
# s_available_*): made from the runtime's min and max and the random streams' erfc
JS_ALLOCATION = r"""
(function (rt) {
  "use strict";
  var min = rt.min, max = rt.max, erfc = rt.erfc;
  function allocCurve(x, t, q, p, w) {
    if (t == 1.0 || t == 2.0) {
      var u = ((x - p) + 0.5 * w) / w;
      if (t == 1.0) return q * (1.0 - min(max(u, 0.0), 1.0));
      var v = min(max(u, 0.0), 1.0), a = min(v, 0.5), b = max(v, 0.5);
      return q * (((2.5 - (2.0 * a) * a) + (2.0 * b) * b) - 4.0 * b);
    }
    if (t == 3.0) return q * (1.0 - 0.5 * erfc((p - x) / (1.4142135623730951 * w)));
    if (t == 4.0) {
      var half = (0.5 * q) * Math.exp((-Math.abs(x - p)) / w);
      return (x < p) ? q - half : half;
    }
    return NaN;
  }
  function total(x, t, q, p, w) {
    var f = allocCurve(x, t[0], q[0], p[0], w[0]);
    for (var i = 1; i < q.length; i++) f = f + allocCurve(x, t[i], q[i], p[i], w[i]);
    return f;
  }
  function reach(t) { return (t <= 2.0) ? 0.5 : ((t == 3.0) ? NORMAL_REACH : EXP_REACH); }
  function allocLevel(supply, t, q, p, w) {
    var r = reach(t[0]) * w[0], lo = p[0] - r, hi = p[0] + r;
    for (var i = 1; i < q.length; i++) {
      r = reach(t[i]) * w[i];
      lo = min(lo, p[i] - r);
      hi = max(hi, p[i] + r);
    }
    var step = 0.5 * (hi - lo), x = 0.5 * (lo + hi);
    for (var k = 0; k < ITERATIONS; k++) {
      step = 0.5 * step;
      x = (total(x, t, q, p, w) > supply) ? x + step : x - step;
    }
    var a = x - step, b = x + step, fa = total(a, t, q, p, w), fb = total(b, t, q, p, w);
    return (fa > fb) ? a + ((fa - supply) * (b - a)) / (fa - fb) : x;
  }
  return {allocCurve: allocCurve, allocLevel: allocLevel};
})
""".replace("NORMAL_REACH", repr(reach("normal"))).replace("EXP_REACH", repr(reach("exp"))) \
    .replace("ITERATIONS", str(ITERATIONS))

# the RANDOM streams' twins (js_random) join the same object, then ALLOCATE AVAILABLE's
JS_RUNTIME = (f"(function (rt) {{ return Object.assign(rt, {JS_ALLOCATION.strip()}(rt)); }})"
              f"(Object.assign({JS_RUNTIME.strip()}, {JS_RANDOM.strip()}))")
RUNTIME_NAMES += (*RANDOM_NAMES, "allocCurve", "allocLevel")
