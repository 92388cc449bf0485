"""``latency``: an impact on the plate until the live page in a real browser shows it, minus the ADC's own delay.

The plate is the simulator (``sim:heel-drops`` at 80 SPS through the HX711 model, real time), served by the
same ``run_server`` as ``forceplate serve`` (bench/_serving.py's traced server: it writes down the plate's time
zero and the simulator's start on ``CLOCK_MONOTONIC``, so a scripted impact's true peak at scenario second
``s`` happened at ``start + s``, and a sample at plate second ``t`` was due at ``origin + t``). Debian's
Chromium, headless, signs in through the login form and shows the live page. A script added before the page's
own (Playwright's init script; live.js is not changed) records, on the page clock ``performance.now()``:

- when each stream message arrives (an EventSource listener registered before the page's ``onmessage``),
- when uPlot draws (a ``draw`` hook added after the page's own marker overlay): the newest sample on the chart,
  the first draw in which each event's marker lies on the x axis, and the first draw of each provisional
  (pending) impact's faded marker, by its estimated peak time.

The page clock is put on ``CLOCK_MONOTONIC`` by round trips (``performance.now()`` evaluated between two
``time.monotonic()`` readings; the fastest of 25 at the start and at the end). Each event the page shows
is matched to the scripted impact nearest its ``t_peak_s`` (within 0.2 s). Then, per impact:

    latency = marker drawn - true peak - adc_delay

with ``adc_delay`` the HX711 model's group delay at the plate's rate (``Hx711Model.group_delay_s``: 2 output
periods, 25 ms at 80 SPS), the part of the delay the chip itself causes. Side by side, for the same impacts:
the provisional verdict (the first pending marker drawn within 0.2 s of the true peak: about 0.4 s of data
after the peak, confirmed or withdrawn when the final event comes), the trace (the first draw whose newest
sample is at or past the peak plus the ADC delay), and a raw HTTP client reading the same stream. And the parts: how much data past the peak the analyser waited for
(``LiveAnalyzer.HORIZON_S`` plus up to one analysis period), the way from the source to the page, and drawing.
Events the page got in its first ("hello") message happened before it opened and are left out.

Then a typed set, as a physio starts one: add a person on the People pages, choose "heel-drop" on the live
page, Start set; for the same duration the page's set reps are timed from the true peak to their marker drawn,
with nothing subtracted (``typed_verdict_p50_ms``, ``typed_verdict_p95_ms``, ``typed_n``; goal p95 <= 200 ms),
and ``typed_corrections`` counts the reps withdrawn (a take-off followed: there is none in this scenario).
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

DESCRIPTION = "impact on the plate to its marker drawn in headless Chromium (minus the HX711's delay), p50/p95"

CHROMIUM = os.environ.get("FORCEPLATE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DEFAULT_SPEC = "sim:heel-drops?seed=11&body_mass_kg=68"
MATCH_S = 0.2                 # a shown event belongs to the scripted impact whose true peak is this close
SYNC_PINGS = 25



# Runs in every document before the page's scripts. Records on performance.now(); changes nothing the page does.
INIT_SCRIPT = r"""
(() => {
  const rec = window.__benchLatency = {arrived: {}, drawn: {}, pendingDrawn: [], draws: [], messages: 0,
                                       hooked: false, setDrawn: {}};
  const Native = window.EventSource;
  if (Native) {
    window.EventSource = class extends Native {
      constructor(url, init) {
        super(url, init);
        const note = (hello) => (e) => {
          const now = performance.now();
          rec.messages += 1;
          let msg;
          try { msg = JSON.parse(e.data); } catch (err) { return; }
          const tLast = msg.t && msg.t.length ? msg.t[msg.t.length - 1] : null;
          (msg.events || []).forEach((ev) => {
            if (!(ev.seq in rec.arrived)) {
              rec.arrived[ev.seq] = {at: now, t_last: tLast, hello: hello, t_peak_s: ev.t_peak_s, kind: ev.kind};
            }
          });
        };
        this.addEventListener("hello", note(true));
        this.addEventListener("message", note(false));
      }
    };
  }
  function hook() {
    const live = window.forceplateLive;
    const plot = live && live.plot && live.plot();
    if (!plot) { requestAnimationFrame(hook); return; }
    plot.hooks.draw = plot.hooks.draw || [];
    plot.hooks.draw.push((u) => {
      const now = performance.now();
      const st = live.state;
      const last = rec.draws.length ? rec.draws[rec.draws.length - 1] : null;
      if (st.latestT != null && (!last || last[1] !== st.latestT)) { rec.draws.push([now, st.latestT]); }
      const lo = u.scales.x.min, hi = u.scales.x.max;
      st.events.forEach((ev) => {
        if (ev.session != null) {          // a set's rep (its own seq), drawn at its peak on the chart's clock
          const key = ev.session + ":" + ev.seq;
          if (key in rec.setDrawn || ev.t_peak_s == null) { return; }
          if (ev.t_peak_s >= lo && ev.t_peak_s <= hi) { rec.setDrawn[key] = [now, ev.t_peak_s, ev.kind]; }
          return;
        }
        if (ev.seq in rec.drawn || ev.t_peak_s == null) { return; }
        if (ev.t_peak_s >= lo && ev.t_peak_s <= hi) { rec.drawn[ev.seq] = now; }
      });
      (st.pending || []).forEach((ev) => {
        if (ev.t_peak_s == null || ev.t_peak_s < lo || ev.t_peak_s > hi) { return; }
        if (rec.pendingDrawn.some((p) => Math.abs(p[1] - ev.t_peak_s) < 0.05)) { return; }
        rec.pendingDrawn.push([now, ev.t_peak_s]);
      });
    });
    rec.hooked = true;
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", () => requestAnimationFrame(hook));
  } else { requestAnimationFrame(hook); }
})();
"""


def clock_offset_s(page, pings: int = SYNC_PINGS) -> dict:
    """monotonic - performance.now()/1000 from the fastest round trip, and that round trip."""
    best = None
    for _ in range(pings):
        before = time.monotonic()
        page_ms = page.evaluate("() => performance.now()")
        after = time.monotonic()
        rtt = after - before
        if best is None or rtt < best[0]:
            best = (rtt, (before + after) / 2 - page_ms / 1000.0)
    return {"offset_s": best[1], "rtt_ms": best[0] * 1000.0}


def sign_in(page, url: str, password: str) -> None:
    """The login form, as a person uses it: the page sends us there, we type, we press Sign in."""
    page.goto(url)
    page.wait_for_url("**/login**", timeout=60_000)
    page.get_by_label("Clinic password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(url, timeout=60_000)


def run(*, quick: bool = False, duration_s: float | None = None, spec: str = DEFAULT_SPEC) -> dict:
    import _serving as serving     # bench/ is on sys.path: run.py's own folder, or the tests put it there
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        raise SystemExit(f"no chromium at {CHROMIUM} (apt-get install chromium; never `playwright install`)")
    duration_s = float(duration_s if duration_s is not None else (25.0 if quick else 120.0))
    load_before = serving.load_avg()
    started = time.monotonic()
    with serving.serving(spec, traced=True) as served, sync_playwright() as playwright:
        info = served.info
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            context.add_init_script(INIT_SCRIPT)
            page = context.new_page()
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            sign_in(page, served.url, serving.PASSWORD)
            page.wait_for_function("() => window.__benchLatency && window.__benchLatency.hooked "
                                   "&& window.forceplateLive.state.messages > 0", timeout=60_000)
            raw = serving.StreamClient(served.port, serving.sign_in(served.port), name="raw-client")
            raw.start()
            raw.connected.wait(30)
            sync_start = clock_offset_s(page)
            window_start = time.monotonic()
            watch = serving.ProcWatch(served.pid).start()
            page.wait_for_timeout(duration_s * 1000)
            proc = watch.stop()
            window_end = time.monotonic()
            sync_end = clock_offset_s(page)
            rec = page.evaluate("() => window.__benchLatency")
            state_events = page.evaluate("() => window.forceplateLive.state.events.length")
            raw.stop()
            raw.join(5)
            typed = typed_set(page, served.url, duration_s)
        finally:
            browser.close()
    result = analyse(info, rec, raw.messages, sync_start, sync_end, window_start, window_end)
    result.update(analyse_typed(info, typed))
    result.update({
        "duration_s": round(window_end - window_start, 1), "spec": spec, "quick": quick,
        "page_errors": errors, "events_on_page": state_events, "raw_client_error": raw.error,
        "server_cpu_pct_one_core": proc["cpu_pct_one_core"],
        "load": serving.load_note(load_before),
        "load_avg_before": load_before, "load_avg_after": serving.load_avg(),
        "total_s": round(time.monotonic() - started, 1)})
    return result


TYPED_EXERCISE = "heel-drop"


def typed_set(page, url: str, duration_s: float) -> dict:
    """A heel-drop set, started as a physio would: add the person (People), choose the exercise and press
    Start set on the live page; after `duration_s`, Stop set. What the page drew of the set's reps."""
    from playwright.sync_api import expect
    import re

    page.get_by_role("link", name="People", exact=True).click()
    page.get_by_role("link", name="Add a person").click()
    page.get_by_label("Name").fill("Bench Typed")
    page.get_by_label("Year of birth").fill("1953")
    page.get_by_label("Body mass (kg)").fill("68")
    page.get_by_role("button", name="Add this person").click()
    page.get_by_role("link", name="Start a set").click()
    expect(page.locator("#set-person")).to_have_value(re.compile(r"^\d+$"))
    page.wait_for_function("() => window.__benchLatency && window.__benchLatency.hooked "
                           "&& window.forceplateLive.state.messages > 0", timeout=60_000)
    page.locator("select[name=exercise]").select_option(TYPED_EXERCISE)
    sync_start = clock_offset_s(page)
    page.get_by_role("button", name="Start set").click()
    window_start = time.monotonic()
    page.wait_for_timeout(duration_s * 1000)
    window_end = time.monotonic()
    sync_end = clock_offset_s(page)
    rec = page.evaluate("() => window.__benchLatency")
    withdrawn = page.evaluate("() => window.forceplateLive.sets.events.filter((e) => e.withdrawn).length")
    exercise = page.evaluate("() => window.forceplateLive.sets.info && window.forceplateLive.sets.info.exercise")
    page.get_by_role("button", name="Stop set").click()
    return {"rec": rec, "withdrawn": withdrawn, "exercise": exercise, "sync_start": sync_start, "sync_end": sync_end,
            "window_start": window_start, "window_end": window_end}


