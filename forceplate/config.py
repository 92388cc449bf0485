"""Every setting forceplate reads, declared once, and the one loader that resolves them.

Each setting is one :class:`Setting` in :data:`SETTINGS`: its name (also its key in the TOML file), its
``FORCEPLATE_*`` environment variable, its default, what it means (with its unit) and how a value is checked.
Code elsewhere asks :func:`get` (one setting) or :func:`load` (all of them) and never reads the environment
or the file itself. Precedence, highest first:

1. a command-line option (the caller passes it as ``given``);
2. the setting's ``FORCEPLATE_*`` environment variable (empty counts as unset, except for the panel pins,
   where empty means "no such part"), then a variable it had before (``old_env``), with a FutureWarning;
3. the TOML config file: ``$FORCEPLATE_CONFIG``, else ``/etc/forceplate/config.toml``, else
   ``~/.config/forceplate/config.toml`` (the first that exists);
4. only for the web UI: a Python ``config.py`` in the data folder, the old way of setting the web UI's
   values (``THUMP_BW = 3.0``). It is still honoured, with a FutureWarning saying what to write instead;
5. the default declared here.

A bad value anywhere is a :class:`~forceplate.exc.ConfigError` whose one line names where it came from (the
file, the variable or the option), the key and the fault; so is a key the file does not know, since a
misspelt key silently ignored would leave the plate running on a default nobody chose.
"""
from __future__ import annotations

import datetime as dt
import difflib
import json
import math
import os
import tomllib
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from .exc import ConfigError

ENV_CONFIG = "FORCEPLATE_CONFIG"          # path of the TOML config file
ENV_SOURCE = "FORCEPLATE_SOURCE"          # load-cell source spec: hx711, sim:SCENARIO, replay:PATH
ENV_DATA_DIR = "FORCEPLATE_DATA_DIR"      # folder holding the SQLite database
ENV_PUREPYTHON = "FORCEPLATE_PUREPYTHON"  # "1": sample through the pure-Python kernel twin
ENV_HOST = "FORCEPLATE_HOST"              # address `serve` listens on
ENV_PORT = "FORCEPLATE_PORT"              # port `serve` listens on

DEFAULT_HOST = "0.0.0.0"   # a LAN appliance: reachable from the clinic's tablets
DEFAULT_PORT = 8080

SYSTEM_CONFIG = Path("/etc/forceplate/config.toml")
LEGACY_PYFILE = "config.py"               # the web UI's old settings file, in the data folder


# ------------------------------------------------------------------------------------------ value checks
# Each takes what the TOML file holds (already a number, list, bool...) or the text of an environment
# variable, and returns the value or raises ValueError saying what is wrong (the loader adds where and which).

def _real(*, above: float | None = None, at_least: float | None = None) -> Callable:
    def check(value) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError("is not a number")
        try:
            number = float(value)
        except ValueError:
            raise ValueError("is not a number") from None
        if not math.isfinite(number):
            raise ValueError("is not a finite number")
        if above is not None and not number > above:
            raise ValueError(f"must be more than {above:g}")
        if at_least is not None and not number >= at_least:
            raise ValueError(f"must be at least {at_least:g}")
        return number
    return check


def _whole(*, at_least: int, at_most: int | None = None) -> Callable:
    def check(value) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise ValueError("is not a whole number")
        try:
            number = int(value)
        except ValueError:
            raise ValueError("is not a whole number") from None
        if number < at_least or (at_most is not None and number > at_most):
            raise ValueError(f"is outside {at_least}-{at_most}" if at_most is not None
                             else f"must be at least {at_least}")
        return number
    return check


def _text(value) -> str:
    if not isinstance(value, str):
        raise ValueError("is not text (in the file, put it in quotes)")
    if not value.strip():
        raise ValueError("is empty")
    return value.strip()


def _secret(value) -> str | bytes:
    if isinstance(value, bytes) and value:       # Flask accepts bytes, and the old config.py may hold them
        return value
    return _text(value)


def _folder(value) -> Path:
    return Path(_text(value)).expanduser()


