"""forceplate doctor: each check on emulated HX711 chips with known noise, drift, rate and filter.

Most tests run the compiled sampler loop on the pin-level emulator with a virtual clock (seconds of sampling
in milliseconds) and feed the sets to the checks; the expected values come from what was injected (the
noise in counts, the drift, the chips' rate, the filter's order), never from the checks' own output. The
command-line tests run `forceplate doctor` on ``hx711:emulated`` (the real sampler thread, real time) and on
the simulator.
"""
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from forceplate.calibration.saved import (Calibration, load_filter_fit, load_filter_model, save_calibration,
                                          save_filter_fit)
from forceplate.device import _gpio, _hx711, doctor
from forceplate.device.sim.emulator import (DEFAULT_RATES_HZ, EMULATED_SCALE_N_PER_COUNT, ball_plate_words)
from forceplate.device.timebase import ConversionClock
from forceplate.signal.hx711_model import Hx711Model, estimate_impact, respond, skewed_pulse
from forceplate.storage.store import Store

SCALES = np.asarray(EMULATED_SCALE_N_PER_COUNT)


def emulated_frames(seconds, *, rates_hz=None, faults=(), nominal_hz=80.0, **words_options):
    """Sets read by the compiled sampler from emulated chips (virtual clock), stamped as HX711Source does."""
    words, truth = ball_plate_words(seconds + 1.0, rates_hz=rates_hz, **words_options)
    chips = _gpio.EmulatedLines(words, rates_hz=rates_hz, virtual=True)
    for name, *args in faults:
        getattr(chips, name)(*args)
    sampler = _gpio.Sampler(4, rate_hz=nominal_hz, gain_pulses=25)
    ring = _hx711.SampleRing(4, 16384)
    sampler.run(chips, ring, until_ns=chips.start_ns + int(seconds * 1e9))
    frames = ring.pop()
    frames = frames._replace(t_ns=ConversionClock(nominal_hz).stamp(frames.t_ns))
    return frames, truth, chips


def split(frames, start_ns, at_s):
    cut = int(np.searchsorted(frames.t_ns, start_ns + int(at_s * 1e9)))
    return (doctor.Frames(*(a[:cut] for a in frames)), doctor.Frames(*(a[cut:] for a in frames)))


def by_status(checks):
    return [c.status for c in checks]


# ------------------------------------------------------------------------------------- noise and drift

def test_noise_in_counts_and_newtons_is_the_injected_noise():
    frames, truth, _ = emulated_frames(10.0, noise_counts=60.0)
    stats = doctor.empty_plate_stats(frames, truth["scale_n_per_count"])
    for ch, s in enumerate(stats):
        assert s["noise_counts"] == pytest.approx(60.0, rel=0.1)          # about 850 words: SD within ~5 %
        assert s["noise_n"] == pytest.approx(60.0 * SCALES[ch], rel=0.1)
    assert by_status(doctor.check_noise(stats)) == ["ok"] * 4              # 0.15 N per corner


def test_a_noisy_corner_warns_and_a_very_noisy_one_fails():
    # 1.5 N and 3 N RMS on two corners (counts = N / scale), the datasheet's level on the others
    noise = np.array([40.0, 1.5 / SCALES[1], 40.0, 3.0 / SCALES[3]])
    words, truth = ball_plate_words(8.0, noise_counts=1.0)
    rng = np.random.default_rng(5)
    n = len(words)
    counts = ((words.astype(np.int64) ^ 0x800000) - 0x800000) + rng.normal(0, 1, (n, 4)) * noise
    t_ns = (truth["instants_s"][:, 3] * 1e9).astype(np.int64)
    frames = doctor.Frames(t_ns, np.rint(counts).astype(np.int32), np.zeros((n, 4), np.uint8))
    checks = doctor.check_noise(doctor.empty_plate_stats(frames, SCALES))
    assert by_status(checks) == ["ok", "warn", "ok", "fail"]
    assert checks[3].data["noise_n"] == pytest.approx(3.0, rel=0.1)


