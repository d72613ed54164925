"""Instrument metadata: shipped files equal ccxt's own parse; rounding; minimums; fees."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest

from hean_framework.errors import HeanError
from hean_framework.instruments import (
    FORMAT,
    IDEAL,
    Instrument,
    Instruments,
    UnknownSymbolError,
    build_markets,
    main,
)

ccxt = pytest.importorskip("ccxt")

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "ccxt" / "markets"
SHIPPED = Path(__file__).resolve().parents[1] / "hean_framework" / "data" / "markets"
LINEAR = ["BTC/USDT:USDT", "ETH/USDT:USDT", "XRP/USDT:USDT", "DOGE/USDT:USDT"]
SPOT = ["BTC/USDT", "ETH/USDT", "XRP/USDT", "DOGE/USDT"]


def _ccxt_exchange(exid: str) -> object:
    """ccxt exchange loaded from the raw fixture, honouring the Binance precision caveat."""
    if not (FIXTURES / f"{exid}.json").is_file():
        pytest.skip(f"ccxt fixtures not found at {FIXTURES}")
    ex = getattr(ccxt, exid)()
    if exid == "binance":
        ex.precisionMode = ccxt.DECIMAL_PLACES
    ex.set_markets(json.loads((FIXTURES / f"{exid}.json").read_text()))
    return ex


# ------------------------------------------------------------------ shipped data == ccxt parse


@pytest.mark.parametrize("exid", ["bybit", "binance"])
@pytest.mark.parametrize("symbol", LINEAR + SPOT)
def test_shipped_metadata_matches_ccxt(exid: str, symbol: str) -> None:
    ex = _ccxt_exchange(exid)
    m = ex.market(symbol)  # type: ignore[attr-defined]
    inst = Instruments.load(exid).get(symbol)
    assert inst.min_qty == m["limits"]["amount"]["min"]
    assert inst.maker_fee == m["maker"] and inst.taker_fee == m["taker"]
    assert inst.contract_size == (m["contractSize"] or 1.0)
    assert inst.linear == bool(m["linear"]) and not inst.inverse
    assert inst.type == m["type"]
    if exid == "bybit" and m["linear"]:  # caveat 1: cost.min null, raw filter says 5
        assert m["limits"]["cost"]["min"] is None
        assert inst.min_notional == float(m["info"]["lotSizeFilter"]["minNotionalValue"]) == 5
    else:
        assert inst.min_notional == m["limits"]["cost"]["min"]
    # the lot/tick grids agree with ccxt's own precision functions
    for raw in (0.0123456789, 1.23456789, 37.77777, 1234.5678):
        try:
            expected = float(ex.amount_to_precision(symbol, raw))  # type: ignore[attr-defined]
        except ccxt.InvalidOrder:  # ccxt refuses amounts that round to zero
            expected = 0.0
        assert inst.round_qty(raw) == expected
    for raw in (0.123456789, 2345.6789123, 43210.123456):
        px = float(ex.price_to_precision(symbol, raw))  # type: ignore[attr-defined]
        assert inst.round_price(raw) == pytest.approx(px, rel=1e-12)


def test_known_values_bybit_and_binance() -> None:
    bybit = Instruments.load("bybit")
    b = bybit.get("BTC/USDT:USDT")
    assert (b.min_qty, b.lot_size, b.tick_size, b.min_notional) == (0.001, 0.001, 0.1, 5.0)
    assert b.fee(0.01, 43210, maker=False) == pytest.approx(0.25926, rel=1e-12)
    assert b.fee(0.01, 43210, maker=True) == pytest.approx(0.04321, rel=1e-12)
    e = bybit.get("ETH/USDT:USDT")
    assert (e.min_qty, e.lot_size, e.tick_size) == (0.01, 0.01, 0.01)
    s = bybit.get("BTC/USDT")
    assert (s.min_qty, s.lot_size, s.tick_size, s.min_notional) == (1.1e-05, 1e-06, 0.1, 5.0)
    assert s.type == "spot" and s.contract_size == 1.0 and not s.linear

    binance = Instruments.load("binance")
    p = binance.get("BTC/USDT:USDT")
    assert (p.min_qty, p.lot_size, p.tick_size, p.min_notional) == (0.001, 0.001, 0.1, 5.0)
    assert (p.maker_fee, p.taker_fee) == (0.0002, 0.0004)
    assert p.id == "BTCUSDT" and p.settle == "USDT"
    sp = binance.get("BTC/USDT")
    assert (sp.lot_size, sp.tick_size, sp.min_qty, sp.min_notional) == (1e-05, 0.01, 1e-05, 5.0)
    inv = binance.get("BTC/USD:BTC")
    assert inv.inverse and inv.contract_size == 100.0
    assert inv.notional(3, 60000) == 300.0  # 3 contracts of 100 USD


def test_fee_is_not_ccxt_calculate_fee_for_bybit_linear_buys() -> None:
    ex = _ccxt_exchange("bybit")
    ccxt_buy = ex.calculate_fee("BTC/USDT:USDT", "limit", "buy", 0.01, 43210, "taker")  # type: ignore[attr-defined]
    assert ccxt_buy["cost"] == pytest.approx(6e-06)  # the documented ccxt bug (caveat 2)
    inst = Instruments.load("bybit").get("BTC/USDT:USDT")
    assert inst.fee(0.01, 43210, False) == pytest.approx(0.25926)  # same for buys and sells


def test_builder_reproduces_shipped_files(tmp_path: Path) -> None:
    for exid in ("bybit", "binance"):
        if not (FIXTURES / f"{exid}.json").is_file():
            pytest.skip("ccxt fixtures absent")
        out = tmp_path / f"{exid}.json"
        assert main(["build", "--exchange", exid, "--source", str(FIXTURES / f"{exid}.json"),
                     "--out", str(out)]) == 0
        built = json.loads(out.read_text())
        shipped = json.loads((SHIPPED / f"{exid}.json").read_text())
        assert built == shipped
        assert built["format"] == FORMAT and built["ccxt_version"] == ccxt.__version__
        assert "MIT" in built["license"]
        # only spot and perpetual swaps: no options, no dated/skeleton futures
        assert {m["type"] for m in built["markets"].values()} == {"spot", "swap"}
        assert not any("-" in s for s in built["markets"])
        assert build_markets(exid, FIXTURES / f"{exid}.json")["markets"] == shipped["markets"]
    assert (SHIPPED / "LICENSE-ccxt.txt").read_text().startswith("MIT") or \
        "Permission is hereby granted" in (SHIPPED / "LICENSE-ccxt.txt").read_text()


def test_load_raw_ccxt_file_equals_shipped() -> None:
    if not (FIXTURES / "binance.json").is_file():
        pytest.skip("ccxt fixtures absent")
    raw = Instruments.load("binance", markets_file=str(FIXTURES / "binance.json"))
    shipped = Instruments.load("binance")
    assert sorted(raw) == sorted(shipped)
    for s in shipped:
        assert raw.get(s) == shipped.get(s)


# ------------------------------------------------------------------ rounding


@pytest.fixture
def btc() -> Instrument:
    return Instruments.load("binance").get("BTC/USDT:USDT")


def test_round_qty_down_and_float_noise(btc: Instrument) -> None:
    assert btc.round_qty(0.0129) == 0.012
    assert btc.round_qty(0.0120000001) == 0.012
    assert btc.round_qty(0.30000000004) == 0.3
    assert btc.round_qty(0.2999999999) == 0.3  # within 1e-9 relative of a step: snapped
    assert btc.round_qty(0.2999) == 0.299  # genuinely below: down
    assert btc.round_qty(0.1 + 0.2) == 0.3
    assert btc.round_qty(0.0009) == 0.0
    assert btc.round_qty(-0.0129) == -0.012
    assert btc.round_qty(3 * 0.1) == 0.3 and repr(btc.round_qty(3 * 0.1)) == "0.3"
    xrp = Instruments.load("binance").get("XRP/USDT:USDT")  # lot 0.1
    assert xrp.round_qty(12.35) == 12.3 and xrp.round_qty(0.7 + 0.1) == 0.8


def test_round_price_by_side(btc: Instrument) -> None:
    assert btc.round_price(61800.26, "buy") == 61800.2
    assert btc.round_price(61800.21, "sell") == 61800.3
    assert btc.round_price(61800.26) == 61800.3
    assert btc.round_price(61800.2, "sell") == 61800.2  # already on the grid: unchanged
    assert btc.round_price(61800.2, "buy") == 61800.2
    assert btc.round_price(618002 * 0.1, "sell") == 61800.2  # 61800.200000000004
    assert btc.is_price_on_grid(61800.2) and not btc.is_price_on_grid(61800.25)
    assert btc.is_qty_on_grid(0.3) and not btc.is_qty_on_grid(0.0015)


def test_minimums_and_description(btc: Instrument) -> None:
    assert btc.notional(0.002, 61700) == pytest.approx(123.4)
    assert btc.min_order_notional(61700) == pytest.approx(61.7)
    assert btc.min_order_notional(1000) == 5.0
    assert btc.min_order_qty(61700) == 0.001
    assert btc.min_order_qty(1000) == 0.005
    assert btc.min_order_qty(1100) == 0.005  # 5/1100 = 0.004545 -> up to the lot grid
    text = btc.describe_minimum(61700)
    assert text == ("Binance BTC/USDT:USDT minimum: 0.001 BTC (~61.7 USDT at 61700) and "
                    "5 USDT notional")
    spot = Instruments.load("binance").get("BTC/USDT")
    assert spot.min_order_qty(61700) == 9e-05  # 5 / 61700 = 8.1e-05 -> 9e-05
    assert spot.check_minimum(9e-05, 61700) and not spot.check_minimum(8e-05, 61700)
    assert "smallest order at this price: 9e-05 BTC" in spot.describe_minimum(61700)


# ------------------------------------------------------------------ Instruments mapping


def test_unknown_symbol_message() -> None:
    inst = Instruments.load("binance")
    with pytest.raises(KeyError) as err:
        inst.get("SOL/USDT:USDT")
    msg = str(err.value)
    assert "binance" in msg and "SOL/USDT:USDT" in msg and "BTC/USDT:USDT" in msg
    # how to add one
    assert "venue.instruments" in msg and "markets_file" in msg and "instruments build" in msg
    assert isinstance(err.value, UnknownSymbolError) and isinstance(err.value, HeanError)
    assert "SOL/USDT:USDT" not in inst and "BTC/USDT:USDT" in inst
    with pytest.raises(KeyError, match="SOL/USDT:USDT"):
        Instruments.load("binance", symbols=["BTC/USDT:USDT", "SOL/USDT:USDT"])


def test_symbols_filter_fee_overrides_and_iteration() -> None:
    inst = Instruments.load("bybit", symbols=["BTC/USDT:USDT", "ETH/USDT:USDT"],
                            fee_overrides={"maker": -0.0001,
                                           "ETH/USDT:USDT": {"taker": 0.00055}})
    assert list(inst) == ["BTC/USDT:USDT", "ETH/USDT:USDT"] and len(inst) == 2
    assert inst.get("BTC/USDT:USDT").maker_fee == -0.0001
    assert inst.get("BTC/USDT:USDT").taker_fee == 0.0006
    assert inst.get("ETH/USDT:USDT").taker_fee == 0.00055
    assert inst.get("ETH/USDT:USDT").fee(1, 2000, maker=True) == pytest.approx(-0.2)  # rebate
    with pytest.raises(KeyError, match="NOPE/USDT"):
        Instruments.load("bybit", fee_overrides={"NOPE/USDT": {"maker": 0.0}})
    assert Instruments.load("binanceusdm").exchange == "binance"
    with pytest.raises(HeanError, match="no shipped market metadata"):
        Instruments.load("kraken")


def test_ideal_venue_takes_any_symbol_without_rules() -> None:
    inst = Instruments.load(IDEAL, ["XRP/USDT:USDT", "BTC/USD:BTC", "SOL/USDT"],
                            fee_overrides={"taker": 0.00055})
    assert inst.symbols() == ["BTC/USD:BTC", "SOL/USDT", "XRP/USDT:USDT"]
    xrp = inst.get("XRP/USDT:USDT")
    assert (xrp.type, xrp.base, xrp.quote, xrp.settle) == ("swap", "XRP", "USDT", "USDT")
    assert xrp.linear and not xrp.inverse and xrp.contract_size == 1.0
    assert xrp.taker_fee == 0.00055 and xrp.maker_fee == 0.0
    # one unit at 2.2 USDT is a valid order: no minimum quantity or order value
    assert xrp.check_minimum(1.0, 2.2) and xrp.round_qty(1.0) == 1.0
    assert xrp.min_order_qty(2.2) == 1e-08 and xrp.round_price(2.23456789123) == 2.23456789
    coin_m = inst.get("BTC/USD:BTC")  # linear too: the ideal venue has no inverse contracts
    assert coin_m.linear and coin_m.notional(2.0, 60000.0) == 120000.0
    assert inst.get("SOL/USDT").type == "spot"
    # a symbol first asked for later gets the same rules and fees
    late = inst.get("DOGE/USDT:USDT")
    assert late.taker_fee == 0.00055 and late.min_notional == 0.0 and "DOGE/USDT:USDT" in inst
    with pytest.raises(HeanError, match="no market metadata"):
        Instruments.load(IDEAL, markets_file="markets.json")


def test_venue_instruments_change_and_define_symbols() -> None:
    specs = {"BTC/USDT:USDT": {"min_notional": 100.0, "taker_fee": 0.0003},
             "SOL/USDT": {"tick_size": 0.01, "lot_size": 0.001, "min_qty": 0.001,
                          "min_notional": 5.0, "maker_fee": 0.001}}
    inst = Instruments.load("binance", ["BTC/USDT:USDT", "SOL/USDT"],
                            fee_overrides={"taker": 0.001}, specs=specs)
    shipped = Instruments.load("binance").get("BTC/USDT:USDT")
    btc = inst.get("BTC/USDT:USDT")
    assert btc.min_notional == 100.0 and btc.taker_fee == 0.0003  # the symbol's entry wins
    assert (btc.lot_size, btc.tick_size, btc.min_qty) == (shipped.lot_size, shipped.tick_size,
                                                          shipped.min_qty)
    assert (shipped.min_notional, shipped.taker_fee) == (5.0, 0.0004)
    sol = inst.get("SOL/USDT")
    assert (sol.type, sol.base, sol.quote, sol.exchange) == ("spot", "SOL", "USDT", "binance")
    assert sol.taker_fee == 0.001 and sol.maker_fee == 0.001  # taker from venue.taker_fee
    assert sol.round_qty(0.12345) == 0.123 and sol.min_order_qty(150.0) == 0.034
    inverse = Instruments.load("binance", specs={"BTC/USD:BTC": {"inverse": False}})
    assert inverse.get("BTC/USD:BTC").linear
    # a new symbol needs every rule, and the message says which ones and where
    with pytest.raises(HeanError) as err:
        Instruments.load("binance", specs={"SOL/USDT": {"tick_size": 0.01}})
    msg = str(err.value)
    assert msg.startswith("venue.instruments.SOL/USDT: ")
    assert "lot_size, min_qty, min_notional, maker_fee, taker_fee" in msg
    with pytest.raises(HeanError, match=r"unknown field\(s\) lot"):
        Instruments.load("binance", specs={"BTC/USDT:USDT": {"lot": 1.0}})


# ------------------------------------------------------------------ real data on the grid


def test_real_binance_prices_and_sizes_are_on_the_grid(shared_data: Path) -> None:
    inst = Instruments.load("binance")
    files = {"BTC/USDT:USDT": "trades/binance_usdm_perp_BTCUSDT_trades_20240808.csv.gz",
             "ETH/USDT:USDT": "trades/binance_usdm_perp_ETHUSDT_trades_20240808.csv.gz",
             "BTC/USDT": "trades/binance_spot_BTCUSDT_trades_20240808.csv.gz"}
    for symbol, name in files.items():
        i = inst.get(symbol)
        with gzip.open(shared_data / name, "rt") as fh:
            for n, row in enumerate(csv.DictReader(fh)):
                if n >= 500:
                    break
                price, size = float(row["price"]), float(row["size"])
                assert i.is_price_on_grid(price), (symbol, price)
                assert i.round_price(price) == price
                assert i.is_qty_on_grid(size), (symbol, size)
                assert i.round_qty(size) == size
