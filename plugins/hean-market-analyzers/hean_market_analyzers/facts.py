"""The typed facts the market analyzers publish, and the value types some of them carry.

A strategy (or filter, gate, sizer) reads them through ``ctx.facts``::

    from hean_framework.facts import REGIME
    from hean_market_analyzers.facts import CONFIRMATION, OFI, OFI_SOURCE

    regime = self.ctx.facts.get(REGIME, symbol)            # '' without a regime detector
    if self.ctx.facts.get(OFI_SOURCE, symbol):              # '' = no book known: skip OFI gates
        ofi = self.ctx.facts.get(OFI, symbol)
    conf = self.ctx.facts.get(CONFIRMATION, symbol)
    if not conf.confirmed("buy", "momentum"):
        return None

Invariants:

* Every key is declared once, here, with its owner ``market_analyzers:<analyzer>`` and a
  *neutral* default: what a reader gets when that analyzer is not installed or has not seen
  enough data.  The defaults let every gate pass and leave every multiplier at 1 and every
  confidence at its neutral value (an absent input never blocks or resizes a trade):
  ``OFI_SOURCE`` is ``''`` (unknown: skip OFI gates), :data:`NEUTRAL_EDGE` accepts any move
  without discount, :data:`NEUTRAL_CONFIRMATION` is confirmed with confidence 0.5,
  :data:`PASS_THROUGH` confirms every entry at once, the anomaly size multiplier is 1.
* The regime detector publishes the *kernel's* keys :data:`hean_framework.facts.REGIME` and
  :data:`~hean_framework.facts.REGIME_CONFIDENCE`, per symbol; nothing here redeclares them.
* Value types are immutable (frozen dataclasses), except the edge-confirmation desk, which is
  a service object strategies call (see :class:`EdgeConfirmationDesk`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from hean_framework.facts import FactKey, declare

__all__ = [
    "ANOMALY",
    "ANOMALY_BLOCKED_UNTIL",
    "ANOMALY_SCORE",
    "ANOMALY_SIZE_MULTIPLIER",
    "CANDIDATE",
    "CONFIRMATION",
    "CONFIRMED",
    "EDGE_CANDIDATES",
    "EDGE_CONFIRMATION",
    "EXECUTION_EDGE",
    "EXPIRED",
    "FACTORS",
    "FAMILIES",
    "INVALIDATED",
    "NEUTRAL_CONFIRMATION",
    "NEUTRAL_EDGE",
    "NO_QUOTE_EDGE_BPS",
    "OFI",
    "OFI_SOURCE",
    "PASS_THROUGH",
    "PENDING",
    "SIGNAL_TYPES",
    "Confirmation",
    "EdgeConfirmationDesk",
    "EdgeEstimate",
    "family_of",
    "regime_score",
]

OWNER = "market_analyzers"

# ------------------------------------------------------------------------ regime families

#: Regime families: a whitelist names families, so the Wyckoff labels (ACCUMULATION, MARKUP,
#: ...) never fall silently outside a list written as RANGE / NORMAL / IMPULSE.
FAMILIES: Final[dict[str, frozenset[str]]] = {
    "RANGE_LIKE": frozenset({"RANGE", "ACCUMULATION"}),
    "TREND": frozenset({"MARKUP", "MARKDOWN"}),
    "VOLATILE": frozenset({"IMPULSE", "DISTRIBUTION"}),
    "NEUTRAL": frozenset({"NORMAL"}),
}
_FAMILY_OF = {r: f for f, members in FAMILIES.items() for r in members}


def family_of(regime: str) -> str:
    """The family of a regime label (``''`` for an unknown or empty label)."""
    return _FAMILY_OF.get(regime.upper(), "")


# ------------------------------------------------------------------------ order flow

OFI: FactKey[float] = declare(
    "ofi", float, owner=f"{OWNER}:ofi_monitor", default=0.0,
    doc="order-book imbalance (B - A) / (B + A) of a symbol, -1..1, over the top levels of the "
        "L2 book (or the best bid/offer sizes); 0.0 when unknown -- check OFI_SOURCE")
OFI_SOURCE: FactKey[str] = declare(
    "ofi_source", str, owner=f"{OWNER}:ofi_monitor", default="",
    doc="where OFI comes from for a symbol: 'book' (top N L2 levels), 'quote' (best bid/offer "
        "sizes) or '' (unknown: no book, empty side, crossed book or update-id gap)")

# ------------------------------------------------------------------------ execution edge

#: edge of a signal when the symbol has no bid/ask: always below any threshold
NO_QUOTE_EDGE_BPS: Final = -1000.0


@dataclass(frozen=True, slots=True)
class EdgeEstimate:
    """What the execution edge estimator knows about trading a symbol right now.

    ``edge_bps(move_bps)`` is the expected edge of an entry whose target is ``move_bps`` away:
    ``(move_bps * fill_prob - spread_bps) * (1 - vol_penalty) * regime_mult`` (or
    :data:`NO_QUOTE_EDGE_BPS` without a quote); ``passes(move_bps)`` compares it with
    ``threshold_bps``.  The neutral estimate (``known`` False) discounts nothing and requires
    nothing: ``edge_bps(m) == m`` and any non-negative move passes.
    """

    known: bool = False
    has_quote: bool = True
    spread_bps: float = 0.0
    fill_prob: float = 1.0
    vol_penalty: float = 0.0
    regime_mult: float = 1.0
    threshold_bps: float = 0.0
    regime: str = ""

    def edge_bps(self, move_bps: float) -> float:
        """Expected edge in bps of an entry whose target is ``move_bps`` away (favourable)."""
        if not self.has_quote:
            return NO_QUOTE_EDGE_BPS
        return ((move_bps * self.fill_prob - self.spread_bps) * (1.0 - self.vol_penalty)
                * self.regime_mult)

    def passes(self, move_bps: float) -> bool:
        """Whether the edge of that move reaches the regime's threshold."""
        return self.edge_bps(move_bps) >= self.threshold_bps

    @staticmethod
    def move_bps(side: str, entry: float, target: float) -> float:
        """Favourable distance from ``entry`` to ``target`` in bps (negative when the target
        is on the wrong side)."""
        if entry <= 0.0:
            return 0.0
        d = (target - entry) if side == "buy" else (entry - target)
        return d / entry * 1e4