def test_offset_drift_of_one_corner_is_measured_and_fails():
    drift = [0.0, 20.0, 0.0, -5.0]          # counts per second
    frames, truth, _ = emulated_frames(10.0, drift_counts_per_s=drift)
    stats = doctor.empty_plate_stats(frames, truth["scale_n_per_count"])
    expected = np.array(drift) * SCALES * 60            # N per minute
    for ch in range(4):
        assert stats[ch]["drift_n_per_min"] == pytest.approx(expected[ch], abs=4 * stats[ch]["drift_se_n_per_min"])
    # 20 counts/s on front-right: 3.2 N/min, over 2; -5 counts/s on back-right: -0.78 N/min, over 0.5 and
    # well beyond its standard error (about 0.1 N/min over 10 s of 40-count noise)
    checks = doctor.check_drift(stats, truth["scale_n_per_count"])
    assert by_status(checks) == ["ok", "fail", "ok", "warn"]


def test_empty_plate_against_the_stored_tare():
    frames, truth, _ = emulated_frames(3.0)
    stats = doctor.empty_plate_stats(frames, SCALES)
    tare = truth["offset_counts"]
    assert doctor.check_drift(stats, SCALES, tare)[-1].status == "ok"
    # the tare 2000 counts lower on every corner: the empty plate reads 2000 * sum(scales) = 20.4 N
    moved = doctor.check_drift(stats, SCALES, tare - 2000)[-1]
    assert moved.status == "fail" and moved.data["since_tare_n"] == pytest.approx(2000 * SCALES.sum(), abs=0.5)


# ------------------------------------------------------------------------------- chips, rate, sampler

def test_an_unplugged_chip_fails_and_the_others_answer():
    frames, _, _ = emulated_frames(4.0, faults=[("unplug", 2, 0.0, None)])
    checks = doctor.check_chips(frames)
    assert checks[2].status == "fail" and "back-left" in checks[2].name and checks[2].value == "no valid word"
    # the others keep answering (the sampler waits out the missing chip each set, so one may lose a word)
    assert all(c.data["valid_fraction"] > 0.99 for c in checks[:2] + checks[3:])


def test_a_chip_that_drops_words_now_and_then_warns():
    # DOUT pulled high for 60 ms in every second: about 5 of 86 words a second lost on chip 1
    faults = [("unplug", 1, s + 0.5, s + 0.56) for s in range(4)]
    frames, _, _ = emulated_frames(4.0, faults=faults)
    checks = doctor.check_chips(frames)
    assert checks[1].status in ("warn", "fail") and checks[0].status == "ok"
    assert checks[1].data["valid_fraction"] < 0.999


@pytest.mark.parametrize("rates, nominal, status", [
    ((86.0, 86.4, 85.7, 86.2), 80.0, "ok"),       # internal oscillators, 85-94 SPS
    ((80.0,), 80.0, "ok"),                        # a crystal: the nominal rate
    ((76.0,), 80.0, "warn"),
    ((10.4,), 80.0, "fail"),                      # RATE pin low
])
def test_output_rate_is_the_slowest_chips_rate(rates, nominal, status):
    frames, _, _ = emulated_frames(6.0, rates_hz=rates)
    check = doctor.check_rate(frames, nominal)
    assert check.data["rate_hz"] == pytest.approx(min(rates), rel=2e-3)
    if len(rates) == 4:         # lock-step: every chip's words come at the slowest chip's pace
        assert check.data["chips_hz"] == pytest.approx([min(rates)] * 4, rel=2e-3)
    assert check.status == status
    if status == "fail":
        assert "RATE pin" in check.advice