def _one_or_zero(value) -> bool:
    # _extensions reads this variable before anything else and only "1" turns the twins on: anything but
    # 1 or 0 would be silently "compiled" there, so it is an error here.
    if str(value).strip() in ("1", "0"):
        return str(value).strip() == "1"
    raise ValueError("must be 1 (pure Python) or 0 (compiled)")


def _whole_seconds(value) -> int:
    """Seconds; the old config.py may hold a timedelta, as Flask allows for PERMANENT_SESSION_LIFETIME."""
    if isinstance(value, dt.timedelta):
        value = int(value.total_seconds())
    return _whole(at_least=1)(value)


def _gpio_pin(value) -> int | None:
    """A BCM pin on the Pi's header; false, "" or "none" for a part the plate was built without."""
    if value is False or (isinstance(value, str) and value.strip().lower() in ("", "none", "false")):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError("is not a GPIO (BCM) number")
    try:
        number = int(value)
    except ValueError:
        raise ValueError("is not a GPIO (BCM) number") from None
    if not 0 <= number <= 27:
        raise ValueError(f"GPIO {number} is not on the Pi's header (0-27)")
    return number


def _from_env_list(value):
    """A list from the file as it is; from the environment as JSON, outer brackets optional: ``1,2,3,4``."""
    if not isinstance(value, str):
        return value
    for text in (value, f"[{value}]"):
        try:
            items = json.loads(text)
        except ValueError:
            continue
        if isinstance(items, list):
            return items
    raise ValueError("is not a list of numbers (e.g. 1,2,3,4)")


def _numbers(value) -> tuple[float, ...]:
    """One number per load cell (how many cells a source has is checked by the source)."""
    items = _from_env_list(value)
    if not isinstance(items, list) or not items or any(isinstance(x, bool) or not isinstance(x, (int, float))
                                                       for x in items):
        raise ValueError("is not a list of numbers, one per load cell")
    if not all(math.isfinite(x) for x in items):
        raise ValueError("holds a number that is not finite")
    return tuple(float(x) for x in items)


def _corners(value) -> tuple[tuple[float, float], ...]:
    """Four [x, y] pairs in metres, in the order of the force columns."""
    pairs = _from_env_list(value)
    if (not isinstance(pairs, list) or len(pairs) != 4
            or any(not isinstance(p, list) or len(p) != 2 for p in pairs)):
        raise ValueError("must be four [x, y] pairs in metres")
    try:
        return tuple((_real()(x), _real()(y)) for x, y in pairs)
    except ValueError:
        raise ValueError("must be four [x, y] pairs of finite numbers, in metres") from None


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "forceplate"


# ---------------------------------------------------------------------------------------------- settings

@dataclass(frozen=True)
class Setting:
    """One setting. ``name`` is its TOML key; ``app_key`` (web UI settings only) its name in the Flask
    app's config, which is also the name the old data-folder ``config.py`` gave it."""

    name: str
    default: object                       # a value, or a callable giving it (a default that depends on $HOME)
    check: Callable
    env: str
    help: str
    app_key: str | None = None
    in_file: bool = True                  # False: read from the environment only (read before any file)
    blank_is_none: bool = False           # an empty environment variable means "none", not "unset"
    is_secret: bool = False               # never shown in an error or a warning (they reach the log)
    old_env: str | None = None            # a variable this setting was read from before: honoured, with a warning

    def default_value(self):
        return self.default() if callable(self.default) else self.default


def _web(name: str, default, check, help: str, *, app_key: str | None = None, is_secret: bool = False) -> Setting:
    """A web UI setting: ``FORCEPLATE_<NAME>``, and ``<NAME>`` in the app's config unless told otherwise.

    The web UI used to take every ``FORCEPLATE_<APP_KEY>`` variable, so where the app key differs from the
    name, that variable is still read (``old_env``)."""
    app_key = app_key or name.upper()
    old_env = f"FORCEPLATE_{app_key}" if app_key != name.upper() else None
    return Setting(name, default, check, f"FORCEPLATE_{name.upper()}", help, app_key=app_key, is_secret=is_secret,
                   old_env=old_env)


