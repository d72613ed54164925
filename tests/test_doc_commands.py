"""Every ``hean ...`` command the docs show in a console block runs, and prints what is shown.

From ``README.md`` and ``docs/*.md`` every ```` ```console ```` block is read; each line starting
with ``$ `` is a command (``VAR=value`` prefixes are its environment), the lines after it up to
the next ``$ `` line are its shown output (a line ``...`` leaves lines out).  Each ``hean``
command (others -- ``pip``, ``tox``, ``cd`` -- are setup steps and are not run) runs as
``python -m hean_framework.cli`` in a scratch folder holding a link to the repository's
``examples/`` (so ``runs/...`` and scaffolded folders land there), with the commands before it
in the same block run first and only the in-repo example plugins loaded
(``HEAN_DISABLE_PLUGIN_AUTOLOAD=1 HEAN_PLUGINS=...``: nothing else installed in the
environment matters).  It must exit 0 unless its shown output starts with ``error:``, and
every shown output line must appear, in order, in what it prints, after normalising: paths of
the scratch folder and the repository removed, versions (``0.1.0``, ``3.11.7``) and durations
(``0:12``, ``1.5 s``) replaced, runs of spaces collapsed, table rules dropped; ``...`` in a
shown line matches anything.

A command that needs a file that is not bundled is skipped with the reason listed in
:data:`NOT_BUNDLED`; a file missing from that list fails the test (fix the doc or list it).
A command whose example plugin is not installed is skipped, naming the ``pip install -e``;
where the example plugins are not installed at all (the kernel-only tox envs) every command is
skipped: they run in the ``all`` env.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

#: files the docs' commands name that the repository does not ship, and why
NOT_BUNDLED: dict[str, str] = {
    "run.yaml": "docs/configuration.md's placeholder for the reader's own run file",
    "breakout.yaml": "docs/writing_plugins.md's example written by the reader beside a data/ "
                     "folder (its YAML is shown above the commands)",
    "example.yaml": "written by `hean plugins new ... --kind strategy` into the plugin folder "
                    "the reader scaffolds",
}
#: the example plugins of this repository the commands may use (entry-point names)
PLUGINS = "momentum_trader,breakout,ema_cross,market_analyzers"
#: whether their packages are importable here (the kernel-only tox envs have none of them)
EXAMPLE_PLUGINS_INSTALLED = all(
    importlib.util.find_spec(m) is not None
    for m in ("hean_momentum_trader", "hean_breakout", "hean_ema_cross", "hean_market_analyzers"))
TIMEOUT_S = 300


@dataclass
class Shown:
    """One ``$ `` line of a console block and the output shown under it."""

    doc: str
    line: int
    block: int
    env: dict[str, str]
    argv: list[str]
    output: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line}:{' '.join(self.argv[:4])}"


def collect() -> list[Shown]:
    """Every ``$ hean ...`` of every console block, in document order."""
    out: list[Shown] = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        doc = path.relative_to(ROOT).as_posix()
        for b, m in enumerate(re.finditer(r"^```console\n(.*?)^```", text, re.S | re.M)):
            first = text[:m.start()].count("\n") + 2
            current: Shown | None = None
            for i, line in enumerate(m.group(1).splitlines()):
                if line.startswith("$ "):
                    current = parse(doc, first + i, b, line[2:])
                    if current is not None:
                        out.append(current)
                elif current is not None:
                    current.output.append(line)
    return out


def parse(doc: str, line: int, block: int, command: str) -> Shown | None:
    """A ``hean`` command line (comments and ``VAR=value`` prefixes split off), else None."""
    words = shlex.split(command, comments=True)
    env: dict[str, str] = {}
    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
        key, _, value = words.pop(0).partition("=")
        env[key] = value
    if not words or words[0] != "hean" or any(w in ("&&", "|", ";") for w in words):
        return None
    return Shown(doc, line, block, env, words[1:])


COMMANDS = collect()


def test_the_docs_show_hean_commands() -> None:
    assert len(COMMANDS) >= 10, [c.id for c in COMMANDS]
    assert any(c.output for c in COMMANDS)


# ------------------------------------------------------------------------------ running


def missing_file(c: Shown) -> str | None:
    """The first argument naming a YAML/CSV file that the repository does not have."""
    for arg in c.argv:
        value = arg.split("=", 1)[-1]
        if value.endswith((".yaml", ".yml", ".csv", ".csv.gz")) and not (ROOT / value).exists():
            return value
    return None


@pytest.fixture(scope="module")
def workspaces(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, int], Path]:
    """One scratch folder per console block (with ``examples`` linked in)."""
    return {}


def workspace(spaces: dict[tuple[str, int], Path], c: Shown,
              factory: pytest.TempPathFactory) -> Path:
    key = (c.doc, c.block)
    if key not in spaces:
        ws = factory.mktemp(f"doc{len(spaces)}")
        (ws / "examples").symlink_to(ROOT / "examples", target_is_directory=True)
        spaces[key] = ws
    return spaces[key]


_DONE: dict[str, subprocess.CompletedProcess[str]] = {}


def run(c: Shown, ws: Path) -> subprocess.CompletedProcess[str]:
    """Run ``c`` in ``ws`` (once: later commands of the block reuse the result)."""
    if c.id in _DONE:
        return _DONE[c.id]
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEAN")}
    env.update(COLUMNS="80", HEAN_DISABLE_PLUGIN_AUTOLOAD="1", HEAN_PLUGINS=PLUGINS,
               PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]))
    env.pop("FORCE_COLOR", None)
    env["NO_COLOR"] = "1"
    if c.argv[:2] == ["plugins", "list"]:
        # its column widths follow the installed plugins' names, which differ between a
        # kernel-only environment (the docs' case) and one with every plugin: wide enough
        # that no builtin row wraps in either
        env["COLUMNS"] = "200"
    env.update(c.env)
    res = subprocess.run([sys.executable, "-m", "hean_framework.cli", *c.argv], cwd=ws,
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         timeout=TIMEOUT_S, check=False)
    _DONE[c.id] = res
    return res


def normalise(text: str, ws: Path) -> str:
    if text.strip() and not text.strip(" ─━═┄-"):
        return ""  # a table's rule: its width depends on the installed plugins' names
    for p in sorted({str(ws), str(ws.resolve()), str(ROOT)}, key=len, reverse=True):
        text = text.replace(p + "/", "").replace(p, ".")
    text = re.sub(r"\b\d+\.\d+\.\d+\b", "<version>", text)
    text = re.sub(r"\b\d+:\d\d(:\d\d)?\b(?! UTC)", "<duration>", text)
    text = re.sub(r"\b\d+(\.\d+)? ?(s|ms)\b", "<duration>", text)
    return " ".join(text.split())


def assert_shows(shown: list[str], printed: str, ws: Path, where: str) -> None:
    """Every non-empty shown line appears, in order, among the printed lines."""
    lines = [normalise(ln, ws) for ln in printed.splitlines()]
    at = 0
    for want in (normalise(s, ws) for s in shown):
        if not want or want == "...":  # "..." alone: lines left out of the docs
            continue
        pattern = re.compile(".*".join(re.escape(part) for part in want.split("...")))
        for i in range(at, len(lines)):
            if pattern.fullmatch(lines[i]) if "..." not in want else pattern.match(lines[i]):
                at = i + 1
                break
        else:
            raise AssertionError(f"{where}: the docs show\n    {want}\nbut the command printed "
                                 f"(normalised, from line {at + 1}):\n"
                                 + "\n".join(f"    {ln}" for ln in lines[at:]))


@pytest.mark.parametrize("cmd", COMMANDS, ids=[c.id for c in COMMANDS])
def test_doc_command_runs_and_prints_what_is_shown(
        cmd: Shown, workspaces: dict[tuple[str, int], Path],
        tmp_path_factory: pytest.TempPathFactory) -> None:
    if not EXAMPLE_PLUGINS_INSTALLED:
        pytest.skip("the docs' commands use the in-repo example plugins; they run in the "
                    "`all` tox env, where every plugin is installed")
    missing = missing_file(cmd)
    if missing is not None:
        reason = NOT_BUNDLED.get(Path(missing).name)
        assert reason is not None, (
            f"{cmd.id}: {missing} is not in the repository; fix the doc, or list it in "
            "NOT_BUNDLED with the reason")
        pytest.skip(f"needs {missing}: {reason}")
    ws = workspace(workspaces, cmd, tmp_path_factory)
    for before in COMMANDS:  # the block's earlier commands first (their runs, their folders)
        if before is cmd:
            break
        if (before.doc, before.block) == (cmd.doc, cmd.block) and missing_file(before) is None:
            run(before, ws)
    res = run(cmd, ws)
    plugin = re.search(r"no installed \w+ named '(\w+)'.*?\((\w+ is in [^)]*)\)", res.stdout)
    if res.returncode != 0 and plugin is not None:
        pytest.skip(f"the example plugin is not installed: {plugin.group(2)}")
    wants_error = any(ln.startswith("error:") for ln in cmd.output[:1])
    if not wants_error:
        assert res.returncode == 0, f"{cmd.id} exited {res.returncode}:\n{res.stdout}"
    assert "Traceback" not in res.stdout, res.stdout
    assert_shows(cmd.output, res.stdout, ws, cmd.id)
