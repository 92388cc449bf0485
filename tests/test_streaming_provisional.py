"""LiveAnalyzer.provisional(): a quick verdict on an impact, confirmed or withdrawn by the final event."""
import numpy as np
import pytest

from forceplate.signal.streaming import LiveAnalyzer
from signals import half_sine_impact, jump

LANDING_WINDOW_S = 0.3     # a provisional verdict waits until its peak is a landing window old (detect_impacts)


def play(t, f, rate_hz=1000.0, chunk=10, **options):
    """Feed in chunks; after each, the newest time, the final events and the provisional ones."""
    live = LiveAnalyzer(rate_hz, adc="ideal", **options)
    steps = []
    for i in range(0, len(t), chunk):
        events = live.feed(t[i:i + chunk], f[i:i + chunk])
        steps.append((float(t[min(i + chunk, len(t)) - 1]), events, live.provisional()))
    return live, steps


def test_an_impact_is_provisional_soon_after_its_peak_then_final_once():
    t, f, truth = half_sine_impact(700.0, 3.0, total_s=5.0)
    live, steps = play(t, f)
    first_pending = next(now for now, _, pending in steps if pending)
    first_final = next(now for now, events, _ in steps if events)
    assert LANDING_WINDOW_S <= first_pending - truth["t_peak_s"] <= LANDING_WINDOW_S + 0.12
    assert first_final - truth["t_peak_s"] >= LiveAnalyzer.HORIZON_S
    finals = [e for _, events, _ in steps for e in events] + live.flush()
    assert len(finals) == 1
    (final,) = finals
    assert "provisional" not in final and "key" not in final          # feed() is untouched
    for now, events, pending in steps:
        if first_pending <= now < first_final:      # pending the whole time in between, with the same verdict
            (p,) = pending
            assert p["provisional"] is True and p["key"] == round(truth["t_peak_s"], 2)
            assert p["kind"] == "impact" and p["thump"] is True
            assert p["peak_n"] == final["peak_n"] and p["t_peak_s"] == pytest.approx(final["t_peak_s"], abs=1e-3)
            assert p["peak_bw"] == pytest.approx(truth["peak_bw"], rel=0.01)
        elif now >= first_final:                    # once final, never pending again
            assert pending == []
        else:
            assert pending == []
    assert live.provisional() == []                 # after the end of the stream


def test_provisional_is_a_copy_that_changes_nothing():
    t, f, _ = half_sine_impact(700.0, 3.0, total_s=5.0)
    live, steps = play(t[:2500], f[:2500])
    pending = live.provisional()
    assert pending
    pending[0]["peak_n"] = -1.0
    pending.clear()
    assert live.provisional() and live.provisional()[0]["peak_n"] > 0


def test_a_push_off_peak_is_withdrawn_when_the_take_off_comes():
    # a slow push-off (0.8 s) peaks at 1.45 BW 0.42 s before the take-off: an impact, until the person leaves
    t, f, truth = jump(650.0, push_s=0.8, push_bw=0.45, flight_s=0.3)
    push_peak_s = 2.0 + 0.3 + 0.4
    live, steps = play(t, f)
    pushoff_seen = [now for now, _, pending in steps
                    if any(abs(p["t_peak_s"] - push_peak_s) < 0.02 for p in pending)]
    assert pushoff_seen, "the push-off peak looked like an impact for a while"
    assert max(pushoff_seen) <= truth["takeoff_s"] + 0.15        # gone soon after the take-off
    finals = [e for _, events, _ in steps for e in events] + live.flush()
    assert [e["kind"] for e in finals] == ["jump"]                 # never sent as an impact
    # the jump itself gets a provisional verdict from its landing peak, before it is final
    landing_seen = [now for now, _, pending in steps
                    if any(abs(p["t_peak_s"] - truth["t_peak_s"]) < 0.01 and p["kind"] == "jump" for p in pending)]
    final_at = next(now for now, events, _ in steps if events)
    assert landing_seen and min(landing_seen) - truth["t_peak_s"] < 0.45 and max(landing_seen) < final_at


def test_nothing_is_provisional_before_a_body_weight():
    t, f, _ = half_sine_impact(700.0, 3.0, t_onset_s=0.5, total_s=1.5)     # no quiet second before the drop
    live, steps = play(t, f)
    assert live.body_weight_n is None
    assert all(pending == [] for _, _, pending in steps)
