"""The per-symbol physics: scale-free temperature, entropy, phase and SSD, one tick at a time.

Per tick (price ``p``, volume ``v``; the first tick of a symbol only sets the last price), with
``r = ln(p / p_prev)`` and the window of the last ``N`` (``window``) ticks:

* **relative volume** ``u = v / med`` with ``med`` the median volume of the last ``H``
  (``history``) ticks; without volume (``med == 0``: quotes, zero-volume candles) ``u = 1``.
* **temperature** ``T_raw = mean((r·u)²)·1e8`` over the window -- computed as
  ``Σ(r·v)² / (n·med²)·1e8`` from a rolling sum, so the median's change costs nothing;
  ``T̂`` = mid-rank of ``T_raw`` among the symbol's last ``H`` values (ties split evenly).
* **entropy** of the window's volume distribution ``S = ln V − Σ v ln v / V`` (``V = Σv``),
  from two rolling sums; ``S / ln n`` is ``entropy_ln``.  When the window has no volume (or
  ``entropy_source: returns``) the fallback is the entropy of a 10-bin histogram of ``|r|``
  normalised by ln 10; a return's bin is fixed on arrival, in units of the mean ``|r|`` before
  it (EMA, alpha 2/(N+1)): bin ``min(9, ⌊|r| / mean|r| · 10/3⌋)``, so the bins span
  ``[0, 3·mean|r|)`` and the last is open.  The histogram's ``Σ c ln c`` is updated from a
  table of integers (exact, no drift).  ``Ŝ`` = ``entropy_ln`` ranked in the symbol's last
  ``H`` values (``entropy_norm: percentile``, default) or ``entropy_ln`` itself (``ln_n``).
* **entropy flow** ``f = Ŝ − Ŝ_prev`` per tick; ``f_s`` = EMA(f, 0.15).
* **momentum**: a Kalman-like filter of ``pm`` (mean of the last 5 returns): predict
  ``x ← tanh(0.98·x)``, ``P ← P + 0.01``; update with ``K = P/(P + 0.1)``, ``x ← x + K(pm − x)``,
  ``P ← (1 − K)P``.  The original filtered [pm, vm, f, resonance] but only used the price
  component; only it is kept.
* **phase**: :func:`~hean_physics.phase.next_phase` on (T̂, Ŝ) (a Schmitt trigger), WATER
  refined by :func:`~hean_physics.phase.water_side` with the thresholds ``±momentum_sigma·σ_r``
  (enter) and ``±momentum_exit_sigma·σ_r`` (stay), σ_r the population std of the window's
  returns.
* **SSD** (the original's SSD resonance made scale-free; computed when a state is published):
  the t-statistic ``pm·√5 / σ_r`` replaces the original's ``1000·pm``; ``vm`` = (v − v₅
  ago)/5 / std(last 20 volumes); ``u = normalise(tanh(t_pm), tanh(vm), tanh(−flow_scale·f_s))``;
  ``alignment = Π|u_k|``, ``coherence`` 1 when pm and vm have the same sign else 0.3,
  ``convergence = max(0, tanh(−5·f_s))``, ``resonance = min(1, 3·alignment + 0.4·coherence +
  0.3·convergence)``.  Mode: silent when ``f_s > silent_flow``, laplace when resonance ≥ 0.85
  and convergence > 0.3, else normal.

Nothing is classified before ``min_ticks`` returns.  Everything above is O(1) per tick except
the three sorted windows (volume median, T and S histories: O(log H) + a memmove each); the SSD,
should-trade flag, size multiplier and confidence are computed only when a state is published
(:meth:`SymbolPhysics.snapshot`).  With ``history_stride`` k > 1 the three histories keep
every k-th tick (H/k values spanning the same H ticks): the median and the ranks are those of
that sample, and the sorted-window work drops k-fold.  Rolling float sums are recomputed
exactly from the rings every :data:`RESYNC` ticks (no drift over long runs); a window whose
values are all zero has a sum of exactly 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Final

from hean_framework.rolling import SortedWindow

from .facts import ICE, VAPOR, WATER, WATER_BEAR, WATER_BULL, PhysicsState
from .phase import PhaseBounds, confidence, next_phase, water_side

__all__ = ["RESYNC", "Params", "SymbolPhysics", "should_trade", "size_multiplier"]

#: ticks between two exact recomputations of the rolling sums
RESYNC: Final = 4096
#: histogram bins of the |r| fallback and the range they cover, in mean |r|
HIST_BINS: Final = 10
HIST_RANGE: Final = 3.0
_LN10: Final = math.log(HIST_BINS)
#: the original's entropy thresholds (nats over 100 ticks) on the normalised scale: 2/ln 100,
#: 2.5/ln 100 and 3.5/ln 100
S_COMPRESSED: Final = 2.0 / math.log(100)
S_WATER_LOW: Final = 2.5 / math.log(100)
S_EQUILIBRIUM: Final = 3.5 / math.log(100)
#: Kalman process and measurement noise of the momentum (the original's price component)
_Q_PM: Final = 0.01
_R_PM: Final = 0.1


@dataclass(frozen=True, slots=True)
class Params:
    """The analyzer's settings the per-tick code needs (built from its config)."""

    window: int = 100
    history: int = 1000
    history_stride: int = 1
    min_ticks: int = 10
    entropy_source: str = "auto"  # auto | volume | returns
    entropy_norm: str = "percentile"  # percentile | ln_n
    bounds: PhaseBounds = field(default_factory=PhaseBounds)
    momentum_sigma: float = 0.5
    momentum_exit_sigma: float = 0.25
    silent_flow: float = 0.02
    flow_scale: float = 10.0
    min_edge_bps: float = 5.0


