"""The run folder belongs to one run, and a run that cannot write says so.

Invariants (real backtests on the bundled BTC 5m bars, through ``hean backtest``):

1. **One run per folder.**  ``hean backtest`` refuses a folder holding another run's files
   (journal, report.json, report.html) and leaves them untouched; with ``--overwrite`` every file
   of the previous run is removed before the new run writes, so none is left beside the new
   run's -- a journal-off, html-off second run leaves only its ``report.json`` and ``hean why``
   reads that run alone.  The CLI lists only the files this run wrote.
2. **Locked while a run writes.**  A run creates ``.hean-run.lock`` (pid, host, token) with
   ``O_CREAT | O_EXCL`` and removes it at the end, whether the run succeeded or failed.  A folder
   whose lock belongs to a live process is refused; a lock left by a dead process is taken over
   and the CLI says so.  Two runs started into one folder at once: one succeeds, the other exits
   2, and the folder holds the winner's report and journal only.
3. **Clear errors, no tracebacks.**  ``--out`` under a regular file, a read-only folder, a full
   disk (journal or report), a killed journal writer process: exit code 2 and a message naming
   what failed, where, and what to do.
4. **Cut-short journals say so.**  A journal whose writing stopped (full disk, killed writer)
   keeps its run status ``running``; :meth:`JournalReader.status` reports it as ``cut short``.
   A cleanly closed journal is ``complete``.  The status is not part of the journal digest.
"""

from __future__ import annotations

import errno
import io
import json
import marshal
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from click.testing import CliRunner, Result

from hean_framework import hookimpl, session
from hean_framework.cli import make_cli
from hean_framework.components import Strategy
from hean_framework.config import JournalSection
from hean_framework.errors import HeanError
from hean_framework.journal import Journal, JournalReader
from hean_framework.rundir import LOCK_NAME, RunFolder, open_journal
from hean_framework.testing import isolated_plugins
from hean_framework.why import load_why

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
BTC_5M = EXAMPLES / "data" / "binance_usdm_perp_BTCUSDT_5m_20250306_20250413.csv.gz"

#: what the test strategy does to the journal at a given bar: {"at": n, "do": "kill" | "fill"}
SABOTAGE: dict[str, Any] = {}


class Flip(Strategy):
    """Buys, then sells, every 12 bars; at bar ``SABOTAGE["at"]`` kills the journal's writer
    process or fills the journal's "disk" (SQLite's page limit: a real SQLITE_FULL)."""

    def on_start(self) -> None:
        self.n = 0
        self.long = False

    def on_bar(self, bar):  # type: ignore[no-untyped-def]
        self.n += 1
        if self.n == SABOTAGE.get("at"):
            journal = self.ctx.journal
            if SABOTAGE["do"] == "kill":
                journal.flush()
                journal._writer.sync()  # the rows so far are in the file (the child is fast
                child = journal._child  # to kill, slow to start: without this, a race)
                os.kill(child.pid, signal.SIGKILL)
                child.wait()
            else:
                conn = journal._writer._conn
                pages = conn.execute("PRAGMA page_count").fetchone()[0]
                conn.execute(f"PRAGMA max_page_count={pages}")
        if self.n % 12:
            return None
        self.long = not self.long
        return self.signal(bar.symbol, "buy" if self.long else "sell", bar.ts, bar.close,
                           size=0.01)


class Plugin:
    @hookimpl
    def hean_register_strategies(self, register):  # type: ignore[no-untyped-def]
        register("flip", Flip)


@pytest.fixture(autouse=True)
def _test_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    """``hean backtest`` loads only the builtins and this module's strategy."""
    SABOTAGE.clear()
    monkeypatch.setattr(session, "load_plugins",
                        lambda disabled=(), **kw: isolated_plugins(Plugin(), names=["flip"]))


