"""The README documents the config model: every field is a row of its parameter table whose
default column shows the model's default, and every row names a field."""

from __future__ import annotations

from pathlib import Path

from hean_correlation_arbitrage import CorrelationArbitrageConfig

from hean_framework.testing.readme import assert_parameter_table

README = Path(__file__).resolve().parents[1] / "README.md"


def test_parameter_table_matches_the_model() -> None:
    assert_parameter_table(README, CorrelationArbitrageConfig)
