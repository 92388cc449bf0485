/* History charts (uPlot): a person's progress, and one session's stored force trace.
   No inline scripts (the Content-Security-Policy forbids them); data comes from JSON endpoints. */
(function () {
  "use strict";

  var AXIS = { stroke: "#c9d1da", font: "16px system-ui, sans-serif", grid: { stroke: "#2a313a", width: 1 },
               ticks: { stroke: "#2a313a" } };

  function axis(extra) { var a = {}; Object.keys(AXIS).forEach(function (k) { a[k] = AXIS[k]; });
    Object.keys(extra || {}).forEach(function (k) { a[k] = extra[k]; }); return a; }

  function size(el) { return { width: Math.max(260, el.clientWidth), height: Math.max(180, el.clientHeight) }; }

  function plot(el, opts, data) {
    var s = size(el);
    opts.width = s.width; opts.height = s.height;
    opts.legend = { show: false };
    var u = new uPlot(opts, data, el);
    if (window.ResizeObserver) { new ResizeObserver(function () { u.setSize(size(el)); }).observe(el); }
    return u;
  }

  function lineAt(value, colour, label) {
    return function (u) {
      var ctx = u.ctx, px = uPlot.pxRatio, y = u.valToPos(value, "y", true);
      ctx.save();
      ctx.strokeStyle = colour; ctx.lineWidth = 2 * px; ctx.setLineDash([10 * px, 8 * px]);
      ctx.beginPath(); ctx.moveTo(u.bbox.left, y); ctx.lineTo(u.bbox.left + u.bbox.width, y); ctx.stroke();
      ctx.setLineDash([]); ctx.fillStyle = colour; ctx.textAlign = "right"; ctx.textBaseline = "bottom";
      ctx.font = "bold " + Math.round(15 * px) + "px system-ui, sans-serif";
      ctx.fillText(label, u.bbox.left + u.bbox.width - 6 * px, y - 4 * px);
      ctx.restore();
    };
  }

  var charts = window.forceplateCharts = { ready: false };

  var DAY_S = 86400;

  function dateText(t) {        // one date style on every page (nav.js), in the reader's own locale
    var d = new Date(t * 1000);
    return window.forceplateDates ? window.forceplateDates.format(d, "day") : d.toLocaleDateString();
  }

  // The x axis of dates: from the first point to the last, never past now; at least a week wide (one set
  // alone sits at its right end, with the week before it), never an axis running into the future.
  // ``width_s``: how long each point stands for (a week's point is its Monday: the axis runs to its end or now).
  function timeRange(ts, now, width_s) {
    return function () {
      if (!ts.length) { return [now - 7 * DAY_S, now]; }
      var lo = Math.min.apply(null, ts), hi = Math.max.apply(null, ts) + (width_s || 0);
      var span = Math.max(hi - lo, 7 * DAY_S), pad = span * 0.04;
      var end = Math.min(now, hi + pad);
      return [Math.min(lo - pad, end - 7 * DAY_S), end];
    };
  }

  function dateAxis() {
    return axis({ space: 120, values: function (u, vals) { return vals.map(dateText); } });
  }

  function progress(box) {
    fetch(box.dataset.url, { cache: "no-store", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.json(); }).then(function (d) {
        var points = { show: true, size: 9 };
        var now = d.now || Date.now() / 1000;
        charts.peak = plot(document.getElementById("chart-peak"), {
          scales: { x: { time: true, range: timeRange(d.t, now) } },
          axes: [dateAxis(), axis({ size: 56 })],
          series: [{}, { stroke: "#6cc4ff", width: 3, points: points, spanGaps: true }]
        }, [d.t, d.median_bw]);
        charts.oi = plot(document.getElementById("chart-oi"), {
          scales: { x: { time: true, range: timeRange(d.t, now) } },
          axes: [dateAxis(), axis({ size: 56 })],
          series: [{}, { stroke: "#2fd46b", width: 3, points: points, spanGaps: true }]
        }, [d.t, d.oi]);
        charts.weeks = plot(document.getElementById("chart-weeks"), {
          scales: { x: { time: true, range: timeRange(d.week_t, now, 7 * DAY_S) },
                    y: { range: function (u, lo, hi) { return [0, Math.max(d.min_per_week + 1, hi + 1)]; } } },
          axes: [dateAxis(), axis({ size: 56 })],
          series: [{}, { stroke: "#ffb020", width: 3, points: points, paths: uPlot.paths.stepped({ align: 1 }) }],
          hooks: { draw: [lineAt(d.min_per_week, "#ffffff", d.min_per_week + " a week")] }
        }, [d.week_t, d.week_sessions]);
        charts.sessions = d.t.length;
        charts.now = now;
        charts.ready = true;
      });
  }

  function trace(el) {
    fetch(el.dataset.url, { cache: "no-store", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.json(); }).then(function (d) {
        var bw = d.body_weight_n;
        var y = bw ? d.f.map(function (v) { return v == null ? null : v / bw; }) : d.f;
        var hooks = [];
        if (bw) { hooks.push(lineAt(d.thump_bw, "#2fd46b", "thump " + d.thump_bw.toFixed(1) + " BW")); }
        hooks.push(function (u) {
          var ctx = u.ctx, px = uPlot.pxRatio;
          ctx.save();
          d.events.forEach(function (e) {
            if (e.t == null || e.peak_n == null) { return; }
            var x = u.valToPos(e.t, "x", true), yy = u.valToPos(bw ? e.peak_n / bw : e.peak_n, "y", true);
            ctx.beginPath(); ctx.arc(x, yy, 7 * px, 0, 2 * Math.PI);
            if (e.counted === false) {        // shown, not counted: a hollow grey ring
              ctx.strokeStyle = "#c9d1da"; ctx.lineWidth = 3 * px; ctx.stroke();
              return;
            }
            ctx.fillStyle = e.thump === true ? "#2fd46b" : (e.thump === false ? "#ffb020" : "#ffffff");
            ctx.strokeStyle = "#000"; ctx.lineWidth = 2 * px;
            ctx.fill(); ctx.stroke();
          });
          ctx.restore();
        });
        charts.trace = plot(el, {
          scales: { x: { time: false } },
          axes: [axis({ values: function (u, vals) { return vals.map(function (v) { return v.toFixed(0) + " s"; }); } }),
                 axis({ size: 64 })],
          series: [{}, { stroke: "#6cc4ff", width: 2, points: { show: false }, spanGaps: false }],
          hooks: { draw: hooks }
        }, [d.t, y]);
        charts.points = d.t.length;
        charts.ready = true;
      });
  }

  var box = document.getElementById("charts");
  if (box) { progress(box); }
  var traceEl = document.getElementById("chart-trace");
  if (traceEl) { trace(traceEl); }
}());
