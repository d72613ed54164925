"""Optional inputs of the impulse engine: an oracle's price prediction, an LLM "brain" analysis
and a fused market context.

No HEAN plugin publishes them yet.  They are declared here, with neutral defaults, so that a
future analyzer can publish them under these keys (import them from this module) and the
strategy reads them through ``ctx.facts``:

    from hean_impulse_engine.facts import ORACLE, OraclePrediction
    ctx.facts.set(ORACLE, OraclePrediction(known=True, confidence=0.8,
                                           predicted_return=0.0004), "BTC/USDT:USDT")

Invariants:

* every default is neutral (``known`` False): the oracle never blocks and never pre-positions,
  the brain never penalises a size, the context multiplies sizes by 1 and never asks to
  reduce them -- a run without these inputs behaves as if they agreed with every signal;
* the value types are frozen dataclasses (a publisher replaces the value, never mutates it);
* all three are per symbol.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from hean_framework.facts import FactKey, declare

__all__ = [
    "BRAIN",
    "CONTEXT",
    "NEUTRAL_BRAIN",
    "NEUTRAL_CONTEXT",
    "NEUTRAL_ORACLE",
    "ORACLE",
    "BrainAnalysis",
    "MarketContext",
    "OraclePrediction",
]

OWNER: Final = "impulse_engine"


@dataclass(frozen=True, slots=True)
class OraclePrediction:
    """A short-horizon price predictor's view of one symbol.

    ``confidence`` and ``predicted_return`` are the prediction over the next ~500 ms;
    ``should_exit`` with ``reversal_prob`` says the predictor expects the move to turn.
    """

    known: bool = False
    confidence: float = 0.0
    predicted_return: float = 0.0
    should_exit: bool = False
    reversal_prob: float = 0.0


@dataclass(frozen=True, slots=True)
class BrainAnalysis:
    """A discretionary analysis of one symbol: ``sentiment`` is ``bullish``, ``bearish`` or
    ``neutral`` with a ``confidence`` in 0..1."""

    known: bool = False
    sentiment: str = "neutral"
    confidence: float = 0.0


@dataclass(frozen=True, slots=True)
class MarketContext:
    """A fused view of one symbol.

    ``size_multiplier`` scales the strategy's size; ``consensus`` is ``buy``, ``sell`` or
    ``neutral``; ``should_reduce_size`` asks for a smaller size when there is a consensus;
    ``brain_sentiment`` / ``brain_confidence`` carry the brain's view when no brain analysis
    is published separately (used above a confidence of 0.3).
    """

    known: bool = False
    size_multiplier: float = 1.0
    consensus: str = "neutral"
    should_reduce_size: bool = False
    brain_sentiment: str = "neutral"
    brain_confidence: float = 0.0


NEUTRAL_ORACLE: Final = OraclePrediction()
NEUTRAL_BRAIN: Final = BrainAnalysis()
NEUTRAL_CONTEXT: Final = MarketContext()

ORACLE: FactKey[OraclePrediction] = declare(
    "oracle_prediction", OraclePrediction, owner=OWNER, default=NEUTRAL_ORACLE,
    doc="short-horizon price prediction of a symbol (confidence, predicted return, reversal); "
        "read by the impulse engine, published by no HEAN plugin yet")
BRAIN: FactKey[BrainAnalysis] = declare(
    "brain_analysis", BrainAnalysis, owner=OWNER, default=NEUTRAL_BRAIN,
    doc="discretionary sentiment of a symbol (bullish / bearish / neutral, confidence); "
        "read by the impulse engine, published by no HEAN plugin yet")
CONTEXT: FactKey[MarketContext] = declare(
    "market_context", MarketContext, owner=OWNER, default=NEUTRAL_CONTEXT,
    doc="fused market context of a symbol (size multiplier, consensus, reduce-size flag); "
        "read by the impulse engine, published by no HEAN plugin yet")
