/* carespiral flight simulator, the page: controls, figures and the state they share.
 *
 * The logic (runs, verdict, band, link) is window.CarespiralSimCore (simulator_core.js); this
 * file builds the controls from the page's configuration (#cs-sim-config), keeps the settings,
 * reruns the model as they change and draws the figures with plotly.js.
 */
(function () {
  "use strict";
  var CFG = JSON.parse(document.getElementById("cs-sim-config").textContent);
  var M = window.CarespiralModel;
  var C = window.CarespiralSimCore(CFG, M);
  var PALETTE = CFG.palette;
  var body = document.body;
  var monthValue = C.monthValue;
  var parseMonth = C.parseMonth;
  var monthLabel = C.monthLabel;
  var dateLabel = C.dateLabel;
  var xAt = C.xAt;
  var xOfTime = C.xOfTime;
  var fmt = C.fmt;
  var fmtSetting = C.fmtSetting;
  var clamp = C.clamp;
  var snap = C.snap;
  var defaults = C.defaults;
  var copyState = C.copyState;
  var complete = C.complete;
  var runWith = C.runWith;
  var regime = C.regime;
  var drivers = C.drivers;
  var bandOf = C.bandOf;
  var fragment = C.fragment;
  var readFragment = C.readFragment;
  var lowerFirst = C.lowerFirst;
  var T_FIRST = C.T_FIRST;
  var T_LAST = C.T_LAST;
  var END_LABEL = C.END_LABEL;
  var START = C.START;
  var WATCH = C.WATCH;
  var NDRAWS = C.NDRAWS;
  var TIMES = C.TIMES;
  var NT = C.NT;
  var SLIDER = C.SLIDER;
  var S = defaults();

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
    if (CFG.drawsNote) el("cs-draws-note").textContent = CFG.drawsNote;
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
