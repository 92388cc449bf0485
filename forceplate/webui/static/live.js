/* The live page: force trace (uPlot), body weight, last rep and recent reps, fed by Server-Sent Events; the set
   (who records, today's plan, counts, summaries, rest timer) as every open page shows it; sound (sound.js).
   A rep that does not count (``counted: false``) is grey, said and left out of every count and sound.
   No inline scripts (the Content-Security-Policy forbids them); every value reaches the DOM as text. */
(function () {
  "use strict";

  var G_M_S2 = 9.80665;
  var body = document.body;
  var STREAM_URL = body.dataset.streamUrl;
  var LOGIN_URL = body.dataset.loginUrl || "/login";
  var THUMP_BW = parseFloat(body.dataset.thumpBw) || 2.5;
  var TRACE_S = parseFloat(body.dataset.traceS) || 10;
  var KEEP_S = TRACE_S + 1;          // a little more than shown, so the left edge never shows a gap
  var MAX_REPS_SHOWN = 12;
  var MAX_EVENTS_KEPT = 200;
  var STALL_S = 10;                  // no message for this long while sampling: the connection is dead
  var MATCH_S = 0.05;                // a pending impact and its final event: peaks this close are one rep
  var PENDING_GRACE_MESSAGES = 30;   // during a set, a pending rep waits this long for the set's own event

  var state = {
    t: [], f: [],                    // seconds since the plate started; total force in N (null: invalid)
    events: [],
    pending: [],                     // impacts not final yet (provisional verdicts), shown until confirmed
    bodyWeightN: null,
    latestT: null,
    running: true,
    status: "",
    stats: null,
    messages: 0,
    lastMessageAt: 0,
    connected: false
  };
  var plot = null;
  var dirty = true;

  // The set being shown (SetController's summary): its events replace the plate's, judged by its target.
  var sets = { shown: null, info: null, events: [], plateEvents: [], recording: false, answered: {}, state: "ready",
               selected: null, plan: null, planKey: null, last: null, restUntil: null, measuredAtStartN: null };
  var JUMP_NOTES = ["No jumps while waiting for clinician approval", "No jumps in clinician-approved mode"];
  var NOT_COUNTED_COLOUR = "#8a939e";
  var live = false;                  // false while a connection's first message (the backlog) is handled: no sounds

  // A rep that stands but does not count: a forbidden jump in clinician-approved mode (the set's own word,
  // ``counted: false``; older servers only put the note on it) or one the analysis withdrew.
  function isCounted(ev) { return !ev.withdrawn && ev.counted !== false && JUMP_NOTES.indexOf(ev.note) < 0; }
  function notCountedReason(ev) {
    if (ev.withdrawn) { return "withdrawn: a jump's push-off"; }
    return ev.not_counted_reason || (JUMP_NOTES.indexOf(ev.note) >= 0 ? "no jumps while waiting for clinician approval" : "not counted");
  }

  function thumpBw() { return sets.info && sets.info.target_bw ? sets.info.target_bw : THUMP_BW; }

  function $(id) { return document.getElementById(id); }

  function fmtClock(t) {
    if (t == null || !isFinite(t)) { return ""; }
    var sign = t < 0 ? "-" : "";
    t = Math.abs(t);
    var m = Math.floor(t / 60);
    var s = Math.floor(t - 60 * m);
    return sign + m + ":" + (s < 10 ? "0" : "") + s;
  }

  // Time into the set, to a tenth: "0:04.7".
  function fmtSetTime(t) {
    if (t == null || !isFinite(t)) { return ""; }
    var m = Math.floor(t / 60), s = t - 60 * m;
    return m + ":" + (s < 10 ? "0" : "") + s.toFixed(1);
  }

  // The wall-clock time of an instant (ms since 1970) in this browser's own format.
  function fmtWall(ms) {
    if (ms == null || !isFinite(ms)) { return ""; }
    return new Date(ms).toLocaleTimeString();
  }

  function fmtBw(x, thump) {
    if (x == null) { return "?"; }
    // One decimal, but never one that contradicts the verdict: a 2.46 BW soft rep must not read "2.5".
    if (thump === false && Math.round(x * 10) / 10 >= thumpBw()) { return (Math.floor(x * 10) / 10).toFixed(1); }
    return x.toFixed(1);
  }

  function inBw() { return state.bodyWeightN != null && state.bodyWeightN > 0; }

  function eventPeakDisplay(ev) {
    if (inBw()) {
      if (ev.peak_bw != null) { return ev.peak_bw; }
      return ev.peak_n == null ? null : ev.peak_n / state.bodyWeightN;
    }
    return ev.peak_n;
  }

  function methodNote(ev) {
    return ev.note || ev.method_note || ev.peak_method || ev.method || "";
  }

  /* ---- the chart ---- */

  function visibleMax() {
    var lo = state.latestT == null ? 0 : state.latestT - TRACE_S;
    var max = 0;
    for (var i = state.t.length - 1; i >= 0 && state.t[i] >= lo; i--) {
      if (state.f[i] != null && state.f[i] > max) { max = state.f[i]; }
    }
    if (inBw()) { max = max / state.bodyWeightN; }
    state.events.concat(state.pending).forEach(function (ev) {   // every marker, and the top of its range
      if (ev.t_peak_s == null || ev.t_peak_s < lo) { return; }
      var v = dotHigh(ev);
      if (v != null && v > max) { max = v; }
    });
    return max;
  }

  // The highest point a rep's marker reaches on the chart's scale (its estimate's upper bound if it has one).
  function dotHigh(ev) {
    var v = eventPeakDisplay(ev);
    if (v == null) { return null; }
    var hi = inBw() ? ev.peak_high_bw : ev.peak_high_n;
    return hi != null && hi > v ? hi : v;
  }

  function yRange() {
    var max = visibleMax();
    if (inBw()) {
      var top = Math.max(thumpBw() + 1, Math.ceil(max * 1.1 + 0.4));
      return [0, top];
    }
    return [0, Math.max(1500, Math.ceil(max * 1.15 / 500) * 500)];
  }

  // The x axis: time into the set while one is shown, else seconds before now; never the server's uptime.
  function axisLabel(v) {
    if (sets.shown !== null && sets.info && sets.info.plate_offset_s != null) {
      var t = v - sets.info.plate_offset_s;
      return t < 0 ? "" : fmtClock(t);
    }
    if (state.latestT == null) { return ""; }
    var ago = Math.round(v - state.latestT);
    return ago === 0 ? "now" : ago + " s";
  }

  function xRange() {
    // The first seconds fill the chart from the left, like paper; then it scrolls.
    var end = Math.max(TRACE_S, state.latestT == null ? 0 : state.latestT);
    return [end - TRACE_S, end];
  }

  // A rep's marker: green for a counted thump (or a sit-to-stand on tempo), amber too soft, white unjudged,
  // grey for one that does not count.
  function markerStyle(ev, pending) {
    var waiting = !pending && unsettled(ev);
    var counted = pending ? !pendingIsJump(ev) : isCounted(ev) && !(waiting && ev.pushOff);
    var thump = !counted || waiting || offTempo(ev) ? null : (pending ? pendingThump(ev) :
      (ev.kind === "sit-to-stand" ? (ev.tempo ? ev.tempo === GOOD_TEMPO : null) : ev.thump));
    var colour = !counted ? NOT_COUNTED_COLOUR : (thump === true ? "#2fd46b" : (thump === false ? "#ffb020" : "#ffffff"));
    return { counted: counted, thump: thump, colour: colour };
  }

  function drawOverlay(u) {
    var ctx = u.ctx;
    var px = uPlot.pxRatio;
    var left = u.bbox.left, right = u.bbox.left + u.bbox.width;
    ctx.save();
    if (inBw()) {                     // the thump line: where a rep starts to count
      var y = u.valToPos(thumpBw(), "y", true);
      ctx.strokeStyle = "#2fd46b";
      ctx.lineWidth = 2 * px;
      ctx.setLineDash([10 * px, 8 * px]);
      ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(right, y); ctx.stroke();
      ctx.setLineDash([]);
      ctx.fillStyle = "#2fd46b";
      ctx.font = "bold " + Math.round(16 * px) + "px system-ui, sans-serif";
      ctx.textAlign = "left";             // at the left: the newest reps' labels are at the right
      ctx.textBaseline = "top";
      ctx.fillText((sets.info ? "target " : "thump ") + thumpBw().toFixed(1) + " BW", left + 6 * px, y + 4 * px);
    }
    var x0 = xRange()[0];
    function marker(ev, pending) {
      var value = eventPeakDisplay(ev);
      if (ev.t_peak_s == null || value == null || ev.t_peak_s < x0 || ev.withdrawn) { return; }
      var style = markerStyle(ev, pending), counted = style.counted, thump = style.thump, colour = style.colour;
      var x = u.valToPos(ev.t_peak_s, "x", true);
      var yv = u.valToPos(value, "y", true);
      var lo = inBw() ? ev.peak_low_bw : ev.peak_low_n, hi = inBw() ? ev.peak_high_bw : ev.peak_high_n;
      var estimate = lo != null && hi != null;
      ctx.globalAlpha = pending ? 0.6 : 1;       // a provisional verdict: fainter, dashed, "..." after it
      if (estimate) {                            // an estimated true peak: its plausible range as a bar
        var y1 = u.valToPos(lo, "y", true), y2 = u.valToPos(hi, "y", true);
        ctx.strokeStyle = colour; ctx.lineWidth = 3 * px;
        ctx.beginPath(); ctx.moveTo(x, y1); ctx.lineTo(x, y2); ctx.stroke();
        ctx.beginPath(); ctx.moveTo(x - 6 * px, y1); ctx.lineTo(x + 6 * px, y1);
        ctx.moveTo(x - 6 * px, y2); ctx.lineTo(x + 6 * px, y2); ctx.stroke();
      }
      ctx.fillStyle = colour;
      ctx.strokeStyle = "#000000";
      ctx.lineWidth = 2 * px;
      if (pending) { ctx.setLineDash([3 * px, 3 * px]); }
      ctx.beginPath(); ctx.arc(x, yv, 8 * px, 0, 2 * Math.PI);
      if (estimate || !counted) {                // a ring: estimated (or not counted), not a reading of the line
        ctx.lineWidth = 4 * px; ctx.strokeStyle = colour; ctx.stroke();
      } else { ctx.fill(); ctx.stroke(); }
      ctx.setLineDash([]);
      ctx.strokeStyle = "#000000";
      ctx.font = "bold " + Math.round(22 * px) + "px system-ui, sans-serif";
      ctx.textAlign = "center";
      ctx.textBaseline = "bottom";
      var label = (!counted ? "\u00d7 " : "") + (inBw() ? fmtBw(value, thump) : Math.round(value) + " N") +
        (pending ? "\u2026" : "");
      var ty = Math.max(u.bbox.top + 24 * px, yv - 12 * px), tx = x;
      if (estimate) {                            // beside the range bar, not across it
        ctx.textAlign = x > right - 80 * px ? "right" : "left";
        tx = x + (ctx.textAlign === "left" ? 12 : -12) * px;
        ty = yv + 8 * px;
      }
      ctx.lineWidth = 4 * px;
      ctx.strokeText(label, tx, ty);
      ctx.fillText(label, tx, ty);
      ctx.globalAlpha = 1;
    }
    state.events.forEach(function (ev) { marker(ev, false); });
    state.pending.forEach(function (ev) { marker(ev, true); });
    ctx.restore();
  }

  function makePlot() {
    var el = $("chart");
    var axisFont = "16px system-ui, sans-serif";
    var opts = {
      width: Math.max(200, el.clientWidth),
      height: Math.max(120, el.clientHeight),
      legend: { show: false },
      cursor: { show: false },
      scales: {
        x: { time: false, range: function () { return xRange(); } },
        y: { range: function () { return yRange(); } }
      },
      axes: [
        { stroke: "#c9d1da", font: axisFont, size: 36, grid: { stroke: "#2a313a", width: 1 },
          ticks: { stroke: "#2a313a" }, values: function (u, vals) { return vals.map(axisLabel); } },
        { stroke: "#c9d1da", font: axisFont, size: 64, grid: { stroke: "#2a313a", width: 1 },
          ticks: { stroke: "#2a313a" },
          values: function (u, vals) {
            return vals.map(function (v) { return inBw() ? v.toFixed(1) : String(Math.round(v)); });
          } }
      ],
      series: [
        {},
        { stroke: "#6cc4ff", width: 3, points: { show: false }, spanGaps: false }
      ],
      hooks: { draw: [drawOverlay] }
    };
    plot = new uPlot(opts, [[], []], el);
    if (window.ResizeObserver) {
      new ResizeObserver(function () {
        plot.setSize({ width: Math.max(200, el.clientWidth), height: Math.max(120, el.clientHeight) });
        dirty = true;
      }).observe(el);
    }
  }

  function render() {
    if (dirty && plot) {
      dirty = false;
      var y = state.f;
      if (inBw()) {
        var bw = state.bodyWeightN;
        y = state.f.map(function (v) { return v == null ? null : v / bw; });
      }
      plot.setData([state.t, y], true);
    }
    window.requestAnimationFrame(render);
  }

  /* ---- the panels ---- */

  // The body weight a set uses, and where it comes from: the set's own ``body_weight`` {kg, source, plate_kg,
  // profile_kg, warning} when the server sends it, else the profile's mass against what the plate weighed.
  function setBodyWeight(info) {
    if (!info) { return null; }
    if (info.body_weight && info.body_weight.kg != null) { return info.body_weight; }
    if (!info.body_mass_kg) { return null; }
    var plateKg = sets.measuredAtStartN ? sets.measuredAtStartN / G_M_S2 : null;
    var bw = { kg: info.body_mass_kg, source: "profile", profile_kg: info.body_mass_kg, plate_kg: plateKg, warning: null };
    if (plateKg != null && Math.abs(plateKg - info.body_mass_kg) >= Math.max(2, 0.03 * info.body_mass_kg)) {
      bw.warning = "The plate weighed " + plateKg.toFixed(1) + " kg; this set uses the profile's " +
        info.body_mass_kg.toFixed(1) + " kg. Update the profile if it is out of date.";
    }
    return bw;
  }

  function showBodyWeight() {
    var value = $("bw-value"), detail = $("bw-detail"), warning = $("bw-warning");
    var used = sets.shown !== null ? setBodyWeight(sets.info) : null;
    warning.hidden = !(used && used.warning);
    warning.textContent = used && used.warning ? used.warning : "";
    if (inBw()) {
      value.textContent = (state.bodyWeightN / G_M_S2).toFixed(1) + " kg";
      if (used) {
        var src = used.source === "plate" ? "weighed on the plate" : (used.source === "profile" ? "from the profile" : used.source);
        var parts = ["this set uses " + used.kg.toFixed(1) + " kg, " + src];
        if (used.plate_kg != null && used.source !== "plate") { parts.push("plate " + used.plate_kg.toFixed(1) + " kg"); }
        if (used.profile_kg != null && used.source !== "profile") { parts.push("profile " + used.profile_kg.toFixed(1) + " kg"); }
        detail.textContent = parts.join(" \u00b7 ");
      } else {
        detail.textContent = "weighed on the plate \u00b7 " + Math.round(state.bodyWeightN) + " N";
      }
      $("trace-unit").textContent = "Force (body weights)";
    } else {
      value.textContent = "Stand still to be weighed\u2026";
      detail.textContent = "";
      $("trace-unit").textContent = "Force (N)";
    }
  }

  // A sit-to-stand rep's numbers: rise and sit-down times, peak, mean power (an estimate, Alcazar 2018).
  function sitToStandNote(ev) {
    var parts = [];
    if (ev.rise_s != null) { parts.push("up " + ev.rise_s.toFixed(1) + " s " + (ev.is_fast_rise ? "\u2713 fast" : "\u2717 not fast (\u2264 1 s)")); }
    if (ev.lowering_s != null) { parts.push("down " + ev.lowering_s.toFixed(1) + " s " + (ev.is_slow_lowering ? "\u2713 slow" : "\u2717 not slow (\u2265 2 s)")); }
    if (ev.mean_power_w != null) {
      parts.push("mean power " + Math.round(ev.mean_power_w) + " W (" + ev.mean_power_w_kg.toFixed(1) + " W/kg, estimate)");
    } else {
      parts.push("no power: body and chair height not given");
    }
    return parts.join(" \u00b7 ");
  }

  function repTitle(ev) {
    if (ev.kind === "sit-to-stand") { return "Sit-to-stand"; }
    if (ev.kind === "jump") {
      var h = ev.height_flight_m;
      return h == null ? "Jump" : "Jump " + Math.round(h * 100) + " cm";
    }
    return "Impact";
  }

  var GOOD_TEMPO = "fast up, slow down";

  // In the clinician-approved mode a heel drop's verdict waits until the trace shows no take-off after it
  // (SETTLE_S): a jump's push-off looks like a heel drop until the take-off, and must never read THUMP.
  var SETTLE_S = 0.6;
  function unsettled(ev) {
    if (ev.settled || ev.withdrawn || ev.kind !== "impact" || !isCounted(ev) || ev.t_peak_s == null) { return false; }
    if (!(sets.recording && sets.info && sets.info.restricted && sets.events.indexOf(ev) >= 0)) { return false; }
    var limit = 0.25 * (sets.measuredAtStartN || state.bodyWeightN || 0);
    for (var i = state.t.length - 1; i >= 0 && state.t[i] > ev.t_peak_s; i--) {
      if (state.t[i] <= ev.t_peak_s + SETTLE_S && state.f[i] != null && state.f[i] < limit) { ev.pushOff = true; }
    }
    if (!ev.pushOff && state.latestT != null && state.latestT >= ev.t_peak_s + SETTLE_S) {
      ev.settled = true;
      sound(ev);
      return false;
    }
    return true;
  }

  // A sit-to-stand set is judged by its tempo: an impact in it gets no impact verdict.
  function offTempo(ev) {
    return ev.kind !== "sit-to-stand" && sets.info && sets.info.exercise === "sit-to-stand" && sets.events.indexOf(ev) >= 0;
  }

  function verdict(ev) {
    if (ev.withdrawn) { return { text: "withdrawn: a jump's push-off", cls: "none" }; }
    if (offTempo(ev)) { return { text: "not a sit-to-stand", cls: "none" }; }
    if (unsettled(ev)) { return ev.pushOff ? { text: "NO JUMPS\u2026", cls: "nocount" } : { text: "checking\u2026", cls: "none" }; }
    if (!isCounted(ev)) { return { text: JUMP_NOTES.indexOf(ev.note) >= 0 || /jump/i.test(ev.not_counted_reason || "") ? "NO JUMPS: not counted" : "NOT COUNTED", cls: "nocount" }; }
    if (ev.kind === "sit-to-stand") {
      if (!ev.tempo) { return { text: "rise " + (ev.rise_s != null ? ev.rise_s.toFixed(1) + " s" : "seen"), cls: "none" }; }
      return ev.tempo === GOOD_TEMPO ? { text: "FAST UP, SLOW DOWN", cls: "thump" } : { text: ev.tempo, cls: "soft" };
    }
    if (ev.thump === true) { return { text: "THUMP", cls: "thump" }; }
    if (ev.thump === false) { return { text: "too soft", cls: "soft" }; }
    return { text: "not weighed yet", cls: "none" };
  }

  function repPeakText(ev) {
    if (ev.kind === "sit-to-stand" && ev.rise_s != null) { return "up " + ev.rise_s.toFixed(2) + " s"; }
    if (ev.peak_bw != null) { return fmtBw(ev.peak_bw, ev.thump) + " BW"; }
    if (ev.peak_n != null) { return Math.round(ev.peak_n) + " N"; }
    return "no landing";
  }

  function eventT(ev) { return ev.t_peak_s != null ? ev.t_peak_s : ev.takeoff_s; }

  // A pending impact is judged against the target shown (a set's own, or the plate's thump line). In the
  // clinician-approved mode a landing after a flight will not count: never a provisional THUMP for it.
  function pendingThump(ev) {
    if (ev.peak_bw == null || pendingIsJump(ev)) { return null; }
    if (restrictedSet() && (state.latestT == null || state.latestT < ev.t_peak_s + SETTLE_S)) { return null; }
    return sets.info && sets.recording ? ev.peak_bw >= thumpBw() : ev.thump;
  }

  function restrictedSet() { return !!(sets.recording && sets.info && sets.info.restricted); }

  // In a restricted set: was the plate (nearly) empty in the 1.5 s before this peak (a landing) or within
  // SETTLE_S after it (a push-off)?
  function pendingIsJump(ev) {
    if (!restrictedSet()) { return false; }
    if (!state.bodyWeightN || ev.t_peak_s == null) { return false; }
    var limit = 0.25 * (sets.measuredAtStartN || state.bodyWeightN);
    for (var i = state.t.length - 1; i >= 0; i--) {
      var t = state.t[i];
      if (t > ev.t_peak_s + SETTLE_S) { continue; }
      if (t < ev.t_peak_s - 1.5) { break; }
      if (state.f[i] != null && state.f[i] < limit) { return true; }
    }
    return false;
  }

  function matchesAny(list, p) {
    return list.some(function (ev) { return ev.t_peak_s != null && Math.abs(ev.t_peak_s - p.t_peak_s) <= MATCH_S; });
  }

  // The pending impacts to show now: the server's current list (it sends it whole every time) minus those
  // whose final event is here. One that left the list without a final event was a push-off: dropped. During
  // a set, one whose plate event is final but not yet the set's waits a little for it.
  function updatePending(incoming) {
    // a sit-to-stand set has no impacts to judge: the plate's provisional ones are not shown in it
    var showing = (sets.shown === null || sets.recording) && !(sets.recording && sets.info && sets.info.exercise === "sit-to-stand");
    var next = [];
    if (showing) {
      (incoming || []).forEach(function (p) {
        if (p.t_peak_s != null && !matchesAny(state.events, p)) { next.push(p); }
      });
      if (sets.shown !== null) {
        state.pending.forEach(function (p) {
          if (!matchesAny(next, p) && !matchesAny(state.events, p) && matchesAny(sets.plateEvents, p) &&
              (p.graceMessages = (p.graceMessages || 0) + 1) <= PENDING_GRACE_MESSAGES) { next.push(p); }
        });
        next.sort(function (a, b) { return a.t_peak_s - b.t_peak_s; });
      }
    }
    var before = state.pending.map(function (p) { return p.key + ":" + p.peak_n; }).join(",");
    var after = next.map(function (p) { return p.key + ":" + p.peak_n; }).join(",");
    state.pending = next;
    return before !== after;
  }

  // When a rep happened: time into the set and the wall-clock time, in this browser's format.
  function whenText(ev) {
    var parts = [];
    if (ev.t_set_s != null) { parts.push(fmtSetTime(ev.t_set_s) + " into the set"); }
    if (ev.wall_ms != null) { parts.push(fmtWall(ev.wall_ms)); }
    return parts.join(" \u00b7 ");
  }

  function showLastRep() {
    var ev = state.events.length ? state.events[state.events.length - 1] : null;
    var latest = state.pending.length ? state.pending[state.pending.length - 1] : null;
    var pending = latest !== null && (ev === null || eventT(ev) == null || latest.t_peak_s > eventT(ev));
    if (pending) { ev = latest; }
    var peak = $("last-peak"), v = $("last-verdict"), note = $("last-note"), why = $("last-why"), caution = $("last-caution");
    peak.classList.toggle("provisional", pending);
    v.classList.toggle("provisional", pending);
    why.hidden = true; caution.hidden = true;
    if (!ev) {
      peak.textContent = "\u2013";
      v.textContent = "No reps yet";
      v.className = "verdict verdict-none";
      note.textContent = "";
      $("last-when").textContent = "";
      return;
    }
    peak.textContent = "";
    if (ev.kind === "sit-to-stand") {
      peak.textContent = repPeakText(ev);
    } else if (ev.peak_bw != null) {
      peak.appendChild(document.createTextNode(fmtBw(ev.peak_bw, ev.thump) + " "));
      var unit = document.createElement("small");
      unit.textContent = "BW";
      peak.appendChild(unit);
    } else {
      peak.textContent = repPeakText(ev);
    }
    var vd;
    if (pending) {
      vd = pendingIsJump(ev) ? { text: "NO JUMPS", cls: "nocount" } : verdict({ thump: pendingThump(ev) });
      if (vd.cls === "none") { vd.text = "checking"; }
    } else {
      vd = verdict(ev);
    }
    v.textContent = vd.text + (pending ? "\u2026" : "");
    v.className = "verdict verdict-" + vd.cls + (pending || /\u2026$/.test(vd.text) ? " provisional" : "");
    peak.classList.toggle("not-counted", !pending && !isCounted(ev));
    if (!pending && !isCounted(ev)) {
      why.textContent = "Not counted: " + notCountedReason(ev);
      why.hidden = false;
    } else if (ev.kind === "sit-to-stand") {
      why.textContent = sitToStandNote(ev);
      why.hidden = false;
    }
    if (!pending && ev.caution && ev.kind !== "sit-to-stand") {
      caution.textContent = "CAUTION: " + fmtBw(ev.peak_bw) + " BW is a very hard landing. Land softer.";
      caution.hidden = false;
    }
    var when = whenText(ev);
    $("last-when").textContent = repTitle(ev) + (when ? " \u00b7 " + when : "") + (pending ? " \u00b7 checking\u2026" : "");
    var parts = [];
    if (ev.loading_rate_bw_s != null) { parts.push("loading rate " + Math.round(ev.loading_rate_bw_s) + " BW/s"); }
    if (ev.peak_low_bw != null && ev.peak_high_bw != null) {
      parts.push("estimated true peak " + fmtBw(ev.peak_bw) + " BW, plausible " + ev.peak_low_bw.toFixed(1) + "\u2013" +
                 ev.peak_high_bw.toFixed(1) + " BW");
    }
    var m = ev.kind === "sit-to-stand" ? (ev.power_method || "") : methodNote(ev);
    if (m) { parts.push(m); }
    note.textContent = parts.join(" \u00b7 ");
  }

  function repCounts(events) {
    var counted = events.filter(function (ev) { return isCounted(ev) && !unsettled(ev); });
    var notCounted = events.filter(function (ev) { return !ev.withdrawn && !isCounted(ev); }).length;
    return { reps: counted.length, notCounted: notCounted,
             thumps: counted.filter(function (ev) { return ev.kind !== "sit-to-stand" && !offTempo(ev) && ev.thump === true; }).length,
             tempo: counted.filter(function (ev) { return ev.tempo === GOOD_TEMPO; }).length,
             withdrawn: events.filter(function (ev) { return ev.withdrawn; }).length };
  }

  function showReps() {
    var list = $("rep-list");
    var reps = state.events.slice(-MAX_REPS_SHOWN).reverse();
    list.textContent = "";
    reps.forEach(function (ev) {
      var vd = verdict(ev);
      var li = document.createElement("li");
      li.className = "rep rep-" + vd.cls + (ev.caution ? " rep-caution" : "");
      li.dataset.seq = ev.seq;
      var p = document.createElement("div"); p.className = "rep-peak"; p.textContent = repPeakText(ev);
      var w = document.createElement("div"); w.className = "rep-verdict"; w.textContent = vd.text;
      li.appendChild(p); li.appendChild(w);
      if (ev.caution && isCounted(ev) && ev.kind !== "sit-to-stand") {
        var c = document.createElement("div"); c.className = "rep-caution-text"; c.textContent = "CAUTION: very hard";
        li.appendChild(c);
      }
      var meta = document.createElement("div"); meta.className = "rep-meta";
      meta.textContent = repTitle(ev) + (ev.t_set_s != null ? " \u00b7 " + fmtSetTime(ev.t_set_s) : "") +
        (ev.wall_ms != null ? " \u00b7 " + fmtWall(ev.wall_ms) : "");
      li.appendChild(meta);
      list.appendChild(li);
    });
    $("rep-empty").hidden = state.events.length > 0;
    var c = repCounts(state.events);
    var any = c.reps + c.notCounted + c.withdrawn;
    $("rep-counts").textContent = any ?
      plural(c.reps, "rep", "reps") + ", " + plural(c.thumps, "thump", "thumps") +
      (c.notCounted ? ", " + c.notCounted + " not counted" : "") + (c.withdrawn ? ", " + c.withdrawn + " withdrawn" : "") : "";
  }

  function showStats() {
    var s = state.stats;
    if (!s) { return; }
    var parts = [];
    if (s.rate_hz != null) { parts.push(s.rate_hz.toFixed(1) + " sets/s measured"); }
    parts.push(s.sets + " sets");
    var flagged = s.flagged || [];
    if (flagged.some(function (n) { return n > 0; })) {
      parts.push("bad words per cell: " + flagged.join(" / ") +
        (s.flag_names ? " (" + s.flag_names.filter(Boolean).join("; ") + ")" : ""));
    }
    if (s.dropped) { parts.push(s.dropped + " sets dropped"); }
    $("stats-text").textContent = parts.join(" \u00b7 ");
  }

  function showSamplerProblem() {
    var banner = $("sampler-problem");
    if (state.running) { banner.hidden = true; return; }
    fetch("/api/live/status", { cache: "no-store" }).then(function (r) { return r.json(); }).then(function (st) {
      banner.textContent = st.status;
      banner.className = "banner " + (st.error ? "banner-fallback" : "banner-connection");
      banner.hidden = false;
    }).catch(function () { /* the connection indicator covers this */ });
  }

  function applyPlate(plate) {
    if (!plate) { return; }
    $("source-text").textContent = plate.source;
    $("kernel-text").textContent = plate.kernel;
  }

  /* ---- the stream ---- */

  function trim() {
    var lo = state.latestT - KEEP_S;
    var i = 0;
    while (i < state.t.length && state.t[i] < lo) { i++; }
    if (i > 0) { state.t.splice(0, i); state.f.splice(0, i); }
  }

  function handle(msg) {
    state.messages += 1;
    state.lastMessageAt = Date.now();
    for (var i = 0; i < msg.t.length; i++) {
      if (state.latestT != null && msg.t[i] <= state.latestT) { continue; }
      state.t.push(msg.t[i]);
      state.f.push(msg.f[i]);
      state.latestT = msg.t[i];
    }
    if (state.latestT != null) { trim(); }
    var setChanged = msg.set ? applySet(msg.set) : false;
    // during (and after) a set, its person's entered body mass is the scale, as for the set's verdicts
    if (!sets.recording) { sets.plateBodyWeightN = msg.body_weight_n; }
    var used = sets.shown !== null ? setBodyWeight(sets.info) : null;
    var bw = used ? used.kg * G_M_S2 : msg.body_weight_n;
    var bwChanged = bw !== state.bodyWeightN || setChanged;
    state.bodyWeightN = bw;
    if (bwChanged) { showBodyWeight(); }
    var newEvents = msg.events && msg.events.length;
    if (newEvents) {
      msg.events.forEach(function (ev) {
        if (ev.kind === "withdrawn") { withdraw(sets.plateEvents, { t_peak_s: ev.t_peak_s, reason: ev.reason }); }
        else {
          if (ev.t_peak_s != null && state.latestT != null) { ev.wall_ms = Date.now() - (state.latestT - ev.t_peak_s) * 1000; }
          sets.plateEvents.push(ev);
          if (sets.shown === null) { sound(ev); }
        }
      });
      if (sets.plateEvents.length > MAX_EVENTS_KEPT) { sets.plateEvents.splice(0, sets.plateEvents.length - MAX_EVENTS_KEPT); }
    }
    if (setChanged) { newEvents = true; }
    state.events = sets.shown !== null ? sets.events : sets.plateEvents;
    var pendingChanged = updatePending(msg.pending);
    var waiting = sets.events.some(function (ev) { return ev.kind === "impact" && !ev.settled && unsettled(ev); });
    if (newEvents || bwChanged || waiting || sets.wasWaiting) { showLastRep(); showReps(); } else if (pendingChanged) { showLastRep(); }
    sets.wasWaiting = waiting;
    if (msg.status !== state.status) { state.status = msg.status; $("plate-status").textContent = msg.status; }
    state.stats = msg.stats;
    showStats();
    if (msg.running !== state.running) { state.running = msg.running; showSamplerProblem(); }
    dirty = true;
  }

  // A session that ended (12 hours, a new password, signed out elsewhere) refuses the stream: sign in again.
  function signInAgainIfSignedOut() {
    fetch("/api/live/status", { cache: "no-store" }).then(function (r) {
      if (r.status === 401) { window.location.assign(LOGIN_URL); }
    }).catch(function () { /* the server is away: the connection indicator covers this */ });
  }

  function setConnected(ok) {
    state.connected = ok;
    $("connection-lost").hidden = ok;
  }

  var source = null;
  var retryTimer = null;

  function connect() {
    if (retryTimer) { clearTimeout(retryTimer); retryTimer = null; }
    if (source) { source.close(); }
    source = new EventSource(STREAM_URL);
    source.addEventListener("hello", function (e) {
      var msg = JSON.parse(e.data);
      // Every connection starts afresh: the server sends the last seconds of trace and recent events.
      state.t = []; state.f = []; state.events = []; state.pending = []; state.latestT = null;
      state.bodyWeightN = undefined;
      sets.plateEvents = []; if (msg.set) { sets.shown = null; sets.events = []; }
      applyPlate(msg.plate);
      live = false;
      handle(msg);
      live = true;
      showLastRep(); showReps();
      setConnected(true);
    });
    source.onmessage = function (e) { handle(JSON.parse(e.data)); setConnected(true); };
    source.addEventListener("bye", function () { connect(); });   // a planned end: reconnect at once
    source.onerror = function () {
      setConnected(false);
      if (source.readyState === EventSource.CLOSED) {   // the browser gave up (e.g. HTTP 503): we retry
        retryTimer = setTimeout(connect, 3000);
        signInAgainIfSignedOut();
      }
    };
  }

  // A silent network (a pulled cable) can leave the socket open with nothing arriving.
  setInterval(function () {
    if (state.connected && state.running && Date.now() - state.lastMessageAt > STALL_S * 1000) {
      setConnected(false);
      connect();
    }
  }, 2000);

  /* ---- the set: start, stop, "did anything hurt?" ---- */

  var CSRF = (document.querySelector('meta[name="csrf-token"]') || {}).content;

  function post(url, data) {
    var body = new URLSearchParams();
    Object.keys(data || {}).forEach(function (k) { body.append(k, data[k]); });
    return fetch(url, { method: "POST", body: body, cache: "no-store",
                        headers: { "X-CSRF-Token": CSRF, "Accept": "application/json" } })
      .then(function (r) {
        if (r.status === 401) { window.location.assign(LOGIN_URL); }
        return r.json().then(function (j) { if (!r.ok) { throw new Error(j.error || ("error " + r.status)); } return j; });
      });
  }

  function showSetError(text) {
    var el = $("set-error");
    if (!el) { return; }
    el.hidden = !text;
    el.textContent = text ? text.charAt(0).toUpperCase() + text.slice(1).replace(/\.?$/, ".") : "";
  }

  function plural(n, one, many) { return n + " " + (n === 1 ? one : many); }

  // A withdrawal takes back the rep sent with that peak time: marked withdrawn (not counted), and said.
  function withdraw(list, w) {
    list.forEach(function (e) {
      if (e.kind === "impact" && e.t_peak_s != null && Math.abs(e.t_peak_s - w.t_peak_s) < 0.02) {
        e.withdrawn = true; e.thump = null;
      }
    });
    showCorrection(correctionText(w.reason));
  }

  function correctionText(reason) {
    reason = (reason || "").replace(/^\s+|\s+$/g, "");
    return "Corrected: " + (reason || "that was not a rep");
  }

  function showCorrection(text) {
    var el = $("correction");
    if (!el) { return; }
    el.textContent = text;
    el.hidden = !text;
  }

  function exerciseChoices() {
    var person = $("set-person"), select = $("set-exercise");
    if (!person || !select) { return; }
    var option = person.options[person.selectedIndex];
    var names = option && option.dataset.exercises ? option.dataset.exercises.split(" ") : [];
    if (!names.length) { return; }
    var labels = JSON.parse(select.dataset.labels || "{}");
    var before = select.value;
    select.textContent = "";
    names.forEach(function (name) {
      var o = document.createElement("option");
      o.value = name; o.textContent = labels[name] || name;
      select.appendChild(o);
    });
    select.value = names.indexOf(before) >= 0 && before !== "free" ? before : names[0];
  }

  function labelOf(exercise) {
    var select = $("set-exercise");
    var labels = select ? JSON.parse(select.dataset.labels || "{}") : {};
    return labels[exercise] || exercise;
  }

  function planExercise(plan, exercise) {
    if (!plan || !plan.exercises) { return null; }
    for (var i = 0; i < plan.exercises.length; i++) { if (plan.exercises[i].exercise === exercise) { return plan.exercises[i]; } }
    return null;
  }

  // The set's counts: of the set's events as this page has them (every page gets them all), leaving out those
  // that do not count and, in the clinician-approved mode, a heel drop not yet clear of being a push-off.
  function setCounts(info) {
    return repCounts(sets.events);
  }

  // "Heel drops · set 1 of 2 · rep 7 of 10" while a set records; what comes next otherwise.
  function guideText() {
    var info = sets.info, plan = sets.plan;
    if (sets.recording && info) {
      var p = info.plan || {};
      var pe = planExercise(plan, info.exercise);
      var label = p.label || info.exercise_label || labelOf(info.exercise);
      var setNumber = p.set_number || (pe ? Math.min(pe.sets_done + 1, Math.max(pe.sets_planned, pe.sets_done + 1)) : null);
      var setsPlanned = p.sets_planned || (pe ? pe.sets_planned : null);
      var repsPlanned = p.reps_planned || info.reps_per_set || (pe ? pe.reps_per_set : null);
      var c = setCounts(info);
      var parts = [info.person + ": " + label];
      if (info.exercise !== "free" && setNumber && setsPlanned) { parts.push("set " + setNumber + " of " + setsPlanned); }
      parts.push("rep " + c.reps + (repsPlanned && info.exercise !== "free" ? " of " + repsPlanned : ""));
      return parts.join(" \u00b7 ");
    }
    if (plan && plan.next) {
      var e = planExercise(plan, plan.next.exercise);
      return "Next for " + plan.person + ": " + (e ? e.label : labelOf(plan.next.exercise)) + " \u00b7 set " +
        plan.next.set_number + (e ? " of " + e.sets_planned : "");
    }
    if (plan) { return plan.today && plan.today.sets ? plan.person + ": today\u2019s plan is done" : plan.person + ": free recording"; }
    return "Live plate";
  }

  function showGuide() {
    var text = guideText();
    if ($("guide").textContent !== text) { $("guide").textContent = text; }
  }

  function showSetStatus() {
    var status = $("set-status");
    showGuide();
    showWho();
    if (!status) { return; }
    var info = sets.info, rec = sets.recording;
    $("start-set").hidden = rec;
    $("stop-form").hidden = !rec;
    $("set-person").disabled = rec;
    if ($("set-exercise")) { $("set-exercise").disabled = rec; }
    var mode = $("set-mode");
    showCap();
    if (!info) {
      status.textContent = sets.state === "fault" ? "Recording is not possible: " + (sets.fault || "a fault") :
        "No set recording: choose a person and press Start set.";
      mode.hidden = !(sets.plan && sets.plan.restricted);
      mode.textContent = sets.plan && sets.plan.restricted ? restrictedText(sets.plan.restriction_reasons) : "";
      $("set-detail").textContent = "";
      return;
    }
    var c = setCounts(info);
    var tempo = info.exercise === "sit-to-stand";
    status.textContent = (rec ? "Recording: " : "Set ended: ") +
      c.reps + (info.reps_per_set ? " of " + info.reps_per_set : "") + " reps \u00b7 " +
      (tempo ? "target " + info.target : plural(c.thumps, "thump", "thumps") + " (target " + info.target_bw.toFixed(1) + " BW)") +
      (c.notCounted ? " \u00b7 " + c.notCounted + " not counted" : "");
    var detail = [info.person];
    if (info.exercise_label) { detail.push(info.exercise_label); }
    var left = info.impacts_left != null ? info.impacts_left :
      (info.impacts_left_today != null && !tempo ? Math.max(0, info.impacts_left_today - c.reps) : null);
    if (left != null && !tempo) { detail.push(left + " impacts left today"); }
    $("set-detail").textContent = detail.join(" \u00b7 ");
    mode.hidden = !info.restricted;
    mode.textContent = info.restricted ? restrictedText(info.restriction_reasons) : "";
  }

  function restrictedText(reasons) {
    return "Waiting for clinician approval" + (reasons && reasons.length ? " (" + reasons.join("; ") + ")" : "") +
      ": no jumps or drop landings, beginner targets";
  }

  // Every page says who is recording, or who is chosen: the same person on every screen.
  function showWho() {
    var el = $("who-recording");
    if (!el) { return; }
    if (sets.recording && sets.info) {
      el.textContent = "Recording now: " + sets.info.person + " \u00b7 " + (sets.info.exercise_label || labelOf(sets.info.exercise));
      el.className = "who-recording who-live";
    } else {
      el.textContent = sets.plan ? "Chosen: " + sets.plan.person : "";
      el.className = "who-recording";
    }
  }

  // The daily impact cap: a set it ended, or none left today, said plainly and big.
  function showCap() {
    var el = $("cap-message");
    if (!el) { return; }
    var text = "";
    var last = sets.last;
    if (last && last.cap_reached && !sets.recording && last.session === sets.shown) {
      text = "Set stopped: " + (last.reason || "today's impact limit is reached") +
        ". No more impacts today; sit-to-stand is still possible.";
    } else if (!sets.recording && sets.plan && sets.plan.impacts_left_today != null && sets.plan.impacts_left_today <= 0) {
      var exercise = $("set-exercise") ? $("set-exercise").value : "";
      if (exercise !== "sit-to-stand") {
        text = "No impacts left today for " + sets.plan.person + " (daily limit " + sets.plan.daily_impact_cap +
          "): no more heel drops, jumps or landings today. Sit-to-stand is still possible.";
      }
    } else if (sets.recording && sets.info && sets.info.impacts_left === 0) {
      text = "The daily impact cap is reached: this set stops now.";
    }
    text = text.replace(/\.\.$/, ".");
    el.textContent = text;
    el.hidden = !text;
  }

  function askPain(session) {
    if (sets.answered[session]) { return; }
    $("pain-question").hidden = false;
    $("pain-buttons").hidden = false;
    $("pain-thanks").hidden = true;
    $("pain-session-link").hidden = true;
    $("pain-question").dataset.session = session;
  }

  /* ---- the plan, the rest between sets, the summaries ---- */

  var planFetch = null;
  function refreshPlan() {
    if (planFetch) { planFetch.again = true; return; }
    planFetch = { again: false };
    fetch(body.dataset.setUrl, { cache: "no-store", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (j) { if (j) { sets.plan = j.plan || null; showPlan(); showSetStatus(); showSummary(); } })
      .catch(function () {})
      .then(function () { var again = planFetch.again; planFetch = null; if (again) { refreshPlan(); } });
  }

  function showPlan() {
    var plan = sets.plan, box = $("plan");
    if (!box) { return; }
    box.hidden = !plan;
    if (!plan) { return; }
    var list = $("plan-list");
    list.textContent = "";
    (plan.exercises || []).forEach(function (e) {
      var li = document.createElement("li");
      li.className = "plan-item" + (plan.next && plan.next.exercise === e.exercise ? " plan-next" : "") +
        (e.allowed === false ? " plan-blocked" : "");
      li.textContent = e.label + ": " + e.sets_done + " of " + e.sets_planned + " sets of " + e.reps_per_set +
        " \u00b7 " + e.target + (e.allowed === false ? " \u00b7 not today" : "");
      list.appendChild(li);
    });
    var note = [plan.person + " \u00b7 " + plan.level];
    if (plan.impacts_left_today != null) { note.push(plan.impacts_left_today + " of " + plan.daily_impact_cap + " impacts left today"); }
    note.push("free recording: choose Free (untyped)");
    $("plan-note").textContent = note.join(" \u00b7 ");
  }

  function median(values) {
    if (!values.length) { return null; }
    var v = values.slice().sort(function (a, b) { return a - b; });
    var m = Math.floor(v.length / 2);
    return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
  }

  function summaryRow(list, term, value) {
    var dt = document.createElement("dt"), dd = document.createElement("dd");
    dt.textContent = term; dd.textContent = value;
    list.appendChild(dt); list.appendChild(dd);
  }

  // The end of a set: reps on target, best and median peak, dose, what changes next time; then a rest timer.
  function showSummary() {
    var box = $("summary"), last = sets.last;
    if (!box) { return; }
    var show = !sets.recording && last && last.session === sets.shown;
    box.hidden = !show;
    if (!show) { return; }
    var list = $("summary-list");
    list.textContent = "";
    var counted = sets.events.filter(isCounted);
    var c = setCounts(last);
    if (last.exercise === "sit-to-stand") {
      summaryRow(list, "Fast up, slow down", c.tempo + " of " + c.reps + " reps");
      var rises = counted.map(function (e) { return e.rise_s; }).filter(function (x) { return x != null; });
      var powers = counted.map(function (e) { return e.mean_power_w; }).filter(function (x) { return x != null; });
      if (rises.length) { summaryRow(list, "Fastest rise", Math.min.apply(null, rises).toFixed(2) + " s (median " + median(rises).toFixed(2) + " s)"); }
      if (powers.length) { summaryRow(list, "Best mean power", Math.round(Math.max.apply(null, powers)) + " W"); }
    } else {
      var peaks = counted.map(function (e) { return e.peak_bw; }).filter(function (x) { return x != null; });
      var onTarget = last.on_target != null ? last.on_target : c.thumps;
      summaryRow(list, "Reps on target", onTarget + " of " + c.reps + " (\u2265 " + (last.target_bw || thumpBw()).toFixed(1) + " BW)");
      var best = last.best_bw != null ? last.best_bw : (peaks.length ? Math.max.apply(null, peaks) : null);
      var med = last.median_bw != null ? last.median_bw : (last.peak_bw_median != null ? last.peak_bw_median : median(peaks));
      if (best != null) { summaryRow(list, "Best peak", best.toFixed(1) + " BW"); }
      if (med != null) { summaryRow(list, "Median peak", med.toFixed(1) + " BW"); }
      if (last.osteogenic_index != null) { summaryRow(list, "Dose (osteogenic index)", last.osteogenic_index.toFixed(1)); }
    }
    if (c.notCounted) { summaryRow(list, "Not counted", String(c.notCounted)); }
    $("next-time").textContent = last.next_time || nextTimeHere(last, c);
    var plan = sets.plan, session = $("session-summary");
    if (plan && !plan.next && plan.today && plan.today.sets) {
      var t = plan.today;
      session.textContent = "Today\u2019s session is done: " + plural(t.sets, "set", "sets") + ", " + plural(t.reps, "rep", "reps") +
        ", " + t.on_target + " on target" + (t.best_bw != null ? ", best " + t.best_bw.toFixed(1) + " BW" : "") +
        (t.median_bw != null ? ", median " + t.median_bw.toFixed(1) + " BW" : "") +
        (t.osteogenic_index != null ? ", dose " + t.osteogenic_index.toFixed(1) : "") + ".";
      session.hidden = false;
    } else {
      session.hidden = true;
    }
    showRest();
  }

  // What changes next time, when the server does not say.
  function nextTimeHere(last, c) {
    if (last.exercise === "free") { return ""; }
    if (!c.reps) { return "No reps were counted: next time, start again with the plan's first set."; }
    var share = (last.exercise === "sit-to-stand" ? c.tempo : (last.on_target != null ? last.on_target : c.thumps)) / c.reps;
    if (share >= 0.8) { return "Most reps were on target: keep this up; the plan moves on when two weeks look like this."; }
    return last.exercise === "sit-to-stand" ? "Next time: stand up faster and sit down more slowly." :
      "Next time: drop a little harder onto the heels to reach " + (last.target_bw || thumpBw()).toFixed(1) + " BW.";
  }

  var restTimer = null;
  function showRest() {
    var el = $("rest-timer");
    if (!el) { return; }
    if (sets.recording || sets.restUntil == null || !sets.plan || !sets.plan.next) {
      el.hidden = true; if (restTimer) { clearInterval(restTimer); restTimer = null; } return;
    }
    var tick = function () {
      var left = Math.max(0, Math.round((sets.restUntil - Date.now()) / 1000));
      var e = planExercise(sets.plan, sets.plan.next.exercise);
      var next = (e ? e.label : labelOf(sets.plan.next.exercise)) + " set " + sets.plan.next.set_number;
      el.textContent = left > 0 ? "Rest " + fmtClock(left) + ", then " + next : "Ready for " + next + ": press Start set";
      el.hidden = false;
      if (left <= 0 && restTimer) { clearInterval(restTimer); restTimer = null; }
    };
    tick();
    if (!restTimer) { restTimer = setInterval(tick, 1000); }
  }

  /* ---- sound ---- */

  function sound(ev) {
    if (!live || !window.forceplateSound || !isCounted(ev) || ev.kind === "sit-to-stand" || offTempo(ev) || unsettled(ev)) { return; }
    // outside a set the plate judges everyone alike: a jump of a chosen person who may not jump yet never thumps
    if (ev.kind === "jump" && !sets.recording && sets.plan && sets.plan.restricted) { return; }
    if (ev.thump === true) { window.forceplateSound.play("thump", ev.t_peak_s); }
    else if (ev.thump === false) { window.forceplateSound.play("soft", ev.t_peak_s); }
  }

  function showSound() {
    var b = $("sound-toggle"), on = window.forceplateSound && window.forceplateSound.isOn();
    b.setAttribute("aria-pressed", on ? "true" : "false");
    b.textContent = on ? "Sound: on" : "Sound: off";
  }
  $("sound-toggle").addEventListener("click", function () {
    window.forceplateSound.setOn(!window.forceplateSound.isOn());
    showSound();
  });
  showSound();

  /* ---- one truth: the set and the choice every page shows ---- */

  // Follow the choice made on any screen (while nobody is changing it here).
  var choosing = null;          // the promise of this page's own select request, while one is on its way
  function applySelected(selected) {
    if (!selected) { return; }
    var seen = $("seen-selected");
    var changed = !sets.selected || sets.selected.person_id !== selected.person_id;
    sets.selected = selected;
    if (!seen || choosing) { return changed; }
    seen.value = selected.person_id == null ? "" : String(selected.person_id);
    var person = $("set-person");
    if (!sets.recording && person && String(person.value) !== seen.value && selected.person_id != null) {
      person.value = seen.value;
      exerciseChoices();
      if (selected.exercise && $("set-exercise")) {
        var names = Array.prototype.map.call($("set-exercise").options, function (o) { return o.value; });
        if (names.indexOf(selected.exercise) >= 0) { $("set-exercise").value = selected.exercise; }
      }
    }
    return changed;
  }

  // Returns true when the events shown changed.
  function applySet(set) {
    var changed = false;
    var wasRecording = sets.recording;
    sets.state = set.state; sets.fault = set.fault;
    if (set.last !== undefined) { sets.last = set.last; }
    var owner = set.current || set.last;
    if (set.current && sets.shown !== set.current.session) {
      sets.shown = set.current.session; sets.events = []; changed = true;
      sets.measuredAtStartN = sets.plateBodyWeightN || null;
      sets.restUntil = null;
      $("pain-question").hidden = true; $("jump-warning").hidden = true; showCorrection("");
    }
    if (set.current && $("set-person")) {
      $("set-person").value = String(set.current.person_id);      // every page shows who is recording
    }
    if (owner && owner.session === sets.shown) {
      sets.info = owner;
      var started = Date.parse(owner.started_at);
      (set.events || []).forEach(function (ev) {
        if (ev.kind === "withdrawn") {          // a heel drop a take-off then followed: it was a push-off
          sets.events.forEach(function (e) {
            if (e.kind === "impact" && e.t_peak_s != null && Math.abs(e.t_peak_s - ev.t_plate_s) < 0.02) {
              e.withdrawn = true; e.thump = null;
            }
          });
          showCorrection(correctionText(ev.reason));
          changed = true;
          return;
        }
        var shown = {};
        Object.keys(ev).forEach(function (k) { shown[k] = ev[k]; });
        shown.t_set_s = ev.t_peak_s != null ? ev.t_peak_s : ev.takeoff_s;     // time into the set
        if (isFinite(started) && shown.t_set_s != null) { shown.wall_ms = started + shown.t_set_s * 1000; }
        shown.t_peak_s = ev.t_plate_s; shown.takeoff_s = ev.takeoff_plate_s;   // on the chart's clock
        sets.events.push(shown);
        changed = true;
        sound(shown);
        if (!isCounted(shown) && !shown.withdrawn) { $("jump-warning").hidden = false; }
      });
      if (set.last && !set.current && set.last.session === sets.shown && wasRecording) {
        askPain(set.last.session);             // the set ended (stopped here, on the panel, or stepped off)
        sets.restUntil = Date.now() + 1000 * ((set.last.plan && set.last.plan.rest_s) || (sets.plan && sets.plan.rest_s) || 60);
      }
    }
    sets.recording = !!set.current;
    var selectedChanged = applySelected(set.selected);
    var key = [set.current ? set.current.session : "-", set.last ? set.last.session : "-",
               set.selected ? set.selected.person_id : (sets.selected ? sets.selected.person_id : "-")].join(":");
    if (key !== sets.planKey) { sets.planKey = key; refreshPlan(); }
    else if (selectedChanged) { refreshPlan(); }
    showSetStatus();
    showSummary();
    return changed;
  }

  var startForm = $("start-form");
  if (startForm) {
    startForm.addEventListener("submit", function (e) {
      e.preventDefault();
      var person = $("set-person").value;
      if (!person) { showSetError("choose who is on the plate first"); $("set-person").focus(); return; }
      showSetError("");
      $("start-set").disabled = true;
      var exercise = $("set-exercise") ? $("set-exercise").value : "";
      Promise.resolve(choosing).then(function () {
        return post(startForm.action, { person_id: person, exercise: exercise, seen_selected: $("seen-selected").value });
      }).then(function (j) {
        applySet({ state: j.state, fault: j.fault, current: j.current, last: j.last, events: [],
                   selected: { person_id: j.selected, exercise: j.selected_exercise } });
        sets.plan = j.plan || sets.plan; showPlan(); showSetStatus();
      }).catch(function (err) { showSetError(err.message); refreshPlan(); })
        .then(function () { $("start-set").disabled = false; });
    });
    $("stop-form").addEventListener("submit", function (e) {
      e.preventDefault();
      $("stop-set").disabled = true;
      post($("stop-form").action, {}).then(function (j) {
        applySet({ state: j.state, fault: j.fault, current: j.current, last: j.last, events: [] });
      }).catch(function (err) { showSetError(err.message); })
        .then(function () { $("stop-set").disabled = false; });
    });
    var selectChoice = function () {
      var exercise = $("set-exercise") ? $("set-exercise").value : "";
      var person = $("set-person").value;
      $("seen-selected").value = person;
      showSetError("");
      var mine = choosing = post(document.body.dataset.selectUrl, { person_id: person, exercise: exercise })
        .then(function (j) { sets.plan = j.plan || null; showPlan(); showSetStatus(); })
        .catch(function () {})
        .then(function () { if (choosing === mine) { choosing = null; } });
    };
    $("set-person").addEventListener("change", function () { exerciseChoices(); selectChoice(); });
    if ($("set-exercise")) { $("set-exercise").addEventListener("change", function () { selectChoice(); showCap(); }); }
  }

  document.querySelectorAll("#pain-buttons button").forEach(function (button) {
    button.addEventListener("click", function () {
      var session = $("pain-question").dataset.session;
      var url = document.body.dataset.painUrl.replace("/0/", "/" + session + "/");
      post(url, { pain: button.dataset.pain }).then(function (j) {
        sets.answered[session] = true;
        $("pain-buttons").hidden = true;
        $("pain-thanks").textContent = j.message;
        $("pain-thanks").hidden = false;
        var link = $("pain-session-link");
        link.href = document.body.dataset.sessionUrl.replace("/0", "/" + session);
        link.hidden = false;
      }).catch(function (err) { $("pain-thanks").textContent = err.message; $("pain-thanks").hidden = false; });
    });
  });

  makePlot();
  showBodyWeight();
  connect();
  window.requestAnimationFrame(render);

  window.forceplateLive = { state: state, sets: sets, plot: function () { return plot; },
                            sounds: window.forceplateSound ? window.forceplateSound.log : [],
                            yRange: yRange, dotHigh: dotHigh, isCounted: isCounted, markerStyle: markerStyle,
                            handle: handle };   // for tests and curious physios
}());
