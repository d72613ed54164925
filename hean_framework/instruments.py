"""Exchange metadata: tick size, lot size, minimums and fees of every tradable instrument.

The shipped files ``hean_framework/data/markets/<exchange>.json`` are *produced by ccxt's own
market parser* from ccxt's static test fixtures (MIT, see ``LICENSE-ccxt.txt`` beside them),
never typed by hand.  Rebuild one with::

    python -m hean_framework.instruments build --exchange bybit \\
        --source /path/to/ccxt/markets/bybit.json --out hean_framework/data/markets/bybit.json

Two caveats of those fixtures are handled by the builder (and by :meth:`Instruments.load` when
it is given a raw ccxt markets file):

* Binance stores precision as *decimal places* while the installed ccxt Binance class works in
  tick-size mode: the exchange is switched to ``DECIMAL_PLACES`` before ``set_markets`` and the
  places are converted to tick sizes with ccxt's ``parse_precision``.
* Bybit linear perpetuals have ``limits.cost.min = null``; the minimum notional is taken from the
  raw ``info.lotSizeFilter.minNotionalValue`` (what ccxt itself reports when it re-parses).

Fees are computed here as ``qty × contract_size × price × rate`` in the quote currency; ccxt's
``calculate_fee`` is *not* used (it is wrong for Bybit linear buys).

Quantities are in the instrument's order unit: base asset for spot and linear contracts with
``contract_size`` 1, contracts otherwise.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import HeanError

__all__ = ["FORMAT", "IDEAL", "Instrument", "Instruments", "UnknownSymbolError",
           "build_markets", "ideal_instrument", "main", "parse_ccxt_markets"]

#: Format tag of the shipped market files.
FORMAT = "hean-markets/1"
#: Relative tolerance used to snap a value that is within float error of a grid step.
_SNAP = 1e-9
#: Exchange ids that share another id's market file.
_ALIASES = {"binanceusdm": "binance", "binancecoinm": "binance"}
_DISPLAY = {"binance": "Binance", "bybit": "Bybit", "okx": "OKX", "ideal": "Ideal venue"}
#: Pseudo exchange without exchange rules (benchmarks, synthetic data, "what if" runs): every
#: symbol is a linear instrument of contract size 1 with price and quantity steps of 1e-8, no
#: minimums and no fees unless the venue sets them.  Not reachable on a real exchange.
IDEAL = "ideal"
_IDEAL_STEP = 1e-8
#: Fields a ``venue.instruments`` entry must give for a symbol the markets file lacks.
_NEW_SYMBOL_NEEDS = ("tick_size", "lot_size", "min_qty", "min_notional", "maker_fee",
                     "taker_fee")


# ------------------------------------------------------------------------------ grid helpers


@lru_cache(maxsize=256)
def _decimals(step: float) -> int:
    """Number of decimals needed to write ``step`` exactly (0.001 -> 3, 5 -> 0, 2.5e-05 -> 6)."""
    exp = Decimal(repr(step)).normalize().as_tuple().exponent
    return max(0, -int(exp))


def _steps(value: float, step: float, mode: str) -> float:
    """``value / step`` as a whole number of steps: ``floor``, ``ceil`` or ``nearest``.

    A quotient within ``_SNAP`` (relative) of an integer snaps to it first, so float noise such
    as 0.30000000004 or 0.2999999999 never costs (or adds) a whole step.
    """
    n = value / step
    r = round(n)
    if abs(n - r) <= _SNAP * max(1.0, abs(n)):
        return float(r)
    if mode == "floor":
        return float(math.floor(n))
    if mode == "ceil":
        return float(math.ceil(n))
    return float(r)


def _on_grid(n: float, step: float) -> float:
    """``n`` steps of ``step``, written with the step's decimals (no 0.30000000000000004)."""
    return round(n * step, _decimals(step))


def _fmt(x: float) -> str:
    """Compact human number: 0.001, 61.7, 5, 1e-05."""
    return f"{x:.8g}"


# ------------------------------------------------------------------------------ Instrument


