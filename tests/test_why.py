"""``hean why RUN_DIR``: the small_capital_mode block and the whole funnel."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from hean_framework.why import BLOCK_KEYS, why

from .test_gating_e2e import EXAMPLES, run_backtest

FUNNEL_KEYS = ("signals", "passed_filters", "sized", "passed_gates", "orders", "fills",
               "decisions", "stages", "by_strategy")


@pytest.fixture(scope="module")
def run_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    pytest.importorskip("hean_momentum_trader")
    base = tmp_path_factory.mktemp("why")
    run_backtest(EXAMPLES / "small_capital_gating.yaml", base / "on")
    run_backtest(EXAMPLES / "small_capital_gating_nogating.yaml", base / "off")
    return {"on": base / "on", "off": base / "off"}


def test_why_json_has_every_field(run_dirs: dict[str, Path]) -> None:
    res = CliRunner().invoke(why, [str(run_dirs["on"]), "--json"])
    assert res.exit_code == 0, res.output
    data = orjson.loads(res.output)
    blk = data["small_capital_mode"]
    for k in BLOCK_KEYS:
        assert k in blk
    assert blk["enabled"] is True
    assert blk["maker_fill_rate"] is not None
    assert set(blk["decision_counts"]) == {"create", "skip", "block", "total"}
    for k in FUNNEL_KEYS:
        assert k in data["funnel"]
    report = orjson.loads((run_dirs["on"] / "report.json").read_bytes())
    assert report["small_capital_mode"]["decision_counts"] == blk["decision_counts"]


def test_why_human_output(run_dirs: dict[str, Path]) -> None:
    res = CliRunner().invoke(why, [str(run_dirs["on"])])
    assert res.exit_code == 0, res.output
    for word in (*BLOCK_KEYS, "signals", "passed_filters", "sized", "passed_gates", "orders",
                 "fills", "stages", "by_strategy", "EDGE_TOO_LOW_FOR_COST", "momentum_trader"):
        assert word in res.output, word


def test_why_without_gate_uses_journal(run_dirs: dict[str, Path]) -> None:
    res = CliRunner().invoke(why, [str(run_dirs["off"]), "--json"])
    assert res.exit_code == 0, res.output
    blk = orjson.loads(res.output)["small_capital_mode"]
    assert blk["enabled"] is False and blk["source"] == "journal"
    assert blk["decision_counts"]["total"] > 0


def test_why_needs_a_finished_run(tmp_path: Path) -> None:
    res = CliRunner().invoke(why, [str(tmp_path)])
    assert res.exit_code != 0
    assert "report.json" in res.output and "hean backtest" in res.output


# ------------------------------------------------------------------ broken run folders


def why_error(run_dir: Path, *needles: str) -> None:
    """``hean why`` exits with status 2 and ``error:``/``hint:`` lines, no traceback."""
    res = CliRunner().invoke(why, [str(run_dir)])
    assert res.exit_code == 2, res.output
    assert isinstance(res.exception, SystemExit)
    assert "error:" in res.output and "hint:" in res.output and "hean backtest" in res.output
    for n in needles:
        assert n in res.output, (n, res.output)


@pytest.mark.parametrize(("content", "needle"), [
    (b"garbage", "is not a HEAN report: not valid JSON"),
    (b"{}", "is not a HEAN report: 'run' is missing; 'funnel' is missing"),
    (b"[1, 2]", "is not a HEAN report: it holds a JSON list, not an object"),
    (b'{"run": 7, "funnel": {}, "small_capital_mode": 5}',
     "'run' should be an object; 'small_capital_mode' should be an object or null"),
])
def test_why_on_a_garbage_report(tmp_path: Path, content: bytes, needle: str) -> None:
    (tmp_path / "report.json").write_bytes(content)
    why_error(tmp_path, str(tmp_path / "report.json"), needle)


def test_why_on_a_folder_without_report_or_no_folder(tmp_path: Path) -> None:
    why_error(tmp_path, f"{tmp_path / 'report.json'} not found")
    why_error(tmp_path / "nope", f"{tmp_path / 'nope'} does not exist")


@pytest.mark.parametrize(("cut", "needle"), [
    (5000, "database disk image is malformed"), (0, "no such table: decisions"),
    (-1, "file is not a database")])
def test_why_on_a_corrupt_journal(run_dirs: dict[str, Path], tmp_path: Path, cut: int,
                                  needle: str) -> None:
    import shutil

    d = tmp_path / "run"
    shutil.copytree(run_dirs["off"], d)  # no trade gate: the block comes from the journal
    jp = d / "journal.sqlite"
    data = b"this is not sqlite" if cut < 0 else jp.read_bytes()[:cut]
    jp.write_bytes(data)
    why_error(d, f"{jp} is not a readable HEAN journal", needle)


def test_why_block_reasons_are_blocks_and_skip_reasons_are_skips(
        run_dirs: dict[str, Path]) -> None:
    """``POSITION_OPEN`` (a SKIP) used to be listed under the top *block* reasons."""
    import sqlite3

    data = orjson.loads(CliRunner().invoke(why, [str(run_dirs["on"]), "--json"]).output)
    blk = data["small_capital_mode"]
    con = sqlite3.connect(run_dirs["on"] / "journal.sqlite")
    verdicts: dict[str, set[str]] = {}
    for dec, codes in con.execute("SELECT decision, reason_codes FROM decisions "
                                  "WHERE decision != 'CREATE' AND stage != 'exit'"):
        for code in orjson.loads(codes):
            verdicts.setdefault(code, set()).add(dec)
    con.close()
    assert blk["top_block_reasons"] and blk["top_skip_reasons"]
    assert all("BLOCK" in verdicts[r["reason"]] for r in blk["top_block_reasons"])
    assert all("SKIP" in verdicts[r["reason"]] for r in blk["top_skip_reasons"])
    skip_only = {c for c, v in verdicts.items() if v == {"SKIP"}}
    assert not skip_only & {r["reason"] for r in blk["top_block_reasons"]}
    assert sum(r["count"] for r in blk["top_block_reasons"]) <= blk["decision_counts"]["block"]
    assert "validated" in CliRunner().invoke(why, [str(run_dirs["on"])]).output
