"""The `forceplate` command: a thin layer over the library. Bad input exits 2 with one line on stderr."""
from __future__ import annotations

import json
import sys
import unicodedata
import warnings

import click

from . import __version__, config
from .exc import ForcePlateError
from .signal.exercises import EXERCISES


class BadInput(click.ClickException):
    """Bad input from the user: one line on stderr, exit status 2, no traceback."""
    exit_code = 2

    def show(self, file=None):
        click.echo(f"forceplate: {self.format_message()}", err=True)


def _version_text() -> str:
    from .storage import rawcodec
    from .device import sampling
    return f"forceplate {__version__} (sampling kernel: {sampling.KERNEL}, raw-trace coder: {rawcodec.KERNEL})"


def _print_version(ctx, _param, value):
    if value and not ctx.resilient_parsing:
        click.echo(_version_text())
        ctx.exit()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="Show the version and which sampling kernel is in use, then exit.")
def cli():
    """forceplate: how hard was each impact, in body weights.

    Run `forceplate serve` for the live web UI, or `forceplate analyze FILE` on a recording.
    """


@cli.command()
@click.argument("path")
@click.option("--rate", "rate_hz", type=float, default=None,
              help="Sample rate in Hz (needed when the file has no t_s column; wins over t_s).")
@click.option("--adc", type=click.Choice(["ideal", "hx711"]), default="ideal", show_default=True,
              help="ideal: samples are the force at those instants; hx711: HX711 output words (~80 SPS).")
@click.option("--body-mass", "body_mass_kg", type=float, default=None,
              help="Body mass in kg; fixes body weight instead of estimating it from quiet standing.")
@click.option("--thump-bw", type=float, default=2.5, show_default=True,
              help="An impact reaching this many body weights is a thump (a rep that counts).")
@click.option("--min-peak-bw", type=float, default=1.3, show_default=True,
              help="Smaller peaks (in body weights) are not impacts.")
@click.option("--exercise", type=click.Choice(EXERCISES), default="free", show_default=True,
              help="What the person was asked to do: its rules decide (free: every movement classified by "
                   "itself; heel-drop and jump: each peak judged at once; sit-to-stand: rises are reps, "
                   "never impacts). A set's export names its exercise in the JSON beside it.")
@click.option("--body-height", "body_height_m", type=float, default=None,
              help="Body height in m: with --chair-height, each sit-to-stand rise gets a mean power (an estimate).")
@click.option("--chair-height", "chair_height_m", type=float, default=None,
              help="Seat height of the chair in m (see --body-height).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (docs/contracts.md section 1).")
@click.option("--data-dir", default=None,
              help="Accepted as by every command (docs/contracts.md section 3); analyze reads only the file.")
def analyze(path, rate_hz, adc, body_mass_kg, thump_bw, min_peak_bw, exercise, body_height_m, chair_height_m,
            as_json, data_dir):
    """Find impacts and jumps in a recorded force trace (CSV; - reads standard input).

    Example: forceplate analyze session.csv --json
    """
    from .analyze import analyze_file, format_report
    try:
        result = analyze_file(path, rate_hz=rate_hz, adc=adc, body_mass_kg=body_mass_kg,
                              thump_bw=thump_bw, min_peak_bw=min_peak_bw, exercise=exercise,
                              body_height_m=body_height_m, chair_height_m=chair_height_m)
    except (ForcePlateError, ValueError) as exc:
        raise BadInput(str(exc)) from None
    if as_json:
        click.echo(json.dumps(result, allow_nan=False))
    else:
        click.echo(format_report(result))


@cli.command()
@click.option("--host", default=None, help=f"Address to listen on (default {config.DEFAULT_HOST}, all).")
@click.option("--port", type=int, default=None, help=f"Port (default {config.DEFAULT_PORT}).")
@click.option("--source", "source_spec", default=None,
              help="Load-cell source: hx711, sim:SCENARIO (e.g. sim:heel-drops) or replay:PATH.")
