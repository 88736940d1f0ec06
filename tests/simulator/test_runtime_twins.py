"""The JavaScript runtime twins compute what numpy and the batch runtime compute, value by value,
including at the edges (NaN, infinities, zero divisors, ties, knots, ends of tables).

Arguments and results travel as base64 doubles, so every bit is compared.
"""

from __future__ import annotations

import base64

import numpy as np
import pytest

from carespiral.pysd_runner.batch import runtime as rt
from carespiral.pysd_runner.batch.js_runtime import JS_RUNTIME
from carespiral.pysd_runner.batch.model import TimeInput

pytestmark = pytest.mark.browser

SPECIAL = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1.5, 2.5, -2.5, 3.0, 1e-7, -1e-7, 1e-6, 7.25, -7.25,
           np.nan, np.inf, -np.inf, 1e300, 0.1, 0.3, 2.0 / 3.0]


def b64(a) -> str:
    return base64.b64encode(np.ascontiguousarray(a, dtype="<f8").tobytes()).decode()


@pytest.fixture(scope="module")
def rt_page(browser, tmp_path_factory):
    page = tmp_path_factory.mktemp("rt") / "rt.html"
    page.write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'></head><body><script>"
        f"window.RT = {JS_RUNTIME.strip()};"
        "window.dec = function (s) { var b = atob(s), u = new Uint8Array(b.length);"
        " for (var i = 0; i < b.length; i++) u[i] = b.charCodeAt(i);"
        " return new Float64Array(u.buffer); };"
        "window.enc = function (a) { var b = new Uint8Array(new Float64Array(a).buffer), s = '';"
        " for (var i = 0; i < b.length; i += 32768)"
        "  s += String.fromCharCode.apply(null, b.subarray(i, i + 32768));"
        " return btoa(s); };</script></body></html>", encoding="utf-8")
    browser.get(page.resolve().as_uri())
    return browser


def js_map(driver, body: str, *arrays) -> np.ndarray:
    """Apply `body` (a JS expression of a, b, c, ... at index i) elementwise in the browser."""
    names = "abcdef"[:len(arrays)]  # the result has the first array's length
    decl = "".join(f"var {n} = window.dec(arguments[{k}]);" for k, n in enumerate(names))
    script = (decl + f"var out = new Float64Array({names[0]}.length);"
              f"for (var i = 0; i < out.length; i++) out[i] = (function () {{ return {body}; }})();"
              "return window.enc(out);")
    text = driver.execute_script(script, *[b64(a) for a in arrays])
    return np.frombuffer(base64.b64decode(text), dtype="<f8")


def pairs():
    a, b = np.meshgrid(np.array(SPECIAL), np.array(SPECIAL))
    return a.ravel(), b.ravel()


def same(got, expected, what):
    expected = np.asarray(expected, dtype=float)
    assert np.array_equal(got, expected, equal_nan=True), (what, got, expected)
    # and the sign of zero
    z = expected == 0
    assert np.array_equal(np.signbit(got[z]), np.signbit(expected[z])), what


def test_arithmetic_twins(rt_page):
    a, b = pairs()
    with np.errstate(all="ignore"):
        same(js_map(rt_page, "window.RT.min(a[i], b[i])", a, b), np.minimum(a, b), "minimum")
        same(js_map(rt_page, "window.RT.max(a[i], b[i])", a, b), np.maximum(a, b), "maximum")
        same(js_map(rt_page, "window.RT.mod(a[i], b[i])", a, b), np.mod(a, b), "mod")
        same(js_map(rt_page, "window.RT.xidz(a[i], b[i], 9)", a, b), rt.xidz(a, b, 9.0), "xidz")
        same(js_map(rt_page, "window.RT.zidz(a[i], b[i])", a, b), rt.zidz(a, b), "zidz")
        same(js_map(rt_page, "window.RT.quantum(a[i], b[i])", a, b), rt.quantum(a, b), "quantum")
        same(js_map(rt_page, "window.RT.modulo(a[i], b[i])", a, b), rt.modulo(a, b), "modulo")
        same(js_map(rt_page, "window.RT.where(a[i], 1, 2)", a, b), np.where(a, 1.0, 2.0), "where")
        same(js_map(rt_page, "window.RT.and(a[i], b[i]) ? 1 : 0", a, b),
             np.logical_and(a, b), "and")
        same(js_map(rt_page, "window.RT.or(a[i], b[i]) ? 1 : 0", a, b), np.logical_or(a, b), "or")
        same(js_map(rt_page, "window.RT.not(a[i]) ? 1 : 0", a, b), np.logical_not(a), "not")
        # pow: C's special cases exactly; elsewhere within the last bit
        special = np.array([[1.0, np.nan], [-1.0, np.inf], [-1.0, -np.inf], [np.nan, 0.0],
                            [0.0, -1.0], [-8.0, 1 / 3], [-0.0, -3.0], [np.inf, -0.5]])
        same(js_map(rt_page, "window.RT.pow(a[i], b[i])", special[:, 0], special[:, 1]),
             np.power(special[:, 0], special[:, 1]), "pow special")
        x = np.abs(a[np.isfinite(a) & np.isfinite(b)]) + 0.1
        y = b[np.isfinite(a) & np.isfinite(b)] % 7
        np.testing.assert_allclose(js_map(rt_page, "window.RT.pow(a[i], b[i])", x, y),
                                   np.power(x, y), rtol=4e-16)
    halves = np.array([0.5, 1.5, 2.5, 3.5, 2.4999999, 2.5000001, 10.5, 1e6 + 0.5, 7.0])
    same(js_map(rt_page, "window.RT.roundHalfEven(a[i])", halves), np.round(halves), "round")