@dataclass(frozen=True, slots=True)
class Instrument:
    """One tradable instrument of one exchange, as ccxt parses it.

    Fees are fractions (0.0002 = 2 bp); a negative ``maker_fee`` is a rebate.  ``lot_size`` is
    the quantity step, ``tick_size`` the price step, ``min_notional`` 0 when the exchange has
    no minimum order value.  ``contract_size`` is 1.0 for spot.  ``id`` is the exchange's own
    symbol (``BTCUSDT``), ``max_qty`` 0 when unknown.
    """

    symbol: str
    exchange: str
    type: str
    base: str
    quote: str
    settle: str
    linear: bool
    inverse: bool
    contract_size: float
    tick_size: float
    lot_size: float
    min_qty: float
    min_notional: float
    maker_fee: float
    taker_fee: float
    id: str = ""
    max_qty: float = 0.0

    # ------------------------------------------------------------------ rounding

    def round_qty(self, qty: float) -> float:
        """Round ``qty`` toward zero to the lot grid (float noise within 1e-9 snaps to a step).

        >>> inst.round_qty(0.0123456)   # lot 0.001
        0.012
        """
        if qty == 0.0:
            return 0.0
        sign = 1.0 if qty > 0 else -1.0
        return sign * _on_grid(_steps(abs(qty), self.lot_size, "floor"), self.lot_size)

    def round_price(self, price: float, side: str | None = None) -> float:
        """Round ``price`` to the tick grid.

        :param side: ``"buy"`` rounds down (never pay more than asked), ``"sell"`` rounds up,
            ``None`` rounds to the nearest tick.
        """
        mode = "floor" if side == "buy" else "ceil" if side == "sell" else "nearest"
        return _on_grid(_steps(price, self.tick_size, mode), self.tick_size)

    def is_qty_on_grid(self, qty: float) -> bool:
        """True when ``qty`` is a whole number of lots (within float noise)."""
        n = qty / self.lot_size
        return abs(n - round(n)) <= _SNAP * max(1.0, abs(n))

    def is_price_on_grid(self, price: float) -> bool:
        """True when ``price`` is a whole number of ticks (within float noise)."""
        n = price / self.tick_size
        return abs(n - round(n)) <= _SNAP * max(1.0, abs(n))

    # ------------------------------------------------------------------ money

    def notional(self, qty: float, price: float) -> float:
        """Order value in the quote currency.

        Spot and linear: ``qty × contract_size × price``.  Inverse contracts are denominated
        in the quote currency, so their value is ``qty × contract_size`` (price-independent).
        """
        if self.inverse:
            return qty * self.contract_size
        return qty * self.contract_size * price

    def fee(self, qty: float, price: float, maker: bool) -> float:
        """Fee in the quote currency: notional × rate (negative = rebate received).

        Deliberately not ccxt's ``calculate_fee`` (wrong for Bybit linear buys).  For inverse
        contracts this is the quote value of the fee the exchange charges in the coin.
        """
        return self.notional(qty, price) * (self.maker_fee if maker else self.taker_fee)

    # ------------------------------------------------------------------ minimums

    def min_order_notional(self, price: float) -> float:
        """The smallest order value the exchange accepts at ``price`` (quote currency)."""
        return max(self.min_notional, self.notional(self.min_qty, price))

    def min_order_qty(self, price: float) -> float:
        """The smallest quantity on the lot grid that meets both the minimum quantity and the
        minimum notional at ``price``."""
        q = max(self.min_qty, self.lot_size)
        if self.min_notional > 0.0:
            unit = self.notional(1.0, price)
            if unit > 0.0:
                q = max(q, self.min_notional / unit)
        return _on_grid(_steps(q, self.lot_size, "ceil"), self.lot_size)

    def check_minimum(self, qty: float, price: float) -> bool:
        """True when an order of ``qty`` at ``price`` meets the exchange minimums."""
        if qty < self.min_qty * (1.0 - _SNAP):
            return False
        return self.notional(qty, price) >= self.min_notional * (1.0 - _SNAP)

    @property
    def qty_unit(self) -> str:
        """What one unit of quantity is: the base asset, or contracts."""
        if self.type == "spot" or (self.linear and self.contract_size == 1.0):
            return self.base
        if self.inverse:
            return f"contracts ({_fmt(self.contract_size)} {self.quote} each)"
        return f"contracts ({_fmt(self.contract_size)} {self.base} each)"

    def describe_minimum(self, price: float) -> str:
        """Human description of the exchange minimum at ``price``, e.g.
        ``Binance BTC/USDT:USDT minimum: 0.001 BTC (~61.7 USDT at 61700) and 5 USDT notional``.
        """
        name = _DISPLAY.get(self.exchange, self.exchange.capitalize())
        text = (f"{name} {self.symbol} minimum: {_fmt(self.min_qty)} {self.qty_unit} "
                f"(~{_fmt(round(self.notional(self.min_qty, price), 8))} {self.quote} "
                f"at {_fmt(price)})")
        if self.min_notional > 0.0:
            text += f" and {_fmt(self.min_notional)} {self.quote} notional"
            q = self.min_order_qty(price)
            if q > self.min_qty:
                text += (f"; smallest order at this price: {_fmt(q)} {self.qty_unit} "
                         f"(~{_fmt(round(self.notional(q, price), 8))} {self.quote})")
        return text

    # ------------------------------------------------------------------ serialization

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (shipped-file format, without ``symbol``/``exchange``)."""
        return {f: getattr(self, f) for f in _FIELDS if f not in ("symbol", "exchange")}


_FIELDS = tuple(Instrument.__dataclass_fields__)
#: Fields a ``venue.instruments`` entry may set.
_SPEC_FIELDS = ("type", "inverse", "contract_size", "tick_size", "lot_size", "min_qty",
                "min_notional", "maker_fee", "taker_fee", "max_qty")


# ------------------------------------------------------------------------------ errors


class UnknownSymbolError(HeanError, KeyError):
    """A symbol the exchange metadata does not know (a ``KeyError`` with a readable message)."""

    def __str__(self) -> str:
        return HeanError.__str__(self)


def _split_symbol(symbol: str) -> tuple[str, str, str]:
    """``(base, quote, settle)`` of a ccxt symbol: ``BTC/USDT:USDT`` -> BTC, USDT, USDT;
    ``BTC/USDT`` -> BTC, USDT, ""; anything without a slash -> symbol, "", ""."""
    pair, _, settle = symbol.partition(":")
    base, _, quote = pair.partition("/")
    return base, quote, settle


def _new_instrument(symbol: str, exchange: str, inverse: bool = False,
                    **fields: Any) -> Instrument:
    """An instrument that no markets file describes, from ``fields`` (see ``ideal_instrument``
    for the defaults)."""
    base, quote, settle = _split_symbol(symbol)
    values: dict[str, Any] = {
        "type": "swap" if settle else "spot", "contract_size": 1.0,
        "tick_size": _IDEAL_STEP, "lot_size": _IDEAL_STEP, "min_qty": 0.0,
        "min_notional": 0.0, "maker_fee": 0.0, "taker_fee": 0.0}
    values.update(fields)
    return Instrument(symbol=symbol, exchange=exchange, base=base, quote=quote, settle=settle,
                      linear=not inverse, inverse=inverse, id=symbol, **values)


def ideal_instrument(symbol: str, maker_fee: float = 0.0,
                     taker_fee: float = 0.0) -> Instrument:
    """The :data:`IDEAL` venue's instrument for ``symbol``: linear, contract size 1, price and
    quantity steps 1e-8, no minimum quantity or notional.

    >>> ideal_instrument("XRP/USDT:USDT", taker_fee=0.00055).min_order_qty(2.2)
    1e-08
    """
    return _new_instrument(symbol, IDEAL, maker_fee=maker_fee, taker_fee=taker_fee)


# ------------------------------------------------------------------------------ ccxt parsing


def _num(value: Any, default: float = 0.0) -> float:
    """``float(value)``, or ``default`` for None / empty strings."""
    if value is None or value == "":
        return default
    return float(value)


def parse_ccxt_markets(exchange: str, raw: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Load a raw ccxt markets map with ccxt itself and extract what :class:`Instrument` needs.

    Keeps spot markets and linear/inverse perpetual swaps; options, dated futures and
    skeleton entries without precision are skipped.

    :param exchange: ccxt exchange id (``binance``, ``bybit``, ...).
    :param raw: ``symbol -> ccxt market structure`` as in ccxt's static fixtures.
    :returns: ``symbol -> instrument fields`` (shipped-file format).
    """
    import ccxt  # heavy import: only when parsing

    exid = _ALIASES.get(exchange, exchange)
    try:
        ex = getattr(ccxt, exid)()
    except AttributeError as exc:
        raise HeanError(f"ccxt has no exchange {exid!r}",
                        "use a ccxt exchange id such as 'binance' or 'bybit'") from exc
    if exid == "binance":
        # Caveat 3: the fixture stores decimal places; ccxt's Binance class expects tick sizes.
        ex.precisionMode = ccxt.DECIMAL_PLACES
    ex.set_markets(raw)
    decimal_places = ex.precisionMode == ccxt.DECIMAL_PLACES

    def step(value: Any) -> float:
        if value is None:
            return 0.0
        if decimal_places:
            return float(ex.parse_precision(str(int(value))))
        return float(value)

    out: dict[str, dict[str, Any]] = {}
    for symbol in sorted(ex.markets):
        m = ex.markets[symbol]
        kind = m.get("type")
        if kind == "spot":
            linear = inverse = False
        elif kind == "swap" and (m.get("linear") or m.get("inverse")):
            linear, inverse = bool(m.get("linear")), bool(m.get("inverse"))
        else:
            continue  # options, dated futures, skeleton entries
        precision = m.get("precision") or {}
        if precision.get("amount") is None or precision.get("price") is None:
            continue
        limits = m.get("limits") or {}
        lot = step(precision["amount"])
        tick = step(precision["price"])
        amount = limits.get("amount") or {}
        cost = limits.get("cost") or {}
        min_notional = _num(cost.get("min"))
        info = m.get("info") or {}
        lot_filter = info.get("lotSizeFilter") if isinstance(info, dict) else None
        if exid == "bybit" and linear and isinstance(lot_filter, dict):
            # Caveat 1: ccxt's stored cost.min is null for Bybit linear; the raw filter has it.
            min_notional = _num(lot_filter.get("minNotionalValue"), min_notional)
        out[symbol] = {
            "id": str(m.get("id") or ""),
            "type": kind,
            "base": m.get("base") or "",
            "quote": m.get("quote") or "",
            "settle": m.get("settle") or (m.get("quote") or ""),
            "linear": linear,
            "inverse": inverse,
            "contract_size": 1.0 if kind == "spot" else _num(m.get("contractSize"), 1.0),
            "tick_size": tick,
            "lot_size": lot,
            "min_qty": _num(amount.get("min"), lot),
            "max_qty": _num(amount.get("max")),
            "min_notional": min_notional,
            "maker_fee": _num(m.get("maker")),
            "taker_fee": _num(m.get("taker")),
        }
    return out


