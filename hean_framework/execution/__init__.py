"""Execution: where orders go.

* :mod:`hean_framework.execution.sim_venue` -- :class:`SimulatedVenue`, the backtest/paper
  matching engine (latency, maker/taker fees, L2 book walking, queue position, partial fills
  against recorded trades, bar and quote fallbacks).

Nothing is imported here on purpose: importing the package has no side effects.
"""
