#!/usr/bin/env python3
"""Live-path benchmark: market event received -> decision recorded, against the fake Bybit.

The fake exchange (:mod:`hean_framework.testing.fake_bybit`) runs in a **child process** on
127.0.0.1 and publishes the real BTCUSDT ticks and L2 book of the shared data (looped) at a
fixed rate; each public message is stamped with ``time.perf_counter_ns()`` just before it is
sent (CLOCK_MONOTONIC, comparable across processes).  This process runs a paper session
(``hean run``'s :class:`~hean_framework.live.session.LiveSession`: ccxt.pro feed, engine,
simulated venue, SQLite journal, recording on) with the demo ``tick_flip`` strategy (a market
signal every ``--every`` trades: each goes through the pipeline and is journaled).

Per event, four instants: ``sent`` (the fake), ``parsed`` (ccxt.pro decoded the frame and
handed it to the feed's hook), ``push`` (the consumer hands the normalised event to the
engine) and ``done`` (``Engine.push`` returned: strategy, pipeline, venue, decision
journaled).  Reported, p50 / p99 / max in µs:

* ``network+ccxt`` = parsed - sent (loopback, aiohttp, JSON decoding, ccxt.pro's dispatch);
* ``queue`` = push - parsed (ccxt.pro's own handling of the message, the asyncio hop to the
  consumer, events waiting behind earlier ones of a burst);
* ``engine`` = done - push, over all events, over those that produced no decision and over
  those that produced one (the engine's part: the goal is p99 <= 50 µs);
* ``total`` = done - sent.

``--soak-minutes M``: one session at ``--soak-rate`` events/s for M minutes under
``tracemalloc``: RSS at start (after a 10 s warm-up) and at the end, RSS every minute, and the
ten sources (file:line) whose allocations grew most, with the traced total.  Trades of the
strategy add records the report keeps (closed trades, TCA rows): growth per trade, not per
event, is expected there.

Usage::

    python bench/bench_live.py [--rates 1000,10000] [--seconds 8] [--every 25]
                               [--soak-minutes 0.5] [--soak-rate 1000] [--no-tracemalloc]

Not a test: run it by hand (it needs ../shared/data for the ticks).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def looped_script() -> Iterator[Any]:
    """The real ticks and book of the fake's script, over and over (long soaks)."""
    from hean_framework.testing.fake_bybit import default_script

    return itertools.chain.from_iterable(default_script() for _ in itertools.count())


def fake_child(conn: Connection) -> None:
    """The fake exchange's process: answers commands from the pipe."""
    from hean_framework.testing.fake_bybit import FakeBybit

    fake = FakeBybit(script=looped_script()).start()
    fake.stamp = True
    fake.warm_up()
    conn.send((fake.rest_url, fake.ws_url))
    while True:
        cmd, *args = conn.recv()
        if cmd == "play":
            fake.play(*args)
        elif cmd == "connections":
            conn.send(fake.connections())
        elif cmd == "published":
            conn.send(fake.published)
        elif cmd == "stop":
            fake.stop()
            conn.send("stopped")
            return


class Fake:
    """The child process and its pipe (one command at a time, from any thread)."""

    def __init__(self) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=fake_child, args=(child,), daemon=True)
        self.proc.start()
        self.rest, self.ws = self.conn.recv()
        self._lock = threading.Lock()

    def ask(self, *cmd: Any) -> Any:
        with self._lock:
            self.conn.send(cmd)
            return None if cmd[0] == "play" else self.conn.recv()

    def close(self) -> None:
        self.ask("stop")
        self.proc.join(10)


