"""twap against the kernel's executor contract (registration, config model, verdicts; an
accepted decision places an order at once), with and without a quote: the contract's parent
(0.01 BTC at 80,000 = 800 USDT) is sliced with the defaults (threshold 500) and sent as one
market order above a higher threshold."""

from __future__ import annotations

from hean_framework.testing import ExecutorContract


class TestContract(ExecutorContract):
    plugin_name = "twap"
    plugin_module = "hean_twap.plugin"


class TestContractUnsliced(ExecutorContract):
    plugin_name = "twap"
    plugin_module = "hean_twap.plugin"
    config = {"threshold_notional": 10_000.0, "slices": 3, "duration_s": 30, "jitter": 0.0,
              "abort_adverse_bps": None, "stop_states": ["KILLSWITCH"]}