def write_config(tmp_path: Path, name: str = "flip", **journal: Any) -> Path:
    raw = {"run": {"name": name, "seed": 3},
           "account": {"capital": 10_000},
           "venue": {"name": "sim", "exchange": "binance"},
           "data": {"files": [{"kind": "bars", "symbol": "BTC/USDT:USDT", "path": str(BTC_5M)}]},
           "strategies": {"flip": {}},
           "pipeline": {"require_stop_loss": False},
           "journal": journal,
           "report": {"progress": False}}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def backtest(config: Path, out: Path, *args: str) -> Result:
    return CliRunner().invoke(make_cli(), ["backtest", str(config), "--out", str(out),
                                           "--no-progress", *args])


def assert_clean_error(res: Result, *words: str) -> None:
    """Exit code 2, a HEAN error (message + hint), no traceback."""
    assert res.exit_code == 2, res.output
    assert isinstance(res.exception, SystemExit), res.exception
    assert "error:" in res.output and "hint:" in res.output, res.output
    assert "Traceback" not in res.output, res.output
    for w in words:
        assert w in res.output, (w, res.output)


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ------------------------------------------------------------------------ one run per folder


def test_a_folder_with_another_runs_files_is_refused_and_left_alone(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    out = tmp_path / "run"
    first = backtest(cfg, out)
    assert first.exit_code == 0, first.output
    before = {n: (out / n).read_bytes() for n in listing(out)}
    assert sorted(before) == ["journal.sqlite", "report.html", "report.json"]
    second = backtest(cfg, out)
    assert_clean_error(second, "holds the files of another run", "--overwrite", str(out))
    assert {n: (out / n).read_bytes() for n in listing(out)} == before


def test_overwrite_removes_every_file_of_the_previous_run(tmp_path: Path) -> None:
    """Before: the second run left the first run's report.html and journal.sqlite beside its
    report.json, the CLI said it wrote them, and ``hean why`` read the first run's journal."""
    out = tmp_path / "run"
    assert backtest(write_config(tmp_path, "first"), out).exit_code == 0
    (out / "notes.txt").write_text("mine")  # not a run file: kept
    res = backtest(write_config(tmp_path, "second", enabled=False), out, "--overwrite",
                   "--set", "report.html=false")
    assert res.exit_code == 0, res.output
    assert listing(out) == ["notes.txt", "report.json"]
    assert f"wrote {out / 'report.json'}\n" in res.output
    assert "report.html" not in res.output.split("wrote", 1)[1]
    assert "removed the previous run's files" in res.output
    why = load_why(out)
    assert why["run"] == "second"
    assert why["small_capital_mode"]["source"] == "report.decisions"  # no journal of run 1


def test_the_cli_lists_only_the_files_the_run_wrote(tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = backtest(write_config(tmp_path, enabled=False), out)
    assert res.exit_code == 0, res.output
    assert f"wrote {out / 'report.json'}, report.html\n" in res.output
    assert listing(out) == ["report.html", "report.json"]


# ------------------------------------------------------------------------ the lock


def _write_lock(folder: Path, pid: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / LOCK_NAME).write_text(json.dumps({"pid": pid, "host": socket.gethostname(),
                                                "token": "t", "started": "earlier"}))


def test_a_folder_locked_by_a_live_run_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        _write_lock(out, holder.pid)
        res = backtest(write_config(tmp_path), out, "--overwrite")
        assert_clean_error(res, "in use by another run", f"pid {holder.pid}", LOCK_NAME)
        assert listing(out) == [LOCK_NAME]  # nothing written, the other run's lock kept
    finally:
        holder.kill()
        holder.wait()


def test_a_stale_lock_is_taken_over_and_said_so(tmp_path: Path) -> None:
    out = tmp_path / "run"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    _write_lock(out, dead.pid)
    res = backtest(write_config(tmp_path), out)
    assert res.exit_code == 0, res.output
    assert "took over the stale lock" in res.output and f"pid {dead.pid}" in res.output
    assert listing(out) == ["journal.sqlite", "report.html", "report.json"]  # lock removed


def test_the_lock_is_held_during_the_run_and_removed_after(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "run"
    seen: list[dict[str, Any]] = []

    class Peek(Flip):
        def on_start(self) -> None:
            super().on_start()
            seen.append(json.loads((out / LOCK_NAME).read_text()))

    class PeekPlugin:
        @hookimpl
        def hean_register_strategies(self, register):  # type: ignore[no-untyped-def]
            register("flip", Peek)

    pm = isolated_plugins(PeekPlugin(), names=["peek"])
    monkeypatch.setattr(session, "load_plugins", lambda disabled=(), **kw: pm)
    res = backtest(write_config(tmp_path), out)
    assert res.exit_code == 0, res.output
    assert seen and seen[0]["pid"] == os.getpid() and seen[0]["host"] == socket.gethostname()
    assert not (out / LOCK_NAME).exists()


def test_two_runs_into_one_folder_at_once(tmp_path: Path) -> None:
    """Before: a sqlite traceback, or both exit 0 with one run's report and the other's
    HTML.  Now: one run wins, the other exits 2 with a clear error, the folder is the
    winner's."""
    pytest.importorskip("hean_momentum_trader")
    out = tmp_path / "run"
    procs = {name: subprocess.Popen(
        [sys.executable, "-m", "hean_framework.cli", "backtest",
         str(EXAMPLES / "quickstart.yaml"), "--out", str(out), "--no-progress",
         "--set", f"run.name={name}"], cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True) for name in ("run_alpha", "run_bravo")}
    results = {name: (p.wait(timeout=300), p.stdout.read(), p.stderr.read())  # type: ignore[union-attr]
               for name, p in procs.items()}
    codes = sorted(code for code, _, _ in results.values())
    assert codes == [0, 2], results
    winner = next(n for n, (code, _, _) in results.items() if code == 0)
    loser_err = next(err for code, _, err in results.values() if code == 2)
    assert "Traceback" not in loser_err and "error: the run folder" in loser_err, loser_err
    assert ("in use by another run" in loser_err
            or "holds the files of another run" in loser_err), loser_err
    assert listing(out) == ["journal.sqlite", "report.html", "report.json"]
    report = orjson.loads((out / "report.json").read_bytes())
    assert report["run"]["name"] == winner
    loser = next(n for n in results if n != winner)
    html = (out / "report.html").read_text()
    assert winner in html and loser not in html
    with JournalReader(out / "journal.sqlite") as r:
        assert r.manifest()["config"]["run"]["name"] == winner
        assert r.status() == "complete"


# ------------------------------------------------------------------------ unwritable --out


def test_out_under_a_regular_file(tmp_path: Path) -> None:
    """Before: NotADirectoryError traceback from open_journal."""
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    res = backtest(write_config(tmp_path), blocker / "run")
    assert_clean_error(res, "cannot create the run folder", f"{blocker} is a regular file",
                       "--out")


def test_run_out_naming_a_regular_file(tmp_path: Path) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    res = CliRunner().invoke(make_cli(), ["backtest", str(write_config(tmp_path)),
                                          "--no-progress", "--set", f"run.out={blocker}"])
    assert_clean_error(res, f"{blocker} is a regular file")
    assert blocker.read_text() == "x"


def test_read_only_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder the run cannot write: chmod 0o500 where that stops writes (not for root);
    as root, the lock's creation fails with EROFS as on a read-only mount."""
    out = tmp_path / "ro"
    out.mkdir()
    if os.geteuid() != 0:
        out.chmod(0o500)
        expect = "no permission to write"
    else:
        real_open = os.open

        def read_only(path: Any, flags: int, *a: Any, **kw: Any) -> int:
            if str(path).startswith(str(out)):
                raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
            return real_open(path, flags, *a, **kw)

        monkeypatch.setattr(os, "open", read_only)
        expect = "read-only file system"
    try:
        res = backtest(write_config(tmp_path), out)
    finally:
        out.chmod(0o700)
    assert_clean_error(res, "cannot lock the run folder", str(out), expect, "--out")
    assert listing(out) == []


# ------------------------------------------------------------------------ full disk, dead writer


def _assert_cut_short(journal: Path) -> None:
    with JournalReader(journal) as r:
        assert r.stored_status() == ("running", None)
        assert r.status() == "cut short"
        assert r.complete() is False
        msg = r.cut_short_message()
        assert msg is not None and "cut short" in msg and str(journal) in msg
        assert r.counts()["decisions"] > 0


def test_full_disk_while_journaling(tmp_path: Path) -> None:
    """A real SQLITE_FULL in the inline writer.  Before: a raw sqlite3.OperationalError
    traceback ("cannot rollback - no transaction is active" hid the cause)."""
    SABOTAGE.update(at=3000, do="fill")
    out = tmp_path / "run"
    res = backtest(write_config(tmp_path, writer="inline", batch_size=50), out)
    assert_clean_error(res, "could not write the run journal", str(out / "journal.sqlite"),
                       "is full", "cut short", "free space")
    assert "report.json" not in listing(out) and LOCK_NAME not in listing(out)
    _assert_cut_short(out / "journal.sqlite")


def test_killed_journal_writer_process(tmp_path: Path) -> None:
    """Before: RuntimeError "journal ... is closed" traceback (the writer's HeanError was
    swallowed as a dead letter first)."""
    SABOTAGE.update(at=3000, do="kill")
    out = tmp_path / "run"
    res = backtest(write_config(tmp_path, writer="process", batch_size=50), out)
    assert_clean_error(res, "journal writer process", "killed by signal SIGKILL", "cut short")
    assert "report.json" not in listing(out) and LOCK_NAME not in listing(out)
    _assert_cut_short(out / "journal.sqlite")
    again = backtest(write_config(tmp_path), out)  # the cut-short run is another run's files
    assert_clean_error(again, "holds the files of another run")


def test_full_disk_while_writing_the_report(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: a raw OSError traceback and possibly a half-written report.json."""
    real = Path.write_bytes

    def full(self: Path, data: bytes) -> int:
        if self.name.startswith("report.json"):
            real(self, data[:100])  # some bytes made it before the disk filled up
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", full)
    out = tmp_path / "run"
    res = backtest(write_config(tmp_path), out)
    assert_clean_error(res, f"cannot write {out / 'report.json'}", "is full", "free space")
    assert listing(out) == ["journal.sqlite"]  # no report.json, no half file, no lock
    with JournalReader(out / "journal.sqlite") as r:
        assert r.status() == "complete"  # the run itself ended; its journal is whole


# ------------------------------------------------------------------------ journal status


def test_a_clean_run_leaves_a_complete_journal_with_the_same_digest(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    digests = []
    for name in ("a", "b"):
        assert backtest(cfg, tmp_path / name).exit_code == 0
        with JournalReader(tmp_path / name / "journal.sqlite") as r:
            assert r.status() == "complete" and r.cut_short_message() is None
            digests.append(r.digest())
    assert digests[0] == digests[1]


def test_an_interrupted_run_leaves_an_interrupted_journal(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Crash(Flip):
        def on_bar(self, bar):  # type: ignore[no-untyped-def]
            out = super().on_bar(bar)
            if self.n == 500:  # a kernel-level failure: KeyboardInterrupt is not isolated
                raise KeyboardInterrupt
            return out

    class CrashPlugin:
        @hookimpl
        def hean_register_strategies(self, register):  # type: ignore[no-untyped-def]
            register("flip", Crash)

    pm = isolated_plugins(CrashPlugin(), names=["crash"])
    monkeypatch.setattr(session, "load_plugins", lambda disabled=(), **kw: pm)
    out = tmp_path / "run"
    res = backtest(write_config(tmp_path), out)
    assert res.exit_code != 0
    assert listing(out) == ["journal.sqlite"]
    with JournalReader(out / "journal.sqlite") as r:
        assert r.stored_status() == ("interrupted", "KeyboardInterrupt")
        assert r.status() == "interrupted"
        assert "interrupted" in (r.cut_short_message() or "")


def test_a_running_journal_is_reported_as_running_while_its_run_holds_the_lock(
        tmp_path: Path) -> None:
    j = open_journal(tmp_path, JournalSection())
    try:
        with JournalReader(tmp_path / "journal.sqlite") as r:
            assert r.status() == "running"
            assert "still being written" in (r.cut_short_message() or "")
    finally:
        j.close()
    with JournalReader(tmp_path / "journal.sqlite") as r:
        assert r.status() == "complete"


# ------------------------------------------------------------------------ library runs


def test_open_journal_locks_the_folder_while_the_journal_is_open(tmp_path: Path) -> None:
    (tmp_path / "report.html").write_text("an earlier run's page")
    j = open_journal(tmp_path, JournalSection(writer="inline"))
    assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == os.getpid()
    assert not (tmp_path / "report.html").exists()  # never paired with the new run
    with pytest.raises(HeanError, match="in use by another run"):
        open_journal(tmp_path, JournalSection())
    j.close()
    assert not (tmp_path / LOCK_NAME).exists()
    open_journal(tmp_path, JournalSection()).close()  # a later run replaces the journal


def test_run_folder_claim_refuses_and_clears(tmp_path: Path) -> None:
    (tmp_path / "journal.sqlite-wal").write_bytes(b"x")
    with pytest.raises(HeanError, match=r"journal\.sqlite-wal"):
        RunFolder(tmp_path).claim()
    assert not (tmp_path / LOCK_NAME).exists()  # a refused claim leaves no lock
    with RunFolder(tmp_path, overwrite=True) as folder:
        assert folder.removed == ["journal.sqlite-wal"] and folder.held
        with pytest.raises(HeanError, match="in use by another run"):
            RunFolder(tmp_path, overwrite=True).claim()
        assert folder.run_files() == []
    assert listing(tmp_path) == []


def test_the_writer_process_names_its_error_in_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The child's last stderr line carries the error the engine shows (a full disk here)."""
    from hean_framework import _journal_child
    from hean_framework.journal_schema import ERROR_TAG, EVENT_SQL

    path = tmp_path / "journal.sqlite"
    Journal(path, writer="inline").close()
    frame = marshal.dumps(("rows", ((EVENT_SQL, [(1, "note", "{}")]),)))
    stdin = io.TextIOWrapper(io.BytesIO(len(frame).to_bytes(8, "little") + frame))
    monkeypatch.setattr(sys, "stdin", stdin)
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(io.BytesIO()))

    def full(conn: sqlite3.Connection, batches: Any) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(_journal_child, "write_batches", full)
    assert _journal_child.main(str(path)) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == f"{ERROR_TAG}OperationalError: database or disk is full"


def test_a_failing_writer_process_is_a_clean_error(tmp_path: Path) -> None:
    """A real SQLite error in the child: one line of it in a HeanError, not its traceback."""
    path = tmp_path / "journal.sqlite"
    j = Journal(path, writer="process")
    j._write((("INSERT INTO no_such_table VALUES (?)", [(1,)]),))
    deadline = time.time() + 30
    while j._child is not None and j._child.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    with pytest.raises(HeanError) as info:
        j.close()
    text = str(info.value)
    assert "no such table: no_such_table" in text and "Traceback" not in text
    assert "cut short" in text
    with JournalReader(path) as r:
        assert r.stored_status() == ("running", None) and r.status() == "cut short"


def test_why_says_a_journal_was_cut_short(tmp_path: Path) -> None:
    """``hean why`` on the folder of a run whose writer was killed: no report.json, a
    cut-short journal -- the error says so (it used to say only 'not a finished run')."""
    from hean_framework.why import why

    SABOTAGE.update(at=3000, do="kill")
    out = tmp_path / "run"
    backtest(write_config(tmp_path, writer="process", batch_size=50), out)
    res = CliRunner().invoke(why, [str(out)])
    assert res.exit_code == 2 and "cut short" in res.output and "Traceback" not in res.output