def rss_mb() -> float:
    """Resident set size of this process, MB."""
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def loadavg() -> str:
    """The 1, 5 and 15 minute load averages."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def pct(xs: list[int], q: float) -> float:
    """The q-quantile of ns values, in µs."""
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))] / 1000


def build(fake: Fake, out: Path, every: int) -> tuple[Any, Any]:
    from hean_framework.config import load_setup
    from hean_framework.engine import Engine
    from hean_framework.live.session import LiveSession
    from hean_framework.testing.fake_bybit.demo import config, plugins

    cfg = config(out.parent / f"{out.name}.yaml", fake.rest, fake.ws, mode="paper",
                 every=every, name=out.name,
                 extra={"exchange": {"tick_ms": 1000, "stale_after_ms": 60_000}})
    pm = plugins()
    setup = load_setup(cfg, pm.registry, need_strategy=True)
    eng = Engine(setup, pm, out_dir=out, progress=False)
    return eng, LiveSession(eng, setup.section("exchange"), duration_s=None)


class Probe:
    """The four instants of every event (see the module docstring)."""

    def __init__(self, eng: Any, sess: Any) -> None:
        self.rows: list[tuple[int, int, int, int, bool]] = []
        self.decisions = 0
        self._sent = 0
        self._parsed = 0
        self._meta: dict[int, tuple[int, int]] = {}
        feed = sess.feed
        for name in ("_trades", "_book", "_ticker"):
            setattr(feed, name, self._hook(getattr(feed, name)))
        put = feed._put

        def tagged_put(ev: Any) -> None:
            self._meta[id(ev)] = (self._sent, self._parsed)
            put(ev)
        feed._put = tagged_put
        journal = eng.ctx.journal
        record = journal.decision

        def counted(d: Any) -> None:
            self.decisions += 1
            record(d)
        journal.decision = counted
        push = eng.push
        perf = time.perf_counter_ns
        rows = self.rows
        meta = self._meta

        def timed_push(ev: Any) -> None:
            sent, parsed = meta.pop(id(ev), (0, 0))
            before = self.decisions
            t0 = perf()
            push(ev)
            t1 = perf()
            rows.append((sent, parsed, t0, t1, self.decisions > before))
        eng.push = timed_push

    def _hook(self, fn: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
        def hooked(msg: dict[str, Any]) -> None:
            self._parsed = time.perf_counter_ns()
            self._sent = int(msg.get("hs") or 0)
            fn(msg)
        return hooked


def run_for(fake: Fake, sess: Any, seconds: float, rate: float,
            during: Callable[[], None] | None = None) -> None:
    """Start the market once the session subscribed; stop the session after ``seconds``."""
    def driver() -> None:
        deadline = time.monotonic() + 20
        while fake.ask("connections")[0] < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        fake.ask("play", rate, int(rate * seconds))
        end = time.monotonic() + seconds + 0.5
        if during is not None:
            during()
        time.sleep(max(0.0, end - time.monotonic()))
        loop.call_soon_threadsafe(sess.stop, "bench")

    async def main() -> None:
        nonlocal loop
        loop = asyncio.get_running_loop()
        threading.Thread(target=driver, daemon=True).start()
        await sess.run()
    loop: Any = None
    asyncio.run(main())


def latency(rate: float, seconds: float, every: int, tmp: Path) -> dict[str, Any]:
    fake = Fake()
    try:
        eng, sess = build(fake, tmp / f"lat{int(rate)}", every)
        probe = Probe(eng, sess)
        t0 = time.perf_counter()
        run_for(fake, sess, seconds, rate)
        wall = time.perf_counter() - t0
        published = fake.ask("published")
    finally:
        eng.close()
        fake.close()
    rows = [r for r in probe.rows if r[0]]
    warm = rows[len(rows) // 20:]  # the first 5 %: connections and caches warming up
    net = [p - s for s, p, _, _, _ in warm]
    queue = [t0 - p for _, p, t0, _, _ in warm]
    eng_all = [t1 - t0 for _, _, t0, t1, _ in warm]
    eng_dec = [t1 - t0 for _, _, t0, t1, d in warm if d]
    eng_nodec = [t1 - t0 for _, _, t0, t1, d in warm if not d]
    total = [t1 - s for s, _, _, t1, _ in warm]
    span = (rows[-1][2] - rows[0][2]) / 1e9 if len(rows) > 1 else 0.0
    return {"rate": rate, "events": len(probe.rows), "published": published,
            "achieved": len(rows) / span if span else 0.0, "decisions": probe.decisions,
            "wall_s": wall, "network+ccxt": net, "queue": queue, "engine": eng_all,
            "engine (decisions)": eng_dec, "engine (no decision)": eng_nodec, "total": total}


def soak(minutes: float, rate: float, every: int, tmp: Path, trace: bool = True) -> None:
    fake = Fake()
    samples: list[tuple[float, float]] = []
    snaps: dict[str, Any] = {}

    def during() -> None:
        t0 = time.monotonic()
        time.sleep(min(10.0, minutes * 60 / 4))
        import gc
        gc.collect()
        if trace:
            snaps["start"] = tracemalloc.take_snapshot()
        samples.append((time.monotonic() - t0, rss_mb()))  # the snapshot held to the end
        end = t0 + minutes * 60
        while time.monotonic() < end - 1:
            time.sleep(min(60.0, max(end - 1 - time.monotonic(), 0.1)))
            samples.append((time.monotonic() - t0, rss_mb()))
        gc.collect()
        samples.append((time.monotonic() - t0, rss_mb()))  # before the second snapshot
        if trace:
            snaps["end"] = tracemalloc.take_snapshot()

    try:
        eng, sess = build(fake, tmp / "soak", every)
        if trace:
            tracemalloc.start()
        run_for(fake, sess, minutes * 60, rate, during=during)
        events = sess.events
        trades = len(eng.ctx.portfolio.closed_trades)
        tracemalloc.stop()
    finally:
        eng.close()
        fake.close()
    print(f"\nsoak: {minutes:g} min at {rate:g} events/s, {events} events, {trades} closed "
          f"trades, tracemalloc {'on' if trace else 'off'}")
    print("  RSS MB over time: " + ", ".join(f"{t:.0f}s {m:.1f}" for t, m in samples))
    if len(samples) >= 2:
        print(f"  RSS start (after warm-up) {samples[0][1]:.1f} MB, end {samples[-1][1]:.1f} MB"
              f" ({samples[-1][1] - samples[0][1]:+.1f} MB)")
    if "start" in snaps and "end" in snaps:
        diff = snaps["end"].compare_to(snaps["start"], "lineno")
        grown = sum(d.size_diff for d in diff)
        print(f"  tracemalloc: traced memory {grown / 1e6:+.2f} MB; top growth:")
        for d in diff[:10]:
            print(f"    {d.size_diff / 1e3:+9.1f} kB {d.count_diff:+7d} blocks  {d.traceback}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rates", default="1000,10000")
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--every", type=int, default=25, help="tick_flip: trades per signal")
    ap.add_argument("--soak-minutes", type=float, default=0.5)
    ap.add_argument("--soak-rate", type=float, default=1000.0)
    ap.add_argument("--no-tracemalloc", action="store_true",
                    help="soak without tracemalloc (RSS alone, without its bookkeeping)")
    args = ap.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load average "
          f"{loadavg()}")
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        for rate in (float(r) for r in args.rates.split(",") if r):
            r = latency(rate, args.seconds, args.every, tmp)
            print(f"\n{rate:g} events/s asked: {r['events']} events pushed "
                  f"({r['achieved']:.0f}/s achieved; the fake sent {r['published']} messages), "
                  f"{r['decisions']} decisions")
            print(f"  {'µs':<20}{'p50':>9}{'p99':>9}{'max':>10}{'n':>8}")
            for key in ("network+ccxt", "queue", "engine", "engine (no decision)",
                        "engine (decisions)", "total"):
                xs = r[key]
                print(f"  {key:<20}{pct(xs, .5):9.1f}{pct(xs, .99):9.1f}"
                      f"{(max(xs) / 1000 if xs else float('nan')):10.1f}{len(xs):8d}")
            if r["engine"]:
                print(f"  engine mean {statistics.fmean(r['engine']) / 1000:.1f} µs")
        if args.soak_minutes > 0:
            soak(args.soak_minutes, args.soak_rate, args.every, tmp,
                 trace=not args.no_tracemalloc)
    print(f"load average after: {loadavg()}")


if __name__ == "__main__":
    main()
