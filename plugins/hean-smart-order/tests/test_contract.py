"""smart_order against the kernel's executor contract (registration, config model, verdicts;
an accepted decision places an order), with and without a quote, for the default settings
and for a configuration that skips whatever has no positive edge."""

from __future__ import annotations

from hean_framework.testing import ExecutorContract


class TestContract(ExecutorContract):
    plugin_name = "smart_order"
    plugin_module = "hean_smart_order.plugin"


class TestContractStrict(ExecutorContract):
    plugin_name = "smart_order"
    plugin_module = "hean_smart_order.plugin"
    config = {"min_edge_bps": 5.0, "no_alpha": "skip", "urgency_threshold": 0.9,
              "slippage": {"default_bps": 10.0}, "chase": {"max_chases": 1}}
