"""Typed sets: the exercise's rules, the same offline and live, and what the untyped analysis now gets right.

The signals are made here with known answers (tests/signals.py): a drop jump (empty plate, a drop landing,
a ground contact that brakes and pushes off, a rebound jump) with no quiet standing before its take-off; a
deep countermovement jump cut one sample into its flight; heel drops (a fast rise and a slower fall on
standing) seen at 1000 SPS and as HX711 words at 80 SPS through the chip model (docs/hx711-model.md).
"""
import json
import subprocess
import sys

import numpy as np
import pytest

from forceplate.signal import analyze_force
from forceplate.signal.exercises import EXERCISES, check_exercise
from forceplate.signal.streaming import LiveAnalyzer
from signals import drop_jump, hx711_words, jump, seated_rises

W = 700.0
HX711_SPS = 80.0
# A typed set's verdict is out once the 5th word after the largest is in. The largest word comes at most the
# filter's span (4 output periods) after the true peak; then 5 words; and the words arrive 2 per batch here.
LATEST_S = (4 + 5 + 1) / HX711_SPS


def words(t, f, *, phase_s=0.0):
    """HX711 words at 80 SPS of a force sampled at 1 kHz (the chip model), from 0.3 s on."""
    tw = np.arange(0.3 + phase_s, t[-1], 1 / HX711_SPS)
    return tw, hx711_words(f, tw, HX711_SPS)


def heel_drops(peaks_bw, *, every_s=2.5, start_s=3.0, rise_s=0.015, fall_s=0.035, rate_hz=1000.0):
    """Standing with a heel drop every `every_s`: a quarter-sine rise over `rise_s` to `peak_bw` x W, a
    quarter-cosine fall back over `fall_s`. True peaks at onset + rise_s."""
    total_s = start_s + every_s * len(peaks_bw) + 2.0
    t = np.arange(int(total_s * rate_hz)) / rate_hz
    f = np.full_like(t, W)
    truth = []
    for k, peak in enumerate(peaks_bw):
        onset = start_s + k * every_s
        dt = t - onset
        rise = np.sin(0.5 * np.pi * np.clip(dt / rise_s, 0, 1))
        fall = np.cos(0.5 * np.pi * np.clip((dt - rise_s) / fall_s, 0, 1))
        bump = np.where(dt < 0, 0.0, np.where(dt <= rise_s, rise, fall))
        f += W * (peak - 1) * bump
        truth.append(onset + rise_s)
    return t, f, truth


def stream(t, f, rate_hz, *, chunk=2, **options):
    """Feed a LiveAnalyzer `chunk` samples at a time (HX711 words arrive one or two per batch); each event
    with the stream time at which it came out."""
    live = LiveAnalyzer(rate_hz, **options)
    out = []
    for i in range(0, len(f), chunk):
        for event in live.feed(t[i:i + chunk], f[i:i + chunk]):
            out.append((float(t[min(i + chunk, len(t)) - 1]), event))
    out += [(float(t[-1]), event) for event in live.flush()]
    return live, out


def test_the_exercise_names_are_the_contracts():
    assert EXERCISES == ("free", "heel-drop", "jump", "drop-landing", "sit-to-stand")
    with pytest.raises(ValueError, match="heel-drop"):
        check_exercise("heeldrop")
    with pytest.raises(ValueError, match="exercise"):
        analyze_force(np.arange(10) / 100, np.full(10, W), 100.0, exercise="pogo")


# --- the untyped analysis: jumps whatever came before -----------------------------------------------------

@pytest.mark.parametrize("rate_hz", [1000.0, 100.0])
@pytest.mark.parametrize("exercise", ["free", "drop-landing"])
def test_a_drop_jumps_rebound_is_a_jump_without_quiet_standing(rate_hz, exercise):
    t, f, truth = drop_jump(W)
    k = int(round(1000.0 / rate_hz))
    result = analyze_force(t[::k], f[::k], rate_hz, exercise=exercise)
    events = result.event_dicts()
    assert [e["kind"] for e in events] == ["impact", "jump"]
    drop, rebound = events
    assert drop["landing"] == "drop onto the plate"
    assert drop["t_peak_s"] == pytest.approx(truth["drop_t_peak_s"], abs=1.0 / rate_hz)
    assert drop["peak_n"] == pytest.approx(truth["drop_peak_n"], rel=0.01)
    assert rebound["takeoff_s"] == pytest.approx(truth["takeoff_s"], abs=1.0 / rate_hz)
    assert rebound["landing_s"] == pytest.approx(truth["landing_s"], abs=1.0 / rate_hz)
    assert rebound["peak_n"] == pytest.approx(truth["peak_n"], rel=0.01 if rate_hz == 1000.0 else 0.05)
    assert rebound["height_impulse_m"] is None                 # no quiet standing before the take-off
    assert "no quiet standing" in rebound["impulse_method"]