@click.option("--data-dir", default=None, help="Folder holding the database (default $FORCEPLATE_DATA_DIR).")
def serve(host, port, source_spec, data_dir):
    """Serve the live web UI until SIGINT/SIGTERM.

    Example: forceplate serve --source sim:heel-drops
    """
    from .webui.server import run_server
    try:
        run_server(host=config.host(host), port=config.port(port), source_spec=config.source_spec(source_spec),
                   data_dir=config.data_dir(data_dir))
    except ForcePlateError as exc:
        raise BadInput(str(exc)) from None


DATA_DIR_HELP = "Folder holding the database (default $FORCEPLATE_DATA_DIR, else the platform data folder)."


def _open_store(data_dir):
    from .storage.store import Store
    try:
        return Store(config.data_dir(data_dir))
    except (ForcePlateError, OSError) as exc:
        raise BadInput(str(exc)) from None


def _who() -> str:
    """Who makes a change from the command line, for the people audit log."""
    import getpass
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


@cli.command()
@click.option("--person", required=True, help="Whose session (created if new; case does not matter).")
@click.option("--seconds", "max_s", type=float, default=None,
              help="Stop after this many seconds of recording (on the source's own time scale).")
@click.option("--source", "source_spec", default=None,
              help="Load-cell source: hx711, sim:SCENARIO (e.g. sim:heel-drops) or replay:PATH.")
@click.option("--exercise", default="free", show_default=True,
              help="What the person does: free, heel-drop, jump, drop-landing or sit-to-stand (its rules apply).")
@click.option("--data-dir", default=None, help=DATA_DIR_HELP)
def record(person, max_s, source_spec, exercise, data_dir):
    """Record one session: one JSON line per event as it happens, then a summary line.

    Each event is committed to the database before its line is printed. Stops after --seconds, at the end
    of a replay, or on SIGINT/SIGTERM (a clean end: the session is complete).

    The person's programme applies as on the live page: no jumps or drop landings while waiting for a
    clinician's approval (a jump is kept, printed with "counted": false, and counts for nothing), and the
    session ends when today's impact limit is reached (none left: it does not start).

    Example: forceplate record --person Ann --seconds 60 --source sim:heel-drops
    """
    import signal as signals

    from .live.pipeline import Recorder
    from .live.sets import JUMP_NOTE
    from .programme.standing import standing_of, why_no_set
    from .storage.store import StoreError

    from .signal.exercises import check_exercise

    if max_s is not None and not max_s > 0:
        raise BadInput(f"--seconds {max_s:g} must be positive")
    try:
        check_exercise(exercise)
    except ValueError as exc:
        raise BadInput(f"--exercise: {exc}") from None
    store = _open_store(data_dir)
    try:
        source = _open_source_saying_why(source_spec)
        person_id = store.person_id_for(person, changed_by=_who())
        standing = standing_of(store, person_id)
        refusal = why_no_set(standing, exercise)        # the live page's rules: approval, today's impact limit
        if refusal:
            raise ValueError(refusal)
    except (ForcePlateError, ValueError) as exc:
        store.close()
        raise BadInput(str(exc)) from None

    stop = []
    def on_signal(signum, _frame):
        stop.append(signum)
    previous = {sig: signals.signal(sig, on_signal) for sig in (signals.SIGINT, signals.SIGTERM)}
    status, failure, store_failure = "complete", None, None
    try:
        with source:
            # a jump of a person waiting for clinician approval, or an impact past today's limit, is kept and
            # printed but counts for nothing (``counted`` false), as in a set on the live page
            recorder = Recorder(store, source, person_id, source_spec=source_spec or source.name, max_s=max_s,
                                exercise=exercise, jump_note=JUMP_NOTE if standing.is_restricted else None,
                                impact_limit=None if exercise == "sit-to-stand" else standing.impacts_left_today)
            try:
                session_id = recorder.start()
                store.set_session_restricted(session_id, standing.is_restricted)
            except StoreError as exc:            # a full disk before the first sample: nothing to keep
                raise BadInput(f"cannot start recording: {exc}") from None
            try:
                while not stop and not recorder.is_done and not recorder.limit_reached:
                    frames = source.read(4096, timeout_s=0.05)
                    if frames.n_sets:
                        for event in recorder.ingest(frames).events:
                            _echo_json(event)
                    elif source.is_finished:
                        break
            except ForcePlateError as exc:       # the plate or the disk failed mid-session: keep what was recorded
                status, failure = "interrupted", exc
            if recorder.limit_reached:
                click.echo(f"forceplate record: today's impact limit for {person} is reached: the session ends here",
                           err=True)
            for sig in previous:                 # a second signal must not interrupt the ending
                signals.signal(sig, signals.SIG_IGN)
            if not isinstance(failure, StoreError):
                try:
                    for event in recorder.finish(status=status):
                        _echo_json(event)
                except StoreError as exc:
                    failure = exc
            if isinstance(failure, StoreError):  # the disk refuses: end it interrupted as far as it lets us
                lost = recorder.interrupt()
                store_failure = f"{failure}{f' ({lost})' if lost else ''}"
            _echo_json(recorder.summary())
    finally:
        for sig, handler in previous.items():
            signals.signal(sig, handler)
        store.close()
    if store_failure is not None:
        raise BadInput(f"recording stopped, the session is kept as interrupted: {store_failure}")
    if failure is not None:
        raise click.ClickException(f"recording stopped: {failure}")


