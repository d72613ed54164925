"""A fake Bybit v5 exchange for tests: REST and WebSocket on loopback, speaking the endpoints,
payloads and signatures ccxt and ccxt.pro use, with fault injection.

>>> from hean_framework.testing.fake_bybit import FakeBybit, default_script
>>> with FakeBybit(script=default_script()) as fake:     # doctest: +SKIP
...     fake.step(100)       # publish the next 100 market events
...     fake.faults.add("ratelimit", "/v5/order/create", count=3)

Nothing here reaches a real exchange: the server binds 127.0.0.1 only.
Modules: :mod:`.exchange` (state, matching), :mod:`.server` (HTTP/WS), :mod:`.faults`,
:mod:`.script` (the market, from real recorded ticks).
"""

from .exchange import BybitError, Exchange
from .faults import Fault, Faults
from .script import ScriptEvent, bar_script, default_script, shared_data, tick_script
from .server import API_KEY, API_SECRET, FakeBybit

__all__ = ["API_KEY", "API_SECRET", "BybitError", "Exchange", "FakeBybit", "Fault", "Faults",
           "ScriptEvent", "bar_script", "default_script", "shared_data", "tick_script"]