def analyse_typed(info, typed) -> dict:
    """The typed set's verdicts: from the true peak to the rep's marker drawn (nothing subtracted)."""
    import _serving as serving
    origin_s = info["clock_origin_ns"] / 1e9
    speed = info["speed"]
    offset_s = (typed["sync_start"]["offset_s"] + typed["sync_end"]["offset_s"]) / 2
    start_s = info["source_start_ns"] / 1e9
    loop_s = info["loop_s"] or 1e9
    scripted = [e for e in info["scripted_events"] if e["contract_kind"] == "impact" and e["t_peak_s"] is not None]
    loops = int((typed["window_end"] - start_s) * speed / loop_s) + 2
    truths = sorted(start_s + (e["t_peak_s"] + q * loop_s) / speed for q in range(loops) for e in scripted)
    rows = []
    for key, (drawn_ms, t_peak_plate_s, kind) in typed["rec"].get("setDrawn", {}).items():
        if kind != "impact":
            continue
        peak_mono = origin_s + t_peak_plate_s / speed
        true_mono = min(truths, key=lambda t: abs(t - peak_mono)) if truths else None
        if true_mono is None or abs(true_mono - peak_mono) > MATCH_S:
            continue
        if not typed["window_start"] <= true_mono <= typed["window_end"]:
            continue
        rows.append(round((drawn_ms / 1000.0 + offset_s - true_mono) * 1000, 1))
    p = serving.percentile
    return {"typed_verdict_p50_ms": p(rows, 50), "typed_verdict_p95_ms": p(rows, 95), "typed_n": len(rows),
            "typed_corrections": typed["withdrawn"], "typed_exercise": typed["exercise"],
            "typed_verdict_ms": rows}


