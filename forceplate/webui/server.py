"""`forceplate serve`: the live plate behind waitress until SIGINT/SIGTERM, then a clean end within 5 s.

Nobody on the LAN may exhaust the server before signing in, so waitress is bounded: a request body above the
app's ``MAX_CONTENT_LENGTH`` is refused (413) from its Content-Length before it is read, and a body below it
stays in memory (waitress would otherwise spool bodies over 512 KiB to a temporary file, on the disk the
recordings need); at most ``connection_limit`` connections, the one waiting longest for its request dropped
to make room; an idle connection closed after ``channel_timeout_s``, and one whose request has not all arrived
``request_timeout_s`` after its first byte (a client trickling header bytes is never idle) closed too.
"""
from __future__ import annotations

import contextlib
import errno
import logging
import logging.handlers
import signal
import sys
import time
import warnings
from pathlib import Path

from waitress import create_server
from waitress import wasyncore
from waitress.channel import HTTPChannel

from ..live.panel_link import PanelLink, prepare_source
from ..storage.files import make_private_folder
from ..exc import ConfigError

log = logging.getLogger("forceplate.serve")

SERVER_THREADS = 16     # each open live page holds one; MAX_STREAMS leaves the rest for requests


def run_server(host: str, port: int, source_spec: str | None, data_dir, *, threads: int = SERVER_THREADS) -> None:
    """Serve the web UI on ``host:port`` from the source ``source_spec`` names (None: the configured one).

    Logs the source, the sampling kernel, the URL and any fallback warning to stderr. Returns after
    SIGINT or SIGTERM once the streams, the server and the sampler have stopped. Raises ConfigError
    (one line for the CLI) when the port cannot be bound or the source spec is bad.
    """
    from ..device import sampling
    from ..device.sources import open_source
    from . import close_app, create_app, stop_streams

    stderr = _stderr_handler()
    with contextlib.ExitStack() as stack:
        with _log_only_if_all_goes_well(stderr):   # a busy port or a bad spec gives exactly one line
            try:
                data_dir = make_private_folder(data_dir)  # the instance folder (0700); the store comes later
            except OSError as exc:
                raise ConfigError(f"{data_dir}: cannot use it as the data folder: {exc.strerror or exc}") from None
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                source = stack.enter_context(open_source(source_spec))
            for warning in caught:
                log.warning("%s: %s", warning.category.__name__, warning.message)
            reminder = _prepare_hardware(source, data_dir)
            app = create_app(source=source, instance_path=data_dir)
            socket_map = {}            # waitress's channels; closed by us at the end
            server = _bind(app, host, port, socket_map, threads=threads,
                           max_streams=int(app.config["MAX_STREAMS"]))
            _guard_connections(socket_map, request_timeout_s=float(app.config["REQUEST_TIMEOUT_S"]))
        logging.getLogger().addHandler(stderr)
        plate = app.extensions["forceplate"]
        log.info("source: %s", source.describe())
        if source.warning and not any(str(w.message) == source.warning for w in caught):
            log.warning("%s", source.warning)
        log.info("sampling kernel: %s", sampling.KERNEL)
        log.info("data folder: %s", data_dir)
        plate.start()
        if reminder and not source.warning:
            source.warning = reminder        # shown on the live page until the plate is calibrated
        stack.enter_context(PanelLink(plate, app.extensions["forceplate.sets"], app.config["DATABASE"]))
        shown_host = "localhost" if host in ("0.0.0.0", "::", "") else host
        log.info("live page: http://%s:%s/  (Ctrl+C to stop)", shown_host, server.effective_port)
        setup_code = app.extensions["forceplate.auth"].pending_setup_code()
        if setup_code is not None:       # nobody else on the LAN can claim the plate without this code
            log.warning("First start: open http://%s:%s/setup and enter the code %s",
                        shown_host, server.effective_port, setup_code)

        def on_signal(signum, _frame):
            # End the streams first: waitress waits for its threads when it shuts down.
            stop_streams(app)
            signal.signal(signum, signal.SIG_IGN)
            log.info("%s: stopping", signal.Signals(signum).name)
            raise SystemExit(0)          # waitress's loop catches this and shuts its threads down

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            server.run()
        finally:
            for sig in previous:
                signal.signal(sig, signal.SIG_IGN)     # a second signal must not interrupt the clean-up
            stop_streams(app)
            try:
                server.task_dispatcher.shutdown(timeout=2)
                wasyncore.close_all(socket_map)
            finally:
                try:
                    close_app(app)           # a recording set ends complete, its last events committed
                finally:
                    plate.stop()
                for sig, handler in previous.items():
                    signal.signal(sig, handler)
    log.info("stopped")


def _prepare_hardware(source, data_dir) -> str | None:
    """A real plate gets its stored calibration before the live plate copies it; returns a reminder."""
    if getattr(source, "is_simulated", True):
        return None
    from ..storage.store import Store
    store = Store(Path(data_dir) / "forceplate.db")
    try:
        return prepare_source(source, store)
    finally:
        store.close()