def _echo_json(obj) -> None:
    click.echo(json.dumps(obj, allow_nan=False))      # click.echo flushes: each line leaves at once


@cli.command()
@click.option("--person", default=None, help="Only this person's sessions.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array (docs/contracts.md section 3).")
@click.option("--data-dir", default=None, help=DATA_DIR_HELP)
def sessions(person, as_json, data_dir):
    """List recorded sessions, oldest first.

    Example: forceplate sessions --person Ann --json
    """
    store = _open_store(data_dir)
    try:
        if person is not None and store.person_by_name(person) is None:
            raise BadInput(f"no person named {person!r}")
        rows = [{"id": s["id"], "person": s["person"], "started": s["started_at"], "ended": s["ended_at"],
                 "status": s["status"], "events": s["events"], "thumps": s["thumps"], "exercise": s["exercise"]}
                for s in store.sessions(person)]
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(rows))
        return
    if not rows:
        click.echo("No sessions.")
    for r in rows:
        click.echo(f"{r['id']:>5}  {_printable(r['person']):<20} {r['started'][:19]}  {r['status']:<11} "
                   f"{r['exercise']:<12} {r['events']:>4} reps  {r['thumps']:>4} thumps")


def _printable(text: str) -> str:
    """``text`` for a terminal: control and format characters as escapes (``\\x1b``), never sent raw.

    Names stored before names were checked may hold ESC and friends, which a terminal would obey."""
    return "".join(c.encode("unicode_escape").decode("ascii") if unicodedata.category(c) in _UNPRINTABLE else c
                   for c in str(text))


_UNPRINTABLE = {"Cc", "Cf", "Cs", "Zl", "Zp"}


@cli.command()
@click.argument("session_id")
@click.option("--out", "out_dir", required=True, help="Folder to write the CSV and its JSON into (made if missing).")
@click.option("--data-dir", default=None, help=DATA_DIR_HELP)
def export(session_id, out_dir, data_dir):
    """Write a session's recording as a CSV `forceplate analyze` reads, with its metadata as JSON beside it.

    Prints the paths written, one per line. Example: forceplate export 12 --out exports/
    """
    from .storage.export import export_session
    try:
        number = int(session_id)
    except ValueError:
        raise BadInput(f"session {session_id!r} is not a session number") from None
    store = _open_store(data_dir)
    try:
        paths = export_session(store, number, out_dir)
    except ForcePlateError as exc:
        raise BadInput(str(exc)) from None
    finally:
        store.close()
    for path in paths:
        click.echo(str(path))


@cli.command("set-password")
@click.option("--data-dir", default=None, help="Folder holding the database (default $FORCEPLATE_DATA_DIR).")
def set_password(data_dir):
    """Set or change the clinic password for the web UI (asked twice, hidden).

    When standard input is not a terminal, the password is the first line read from it (for scripts).
    Browsers signed in with the old password must sign in again.

    Example: forceplate set-password
    """
    from .webui.auth import password_problem
    from .webui.auth import set_password as save_password

    try:
        folder = config.data_dir(data_dir)
    except ForcePlateError as exc:
        raise BadInput(str(exc)) from None
    stdin = sys.stdin
    if stdin.isatty():
        password = click.prompt("New clinic password", hide_input=True, err=True)
        again = click.prompt("The same password again", hide_input=True, err=True)
    else:
        line = stdin.readline()
        if not line:
            raise BadInput("no password on standard input (give it as one line)")
        password = again = line.rstrip("\r\n")
    problem = password_problem(password, again)
    if problem:
        raise BadInput(problem)
    try:
        path = save_password(folder, password)
    except OSError as exc:
        raise BadInput(f"cannot save the password in {folder}: {exc.strerror or exc}") from None
    click.echo(f"Password saved in {path}. Browsers signed in before must sign in again.")


