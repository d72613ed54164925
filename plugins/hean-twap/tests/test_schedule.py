"""The slice plan as pure functions (:mod:`hean_twap.schedule`).

Invariants:

* quantities: on the lot grid, summing exactly to the parent, the last slice holding the
  rounding remainder; none below the exchange minimum -- below it the count shrinks to
  ``floor(Q / min)`` and the merge is returned;
* times: slice 0 at once, every wait within ``duration / n x [1 - jitter, 1 + jitter]`` and at
  least ``min_interval``; the generator depends on the run seed and the parent id only (same
  pair, same offsets, in this process or another; another seed or parent, other offsets).
"""

from __future__ import annotations

import itertools
import subprocess
import sys

import pytest
from hean_twap import parent_rng, slice_offsets, slice_quantities

from hean_framework.instruments import Instruments

BTC = "BTC/USDT:USDT"


def test_equal_slices_with_the_remainder_last() -> None:
    q, merge = slice_quantities(0.5, 10, 0.001, 0.001)
    assert merge is None and q == [0.05] * 10
    q, merge = slice_quantities(0.053, 10, 0.001, 0.001)  # 0.0053 -> 0.005 on the grid
    assert merge is None
    assert q[:9] == [0.005] * 9 and q[9] == pytest.approx(0.008, abs=1e-12)
    assert sum(q) == pytest.approx(0.053, abs=1e-12)


def test_binance_btc_minimum_merges_slices() -> None:
    """A 0.005 BTC parent (~309 USDT) in 10 slices would be 0.0005 BTC each, below
    Binance's 0.001 BTC minimum: 5 slices of the minimum; 0.007 in 3: 0.002, 0.002 and the
    remainder 0.003."""
    inst = Instruments.load("binance", [BTC]).get(BTC)
    price = 61_800.3
    m = inst.min_order_qty(price)
    assert m == 0.001  # min_qty binds: 0.001 x 61,800 = 61.8 USDT > min notional 5
    q, merge = slice_quantities(0.005, 10, m, inst.lot_size, price)
    assert merge is not None and (merge.planned, merge.slices) == (10, 5)
    assert merge.as_dict()["reason"] == "slice_below_exchange_minimum"
    assert q == [0.001] * 5
    q, merge = slice_quantities(0.007, 3, m, inst.lot_size, price)
    assert merge is None and q[:2] == [0.002, 0.002] and q[2] == pytest.approx(0.003)
    for x in (*q, *slice_quantities(0.009, 10, m, inst.lot_size, price)[0]):
        assert inst.check_minimum(x, price) and inst.is_qty_on_grid(x)
    # below two minimums: a single slice of the whole parent
    q, merge = slice_quantities(0.001, 10, m, inst.lot_size, price)
    assert q == [0.001] and merge is not None and merge.slices == 1


@pytest.mark.parametrize("n,duration,jitter", [(10, 300_000, 0.2), (7, 60_000, 0.5),
                                                (3, 10_000, 0.0)])
def test_offsets_stay_inside_the_jitter_band(n: int, duration: int, jitter: float) -> None:
    for parent in range(1, 40):
        off = slice_offsets(n, duration, jitter, 1_000, parent_rng(7, parent))
        assert off[0] == 0 and len(off) == n
        base = duration / n
        for a, b in itertools.pairwise(off):
            assert max(1_000, base * (1 - jitter)) - 1 <= b - a <= base * (1 + jitter) + 1
        if jitter == 0.0:
            assert off == [round(i * base) for i in range(n)]


def test_min_interval_wins_over_a_short_base() -> None:
    off = slice_offsets(5, 2_000, 0.2, 1_000, parent_rng(1, 1))  # base 400 ms
    assert off == [0, 1_000, 2_000, 3_000, 4_000]


def test_same_seed_and_parent_same_offsets_other_seed_other_offsets() -> None:
    a = slice_offsets(10, 300_000, 0.2, 1_000, parent_rng(7, 42))
    assert a == slice_offsets(10, 300_000, 0.2, 1_000, parent_rng(7, 42))
    assert a != slice_offsets(10, 300_000, 0.2, 1_000, parent_rng(8, 42))
    assert a != slice_offsets(10, 300_000, 0.2, 1_000, parent_rng(7, 43))
    # another interpreter with another hash seed gives the same schedule
    code = ("from hean_twap import parent_rng, slice_offsets; "
            "print(slice_offsets(10, 300000, 0.2, 1000, parent_rng(7, 42)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={"PYTHONHASHSEED": "123"})
    assert out.stdout.strip() == str(a)
