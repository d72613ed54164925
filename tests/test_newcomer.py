"""The newcomer's path: the README's test command is CI's, and a plugin lives outside the repo.

* The README starts with two commands; the second runs the whole test matrix and is exactly
  what ``.ci/run`` runs (one script, ``scripts/test``), and tox fails on a missing interpreter.
* Every scaffold passes the project's ruff configuration, whatever its kind and name length.
* ``hean_framework.testing`` imports without pytest; only the contract suites need it, and
  asking for one without pytest says what to install.
* The issue's "done when" (slow, run once by tox in the ``all`` environment): a strategy
  scaffolded in a folder outside the repository, installed with the kernel into a fresh venv
  (``python -m venv``, ``pip install``), backtests its ``example.yaml`` on the candles shipped
  with the kernel and trades, and its own tests pass there with its ``[test]`` extra.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from hean_framework.cli import make_cli
from hean_framework.kinds import SCAFFOLD_KINDS
from hean_framework.scaffold import MAX_NAME

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    """The lines of the README's first ``bash`` block."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(r"```bash\n(.*?)```", text, re.DOTALL)
    assert m, "README.md has no ```bash block"
    return [line for line in m.group(1).splitlines() if line.strip()]


def test_readme_test_command_is_what_ci_runs() -> None:
    cmds = readme_commands()
    assert len(cmds) == 2, cmds  # the quickstart, then the whole test suite
    test_cmd = cmds[1]
    script = ROOT / test_cmd.split()[0]
    assert script.is_file() and os.access(script, os.X_OK), test_cmd
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
          if line.strip() and not line.lstrip().startswith("#")]
    assert f"exec {test_cmd}" in ci, ci
    assert not any("tox" in line for line in ci), "CI runs tox only through the README command"
    assert "tox run-parallel" in script.read_text()
    ini = configparser.ConfigParser()
    ini.read(ROOT / "tox.ini")
    assert ini.get("tox", "skip_missing_interpreters") == "false"


def _names(kind: str) -> list[str]:
    return [f"my_{kind}", (f"{kind}_" + "x" * MAX_NAME)[:MAX_NAME]]


@pytest.mark.parametrize("kind", SCAFFOLD_KINDS)
def test_every_scaffold_passes_the_project_ruff_config(tmp_path: Path, kind: str) -> None:
    """Short and longest names; ruff runs from the project root with the project's config, as
    the lint environment sees a plugin scaffolded into ``plugins/``."""
    for name in _names(kind):
        r = CliRunner().invoke(make_cli(), ["plugins", "new", name, "--kind", kind,
                                            "--dir", str(tmp_path)])
        assert r.exit_code == 0, r.output
    r = CliRunner().invoke(make_cli(), ["plugins", "new", "y" * (MAX_NAME + 1), "--kind", kind,
                                        "--dir", str(tmp_path)])
    assert r.exit_code != 0 and f"at most {MAX_NAME}" in r.output
    res = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--config",
                          str(ROOT / "pyproject.toml"), str(tmp_path)],
                         cwd=ROOT, capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stdout + res.stderr


def test_testing_kit_imports_without_pytest() -> None:
    code = (
        "import sys\n"
        "sys.modules['pytest'] = None  # as if pytest were not installed\n"
        "import hean_framework.testing as t\n"
        "assert next(t.sample_bars(1)).close > 0\n"
        "try:\n"
        "    from hean_framework.testing import StrategyContract\n"
        "except ImportError as e:\n"
        "    print(e)\n"
        "else:\n"
        "    raise SystemExit('the contract suite imported without pytest')\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "pytest is not installed" in res.stdout and "[test]" in res.stdout, res.stdout


# --------------------------------------------------------------------------- the slow one


def _copy_kernel(dest: Path) -> Path:
    """The kernel's source as a checkout has it (package, pyproject, README), away from the
    working tree: its build writes nothing into the repository."""
    dest.mkdir()
    shutil.copy2(ROOT / "pyproject.toml", dest)
    shutil.copy2(ROOT / "README.md", dest)
    shutil.copytree(ROOT / "hean_framework", dest / "hean_framework",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest


class Shell:
    """Runs commands in a fresh venv's environment; keeps the time of each step."""

    def __init__(self, venv: Path) -> None:
        self.bin = venv / "bin"
        env = {k: v for k, v in os.environ.items()
               if k not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}
               and not k.startswith(("PYTEST_", "HEAN_"))}
        env["PATH"] = os.pathsep.join([str(self.bin), env.get("PATH", "")])
        env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
        env["MPLBACKEND"] = "Agg"
        self.env = env
        self.times: dict[str, float] = {}

    def run(self, step: str, *args: str, cwd: Path, ok: bool = True,
            timeout: float = 900) -> subprocess.CompletedProcess[str]:
        t0 = time.perf_counter()
        res = subprocess.run(list(args), cwd=cwd, env=self.env, capture_output=True, text=True,
                             timeout=timeout, check=False)
        self.times[step] = round(time.perf_counter() - t0, 1)
        if ok:
            assert res.returncode == 0, f"{step}: {args}\n{res.stdout}\n{res.stderr}"
        return res


@pytest.mark.slow
def test_a_plugin_scaffolded_outside_the_repo_installs_backtests_and_tests_in_a_fresh_venv(
        tmp_path: Path) -> None:
    kernel = _copy_kernel(tmp_path / "hean")
    work = tmp_path / "elsewhere"  # the newcomer's own folder, not in the repository
    work.mkdir()
    venv = tmp_path / "venv"
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    sh = Shell(venv)
    py = str(sh.bin / "python")

    sh.run("install kernel", py, "-m", "pip", "install", "-q", str(kernel), cwd=work)
    # the kernel alone has no pytest: the testing kit imports, a contract suite says why not
    sh.run("kit without pytest", py, "-c", "import hean_framework.testing", cwd=work)
    res = sh.run("suite without pytest", py, "-c",
                 "from hean_framework.testing import StrategyContract", cwd=work, ok=False)
    assert res.returncode != 0 and "pytest is not installed" in res.stderr, res.stderr

    sh.run("scaffold", str(sh.bin / "hean"), "plugins", "new", "my_rsi", "--kind", "strategy",
           "--dir", ".", cwd=work)
    plugin = work / "hean-my-rsi"
    for f in ("pyproject.toml", "tox.ini", "README.md", "example.yaml"):
        assert (plugin / f).is_file(), f
    assert "pip install -e '.[test]'" in (plugin / "README.md").read_text()

    sh.run("install plugin[test]", py, "-m", "pip", "install", "-q", "-e", f"{plugin}[test]",
           cwd=work)
    listed = json.loads(sh.run("plugins list", str(sh.bin / "hean"), "plugins", "list",
                               "--json", cwd=work).stdout)
    assert any(p["name"] == "my_rsi" and p["distribution"] == "hean-my-rsi" for p in listed)

    out = tmp_path / "run"
    sh.run("backtest", str(sh.bin / "hean"), "backtest", "example.yaml", "--out", str(out),
           cwd=plugin)
    metrics = json.loads((out / "report.json").read_text())["metrics"]
    assert metrics["trades"] > 0 and metrics["fills"] > 0, metrics

    res = sh.run("plugin's tests", str(sh.bin / "pytest"), "-q", "-p", "no:cacheprovider",
                 cwd=plugin)
    assert re.search(r"\d+ passed", res.stdout) and "failed" not in res.stdout, res.stdout
    total = round(time.perf_counter() - t0, 1)
    print(f"newcomer path: {total} s; steps: {sh.times}")