def build_markets(exchange: str, source: str | Path) -> dict[str, Any]:
    """Build the shipped-file document for ``exchange`` from a raw ccxt markets file."""
    import ccxt

    source = Path(source)
    raw = json.loads(source.read_text(encoding="utf-8"))
    markets = parse_ccxt_markets(exchange, raw)
    return {
        "format": FORMAT,
        "exchange": _ALIASES.get(exchange, exchange),
        "source": (f"ccxt static test fixture markets/{source.name} (ccxt/ccxt "
                   "ts/src/test/static/markets), parsed with ccxt's own set_markets"),
        "ccxt_version": ccxt.__version__,
        "license": ("MIT - market data derived from ccxt test fixtures, Copyright (c) 2017 "
                    "Igor Kroitor; full text in LICENSE-ccxt.txt beside this file"),
        "notes": ("snapshot values from when the fixture was recorded: fine for backtests and "
                  "tests, not live trading parameters; fees are the fixture's ccxt defaults"),
        "markets": markets,
    }


# ------------------------------------------------------------------------------ Instruments


class Instruments:
    """``symbol -> Instrument`` for one exchange.

    >>> inst = Instruments.load("binance", ["BTC/USDT:USDT"])
    >>> inst.get("BTC/USDT:USDT").min_qty
    0.001
    """

    __slots__ = ("_ideal_fees", "_items", "exchange", "find", "source")

    def __init__(self, exchange: str, items: dict[str, Instrument], source: str = "",
                 ideal_fees: dict[str, float] | None = None) -> None:
        self.exchange = exchange
        self._items = items
        self.source = source
        #: ``{"maker": x, "taker": y}`` of the ideal venue's instruments made on demand
        self._ideal_fees = ideal_fees or {}
        #: ``find(symbol)``: the instrument, or None when unknown (no error, no frame: the hot
        #: path's lookup)
        self.find: Callable[[str], Instrument | None] = items.get

    @classmethod
    def load(cls, exchange: str, symbols: list[str] | None = None,
             markets_file: str | None = None,
             fee_overrides: dict[str, Any] | None = None,
             specs: dict[str, dict[str, Any]] | None = None) -> Instruments:
        """Load the metadata of ``exchange``.

        :param exchange: ``binance`` or ``bybit`` for the shipped files (``binanceusdm`` /
            ``binancecoinm`` are aliases of ``binance``); anything ccxt knows with
            ``markets_file``; :data:`IDEAL` for no exchange rules at all (any symbol, see
            :func:`ideal_instrument`).
        :param symbols: keep only these ccxt symbols (unknown ones raise
            :class:`UnknownSymbolError`); None keeps all.
        :param markets_file: a file in the shipped format, or a raw ccxt markets JSON
            (``symbol -> market``) which is parsed with ccxt exactly like the builder does.
        :param fee_overrides: ``{"maker": x, "taker": y}`` for every symbol, and/or
            ``{symbol: {"maker": x, "taker": y}}`` per symbol (per-symbol wins).
        :param specs: ``{symbol: {field: value}}`` (YAML ``venue.instruments``): replaces those
            fields of a known symbol; a symbol the metadata lacks is defined by them and must
            give ``tick_size``, ``lot_size``, ``min_qty``, ``min_notional`` and both fees
            (fees may come from ``fee_overrides``); under :data:`IDEAL` every field is optional.
        """
        exid = _ALIASES.get(exchange, exchange)
        if exid == IDEAL:
            if markets_file is not None:
                raise HeanError("venue.markets_file: the ideal venue has no market metadata",
                                "drop markets_file, or name the exchange it belongs to")
            fees = {k: float(v) for k, v in (fee_overrides or {}).items()
                    if k in ("maker", "taker")}
            result = cls(IDEAL, {}, "ideal venue: steps 1e-8, no minimums", fees)
        else:
            result = cls(exid, *_read_markets(exid, markets_file))
            if fee_overrides:
                result._apply_fees(fee_overrides)
        if specs:
            result._apply_specs(specs, fee_overrides or {})
        if symbols is not None:
            result = cls(exid, {s: result.get(s) for s in symbols}, result.source,
                         result._ideal_fees)
        return result

    def _apply_fees(self, overrides: dict[str, Any]) -> None:
        """Replace maker/taker rates (global keys first, then per-symbol dicts)."""
        glob = {k: float(v) for k, v in overrides.items() if k in ("maker", "taker")}
        for symbol, inst in list(self._items.items()):
            per = overrides.get(symbol)
            rates = glob | ({k: float(v) for k, v in per.items()} if isinstance(per, dict)
                            else {})
            if rates:
                self._items[symbol] = replace(
                    inst, maker_fee=rates.get("maker", inst.maker_fee),
                    taker_fee=rates.get("taker", inst.taker_fee))
        for key, value in overrides.items():
            if isinstance(value, dict) and key not in self._items:
                raise self._unknown(key)

    def _apply_specs(self, specs: dict[str, dict[str, Any]],
                     fee_overrides: dict[str, Any]) -> None:
        """Apply ``venue.instruments`` entries (see :meth:`load`)."""
        fees = {k + "_fee": float(v) for k, v in fee_overrides.items() if k in ("maker", "taker")}
        for symbol, spec in specs.items():
            given = {k: v for k, v in spec.items() if v is not None}
            bad = sorted(set(given) - set(_SPEC_FIELDS))
            if bad:
                raise HeanError(f"venue.instruments.{symbol}: unknown field(s) {', '.join(bad)}",
                                f"allowed: {', '.join(_SPEC_FIELDS)}")
            inst = self._items.get(symbol)
            if inst is None:
                fields = {**fees, **given}
                missing = [k for k in _NEW_SYMBOL_NEEDS if k not in fields]
                if missing and self.exchange != IDEAL:
                    raise HeanError(
                        f"venue.instruments.{symbol}: {symbol!r} is not in the market metadata "
                        f"of {self.exchange!r} ({self.source}); to define it, give "
                        f"{', '.join(missing)}",
                        "copy the exchange's rules for it (price step, quantity step, minimum "
                        "quantity and order value, maker/taker fee; venue.maker_fee/taker_fee "
                        "count), or use a markets_file that contains it")
                self._items[symbol] = _new_instrument(symbol, self.exchange, **fields)
                continue
            if "inverse" in given:
                given["linear"] = not given["inverse"]
            self._items[symbol] = replace(inst, **given)

    def _unknown(self, symbol: str) -> UnknownSymbolError:
        avail = ", ".join(sorted(self._items)) or "(none)"
        return UnknownSymbolError(
            f"unknown symbol {symbol!r} for exchange {self.exchange!r}; available: {avail}",
            f"use one of the available ccxt symbols (spot 'BTC/USDT', linear perpetual "
            f"'BTC/USDT:USDT'), or add {symbol!r}: define it under venue.instruments in the "
            f"run YAML, pass markets_file= with a ccxt markets JSON that contains it, or "
            f"rebuild the shipped file with `python -m hean_framework.instruments build "
            f"--exchange {self.exchange} --source <ccxt markets.json> --out <file>`")

    def get(self, symbol: str) -> Instrument:
        """The instrument for ``symbol``; raises :class:`UnknownSymbolError` (a KeyError)
        naming the exchange, the symbol, the available symbols and how to add one."""
        try:
            return self._items[symbol]
        except KeyError:
            if self.exchange == IDEAL:
                inst = self._items[symbol] = ideal_instrument(
                    symbol, self._ideal_fees.get("maker", 0.0), self._ideal_fees.get("taker", 0.0))
                return inst
            raise self._unknown(symbol) from None

    __getitem__ = get

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def values(self) -> list[Instrument]:
        """All instruments."""
        return list(self._items.values())

    def symbols(self) -> list[str]:
        """All symbols, sorted."""
        return sorted(self._items)

    def __repr__(self) -> str:
        return f"Instruments({self.exchange!r}, {len(self._items)} symbols, from {self.source})"


