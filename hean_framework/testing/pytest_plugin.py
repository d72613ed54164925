"""The ``hean`` pytest plugin (entry point ``pytest11``): fixtures for plugin authors.

``hean_plugins``, ``hean_register``, ``hean_ctx``: plugin managers and a fake run context;
``sample_data``, ``shared_data``: where the real market data of a HEAN checkout is (the test is
skipped with the reason when it is absent); ``read_events``: data files read into events by the
kernel's own ``csv`` feed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from ..context import RunContext
from ..models import MarketEvent
from ..plugins import HeanPluginManager

#: what marks the root of a HEAN checkout: the bundled data's README
SAMPLE_MARKER = Path("examples") / "data" / "README.md"


@pytest.fixture
def hean_plugins() -> HeanPluginManager:
    """A plugin manager with autoload off: only the kernel's builtin plugins."""
    from . import isolated_plugins

    return isolated_plugins()


@pytest.fixture
def hean_register() -> Iterator[Callable[..., HeanPluginManager]]:
    """Register plugin modules/objects for one test: ``pm = hean_register(my_module)``."""
    from . import isolated_plugins

    def register(*modules: Any, names: list[str] | None = None) -> HeanPluginManager:
        return isolated_plugins(*modules, names=names)

    yield register


@pytest.fixture
def hean_ctx() -> RunContext:
    """A RunContext with real Binance instruments, a portfolio and a fake engine; BTC at
    80,000 with a 0.2 USDT spread."""
    from . import make_context

    return make_context(price=80_000.0, bid=79_999.9, ask=80_000.1)


def find_repository(start: Path) -> Path | None:
    """The HEAN checkout holding ``start``: the nearest folder at or above it that contains
    ``examples/data/README.md`` (None outside a checkout)."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / SAMPLE_MARKER).is_file():
            return folder
    return None


def _requesting_path(request: pytest.FixtureRequest) -> Path:
    """The file of the test that asked for the fixture (the rootdir when there is none)."""
    item = getattr(request, "_pyfuncitem", None)  # the requesting test, also for session scope
    path = getattr(item, "path", None)
    return Path(path) if path is not None else request.config.rootpath


def _repository_or_skip(request: pytest.FixtureRequest) -> Path:
    start = _requesting_path(request)
    root = find_repository(start)
    if root is None:
        pytest.skip(f"no HEAN checkout above {start} (no {SAMPLE_MARKER.as_posix()}): these "
                    "tests use the repository's real data and run from a HEAN checkout")
    return root


@pytest.fixture(scope="session")
def sample_data(request: pytest.FixtureRequest) -> Path:
    """The real data bundled with the repository (``examples/data`` of the HEAN checkout the
    test lives in); skips the test when the test is not inside a checkout."""
    return _repository_or_skip(request) / "examples" / "data"


@pytest.fixture(scope="session")
def shared_data(request: pytest.FixtureRequest) -> Path:
    """``../shared/data`` beside the HEAN checkout the test lives in; skips the test with the
    reason when it is absent."""
    data = _repository_or_skip(request).parent / "shared" / "data"
    if not data.is_dir():
        pytest.skip(f"real market data not found at {data} (place ../shared beside the "
                    "project root)")
    return data


def _read_events(files: Sequence[dict[str, str]]) -> list[MarketEvent]:
    from . import build_component, isolated_plugins, make_context

    feed = build_component(isolated_plugins(), "feed", "csv", make_context(),
                           {"files": list(files)})
    return list(feed.events())  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def read_events() -> Callable[[Sequence[dict[str, str]]], list[MarketEvent]]:
    """``read_events([{"kind", "symbol", "path"}, ...])``: the events of data files read by the
    kernel's own ``csv`` feed (rows validated and merged by time exactly as in a run), cached
    for the session (treat the list as read-only)."""
    cache: dict[str, list[MarketEvent]] = {}

    def read(files: Sequence[dict[str, str]]) -> list[MarketEvent]:
        key = repr(list(files))
        if key not in cache:
            cache[key] = _read_events(files)
        return cache[key]

    return read
