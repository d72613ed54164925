"""Fault injection for the fake Bybit exchange.

A test arms faults before (or while) a client talks to the fake; each fires ``count`` times
and is then spent.  :attr:`Faults.fired` records every fault that fired, in order, so a test
can assert that the client saw (and survived) it.

REST faults (``path``: a substring of the request path, ``""`` = any request):

=================  ===============================================================
``timeout``        the response is held ``delay_s`` *before* the request is handled
                   (the client times out; nothing happened on the exchange)
``late``           the request is handled, then its response held ``delay_s`` (the
                   client times out, but the order exists: an idempotent retry must
                   not create a second one)
``http5xx``        HTTP ``status`` (default 503) with an HTML body, request not handled
``retcode``        HTTP 200 with ``retCode``/``retMsg`` (e.g. 10016 system error)
``ratelimit``      HTTP 200 with retCode 10006 "Too many visits!" (a burst: ``count``)
=================  ===============================================================

Private-stream faults (applied to the next private messages):

=================  ===============================================================
``ack_no_ws``      the next created order's ``order`` and ``execution`` messages are
                   never sent (REST acknowledged it; only REST can tell what happened)
``dup_exec``       the next ``execution`` message is sent twice
``ooo_exec``       the next ``execution`` message is held back and sent after the
                   ``order`` message that follows it (fill before its order update,
                   reversed)
=================  ===============================================================

Stream drops, book gaps and silent symbols are actions, not faults:
:meth:`FakeBybit.drop_streams`, :meth:`FakeBybit.gap_next_book`, :meth:`FakeBybit.silence`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

REST_KINDS = ("timeout", "late", "http5xx", "retcode", "ratelimit")
STREAM_KINDS = ("ack_no_ws", "dup_exec", "ooo_exec")


@dataclass
class Fault:
    """One armed fault (see the module docstring)."""

    kind: str
    path: str = ""
    count: int = 1
    delay_s: float = 0.0
    status: int = 503
    code: int = 10016
    msg: str = "System error. Please try again later."


@dataclass
class Faults:
    """The armed faults of one fake exchange (thread-safe)."""

    armed: list[Fault] = field(default_factory=list)
    #: ``(kind, path)`` of every fault that fired, in order
    fired: list[tuple[str, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, path: str = "", count: int = 1, **kw: Any) -> Fault:
        """Arm a fault; returns it."""
        if kind not in REST_KINDS + STREAM_KINDS:
            known = ", ".join(REST_KINDS + STREAM_KINDS)
            raise ValueError(f"unknown fault {kind!r}; known: {known}")
        f = Fault(kind, path, count, **kw)
        with self._lock:
            self.armed.append(f)
        return f

    def take(self, kinds: tuple[str, ...], path: str = "") -> Fault | None:
        """The first armed fault of one of ``kinds`` matching ``path`` (spent by one)."""
        with self._lock:
            for f in self.armed:
                if f.kind in kinds and f.path in path and f.count > 0:
                    f.count -= 1
                    if f.count == 0:
                        self.armed.remove(f)
                    self.fired.append((f.kind, path))
                    return f
        return None

    def pending(self, kind: str) -> bool:
        """Whether a fault of ``kind`` is armed."""
        with self._lock:
            return any(f.kind == kind for f in self.armed)

    def count(self, kind: str) -> int:
        """How many times faults of ``kind`` fired."""
        return sum(1 for k, _ in self.fired if k == kind)