NEUTRAL_EDGE: Final = EdgeEstimate()

EXECUTION_EDGE: FactKey[EdgeEstimate] = declare(
    "execution_edge", EdgeEstimate, owner=f"{OWNER}:execution_edge", default=NEUTRAL_EDGE,
    doc="EdgeEstimate of a symbol: fill probability, spread, volatility penalty, regime "
        "multiplier and threshold; est.edge_bps(move_bps) / est.passes(move_bps)")

# ------------------------------------------------------------------------ multi-factor

#: the factors of the confirmation score, in weight order
FACTORS: Final = ("momentum", "volume", "ofi", "regime", "volatility", "time")
#: signal types the regime factor knows
SIGNAL_TYPES: Final = ("momentum", "mean_reversion", "breakout", "default")
_REGIME_TABLE: dict[str, dict[str, float]] = {
    "momentum": {"IMPULSE": 1.0, "NORMAL": 0.8, "RANGE": 0.4},
    "mean_reversion": {"RANGE": 1.0, "NORMAL": 0.7, "IMPULSE": 0.3},
    "breakout": {"IMPULSE": 1.0, "NORMAL": 0.6, "RANGE": 0.5},
    "default": {"NORMAL": 0.8, "IMPULSE": 0.7, "RANGE": 0.7},
}
for _t in _REGIME_TABLE.values():
    # family members score like the label their family stands for; a trend counts as the
    # better of NORMAL and IMPULSE (the old IMPULSE and NORMAL whitelists both include TREND)
    _t["ACCUMULATION"] = _t["RANGE"]
    _t["DISTRIBUTION"] = _t["IMPULSE"]
    _t["MARKUP"] = _t["MARKDOWN"] = max(_t["IMPULSE"], _t["NORMAL"])