def test_sets_captured_and_priority():
    frames, _, _ = emulated_frames(6.0)
    assert [c.status for c in doctor.check_sampler(frames, {"realtime_priority_used": 50})] == ["ok", "ok"]
    keep = np.ones(frames.n_sets, bool)
    keep[::40] = False                                         # 2.5 % of the sets missed
    thinned = doctor.Frames(*(a[keep] for a in frames))
    prio, captured = doctor.check_sampler(thinned, {"realtime_priority_used": 0, "realtime_priority": 50})
    assert prio.status == "warn" and captured.status == "fail"
    assert captured.data["captured_fraction"] == pytest.approx(keep.mean(), abs=2e-3)


# ------------------------------------------------------------------------------ calibration, disk, clock

def calibration(days_old, scales=(0.0025, 0.0026, 0.0024, 0.0025), residual_n=0.5, mass_kg=20.0):
    when = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days_old)).isoformat(timespec="seconds")
    return Calibration(offset_counts=(0.0,) * 4, scale_n_per_count=tuple(scales), calibrated_at=when,
                       mass_kg=mass_kg, residual_n={"centre": residual_n})


def test_calibration_recent_and_corners_agree():
    assert by_status(doctor.check_calibration(calibration(10))) == ["ok", "ok"]
    assert by_status(doctor.check_calibration(calibration(120))) == ["warn", "ok"]
    assert by_status(doctor.check_calibration(None)) == ["fail", "skip"]
    # one cell reads half as much per count: the corners disagree
    assert by_status(doctor.check_calibration(calibration(10, scales=(0.0025, 0.0025, 0.0025, 0.005)))) == ["ok", "fail"]
    # a placement 2 % off the 196 N weight: warn; 5 %: fail
    assert doctor.check_calibration(calibration(10, residual_n=3.9))[1].status == "warn"
    assert doctor.check_calibration(calibration(10, residual_n=9.8))[1].status == "fail"


def test_free_disk(tmp_path):
    free_mb = shutil.disk_usage(tmp_path).free / 1e6
    assert doctor.check_disk(tmp_path, free_mb / 10).status == "ok"
    assert doctor.check_disk(tmp_path, free_mb / 2).status == "warn"
    assert doctor.check_disk(tmp_path, free_mb * 2).status == "fail"


def test_clock():
    now = time.time()
    assert doctor.check_clock(now=now, synchronised=True, newest_write_s=now - 100).status == "ok"
    assert doctor.check_clock(now=now, synchronised=False, newest_write_s=None).status == "warn"
    # a Pi that started from an old saved time: behind the data already written
    behind = doctor.check_clock(now=now - 86400, synchronised=False, newest_write_s=now)
    assert behind.status == "fail" and behind.data["behind_h"] == pytest.approx(24.0, abs=0.01)
    assert doctor.clock_synchronised() in (True, False, None)


def test_newest_write_reads_the_data_folder(tmp_path):
    (tmp_path / "a").write_text("x")
    os.utime(tmp_path / "a", (1_000_000, 2_000_000))
    assert doctor.newest_write(tmp_path) == pytest.approx(2_000_000)


# ----------------------------------------------------------------------------------- filter self-check

def ball_run(order, delay_s=0.0, impulse_n_s=0.3, drops=6, seed=0):
    """An empty plate for 5 s, then a ball every 1.3 s, through chips with the given filter."""
    drop_s = 5.5 + 1.3 * np.arange(drops)
    frames, truth, chips = emulated_frames(6.0 + 1.3 * drops, model=Hx711Model(order, delay_s), drops_s=drop_s,
                                           impulse_n_s=impulse_n_s, seed=seed)
    empty, ball = split(frames, chips.start_ns, 5.0)
    noise = [s["noise_counts"] for s in doctor.empty_plate_stats(empty, SCALES)]
    return ball, noise


