"""Shared fixtures: where the real market data lives."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SHARED_DATA = SHARED / "data"
EXAMPLES = ROOT / "examples"
SAMPLE_DATA = EXAMPLES / "data"


@pytest.fixture
def shared_data() -> Path:
    """``../shared/data`` beside the project; skips the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real market data not found at {SHARED_DATA} (place ../shared beside the "
                    "project root)")
    return SHARED_DATA


@pytest.fixture
def sample_data() -> Path:
    """The small real-data sample bundled under ``examples/data``."""
    return SAMPLE_DATA
