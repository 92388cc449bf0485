"""``storage``: bytes per stored sample set, and the server time of the history page's query.

Raw traces: a simulated session (``sim:session``: standing, heel drops, jumps, sit-to-stand, stepping off;
4 cells through the HX711 model at 80 SPS) played on a fake clock through the recorder's SessionWriter into a
fresh store, in chunks of one second, exactly as ``forceplate record`` stores them. Bytes are the stored
chunks (``length(data)``), against 16 bytes of counts per set raw (28 with the int64 timestamp and flags).
Beside it, in the same run: the same sets in the previous self-contained format (``fp1``: differences, byte
planes, zlib or lzma); the same at 1 kHz with an ideal ADC; the pin-level emulated chips read in real time by
the compiled sampler through ``HX711Source`` (real read times, as on a Pi), stored through the store; and an
estimate of the floor: the Gaussian entropy of the best linear prediction (order 12, fitted to the whole
recording, so better than any causal coder) of a quiet-standing simulation's counts, per set. And what a
quieter plate would store: the same session with less sensor noise per corner (``noise_n``, RMS at 1 kHz:
1 N is the simulator's default; about 0.6 N gives the HX711 datasheet's 90 nV of noise in counts).

History: 5 years of generated data for 4 people, 5 sessions a week, 60 reps each (312,000 events), written
through the store's own methods; then ``Store.person_history`` (one person's sessions, newest first, each with
its event counts and peaks: what the history page runs) is timed, cycling over the people, and its p95 and
p50 in milliseconds reported. Wall time of the query in this process (the server's side), WAL database on
disk, warm page cache.
"""
from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

DESCRIPTION = "bytes per stored raw sample set (simulated session); history query p95 on 5 years x 4 people"

SESSIONS_PER_WEEK = 5
REPS_PER_SESSION = 60


def add_arguments(parser) -> None:
    parser.add_argument("--years", type=float, default=5.0, help="years of generated history (default 5)")
    parser.add_argument("--people", type=int, default=4, help="people in the generated history (default 4)")
    parser.add_argument("--queries", type=int, default=200, help="history queries timed (default 200)")
    parser.add_argument("--raw-minutes", type=float, default=10.0,
                        help="minutes of simulated session stored for bytes per set (default 10)")
    parser.add_argument("--chips-seconds", type=float, default=40.0,
                        help="seconds of emulated chips read in real time (default 40)")


def raw_bytes_per_set(folder: Path, *, minutes: float, rate_hz: float, adc: str, noise_n: float | None = None) -> dict:
    from forceplate.device.sim.mock import FakeClock
    from forceplate.device.sim.simulator import SimulatedSource
    from forceplate.live.pipeline import ForcePipeline, SessionWriter
    from forceplate.storage.store import Store

    clock = FakeClock()
    extra = {} if noise_n is None else {"noise_n": noise_n}
    source = SimulatedSource("session", rate_hz=rate_hz, adc=adc, seed=7, clock=clock, **extra)
    with Store(folder) as store:
        person_id = store.person_id_for("Raw Bench", changed_by="bench")
        pipeline = ForcePipeline(source)
        pipeline.start()
        writer = SessionWriter.start(store, person_id, source, pipeline)
        step_s = min(60.0, 4000 / rate_hz)          # within the simulator's ring
        cpu = time.process_time()
        for _ in range(int(minutes * 60 / step_s)):
            clock.advance(step_s)
            writer.add_frames(source.read(100_000))
        writer.finish()
        cpu_s = time.process_time() - cpu
        stored, sets = store.raw_bytes(writer.session_id)
        codecs = dict(store.db.execute("SELECT codec, COUNT(*) FROM raw_chunks WHERE session_id = ? GROUP BY codec",
                                       [writer.session_id]).fetchall())
        fp1 = _fp1_bytes(store, writer.session_id)
    return {"bytes_per_sample_set": stored / sets, "sets": sets, "stored_bytes": stored, "codecs": codecs,
            "encode_cpu_ms_per_s_of_recording": 1e3 * cpu_s / (sets / rate_hz), "fp1_bytes_per_set": fp1 / sets}


def _fp1_bytes(store, session_id) -> int:
    """Bytes of the same chunks (same sets per chunk) in the previous self-contained format."""
    frames = store.raw_frames(session_id)
    sizes = [row[0] for row in store.db.execute("SELECT n_sets FROM raw_chunks WHERE session_id = ? ORDER BY seq",
                                                [session_id])]
    ends = np.cumsum(sizes)
    return sum(len(encode_fp1_chunk(frames.t_ns[end - n:end], frames.raw_counts[end - n:end],
                                    frames.flags[end - n:end])[1]) for n, end in zip(sizes, ends))