SETTINGS: dict[str, Setting] = {s.name: s for s in [
    Setting("source", None, _text, ENV_SOURCE,
            "load-cell source spec (see Source specs below); unset: the HX711 plate, else the simulated plate "
            "with a warning"),
    Setting("host", DEFAULT_HOST, _text, ENV_HOST, "address `forceplate serve` listens on"),
    Setting("port", DEFAULT_PORT, _whole(at_least=1, at_most=65535), ENV_PORT, "port `forceplate serve` listens on"),
    Setting("data_dir", _default_data_dir, _folder, ENV_DATA_DIR,
            "folder holding the database, the web UI's secret key and password"),
    Setting("purepython", False, _one_or_zero, ENV_PUREPYTHON,
            "1: sample and code raw traces through the pure-Python twins of the compiled kernels",
            in_file=False),
    Setting("panel_button_pin", 17, _gpio_pin, "FORCEPLATE_PANEL_BUTTON_PIN",
            "front-panel button, BCM GPIO (physical pin 11); false or none: no button", blank_is_none=True),
    Setting("panel_led_pin", 27, _gpio_pin, "FORCEPLATE_PANEL_LED_PIN",
            "front-panel LED, BCM GPIO (physical pin 13); false or none: no LED", blank_is_none=True),
    Setting("panel_buzzer_pin", 22, _gpio_pin, "FORCEPLATE_PANEL_BUZZER_PIN",
            "front-panel buzzer, BCM GPIO (physical pin 15); false or none: no buzzer", blank_is_none=True),
    Setting("hx711_offset_counts", None, _numbers, "FORCEPLATE_HX711_OFFSET_COUNTS",
            "HX711 reading of each unloaded cell, in counts (used until `forceplate calibrate` saves one)"),
    Setting("hx711_scale_n_per_count", None, _numbers, "FORCEPLATE_HX711_SCALE_N_PER_COUNT",
            "HX711 newtons per count, one per cell (used until `forceplate calibrate` saves one)"),
    Setting("ads1256_offset_counts", None, _numbers, "FORCEPLATE_ADS1256_OFFSET_COUNTS",
            "ADS1256 reading of each unloaded cell, in counts"),
    Setting("ads1256_scale_n_per_count", None, _numbers, "FORCEPLATE_ADS1256_SCALE_N_PER_COUNT",
            "ADS1256 newtons per count, one per cell"),
    Setting("plate_corners_m", None, _corners, "FORCEPLATE_PLATE_CORNERS_M",
            "[x, y] of each load cell in metres, in the order of the force columns: lean and sway in "
            "`forceplate analyze` for recordings without them"),
    _web("thump_bw", 2.5, _real(above=0), "live page: an impact reaching this many body weights is a thump"),
    _web("min_peak_bw", 1.3, _real(above=0), "live page: smaller peaks, in body weights, are not impacts"),
    _web("history_s", 60.0, _real(above=0), "seconds of force the plate keeps in memory"),
    _web("trace_s", 10.0, _real(above=0), "seconds of trace the live page shows"),
    _web("stream_interval_s", 1 / 15, _real(at_least=0), "least time between two live-stream messages, in s"),
    _web("stream_heartbeat_s", 5.0, _real(above=0),
         "a live stream silent this long (s) sends a comment that keeps proxies and the browser content"),
    _web("stream_max_s", 180.0, _real(above=0), "a live stream ends after this long (s); the browser reconnects"),
    _web("stream_retry_ms", 2000, _whole(at_least=0), "reconnect delay the browser is told, in ms"),
    _web("max_points_per_s", 200.0, _real(above=0), "most trace points streamed per second (min/max thinning)"),
    _web("max_streams", 12, _whole(at_least=1), "most live pages open at once (each holds a server thread)"),
    _web("login_max_failures", 5, _whole(at_least=1),
         "wrong passwords or setup codes from one address before it must pause"),
    _web("login_lockout_s", 30.0, _real(at_least=0), "that pause, in seconds"),
    _web("login_max_failures_all_per_min", 20, _whole(at_least=1),
         "wrong passwords, setup codes (or, counted apart, clinician PINs) from all addresses together within "
         "a minute before every address must pause: 1 min, doubling each time up to 1 h"),
    _web("setup_code_max_failures", 10, _whole(at_least=1),
         "wrong first-start setup codes in all before the code is replaced by a new one (logged)"),
    _web("min_free_disk_mb", 200, _whole(at_least=0),
         "a set does not start with less free space than this on the data disk, in MB"),
    _web("connection_limit", 100, _whole(at_least=1),
         "most connections open at once; at the limit the one waiting longest for its request is dropped"),
    _web("channel_timeout_s", 30.0, _real(above=0), "an idle connection is closed after this long, in s"),
    _web("request_timeout_s", 15.0, _real(above=0),
         "a request not all arrived this long after its first byte is dropped (slow clients), in s"),
    _web("cleanup_interval_s", 2.0, _real(above=0), "how often those two timeouts are checked, in s"),
    _web("session_lifetime_s", 12 * 3600, _whole_seconds, "seconds a sign-in lasts, counted from signing in",
         app_key="PERMANENT_SESSION_LIFETIME"),
    _web("secret_key", None, _secret,
         "key signing the sign-in cookie; unset: made once and kept in the data folder (`secret_key`, 0600)",
         is_secret=True),
]}

