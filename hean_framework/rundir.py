"""The run folder: where a run writes its journal, ``report.json`` and ``report.html``.

A run folder belongs to one run:

* **Locked while a run writes.**  :class:`RunFolder` creates :data:`LOCK_NAME` in the folder
  atomically (``O_CREAT | O_EXCL``), holding the run's pid, host and a token, and removes it
  when the run is over.  A second run into the same folder is refused while the lock is held.
  A lock left by a process that is no longer running on this host (a run that was killed) is
  *stale*: it is taken over, and :attr:`RunFolder.notes` says so.
* **One run's files only.**  A folder holding the files of another run (:data:`RUN_FILES`:
  the journal and its companions, ``report.json``, ``report.html``) is refused unless
  ``overwrite`` is set (``hean backtest --overwrite``); with it, every one of those files is
  removed before the new run writes anything, so none is left beside the new run's.  Other
  files in the folder are left alone.
* **Clear errors.**  A folder that cannot be created or written (read-only file system, no
  permission, a regular file in the way, a full disk) raises
  :class:`~hean_framework.errors.HeanError` naming what failed, where, and what to do
  (:func:`os_error`).

``hean backtest`` claims the folder with :class:`RunFolder` before the run starts.
:func:`open_journal` (called by the assembly when the journal is on) uses that claim when
this process holds one for the folder; otherwise -- a library run through
:class:`~hean_framework.engine.Engine` -- it claims the folder itself for as long as the
journal is open, replacing the previous run's files as it always replaced the journal.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import secrets
import socket
import time
import weakref
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

from .errors import HeanError

if TYPE_CHECKING:
    from .config import JournalSection
    from .journal import Journal

__all__ = ["JOURNAL_NAME", "LOCK_NAME", "RUN_FILES", "RunFolder", "held_folder", "lock_holder",
           "open_journal", "os_error"]

log = logging.getLogger("hean.rundir")

#: the lock file of a run folder while a run writes into it
LOCK_NAME: Final = ".hean-run.lock"
JOURNAL_NAME: Final = "journal.sqlite"
#: the files a run writes, as the CLI lists them (in this order)
SHOWN_FILES: Final = ("report.json", "report.html", JOURNAL_NAME)
#: every file that belongs to a run: the shown ones, SQLite's companions of the journal and the
#: partial report files of a write that was cut short
RUN_FILES: Final = (*SHOWN_FILES, f"{JOURNAL_NAME}-wal", f"{JOURNAL_NAME}-shm",
                    f"{JOURNAL_NAME}-journal", "report.json.partial", "report.html.partial")
#: an unreadable (empty) lock younger than this is taken to be one being written right now
_FRESH_LOCK_S: Final = 30.0

#: the folders this process holds, by resolved path
_HELD: weakref.WeakValueDictionary[Path, RunFolder] = weakref.WeakValueDictionary()


# --------------------------------------------------------------------------------- errors


def _regular_file_on_the_way(path: Path) -> Path | None:
    """The first existing regular file among ``path`` and its parents."""
    for p in (path, *path.parents):
        if p.is_file():
            return p
    return None


def os_error(exc: OSError, path: Path, doing: str) -> HeanError:
    """A :class:`HeanError` for ``exc``, raised while ``doing`` (e.g. ``"create the run folder"``)
    at ``path``: what failed, where, and what to do."""
    code = exc.errno
    elsewhere = "write the run elsewhere with --out DIR"
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        reason = f"the disk holding {path.parent} is full ({exc.strerror})"
        hint = f"free space on that disk, or {elsewhere}"
    elif code == errno.EROFS:
        reason = f"{path} is on a read-only file system"
        hint = f"{elsewhere} on a writable disk"
    elif code in (errno.EACCES, errno.EPERM):
        reason = f"no permission to write {path} ({exc.strerror})"
        hint = f"{elsewhere}, or give yourself write permission there"
    elif code in (errno.ENOTDIR, errno.EEXIST):
        blocker = _regular_file_on_the_way(path)
        reason = (f"{blocker} is a regular file, not a folder" if blocker is not None
                  else f"{path} is not a folder ({exc.strerror})")
        hint = f"{elsewhere} (a folder name that is not a file), or move that file away"
    else:
        reason = f"{exc.strerror or exc} (errno {code})"
        hint = elsewhere
    return HeanError(f"cannot {doing} {path}: {reason}", hint)


# --------------------------------------------------------------------------------- the lock


def _this_host() -> str:
    return socket.gethostname()


def lock_holder(folder: str | Path) -> dict[str, Any] | None:
    """What the lock of ``folder`` holds (``pid``, ``host``, ``token``, ``started``), ``{}``
    for a lock being written or unreadable, None without a lock."""
    try:
        raw = (Path(folder) / LOCK_NAME).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError:
        return {}
    try:
        holder = json.loads(raw)
    except ValueError:
        return {}
    return holder if isinstance(holder, dict) else {}


def _held_tokens() -> set[str]:
    return {f.token for f in list(_HELD.values()) if f.token is not None}


def holder_alive(holder: dict[str, Any]) -> bool:
    """Whether the run that wrote a lock may still be running (True when that cannot be
    told: another host, or a platform without signal 0)."""
    pid = holder.get("pid")
    if not isinstance(pid, int) or holder.get("host") != _this_host() or os.name == "nt":
        return True
    if pid == os.getpid():  # this process: alive while one of its folder claims holds it
        return holder.get("token") in _held_tokens()
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: a process of another user has that pid
        return True
    return True


def _describe(holder: dict[str, Any]) -> str:
    if not holder:
        return "a run that is starting (its lock is not written yet)"
    return (f"pid {holder.get('pid')} on {holder.get('host')}, started "
            f"{holder.get('started', '?')}")


class RunFolder:
    """One run's claim on its folder (see the module docstring).

    >>> with RunFolder(out, overwrite=False) as folder:   # doctest: +SKIP
    ...     ...  # run, write the report into folder.path
    ...     print(folder.run_files())

    :meth:`claim` (or entering the ``with`` block) creates the folder, takes the lock and
    checks (or, with ``overwrite``, clears) the previous run's files; :meth:`release` (or
    leaving the block) removes the lock.  :attr:`notes` tells what was done on the way (a
    stale lock taken over, previous files removed).
    """

    def __init__(self, path: str | Path, *, overwrite: bool = False) -> None:
        self.path = Path(path)
        self.overwrite = overwrite
        #: what the claim did that the user should hear about
        self.notes: list[str] = []
        #: the previous run's files removed by the claim (with ``overwrite``)
        self.removed: list[str] = []
        self.token: str | None = None
        #: True for the claim :func:`open_journal` takes itself (held while its journal is open)
        self.for_journal = False
        self._key: Path | None = None

    @property
    def lock_path(self) -> Path:
        """The lock file of the folder."""
        return self.path / LOCK_NAME

    @property
    def held(self) -> bool:
        """True between :meth:`claim` and :meth:`release`."""
        return self.token is not None

    def __enter__(self) -> RunFolder:
        return self.claim()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()

    # ------------------------------------------------------------------ claiming
    def claim(self) -> RunFolder:
        """Create the folder, lock it, and refuse (or clear, with ``overwrite``) the files of
        a previous run.  Raises :class:`HeanError` when the folder is in use, holds another
        run's files, or cannot be written."""
        if self.held:
            return self
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise os_error(exc, self.path, "create the run folder") from exc
        self._lock()
        try:
            previous = self.previous_files()
            if previous and not self.overwrite:
                raise HeanError(
                    f"the run folder {self.path} holds the files of another run "
                    f"({', '.join(previous)}); a run folder belongs to one run",
                    "pass --overwrite to replace that run (all its files are removed first), "
                    "or write this run elsewhere with --out DIR")
            for name in previous:
                try:
                    (self.path / name).unlink()
                except FileNotFoundError:
                    continue
                except OSError as exc:
                    raise os_error(exc, self.path / name, "remove the previous run's file") \
                        from exc
                self.removed.append(name)
            if self.removed:
                self.notes.append(f"removed the previous run's files from {self.path}: "
                                  f"{', '.join(self.removed)}")
        except BaseException:
            self.release()
            raise
        return self

    def previous_files(self) -> list[str]:
        """The :data:`RUN_FILES` present in the folder."""
        return [n for n in RUN_FILES
                if (self.path / n).exists() or (self.path / n).is_symlink()]

    def run_files(self) -> list[str]:
        """The files of a run present in the folder (report.json, report.html,
        journal.sqlite, in that order): after a run in a claimed folder, exactly the files that
        run wrote."""
        return [n for n in SHOWN_FILES if (self.path / n).is_file()]

    def _lock(self) -> None:
        lock = self.lock_path
        token = secrets.token_hex(8)
        body = json.dumps({"pid": os.getpid(), "host": _this_host(), "token": token,
                           "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}).encode()
        for _attempt in range(20):
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                self._lock_taken(lock)
                continue
            except OSError as exc:
                raise os_error(exc, self.path, "lock the run folder") from exc
            try:
                try:
                    os.write(fd, body)
                finally:
                    os.close(fd)
            except OSError as exc:
                with contextlib.suppress(OSError):
                    lock.unlink()
                raise os_error(exc, self.path, "lock the run folder") from exc
            self.token = token
            self._key = self.path.resolve()
            _HELD[self._key] = self
            return
        raise self._busy(lock_holder(self.path) or {})

    def _lock_taken(self, lock: Path) -> None:
        """The lock exists: raise if its run may be going on, else take the stale lock away
        (the caller then creates its own)."""
        try:
            raw = lock.read_bytes()
            age = time.time() - lock.stat().st_mtime
        except FileNotFoundError:
            return  # released meanwhile: try again
        except OSError as exc:
            raise os_error(exc, lock, "read the lock of the run folder") from exc
        try:
            holder = json.loads(raw)
        except ValueError:
            holder = None
        if not isinstance(holder, dict):
            if age < _FRESH_LOCK_S:  # another run is writing its lock right now: read it again
                time.sleep(0.05)
                return
            holder = {}
        elif holder_alive(holder):
            raise self._busy(holder)
        # stale: move it aside, and remove it only if it is still the stale one we read
        aside = lock.with_name(f"{LOCK_NAME}.stale-{secrets.token_hex(4)}")
        try:
            os.rename(lock, aside)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise os_error(exc, lock, "take over the stale lock of the run folder") from exc
        if aside.read_bytes() != raw:  # another run took it over first: put its lock back
            with contextlib.suppress(OSError):
                os.link(aside, lock)
            aside.unlink()
            raise self._busy(lock_holder(self.path) or {})
        aside.unlink()
        who = (f"left by pid {holder.get('pid')} on {holder.get('host')}, which is no longer "
               "running: that run was cut short" if holder else
               f"unreadable for more than {_FRESH_LOCK_S:.0f} s")
        self.notes.append(f"took over the stale lock of the run folder {self.path} ({who})")

    def _busy(self, holder: dict[str, Any]) -> HeanError:
        return HeanError(
            f"the run folder {self.path} is in use by another run ({_describe(holder)})",
            f"wait for that run to finish, or write this run elsewhere with --out DIR; if no "
            f"run is writing there, delete {self.lock_path}")

    # ------------------------------------------------------------------ releasing
    def release(self) -> None:
        """Remove the lock (only if it is still this claim's).  Idempotent."""
        if self.token is None:
            return
        token, self.token = self.token, None
        if self._key is not None and _HELD.get(self._key) is self:
            del _HELD[self._key]
        holder = lock_holder(self.path)
        if holder is not None and holder.get("token") == token:
            with contextlib.suppress(FileNotFoundError):
                self.lock_path.unlink()


def held_folder(path: str | Path) -> RunFolder | None:
    """The :class:`RunFolder` this process holds for ``path``, if any."""
    return _HELD.get(Path(path).resolve())


# --------------------------------------------------------------------------------- journal


def open_journal(out_dir: Path, section: JournalSection) -> Journal:
    """A new journal at ``out_dir/journal.sqlite``.

    In a folder this process claimed (:class:`RunFolder`, as ``hean backtest`` does) the
    journal is created there -- the claim already refused or cleared any previous run's files.
    Otherwise the folder is claimed for as long as the journal is open (refused while another
    run writes into it) and the previous run's files there are removed first.
    """
    from .journal import Journal

    folder = held_folder(out_dir)
    if folder is not None and folder.for_journal:
        raise HeanError(f"the run folder {folder.path} is in use by another run (its journal "
                        "is open in this process)",
                        "close that run first (engine.close()), or give this run another "
                        "out_dir")
    own = folder is None
    if folder is None:
        folder = RunFolder(out_dir, overwrite=True)
        folder.for_journal = True
        folder.claim()
        for note in folder.notes:
            (log.info if note.startswith("removed") else log.warning)("%s", note)
    jpath = folder.path / JOURNAL_NAME
    try:
        if not own:
            present = [n for n in RUN_FILES if n.startswith(JOURNAL_NAME)
                       and (folder.path / n).exists()]
            if present:
                raise HeanError(f"the run folder {folder.path} already holds a journal "
                                f"({', '.join(present)}): a run folder belongs to one run",
                                "claim a new RunFolder (or another folder) for each run")
        try:
            journal = Journal(jpath, batch_size=section.batch_size, writer=section.writer)
        except HeanError:  # the file could not be created: leave no debris of it
            for name in RUN_FILES:
                if name.startswith(JOURNAL_NAME):
                    with contextlib.suppress(OSError):
                        (folder.path / name).unlink()
            raise
    except BaseException:
        if own:
            folder.release()
        raise
    if own:
        journal.when_closed(folder.release)
    return journal
