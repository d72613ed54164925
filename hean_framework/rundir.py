"""The run folder: where a run writes its journal, ``report.json`` and ``report.html``.

:func:`open_journal` starts a fresh ``journal.sqlite`` (and its ``-wal``/``-shm`` companions)
in the run folder, creating the folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import JournalSection
    from .journal import Journal


def open_journal(out_dir: Path, section: JournalSection) -> Journal:
    """A new journal at ``out_dir/journal.sqlite`` (a previous one there is removed)."""
    from .journal import Journal

    out_dir.mkdir(parents=True, exist_ok=True)
    jpath = out_dir / "journal.sqlite"
    for suffix in ("", "-wal", "-shm"):
        p = Path(str(jpath) + suffix)
        if p.exists():
            p.unlink()
    return Journal(jpath, batch_size=section.batch_size, writer=section.writer)