def encode_fp1_chunk(t_ns, raw_counts, flags) -> tuple[str, bytes]:
    """One chunk in the retired ``fp1`` format, ``(codec, data)``, written from its description in
    docs/storage.md. forceplate no longer writes fp1 (migration 0006 re-encodes it as fp2); this writer is
    here for the side-by-side figure above, and for the tests that build databases holding fp1 chunks."""
    import lzma
    import struct
    import zlib

    t_ns = [int(t) for t in t_ns]
    counts = np.asarray(raw_counts, dtype=np.int64)
    n, cells = counts.shape

    def zigzag(v):
        return 2 * v if v >= 0 else -2 * v - 1

    def varints(values):
        out = bytearray()
        for v in values:
            u = zigzag(int(v))
            while True:
                out.append((u & 0x7F) | (0x80 if u > 0x7F else 0))
                u >>= 7
                if not u:
                    break
        return bytes(out)

    steps = [b - a for a, b in zip(t_ns, t_ns[1:])]
    numbers = varints([s - prev for s, prev in zip(steps, [0] + steps)] + counts[0].tolist())
    predictions = (lambda x: np.full(n - 1, x[0]),                    # 0: the chunk's first count
                   lambda x: x[:-1],                                  # 1: the count before
                   lambda x: np.concatenate((x[:1], 2 * x[1:-1] - x[:-2])))   # 2: the line through two
    orders, residuals = [], []
    for cell in range(cells):
        x = counts[:, cell]
        candidates = [x[1:] - predict(x) for predict in predictions]
        best = min(range(3), key=lambda i: int(np.abs(candidates[i]).sum()))      # the first of equals
        orders.append(best)
        residuals += [zigzag(int(r)) for r in candidates[best]]
    top = max(residuals, default=0)
    width = 2 if top < 1 << 16 else 4 if top < 1 << 32 else 8
    planes = bytes(b for byte in range(width) for b in ((r >> (8 * byte)) & 0xFF for r in residuals))
    body = (struct.pack("<IB", len(numbers), width) + numbers + bytes(orders) + planes
            + np.asarray(flags, dtype=np.uint8).T.tobytes())
    header = struct.pack("<BIq", cells, n, t_ns[0])
    by_zlib = zlib.compress(body, 9)
    by_lzma = lzma.compress(body, format=lzma.FORMAT_RAW,
                            filters=[{"id": lzma.FILTER_LZMA2, "preset": 6, "dict_size": 1 << 20}])
    return ("fp1+lzma", header + by_lzma) if len(by_lzma) < len(by_zlib) else ("fp1+zlib", header + by_zlib)


