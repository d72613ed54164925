"""Execution: where orders go.

* :mod:`hean_framework.execution.sim_venue` -- :class:`SimulatedVenue`, the backtest/paper
  matching engine (latency, maker/taker fees, L2 book walking, arrival checks and fills).
* :mod:`hean_framework.execution.matching` -- the venue's :class:`Matcher`: resting limits and
  stops against recorded trades, bars and quotes (queue position, partial fills).
* :mod:`hean_framework.execution.margin_desk` -- the venue's :class:`MarginDesk`: size limits,
  the initial-margin check at submit, liquidation.
* :mod:`hean_framework.execution.margin` -- the margin rules and math (leverage, initial and
  maintenance margin, liquidation price) and the executors' size/margin refusal verdict.

Nothing is imported here on purpose: importing the package has no side effects.
"""