@cli.command()
@click.option("--source", "source_spec", default=None,
              help="Load-cell source: hx711, or sim:SCENARIO to rehearse (a simulated helper moves the mass).")
@click.option("--mass-kg", "mass_kg", type=float, default=None,
              help="The known mass in kg, weighed beforehand (asked for when not given; 20 with --yes).")
@click.option("--yes", "assume_yes", is_flag=True,
              help="Do not wait for Enter after each instruction (scripts, a rehearsal on sim:...).")
@click.option("--data-dir", default=None, help=DATA_DIR_HELP)
def calibrate(source_spec, mass_kg, assume_yes, data_dir):
    """Calibrate the plate step by step: tare the empty plate, then a known mass at the centre and each corner.

    Saves per-cell offsets and scales with the date; the sampler and the live page use them. On a simulated
    plate (sim:...) it is a rehearsal, saved apart from the plate's own calibration.

    Example: forceplate calibrate --mass-kg 20
    """

    from .calibration.saved import save_calibration
    from .calibration.procedure import DEFAULT_MASS_KG, run_calibration

    if mass_kg is None:
        mass_kg = DEFAULT_MASS_KG if assume_yes else _ask_mass_kg()
    if not (mass_kg > 0 and mass_kg < 500):
        raise BadInput(f"--mass-kg {mass_kg:g}: give the known mass in kg (more than 0, less than 500)")
    store = _open_store(data_dir)
    try:
        source = _open_source_saying_why(source_spec)
    except (ForcePlateError, ValueError) as exc:
        store.close()
        raise BadInput(str(exc)) from None
    from .calibration.terminal import TerminalGuide
    try:
        with source:
            guide = TerminalGuide(source, mass_kg, assume_yes=assume_yes)   # a simulated plate gets a helper
            outcome = run_calibration(guide.source, mass_kg, instruct=guide.instruct, confirm=guide.confirm,
                                      progress=guide.progress)
            save_calibration(store, outcome.calibration, rehearsal=guide.is_rehearsal)
    except (ForcePlateError, ValueError) as exc:
        raise BadInput(str(exc)) from None
    finally:
        store.close()
    guide.report(outcome, store.path)


def _ask_mass_kg() -> float:
    if not sys.stdin.isatty():
        raise BadInput("give the known mass with --mass-kg KG (standard input is not a terminal)")
    return click.prompt("Known mass in kg (weigh it first)", type=float, err=True)


@cli.command("export-usb")
@click.option("--out", "mount_point", required=True,
              help="The USB stick's mount point; exports go into its forceplate-exports folder.")
@click.option("--data-dir", default=None, help=DATA_DIR_HELP)
def export_usb(mount_point, data_dir):
    """Copy every session not yet on this USB stick to it (CSV + JSON per session), then say what was written.

    Files land whole or not at all; a full or pulled stick stops the export with one line, and the next run
    continues where it stopped. A stick is written only when mounted, off the data's disk, and laid out as
    the export makes it (no symlinks). Exit 0: done; 1: the stick filled up or went away; 2: bad input or a
    refused stick.

    Example: forceplate export-usb --out /media/usb
    """
    from .storage.usb import UsbExportError, export_to_stick
    store = _open_store(data_dir)
    try:
        result = export_to_stick(store, mount_point, progress=lambda path: click.echo(str(path)))
    except UsbExportError as exc:
        raise StickFailed(str(exc)) from None
    except (ForcePlateError, ValueError) as exc:
        raise BadInput(str(exc)) from None
    finally:
        store.close()
    click.echo(result.summary(), err=True)