def _xlogx_table(n: int) -> list[float]:
    return [0.0] + [k * math.log(k) for k in range(1, n + 1)]


def _edge_bps(t: float, s: float, conf: float) -> float:
    """Physics edge, bps: ``100·(0.6·(1 − Ŝ) + 0.4·clamp(1 − |T̂ − 0.6|/0.6, 0, 1))·conf``."""
    fit = 1.0 - abs(t - 0.6) / 0.6
    fit = 0.0 if fit < 0.0 else fit
    return 100.0 * (0.6 * (1.0 - s) + 0.4 * fit) * conf


def should_trade(phase: str, mode: str, t: float, s: float, min_edge: float
                 ) -> tuple[bool, str]:
    """The physics trade flag and its reason (the original's rule on T̂/Ŝ, as in the README's
    "The analyzer"; every WATER phase qualifies, fixing the original's comparison with the
    exact string "water")."""
    if mode == "silent":
        return False, "ssd_silent"
    if mode == "laplace":
        return True, "ssd_laplace"
    if phase == VAPOR:
        return False, "vapor"
    water = phase in (WATER, WATER_BULL, WATER_BEAR)
    if water and s < S_WATER_LOW and _edge_bps(t, s, 0.8) >= min_edge:
        return True, "ice_to_water"
    if phase == ICE:
        return False, "ice_compressed" if s < S_COMPRESSED else "ice"
    if water and _edge_bps(t, s, 0.6) >= min_edge:
        return True, "water_edge"
    return False, "edge_too_low"


def size_multiplier(phase: str, mode: str, t: float, s: float, resonance: float) -> float:
    """The physics size multiplier, 0..2 (the original's rule on T̂/Ŝ, as in the README's
    "The analyzer"; every WATER phase sized as WATER)."""
    if mode == "silent":
        return 0.0
    if phase == VAPOR:
        m = 0.1
    elif phase == ICE:
        m = 0.5 if s < S_COMPRESSED else 0.3
    else:
        ent = 1.0 - (s - S_COMPRESSED) / (1.0 / math.log(100) * 3.0)
        tmp = 1.0 - abs(t - 0.6) / 0.6
        tmp = 0.5 if tmp < 0.5 else 1.5 if tmp > 1.5 else tmp
        m = min(2.0, max(0.5, ent) * tmp)
    if mode == "laplace":
        m = min(2.0, m * (1.0 + resonance))
    return m


