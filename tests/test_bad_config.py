"""Honest runs under bad input: the run file, ``--set`` and the markets file.

Invariants:

* every bad input is a :class:`~hean_framework.errors.ConfigError` /
  :class:`~hean_framework.errors.HeanError` -- never another exception -- which the ``hean``
  command prints as ``error: ...`` (+ ``hint: ...``) and exits with status 2, without a Python
  traceback;
* each problem line of a ``ConfigError`` starts with the YAML path it is about (or names the
  ``--set`` / environment override or the file);
* a YAML document is refused, quickly, when it repeats a key in one mapping (naming the key and
  both lines), is larger than 1 MiB, expands past the value budget through aliases ("billion
  laughs"), nests too deeply or holds an alias of a node that contains it;
* ``.nan`` / ``.inf`` are refused in the kernel sections (and a strategy's kernel keys);
* a ``--set`` key with an empty part, a negative or non-numeric index is refused with the syntax;
* a backtest that can produce nothing is refused: no enabled strategy (the ``hean`` commands),
  ``symbols`` that no data file provides (listing the data's symbols);
* ``run.name`` is a plain folder name: nothing is written outside ``runs/``;
* a markets file that is not JSON or not a markets document is a ``HeanError`` naming it.

``hean why`` on broken run folders is covered in ``test_why.py``.
"""

from __future__ import annotations

import contextlib
import math
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Literal

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, ValidationError

from hean_framework.cli import make_cli
from hean_framework.config import load_config, load_setup
from hean_framework.config_errors import format_errors
from hean_framework.config_overrides import apply_overrides, set_dotted
from hean_framework.config_yaml import MAX_CONFIG_DEPTH, read_yaml
from hean_framework.errors import ConfigError, HeanError
from hean_framework.feeds.config import CsvFeedConfig, parse_time
from hean_framework.instruments import Instruments
from hean_framework.testing import isolated_plugins

from .conftest import EXAMPLES

QUICKSTART = EXAMPLES / "quickstart.yaml"
BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
#: how a problem line starts: a YAML path, then ": "
PATH_LINE = re.compile(r"^(\(top level\)|[\w\[\]./:-]+): \S")


def quickstart_copy(tmp_path: Path, edit: Any = None, name: str = "run.yaml") -> Path:
    """examples/quickstart.yaml copied to ``tmp_path`` (data paths still resolve to
    examples/data), its text passed through ``edit``."""
    text = QUICKSTART.read_text(encoding="utf-8") + f"\nbase_dir: {EXAMPLES}\n"
    p = tmp_path / name
    p.write_text(edit(text) if edit else text, encoding="utf-8")
    return p