@cli.command()
@click.option("--source", "source_spec", default=None,
              help="Load-cell source (default the configured one, else hx711); sim:... reports 'no hardware'.")
@click.option("--seconds", type=float, default=10.0, show_default=True,
              help="How long to measure the empty plate (noise, drift, rate).")
@click.option("--skip-ball", is_flag=True, help="Leave out the filter self-check (the ball drops).")
@click.option("--drops", type=int, default=5, show_default=True, help="Ball drops to wait for (at least 3).")
@click.option("--ball-seconds", type=float, default=30.0, show_default=True,
              help="Longest wait for the drops.")
@click.option("--yes", "assume_yes", is_flag=True,
              help="Do not wait for Enter after each instruction (scripts; the web UI's button).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.option("--data-dir", default=None, help=DATA_DIR_HELP)
def doctor(source_spec, seconds, skip_ball, drops, ball_seconds, assume_yes, as_json, data_dir):
    """Check the plate: each chip, its rate, noise and drift, the sampler, the calibration, free disk, the clock,
    then (unless --skip-ball) the filter self-check with a ball dropped on the plate.

    Exit 0: no check failed (warnings may remain); 1: a check failed; 2: bad input. The report is also kept as
    doctor-report.json in the data folder (the Settings page shows it).

    Example: forceplate doctor --seconds 10
    """
    from .device import doctor as doc
    from .device.sources import source_from_spec
    from .exc import HardwareUnavailable
    if not 1.0 <= seconds <= 600.0:
        raise BadInput(f"--seconds {seconds:g}: give 1 to 600 seconds of empty plate")
    if not 3 <= drops <= 50:
        raise BadInput(f"--drops {drops}: give 3 to 50 drops")
    if not 2.0 <= ball_seconds <= 600.0:
        raise BadInput(f"--ball-seconds {ball_seconds:g}: give 2 to 600 seconds")
    store = _open_store(data_dir)
    folder = store.path.parent
    say = (lambda text: click.echo(text, err=True))

    def wait(text):
        say(text)
        if not assume_yes:
            sys.stdin.readline()            # Enter (end of input counts: nobody is there to press it)

    source, reason = None, None
    try:
        spec = config.source_spec(source_spec) or "hx711"
        try:
            source = source_from_spec(spec)
        except HardwareUnavailable as exc:       # what the doctor is for: reported, not bad input
            reason = f"{exc}."
        min_free = float(config.get("min_free_disk_mb"))
        if source is None:
            report = doc.run_doctor(None, store=store, data_folder=folder, min_free_mb=min_free, say=say,
                                    fallback_reason=reason)
        else:
            with source:
                report = doc.run_doctor(source, seconds=seconds, ball=not skip_ball, ball_seconds=ball_seconds,
                                        drops=drops, store=store, data_folder=folder, min_free_mb=min_free,
                                        say=say, wait=wait)
        doc.save_report(folder, report)
    except (ForcePlateError, ValueError) as exc:
        raise BadInput(str(exc)) from None
    finally:
        store.close()
    click.echo(json.dumps(report, allow_nan=False) if as_json else doc.format_report(report))
    sys.exit(1 if report["status"] == "fail" else 0)


class StickFailed(click.ClickException):
    """The stick filled up or went away mid-export: one line on stderr, exit status 1."""
    exit_code = 1

    def show(self, file=None):
        click.echo(f"forceplate: {self.format_message()}", err=True)


def _open_source_saying_why(source_spec):
    """The configured source; a fallback's warning goes to stderr as one line, not a Python warning."""
    from .device.sources import open_source
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        source = open_source(config.source_spec(source_spec))
    for warning in caught:
        click.echo(f"forceplate: warning: {warning.message}", err=True)
    return source


def main(argv=None):
    """The `forceplate` command. Bad input, a bad option value included, is one line on stderr and exit 2."""
    try:
        result = cli.main(args=argv, prog_name="forceplate", standalone_mode=False)
    except click.UsageError as exc:        # click's own would print usage and a hint: three lines
        where = exc.ctx.command_path if exc.ctx is not None else "forceplate"
        click.echo(f"{where}: {exc.format_message()} (see {where} --help)", err=True)
        sys.exit(2)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted!", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(result if isinstance(result, int) else 0)