def test_matching_chips_fit_the_models_order_at_the_noise_level():
    ball, noise = ball_run(4)
    contacts = doctor.find_contacts(ball, noise)
    assert len(contacts) == 6
    fit = doctor.fit_filter(ball, contacts, noise, model_order=4)
    assert fit.order == 4 and fit.matches
    assert fit.residual_model <= doctor.FIT_OK_NOISE
    assert fit.residual_by_order[3] > fit.residual_model and fit.residual_by_order[5] > fit.residual_model
    assert doctor.check_filter(fit).status == "ok"


@pytest.mark.parametrize("order", [3, 6])
def test_chips_with_another_filter_are_told_apart(order):
    ball, noise = ball_run(order)
    contacts = doctor.find_contacts(ball, noise)
    fit = doctor.fit_filter(ball, contacts, noise, model_order=4)
    assert fit.order == order and not fit.matches
    assert fit.residual_best <= doctor.FIT_OK_NOISE
    assert fit.residual_model ** 2 > (1 + doctor.MATCH_MARGIN) * fit.residual_best ** 2
    check = doctor.check_filter(fit)
    assert check.status == "fail" and f"order {order}" in check.advice


def test_a_delay_cannot_be_told_from_a_later_contact():
    # a chip delayed 10 ms gives exactly the words of an undelayed chip hit 10 ms later: the ball cannot
    # measure a delay, which is why the doctor fits the order only
    delayed, _ = ball_plate_words(3.0, drops_s=(1.0,), model=Hx711Model(4, 0.010), seed=4)
    later, _ = ball_plate_words(3.0, drops_s=(1.010,), model=Hx711Model(4, 0.0), seed=4)
    np.testing.assert_array_equal(delayed, later)


def test_a_delay_moves_an_estimated_peak_in_time_not_in_size():
    rate = 86.0
    t = 0.3 + np.arange(40) / rate

    def pulse(x):
        return skewed_pulse(x, onset_s=0.5, rise_s=0.015, fall_s=0.025, peak_n=1500.0)
    delayed = Hx711Model(4, 0.012)
    words = respond(pulse, t, rate, model=delayed)
    a = estimate_impact(t, words, rate_hz=rate, baseline_n=0.0, model=delayed, noise_n=0.5)
    b = estimate_impact(t, words, rate_hz=rate, baseline_n=0.0, noise_n=0.5)       # the default, no delay
    assert a.peak_n == pytest.approx(b.peak_n, rel=0.02)
    assert b.t_peak_s - a.t_peak_s == pytest.approx(0.012, abs=0.002)


def test_too_few_or_too_soft_drops_are_inconclusive():
    ball, noise = ball_run(4, drops=2)
    contacts = doctor.find_contacts(ball, noise)
    assert len(contacts) == 2
    assert doctor.check_filter(None, contacts_found=len(contacts)).status == "warn"
    # a ball 40 times softer: its largest word about one noise RMS, no contact stands out
    soft, noise = ball_run(4, impulse_n_s=0.3 / 40)
    assert doctor.find_contacts(soft, noise) == []


def test_the_fit_is_stored_apart_for_a_rehearsal_and_read_back_as_a_model(tmp_path):
    store = Store(tmp_path / "fp.db")
    try:
        ball, noise = ball_run(3)
        fit = doctor.fit_filter(ball, doctor.find_contacts(ball, noise), noise)
        save_filter_fit(store, fit.to_json(), source="hx711:emulated", rehearsal=True)
        assert load_filter_model(store) is None                                  # the plate's own: untouched
        assert load_filter_model(store, rehearsal=True) == Hx711Model(3, 0.0)
        save_filter_fit(store, {"order": 5}, source="hx711")
        assert load_filter_model(store) == Hx711Model(5, 0.0)
        assert load_filter_fit(store)["source"] == "hx711"
    finally:
        store.close()


