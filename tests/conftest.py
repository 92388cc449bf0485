"""Shared fixtures. Module-specific fixtures live in their test modules; the real recordings are found with
``helpers.data_path`` (tests/data)."""
import pytest


@pytest.fixture
def fake_clock():
    """A clock that moves only when the test moves it (``advance``); sources' ``sleep`` advances it."""
    from forceplate.device.sim.mock import FakeClock
    return FakeClock()


@pytest.fixture
def mock_source(monkeypatch):
    """A MockSource (4 cells, 80 SPS, fake clock) that open_source() returns; the default is restored after."""
    from forceplate.device import sources
    from forceplate.device.sim.mock import MockSource
    with MockSource(channels=4, rate_hz=80.0) as source:
        monkeypatch.setattr(sources, "DEFAULT_SOURCE", source)
        yield source


@pytest.fixture
def plate(source):
    """A LivePlate started on the test module's own ``source`` fixture (each module picks its source); stopped
    after."""
    from forceplate.live.plate import LivePlate
    live = LivePlate(source).start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium through Playwright, one per test module (tests/browserkit.py); skips where
    Playwright or chromium is missing (32-bit ARM has no Playwright wheel)."""
    import browserkit
    why = browserkit.have_chromium()
    if why:
        pytest.skip(why)
    with browserkit.chromium() as launched:
        yield launched