def analyse(info, rec, raw_messages, sync_start, sync_end, window_start, window_end) -> dict:
    import _serving as serving     # bench/ is on sys.path: run.py's own folder, or the tests put it there
    origin_s = info["clock_origin_ns"] / 1e9
    speed = info["speed"]
    adc_delay_s = info["hx711_group_delay_s"] if info["adc"] == "hx711" else 0.0
    offset_s = (sync_start["offset_s"] + sync_end["offset_s"]) / 2     # the same clock: they differ by jitter
    loop_s = info["loop_s"] or 1e9

    def page_to_mono(ms):
        return None if ms is None else ms / 1000.0 + offset_s

    def plate_to_mono(t_s):
        return origin_s + t_s / speed

    # True impact peaks on CLOCK_MONOTONIC, over as many loops as the run lasted.
    start_s = info["source_start_ns"] / 1e9
    scripted = [e for e in info["scripted_events"] if e["contract_kind"] == "impact" and e["t_peak_s"] is not None]
    loops = int((window_end - start_s) * speed / loop_s) + 2
    truths = sorted(start_s + (e["t_peak_s"] + q * loop_s) / speed for q in range(loops) for e in scripted)

    raw_arrival = {}
    for m in raw_messages:
        for ev in m.get("events", []):
            if m["event"] != "hello":
                raw_arrival.setdefault(ev["seq"], m["at"])
    draws = rec["draws"]

    rows, unmatched = [], []
    for seq_text, arrived in sorted(rec["arrived"].items(), key=lambda kv: int(kv[0])):
        if arrived["hello"] or arrived["t_peak_s"] is None:
            continue
        seq = int(seq_text)
        peak_est_mono = plate_to_mono(arrived["t_peak_s"])
        true_mono = min(truths, key=lambda t: abs(t - peak_est_mono)) if truths else None
        if true_mono is None or abs(true_mono - peak_est_mono) > MATCH_S:
            unmatched.append({"seq": seq, "t_peak_s": arrived["t_peak_s"], "kind": arrived["kind"]})
            continue
        if not window_start <= page_to_mono(arrived["at"]) <= window_end + 1.0:
            continue
        seen = true_mono + adc_delay_s          # when the word holding the peak could first exist
        drawn = page_to_mono(rec["drawn"].get(seq_text))
        trace = next((page_to_mono(at) for at, newest in draws
                      if page_to_mono(at) >= true_mono and plate_to_mono(newest) >= seen), None)
        provisional = min((page_to_mono(at) for at, t_peak in rec.get("pendingDrawn", [])
                           if abs(plate_to_mono(t_peak) - true_mono) <= MATCH_S), default=None)
        rows.append({
            "seq": seq, "kind": arrived["kind"],
            "true_peak_plate_s": round((true_mono - origin_s) * speed, 4),
            "t_peak_error_ms": round((peak_est_mono - true_mono) * 1000, 1),
            "latency_ms": None if drawn is None else round((drawn - seen) * 1000, 1),
            "provisional_ms": None if provisional is None else round((provisional - seen) * 1000, 1),
            "trace_ms": None if trace is None else round((trace - seen) * 1000, 1),
            "http_ms": None if seq not in raw_arrival else round((raw_arrival[seq] - seen) * 1000, 1),
            "page_arrival_ms": round((page_to_mono(arrived["at"]) - seen) * 1000, 1),
            # the newest sample in the message that carried the event: how far past the peak the data was
            "analyser_wait_ms": round((plate_to_mono(arrived["t_last"]) - seen) * 1000, 1),
            "transport_ms": round((page_to_mono(arrived["at"]) - plate_to_mono(arrived["t_last"])) * 1000, 1),
            "draw_ms": None if drawn is None else round((drawn - page_to_mono(arrived["at"])) * 1000, 1),
        })
    missed = [round((t - origin_s) * speed, 3) for t in truths
              if window_start + 0.5 <= t <= window_end - 2.0
              and not any(abs(r["true_peak_plate_s"] - (t - origin_s) * speed) < 1e-3 for r in rows)]

    def col(key):
        return [r[key] for r in rows if r[key] is not None]

    p = serving.percentile
    latencies = col("latency_ms")
    return {
        "p50_ms": p(latencies, 50), "p95_ms": p(latencies, 95), "n": len(latencies),
        "adc_delay_ms": round(adc_delay_s * 1000, 1),
        "provisional_p50_ms": p(col("provisional_ms"), 50), "provisional_p95_ms": p(col("provisional_ms"), 95),
        "provisional_n": len(col("provisional_ms")),
        "trace_p50_ms": p(col("trace_ms"), 50), "trace_p95_ms": p(col("trace_ms"), 95),
        "http_p50_ms": p(col("http_ms"), 50), "http_p95_ms": p(col("http_ms"), 95),
        "analyser_wait_p50_ms": p(col("analyser_wait_ms"), 50),
        "analyser_wait_p95_ms": p(col("analyser_wait_ms"), 95),
        "transport_p50_ms": p(col("transport_ms"), 50), "transport_p95_ms": p(col("transport_ms"), 95),
        "draw_p50_ms": p(col("draw_ms"), 50), "draw_p95_ms": p(col("draw_ms"), 95),
        "t_peak_error_p50_ms": p([abs(x) for x in col("t_peak_error_ms")], 50),
        "horizon_ms": round(info["horizon_s"] * 1000, 1),
        "rate_hz": info["rate_hz"], "adc": info["adc"],
        "missed": missed, "unmatched_events": unmatched,
        "clock_sync_rtt_ms": [round(sync_start["rtt_ms"], 2), round(sync_end["rtt_ms"], 2)],
        "clock_sync_drift_ms": round((sync_end["offset_s"] - sync_start["offset_s"]) * 1000, 2),
        "impacts": rows,
    }


