"""Running a paper or live session in-process against a :class:`FakeBybit` (tests, bench).

:func:`run_session` writes a run config for the fake (:func:`~.demo.config`), builds the
engine with the builtin plugins and the demo strategies, starts a thread that waits until
the session has subscribed and then lets the fake publish its market (``fake.play``), runs
the session for ``seconds`` and returns the engine and the session.  ``during`` runs in that
thread once the market plays (a fault, a silence), ``before`` on the session's loop before
it runs (a hook on the session object).  :func:`events` reads journal events of a kind.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .demo import config, plugins
from .server import API_KEY, API_SECRET, FakeBybit


def run_session(fake: FakeBybit, out: Path, *, mode: str = "live", seconds: float = 4.0,
                rate: float = 600, count: int | None = 2000, every: int = 8,
                during: Callable[[], None] | None = None, during_after_s: float = 1.0,
                before: Callable[[Any], None] | None = None,
                extra: dict[str, Any] | None = None, name: str = "live-test"
                ) -> tuple[Any, Any]:
    """Run one session (see the module docstring); returns ``(engine, session)``."""
    from hean_framework.config import load_setup
    from hean_framework.engine import Engine
    from hean_framework.live.session import LiveSession

    cfg = config(out.parent / f"{out.name}.yaml", fake.rest_url, fake.ws_url, mode=mode,
                 every=every, extra=extra, name=name)
    pm = plugins()
    setup = load_setup(cfg, pm.registry, need_strategy=True)
    eng = Engine(setup, pm, out_dir=out, progress=False)
    sess = LiveSession(eng, setup.section("exchange"),
                       keys=(API_KEY, API_SECRET) if mode == "live" else ("", ""),
                       duration_s=seconds)
    if before is not None:
        before(sess)

    def driver() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            pub, priv = fake.connections()
            if pub >= 1 and (priv >= 1 or mode != "live"):
                break
            time.sleep(0.05)
        time.sleep(0.3)
        fake.play(rate, count)
        if during is not None:
            time.sleep(during_after_s)
            during()
    threading.Thread(target=driver, daemon=True).start()
    try:
        asyncio.run(sess.run())
    finally:
        eng.close()
    return eng, sess


def events(out: Path, kind: str) -> list[dict[str, Any]]:
    """Payloads of the journal events of ``kind`` in the run folder ``out``, in order."""
    con = sqlite3.connect(out / "journal.sqlite")
    try:
        return [json.loads(p) for (p,) in
                con.execute("SELECT payload FROM events WHERE kind = ? ORDER BY rowid",
                            (kind,))]
    finally:
        con.close()


def rows(out: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Rows of a query on the run folder's journal."""
    con = sqlite3.connect(out / "journal.sqlite")
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()
