"""The terminal side of ``forceplate calibrate``: instructions, waiting for Enter, the live progress line, the report.

Kept out of cli.py so the command stays a few lines; the procedure itself is forceplate.calibration.procedure.
"""
from __future__ import annotations

import sys

import click
import numpy as np

from .saved import CELL_NAMES
from ..exc import ConfigError
from .procedure import steps
from ..signal.calibration import STANDARD_GRAVITY_M_S2

SHORT_NAMES = ("FL", "FR", "BL", "BR")


class TerminalGuide:
    """Drives run_calibration from a terminal. A SimulatedSource is swapped for a CalibrationRig with its exact
    calibration, whose simulated helper moves the mass as each instruction says (a rehearsal)."""

    def __init__(self, source, mass_kg: float, *, assume_yes: bool, out=None, err=None):
        from ..device.sim.calibration_rig import CalibrationRig
        from ..device.sim.replay import ReplaySource
        from ..device.sim.simulator import SimulatedSource

        if isinstance(source, ReplaySource):
            raise ConfigError("a replayed recording cannot be calibrated: use the plate (hx711) or sim:SCENARIO")
        self.rig = None
        if isinstance(source, SimulatedSource):
            self.rig = CalibrationRig.from_simulator(source)
        elif isinstance(source, CalibrationRig):
            self.rig = source
        self.source = self.rig if self.rig is not None else source
        self.is_rehearsal = bool(getattr(self.source, "is_simulated", False))
        self.mass_kg = float(mass_kg)
        self.steps = len(steps(self.mass_kg, int(self.source.channels)))
        self.assume_yes = assume_yes
        self._live = sys.stderr.isatty()
        self._line_open = False
        click.echo(f"Calibrating {self.source.name} with a {self.mass_kg:g} kg mass "
                   f"({self.mass_kg * STANDARD_GRAVITY_M_S2:.1f} N).")
        if self.is_rehearsal:
            click.echo("This is a simulated plate: a simulated helper places the mass. Saved as a rehearsal; the "
                       "plate's own calibration is unchanged.")

    def _names(self):
        channels = int(self.source.channels)
        return SHORT_NAMES if channels == 4 else tuple(f"c{i}" for i in range(channels))

    def instruct(self, step) -> None:
        click.echo(f"Step {step.number} of {self.steps}: {step.instruction}")
        if self.rig is not None:
            self.rig.place(step.spot, self.mass_kg)

    def confirm(self, step) -> None:
        if self.assume_yes:
            return
        click.echo("  Press Enter when done.", nl=False)
        if not sys.stdin.readline():
            click.echo("")
            raise ConfigError("standard input closed before the step was done: use --yes to run without Enter")

    def progress(self, reading) -> None:
        label = "(empty plate)" if reading.step.kind == "tare" else "above the tare"
        cells = "  ".join(f"{n} {c:+9.0f}" for n, c in zip(self._names(), np.asarray(reading.counts)))
        state = "still" if reading.is_still else "settling"
        text = f"  {cells}  counts {label}, {state} ({reading.elapsed_s:4.1f} s)"
        if self._live:
            click.echo(f"\r{text}\x1b[K", nl=False, err=True)
            self._line_open = True
            if reading.is_still:
                click.echo("", err=True)
                self._line_open = False
        elif reading.is_still:
            click.echo(text)

    def report(self, outcome, where) -> None:
        cal = outcome.calibration
        weight_n = cal.mass_kg * STANDARD_GRAVITY_M_S2
        names = CELL_NAMES if cal.channels == 4 else tuple(f"load cell {i}" for i in range(cal.channels))
        click.echo("Load cell      offset (counts)   scale (N per count)")
        for name, offset, scale in zip(names, cal.offset_counts, cal.scale_n_per_count):
            click.echo(f"  {name:<12} {offset:>15.0f}   {scale:.6g}")
        click.echo(f"Each placement, fitted total minus the mass's {weight_n:.1f} N:")
        for spot, residual in cal.residual_n.items():
            click.echo(f"  {spot:<12} {residual:+8.2f} N ({residual / weight_n:+.2%})")
        for warning in outcome.warnings:
            click.echo(f"forceplate: warning: {warning}", err=True)
        kind = "rehearsal calibration" if self.is_rehearsal else "calibration"
        click.echo(f"Saved the {kind} of {cal.calibrated_at} in {where}.")
