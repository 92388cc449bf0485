"""The one settings loader: precedence, checked values, unknown keys, the old web UI config.py, the README."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from forceplate import config
from forceplate.exc import ConfigError

ROOT = Path(__file__).resolve().parent.parent
FORCEPLATE = Path(sys.executable).parent / "forceplate"


@pytest.fixture
def toml(tmp_path, monkeypatch):
    """Write the config file the loader reads (and nothing else: no FORCEPLATE_* variable is set)."""
    for name in [n for n in os.environ if n.startswith("FORCEPLATE_")]:
        monkeypatch.delenv(name)
    path = tmp_path / "config.toml"
    path.write_text("")
    monkeypatch.setenv(config.ENV_CONFIG, str(path))

    def write(text: str) -> Path:
        path.write_text(text)
        return path
    return write


# -- precedence -------------------------------------------------------------------------------------------

def test_with_nothing_configured_every_setting_is_its_default(toml):
    settings = config.load()
    assert settings["port"] == 8080 and settings["thump_bw"] == 2.5 and settings["source"] is None
    assert all(settings.origin(name) == "default" for name in config.SETTINGS)


def test_the_file_beats_the_default(toml):
    path = toml("port = 9000\nthump_bw = 3.0\n")
    settings = config.load()
    assert (settings["port"], settings["thump_bw"]) == (9000, 3.0)
    assert settings.origin("port") == str(path)


def test_the_environment_beats_the_file(toml, monkeypatch):
    toml("port = 9000\n")
    monkeypatch.setenv("FORCEPLATE_PORT", "9001")
    assert config.port() == 9001
    assert config.load().origin("port") == "FORCEPLATE_PORT"


def test_an_option_beats_the_environment(toml, monkeypatch):
    toml("port = 9000\n")
    monkeypatch.setenv("FORCEPLATE_PORT", "9001")
    assert config.port(9002) == 9002
    assert config.load({"port": 9002}).origin("port") == "option"


def test_an_empty_variable_is_unset_but_an_empty_pin_is_no_part(toml, monkeypatch):
    toml("port = 9000\n")
    monkeypatch.setenv("FORCEPLATE_PORT", "")
    monkeypatch.setenv("FORCEPLATE_PANEL_BUZZER_PIN", "")
    settings = config.load()
    assert settings["port"] == 9000 and settings["panel_buzzer_pin"] is None


def test_the_web_uis_old_variable_for_the_session_lifetime_still_works_with_a_warning(toml, monkeypatch):
    monkeypatch.setenv("FORCEPLATE_PERMANENT_SESSION_LIFETIME", "600")
    with pytest.warns(FutureWarning, match="set FORCEPLATE_SESSION_LIFETIME_S instead"):
        assert config.load()["session_lifetime_s"] == 600
    monkeypatch.setenv("FORCEPLATE_SESSION_LIFETIME_S", "900")
    assert config.load()["session_lifetime_s"] == 900                # the new name wins, and no warning


def test_the_data_folder_follows_xdg_when_unset(toml, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert config.data_dir() == tmp_path / "xdg" / "forceplate"
    monkeypatch.setenv("FORCEPLATE_DATA_DIR", "~/plate-data")
    assert config.data_dir() == Path.home() / "plate-data"


def test_lists_come_from_the_environment_with_or_without_brackets(toml, monkeypatch):
    monkeypatch.setenv("FORCEPLATE_HX711_OFFSET_COUNTS", "10,20,30,40")
    monkeypatch.setenv("FORCEPLATE_PLATE_CORNERS_M", "[[0, 0], [0.4, 0], [0.4, 0.6], [0, 0.6]]")
    settings = config.load()
    assert settings["hx711_offset_counts"] == (10.0, 20.0, 30.0, 40.0)
    assert settings["plate_corners_m"][2] == (0.4, 0.6)


# -- bad values and unknown keys -----------------------------------------------------------------------------

@pytest.mark.parametrize("line, says", [
    ('thump_bw = "lots"', "thump_bw = 'lots': is not a number"),
    ("thump_bw = -1.0", "thump_bw = -1.0: must be more than 0"),
    ("port = 70000", "port = 70000: is outside 1-65535"),
    ("max_streams = 2.5", "max_streams = 2.5: is not a whole number"),
    ("panel_led_pin = 40", "panel_led_pin = 40: GPIO 40 is not on the Pi's header"),
    ("hx711_scale_n_per_count = [1.0, true]", "hx711_scale_n_per_count = [1.0, True]: is not a list of numbers"),
    ("plate_corners_m = [[0, 0], [1, 0]]", "plate_corners_m = [[0, 0], [1, 0]]: must be four [x, y] pairs"),
])
def test_a_bad_value_in_the_file_is_one_line_naming_file_and_key(toml, line, says):
    path = toml(line + "\n")
    with pytest.raises(ConfigError) as caught:
        config.load()
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and says in message and "\n" not in message


def test_a_bad_variable_is_named(toml, monkeypatch):
    monkeypatch.setenv("FORCEPLATE_THUMP_BW", "three")
    with pytest.raises(ConfigError, match=r"^FORCEPLATE_THUMP_BW='three': is not a number$"):
        config.load()


def test_a_bad_secret_key_is_named_but_never_shown(toml):
    path = toml("secret_key = 123456789\n")
    with pytest.raises(ConfigError) as caught:
        config.load()
    assert str(caught.value) == f"{path}: secret_key = (hidden): is not text (in the file, put it in quotes)"


def test_an_unknown_key_in_the_file_is_reported_with_the_likely_one(toml):
    path = toml("thump_wb = 3.0\n")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}: unknown setting 'thump_wb' "
                                          r"\(did you mean 'thump_bw'\?\)$"):
        config.load()


def test_an_environment_only_setting_in_the_file_says_where_it_belongs(toml):
    toml("purepython = 1\n")
    with pytest.raises(ConfigError, match="read from FORCEPLATE_PUREPYTHON only"):
        config.load()


def test_a_named_config_file_that_is_missing_is_an_error(toml, monkeypatch, tmp_path):
    monkeypatch.setenv(config.ENV_CONFIG, str(tmp_path / "nowhere.toml"))
    with pytest.raises(ConfigError, match="nowhere.toml: config file not found"):
        config.load()


def test_a_file_that_is_not_toml_names_the_file(toml):
    path = toml("port = = 3\n")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}: cannot read config file"):
        config.load()


def test_the_cli_reports_a_bad_config_file_in_one_line(toml, tmp_path):
    toml("port = 0\n")
    env = {**os.environ, "FORCEPLATE_DATA_DIR": str(tmp_path / "data")}
    r = subprocess.run([str(FORCEPLATE), "sessions", "--json"], capture_output=True, text=True, env=env,
                       timeout=60)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and "port = 0: is outside 1-65535" in r.stderr


# -- the web UI's old config.py in the data folder ------------------------------------------------------------

def test_the_old_config_py_is_honoured_with_a_warning_saying_what_to_write(toml, tmp_path):
    legacy = tmp_path / "config.py"
    legacy.write_text("THUMP_BW = 3.5\nMAX_STREAMS = 4\nDEBUG = True\n")
    with pytest.warns(FutureWarning, match=r"config.py is deprecated.*thump_bw = 3.5, max_streams = 4"):
        settings = config.load(legacy_pyfile=legacy)
    assert settings["thump_bw"] == 3.5 and settings["max_streams"] == 4
    assert settings.origin("thump_bw") == str(legacy)


def test_the_toml_file_and_the_environment_beat_the_old_config_py(toml, tmp_path, monkeypatch):
    toml("thump_bw = 3.0\n")
    monkeypatch.setenv("FORCEPLATE_MIN_PEAK_BW", "1.5")
    legacy = tmp_path / "config.py"
    legacy.write_text("THUMP_BW = 3.5\nMIN_PEAK_BW = 1.4\nLOGIN_LOCKOUT_S = 60.0\n")
    with pytest.warns(FutureWarning):
        settings = config.load(legacy_pyfile=legacy)
    assert (settings["thump_bw"], settings["min_peak_bw"], settings["login_lockout_s"]) == (3.0, 1.5, 60.0)


def test_the_warning_about_the_old_config_py_never_shows_the_secret_key(toml, tmp_path):
    legacy = tmp_path / "config.py"
    legacy.write_text("SECRET_KEY = 'hunter2-but-longer-than-thirty-two-chars'\n")
    with pytest.warns(FutureWarning) as caught:
        settings = config.load(legacy_pyfile=legacy)
    assert settings["secret_key"] == "hunter2-but-longer-than-thirty-two-chars"
    assert "hunter2" not in str(caught[0].message) and "secret_key = (the key)" in str(caught[0].message)


def test_the_old_config_py_is_checked_like_the_rest(toml, tmp_path):
    legacy = tmp_path / "config.py"
    legacy.write_text("THUMP_BW = 'high'\n")
    with pytest.warns(FutureWarning), pytest.raises(ConfigError, match=r"config.py: thump_bw = 'high'"):
        config.load(legacy_pyfile=legacy)
    legacy.write_text("THUMP_BV = 3.0\n")
    with pytest.raises(ConfigError, match=r"config.py: unknown setting 'THUMP_BV' \(did you mean 'THUMP_BW'\?\)"):
        config.load(legacy_pyfile=legacy)


def test_no_old_config_py_no_warning(toml, tmp_path):
    assert config.load(legacy_pyfile=tmp_path / "config.py")["thump_bw"] == 2.5    # filterwarnings = error


# -- the README ----------------------------------------------------------------------------------------------

def readme_settings_rows() -> dict:
    """The README's settings table, by setting name: {name: (variable, default, meaning)}."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and re.fullmatch(r"`[a-z0-9_]+`", cells[0]):
            rows[cells[0].strip("`")] = tuple(cells[1:])
    return rows


def numbers_in(cell: str) -> list[float]:
    """The numbers a table cell states, fractions included (``1/15``)."""
    values = []
    for token in re.findall(r"\d+(?:\.\d+)?(?:/\d+)?", cell.replace(",", "")):
        top, _, bottom = token.partition("/")
        values.append(float(top) / float(bottom or 1))
    return values


def test_every_setting_is_in_the_readme_table_with_its_variable_and_default():
    rows = readme_settings_rows()
    assert set(rows) == set(config.SETTINGS)
    for name, setting in config.SETTINGS.items():
        variable, default, meaning = rows[name]
        assert variable == f"`{setting.env}`", name
        if isinstance(setting.default, (int, float)) and not isinstance(setting.default, bool):
            assert any(v == pytest.approx(setting.default) for v in numbers_in(default)), name
        assert meaning, name
