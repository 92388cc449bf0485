"""Analytic force traces with known answers, for the tests.

Every builder returns ``(t_s, force_n, truth)``: sample times (s), total vertical force (N) and a dict of the
values the analysis must find, worked out from the shape (not from forceplate's output). Edges are straight
ramps, so the interpolated threshold crossings the contract asks for are exact.
"""
from __future__ import annotations

import math

import numpy as np

from forceplate.signal.hx711_model import DEFAULT_MODEL, filter_samples

G = 9.80665           # standard gravity, m/s^2
THRESHOLD_N = 20.0    # the contract's flight threshold, for body weights up to 667 N


def _times(total_s: float, rate_hz: float, t0_s: float = 0.0) -> np.ndarray:
    return t0_s + np.arange(int(round(total_s * rate_hz))) / rate_hz


def standing(body_weight_n=700.0, *, total_s=3.0, rate_hz=1000.0, noise_n=0.0, seed=0, t0_s=0.0):
    """Quiet standing: the weight, plus white noise of SD `noise_n` (N)."""
    t = _times(total_s, rate_hz, t0_s)
    rng = np.random.default_rng(seed)
    return t, body_weight_n + noise_n * rng.standard_normal(t.shape), {"body_weight_n": body_weight_n}


def half_sine_impact(body_weight_n=700.0, peak_bw=3.0, *, duration_s=0.05, t_onset_s=2.0, total_s=4.0,
                     rate_hz=1000.0, t0_s=0.0):
    """Quiet standing and one impact: a half-sine from 1 BW up to `peak_bw` and back, `duration_s` long.

    Peak at the half-sine's middle; loading rate from the 1 BW onset to the peak = (peak_bw - 1) / (T / 2).
    """
    t = _times(total_s, rate_hz, t0_s)
    phase = (t - t0_s - t_onset_s) / duration_s
    extra = np.where((phase >= 0) & (phase <= 1), np.sin(np.pi * np.clip(phase, 0, 1)), 0.0)
    force = body_weight_n * (1 + (peak_bw - 1) * extra)
    return t, force, {"body_weight_n": body_weight_n, "peak_n": peak_bw * body_weight_n, "peak_bw": peak_bw,
                      "t_peak_s": t0_s + t_onset_s + duration_s / 2, "onset_s": t0_s + t_onset_s,
                      "loading_rate_bw_s": (peak_bw - 1) / (duration_s / 2)}


def skewed_impact(body_weight_n=700.0, peak_bw=3.0, *, rise_s=0.012, fall_s=0.040, t_onset_s=2.0, total_s=4.0,
                  rate_hz=1000.0):
    """An impact with a fast rise (a quarter sine over `rise_s`) and a slower fall (over `fall_s`)."""
    t = _times(total_s, rate_hz)
    dt = t - t_onset_s
    rise = np.sin(0.5 * np.pi * np.clip(dt / rise_s, 0, 1))
    fall = np.cos(0.5 * np.pi * np.clip((dt - rise_s) / fall_s, 0, 1))
    extra = np.where(dt < 0, 0.0, np.where(dt <= rise_s, rise, fall))
    force = body_weight_n * (1 + (peak_bw - 1) * extra)
    return t, force, {"body_weight_n": body_weight_n, "peak_n": peak_bw * body_weight_n,
                      "t_peak_s": t_onset_s + rise_s, "loading_rate_bw_s": (peak_bw - 1) / rise_s}


