"""Shared fixtures. Module-specific fixtures live in their test modules."""
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real recordings in ../shared/data (each CSV with a JSON of reference values beside it)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"{SHARED_DATA} is missing: the real recordings must sit beside the repository")
    return SHARED_DATA


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