_BY_APP_KEY = {s.app_key: s for s in SETTINGS.values() if s.app_key}
_IGNORED_APP_KEYS = {"DEBUG"}             # never honoured: the debugger must not face a clinic network


class Settings(Mapping):
    """Resolved settings, by name; ``origin(name)`` says where each value came from."""

    def __init__(self, values: dict, origins: dict):
        self._values = values
        self._origins = origins

    def __getitem__(self, name: str):
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def origin(self, name: str) -> str:
        """``"option"``, the environment variable's name, the file's path, or ``"default"``."""
        return self._origins[name]

    def app_config(self) -> dict:
        """The web UI's settings under their Flask config names (``{"THUMP_BW": 2.5, ...}``)."""
        return {s.app_key: self._values[s.name] for s in _BY_APP_KEY.values()}


# ------------------------------------------------------------------------------------------------ loading

def config_path() -> Path | None:
    """The TOML config file in force, or None when there is none."""
    given = os.environ.get(ENV_CONFIG)
    if given:
        return Path(given)
    user = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "forceplate" / "config.toml"
    for candidate in (SYSTEM_CONFIG, user):
        if candidate.is_file():
            return candidate
    return None


def load(given: Mapping | None = None, *, legacy_pyfile: str | os.PathLike | None = None) -> Settings:
    """Resolve every setting (precedence in the module docstring). Raises ConfigError naming the fault.

    Parameters
    ----------
    given : mapping, optional
        Command-line options by setting name; None values count as not given.
    legacy_pyfile : path, optional
        The web UI's old ``config.py`` (in the data folder): read when it exists, with a FutureWarning.
    """
    given = {name: value for name, value in (given or {}).items() if value is not None}
    for name in given:
        if name not in SETTINGS:
            raise KeyError(f"unknown setting {name!r}")     # a caller's bug, not the user's input
    path = config_path()
    layers = [(str(path), _read_toml(path))] if path is not None else []
    if legacy_pyfile is not None and os.path.isfile(legacy_pyfile):
        layers.append((os.fspath(legacy_pyfile), _read_legacy_pyfile(Path(legacy_pyfile), path)))
    values, origins = {}, {}
    for setting in SETTINGS.values():
        raw, where = _raw_value(setting, given, layers)
        if where == "default":
            values[setting.name] = setting.default_value()
        else:
            values[setting.name] = _checked(setting, raw, where)
        origins[setting.name] = where
    return Settings(values, origins)


def defaults() -> Settings:
    """Every setting at its default, reading nothing."""
    return Settings({s.name: s.default_value() for s in SETTINGS.values()}, dict.fromkeys(SETTINGS, "default"))


