"""Fault isolation: a component that raises never stops the run, and never goes unnoticed.

* every exception of a component callback becomes a **dead letter** (journaled with the
  component, its plugin, distribution and version, the payload and the traceback) and an
  ``on_error`` observer call (``kind="handler"``);
* a failed **fill handler** is retried, that handler only, ``FILL_RETRIES`` times with
  exponential backoff in data time (``RETRY_BASE_MS`` × 2^(attempt-1)); exhausted retries are
  journaled (``dead_letter_exhausted``);
* a **strategy** that raised ``pipeline.max_component_errors`` times is disabled for the rest
  of the run: no more callbacks of any kind, pending retries dropped (``dead_letter_dropped``),
  its signals ignored, and the report names it;
* **observers** (:class:`~hean_framework.components.Observer` methods of pipeline components
  and analyzers) are called through here, isolated the same way; an error inside ``on_error``
  is not reported to ``on_error`` again.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from .components import Executor, Observer, Strategy

if TYPE_CHECKING:
    from .context import RunContext
    from .models import Fill

SignalSink = Callable[[Any, int, Any], None]


class Faults:
    """Dead letters, retries, disabled strategies and the observer lists of one run."""

    #: retries of a failed fill handler (that handler only, with backoff)
    FILL_RETRIES = 3
    RETRY_BASE_MS = 10_000

    def __init__(self, ctx: RunContext, max_errors: int) -> None:
        self.ctx = ctx
        self.max_errors = max_errors
        self.errors: dict[str, int] = {}
        self.disabled: set[str] = set()
        self.dead_letters = 0
        self.retried_fills = 0
        self._telling_error = False
        self.observers: dict[str, list[Callable[..., Any]]] = {
            m: [] for m in Observer.OBSERVER_METHODS}
        #: where a retried strategy fill handler's output goes (the order router's route)
        self.signals: SignalSink = lambda out, seq, source: None
        #: called once with a strategy's name when it is disabled (the engine unhooks it)
        self.on_disable: Callable[[str], None] = lambda name: None
        #: strategy name -> why it was disabled (the last error)
        self.disabled_why: dict[str, str] = {}

    def watch(self, components: list[Any]) -> None:
        """Register the observer methods ``components`` override (each object once).

        Executors do not observe ``on_fill``/``on_order_update``: they already hear about
        their own orders.
        """
        seen: set[int] = set()
        for obj in components:
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            for m in Observer.OBSERVER_METHODS:
                fn = getattr(obj, m, None)
                if fn is None:
                    continue
                if isinstance(obj, Executor) and (
                        m in ("on_fill", "on_order_update")
                        or getattr(type(obj), m) is getattr(Executor, m, None)):
                    continue
                self.observers[m].append(fn)

    # ------------------------------------------------------------------ calls

    def notify(self, method: str, *args: Any) -> None:
        """Call every observer of ``method``; fill observers get retries."""
        for fn in self.observers[method]:
            comp = getattr(fn, "__self__", fn)
            if method == "on_fill":
                self.guard_fill(comp, fn, args[0])
                continue
            try:
                fn(*args)
            except Exception as exc:
                self.dead_letter(comp, exc, args)

    def guard(self, comp: Any, fn: Callable[[Any], Any], arg: Any) -> Any:
        """``fn(arg)``, or None after dead-lettering what it raised."""
        try:
            return fn(arg)
        except Exception as exc:
            self.dead_letter(comp, exc, arg)
            return None

    def guard_fill(self, comp: Any, fn: Callable[[Any], Any], fill: Fill) -> Any:
        """Call a fill handler; on failure dead-letter it and retry *that handler only*."""
        try:
            return fn(fill)
        except Exception as exc:
            self.dead_letter(comp, exc, fill)
            self._schedule_retry(comp, fn, fill, 1)
            return None

    def notify_error(self, source: str, kind: str, message: str) -> None:
        """Tell the ``on_error`` observers -- except about an error raised by one of them."""
        if self._telling_error or not self.observers["on_error"]:
            return
        self._telling_error = True
        try:
            self.notify("on_error", self.ctx.now, source, kind, message)
        finally:
            self._telling_error = False

    # ------------------------------------------------------------------ dead letters

    def dead_letter(self, comp: Any, exc: BaseException, payload: Any) -> None:
        """Record a component failure; disable a strategy past its error budget."""
        self.dead_letters += 1
        origin = getattr(comp, "_origin", None)
        name = getattr(comp, "name", type(comp).__name__)
        self.errors[name] = self.errors.get(name, 0) + 1
        error = f"{type(exc).__name__}: {exc}"
        journal = self.ctx.journal
        if journal is not None:
            journal.dead_letter(
                self.ctx.now, name, origin.plugin if origin else "",
                origin.distribution if origin else "", origin.version if origin else "",
                repr(payload)[:500], error, traceback.format_exc(limit=5))
        if self.observers["on_error"]:
            self.notify_error(name, "handler", error)
        if isinstance(comp, Strategy) and self.errors[name] >= self.max_errors \
                and name not in self.disabled:
            self.disable(comp, f"{self.errors[name]} errors, the last: {error}")

    def disable(self, comp: Any, why: str) -> None:
        """Stop calling a strategy for the rest of the run (logged, journaled, reported)."""
        name = getattr(comp, "name", type(comp).__name__)
        if name in self.disabled:
            return
        self.disabled.add(name)
        self.disabled_why[name] = why
        origin = getattr(comp, "_origin", None)
        where = origin.describe() if origin else name
        self.ctx.log.error("strategy %r from %s disabled: %s", name, where, why)
        self._event(self.ctx.now, "component_disabled", {
            "component": name, "plugin": origin.plugin if origin else "",
            "distribution": origin.distribution if origin else "",
            "version": origin.version if origin else "", "why": why})
        self.on_disable(name)

    def _schedule_retry(self, comp: Any, fn: Callable[[Any], Any], fill: Fill,
                        attempt: int) -> None:
        name = getattr(comp, "name", type(comp).__name__)
        if attempt > self.FILL_RETRIES:
            self._event(self.ctx.now, "dead_letter_exhausted",
                        {"component": name, "fill_id": fill.fill_id})
            return
        due = self.ctx.now + self.RETRY_BASE_MS * 2 ** (attempt - 1)
        self.ctx.clock.schedule(due, partial(self._retry_fill, comp, fn, fill, attempt))

    def _retry_fill(self, comp: Any, fn: Callable[[Any], Any], fill: Fill, attempt: int,
                    now: int) -> None:
        name = getattr(comp, "name", type(comp).__name__)
        if isinstance(comp, Strategy) and name in self.disabled:
            self._event(now, "dead_letter_dropped", {"component": name,
                                                     "fill_id": fill.fill_id,
                                                     "attempt": attempt,
                                                     "reason": "strategy disabled"})
            return
        try:
            out = fn(fill)
        except Exception as exc:
            self.dead_letter(comp, exc, fill)
            self._schedule_retry(comp, fn, fill, attempt + 1)
            return
        self.retried_fills += 1
        self._event(now, "dead_letter_retried", {"component": name, "fill_id": fill.fill_id,
                                                 "attempt": attempt})
        if isinstance(comp, Strategy):
            self.signals(out, 0, comp)

    def _event(self, ts: int, kind: str, payload: dict[str, Any]) -> None:
        journal = self.ctx.journal
        if journal is not None:
            journal.event(ts, kind, payload)