def hean(*args: str, timeout: float = 30,
         cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The real ``hean`` command in a child process."""
    return subprocess.run([sys.executable, "-m", "hean_framework.cli", *args],
                          capture_output=True, text=True, timeout=timeout, cwd=cwd)


def assert_user_error(res: Any, *needles: str) -> str:
    """Exit status 2, ``error:`` on the output, no traceback, every needle present."""
    out = (res.stdout + res.stderr) if isinstance(res, subprocess.CompletedProcess) \
        else res.output
    code = res.returncode if isinstance(res, subprocess.CompletedProcess) else res.exit_code
    assert code == 2, out
    assert "error:" in out and "Traceback" not in out, out
    for n in needles:
        assert n in out, (n, out)
    return out


def problems(exc: pytest.ExceptionInfo[ConfigError]) -> list[str]:
    return list(exc.value.problems)


# --------------------------------------------------------------------------- 1. YAML


def test_duplicate_key_names_the_key_and_both_lines(tmp_path: Path) -> None:
    cfg = quickstart_copy(tmp_path, lambda t: t.replace("  seed: 7\n", "  seed: 7\n  seed: 9\n"))
    res = hean("config", "validate", str(cfg))
    assert_user_error(res, "run.seed: duplicate key 'seed' (line 6 and line 7)", "run.yaml")


def test_duplicate_keys_anywhere_and_merge_keys_may_override(tmp_path: Path) -> None:
    p = tmp_path / "d.yaml"
    p.write_text("data:\n  files:\n    - {kind: bars, kind: trades}\n")
    with pytest.raises(ConfigError) as err:
        read_yaml(p)
    assert problems(err) == ["data.files[0].kind: duplicate key 'kind' (line 3 and line 3); "
                             "YAML would silently keep only the last one -- remove one of them"]
    p.write_text("run: {name: a}\naccount: {capital: 5}\nrun: {name: b}\n")
    with pytest.raises(ConfigError, match=r"run: duplicate key 'run' \(line 1 and line 3\)"):
        read_yaml(p)
    # ``<<`` merges are YAML's way to override keys: not duplicates
    p.write_text("base: &b {x: 1, y: 2}\nuse: {<<: *b, x: 3}\n")
    assert read_yaml(p)["use"] == {"x": 3, "y": 2}


def bomb(levels: int) -> str:
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    p = tmp_path / "bomb.yaml"
    p.write_text(bomb(7))  # 10**7 values once expanded
    t0 = time.perf_counter()
    with pytest.raises(ConfigError) as err:
        load_config(p)
    assert time.perf_counter() - t0 < 1.0
    (msg,) = problems(err)
    assert msg.startswith("a4[7]: the document holds more than 100,000 values with its "
                          "aliases expanded (line 5)")


def test_billion_laughs_through_the_cli(tmp_path: Path) -> None:
    p = tmp_path / "bomb.yaml"
    p.write_text(bomb(9))  # 10**9: the old loader kept find_secrets busy for minutes
    t0 = time.perf_counter()
    res = hean("config", "validate", str(p), timeout=20)
    assert time.perf_counter() - t0 < 10
    assert_user_error(res, "alias bomb", "bomb.yaml")


def test_alias_loop_and_deep_nesting_are_refused(tmp_path: Path) -> None:
    p = tmp_path / "loop.yaml"
    p.write_text("run: &r {name: x, again: *r}\n")
    with pytest.raises(ConfigError, match=r"run.again: alias \*r .* contains it"):
        read_yaml(p)
    p.write_text("run: " + "[" * 200 + "]" * 200 + "\n")
    with pytest.raises(ConfigError, match=f"nested more than {MAX_CONFIG_DEPTH} levels"):
        read_yaml(p)
    # the same for a mapping handed over by a library caller
    deep: dict[str, Any] = {}
    cur = deep
    for _ in range(3000):
        cur["x"] = {}
        cur = cur["x"]
    with pytest.raises(ConfigError, match=f"nested more than {MAX_CONFIG_DEPTH} levels"):
        load_config(raw={"run": {"name": "x"}, "risk": deep})
    shared = [1] * 100
    for _ in range(5):
        shared = [shared] * 100  # shared lists: 10**12 values to walk
    with pytest.raises(ConfigError, match="more than 100,000 values"):
        load_config(raw={"risk": {"x": shared}})


def test_oversized_file_is_refused_before_parsing(tmp_path: Path) -> None:
    p = quickstart_copy(tmp_path, lambda t: t + "# " + "x" * (1 << 21) + "\n")
    t0 = time.perf_counter()
    with pytest.raises(ConfigError, match=r"may be at most 1,048,576 bytes"):
        read_yaml(p)
    assert time.perf_counter() - t0 < 0.2


def test_unquoted_dates_are_times_in_the_file_and_in_set(tmp_path: Path) -> None:
    """YAML reads ``2025-03-13`` as a date object; a run config keeps it as the ISO text its
    time fields parse (the file and ``--set`` alike), so an unquoted date is not refused."""
    p = quickstart_copy(tmp_path, lambda t: t + "\ndata_end_probe: 2025-03-13T08:00:00Z\n")
    assert read_yaml(p)["data_end_probe"] == "2025-03-13T08:00:00Z"
    raw: dict[str, Any] = {"data": {"files": []}}
    apply_overrides(raw, ["data.end=2025-03-13"], {})
    assert raw["data"]["end"] == "2025-03-13"
    _, raw = load_config(quickstart_copy(tmp_path), sets=["data.end=2025-03-13"], environ={})
    data = CsvFeedConfig.model_validate({**raw["data"], "start": None})
    assert parse_time(data.end) == 1_741_824_000_000  # 2025-03-13 00:00 UTC


def test_set_value_with_a_duplicate_key_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"--set risk: the value is refused: a: duplicate key"):
        apply_overrides({}, ["risk={a: 1, a: 2}"], {})


# --------------------------------------------------------------------------- 2. numbers


@pytest.mark.parametrize(("key", "value"), [
    ("account.capital", ".inf"), ("account.capital", ".nan"), ("account.capital", "-.inf"),
    ("report.equity_interval_ms", ".inf"), ("pipeline.max_component_errors", ".inf"),
    ("journal.batch_size", ".nan"), ("venue.instruments.XRP/USDT.maker_fee", ".nan"),
    ("venue.instruments.XRP/USDT.tick_size", ".inf"), ("strategies.s.weight", ".inf"),
    ("strategies.s.min_rr", ".inf"),
])
def test_non_finite_numbers_are_refused_with_their_path(key: str, value: str) -> None:
    raw: dict[str, Any] = {"run": {"mode": "paper"}, "strategies": {"s": {}}}
    apply_overrides(raw, [f"{key}={value}"], {})
    with pytest.raises(ConfigError) as err:
        load_setup(None, isolated_plugins().registry, raw=raw)
    want = {".inf": "inf", "-.inf": "-inf", ".nan": "nan"}[value]
    assert f"{key}: Input should be a finite number (got {want})" in problems(err)


# --------------------------------------------------------------------------- 3. --set syntax


@pytest.mark.parametrize(("item", "needle"), [
    ("=5", "--set '=5': expected dotted.key=value"),
    ("  =5", "expected dotted.key=value"),
    ("run..seed=5", "--set run..seed: empty part in 'run..seed'"),
    (".run=5", "empty part in '.run'"),
    ("run.=5", "empty part in 'run.'"),
    ("data.files[-1].path=x", "--set data.files[-1].path: index [-1]: negative indexes are not "
                              "supported (data.files is a list of 4: its last item is [3])"),
    ("data.files[x].path=x", "index [x] is not a number"),
    ("data.files[0.path=x", "'files[0' is not a key, key[N] or N"),
    ("data.files[9].path=x", "index 9 does not exist (data.files is a list of 4"),
])
def test_bad_set_keys_explain_the_syntax(item: str, needle: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(QUICKSTART, sets=[item], environ={})
    assert needle in str(err.value)
    if "does not exist" not in needle:
        assert "keys separated by single dots" in err.value.hint


def test_bad_set_through_the_cli_and_env() -> None:
    res = CliRunner().invoke(make_cli(), ["config", "validate", str(QUICKSTART),
                                          "--set", "run..seed=5"])
    assert_user_error(res, "empty part", "hint:")
    with pytest.raises(ConfigError, match=r"env HEAN__RUN____SEED: empty part in 'run..seed'"):
        load_config(QUICKSTART, environ={"HEAN__RUN____SEED": "3"})


def test_good_set_keys_still_work() -> None:
    raw: dict[str, Any] = {"data": {"files": [{"path": "a"}]}}
    set_dotted(raw, "data.files[0].path", "b")
    set_dotted(raw, "data.files.1", {"path": "c"})
    set_dotted(raw, "m[0].x", 1)
    assert raw == {"data": {"files": [{"path": "b"}, {"path": "c"}]}, "m": [{"x": 1}]}


# --------------------------------------------------------------------------- 4. empty backtests


@pytest.mark.parametrize(("edit", "why"), [
    (lambda t: t[:t.index("strategies:")] + "strategies: {}\n" + t[t.index("sizers:"):],
     "strategies lists none"),
    (lambda t: t[:t.index("strategies:")] + t[t.index("sizers:"):],
     "there is no strategies section"),
    (lambda t: t.replace("    z_entry: 2.0\n", "    z_entry: 2.0\n    enabled: false\n"),
     "every strategy has enabled: false"),
])
def test_a_backtest_without_strategy_is_refused(tmp_path: Path, edit: Any, why: str) -> None:
    cfg = quickstart_copy(tmp_path, edit)
    res = CliRunner().invoke(make_cli(), ["config", "validate", str(cfg)])
    assert_user_error(res, f"strategies: a backtest needs at least one strategy ({why})")
    res = CliRunner().invoke(make_cli(), ["backtest", str(cfg), "--out", str(tmp_path / "o")])
    assert_user_error(res, "a backtest needs at least one strategy")
    assert not (tmp_path / "o").exists()


def test_library_callers_may_build_a_strategy_less_run() -> None:
    setup = load_setup(QUICKSTART, isolated_plugins().registry, sets=["strategies={}"],
                       environ={})
    assert setup.components["strategy"] == []
    with pytest.raises(ConfigError, match="needs at least one strategy"):
        load_setup(QUICKSTART, isolated_plugins().registry, sets=["strategies={}"],
                   environ={}, need_strategy=True)


def test_strategy_symbols_without_data_are_refused(tmp_path: Path) -> None:
    pytest.importorskip("hean_momentum_trader")
    cfg = quickstart_copy(tmp_path, lambda t: t.replace(
        f"symbols: [{BTC}, {ETH}]", f"symbols: [{BTC}, XRP/USDT:USDT]"))
    res = CliRunner().invoke(make_cli(), ["config", "validate", str(cfg)])
    assert_user_error(res, "strategies.momentum_trader.symbols: no data file provides "
                           f"XRP/USDT:USDT; the data's symbols: {BTC}, {ETH}")
    # a symbol with only funding data cannot trade either
    raw = yaml.safe_load(QUICKSTART.read_text())
    raw["base_dir"] = str(EXAMPLES)
    raw["data"]["files"] = [f for f in raw["data"]["files"]
                            if not (f["kind"] == "bars" and f["symbol"] == ETH)]
    with pytest.raises(ConfigError, match=r"provides ETH/USDT:USDT \(ETH/USDT:USDT: funding "
                                          r"only, no market data\); the data's symbols: BTC"):
        load_setup(None, isolated_plugins("hean_momentum_trader.plugin").registry, raw=raw)


# --------------------------------------------------------------------------- 5. run.name


@pytest.mark.parametrize("name", ["../../../x", "a/b", "a\\b", "..", ".hidden", "", "a" * 101,
                                  "x/../../y", "/abs"])
def test_run_name_is_a_plain_folder_name(name: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(raw={"run": {"name": name}})
    (msg,) = problems(err)
    assert msg.startswith("run.name: it names the folder runs/<name>: use 1-100 letters")


@pytest.mark.parametrize("name", ["quickstart", "my-run_2", "v1.2", "a.b"])
def test_plain_run_names_pass(name: str) -> None:
    assert load_config(raw={"run": {"name": name}})[0].run.name == name


def test_run_name_cannot_escape_runs(tmp_path: Path) -> None:
    pytest.importorskip("hean_momentum_trader")
    res = hean("backtest", str(QUICKSTART), "--no-progress", "--set", "run.name=../esc",
               cwd=tmp_path)
    assert_user_error(res, "run.name: it names the folder runs/<name>")
    assert not (tmp_path / "esc").exists() and not (tmp_path / "runs").exists()


# --------------------------------------------------------------------------- 7. markets file


@pytest.mark.parametrize(("content", "needle"), [
    (b"not json", "not a JSON file"),
    (b"\xff\xfe", "not a JSON file"),
    (b"[1, 2]", "not a markets file of 'binance'"),
    (b'{"format": "hean-markets/1"}', "not a markets file of 'binance' (KeyError"),
    (b'{"format": "hean-markets/1", "markets": {"X/Y": {"tick_size": 1}}}',
     "not a markets file of 'binance' (TypeError"),
    (b'{"BTC/USDT:USDT": 5}', "not a markets file"),
    (b"{}", "no spot or perpetual swap market"),
])
def test_malformed_markets_file_names_the_file(tmp_path: Path, content: bytes,
                                               needle: str) -> None:
    p = tmp_path / "markets.json"
    p.write_bytes(content)
    with pytest.raises(HeanError) as err:
        Instruments.load("binance", [BTC], markets_file=str(p))
    assert f"venue.markets_file {p}: " in err.value.message and needle in err.value.message
    assert "ccxt markets JSON" in err.value.hint


def test_malformed_markets_file_through_the_cli(tmp_path: Path) -> None:
    pytest.importorskip("hean_momentum_trader")
    p = tmp_path / "markets.json"
    p.write_text("{not json")
    res = CliRunner().invoke(make_cli(), ["backtest", str(QUICKSTART), "--out",
                                          str(tmp_path / "o"), "--set",
                                          f"venue.markets_file={p}"])
    assert_user_error(res, f"venue.markets_file {p}: not a JSON file", "hint:")


# --------------------------------------------------------------------------- error lines


def test_error_lines_name_yaml_paths_not_pydantic_labels() -> None:
    class Model(BaseModel):
        model_config = ConfigDict(extra="forbid")
        enabled: bool | Literal["auto"] = "auto"

    with pytest.raises(ValidationError) as err:
        Model.model_validate({"enabled": None})
    assert format_errors(err.value, "small_capital", Model, data={"enabled": None}) == [
        "small_capital.enabled: Input should be a valid boolean, or input should be 'auto' "
        "(got None; allowed: 'auto')"]
    with pytest.raises(ConfigError) as cerr:
        load_config(raw={"run": {1: 2}, "strategies": {3: {}}, 4: 5,
                         "account": {"capital": [1] * 50}})
    assert sorted(problems(cerr)) == [
        "(top level): key 4 must be a string (quote it: '4')",
        "account.capital: Input should be a valid number (got [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, "
        "1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1...)",
        "run: key 1 must be a string (quote it: '1')",
        "strategies: key 3 must be a string (quote it: '3')"]


# --------------------------------------------------------------------------- 8. properties

KERNEL = ["run", "account", "venue", "data", "strategies", "analyzers", "filters", "sizers",
          "gates", "executors", "optimizers", "pipeline", "report", "journal", "plugins",
          "risk", "small_capital", "base_dir"]
SUBKEYS = ["name", "mode", "seed", "capital", "currency", "exchange", "instruments", "files",
           "kind", "symbol", "path", "symbols", "weight", "enabled", "plugin", "feed", "start",
           "end", "html", "batch_size", "writer", "disabled", "fixed_risk", "risk_pct",
           "trade_gate", "plain", "max_component_errors", "BTC/USDT:USDT"]
keys = st.one_of(st.sampled_from(SUBKEYS), st.from_regex(r"[a-z_][a-z0-9_]{0,6}",
                                                         fullmatch=True))
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**12),
                    st.floats(allow_nan=True, allow_infinity=True),
                    st.sampled_from(["", "x", "5m", BTC, "2025-03-10", "../x", "bars"]),
                    st.text(max_size=8))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)), max_leaves=20)
documents = st.dictionaries(st.one_of(st.sampled_from(KERNEL), keys), values, max_size=6)


def _nest(depth: int, as_list: bool) -> Any:
    out: Any = 1
    for _ in range(depth):
        out = [out] if as_list else {"x": out}
    return out


#: mappings/lists nested up to 3000 deep, and a value shared a million times over
monsters = st.one_of(st.builds(_nest, st.integers(1, 3000), st.booleans()),
                     st.integers(4, 6).map(lambda n: _nest_shared(n)))


def _nest_shared(levels: int) -> Any:
    out: Any = ["x"] * 10
    for _ in range(levels):
        out = [out] * 10
    return out


def _quickstart_raw() -> dict[str, Any]:
    raw = yaml.safe_load(QUICKSTART.read_text())
    raw["base_dir"] = str(EXAMPLES)
    return raw


def _at(obj: Any, path: tuple[Any, ...]) -> Any:
    for k in path:
        obj = obj[k]
    return obj


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def mutated_quickstart(draw: st.DrawFn) -> dict[str, Any]:
    """The quickstart with one value replaced (or one key added) anywhere in it."""
    raw = _quickstart_raw()
    path = draw(st.sampled_from(_paths(raw)[1:]))
    cur: Any = raw
    for k in path[:-1]:
        cur = cur[k]
    if draw(st.booleans()):
        cur[path[-1]] = draw(values)
    elif isinstance(cur, dict):
        cur[draw(keys)] = draw(values)
    return raw


_REGISTRY = isolated_plugins().registry


def assert_names_a_yaml_path(line: str, raw: dict[str, Any]) -> None:
    """``line`` starts with a path of ``raw``: every part but the last exists, and the last
    exists or is a (missing) key of a mapping."""
    m = PATH_LINE.match(line)
    assert m, line
    if m.group(1) == "(top level)":
        return
    cur: Any = raw
    parts = re.findall(r"([^.\[\]]+)|\[(\d+)\]", m.group(1))
    for n, (key, index) in enumerate(parts):
        if isinstance(cur, list) and index and int(index) < len(cur):
            cur = cur[int(index)]
            continue
        found = [k for k in cur if str(k) == key] if isinstance(cur, dict) and key else []
        if found:
            cur = cur[found[0]]
            continue
        assert n == len(parts) - 1 and isinstance(cur, dict), (line, m.group(1))


def check_only_config_errors(raw: dict[str, Any], path: Path | None = None) -> None:
    """``load_setup`` succeeds or raises HeanError; ConfigError lines name paths of ``raw``."""
    try:
        setup = load_setup(path, _REGISTRY, raw=None if path else raw, environ={},
                           need_strategy=True)
    except ConfigError as exc:
        assert exc.problems
        for line in exc.problems:
            assert_names_a_yaml_path(line, raw)
    except HeanError:
        pass
    else:  # what loads holds finite numbers in its kernel sections
        dumped = setup.config.model_dump()
        numbers = [x for path in _paths(dumped) if path
                   for x in [_at(dumped, path)] if isinstance(x, float)]
        assert all(math.isfinite(x) for x in numbers), numbers


FAST = settings(max_examples=100, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@FAST
@given(documents)
def test_any_mapping_gives_a_result_or_config_errors_with_paths(raw: dict[str, Any]) -> None:
    check_only_config_errors(raw)


@settings(max_examples=25, deadline=None, database=None)
@given(st.sampled_from(KERNEL), monsters)
def test_deep_or_huge_values_are_config_errors(section: str, value: Any) -> None:
    t0 = time.perf_counter()
    check_only_config_errors({"run": {"mode": "paper"}, section: value})
    assert time.perf_counter() - t0 < 2


@FAST
@given(mutated_quickstart())
def test_a_broken_quickstart_gives_config_errors_with_paths(raw: dict[str, Any]) -> None:
    check_only_config_errors(raw)


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(documents, mutated_quickstart()))
def test_yaml_text_through_the_loader(tmp_path_factory: pytest.TempPathFactory,
                                      raw: dict[str, Any]) -> None:
    p = tmp_path_factory.mktemp("prop") / "run.yaml"
    p.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    check_only_config_errors(raw, p)


YAML_CHARS = st.sampled_from([*"ab1.:-[]{}&*!|>\n '\"#,?<=%@`", "run", "seed", "<<"])


@settings(max_examples=150, deadline=None, database=None)
@given(st.lists(YAML_CHARS, max_size=40).map("".join))
def test_any_text_is_a_run_file_or_a_hean_error(tmp_path_factory: pytest.TempPathFactory,
                                                text: str) -> None:
    p = tmp_path_factory.mktemp("text") / "run.yaml"
    p.write_text(text, encoding="utf-8")
    with contextlib.suppress(HeanError):
        load_setup(p, _REGISTRY, environ={}, need_strategy=True)


@settings(max_examples=100, deadline=None, database=None)
@given(st.text(max_size=60) | st.from_regex(r"[a-z.\[\]0-9-]{0,20}=[\[\]{}a-z0-9:,&*. -]{0,20}",
                                            fullmatch=True))
def test_any_set_item_is_applied_or_refused(item: str) -> None:
    try:
        apply_overrides({"data": {"files": [{"path": "a"}]}}, [item], {})
    except ConfigError as exc:
        assert exc.problems and all(p.startswith("--set ") for p in exc.problems)


def test_plugin_sections_refuse_non_finite_numbers_and_instrument_fees_are_bounded() -> None:
    """``ComponentConfig`` (every plugin's model) refuses .inf/.nan; ``venue.instruments``
    fees are bounded like the venue's own (a 5 = 500 % fee was accepted)."""
    reg = isolated_plugins().registry
    base = {"run": {"mode": "paper"}, "strategies": {}}
    with pytest.raises(ConfigError, match=r"sizers\.fixed_risk\.risk_pct"):
        load_setup(None, reg, raw={**base, "sizers": {"fixed_risk": {"risk_pct": math.inf}}},
                   environ={})
    bad_fee = {"venue": {"instruments": {BTC: {"taker_fee": 5}}}}
    with pytest.raises(ConfigError, match=r"venue\.instruments\.BTC/USDT:USDT\.taker_fee"):
        load_setup(None, reg, raw={**base, **bad_fee}, environ={})