UNKNOWN_REGIME_SCORE: Final = 0.7


def regime_score(regime: str, signal_type: str = "default") -> float:
    """The regime factor of a signal type in a regime (0.7 for an unknown or empty regime)."""
    table = _REGIME_TABLE.get(signal_type)
    if table is None:
        raise ValueError(f"unknown signal type {signal_type!r}; known: {list(SIGNAL_TYPES)}")
    return table.get(regime.upper(), UNKNOWN_REGIME_SCORE)


@dataclass(frozen=True, slots=True)
class Confirmation:
    """Factor scores (each 0..1) of one symbol; the total depends on the side and the type.

    ``score(side, signal_type)`` is the weighted mean of the six factors in :data:`FACTORS`;
    ``confirmed`` requires ``score >= threshold`` and every factor named in ``required`` at or
    above ``required_min``; ``confidence`` is the score when confirmed, else 0.  The neutral
    value (``known`` False, nobody publishes) scores 0.5, is confirmed and has confidence 0.5.
    """

    known: bool = False
    momentum_buy: float = 0.5
    momentum_sell: float = 0.5
    volume: float = 0.5
    ofi_buy: float = 0.5
    ofi_sell: float = 0.5
    regime: str = ""
    volatility: float = 0.5
    #: percentile (0..100) of the short volatility in the symbol's history; -1 while unknown
    volatility_pct: float = -1.0
    time: float = 0.5
    weights: tuple[float, float, float, float, float, float] = (1.0, 0.8, 1.2, 0.9, 0.7, 0.5)
    threshold: float = 0.5
    required: tuple[str, ...] = ()
    required_min: float = 0.5

    def factors(self, side: str, signal_type: str = "default") -> dict[str, float]:
        """``{factor: score}`` for ``side`` (``buy``/``sell``) and the signal type."""
        buy = side == "buy"
        return {
            "momentum": self.momentum_buy if buy else self.momentum_sell,
            "volume": self.volume,
            "ofi": self.ofi_buy if buy else self.ofi_sell,
            "regime": regime_score(self.regime, signal_type),
            "volatility": self.volatility,
            "time": self.time,
        }

    def score(self, side: str, signal_type: str = "default") -> float:
        """Weighted mean of the factor scores (0.5 when unknown)."""
        if not self.known:
            return 0.5
        buy = side == "buy"
        w = self.weights
        total = (w[0] * (self.momentum_buy if buy else self.momentum_sell)
                 + w[1] * self.volume
                 + w[2] * (self.ofi_buy if buy else self.ofi_sell)
                 + w[3] * regime_score(self.regime, signal_type)
                 + w[4] * self.volatility
                 + w[5] * self.time)
        wsum = sum(w)
        return total / wsum if wsum > 0.0 else 0.5

    def confirmed(self, side: str, signal_type: str = "default") -> bool:
        """Score at or above the threshold and every required factor at or above its min."""
        if not self.known:
            return True
        if self.score(side, signal_type) < self.threshold:
            return False
        if self.required:
            f = self.factors(side, signal_type)
            return all(f[name] >= self.required_min for name in self.required)
        return True

    def confidence(self, side: str, signal_type: str = "default") -> float:
        """The score when confirmed, else 0.0 (0.5 when unknown)."""
        if not self.known:
            return 0.5
        return self.score(side, signal_type) if self.confirmed(side, signal_type) else 0.0


NEUTRAL_CONFIRMATION: Final = Confirmation()

CONFIRMATION: FactKey[Confirmation] = declare(
    "multi_factor_confirmation", Confirmation, owner=f"{OWNER}:multi_factor",
    default=NEUTRAL_CONFIRMATION,
    doc="Confirmation of a symbol: momentum, volume, OFI, regime, volatility and time-of-day "
        "scores; c.score(side, signal_type), c.confirmed(...), c.confidence(...)")