class SymbolPhysics:
    """One symbol's windows, histories, filter state and phase."""

    __slots__ = (
        "B", "L", "Q", "R", "V", "base", "bins", "changes", "counts", "flow", "flow_s", "kp",
        "last", "mom", "n", "nz_q", "nz_v", "p", "phase", "pos", "prev_phase", "pub_ts",
        "s_clc", "s_hat", "s_hist", "s_l", "s_ln", "s_q", "s_q20", "s_r", "s_r2", "s_r5",
        "s_raw", "s_rr20", "s_v", "s_v20", "s_vv20", "scale", "side", "sigma", "since",
        "source", "t_ema", "t_hat", "t_hist", "t_long", "t_raw", "ticks", "v_hist", "xlx",
    )

    def __init__(self, p: Params) -> None:
        n = p.window
        self.p = p
        self.R = [0.0] * n  # returns
        self.V = [0.0] * n  # volumes
        self.Q = [0.0] * n  # (r·v)²
        self.L = [0.0] * n  # v ln v
        self.B = [0] * n  # histogram bin of |r|
        self.pos = 0
        self.n = 0  # returns pushed
        self.ticks = 0
        self.last = 0.0
        self.since = 0  # pushes since the last resync
        self.s_r = self.s_r2 = self.s_q = self.s_v = self.s_l = 0.0
        self.s_r5 = self.s_v20 = self.s_vv20 = self.s_q20 = self.s_rr20 = 0.0
        self.nz_q = self.nz_v = 0
        self.bins = [0] * HIST_BINS
        self.s_clc = 0.0
        self.xlx = _xlogx_table(n)
        self.scale = 0.0  # EMA of |r|
        kept = -(-p.history // p.history_stride)
        self.v_hist = SortedWindow(kept)
        self.t_hist = SortedWindow(kept)
        self.s_hist = SortedWindow(kept)
        # outputs of the last classified tick
        self.t_raw = self.t_hat = self.s_raw = self.s_ln = self.s_hat = 0.0
        self.source = ""
        self.t_long = self.t_ema = 0.0
        self.flow = self.flow_s = 0.0
        self.sigma = self.mom = 0.0
        self.kp = 1.0  # Kalman variance of the momentum
        self.base = ""
        self.side = 0
        self.phase = ""
        self.prev_phase = ""
        self.changes = 0
        self.pub_ts = -(1 << 62)  # when the analyzer last published this symbol
        self.counts: dict[str, int] = dict.fromkeys((ICE, WATER, WATER_BULL, WATER_BEAR,
                                                     VAPOR), 0)

    # ------------------------------------------------------------------ the tick

    def step(self, price: float, volume: float) -> bool:
        """Feed one tick; True when it was classified and its phase differs from the
        previous tick's."""
        self.ticks += 1
        prev = self.last
        self.last = price
        if prev <= 0.0:
            return False
        p = self.p
        r = math.log(price / prev)
        v = volume if volume > 0.0 else 0.0
        big = p.window
        pos = self.pos
        n = self.n
        R, V, Q, L, B = self.R, self.V, self.Q, self.L, self.B
        bins = self.bins
        xlx = self.xlx
        s_clc = self.s_clc
        q = r * v
        q *= q
        lv = v * math.log(v) if v > 0.0 else 0.0
        r2 = r * r
        # -------- rolling sums: the new value in, the value leaving each window out (it is
        # read before its slot is overwritten: k pushes ago is slot pos - k)
        s_r, s_r2, s_q, s_v, s_l = (self.s_r + r, self.s_r2 + r2, self.s_q + q, self.s_v + v,
                                    self.s_l + lv)
        nz_q = self.nz_q + (q != 0.0)
        nz_v = self.nz_v + (v != 0.0)
        if n >= big:
            ro = R[pos]
            vo = V[pos]
            qo = Q[pos]
            s_r -= ro
            s_r2 -= ro * ro
            s_q -= qo
            s_v -= vo
            s_l -= L[pos]
            nz_q -= qo != 0.0
            nz_v -= vo != 0.0
            bo = B[pos]
            c = bins[bo]
            s_clc += xlx[c - 1] - xlx[c]
            bins[bo] = c - 1
        s_r5 = self.s_r5 + r
        s_v20 = self.s_v20 + v
        s_vv20 = self.s_vv20 + v * v
        s_q20 = self.s_q20 + q
        s_rr20 = self.s_rr20 + r2
        if n >= 5:
            s_r5 -= R[pos - 5]
            if n >= 20:
                vo = V[pos - 20]
                ro = R[pos - 20]
                s_v20 -= vo
                s_vv20 -= vo * vo
                s_q20 -= Q[pos - 20]
                s_rr20 -= ro * ro
        # -------- histogram bin of |r|, in units of the mean |r| before it
        a = r if r >= 0.0 else -r
        sc = self.scale
        if sc > 0.0:
            b = int(a / sc * (HIST_BINS / HIST_RANGE))
            if b >= HIST_BINS:
                b = HIST_BINS - 1
        else:
            b = 0 if a == 0.0 else HIST_BINS - 1
        self.scale = sc + (a - sc) * (2.0 / (big + 1))
        c = bins[b]
        s_clc += xlx[c + 1] - xlx[c]
        bins[b] = c + 1
        R[pos] = r
        V[pos] = v
        Q[pos] = q
        L[pos] = lv
        B[pos] = b
        pos += 1
        self.pos = 0 if pos == big else pos
        n += 1
        self.n = n
        self.since += 1
        if self.since >= RESYNC:
            self.s_clc, self.nz_q, self.nz_v = s_clc, nz_q, nz_v
            self.resync()
            s_r, s_r2, s_q, s_v, s_l = self.s_r, self.s_r2, self.s_q, self.s_v, self.s_l
            s_r5, s_v20, s_vv20 = self.s_r5, self.s_v20, self.s_vv20
            s_q20, s_rr20 = self.s_q20, self.s_rr20
        else:
            self.s_r, self.s_r2, self.s_q, self.s_v, self.s_l = s_r, s_r2, s_q, s_v, s_l
            self.s_r5, self.s_v20, self.s_vv20 = s_r5, s_v20, s_vv20
            self.s_q20, self.s_rr20 = s_q20, s_rr20
            self.s_clc, self.nz_q, self.nz_v = s_clc, nz_q, nz_v
        vh = self.v_hist
        stride = p.history_stride
        keep = stride == 1 or n % stride == 0
        if keep:
            vh.push(v)
        if n < p.min_ticks:
            return False
        m = n if n < big else big
        # -------- temperature
        med = vh.median() if vh.sorted else v
        if med > 0.0:
            t_raw = (s_q if nz_q else 0.0) / (m * med * med) * 1e8
        else:
            t_raw = (s_r2 if s_r2 > 0.0 else 0.0) / m * 1e8
        th = self.t_hist
        if keep:
            th.push(t_raw)
        t_hat = th.midrank(t_raw)
        self.t_raw = t_raw
        self.t_hat = t_hat
        self.t_long += (t_raw - self.t_long) * (2.0 / 501.0)
        self.t_ema += (t_raw - self.t_ema) * 0.1
        # -------- entropy
        if nz_v and p.entropy_source != "returns":
            s_raw = math.log(s_v) - s_l / s_v
            s_ln = s_raw / math.log(m)
            self.source = "volume"
        else:
            s_raw = math.log(m) - s_clc / m
            s_ln = s_raw / _LN10
            self.source = "returns"
        s_ln = 0.0 if s_ln < 0.0 else 1.0 if s_ln > 1.0 else s_ln
        self.s_raw = s_raw
        self.s_ln = s_ln
        if p.entropy_norm == "percentile":
            sh = self.s_hist
            if keep:
                sh.push(s_ln)
            s_hat = sh.midrank(s_ln)
        else:
            s_hat = s_ln
        flow = s_hat - self.s_hat if self.base else 0.0
        self.s_hat = s_hat
        self.flow = flow
        self.flow_s += (flow - self.flow_s) * 0.15
        # -------- momentum: Kalman-like filter of the mean of the last 5 returns
        mean = s_r / m
        var = s_r2 / m - mean * mean
        sigma = self.sigma = math.sqrt(var) if var > 0.0 else 0.0
        pm = s_r5 / (n if n < 5 else 5)
        x = math.tanh(0.98 * self.mom)
        pp = self.kp + _Q_PM
        k = pp / (pp + _R_PM)
        mom = self.mom = x + k * (pm - x)
        self.kp = (1.0 - k) * pp
        # -------- phase
        base = self.base = next_phase(t_hat, s_hat, self.base, p.bounds)
        if base == WATER:
            side = self.side = water_side(mom, self.side, p.momentum_sigma * sigma,
                                          p.momentum_exit_sigma * sigma)
            phase = WATER_BULL if side > 0 else WATER_BEAR if side < 0 else WATER
        else:
            self.side = 0
            phase = base
        self.counts[phase] += 1
        old = self.phase
        if phase != old:
            self.phase = phase
            if old:
                self.prev_phase = old
                self.changes += 1
                return True
        return False

    # ------------------------------------------------------------------ publishing

    def ssd(self) -> tuple[str, float]:
        """SSD mode and resonance at the last tick."""
        n = self.n
        k5 = n if n < 5 else 5
        pm = self.s_r5 / k5
        sigma = self.sigma
        t_pm = pm * math.sqrt(k5) / sigma if sigma > 0.0 else 0.0
        k20 = n if n < 20 else 20
        mv = self.s_v20 / k20
        vv = self.s_vv20 / k20 - mv * mv
        vm = 0.0
        if n > 5 and vv > 0.0:
            pos = self.pos
            vm = (self.V[pos - 1] - self.V[pos - 6]) / 5.0 / math.sqrt(vv)
        fs = self.flow_s
        u1 = math.tanh(t_pm)
        u2 = math.tanh(vm)
        u3 = math.tanh(-self.p.flow_scale * fs)
        norm2 = u1 * u1 + u2 * u2 + u3 * u3
        align = abs(u1 * u2 * u3) / (norm2 * math.sqrt(norm2)) if norm2 > 0.0 else 0.0
        coherence = 1.0 if (pm > 0.0) - (pm < 0.0) == (vm > 0.0) - (vm < 0.0) else 0.3
        conv = max(0.0, math.tanh(-5.0 * fs))
        res = min(1.0, 3.0 * align + 0.4 * coherence + 0.3 * conv)
        if fs > self.p.silent_flow:
            return "silent", res
        if res >= 0.85 and conv > 0.3:
            return "laplace", res
        return "normal", res

    def snapshot(self, ts: int, regime: str, changed: bool) -> PhysicsState:
        """The published state of the last classified tick (the derived outputs are computed
        here, not per tick)."""
        p = self.p
        t, s = self.t_hat, self.s_hat
        mode, res = self.ssd()
        phase = self.phase
        conf = confidence(self.base, t, s, p.bounds)
        ok, why = should_trade(phase, mode, t, s, p.min_edge_bps)
        mult = size_multiplier(phase, mode, t, s, res)
        prob = min(0.95, 0.5 + 0.45 * res) if mode == "laplace" else 0.5
        regime_t = "HOT" if t >= 0.9 else "WARM" if t >= 0.6 else "COLD"
        ent_state = ("COMPRESSED" if s < S_COMPRESSED else "EQUILIBRIUM"
                     if s >= S_EQUILIBRIUM else "NORMAL")
        causal = 0.0 if mode == "silent" else 0.05 if mode == "laplace" else 1.0
        return PhysicsState(
            True, ts, self.ticks, phase, conf, changed, self.prev_phase, t, self.t_raw,
            self.temp_short(), self.t_long, regime_t, self.t_raw > 3.0 * self.t_ema,
            s, self.s_raw, self.s_ln, self.source, ent_state, self.flow, self.flow_s,
            self.mom, p.momentum_sigma * self.sigma, mode, res, res >= 0.75, causal,
            t * -math.log2(prob), _edge_bps(t, s, conf), ok, why, mult, regime)

    def temp_short(self) -> float:
        """``T_raw`` over the last 20 ticks (same volume median)."""
        k = self.n if self.n < 20 else 20
        if k <= 0:
            return 0.0
        med = self.v_hist.median()
        if med > 0.0:
            return max(0.0, self.s_q20) / (k * med * med) * 1e8
        return max(0.0, self.s_rr20) / k * 1e8

    # ------------------------------------------------------------------ maintenance

    def resync(self) -> None:
        """Recompute the rolling float sums exactly from the rings."""
        self.since = 0
        big = self.p.window
        m = min(self.n, big)
        pos = self.pos

        def last(ring: list[float], k: int) -> list[float]:
            k = min(k, m)
            return [ring[pos - k + i] for i in range(k)]

        rs = last(self.R, big)
        self.s_r = math.fsum(rs)
        self.s_r2 = math.fsum(x * x for x in rs)
        self.s_q = math.fsum(last(self.Q, big)) if self.nz_q else 0.0
        self.s_v = math.fsum(last(self.V, big)) if self.nz_v else 0.0
        self.s_l = math.fsum(last(self.L, big))
        self.s_r5 = math.fsum(last(self.R, 5))
        v20 = last(self.V, 20)
        self.s_v20 = math.fsum(v20)
        self.s_vv20 = math.fsum(x * x for x in v20)
        self.s_q20 = math.fsum(last(self.Q, 20))
        self.s_rr20 = math.fsum(x * x for x in last(self.R, 20))
