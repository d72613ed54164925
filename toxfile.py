"""In-tree tox plugin: one environment per plugin folder, found on disk.

Every folder under ``plugins/`` (and ``examples/plugins/``) with a ``pyproject.toml`` becomes a
tox environment named after the folder.  It installs only the kernel (the project package) and
that plugin, and runs that plugin's own tests except those marked ``slow``.  The ``all``
environment installs every plugin and runs the kernel's tests and the plugins' slow ones.
New plugin folders join the matrix with no list to edit.

Interpreters: the matrix needs python3.11, 3.12 and 3.13.  Besides ``PATH``, tox searches the
versions pyenv installed (``$PYENV_ROOT/versions/3.*/bin``, appended to ``PATH`` for this tox
run: pyenv's shims only answer for the selected versions), and never downloads one
(``UV_PYTHON_DOWNLOADS=never`` unless set otherwise).  A missing interpreter fails its
environment (``skip_missing_interpreters = false`` in tox.ini), so a run that passes ran them all.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from tox.config.loader.memory import MemoryLoader
from tox.config.sets import ConfigSet, EnvConfigSet
from tox.config.types import EnvList
from tox.plugin import impl
from tox.session.state import State

ROOT = Path(__file__).resolve().parent
PLUGIN_DIRS = ("plugins", "examples/plugins")


def plugin_folders() -> dict[str, Path]:
    """Folder name -> path of every plugin distribution in the repository."""
    out: dict[str, Path] = {}
    for parent in PLUGIN_DIRS:
        base = ROOT / parent
        if base.is_dir():
            for p in sorted(base.iterdir()):
                if (p / "pyproject.toml").is_file():
                    out[p.name] = p
    return out


def pyenv_interpreter_dirs() -> list[str]:
    """``bin`` folders of the CPython 3 versions pyenv installed (none without pyenv)."""
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    return [str(v / "bin") for v in sorted((root / "versions").glob("3.*"))
            if (v / "bin").is_dir()]


def expose_interpreters() -> None:
    """Let tox (and uv, which it runs) find pyenv's interpreters; never download one."""
    os.environ.setdefault("UV_PYTHON_DOWNLOADS", "never")
    path = os.environ.get("PATH", "").split(os.pathsep)
    extra = [d for d in pyenv_interpreter_dirs() if d not in path]
    if extra:
        os.environ["PATH"] = os.pathsep.join([*path, *extra])


def in_repo_dependencies(path: Path, folders: dict[str, Path]) -> list[Path]:
    """Folders of the in-repo plugins ``path``'s pyproject names in its dependencies or
    optional dependencies (e.g. ``hean-market-analyzers``): they are not on the package index,
    so the plugin's own env installs them from here (and, recursively, theirs)."""
    import re
    import tomllib

    seen: list[Path] = []
    todo = [path]
    while todo:
        data = tomllib.loads((todo.pop() / "pyproject.toml").read_text(encoding="utf-8"))
        project = data.get("project", {})
        reqs = list(project.get("dependencies", []))
        for extra in project.get("optional-dependencies", {}).values():
            reqs.extend(extra)
        for req in reqs:
            dist = re.split(r"[\s\[<>=!~;]", req.strip(), maxsplit=1)[0].lower()
            dep = folders.get(dist.replace("_", "-"))
            if dep is not None and dep != path and dep not in seen:
                seen.append(dep)
                todo.append(dep)
    return seen


@impl
def tox_extend_envs() -> Iterable[str]:
    """Make one environment per plugin folder known to tox."""
    return tuple(plugin_folders())


@impl
def tox_add_core_config(core_conf: ConfigSet, state: State) -> None:
    """Run the plugin environments by default too (after the ones listed in tox.ini); find
    pyenv's interpreters."""
    import configparser

    expose_interpreters()

    ini = configparser.ConfigParser()
    ini.read(ROOT / "tox.ini")
    listed = ini.get("tox", "env_list", fallback="").split()
    extra = [n for n in plugin_folders() if n not in listed]
    core_conf.loaders.insert(0, MemoryLoader(env_list=EnvList([*listed, *extra])))


@impl
def tox_add_env_config(env_conf: EnvConfigSet, state: State) -> None:
    """Point plugin environments at their folder; give ``all`` every plugin."""
    folders = plugin_folders()
    name = env_conf.name
    if name in folders:
        path = folders[name]
        env_conf.loaders.insert(0, MemoryLoader(
            deps=["pytest>=8.0", "hypothesis>=6.100", str(ROOT), str(path),
                  *map(str, in_repo_dependencies(path, folders))],
            commands=[f"pytest -q -p no:cacheprovider -m 'not slow' {path / 'tests'}"],
            description=f"the {name} plugin alone, with only the kernel beside it (its slow "
                        "tests run in the all environment)",
        ))
    elif name == "all":
        env_conf.loaders.insert(0, MemoryLoader(
            deps=["pytest>=8.0", "hypothesis>=6.100", str(ROOT), *map(str, folders.values())],
        ))
