/* On every page with the nav: the plate's state (who is recording which exercise, or "Plate ready"), kept
   current from /api/set every few seconds; and every <time data-format> written in the reader's own locale,
   in one style for the whole site (window.forceplateDates, which the charts use too).
   No inline scripts: the Content-Security-Policy forbids them. */
(function () {
  "use strict";

  var STYLES = {
    datetime: { weekday: "short", day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit" },
    date: { weekday: "short", day: "numeric", month: "short", year: "numeric" },
    day: { day: "numeric", month: "short", year: "numeric" },
    time: { hour: "2-digit", minute: "2-digit", second: "2-digit" }
  };
  var formatters = {};

  function format(when, style) {
    var d = when instanceof Date ? when : new Date(when);
    if (isNaN(d.getTime())) { return ""; }
    style = STYLES[style] ? style : "datetime";
    if (!formatters[style]) { formatters[style] = new Intl.DateTimeFormat(undefined, STYLES[style]); }
    return formatters[style].format(d);
  }

  window.forceplateDates = { format: format };

  function localTimes(root) {
    var els = (root || document).querySelectorAll("time[data-format]");
    for (var i = 0; i < els.length; i++) {
      var el = els[i], iso = el.getAttribute("datetime");
      // a bare date (2026-03-02) is a calendar day, not an instant: read it as local midnight
      var when = /^\d{4}-\d{2}-\d{2}$/.test(iso) ? new Date(iso + "T00:00:00") : new Date(iso);
      var text = format(when, el.getAttribute("data-format"));
      if (text) { el.textContent = text; }
    }
  }

  var POLL_MS = 3000;
  var status = document.getElementById("nav-status");

  function describe(d) {
    var c = d && d.current;
    if (c) { return { state: "recording", text: "Recording: " + c.person + (c.exercise_label ? ", " + c.exercise_label : "") }; }
    if (d && d.state === "fault") { return { state: "fault", text: "Plate stopped: see the live page" }; }
    return { state: "ready", text: "Plate ready" };
  }

  function show(s) {
    if (status.textContent !== s.text) { status.textContent = s.text; }
    var cls = "topnav-status topnav-status-" + s.state;
    if (status.className !== cls) { status.className = cls; }
  }

  var timer = null;
  function poll() {
    timer = null;
    if (document.hidden) { return; }
    fetch(status.getAttribute("data-url"), { cache: "no-store", credentials: "same-origin",
                                             headers: { "Accept": "application/json" } })
      .then(function (r) {
        if (r.status === 401 || r.status === 403) { return null; }    // signed out: stop asking
        if (!r.ok) { throw new Error("status " + r.status); }
        return r.json();
      })
      .then(function (d) { if (d) { show(describe(d)); schedule(); } })
      .catch(function () { show({ state: "fault", text: "Plate not answering" }); schedule(); });
  }
  function schedule() { if (!timer) { timer = setTimeout(poll, POLL_MS); } }

  function start() {
    localTimes(document);
    if (status) {
      schedule();
      document.addEventListener("visibilitychange", function () { if (!document.hidden) { poll(); } });
    }
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
}());
