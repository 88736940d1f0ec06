/* carespiral flight simulator, the page's logic (no drawing): calendar, settings, runs, the
 * verdict, what drives the change, the posterior band and the link's fragment.
 *
 * window.CarespiralSimCore(CFG, M) takes the page's configuration (the JSON written by
 * carespiral.reports.simulator) and the compiled model (window.CarespiralModel, written by
 * carespiral.pysd_runner.batch.js_target). Each run builds its parameters and its time inputs
 * (one value per Euler step: a lever takes its new value from the month chosen, a shock adds to
 * or scales its variable for some months) and calls the model's simulate().
 */
window.CarespiralSimCore = function (CFG, M) {
  "use strict";
  var G = CFG.grid;
  var KN = new Float64Array(G.knots);
  var NK = KN.length;
  var TIMES = CFG.times;
  var NT = TIMES.length;
  var MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
                "September", "October", "November", "December"];
  var SLIDER = {}, SLIDER_BY_NAME = {};
  CFG.sliders.forEach(function (s) { SLIDER[s.key] = s; SLIDER_BY_NAME[s.name] = s; });
  var DRAW_COL = {};
  if (CFG.draws) CFG.draws.names.forEach(function (n, j) { DRAW_COL[n] = j; });
  var NDRAWS = CFG.draws ? CFG.draws.rows.length : 0;

  // ---- calendar -------------------------------------------------------------------------------
  var START = null;
  if (CFG.calendar) {
    var p = CFG.calendar.start.split("-");
    START = {y: +p[0], m: +p[1]};
  }
  function monthValue(t) {  // model month -> "YYYY-MM" (or the number, without a calendar)
    if (!START) return String(t);
    var k = START.m - 1 + Math.round(t);
    return String(START.y + Math.floor(k / 12)) + "-" + ("0" + (((k % 12) + 12) % 12 + 1)).slice(-2);
  }
  function parseMonth(text) {
    if (!START) { var v = parseFloat(text); return isFinite(v) ? v : null; }
    var m = /^(\d{4})-(\d{2})$/.exec(String(text || "").trim());
    if (!m) return null;
    return (+m[1] - START.y) * 12 + (+m[2] - START.m);
  }
  function monthLabel(t) {
    if (!START) return "time " + fmt(t);
    var k = START.m - 1 + Math.round(t);
    return MONTHS[((k % 12) + 12) % 12] + " " + (START.y + Math.floor(k / 12));
  }
  function xAt(j) { return CFG.calendar ? CFG.calendar.dates[j] : TIMES[j]; }
  function xOfTime(t) {
    if (!CFG.calendar) return t;
    return monthValue(t) + "-01";
  }
  var T_FIRST = TIMES[0], T_LAST = TIMES[NT - 1];
  var END_LABEL = CFG.calendar ? dateLabel(CFG.calendar.dates[NT - 1]) : "time " + T_LAST;
  function dateLabel(iso) {
    var p = iso.split("-");
    return MONTHS[+p[1] - 1] + " " + p[0];
  }

  // ---- numbers --------------------------------------------------------------------------------
  function fmt(v) {
    if (v === null || v === undefined || v !== v) return "–";
    var a = Math.abs(v);
    if (a >= 1000) return Math.round(v).toLocaleString("en-GB");
    if (a === 0) return "0";
    return String(parseFloat(v.toPrecision(3)));
  }
  function fmtSetting(v) { return String(parseFloat(Number(v).toPrecision(4))); }
  function clamp(v, lo, hi) { return v < lo ? lo : (v > hi ? hi : v); }
  function niceStep(range) {
    var raw = range / 200, e = Math.pow(10, Math.floor(Math.log10(raw))), f = raw / e;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * e;
  }
  function snap(s, raw) {
    var step = niceStep(s.upper - s.lower);
    var v = s.lower + Math.round((raw - s.lower) / step) * step;
    return clamp(parseFloat(v.toPrecision(12)), s.lower, s.upper);
  }

  // ---- settings -------------------------------------------------------------------------------
  function defaults() {
    var st = {levers: {}, shocks: {}, shockFrom: CFG.policyStart, compare: false};
    CFG.sliders.forEach(function (s) { st.levers[s.key] = {value: s.start, from: CFG.policyStart}; });
    return st;
  }
  function copyState(st) { return JSON.parse(JSON.stringify(st)); }
  function complete(st) {  // settings given in part (tests, the console) over the defaults
    var out = defaults(), given = copyState(st || {});
    Object.keys(given.levers || {}).forEach(function (k) {
      if (out.levers[k]) Object.assign(out.levers[k], given.levers[k]);
    });
    Object.assign(out.shocks, given.shocks || {});
    if (given.shockFrom !== undefined) out.shockFrom = given.shockFrom;
    if (given.compare !== undefined) out.compare = !!given.compare;
    return out;
  }

  // ---- one run --------------------------------------------------------------------------------
  function baseOf(name, draw) {
    if (draw >= 0 && DRAW_COL[name] !== undefined) return CFG.draws.rows[draw][DRAW_COL[name]];
    return CFG.base[name];
  }
  function seriesFor(name, draw, st) {
    var b = baseOf(name, draw), v = new Float64Array(NK), k, spec = CFG.scenarioInputs[name];
    if (spec && spec.table) {
      v.set(spec.table);
    } else {
      v.fill(spec && spec.base !== null && spec.base !== undefined ? spec.base : b);
      if (spec) spec.incs.forEach(function (rle) {
        var i = 0;
        rle.forEach(function (pair) {
          for (var c = 0; c < pair[1]; c++, i++) v[i] = v[i] + pair[0];
        });
      });
    }
    var s = SLIDER_BY_NAME[name];
    if (s) {
      var L = st.levers[s.key];
      if (L.value !== s.start) {
        var nv = draw < 0 ? L.value : clamp(b + (L.value - s.start), s.lower, s.upper);
        var from = L.from - G.dt / 2;
        for (k = 0; k < NK; k++) if (KN[k] >= from) v[k] = nv;
      }
    }
    CFG.shocks.forEach(function (sh) {
      if (!st.shocks[sh.key] || sh.name !== name) return;
      var on = st.shockFrom - G.dt / 2, off = st.shockFrom + sh.months - G.dt / 2;
      for (k = 0; k < NK; k++) {
        if (KN[k] >= on && KN[k] < off) v[k] = sh.op === "add" ? v[k] + sh.amount : v[k] * sh.amount;
      }
    });
    return v;
  }
  // RANDOM functions draw from the batch backend's streams, keyed as run_batch keys them: seed 0;
  // the central run (and the baseline) at position 0, posterior draw i at position i + 1
  var RANDOM_SEED = 0;
  function runWith(st, draw) {
    var P = {}, T = {};
    Object.keys(CFG.params).forEach(function (name) { P[CFG.params[name]] = baseOf(name, draw); });
    if (M.random) {
      P[M.random[0]] = RANDOM_SEED;
      P[M.random[1]] = draw < 0 ? 0 : draw + 1;
    }
    Object.keys(CFG.inputs).forEach(function (name) {
      T[CFG.inputs[name]] = {t: KN, v: seriesFor(name, draw, st)};
    });
    return M.simulate(P, T, G.t0, G.dt, G.nsteps, G.saveEvery);
  }

  // ---- regime (the exploration's collapse criteria) ---------------------------------------------
  function firstSustained(cond, months) {
    var start = NaN;
    for (var j = 0; j < NT; j++) {
      if (cond[j]) {
        if (start !== start) start = TIMES[j];
        if (TIMES[j] - start >= months - 1e-9) return TIMES[j];
      } else {
        start = NaN;
      }
    }
    return NaN;
  }
  function criterionTime(c, out) {
    var x = out[c.output], cond = new Array(NT), j;
    if (c.type === "growing") {
      cond[0] = false;
      for (j = 1; j < NT; j++) {
        var rate = (x[j] - x[j - 1]) / (TIMES[j] - TIMES[j - 1]) / Math.max(Math.abs(x[j - 1]), 1e-9);
        cond[j] = rate > c.minRate;
      }
      var step = NT > 1 ? TIMES[1] - TIMES[0] : 0;
      return firstSustained(cond, Math.max(c.months - step, 0));
    }
    for (j = 0; j < NT; j++) {
      var ref = c.relative === "initial" ? c.value * x[0] :
        (c.relative === null ? c.value : c.value * out[c.relative][j]);
      cond[j] = c.op === ">" ? x[j] > ref : x[j] < ref;
    }
    return firstSustained(cond, c.months);
  }
  function regime(res) {
    var hit = {collapse: null, degraded: null};
    CFG.criteria.forEach(function (c) {
      var t = criterionTime(c, res.outputs);
      if (t === t && (hit[c.kind] === null || t < hit[c.kind].time)) hit[c.kind] = {time: t, text: c.text};
    });
    if (hit.collapse) return {kind: "collapse", time: hit.collapse.time, text: hit.collapse.text};
    if (hit.degraded) return {kind: "degraded", time: hit.degraded.time, text: hit.degraded.text};
    return {kind: "sustainable", time: NaN, text: ""};
  }

  // ---- what drives the change -------------------------------------------------------------------
  var WATCH = [];
  CFG.panels.forEach(function (p) { p.series.forEach(function (s) { WATCH.push(s.output); }); });
  function distance(res, ref) {
    var total = 0;
    WATCH.forEach(function (o) {
      var a = res.outputs[o], b = ref.outputs[o], d = 0, m = 0;
      for (var j = 0; j < NT; j++) { d += Math.abs(a[j] - b[j]); m += Math.abs(b[j]); }
      if (d === d) total += d / (m + 1e-12);
    });
    return total;
  }
  function changes(st) {
    var out = [];
    CFG.sliders.forEach(function (s) {
      var L = st.levers[s.key];
      if (L.value !== s.start) {
        out.push({id: "lever:" + s.key, text: lowerFirst(s.label) + " at " + fmtSetting(L.value) +
                  (L.from > T_FIRST ? " from " + monthLabel(L.from) : ""),
                  apply: function (t) { t.levers[s.key] = {value: L.value, from: L.from}; }});
      }
    });
    CFG.shocks.forEach(function (sh) {
      if (st.shocks[sh.key]) {
        out.push({id: "shock:" + sh.key, text: lowerFirst(sh.label) + " from " + monthLabel(st.shockFrom),
                  apply: function (t) { t.shocks[sh.key] = true; t.shockFrom = st.shockFrom; }});
      }
    });
    return out;
  }
  function lowerFirst(s) { return s.charAt(0).toLowerCase() + s.slice(1); }
  var ALONE = {};
  function drivers(st, central, base) {
    var list = changes(st);
    if (!list.length) {
      return "The settings are as the page started: move a lever" +
        (CFG.shocks.length ? " or add a shock" : "") + " to see what changes.";
    }
    var scored = list.map(function (ch) {
      var key = ch.id + "|" + JSON.stringify(ch.id.indexOf("lever:") === 0 ?
        st.levers[ch.id.slice(6)] : st.shockFrom);
      if (!(key in ALONE)) {
        if (Object.keys(ALONE).length > 500) ALONE = {};
        var t = defaults();
        ch.apply(t);
        ALONE[key] = distance(runWith(t, -1), base);
      }
      return {text: ch.text, score: ALONE[key]};
    });
    var total = scored.reduce(function (a, c) { return a + c.score; }, 0);
    scored.sort(function (a, b) { return b.score - a.score; });
    var lead;
    if (scored.length === 1) {
      lead = "What drives the change: " + scored[0].text + ".";
    } else if (total > 0) {
      lead = "What drives the change (each change tried on its own): " + scored.map(function (c) {
        return c.text + " (" + Math.round(100 * c.score / total) + "%)";
      }).join(", then ") + ".";
    } else {
      lead = "The changes make no visible difference to the figures drawn.";
    }
    var diffs = [];
    WATCH.forEach(function (o) {
      var a = central.outputs[o][NT - 1], b = base.outputs[o][NT - 1];
      var rel = Math.abs(a - b) / Math.max(Math.abs(b), 1e-12);
      if (rel > 0.02 && a === a) diffs.push({o: o, a: a, b: b, rel: rel});
    });
    diffs.sort(function (x, y) { return y.rel - x.rel; });
    if (diffs.length) {
      lead += " By " + END_LABEL + ": " + diffs.slice(0, 3).map(function (d) {
        var out = CFG.outputs[d.o];
        var pc = out.units.charAt(0) === "%" ? "%" : "";
        return lowerFirst(out.label) + " " + fmt(d.a) + pc + " (" + fmt(d.b) + pc + " in the untouched run)";
      }).join("; ") + ".";
    }
    return lead;
  }

  // ---- posterior band ---------------------------------------------------------------------------
  function lerp(a, b, t) {  // numpy's _lerp
    var d = b - a;
    return t >= 0.5 ? b - d * (1 - t) : a + d * t;
  }
  function quantile(sorted, q) {  // numpy's default (linear) method on sorted values
    var n = sorted.length, h = (n - 1) * q, i = Math.floor(h);
    if (sorted[n - 1] !== sorted[n - 1]) return NaN;
    if (i + 1 >= n) return sorted[n - 1];
    return lerp(sorted[i], sorted[i + 1], h - i);
  }
  function bandOf(runs) {
    var band = {};
    WATCH.forEach(function (o) {
      var lo = new Float64Array(NT), hi = new Float64Array(NT), col = new Float64Array(runs.length);
      for (var j = 0; j < NT; j++) {
        for (var r = 0; r < runs.length; r++) col[r] = runs[r].outputs[o][j];
        col.sort();  // typed-array sort: numeric, NaN last (as numpy)
        lo[j] = quantile(col, 0.05);
        hi[j] = quantile(col, 0.95);
      }
      band[o] = {lo: lo, hi: hi};
    });
    return band;
  }

  // ---- the URL fragment: a link reproduces the view ---------------------------------------------
  function fragment(st) {
    var parts = [];
    CFG.sliders.forEach(function (s) {
      var L = st.levers[s.key];
      if (L.value !== s.start || L.from !== CFG.policyStart) {
        parts.push(encodeURIComponent(s.key) + "=" + String(L.value) + "@" + monthValue(L.from));
      }
    });
    var on = CFG.shocks.filter(function (sh) { return st.shocks[sh.key]; }).map(function (sh) { return sh.key; });
    if (on.length) parts.push("shocks=" + on.join(","));
    if (st.shockFrom !== CFG.policyStart) parts.push("shock_from=" + monthValue(st.shockFrom));
    if (st.compare) parts.push("compare=1");
    return parts.join("&");
  }
  function readFragment(text) {
    var st = defaults();
    String(text || "").replace(/^[^#]*#/, "").split("&").forEach(function (part) {
      if (!part) return;
      var eq = part.indexOf("="), key = decodeURIComponent(part.slice(0, eq)), val = decodeURIComponent(part.slice(eq + 1));
      if (SLIDER[key]) {
        var s = SLIDER[key], at = val.split("@"), v = parseFloat(at[0]);
        if (isFinite(v)) st.levers[key].value = clamp(v, s.lower, s.upper);
        var m = at.length > 1 ? parseMonth(at[1]) : null;
        if (m !== null) st.levers[key].from = clamp(m, T_FIRST, T_LAST);
      } else if (key === "shocks") {
        val.split(",").forEach(function (k) {
          if (CFG.shocks.some(function (sh) { return sh.key === k; })) st.shocks[k] = true;
        });
      } else if (key === "shock_from") {
        var m2 = parseMonth(val);
        if (m2 !== null) st.shockFrom = clamp(m2, T_FIRST, T_LAST);
      } else if (key === "compare") {
        st.compare = val === "1";
      }
    });
    return st;
  }

  return {monthValue: monthValue, parseMonth: parseMonth, monthLabel: monthLabel, dateLabel: dateLabel, xAt: xAt, xOfTime: xOfTime, fmt: fmt, fmtSetting: fmtSetting, clamp: clamp, snap: snap, defaults: defaults, copyState: copyState, complete: complete, runWith: runWith, regime: regime, drivers: drivers, bandOf: bandOf, fragment: fragment, readFragment: readFragment, lowerFirst: lowerFirst, T_FIRST: T_FIRST, T_LAST: T_LAST, END_LABEL: END_LABEL, START: START, WATCH: WATCH, NDRAWS: NDRAWS, TIMES: TIMES, NT: NT, SLIDER: SLIDER};
};