@pytest.mark.parametrize("contact_s", [0.25, 0.45, 0.6])
def test_a_drop_jump_through_the_hx711_filter_keeps_its_rebound(contact_s):
    t, f, truth = drop_jump(W, contact_s=contact_s)
    for phase_s in (0.0, 0.005, 0.01):
        tw, y = words(t, f, phase_s=phase_s)
        events = analyze_force(tw, y, HX711_SPS, adc="hx711").event_dicts()
        assert [e["kind"] for e in events] == ["impact", "jump"]
        assert events[1]["takeoff_s"] == pytest.approx(truth["takeoff_s"], abs=0.01)
        assert events[1]["flight_s"] == pytest.approx(truth["flight_s"], abs=0.015)


@pytest.mark.parametrize("rate_hz", [1000.0, 100.0])
def test_a_recording_that_ends_one_sample_into_flight_is_a_jump_and_its_push_off_no_impact(rate_hz):
    # a deep countermovement: 0.7 BW dip over 0.5 s, push-off to 2.6 BW
    t, f, truth = jump(W, dip_bw=0.7, dip_s=0.5, push_bw=1.6, push_s=0.35)
    k = int(round(1000.0 / rate_hz))
    t, f = t[::k], f[::k]
    first_in_air = int(np.flatnonzero((t > truth["takeoff_s"]) & (f < 20.0))[0])
    result = analyze_force(t[:first_in_air + 1], f[:first_in_air + 1], rate_hz)
    events = result.event_dicts()
    assert [e["kind"] for e in events] == ["jump"]
    assert events[0]["landing_s"] is None and events[0]["peak_n"] is None
    assert events[0]["takeoff_s"] == pytest.approx(truth["takeoff_s"], abs=1.0 / rate_hz)


# --- heel-drop sets: judged at once ------------------------------------------------------------------------

def test_a_heel_drop_set_judges_each_peak_five_words_after_the_largest_and_as_offline():
    peaks = [2.2, 3.0, 3.4, 2.0, 2.8, 3.6]
    t, f, truth = heel_drops(peaks)
    tw, y = words(t, f)
    live, out = stream(tw, y, HX711_SPS, adc="hx711", exercise="heel-drop", body_mass_kg=W / 9.80665)
    impacts = [(when, e) for when, e in out if e["kind"] == "impact"]
    assert len(impacts) == len(peaks)
    offline = analyze_force(tw, y, HX711_SPS, adc="hx711", body_weight_n=W, exercise="heel-drop").event_dicts()
    for (when, event), expected, t_true, bw in zip(impacts, offline, truth, peaks):
        assert when - t_true <= LATEST_S
        assert event["t_peak_s"] == pytest.approx(expected["t_peak_s"], abs=1e-6)
        assert event["peak_n"] == pytest.approx(expected["peak_n"], rel=1e-6)
        assert event["peak_bw"] == pytest.approx(bw, rel=0.10)          # the fast verdict's accuracy goal
        assert event["thump"] == (bw >= 2.5)
    assert live.corrections == 0


def test_a_free_set_waits_for_a_push_off_that_a_heel_drop_set_does_not():
    t, f, truth = heel_drops([3.0, 3.0])
    _, free = stream(t, f, 1000.0, chunk=20, adc="ideal", body_mass_kg=W / 9.80665)
    _, typed = stream(t, f, 1000.0, chunk=20, adc="ideal", exercise="heel-drop", body_mass_kg=W / 9.80665)
    free_s = [when - t0 for (when, e), t0 in zip(free, truth)]
    typed_s = [when - t0 for (when, e), t0 in zip(typed, truth)]
    assert all(s > 1.0 for s in free_s)                      # the untyped analysis rules out a push-off first
    assert all(s <= 0.06 + 0.02 + 1e-9 for s in typed_s)    # 60 ms of samples, one 20-sample batch


