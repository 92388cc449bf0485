/* The live page: force trace (uPlot), body weight, last rep and recent reps, fed by Server-Sent Events.
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
  var sets = { shown: null, info: null, events: [], plateEvents: [], recording: false, answered: {}, state: "ready" };
  var JUMP_NOTE = "No jumps in clinician-approved mode";

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
    state.events.concat(state.pending).forEach(function (ev) {
      if (ev.t_peak_s != null && ev.t_peak_s >= lo && ev.peak_n != null && ev.peak_n > max) { max = ev.peak_n; }
    });
    return max;
  }

  function yRange() {
    var max = visibleMax();
    if (inBw()) {
      var top = Math.max(thumpBw() + 1, Math.ceil((max / state.bodyWeightN) * 1.15 + 0.3));
      return [0, top];
    }
    return [0, Math.max(1500, Math.ceil(max * 1.15 / 500) * 500)];
  }

  function xRange() {
    // The first seconds fill the chart from the left, like paper; then it scrolls.
    var end = Math.max(TRACE_S, state.latestT == null ? 0 : state.latestT);
    return [end - TRACE_S, end];
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
      ctx.textAlign = "right";
      ctx.textBaseline = "bottom";
      ctx.fillText((sets.info ? "target " : "thump ") + thumpBw().toFixed(1) + " BW", right - 6 * px, y - 4 * px);
    }
    var x0 = xRange()[0];
    function marker(ev, pending) {
      var value = eventPeakDisplay(ev);
      if (ev.t_peak_s == null || value == null || ev.t_peak_s < x0 || ev.withdrawn) { return; }
      var thump = pending ? pendingThump(ev) : (ev.kind === "sit-to-stand" ? (ev.tempo ? ev.tempo === GOOD_TEMPO : null)
                                                                          : ev.thump);
      var x = u.valToPos(ev.t_peak_s, "x", true);
      var yv = u.valToPos(value, "y", true);
      var colour = thump === true ? "#2fd46b" : (thump === false ? "#ffb020" : "#ffffff");
      ctx.globalAlpha = pending ? 0.6 : 1;       // a provisional verdict: fainter, dashed, "..." after it
      ctx.fillStyle = colour;
      ctx.strokeStyle = "#000000";
      ctx.lineWidth = 2 * px;
      if (pending) { ctx.setLineDash([3 * px, 3 * px]); }
      ctx.beginPath(); ctx.arc(x, yv, 8 * px, 0, 2 * Math.PI); ctx.fill(); ctx.stroke();
      ctx.setLineDash([]);
      ctx.font = "bold " + Math.round(22 * px) + "px system-ui, sans-serif";
      ctx.textAlign = "center";
      ctx.textBaseline = "bottom";
      var label = (inBw() ? fmtBw(value, thump) : Math.round(value) + " N") + (pending ? "\u2026" : "");
      var ty = Math.max(u.bbox.top + 24 * px, yv - 12 * px);
      ctx.lineWidth = 4 * px;
      ctx.strokeText(label, x, ty);
      ctx.fillText(label, x, ty);
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
      height: Math.max(160, el.clientHeight),
      legend: { show: false },
      cursor: { show: false },
      scales: {
        x: { time: false, range: function () { return xRange(); } },
        y: { range: function () { return yRange(); } }
      },
      axes: [
        { stroke: "#c9d1da", font: axisFont, size: 36, grid: { stroke: "#2a313a", width: 1 },
          ticks: { stroke: "#2a313a" }, values: function (u, vals) { return vals.map(fmtClock); } },
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
        plot.setSize({ width: Math.max(200, el.clientWidth), height: Math.max(160, el.clientHeight) });
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

  function showBodyWeight() {
    var value = $("bw-value"), detail = $("bw-detail");
    if (inBw()) {
      value.textContent = (state.bodyWeightN / G_M_S2).toFixed(1) + " kg";
      detail.textContent = Math.round(state.bodyWeightN) + " N";
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
    if (ev.lowering_s != null) { parts.push("sit-down " + ev.lowering_s.toFixed(1) + " s"); }
    if (ev.peak_bw != null) { parts.push("peak " + ev.peak_bw.toFixed(2) + " BW"); }
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

  function verdict(ev) {
    if (ev.withdrawn) { return { text: "withdrawn: a jump's push-off", cls: "none" }; }
    if (ev.kind === "sit-to-stand") {
      if (!ev.tempo) { return { text: "rise " + (ev.rise_s != null ? ev.rise_s.toFixed(1) + " s" : "seen"), cls: "none" }; }
      return ev.tempo === GOOD_TEMPO ? { text: "FAST UP, SLOW DOWN", cls: "thump" } : { text: ev.tempo, cls: "soft" };
    }
    if (ev.note === JUMP_NOTE) { return { text: "NO JUMPS", cls: "soft" }; }
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

  // A pending impact is judged against the target shown (a set's own, or the plate's thump line).
  function pendingThump(ev) {
    if (ev.peak_bw == null) { return null; }
    return sets.info && sets.recording ? ev.peak_bw >= thumpBw() : ev.thump;
  }

  function matchesAny(list, p) {
    return list.some(function (ev) { return ev.t_peak_s != null && Math.abs(ev.t_peak_s - p.t_peak_s) <= MATCH_S; });
  }

  // The pending impacts to show now: the server's current list (it sends it whole every time) minus those
  // whose final event is here. One that left the list without a final event was a push-off: dropped. During
  // a set, one whose plate event is final but not yet the set's waits a little for it.
  function updatePending(incoming) {
    var showing = sets.shown === null || sets.recording;
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

  function showLastRep() {
    var ev = state.events.length ? state.events[state.events.length - 1] : null;
    var latest = state.pending.length ? state.pending[state.pending.length - 1] : null;
    var pending = latest !== null && (ev === null || eventT(ev) == null || latest.t_peak_s > eventT(ev));
    if (pending) { ev = latest; }
    var peak = $("last-peak"), v = $("last-verdict"), note = $("last-note");
    peak.classList.toggle("provisional", pending);
    v.classList.toggle("provisional", pending);
    if (!ev) {
      peak.textContent = "\u2013";
      v.textContent = "No reps yet";
      v.className = "verdict verdict-none";
      note.textContent = "";
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
    var vd = verdict(pending ? { thump: pendingThump(ev) } : ev);
    v.textContent = vd.text + (pending ? "\u2026" : "");
    v.className = "verdict verdict-" + vd.cls + (pending ? " provisional" : "");
    var parts = [repTitle(ev) + " at " + fmtClock(eventT(ev))];
    if (pending) { parts.push("checking\u2026"); }
    if (ev.loading_rate_bw_s != null) { parts.push("loading rate " + Math.round(ev.loading_rate_bw_s) + " BW/s"); }
    if (ev.kind === "sit-to-stand") { parts.push(sitToStandNote(ev)); }
    var m = ev.kind === "sit-to-stand" ? null : methodNote(ev);
    if (m) { parts.push(m); }
    note.textContent = parts.join(" \u00b7 ");
  }

  function showReps() {
    var list = $("rep-list");
    var reps = state.events.slice(-MAX_REPS_SHOWN).reverse();
    list.textContent = "";
    reps.forEach(function (ev) {
      var vd = verdict(ev);
      var li = document.createElement("li");
      li.className = "rep rep-" + vd.cls;
      li.dataset.seq = ev.seq;
      var p = document.createElement("div"); p.className = "rep-peak"; p.textContent = repPeakText(ev);
      var w = document.createElement("div"); w.className = "rep-verdict"; w.textContent = vd.text;
      var meta = document.createElement("div"); meta.className = "rep-meta";
      meta.textContent = repTitle(ev) + " \u00b7 " + fmtClock(ev.t_peak_s != null ? ev.t_peak_s : ev.takeoff_s);
      li.appendChild(p); li.appendChild(w); li.appendChild(meta);
      list.appendChild(li);
    });
    $("rep-empty").hidden = state.events.length > 0;
    var counted = state.events.filter(function (ev) { return !ev.withdrawn; });
    var thumps = counted.filter(function (ev) { return ev.thump === true; }).length;
    var withdrawn = state.events.length - counted.length;
    $("rep-counts").textContent = counted.length ?
      counted.length + (counted.length === 1 ? " rep, " : " reps, ") + thumps +
      (thumps === 1 ? " thump" : " thumps") + (withdrawn ? ", " + withdrawn + " withdrawn" : "") : "";
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
    var bw = sets.shown !== null && sets.info && sets.info.body_mass_kg ? sets.info.body_mass_kg * G_M_S2 : msg.body_weight_n;
    var bwChanged = bw !== state.bodyWeightN;
    state.bodyWeightN = bw;
    if (bwChanged) { showBodyWeight(); }
    var newEvents = msg.events && msg.events.length;
    if (newEvents) {
      msg.events.forEach(function (ev) { sets.plateEvents.push(ev); });
      if (sets.plateEvents.length > MAX_EVENTS_KEPT) { sets.plateEvents.splice(0, sets.plateEvents.length - MAX_EVENTS_KEPT); }
    }
    if (setChanged) { newEvents = true; }
    state.events = sets.shown !== null ? sets.events : sets.plateEvents;
    var pendingChanged = updatePending(msg.pending);
    if (newEvents || bwChanged) { showLastRep(); showReps(); } else if (pendingChanged) { showLastRep(); }
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
      handle(msg);
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

  function showSetStatus() {
    var status = $("set-status");
    if (!status) { return; }
    var info = sets.info, rec = sets.recording;
    $("start-set").hidden = rec;
    $("stop-form").hidden = !rec;
    $("set-person").disabled = rec;
    var mode = $("set-mode");
    if (!info) {
      status.textContent = sets.state === "fault" ? "Recording is not possible: " + (sets.fault || "a fault") :
        "No set recording: choose a person and press Start set.";
      mode.hidden = true;
      $("set-detail").textContent = "";
      return;
    }
    var reps = info.reps || 0, thumps = info.thumps || 0;
    status.textContent = (rec ? "Recording: " : "Set ended: ") +
      reps + (info.reps_per_set ? " of " + info.reps_per_set : "") + " reps \u00b7 " +
      plural(thumps, "thump", "thumps") + " (target " + info.target_bw.toFixed(1) + " BW)";
    var detail = [info.person];
    if (info.impacts_left_today != null) {
      detail.push(Math.max(0, info.impacts_left_today - reps) + " impacts left today");
    }
    $("set-detail").textContent = detail.join(" \u00b7 ");
    mode.hidden = !info.restricted;
    mode.textContent = info.restricted ? "Clinician-approved mode: no jumps, beginner targets" : "";
  }

  function askPain(session) {
    if (sets.answered[session]) { return; }
    $("pain-question").hidden = false;
    $("pain-buttons").hidden = false;
    $("pain-thanks").hidden = true;
    $("pain-session-link").hidden = true;
    $("pain-question").dataset.session = session;
  }

  // Returns true when the events shown changed.
  function applySet(set) {
    var changed = false;
    sets.state = set.state; sets.fault = set.fault;
    var owner = set.current || set.last;
    if (set.current && sets.shown !== set.current.session) {
      sets.shown = set.current.session; sets.events = []; changed = true;
      $("pain-question").hidden = true; $("jump-warning").hidden = true;
    }
    if (owner && owner.session === sets.shown) {
      sets.info = owner;
      (set.events || []).forEach(function (ev) {
        if (ev.kind === "withdrawn") {          // a heel drop a take-off then followed: it was a push-off
          sets.events.forEach(function (e) {
            if (e.kind === "impact" && e.t_peak_s != null && Math.abs(e.t_peak_s - ev.t_plate_s) < 0.02) {
              e.withdrawn = true; e.thump = null;
            }
          });
          changed = true;
          return;
        }
        var shown = {};
        Object.keys(ev).forEach(function (k) { shown[k] = ev[k]; });
        shown.t_peak_s = ev.t_plate_s; shown.takeoff_s = ev.takeoff_plate_s;   // on the chart's clock
        sets.events.push(shown);
        changed = true;
        if (ev.note === JUMP_NOTE) { $("jump-warning").hidden = false; }
      });
      if (set.last && !set.current && set.last.session === sets.shown && sets.recording) {
        askPain(set.last.session);             // the set ended (stopped here, on the panel, or stepped off)
      }
    }
    sets.recording = !!set.current;
    showSetStatus();
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
      post(startForm.action, { person_id: person }).then(function (j) {
        applySet({ state: j.state, fault: j.fault, current: j.current, last: j.last, events: [] });
      }).catch(function (err) { showSetError(err.message); })
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
    $("set-person").addEventListener("change", function () {
      post(document.body.dataset.selectUrl, { person_id: $("set-person").value }).catch(function () {});
    });
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

  window.forceplateLive = { state: state, sets: sets, plot: function () { return plot; } };   // for tests and curious physios
}());