def jump(body_weight_n=650.0, *, flight_s=0.4, rate_hz=1000.0, stand_s=2.0, after_s=2.0, dip_bw=0.4,
         dip_s=0.3, push_bw=1.2, push_s=0.3, unload_s=0.02, land_peak_bw=4.0, land_rise_s=0.04,
         land_fall_s=0.1, t0_s=0.0):
    """A countermovement jump from quiet standing, with a take-off velocity known in closed form.

    Standing (weight W); unweighting, a half-sine dip of `dip_bw` x W over `dip_s`; propulsion, a half-sine
    of `push_bw` x W above W over `push_s`; a straight fall from W to 0 over `unload_s` (take-off at 0 N);
    flight of zero force; a landing that rises straight from 0 to `land_peak_bw` x W in `land_rise_s` and
    falls straight back to W in `land_fall_s`; standing.

    Truth: net impulse J = W (2 / pi) (push_bw push_s - dip_bw dip_s) - W unload_s / 2 (N s), take-off
    velocity v = g J / W, impulse height v^2 / 2g (and the velocity at the 20 N crossing, where the contract
    stops integrating). The threshold crossings (20 N) of the straight edges and
    the flight between them; h = g t^2 / 8 for that flight; the landing peak and its loading rate from the
    landing crossing, (peak - 20 N) / W / (t_peak - landing) = land_peak_bw / land_rise_s.
    ``flight_s`` is the time at zero force (the flight between 20 N crossings is a little longer).
    """
    W = body_weight_n
    t_dip = stand_s
    t_push = t_dip + dip_s
    t_unload = t_push + push_s
    t_air = t_unload + unload_s
    t_land = t_air + flight_s
    t_land_peak = t_land + land_rise_s
    t_settled = t_land_peak + land_fall_s
    total_s = t_settled + after_s
    t = _times(total_s, rate_hz)
    f = np.full_like(t, W)
    m = (t >= t_dip) & (t < t_push)
    f[m] = W * (1 - dip_bw * np.sin(np.pi * (t[m] - t_dip) / dip_s))
    m = (t >= t_push) & (t < t_unload)
    f[m] = W * (1 + push_bw * np.sin(np.pi * (t[m] - t_push) / push_s))
    m = (t >= t_unload) & (t < t_air)
    f[m] = W * (1 - (t[m] - t_unload) / unload_s)
    m = (t >= t_air) & (t < t_land)
    f[m] = 0.0
    peak = land_peak_bw * W
    m = (t >= t_land) & (t < t_land_peak)
    f[m] = peak * (t[m] - t_land) / land_rise_s
    m = (t >= t_land_peak) & (t < t_settled)
    f[m] = peak + (W - peak) * (t[m] - t_land_peak) / land_fall_s
    impulse_ns = W * (2 / np.pi) * (push_bw * push_s - dip_bw * dip_s) - W * unload_s / 2
    v = G * impulse_ns / W
    takeoff_s = t_air - unload_s * THRESHOLD_N / W
    tail_s = unload_s * THRESHOLD_N / W           # from the 20 N crossing down to 0 N: F - W averages 10 N - W
    v_20n = v - G * (THRESHOLD_N / 2 - W) * tail_s / W
    landing_s = t_land + land_rise_s * THRESHOLD_N / peak
    flight = landing_s - takeoff_s
    return t0_s + t, f, {
        "body_weight_n": W, "takeoff_s": t0_s + takeoff_s, "landing_s": t0_s + landing_s, "flight_s": flight,
        "height_flight_m": G * flight ** 2 / 8, "takeoff_velocity_m_s": v, "takeoff_velocity_20n_m_s": v_20n, "height_impulse_m": v * v / (2 * G),
        "t_peak_s": t0_s + t_land_peak, "peak_n": peak, "peak_bw": land_peak_bw,
        "loading_rate_bw_s": land_peak_bw / land_rise_s, "movement_s": t0_s + t_dip}