def test_time_functions_twins(rt_page):
    t = np.arange(0, 30.25, 0.25)
    ts = 0.25
    for start, width in ((5.0, 2.0), (5.0, 0.0), (7.3, 1.1)):
        same(js_map(rt_page, f"window.RT.pulse(a[i], {ts}, {start}, {width})", t),
             rt.pulse(t, ts, start, width), f"pulse {start} {width}")
    same(js_map(rt_page, f"window.RT.step(a[i], {ts}, 3.5, 10)", t), rt.step(t, ts, 3.5, 10.0),
         "step")
    same(js_map(rt_page, "window.RT.ramp(a[i], 1.5, 4, 20)", t), rt.ramp(t, 1.5, 4.0, 20.0),
         "ramp")
    same(js_map(rt_page, "window.RT.rampOpen(a[i], 1.5, 4)", t), rt.ramp(t, 1.5, 4.0, None),
         "open ramp")
    same(js_map(rt_page, "window.RT.pulseTrain(a[i], 2, 3.5, 1, 25)", t),
         rt.pulse_train(t, 2.0, 3.5, 1.0, 25.0), "pulse train")
    d = np.array([0.1, 0.25, 0.6, 1.0, 3.0, 0.0])
    same(js_map(rt_page, f"window.RT.delayNOrder(3, {ts}, a[i])", d),
         rt.delay_n_order(3, ts, d), "delay n order")


def test_lookup_and_input_twins(rt_page):
    rng = np.random.default_rng(5)
    xs = np.cumsum(rng.uniform(0.1, 2, 9))
    ys = rng.normal(0, 3, 9)
    x = np.concatenate([xs, (xs[1:] + xs[:-1]) / 2, [xs[0] - 1, xs[-1] + 1, np.nan],
                        rng.uniform(xs[0] - 2, xs[-1] + 2, 200)])
    X, Y = b64(xs), b64(ys)
    call = ("(function () { var xs = window.dec(arguments[0]), ys = window.dec(arguments[1]),"
            " out = new Float64Array(arguments[2].length), x = window.dec(arguments[3]);"
            " for (var i = 0; i < x.length; i++) out[i] = BODY; return window.enc(out); })"
            ".apply(null, arguments)")

    def run(body, *extra):
        text = rt_page.execute_script("return " + call.replace("BODY", body), X, Y,
                                      [0] * len(x), b64(x), *extra)
        return np.frombuffer(base64.b64decode(text), dtype="<f8")

    same(run("window.RT.interp(x[i], xs, ys)"), np.interp(x, xs, ys), "interp")
    same(run("window.RT.lookupExtrapolate(x[i], xs, ys)"),
         rt.lookup_extrapolate(x, xs, ys), "extrapolate")
    same(run("window.RT.lookupHoldBackward(x[i], xs, ys)"),
         rt.lookup_hold_backward(x, xs, ys), "hold backward")
    table = rt.Table(list(xs), list(ys))
    sl, xe, ye = (b64(r) for r in table.rows)
    fin = np.isfinite(x)
    got = run("window.RT.table(x[i], xs, window.dec(arguments[4]), window.dec(arguments[5]),"
              " window.dec(arguments[6]))", sl, xe, ye)
    same(got[fin], table(x[fin]), "table")
    # numpy's retry when a slope is not finite
    ys_inf = ys.copy()
    ys_inf[4] = np.inf
    text = rt_page.execute_script("return " + call.replace("BODY", "window.RT.interp(x[i], xs, ys)"),
                                  X, b64(ys_inf), [0] * len(x), b64(x))
    with np.errstate(all="ignore"):
        same(np.frombuffer(base64.b64decode(text), dtype="<f8"), np.interp(x, xs, ys_inf),
             "interp with an infinite value")
    # a per-run time input between its points (TimeInput's formula for times x runs)
    ti = TimeInput(xs, np.stack([ys, ys * 2], axis=1))
    t = np.concatenate([[xs[0] - 1], x[np.isfinite(x)], [xs[-1] + 3]])
    got = js_map(rt_page, "window.RT.inputAt({t: b, v: c, linear: true}, a[i])", t, xs, ys)
    same(got, [ti(v)[0] for v in t], "per-run input")