def get(name: str, given=None):
    """One setting's value: ``given`` (a command-line option) when not None, else as :func:`load` says."""
    return load({name: given})[name]


def _raw_value(setting: Setting, given: dict, layers: list) -> tuple[object, str]:
    if setting.name in given:
        return given[setting.name], "option"
    text = os.environ.get(setting.env)
    if text is not None and (text.strip() or setting.blank_is_none):
        return text, setting.env
    if setting.old_env and os.environ.get(setting.old_env, "").strip():
        warnings.warn(f"{setting.old_env} is deprecated and will stop being read: set {setting.env} instead",
                      FutureWarning, stacklevel=4)
        return os.environ[setting.old_env], setting.old_env
    for where, table in layers:
        if setting.name in table:
            return table[setting.name], where
    return None, "default"


def _checked(setting: Setting, raw, where: str):
    try:
        return setting.check(raw)
    except ValueError as exc:
        shown = "(hidden)" if setting.is_secret else repr(raw)
        if where in (setting.env, setting.old_env):
            raise ConfigError(f"{where}={shown}: {exc}") from None
        if where == "option":
            raise ConfigError(f"--{setting.name.replace('_', '-')} {shown}: {exc}") from None
        raise ConfigError(f"{where}: {setting.name} = {shown}: {exc}") from None


def _read_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            table = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found (named by {ENV_CONFIG})") from None
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:   # tomllib decodes UTF-8 itself
        raise ConfigError(f"{path}: cannot read config file: {exc}") from None
    for key in table:
        setting = SETTINGS.get(key)
        if setting is not None and not setting.in_file:
            raise ConfigError(f"{path}: {key} is read from {setting.env} only, not from the config file")
        if setting is None:
            raise ConfigError(f"{path}: unknown setting {key!r}{_did_you_mean(key)}")
    return table


def _did_you_mean(key: str) -> str:
    close = difflib.get_close_matches(key.lower(), [s.name for s in SETTINGS.values() if s.in_file], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _read_legacy_pyfile(path: Path, toml_path: Path | None) -> dict:
    """The old web UI ``config.py``, run as Flask's ``from_pyfile`` ran it; its UPPERCASE names as settings."""
    namespace = {"__file__": str(path)}
    try:
        exec(compile(path.read_bytes(), str(path), "exec"), namespace)
    except Exception as exc:     # its own code: any failure is a bad config file, reported in one line
        raise ConfigError(f"{path}: cannot run this config file: {type(exc).__name__}: {exc}") from None
    table = {}
    for key, value in namespace.items():
        if not key.isupper() or key in _IGNORED_APP_KEYS:
            continue
        setting = _BY_APP_KEY.get(key)
        if setting is None:
            close = difflib.get_close_matches(key, list(_BY_APP_KEY), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{path}: unknown setting {key!r}{hint}")
        table[setting.name] = value
    # The warning goes to the log: it names a secret's setting but never shows the secret.
    lines = ", ".join(f"{name} = {'(the key)' if SETTINGS[name].is_secret else _as_toml(value)}"
                      for name, value in table.items())
    target = toml_path or SYSTEM_CONFIG
    warnings.warn(f"{path} is deprecated and will stop being read: put its settings in {target} "
                  f"({lines or 'it sets nothing'}) and delete it", FutureWarning, stacklevel=3)
    return table


def _as_toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.timedelta):
        return str(int(value.total_seconds()))
    if isinstance(value, (int, float, str)):
        return json.dumps(value)
    return repr(value)


# ------------------------------------------------------------------------ the settings the CLI passes on

def source_spec(given: str | None = None) -> str | None:
    """The configured load-cell source spec, or None when nothing was configured."""
    return get("source", given)


def data_dir(given: str | os.PathLike | None = None) -> Path:
    """The folder holding forceplate's database (created by the store, not here)."""
    return get("data_dir", None if given is None else os.fspath(given))


def host(given: str | None = None) -> str:
    return get("host", given)


def port(given: int | None = None) -> int:
    return get("port", given)