@contextlib.contextmanager
def _log_only_if_all_goes_well(target: logging.Handler):
    """Hold log records back; pass them to ``target`` when the block succeeds, drop them when it raises."""
    root = logging.getLogger()
    held = logging.handlers.MemoryHandler(capacity=10_000, flushLevel=logging.CRITICAL + 1, target=target)
    root.addHandler(held)
    try:
        yield
    except BaseException:
        held.setTarget(None)         # the error itself is the one line the user needs
        raise
    finally:
        root.removeHandler(held)
        held.close()


def _bind(app, host: str, port: int, socket_map: dict, *, threads: int, max_streams: int):
    if threads < max_streams + 2:
        raise ConfigError(f"{threads} server threads cannot serve {max_streams} live pages and other requests")
    max_body_bytes = int(app.config["MAX_CONTENT_LENGTH"])
    try:
        return create_server(
            app, map=socket_map, host=host, port=port, threads=threads, ident="forceplate",
            clear_untrusted_proxy_headers=True,
            max_request_body_size=max_body_bytes + 1,       # waitress refuses a body of this size or more
            inbuf_overflow=max_body_bytes + 2,              # so no allowed body is spooled to the disk
            connection_limit=int(app.config["CONNECTION_LIMIT"]),
            channel_timeout=float(app.config["CHANNEL_TIMEOUT_S"]),
            cleanup_interval=float(app.config["CLEANUP_INTERVAL_S"]),
            asyncore_use_poll=True)                         # select() stops at 1024 descriptors
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(f"cannot listen on {host}:{port}: the port is already in use "
                              "(is forceplate already running? choose another with --port)") from None
        if exc.errno == errno.EACCES:
            raise ConfigError(f"cannot listen on {host}:{port}: permission denied (ports below 1024 need "
                              "privileges; use --port 8080)") from None
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    except ValueError:             # waitress, for a host that is no address and resolves to none
        raise ConfigError(f"cannot listen on {host}:{port}: {host} is not an address of this machine") from None


def _guard_connections(socket_map: dict, *, request_timeout_s: float) -> None:
    """Make the listening sockets in ``socket_map`` accept :func:`guarded_channel_class` channels."""
    channel_class = guarded_channel_class(socket_map, request_timeout_s)
    for dispatcher in list(socket_map.values()):
        if hasattr(dispatcher, "channel_class"):       # a listening socket (one per address served)
            dispatcher.channel_class = channel_class


def guarded_channel_class(socket_map: dict, request_timeout_s: float, *, warn_every_s: float = 60.0):
    """A waitress channel that drops slow requests and, at the connection limit, the stalest connection.

    Waitress closes only connections idle for ``channel_timeout``, and at its ``connection_limit`` it stops
    accepting: 110 connections each trickling a header byte now and then made the UI unreachable. Here a
    request must arrive whole within ``request_timeout_s`` of its first byte, and a new connection that brings
    the count to the limit closes the one that has waited longest (idle, or still sending its request; never
    one being answered, such as a live page). ``socket_map`` is the server's map of connections (ours, given to
    waitress). Each drop is logged at most once every ``warn_every_s``.
    """
    logged = {"at": -float("inf"), "dropped": 0}

    def note(what: str) -> None:
        logged["dropped"] += 1
        now = time.monotonic()
        if now - logged["at"] >= warn_every_s:
            log.warning("closed %d connection(s) so far: %s (a slow or flooding client?)", logged["dropped"], what)
            logged["at"] = now

    class GuardedChannel(HTTPChannel):
        request_started = None      # time.time() when the request now arriving sent its first byte

        def __init__(self, server, sock, addr, adj, map=None):
            super().__init__(server, sock, addr, adj, map=map)
            # One below waitress's own limit, which would stop accepting instead.
            if len(socket_map) >= adj.connection_limit - 1:
                stalest = min((c for c in socket_map.values() if isinstance(c, HTTPChannel) and c is not self
                               and not c.requests and not c.will_close), key=_waiting_since, default=None)
                if stalest is not None:
                    stalest.will_close = True
                    note(f"the connection limit ({adj.connection_limit}) was reached")

        def received(self, data):
            partial = self.request
            result = super().received(data)
            if self.request is None:
                self.request_started = None
            elif self.request is not partial or self.request_started is None:
                self.request_started = time.time()
            return result

        def writable(self):
            # Asked on every turn of the server's loop (at least once a second), for every connection.
            if (self.request_started is not None and not self.will_close and not self.requests
                    and time.time() - self.request_started > request_timeout_s):
                self.will_close = True
                note(f"a request was still arriving after {request_timeout_s:g} s")
            return super().writable()

    return GuardedChannel


def _waiting_since(channel) -> float:
    """When a connection that is not being answered began to wait: its partial request's first byte, or the
    last thing it sent."""
    started = getattr(channel, "request_started", None)
    return started if started is not None else channel.last_activity


class StderrHandler(logging.StreamHandler):
    """forceplate's own stderr handler: found again by its class when `serve` runs twice in one process."""


def _stderr_handler() -> logging.Handler:
    """forceplate's stderr log handler (made once per process; INFO and up)."""
    root = logging.getLogger()
    for handler in root.handlers:
        if isinstance(handler, StderrHandler):
            root.removeHandler(handler)
            return handler
    handler = StderrHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    root.setLevel(logging.INFO)
    # waitress says "Client disconnected" at INFO each time a live page closes; keep its warnings only.
    logging.getLogger("waitress").setLevel(logging.WARNING)
    return handler
