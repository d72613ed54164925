"""Paper and live trading on Bybit v5 through ccxt / ccxt.pro (builtin plugin ``builtin.live``).

Registers, exactly like an external plugin would, the top-level section ``exchange:``
(:class:`~hean_framework.live.config.ExchangeSection`) and the ``hean run`` command.  The
feed ``bybit`` (:class:`~hean_framework.live.feed.BybitFeed`: live market data) and the venue
``bybit`` (:class:`~hean_framework.live.venue.BybitVenue`: real orders) are registered with
the other builtin feeds and venues (``builtin.feeds``, ``builtin.venues``), and so is the
feed ``recorded`` (:class:`~hean_framework.live.replay.RecordedFeed`: a session's recorded
events replayed exactly, clock ticks included).

``hean run CONFIG --mode paper|live`` drives them (:mod:`hean_framework.live.session`).
ccxt is imported only when a paper or live run starts, never when the plugin is registered.
See ``docs/live.md``.
"""

from __future__ import annotations

from .. import hookimpl
from ..hookspecs import RegisterCommand, RegisterSection
from .config import ExchangeSection
from .feed import BybitFeed
from .venue import BybitVenue

__all__ = ["BybitFeed", "BybitVenue", "ExchangeSection"]


@hookimpl
def hean_register_sections(register: RegisterSection) -> None:
    """Register the ``exchange:`` section of paper and live runs."""
    register("exchange", ExchangeSection)


@hookimpl
def hean_register_commands(register: RegisterCommand) -> None:
    """Register ``hean run`` (paper and live sessions)."""
    from .command import run_command

    register(run_command)
