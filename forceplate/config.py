"""Every setting forceplate reads from the environment or its config file, in one place.

Precedence, highest first: a command-line argument, a ``FORCEPLATE_*`` environment variable, the config
file (TOML: ``$FORCEPLATE_CONFIG``, else ``/etc/forceplate/config.toml``, else
``~/.config/forceplate/config.toml``), the built-in default.
"""
from __future__ import annotations

import os
import tomllib
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


def config_path() -> Path | None:
    """The config file in force, or None when there is none."""
    given = os.environ.get(ENV_CONFIG)
    if given:
        return Path(given)
    user = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "forceplate" / "config.toml"
    for candidate in (SYSTEM_CONFIG, user):
        if candidate.is_file():
            return candidate
    return None


def load_config() -> dict:
    """The config file's settings as a dict (empty without a file). Raises ConfigError naming the file."""
    path = config_path()
    if path is None:
        return {}
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found (named by {ENV_CONFIG})") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc}") from None


def setting(name: str, env: str, given=None, default=None):
    """One setting: the argument, else the environment variable, else the config file, else default."""
    if given is not None:
        return given
    if os.environ.get(env):
        return os.environ[env]
    return load_config().get(name, default)


def source_spec(given: str | None = None) -> str | None:
    """The configured load-cell source spec, or None when nothing was configured."""
    return setting("source", ENV_SOURCE, given)


def data_dir(given: str | os.PathLike | None = None) -> Path:
    """The folder holding forceplate's database (created by the store, not here)."""
    value = setting("data_dir", ENV_DATA_DIR, given)
    if value:
        return Path(value).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "forceplate"


def host(given: str | None = None) -> str:
    return str(setting("host", ENV_HOST, given, DEFAULT_HOST))


def port(given: int | None = None) -> int:
    value = setting("port", ENV_PORT, given, DEFAULT_PORT)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"port {value!r} is not a whole number") from None
    if not 1 <= number <= 65535:
        raise ConfigError(f"port {number} is outside 1-65535")
    return number