def test_report_is_saved_whole_and_read_back(tmp_path):
    checks = [doctor.Check("a", "ok", "1 N"), doctor.Check("b", "warn", "2 N", "do this", {"x": float("inf")})]
    report = doctor.report_json(checks, source="hx711", started="2026-12-06T10:00:00+00:00")
    assert report["status"] == "warn"
    doctor.save_report(tmp_path, report)
    assert doctor.load_report(tmp_path)["checks"][1]["data"]["x"] is None
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    (tmp_path / doctor.REPORT_NAME).write_text("{broken")
    assert doctor.load_report(tmp_path) is None
    assert doctor.worst([doctor.Check("a", "skip", ""), doctor.Check("b", "fail", "")]) == "fail"


# -------------------------------------------------------------------------------------- the command

def run_cli(*args, input_text=None, data_dir, env_extra=None, timeout=120):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORCEPLATE_")}
    env.update({"FORCEPLATE_CONFIG": os.devnull, **(env_extra or {})})
    return subprocess.run([sys.executable, "-m", "forceplate", "doctor", "--data-dir", str(data_dir), *args],
                          input=input_text, capture_output=True, text=True, env=env, timeout=timeout)


def calibrated_store(folder):
    store = Store(folder / "forceplate.db")
    try:
        save_calibration(store, calibration(1))
    finally:
        store.close()


EMULATED = "hx711:emulated?empty_s=3.5&every_s=1.0&loop_s=14"