def format_table(result: dict) -> str:
    lines = [f"{'from the true peak (minus ADC delay) to':<44} {'p50 ms':>8} {'p95 ms':>8}"]
    for label, key in (("the event's marker drawn in Chromium", ""),
                       ("the provisional (faded) marker drawn", "provisional_"),
                       ("the trace drawn past the peak", "trace_"),
                       ("the event at a raw HTTP client", "http_"),
                       ("  part: data past the peak the analyser awaited", "analyser_wait_"),
                       ("  part: newest sample to the page", "transport_"),
                       ("  part: page got it to marker drawn", "draw_")):
        lines.append(f"{label:<44} {result.get(key + 'p50_ms')!s:>8} {result.get(key + 'p95_ms')!s:>8}")
    lines.append("")
    lines.append(f"n = {result['n']} impacts in {result['duration_s']} s ({result['spec']}, {result['rate_hz']:g} SPS, "
                 f"adc {result['adc']}); adc_delay_ms {result['adc_delay_ms']} subtracted; analyser horizon "
                 f"{result['horizon_ms']} ms")
    lines.append(f"missed {len(result['missed'])}, unmatched {len(result['unmatched_events'])}; clock sync rtt "
                 f"{result['clock_sync_rtt_ms']} ms, drift {result['clock_sync_drift_ms']} ms; server CPU "
                 f"{result['server_cpu_pct_one_core']} % of a core")
    lines.append(f"typed {result.get('typed_exercise')} set, true peak to the final verdict drawn (nothing "
                 f"subtracted): p50 {result.get('typed_verdict_p50_ms')} ms, p95 {result.get('typed_verdict_p95_ms')}"
                 f" ms, n = {result.get('typed_n')}, corrections {result.get('typed_corrections')}")
    lines.append(f"load: {result['load']}")
    return "\n".join(lines)


def add_arguments(parser) -> None:
    parser.add_argument("--duration", type=float, default=None, dest="duration_s",
                        help="seconds of impacts measured (default 120, 25 with --quick)")
    parser.add_argument("--spec", default=DEFAULT_SPEC, help=f"source spec, real time (default {DEFAULT_SPEC})")


def run_from_args(args) -> dict:
    return run(quick=args.quick, duration_s=args.duration_s, spec=args.spec)