def test_a_take_off_after_a_heel_drop_withdraws_it_and_is_counted():
    # a heel drop, then a countermovement jump whose push-off (2.2 BW) looks like one, then a heel drop
    t1, f1, truth1 = heel_drops([3.0], start_s=2.0)
    t2, f2, jumped = jump(W, stand_s=1.5, after_s=1.5, push_bw=1.2)
    t3, f3, truth3 = heel_drops([3.2], start_s=1.5)
    f = np.concatenate([f1, f2, f3])
    t = np.arange(f.size) / 1000.0
    shift2, shift3 = t1.size / 1000.0, (t1.size + t2.size) / 1000.0
    live, out = stream(t, f, 1000.0, chunk=20, adc="ideal", exercise="heel-drop", body_mass_kg=W / 9.80665)
    kinds = [e["kind"] for _, e in out]
    assert kinds == ["impact", "impact", "withdrawn", "jump", "impact"]
    push_off, withdrawn = out[1][1], out[2][1]
    assert withdrawn["t_peak_s"] == push_off["t_peak_s"]
    assert jumped["takeoff_s"] + shift2 - 1.0 < withdrawn["t_peak_s"] < jumped["takeoff_s"] + shift2
    assert "push-off" in withdrawn["reason"]
    assert out[3][1]["takeoff_s"] == pytest.approx(jumped["takeoff_s"] + shift2, abs=0.001)
    assert live.corrections == 1
    # offline, the take-off is known: the push-off was never an impact; what stands live is what offline says
    offline = analyze_force(t, f, 1000.0, body_weight_n=W, exercise="heel-drop").event_dicts()
    assert [e["kind"] for e in offline] == ["impact", "jump", "impact"]
    standing_live = [e for _, e in out if e["kind"] != "withdrawn" and e is not push_off]
    assert [e["t_peak_s"] for e in standing_live] == pytest.approx([e["t_peak_s"] for e in offline], abs=1e-9)
    assert [standing_live[0]["t_peak_s"], standing_live[2]["t_peak_s"]] == pytest.approx(
        [truth1[0], truth3[0] + shift3], abs=0.002)


# --- jump sets: the landing judged at the landing ----------------------------------------------------------

def test_a_jump_set_judges_the_landing_at_once_and_its_push_off_is_no_impact():
    parts = [jump(W, stand_s=2.0, after_s=2.0, push_bw=1.5, land_peak_bw=4.0) for _ in range(3)]
    t = np.concatenate([p[0] + k * parts[0][0][-1] + k * 1e-3 for k, p in enumerate(parts)])
    f = np.concatenate([p[1] for p in parts])
    landings = [p[2]["t_peak_s"] + k * (parts[0][0][-1] + 1e-3) for k, p in enumerate(parts)]
    tw, y = words(t, f)
    live, out = stream(tw, y, HX711_SPS, adc="hx711", exercise="jump", body_mass_kg=W / 9.80665)
    assert [e["kind"] for _, e in out] == ["jump"] * 3          # push-offs of 2.5 BW are no impacts
    for (when, event), t_true in zip(out, landings):
        assert when - t_true <= LATEST_S
        assert event["peak_bw"] == pytest.approx(4.0, rel=0.10)
    free_live, free_out = stream(tw, y, HX711_SPS, adc="hx711", body_mass_kg=W / 9.80665)
    assert all(when - t_true > 0.5 for (when, _), t_true in zip(free_out, landings))   # untyped: waits
    offline = analyze_force(tw, y, HX711_SPS, adc="hx711", body_weight_n=W, exercise="jump").event_dicts()
    assert [e["t_peak_s"] for _, e in out] == pytest.approx([e["t_peak_s"] for e in offline], abs=1e-9)