def test_doctor_on_emulated_chips_that_match_the_model(tmp_path):
    calibrated_store(tmp_path)
    # no --yes: the two instructions each wait for Enter, given here on standard input
    result = run_cli("--source", EMULATED, "--seconds", "2", "--drops", "4", "--json", input_text="\n\n",
                     data_dir=tmp_path)
    report = json.loads(result.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert "Empty the plate" in result.stderr and "drop a tennis ball" in result.stderr
    assert checks["hardware"]["status"] == "ok"
    assert checks["output rate"]["status"] == "ok" and 85.0 <= checks["output rate"]["data"]["rate_hz"] <= 87.0
    for corner, scale in zip(("front-left", "front-right", "back-left", "back-right"), SCALES):
        noise = checks[f"{corner} noise"]
        assert noise["data"]["noise_counts"] == pytest.approx(40.0, rel=0.25)       # the emulator's 40 counts
        assert noise["data"]["noise_n"] == pytest.approx(40.0 * scale, rel=0.25)
    ball = checks["filter self-check"]
    assert ball["status"] == "ok" and ball["data"]["order"] == 4 and ball["data"]["contacts"] >= 4
    # the sampler runs at normal priority here, so a loaded machine may miss a set or two ("sets captured");
    # everything else must pass, and the exit status must follow the report
    assert [c["name"] for c in report["checks"] if c["status"] == "fail"] in ([], ["sets captured"])
    assert result.returncode == (1 if report["status"] == "fail" else 0)
    assert json.loads((tmp_path / doctor.REPORT_NAME).read_text())["checks"] == report["checks"]
    store = Store(tmp_path / "forceplate.db")
    try:
        assert load_filter_model(store, rehearsal=True) == Hx711Model(4, 0.0)
        assert load_filter_model(store) is None               # emulated chips never stand for the plate's
    finally:
        store.close()


def test_doctor_on_emulated_chips_with_another_filter_fails(tmp_path):
    calibrated_store(tmp_path)
    result = run_cli("--source", EMULATED + "&order=3", "--seconds", "2", "--drops", "4", "--yes",
                     data_dir=tmp_path)
    assert result.returncode == 1, result.stderr
    line = next(l for l in result.stdout.splitlines() if "filter self-check" in l)
    assert line.lstrip().startswith("[FAIL]") and "order 3 fits best" in line
    assert "the estimates use order 3" in result.stdout


def test_doctor_on_the_simulator_says_no_hardware(tmp_path):
    calibrated_store(tmp_path)
    result = run_cli("--source", "sim:standing", "--yes", data_dir=tmp_path)
    assert result.returncode == 0, result.stdout        # nothing failed: skips and the clock's warning only
    first = result.stdout.splitlines()[1]
    assert "[SKIP] hardware: no hardware" in first and "simulated plate" in first
    for name in ("chips answer", "output rate", "noise", "filter self-check"):
        assert f"[SKIP] {name}: no hardware" in result.stdout
    assert "free disk" in result.stdout and "clock" in result.stdout


def test_doctor_with_no_chips_answering_fails_with_the_reason(tmp_path):
    result = run_cli("--yes", "--skip-ball", data_dir=tmp_path,
                     env_extra={"FORCEPLATE_SOURCE": "hx711?sck=5&dout=6,13,19,26"})
    if "[FAIL] hardware" not in result.stdout:
        pytest.skip("this machine has a Raspberry Pi GPIO chip")
    assert result.returncode == 1 and "no HX711 answered" in result.stdout


@pytest.mark.parametrize("args, words", [
    (("--seconds", "0"), "--seconds 0"),
    (("--drops", "1"), "--drops 1"),
    (("--source", "hx711:emulated?order=12"), "order 12"),
    (("--source", "hx711:emulated?colour=red"), "unknown source option 'colour'"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, args, words):
    result = run_cli(*args, "--yes", data_dir=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and words in result.stderr


# ------------------------------------------------------------------------ the fitted order in the estimates

@pytest.mark.parametrize("order", [3, 6])
def test_peak_estimates_through_the_fitted_order_are_closer_on_such_chips(order):
    # a 32 ms impact through chips with another filter: the estimate through the order those chips have
    # (what the doctor saves) misses the true 1500 N by less than the estimate through the default model
    from forceplate.signal.refine import true_peak
    rate, errors = 86.0, {}
    for model in (Hx711Model(order), Hx711Model(4)):
        misses = []
        for phase in np.linspace(0.0, 1.0, 7, endpoint=False):
            t = 0.3 + (np.arange(40) + phase) / rate
            words = respond(lambda x: skewed_pulse(x, onset_s=0.5, rise_s=0.012, fall_s=0.02, peak_n=1500.0),
                            t, rate, model=Hx711Model(order))
            est = true_peak(words, t, int(np.argmax(words)), baseline_n=0.0, model=model)
            misses.append(abs(est.peak_n / 1500.0 - 1))
        errors[model.order] = float(np.mean(misses))
    assert errors[order] < errors[4]


def test_the_analysis_and_the_live_pipeline_estimate_through_the_fitted_order():
    # heel drops on standing through chips of order 6: analyze_force given that model (what prepare_source
    # hands the live pipeline from the doctor's fit) estimates the true peaks closer than the default model
    from forceplate.device.sources import open_source
    from forceplate.live.pipeline import ForcePipeline
    from forceplate.signal import analyze_force

    rate, weight, peaks = 86.0, 700.0, (2100.0, 2450.0, 1900.0)
    t = 0.01 + np.arange(int(12 * rate)) / rate

    def force(x):
        out = np.full_like(x, weight)
        for k, peak in enumerate(peaks):
            out += skewed_pulse(x, onset_s=4.0 + 2.5 * k, rise_s=0.012, fall_s=0.03, peak_n=peak - weight)
        return out

    words = respond(force, t, rate, model=Hx711Model(6))
    misses = {}
    for model in (Hx711Model(6), None):
        found = analyze_force(t, words, rate, adc="hx711", body_weight_n=weight, hx711_model=model).event_dicts()
        assert len(found) == 3
        misses[model is None] = np.mean([abs(e["peak_n"] / p - 1) for e, p in zip(found, peaks)])
    assert misses[False] < misses[True]
    source = open_source("hx711:emulated")
    try:
        source.hx711_model = Hx711Model(6)
        assert ForcePipeline(source).analyzer.hx711_model == Hx711Model(6)
    finally:
        source.close()