def _read_markets(exid: str, markets_file: str | None) -> tuple[dict[str, Instrument], str]:
    """The instruments of the shipped file of ``exid`` (or of ``markets_file``) and where they
    came from."""
    hint = ("give a ccxt markets JSON (json.dump(ccxt.<exchange>().load_markets())) or a file "
            "written by `python -m hean_framework.instruments build`")
    if markets_file is None:
        name = f"{exid}.json"
        ref = resources.files("hean_framework").joinpath("data", "markets", name)
        if not ref.is_file():
            shipped = sorted(p.name.removesuffix(".json")
                             for p in resources.files("hean_framework")
                             .joinpath("data", "markets").iterdir()
                             if p.name.endswith(".json"))
            raise HeanError(
                f"no shipped market metadata for exchange {exid!r} "
                f"(shipped: {', '.join(shipped)})",
                "pass markets_file= (a ccxt markets JSON, e.g. from "
                "json.dump(ccxt.<exchange>().load_markets())) or build one with "
                "`python -m hean_framework.instruments build`")
        doc = json.loads(ref.read_text(encoding="utf-8"))
        source = f"hean_framework/data/markets/{name}"
    else:
        path = Path(markets_file)
        if not path.is_file():
            raise HeanError(f"markets file not found: {path}",
                            "give the path of a ccxt markets JSON or a shipped-format file")
        source = str(path)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise HeanError(f"venue.markets_file {path}: not a JSON file ({exc})",
                            hint) from exc
    try:
        if isinstance(doc, dict) and doc.get("format") == FORMAT:
            fields = doc["markets"]
        else:
            fields = parse_ccxt_markets(exid, doc)
        items = {s: Instrument(symbol=s, exchange=exid, **_known(f)) for s, f in fields.items()}
    except (TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:
        if markets_file is None:
            raise
        raise HeanError(f"venue.markets_file {source}: not a markets file of {exid!r} "
                        f"({type(exc).__name__}: {exc})", hint) from exc
    if not items and markets_file is not None:
        raise HeanError(f"venue.markets_file {source}: no spot or perpetual swap market with "
                        "a price and amount precision in it", hint)
    return items, source


def _known(fields: dict[str, Any]) -> dict[str, Any]:
    """Only the keys :class:`Instrument` accepts (forward compatible with richer files)."""
    return {k: v for k, v in fields.items() if k in _FIELDS and k not in ("symbol", "exchange")}


# ------------------------------------------------------------------------------ CLI


def main(argv: list[str] | None = None) -> int:
    """``python -m hean_framework.instruments build --exchange X --source F --out G``."""
    parser = argparse.ArgumentParser(prog="python -m hean_framework.instruments",
                                     description=__doc__.split("\n\n")[0] if __doc__ else "")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build a shipped market file from a ccxt markets JSON")
    b.add_argument("--exchange", required=True, help="ccxt exchange id (binance, bybit)")
    b.add_argument("--source", required=True, help="raw ccxt markets JSON (symbol -> market)")
    b.add_argument("--out", required=True, help="output file")
    args = parser.parse_args(argv)
    doc = build_markets(args.exchange, args.source)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({k: v for k, v in doc.items() if k != "markets"}, indent=1)[:-2]
    rows = ",\n".join(f"  {json.dumps(s)}: {json.dumps(f, separators=(',', ':'))}"
                      for s, f in doc["markets"].items())
    out.write_text(f"{text},\n \"markets\": {{\n{rows}\n }}\n}}\n", encoding="utf-8")
    print(f"wrote {len(doc['markets'])} instruments of {doc['exchange']} to {out}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