def test_forceplate_analyze_takes_the_exercise_and_says_it(tmp_path):
    t, f, _ = heel_drops([3.0, 2.2])
    path = tmp_path / "set.csv"
    np.savetxt(path, np.column_stack([t, f]), delimiter=",", header="t_s,fz_n", comments="", fmt="%.6f")
    out = {}
    for exercise in ("free", "heel-drop"):
        run = subprocess.run([sys.executable, "-m", "forceplate", "analyze", str(path), "--exercise", exercise,
                              "--json"], capture_output=True, text=True, check=True)
        out[exercise] = json.loads(run.stdout)
        assert out[exercise]["exercise"] == exercise
    assert [e["thump"] for e in out["heel-drop"]["events"]] == [True, False]
    assert "quick verdict" in out["heel-drop"]["events"][0]["peak_method"]
    bad = subprocess.run([sys.executable, "-m", "forceplate", "analyze", str(path), "--exercise", "pogo"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stdout == "" and "pogo" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1                 # the contract: one line on stderr


# --- sit-to-stand: rises are reps, never impacts ------------------------------------------------------------

@pytest.mark.parametrize("exercise", ["free", "sit-to-stand"])
def test_sit_to_stand_rises_stream_as_reps_and_never_as_impacts(exercise):
    # 5 rises to 1.4 BW from a seat carrying the feet at 0.25 BW, chair off the plate, at 100 SPS
    t, f, truth = seated_rises(W, reps=5, rate_hz=100.0, seated_bw=0.25)
    offline = analyze_force(t, f, 100.0, exercise=exercise)
    assert offline.event_dicts() == []                        # no impact, no jump
    rises = [rep for rep in offline.sit_to_stands if rep.has_rise]
    assert [rep.t_peak_s for rep in rises] == pytest.approx(truth["rise_peaks_s"], abs=0.011)
    live, out = stream(t, f, 100.0, chunk=7, adc="ideal", exercise=exercise)
    assert [e["kind"] for _, e in out] == ["sit-to-stand"] * 5
    for (when, rep), expected in zip(out, rises):
        assert rep["t_peak_s"] == pytest.approx(expected.t_peak_s, abs=1e-4)   # rounded to 0.1 ms
        assert rep["rise_s"] == pytest.approx(expected.rise_s, abs=1e-4)
        assert rep["peak_bw"] == pytest.approx(truth["peak_n"] / W, rel=0.01)
        assert when >= expected.rise_end_s                    # out once the person has settled at standing


# --- one code path: every real recording, live as offline, in every exercise --------------------------------

@pytest.mark.parametrize("exercise", ["heel-drop", "jump", "drop-landing", "sit-to-stand"])
def test_every_recording_streams_to_its_offline_events_in_every_exercise(exercise):
    from forceplate.storage.traces import read_trace
    from helpers import recordings

    for k, csv in enumerate(recordings()):
        trace = read_trace(csv)
        rate_hz = 86.0                 # what an HX711 plate sees: the recording as words at ~86 SPS
        tw = np.arange(0.004 * k, trace.t_s[-1], 1 / rate_hz)
        y = hx711_words(trace.total_force_n, tw, rate_hz, input_rate_hz=trace.rate_hz)
        offline = analyze_force(tw, y, rate_hz, adc="hx711", exercise=exercise)
        live, out = stream(tw, y, rate_hz, chunk=3, adc="hx711", exercise=exercise,
                           body_mass_kg=None if offline.body_weight_n is None else offline.body_weight_n / 9.80665)
        withdrawn = {e["t_peak_s"] for _, e in out if e["kind"] == "withdrawn"}
        standing = [e for _, e in out if e["kind"] in ("impact", "jump")
                    and not (e["kind"] == "impact" and e["t_peak_s"] in withdrawn)]
        expected = offline.event_dicts()
        assert [e["kind"] for e in standing] == [e["kind"] for e in expected], csv.name
        for a, b in zip(standing, expected):
            for key in ("takeoff_s", "landing_s", "t_peak_s"):
                assert (a.get(key) is None) == (b.get(key) is None)
                if b.get(key) is not None:
                    assert a[key] == pytest.approx(b[key], abs=0.005), (csv.name, key)
            if b["peak_n"] is not None:
                assert a["peak_n"] == pytest.approx(b["peak_n"], rel=0.01), csv.name
        assert live.corrections == len(withdrawn)
        if exercise != "heel-drop":
            assert live.corrections == 0          # only a heel-drop set judges a peak before a take-off


def test_sit_to_stand_power_from_the_command_line_and_its_bad_heights(tmp_path):
    t, f, truth = seated_rises(W, reps=2, rate_hz=100.0, seated_bw=0.25)
    path = tmp_path / "sts.csv"
    np.savetxt(path, np.column_stack([t, f]), delimiter=",", header="t_s,fz_n", comments="", fmt="%.6f")
    run = subprocess.run([sys.executable, "-m", "forceplate", "analyze", str(path), "--exercise", "sit-to-stand",
                          "--body-height", "1.70", "--chair-height", "0.45", "--json"],
                         capture_output=True, text=True, check=True)
    reps = json.loads(run.stdout)["sit_to_stand"]
    assert len(reps) == 2
    for rep in reps:     # Alcazar et al. 2018: P = 0.9 m g (0.5 h - chair) / t, m g = W
        assert rep["mean_power_w"] == pytest.approx(0.9 * W * (0.85 - 0.45) / rep["rise_s"], abs=0.1)
    for args, word in ((["--body-height", "1.7"], "together"), (["--body-height", "3", "--chair-height", "0.45"],
                       "--body-height"), (["--body-height", "1.7", "--chair-height", "0.9"], "--chair-height")):
        bad = subprocess.run([sys.executable, "-m", "forceplate", "analyze", str(path), *args],
                             capture_output=True, text=True)
        assert bad.returncode == 2 and bad.stdout == "" and word in bad.stderr
        assert len(bad.stderr.strip().splitlines()) == 1
