/* carespiral flight simulator: the page's controls, runs, verdict and figures.
 *
 * The model itself is window.CarespiralModel (compiled from the model's lowered equations by
 * carespiral.pysd_runner.batch.js_target); everything the page knows about it is the JSON in
 * #cs-sim-config (written by carespiral.reports.simulator). Each run builds its parameters and
 * its time inputs (one value per Euler step: a lever takes its new value from the month chosen,
 * a shock adds to or scales its variable for some months) and calls simulate().
 */
(function () {
  "use strict";
  var CFG = JSON.parse(document.getElementById("cs-sim-config").textContent);
  var M = window.CarespiralModel;
  var G = CFG.grid;
  var KN = new Float64Array(G.knots);
  var NK = KN.length;
  var TIMES = CFG.times;
  var NT = TIMES.length;
  var PALETTE = CFG.palette;
  var MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
                "September", "October", "November", "December"];
  var body = document.body;

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
  var S = defaults();

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
  function runWith(st, draw) {
    var P = {}, T = {};
    Object.keys(CFG.params).forEach(function (name) { P[CFG.params[name]] = baseOf(name, draw); });
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

  // ---- figures ----------------------------------------------------------------------------------
  var PLOTS = [];
  var PLOT_HEIGHT = 360;
  var DATA_SHOWN = {};  // panel key + series index -> whether published values are drawn
  function rgba(hex, a) {
    var n = parseInt(hex.slice(1), 16);
    return "rgba(" + (n >> 16) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + a + ")";
  }
  function xs() { var x = new Array(NT); for (var j = 0; j < NT; j++) x[j] = xAt(j); return x; }
  var X = xs();
  function nearestIndex(iso) {
    var lo = 0, hi = NT - 1;
    while (hi - lo > 1) { var mid = (lo + hi) >> 1; if (X[mid] <= iso) lo = mid; else hi = mid; }
    return (X[hi] <= iso) ? hi : lo;
  }
  function judgeData(res) {
    // published values are drawn only where the model is of the same size (within a factor of
    // three of the run with the starting settings), so a model of a mid-sized authority is not
    // drawn against England's totals
    CFG.panels.forEach(function (panel) {
      panel.series.forEach(function (s, i) {
        var ratios = s.data.map(function (d) {
          return d.value / res.outputs[s.output][nearestIndex(CFG.calendar ? d.date : d.time)];
        }).filter(function (r) { return r === r && isFinite(r); }).sort(function (a, b) { return a - b; });
        var med = ratios.length ? ratios[(ratios.length - 1) >> 1] : NaN;
        DATA_SHOWN[panel.key + ":" + i] = ratios.length > 0 && med > 1 / 3 && med < 3;
      });
    });
  }
  function marks(st) {
    var shapes = [];
    CFG.sliders.forEach(function (s) {
      var L = st.levers[s.key];
      if (L.value !== s.start && L.from > T_FIRST) {
        shapes.push({type: "line", xref: "x", yref: "paper", x0: xOfTime(L.from), x1: xOfTime(L.from),
                     y0: 0, y1: 1, line: {color: "#555", width: 1, dash: "dot"}});
      }
    });
    CFG.shocks.forEach(function (sh) {
      if (st.shocks[sh.key]) {
        shapes.push({type: "rect", xref: "x", yref: "paper", x0: xOfTime(st.shockFrom),
                     x1: xOfTime(st.shockFrom + sh.months), y0: 0, y1: 1, line: {width: 0},
                     fillcolor: "rgba(213,94,0,0.10)"});
      }
    });
    return shapes;
  }
  function draw(central, base, band, st) {
    var jobs = [];
    CFG.panels.forEach(function (panel, pi) {
      var traces = [], seenBase = false, seenData = false;
      panel.series.forEach(function (s, i) {
        var c = PALETTE[i % PALETTE.length], solo = panel.series.length === 1;
        if (band && band[s.output]) {
          traces.push({x: X, y: Array.from(band[s.output].lo), mode: "lines", line: {width: 0},
                       hoverinfo: "skip", showlegend: false, name: s.label + ": 5%"});
          traces.push({x: X, y: Array.from(band[s.output].hi), mode: "lines", line: {width: 0},
                       fill: "tonexty", fillcolor: rgba(c, 0.18), hoverinfo: "skip",
                       name: "90% of plausible runs", showlegend: i === 0});
        }
        if (st.compare) {
          traces.push({x: X, y: Array.from(base.outputs[s.output]), mode: "lines",
                       name: solo ? "untouched run" : s.label + ", untouched", legendgroup: "base",
                       showlegend: !seenBase, line: {color: "#9A9A9A", width: 2, dash: "dash"}});
          seenBase = true;
        }
        traces.push({x: X, y: Array.from(central.outputs[s.output]), mode: "lines",
                     name: solo ? "your settings" : s.label,
                     line: {color: c, width: 2.5, dash: ["solid", "dash", "dot"][i % 3]}});
        if (s.data.length && DATA_SHOWN[panel.key + ":" + i]) {
          traces.push({x: s.data.map(function (d) { return CFG.calendar ? d.date : d.time; }),
                       y: s.data.map(function (d) { return d.value; }), mode: "markers",
                       name: "published" + (CFG.area ? " (" + CFG.area + ")" : ""),
                       legendgroup: "data", showlegend: !seenData,
                       hovertemplate: "%{y}<extra>" + escapeHtml(s.label) + ", published</extra>",
                       marker: {color: c, size: 7, symbol: "circle-open", line: {width: 2}}});
          seenData = true;
        }
      });
      var layout = {
        title: {text: panel.title + "<br><span style=\"font-size:12px;color:#5f6368\">" +
                escapeHtml(panel.units) + "</span>", x: 0, xanchor: "left", font: {size: 16}},
        height: PLOT_HEIGHT, autosize: true, margin: {l: 64, r: 16, t: 70, b: 30},
        font: {family: "system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif", size: 12, color: "#222"},
        xaxis: {type: CFG.calendar ? "date" : "linear", showgrid: true, gridcolor: "#eee"},
        yaxis: {rangemode: "tozero", showgrid: true, gridcolor: "#eee", zeroline: false},
        legend: {orientation: "h", x: 0, y: -0.08, yanchor: "top", font: {size: 11}},
        hovermode: "x unified", shapes: marks(st), plot_bgcolor: "#fff", paper_bgcolor: "#fff",
      };
      jobs.push(Plotly.react(PLOTS[pi], traces, layout,
                             {responsive: true, displaylogo: false,
                              modeBarButtonsToRemove: ["lasso2d", "select2d", "toggleSpikelines"]}));
    });
    return Promise.all(jobs);
  }
  function escapeHtml(t) {
    return String(t).replace(/[&<>"]/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;"}[c];
    });
  }

  // ---- the page's state machine ---------------------------------------------------------------
  var BASE = null, CENTRAL = null, REGIME = null, BAND = null, BAND_FOR = "", drawToken = 0;
  var updates = 0, firstDrawn = false;
  function settingsKey(st) { return JSON.stringify([st.levers, st.shocks, st.shockFrom]); }
  function update() {
    CENTRAL = runWith(S, -1);
    REGIME = regime(CENTRAL);
    showVerdict(REGIME, CENTRAL);
    el("cs-driver").textContent = drivers(S, CENTRAL, BASE);
    syncControls();
    writeFragment();
    var key = settingsKey(S);
    var job = draw(CENTRAL, BASE, BAND, S);  // the previous band stays until the new one is ready
    updates += 1;
    var mine = updates;
    job.then(function () {
      if (!firstDrawn) { firstDrawn = true; body.setAttribute("data-plots-rendered", String(PLOTS.length)); }
      body.setAttribute("data-sim-updates", String(mine));
    }, function (err) {
      body.setAttribute("data-plots-failed", String(err));
      console.error("carespiral: a figure failed to draw", err);
    });
    if (NDRAWS && BAND_FOR !== key) startDraws(key);
    return job;
  }
  var scheduled = false;
  function schedule() {
    if (scheduled) return;
    scheduled = true;
    setTimeout(function () { scheduled = false; update(); }, 0);
  }
  function startDraws(key) {
    var token = ++drawToken, st = copyState(S), runs = [], next = 0;
    el("cs-draws-note").textContent = "Running " + NDRAWS + " plausible versions of " + (CFG.area || "the area") + "…";
    body.setAttribute("data-draws-state", "running");
    function chunk() {
      if (token !== drawToken) return;  // settings moved on: this batch is stale
      var stop = Math.min(NDRAWS, next + 10);
      for (; next < stop; next++) runs.push(runWith(st, next));
      if (next < NDRAWS) { setTimeout(chunk, 0); return; }
      BAND = bandOf(runs);
      BAND_FOR = key;
      var counts = {collapse: 0, degraded: 0, sustainable: 0};
      runs.forEach(function (r) { counts[regime(r).kind] += 1; });
      el("cs-draws-note").textContent = "Across " + NDRAWS + " plausible versions of " +
        (CFG.area || "the area") + " (draws from the calibration), by " + END_LABEL + ": " +
        counts.collapse + " collapse, " + counts.degraded + " degraded, " + counts.sustainable +
        " sustainable. The shaded band holds 90% of them.";
      LAST_COUNTS = counts;
      draw(CENTRAL, BASE, BAND, S).then(function () {
        body.setAttribute("data-draws-state", "done");
        body.setAttribute("data-draws-token", String(token));
      });
    }
    setTimeout(chunk, 0);
  }
  var LAST_COUNTS = null;

  function showVerdict(rg, res) {
    var box = el("cs-verdict");
    if (!CFG.criteria.length) {  // a model without the outputs the collapse tests read
      box.setAttribute("data-regime", "none");
      el("cs-badge").textContent = "";
      el("cs-verdict-text").textContent = "No collapse test applies to this model: it has none of the outputs they read." +
        (res.blowup ? " The run leaves the model's valid range in " + monthLabel(res.blowup.time) + " (" +
         res.blowup.variable + " becomes " + res.blowup.kind + ")." : "");
      return;
    }
    box.setAttribute("data-regime", rg.kind);
    el("cs-badge").textContent = {sustainable: "Sustainable", degraded: "Degraded", collapse: "Collapse"}[rg.kind];
    var text;
    if (rg.kind === "sustainable") {
      text = "None of the collapse tests is met up to " + END_LABEL + ".";
    } else if (rg.kind === "degraded") {
      text = "From " + monthLabel(rg.time) + ": " + rg.text + ". The workforce holds, but children wait far longer than the service was built for.";
    } else {
      text = "From " + monthLabel(rg.time) + ": " + rg.text + ".";
    }
    if (res.blowup) {
      text += " The run leaves the model's valid range in " + monthLabel(res.blowup.time) + " (" +
        res.blowup.variable + " becomes " + res.blowup.kind + ").";
    }
    el("cs-verdict-text").textContent = text;
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
  function writeFragment() {
    var f = fragment(S);
    var url = location.href.replace(/#.*$/, "") + (f ? "#" + f : "");
    try {
      history.replaceState(null, "", f ? "#" + f : location.pathname + location.search);
    } catch (e) { /* a page opened from some mail previews cannot change its address */ }
    el("cs-link").value = url;
  }

  // ---- controls ---------------------------------------------------------------------------------
  function el(id) { return document.getElementById(id); }
  function make(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }
  var CONTROLS = {};
  function monthInput(id, value, onChange) {
    var input = monthField(id, value);
    input.addEventListener("change", function () {
      var m = parseMonth(input.value);
      if (m !== null) onChange(clamp(m, T_FIRST, T_LAST));
    });
    return input;
  }
  function monthField(id, value) {
    if (START) {
      return make("input", {type: "month", id: id, value: monthValue(value),
                            min: monthValue(T_FIRST), max: monthValue(T_LAST)});
    }
    return make("input", {type: "number", id: id, value: String(value), min: String(T_FIRST),
                          max: String(T_LAST), step: "1"});
  }
  function buildSlider(s, parent) {
    var box = make("div", {"class": "cs-lever", "data-key": s.key});
    var id = "cs-lever-" + s.key;
    box.appendChild(make("label", {"for": id, "class": "cs-lever-name"}, s.label));
    if (s.meaning) box.appendChild(make("p", {"class": "cs-meaning"}, s.meaning));
    var row = make("div", {"class": "cs-row"});
    var wrap = make("div", {"class": "cs-range-wrap"});
    var range = make("input", {type: "range", id: id, min: String(s.lower), max: String(s.upper),
                               step: "any", value: String(s.start), "aria-describedby": id + "-units"});
    wrap.appendChild(range);
    if (s.tipping) {
      var pct = 100 * (s.tipping.value - s.lower) / (s.upper - s.lower);
      var mark = make("span", {"class": "cs-tip", "data-value": String(s.tipping.value),
                               style: "left: calc(" + pct.toFixed(2) + "% + " + (8 - 0.16 * pct).toFixed(2) + "px)",
                               title: "Tipping point: " + fmtSetting(s.tipping.value)});
      wrap.appendChild(mark);
    }
    row.appendChild(wrap);
    var num = make("input", {type: "number", "class": "cs-num", value: fmtSetting(s.start),
                             min: String(s.lower), max: String(s.upper), step: "any",
                             "aria-label": s.label + " value"});
    row.appendChild(num);
    box.appendChild(row);
    box.appendChild(make("p", {"class": "cs-units", id: id + "-units"}, s.units + "; from " +
                         fmtSetting(s.lower) + " to " + fmtSetting(s.upper)));
    var tipNote = null;
    if (s.tipping) {
      tipNote = make("p", {"class": "cs-tip-note"});
      box.appendChild(tipNote);
    }
    var fromRow = make("div", {"class": "cs-from"});
    var fromId = id + "-from";
    fromRow.appendChild(make("label", {"for": fromId}, "Applies from"));
    var from = monthInput(fromId, S.levers[s.key].from, function (m) { S.levers[s.key].from = m; schedule(); });
    fromRow.appendChild(from);
    box.appendChild(fromRow);
    range.addEventListener("input", function () {
      S.levers[s.key].value = snap(s, range.valueAsNumber);
      num.value = fmtSetting(S.levers[s.key].value);
      schedule();
    });
    num.addEventListener("change", function () {
      var v = parseFloat(num.value);
      if (!isFinite(v)) return;
      S.levers[s.key].value = clamp(v, s.lower, s.upper);
      schedule();
    });
    CONTROLS[s.key] = {range: range, num: num, from: from, tipNote: tipNote, box: box};
    parent.appendChild(box);
  }
  function syncControls() {
    CFG.sliders.forEach(function (s) {
      var c = CONTROLS[s.key], L = S.levers[s.key];
      if (document.activeElement !== c.range) c.range.value = String(L.value);
      if (document.activeElement !== c.num) c.num.value = fmtSetting(L.value);
      if (document.activeElement !== c.from) c.from.value = START ? monthValue(L.from) : String(L.from);
      c.box.classList.toggle("cs-changed", L.value !== s.start);
      if (c.tipNote) {
        var past = L.value >= s.tipping.value;
        c.box.classList.toggle("cs-past", past);
        c.tipNote.textContent = (past ? "Past the tipping point (" : "Tipping point at ") +
          fmtSetting(s.tipping.value) + (past ? "): " : ": ") +
          "beyond it the service cannot settle where it started (other settings as the page started).";
      }
    });
    CFG.shocks.forEach(function (sh) {
      el("cs-shock-" + sh.key).setAttribute("aria-pressed", S.shocks[sh.key] ? "true" : "false");
    });
    var sf = el("cs-shock-from");
    if (sf && document.activeElement !== sf) sf.value = START ? monthValue(S.shockFrom) : String(S.shockFrom);
    el("cs-compare").checked = S.compare;
  }
  function buildControls() {
    var levers = el("cs-levers"), demand = el("cs-demand");
    CFG.sliders.forEach(function (s) { buildSlider(s, s.group === "driver" ? demand : levers); });
    if (!CFG.sliders.some(function (s) { return s.group === "driver"; })) el("cs-demand-group").hidden = true;
    var shocks = el("cs-shocks");
    if (!CFG.shocks.length) el("cs-shocks-group").hidden = true;
    var fromRow = make("div", {"class": "cs-from"});
    fromRow.appendChild(make("label", {"for": "cs-shock-from"}, "Shocks start in"));
    fromRow.appendChild(monthInput("cs-shock-from", S.shockFrom, function (m) { S.shockFrom = m; schedule(); }));
    shocks.appendChild(fromRow);
    CFG.shocks.forEach(function (sh) {
      var b = make("button", {type: "button", "class": "cs-shock", id: "cs-shock-" + sh.key,
                              "aria-pressed": "false", title: sh.meaning}, sh.label);
      b.addEventListener("click", function () { S.shocks[sh.key] = !S.shocks[sh.key]; schedule(); });
      shocks.appendChild(b);
      shocks.appendChild(make("p", {"class": "cs-meaning"}, sh.meaning + "."));
    });
    el("cs-reset").addEventListener("click", function () { S = defaults(); schedule(); });
    el("cs-compare").addEventListener("change", function () { S.compare = el("cs-compare").checked; schedule(); });
    el("cs-copy").addEventListener("click", function () {
      var link = el("cs-link");
      link.select();
      var done = function () { el("cs-copy").textContent = "Copied"; };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(link.value).then(done, function () { document.execCommand("copy"); done(); });
      } else {
        document.execCommand("copy");
        done();
      }
    });
    el("cs-open").addEventListener("click", function () {
      S = readFragment(el("cs-paste").value);
      schedule();
    });
  }

  // ---- start ------------------------------------------------------------------------------------
  function start() {
    if (typeof Plotly === "undefined") {
      body.setAttribute("data-plots-failed", "plotly.js did not load");
      console.error("carespiral: plotly.js did not load; figures cannot be drawn");
      return;
    }
    var holder = el("cs-plots");
    CFG.panels.forEach(function (panel) {
      var fig = make("figure", {"class": "cs-figure"});
      var div = make("div", {"class": "cs-plot", id: "cs-plot-" + panel.key, style: "height: " + PLOT_HEIGHT + "px"});
      fig.appendChild(div);
      var cap = make("figcaption", {"class": "cs-cap"});
      fig.appendChild(cap);
      holder.appendChild(fig);
      PLOTS.push(div);
      panel.caption = cap;
    });
    S = readFragment(location.hash);
    buildControls();
    window.addEventListener("hashchange", function () {  // a link edited in the address bar
      if (location.hash.replace(/^#/, "") !== fragment(S)) { S = readFragment(location.hash); schedule(); }
    });
    BASE = runWith(defaults(), -1);
    judgeData(BASE);
    CFG.panels.forEach(function (panel) {
      var parts = ["How to read this: the line is the run with your settings"];
      if (NDRAWS) parts.push("the band holds 90% of " + NDRAWS + " plausible runs");
      var shown = panel.series.some(function (s, i) { return s.data.length && DATA_SHOWN[panel.key + ":" + i]; });
      var hidden = panel.series.some(function (s, i) { return s.data.length && !DATA_SHOWN[panel.key + ":" + i]; });
      if (shown) parts.push("circles are published figures" + (CFG.area ? " for " + CFG.area : ""));
      var text = parts.join("; ") + ".";
      if (panel.unitsNote) text += " " + panel.unitsNote;
      if (hidden) text += " Published figures" + (CFG.area ? " for " + CFG.area : "") + " are left out: they are on another scale from this model's.";
      panel.caption.textContent = text;
    });
    update();
  }

  window.carespiralSimulator = {
    config: CFG,
    state: function () { return copyState(S); },
    set: function (st) { S = complete(st); return update(); },
    setFragment: function (text) { S = readFragment(text); return update(); },
    fragment: function () { return fragment(S); },
    run: function (st, draw) { return runWith(complete(st), draw === undefined ? -1 : draw); },
    central: function () { return CENTRAL; },
    baseline: function () { return BASE; },
    regime: function () { return REGIME; },
    band: function () { return BAND; },
    counts: function () { return LAST_COUNTS; },
    regimeOf: regime,
    dataShown: function () { return Object.assign({}, DATA_SHOWN); },
    encode: function (arrays) {  // Float64Arrays -> one base64 string (exact, keeps NaN and inf)
      var n = arrays.reduce(function (a, x) { return a + x.length; }, 0), all = new Float64Array(n), k = 0;
      arrays.forEach(function (x) { all.set(x, k); k += x.length; });
      var bytes = new Uint8Array(all.buffer), s = "";
      for (var i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
      return btoa(s);
    },
    benchmark: function (batches, perBatch) {
      // milliseconds per run: the median over batches of each batch's mean (timer resolution
      // on a page opened from disk is coarse, so single runs are not timed one by one)
      var means = [];
      for (var b = 0; b < batches; b++) {
        var t = performance.now();
        for (var i = 0; i < perBatch; i++) runWith(S, -1);
        means.push((performance.now() - t) / perBatch);
      }
      means.sort(function (a, b2) { return a - b2; });
      return {median: means[(batches - 1) >> 1], min: means[0], batches: batches, perBatch: perBatch};
    },
  };
  start();
})();