# ------------------------------------------------------------------------ edge confirmation

#: ``propose`` answers: a new candidate was stored (emit nothing yet)
CANDIDATE: Final = "CANDIDATE"
#: ``propose`` answers: a candidate is waiting and not confirmed yet (emit nothing)
PENDING: Final = "PENDING"
#: ``propose`` answers: the candidate is confirmed (emit the signal now); it is consumed
CONFIRMED: Final = "CONFIRMED"
#: ``state`` answers: the last candidate of the key timed out unconfirmed
EXPIRED: Final = "EXPIRED"
#: ``state`` answers: the last candidate of the key moved too far against its side
INVALIDATED: Final = "INVALIDATED"


class EdgeConfirmationDesk:
    """Two-step entries, keyed by (strategy instance, symbol, side).

    A strategy whose signal qualifies calls ``propose(self.name, symbol, side)`` and emits
    the signal only when the answer is :data:`CONFIRMED`.  This base class is the neutral
    desk (:data:`PASS_THROUGH`, used when no edge-confirmation analyzer runs): every proposal
    is confirmed at once, i.e. one-step entries.
    """

    def propose(self, strategy_id: str, symbol: str, side: str) -> str:
        """Register a qualifying signal; :data:`CANDIDATE`, :data:`PENDING` or
        :data:`CONFIRMED` (the last consumes the candidate)."""
        return CONFIRMED

    def state(self, strategy_id: str, symbol: str, side: str) -> str:
        """The key's state without changing it: :data:`PENDING` or :data:`CONFIRMED` for a
        live candidate, :data:`EXPIRED` or :data:`INVALIDATED` for one that was dropped (until
        the next proposal), '' when there is none."""
        return ""

    def cancel(self, strategy_id: str, symbol: str, side: str) -> bool:
        """Drop a live candidate; False when there was none."""
        return False


PASS_THROUGH: Final = EdgeConfirmationDesk()

EDGE_CONFIRMATION: FactKey[EdgeConfirmationDesk] = declare(
    "edge_confirmation", EdgeConfirmationDesk, owner=f"{OWNER}:edge_confirmation",
    default=PASS_THROUGH,
    doc="the desk of two-step entries (market-wide, symbol '*'): "
        "desk.propose(strategy, symbol, side) -> CANDIDATE | PENDING | CONFIRMED")
EDGE_CANDIDATES: FactKey[int] = declare(
    "edge_candidates", int, owner=f"{OWNER}:edge_confirmation", default=0,
    doc="live edge-confirmation candidates of a symbol (all strategies and sides)")

# ------------------------------------------------------------------------ price anomalies

ANOMALY: FactKey[str] = declare(
    "price_anomaly", str, owner=f"{OWNER}:price_anomaly", default="",
    doc="anomaly of a symbol's last price update: SPIKE, FLASH_CRASH, GAP, STAT_GAP, STALE "
        "or '' (none)")
ANOMALY_SCORE: FactKey[float] = declare(
    "price_anomaly_score", float, owner=f"{OWNER}:price_anomaly", default=0.0,
    doc="|z| of the last relative price change against the symbol's recent changes "
        "(0.0 until enough history)")
ANOMALY_BLOCKED_UNTIL: FactKey[int] = declare(
    "price_anomaly_blocked_until", int, owner=f"{OWNER}:price_anomaly", default=0,
    doc="epoch ms until which a spike blocks trading the symbol (blocked while now < value)")
ANOMALY_SIZE_MULTIPLIER: FactKey[float] = declare(
    "price_anomaly_size_multiplier", float, owner=f"{OWNER}:price_anomaly", default=1.0,
    doc="size multiplier from the symbol's anomaly count: 1, 0.75 (>= 1), 0.5 (>= 3), 0.25 "
        "(>= 5); the effective multiplier is 0 while blocked: "
        "price_anomaly.size_multiplier(facts, symbol, now)")
