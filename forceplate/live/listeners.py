"""Listeners: the callbacks the live plate and the set controller call, one thread-safe registry for both.

The list is replaced whole under a lock and never changed in place; ``call`` reads it once and calls without
the lock, so adding or removing from any thread never waits on a listener nor loses another one. A listener
that raises is logged once (not once per batch) and the others are still called.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(eq=False)
class _Listener:
    callback: object
    has_failed: bool = False      # set only by the thread that calls


class Listeners:
    """A registry of callbacks; ``what`` names them in the log ("plate listener", "set listener")."""

    def __init__(self, what: str):
        self.what = what
        self._listeners: tuple[_Listener, ...] = ()
        self._lock = threading.Lock()

    def add(self, callback) -> None:
        """Call ``callback`` from the next ``call`` on. Safe from any thread."""
        with self._lock:
            self._listeners = self._listeners + (_Listener(callback),)

    def remove(self, callback) -> None:
        """Stop calling ``callback`` (nothing happens if it is not listening). Safe from any thread; a call
        already under way may still reach it once."""
        with self._lock:
            listeners = list(self._listeners)
            for i, listener in enumerate(listeners):
                if listener.callback == callback:
                    del listeners[i]
                    self._listeners = tuple(listeners)
                    return

    def call(self, *args) -> None:
        """Call every listener with ``args``; one that raises is logged once and the rest still called."""
        for listener in self._listeners:
            try:
                listener.callback(*args)
            except Exception:          # noqa: BLE001 - a listener's bug must not stop the sampling or a set
                if not listener.has_failed:
                    listener.has_failed = True
                    log.exception("a %s failed (%r); its further failures are not logged", self.what,
                                  listener.callback)