def emulated_chips_bytes_per_set(folder: Path, *, seconds: float) -> dict:
    """The pin-level emulated chips read in real time by the compiled sampler through HX711Source, each
    read() batch stored as the recorder does (one chunk per second): real read times, as on a Pi."""
    import warnings

    from forceplate.device import _gpio
    from forceplate.device.sim.emulator import plate_words
    from forceplate.device.frames import Frames
    from forceplate.device.hx711 import HX711Source
    from forceplate.storage.store import Store

    words, _ = plate_words(seconds + 5.0, scenario="session", seed=7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # real-time priority refused: the bench says which it got
        source = HX711Source(lines=_gpio.EmulatedLines(words, virtual=False))
    parts = []
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(1.0)
            parts.append(source.read(100_000))
        stats = source.stats()
    finally:
        source.close()
    frames = Frames(*(np.concatenate(a) for a in zip(*parts)))
    with Store(folder) as store:
        person_id = store.person_id_for("Chips Bench", changed_by="bench")
        session_id = store.start_session(person_id, source="hx711:emulated", rate_hz=80.0, adc="hx711",
                                         cells=[f"fz{i + 1}_n" for i in range(frames.raw_counts.shape[1])],
                                         offset_counts=[0] * 4, scale_n_per_count=[0.003] * 4, clock_origin_ns=0)
        for part in parts:
            if part.n_sets:
                store.add_raw_chunk(session_id, part)
        stored, sets = store.raw_bytes(session_id)
        fp1 = _fp1_bytes(store, session_id)
        store.end_session(session_id)
    steps = np.diff(frames.t_ns)
    return {"bytes_per_set": stored / sets, "fp1_bytes_per_set": fp1 / sets, "sets": sets,
            "steady_step_fraction": float(np.mean(np.diff(steps) == 0)) if steps.size > 1 else None,
            "realtime_priority": stats.get("realtime_priority_used")}


def floor_bytes_per_set(*, seconds: float = 300.0, order: int = 12) -> float:
    """Estimated floor of lossless coding on the simulated plate: the Gaussian entropy (log2 of
    sigma * sqrt(2 pi e), sigma a robust spread) of the residual of the best order-12 linear prediction of
    each cell's count differences, fitted to the whole of a quiet-standing simulation, summed over the cells."""
    from forceplate.device.sim.mock import FakeClock
    from forceplate.device.sim.simulator import SimulatedSource

    clock = FakeClock()
    source = SimulatedSource("standing", rate_hz=80.0, adc="hx711", seed=7, clock=clock)
    parts = []
    for _ in range(int(seconds // 50)):
        clock.advance(50.0)
        parts.append(source.read(100_000).raw_counts)
    counts = np.concatenate(parts).astype(np.float64)
    bits = 0.0
    for c in range(counts.shape[1]):
        x = np.diff(counts[:, c])
        lagged = np.column_stack([x[order - j - 1:x.size - j - 1] for j in range(order)])
        y = x[order:]
        coef, *_ = np.linalg.lstsq(lagged, y, rcond=None)
        r = y - lagged @ coef
        sigma = 1.4826 * np.median(np.abs(r - np.median(r)))
        bits += np.log2(sigma * np.sqrt(2 * np.pi * np.e))
    return bits / 8


def generate_history(store, *, years: float, people: int, seed: int = 1) -> int:
    """Sessions and events for ``people`` over ``years``, through the store's methods, in one transaction."""
    from forceplate.storage.store import utc_now  # noqa: F401  (the format every time column uses)
    import datetime as dt

    rng = np.random.default_rng(seed)
    weeks = int(round(years * 52))
    start = dt.datetime(2021, 1, 4, 9, 0, tzinfo=dt.timezone.utc)
    sessions = 0
    with store.db.atomic():
        for p in range(people):
            person_id = store.add_person(f"Person {p + 1}", changed_by="bench", birth_year=1950 + p)
            for week in range(weeks):
                for day in range(SESSIONS_PER_WEEK):
                    started = start + dt.timedelta(weeks=week, days=day, hours=p)
                    session_id = store.start_session(
                        person_id, source="sim:session", rate_hz=80.0, adc="hx711",
                        cells=["fz1_n", "fz2_n", "fz3_n", "fz4_n"], offset_counts=[0, 0, 0, 0],
                        scale_n_per_count=[0.003] * 4, clock_origin_ns=0,
                        started_at=started.isoformat(timespec="microseconds"))
                    peaks = rng.uniform(1.5, 4.5, REPS_PER_SESSION)
                    store.add_events(session_id, [
                        {"kind": "impact", "t_peak_s": 10.0 + 4.0 * i, "peak_n": 700.0 * pk, "peak_bw": pk,
                         "loading_rate_bw_s": 80.0, "thump": bool(pk >= 2.5), "onset_s": 9.95 + 4.0 * i,
                         "landing": None, "intensity": "high"} for i, pk in enumerate(peaks)])
                    store.end_session(session_id, status="complete", body_weight_n=700.0,
                                      ended_at=(started + dt.timedelta(minutes=20)).isoformat(timespec="microseconds"))
                    sessions += 1
    return sessions


def run_from_args(args) -> dict:
    from forceplate.storage.store import Store

    years, people = float(args.years), int(args.people)
    queries = 20 if args.quick else int(args.queries)
    raw_minutes = 1.0 if args.quick else float(args.raw_minutes)
    if args.quick:
        years = min(years, 0.5)
    with tempfile.TemporaryDirectory(prefix="forceplate-bench-") as tmp:
        tmp = Path(tmp)
        raw = raw_bytes_per_set(tmp / "raw80", minutes=raw_minutes, rate_hz=80.0, adc="hx711")
        raw_1k = raw_bytes_per_set(tmp / "raw1k", minutes=min(raw_minutes, 2.0), rate_hz=1000.0, adc="ideal")
        chips = emulated_chips_bytes_per_set(tmp / "chips", seconds=8.0 if args.quick else float(args.chips_seconds))
        floor = floor_bytes_per_set(seconds=100.0 if args.quick else 300.0)
        by_noise = {f"{noise:g}": round(raw_bytes_per_set(tmp / f"noise{noise:g}", minutes=min(raw_minutes, 5.0),
                                                          rate_hz=80.0, adc="hx711",
                                                          noise_n=noise)["bytes_per_sample_set"], 3)
                    for noise in (0.6, 0.3)}

        t0 = time.perf_counter()
        with Store(tmp / "history") as store:
            n_sessions = generate_history(store, years=years, people=people)
        generate_s = time.perf_counter() - t0

        with Store(tmp / "history") as store:          # a fresh connection, as a server worker would have
            person_ids = [row[0] for row in store.db.execute("SELECT id FROM people ORDER BY id")]
            n_events = store.db.execute("SELECT COUNT(*) FROM events").fetchone()[0]
            rows = len(store.person_history(person_ids[0]))            # warm-up, and a check
            times_ms = []
            for i in range(queries):
                t = time.perf_counter()
                store.person_history(person_ids[i % len(person_ids)])
                times_ms.append(1e3 * (time.perf_counter() - t))
            plan = [row[-1] for row in store.db.execute(
                "EXPLAIN QUERY PLAN SELECT id, event_count, thump_count, peak_bw_max FROM sessions "
                "WHERE person_id = ? ORDER BY started_at DESC",
                [person_ids[0]])]
        db_bytes = sum(f.stat().st_size for f in (tmp / "history").iterdir())
    times_ms.sort()
    return {
        "bytes_per_sample_set": round(raw["bytes_per_sample_set"], 3),
        "history_ms_p95": round(times_ms[min(len(times_ms) - 1, int(0.95 * len(times_ms)))], 3),
        "years": years,
        "people": people,
        "history_ms_p50": round(statistics.median(times_ms), 3),
        "history_rows_per_query": rows,
        "history_queries": queries,
        "sessions": n_sessions,
        "events": n_events,
        "history_db_mb": round(db_bytes / 1e6, 1),
        "history_generate_s": round(generate_s, 1),
        "history_query_plan": plan,
        "raw_bytes_per_set_unencoded": 16,
        "bytes_per_sample_set_fp1": round(raw["fp1_bytes_per_set"], 3),
        "bytes_per_sample_set_floor_estimate": round(floor, 3),
        "bytes_per_sample_set_by_noise_n": by_noise,
        "bytes_per_sample_set_emulated_chips": round(chips["bytes_per_set"], 3),
        "bytes_per_sample_set_emulated_chips_fp1": round(chips["fp1_bytes_per_set"], 3),
        "emulated_chips_sets": chips["sets"],
        "emulated_chips_steady_step_fraction": (None if chips["steady_step_fraction"] is None
                                                else round(chips["steady_step_fraction"], 3)),
        "emulated_chips_realtime_priority": chips["realtime_priority"],
        "raw_sets": raw["sets"],
        "raw_codecs": raw["codecs"],
        "raw_source": "sim:session, 4 cells, 80 SPS, adc=hx711, seed 7",
        "raw_encode_cpu_ms_per_s": round(raw["encode_cpu_ms_per_s_of_recording"], 3),
        "bytes_per_sample_set_1khz_ideal": round(raw_1k["bytes_per_sample_set"], 3),
        "quick": bool(args.quick),
    }


def format_table(result: dict) -> str:
    return "\n".join([
        f"raw trace, {result['raw_source']}: {result['bytes_per_sample_set']:.2f} bytes per set stored "
        f"(16 raw), {result['raw_sets']} sets, codecs {result['raw_codecs']}",
        f"  same sets in the previous format (fp1, zlib/lzma): {result['bytes_per_sample_set_fp1']:.2f}; "
        f"floor estimate (quiet standing, best linear prediction): {result['bytes_per_sample_set_floor_estimate']:.2f}",
        f"  with less sensor noise per corner (N RMS at 1 kHz; default 1): "
        + ", ".join(f"{k} N -> {v:.2f}" for k, v in result["bytes_per_sample_set_by_noise_n"].items()),
        f"  same at 1 kHz, adc=ideal: {result['bytes_per_sample_set_1khz_ideal']:.2f} bytes per set",
        f"  emulated chips read in real time (HX711Source, rt {result['emulated_chips_realtime_priority']}): "
        f"{result['bytes_per_sample_set_emulated_chips']:.2f} bytes per set (fp1 "
        f"{result['bytes_per_sample_set_emulated_chips_fp1']:.2f}), {result['emulated_chips_sets']} sets, "
        f"steady steps {result['emulated_chips_steady_step_fraction']}",
        f"history: {result['years']:g} years x {result['people']} people = {result['sessions']} sessions, "
        f"{result['events']} events ({result['history_db_mb']} MB)",
        f"  person_history ({result['history_rows_per_query']} rows): p50 {result['history_ms_p50']:.2f} ms, "
        f"p95 {result['history_ms_p95']:.2f} ms over {result['history_queries']} queries",
        f"  plan: {'; '.join(result['history_query_plan'])}",
    ])