def drop_jump(body_weight_n=700.0, *, rate_hz=1000.0, empty_s=1.5, drop_peak_bw=5.0, drop_rise_s=0.03,
              contact_s=0.45, push_bw=2.0, unload_s=0.03, flight_s=0.40, land_peak_bw=3.5, land_rise_s=0.04,
              land_fall_s=0.1, after_s=2.5):
    """A drop jump: an empty plate, a drop landing from a box, a ground contact that brakes and pushes off,
    a take-off, a flight, a landing and standing. No quiet standing before the take-off.

    Empty (0 N) for `empty_s`; the drop landing rises straight from 0 to `drop_peak_bw` x W in `drop_rise_s`;
    the contact then follows a half-cosine from that peak down to `push_bw` x W over the first half of the
    rest of `contact_s`, holds there, and falls straight to 0 over `unload_s` (the take-off); zero force for
    `flight_s`; a landing like :func:`jump`'s; standing for `after_s`.

    Truth: the 20 N crossings of the straight edges (take-off, the rebound's landing), the drop landing's
    peak (instant and size) and the rebound landing's peak.
    """
    W = body_weight_n
    t = _times(empty_s + contact_s + flight_s + land_rise_s + land_fall_s + after_s, rate_hz)
    f = np.zeros_like(t)
    t_drop, t_drop_peak = empty_s, empty_s + drop_rise_s
    t_unload = empty_s + contact_s - unload_s
    t_air = empty_s + contact_s
    t_land = t_air + flight_s
    t_land_peak, t_settled = t_land + land_rise_s, t_land + land_rise_s + land_fall_s
    drop_peak, push, land_peak = drop_peak_bw * W, push_bw * W, land_peak_bw * W
    m = (t >= t_drop) & (t < t_drop_peak)
    f[m] = drop_peak * (t[m] - t_drop) / drop_rise_s
    brake_s = (t_unload - t_drop_peak) / 2
    m = (t >= t_drop_peak) & (t < t_drop_peak + brake_s)
    f[m] = push + (drop_peak - push) * (1 + np.cos(np.pi * (t[m] - t_drop_peak) / brake_s)) / 2
    m = (t >= t_drop_peak + brake_s) & (t < t_unload)
    f[m] = push
    m = (t >= t_unload) & (t < t_air)
    f[m] = push * (1 - (t[m] - t_unload) / unload_s)
    m = (t >= t_land) & (t < t_land_peak)
    f[m] = land_peak * (t[m] - t_land) / land_rise_s
    m = (t >= t_land_peak) & (t < t_settled)
    f[m] = land_peak + (W - land_peak) * (t[m] - t_land_peak) / land_fall_s
    f[t >= t_settled] = W
    takeoff_s = t_air - unload_s * THRESHOLD_N / push
    landing_s = t_land + land_rise_s * THRESHOLD_N / land_peak
    return t, f, {"body_weight_n": W, "drop_t_peak_s": t_drop_peak, "drop_peak_n": drop_peak,
                  "takeoff_s": takeoff_s, "landing_s": landing_s, "flight_s": landing_s - takeoff_s,
                  "t_peak_s": t_land_peak, "peak_n": land_peak}


def seated_rises(body_weight_n=700.0, *, reps=5, rate_hz=100.0, seated_bw=0.01, sit_s=1.0, seated_s=1.5,
                 rise_s=0.8, peak_bw=1.4, stand_s=2.5):
    """Sit-to-stand reps with the chair off the plate and the feet resting on it with next to no load.

    Standing (W) for `stand_s`, then per rep: a half-cosine sit-down from W to `seated_bw` x W over `sit_s`,
    seated for `seated_s`, a rise (half-cosine up to `peak_bw` x W over 0.55 of `rise_s`, back to W over
    the rest) and standing for `stand_s`. Truth: the instant and size of each rise's peak.
    """
    W = body_weight_n
    parts, peaks_s, now = [np.full(int(round(stand_s * rate_hz)), W)], [], stand_s
    for _ in range(reps):
        n_sit, n_seat = int(round(sit_s * rate_hz)), int(round(seated_s * rate_hz))
        n_up = int(round(0.55 * rise_s * rate_hz))
        n_down = int(round(rise_s * rate_hz)) - n_up
        u = lambda k: np.arange(1, k + 1) / k
        seat = seated_bw * W
        parts += [seat + (W - seat) * (1 + np.cos(np.pi * u(n_sit))) / 2, np.full(n_seat, seat),
                  seat + (peak_bw * W - seat) * (1 - np.cos(np.pi * u(n_up))) / 2,
                  W + (peak_bw * W - W) * (1 + np.cos(np.pi * u(n_down))) / 2,
                  np.full(int(round(stand_s * rate_hz)), W)]
        peaks_s.append(now + (n_sit + n_seat + n_up) / rate_hz)
        now += (n_sit + n_seat + n_up + n_down) / rate_hz + stand_s
    f = np.concatenate(parts)
    return np.arange(f.size) / rate_hz, f, {"body_weight_n": W, "rise_peaks_s": peaks_s,
                                            "peak_n": peak_bw * W}


def parabolic_flight_s(height_m: float) -> float:
    """Flight time (s) of a jump of `height_m`: t = sqrt(8 h / g)."""
    return math.sqrt(8 * height_m / G)


def join(*traces, rate_hz=1000.0):
    """Concatenate traces in time (each restarts its own clock): one (t_s, force_n)."""
    forces = [f for _, f, *_ in traces]
    force = np.concatenate(forces)
    return np.arange(force.shape[0]) / rate_hz, force


def hx711_words(force_n, t_s, rate_hz, *, input_rate_hz=1000.0):
    """What HX711 words at instants ``t_s`` (s) report for a force sampled at ``input_rate_hz``: the chip
    model of docs/hx711-model.md (four cascaded one-period boxcars), as the simulated plate applies it."""
    return filter_samples(force_n, t_s, rate_hz, input_rate_hz=input_rate_hz, model=DEFAULT_MODEL, mode="edge")
