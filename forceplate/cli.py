"""The `forceplate` command: a thin layer over the library. Bad input exits 2 with one line on stderr."""
from __future__ import annotations

import json
import sys

import click

from . import __version__, config
from .exc import ForcePlateError


class BadInput(click.ClickException):
    """Bad input from the user: one line on stderr, exit status 2, no traceback."""
    exit_code = 2

    def show(self, file=None):
        click.echo(f"forceplate: {self.format_message()}", err=True)


def _version_text() -> str:
    from .device import hx711
    return f"forceplate {__version__} (sampling kernel: {hx711.KERNEL})"


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
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (CONTRACTS.md section 1).")
def analyze(path, rate_hz, adc, body_mass_kg, thump_bw, min_peak_bw, as_json):
    """Find impacts and jumps in a recorded force trace (CSV; - reads standard input).

    Example: forceplate analyze session.csv --json
    """
    from .analysis import analyze_file, format_report
    try:
        result = analyze_file(path, rate_hz=rate_hz, adc=adc, body_mass_kg=body_mass_kg,
                              thump_bw=thump_bw, min_peak_bw=min_peak_bw)
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


def main(argv=None):
    try:
        cli.main(args=argv, prog_name="forceplate", standalone_mode=True)
    except KeyboardInterrupt:
        sys.exit(130)
