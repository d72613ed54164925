"""The README documents the config model and its example runs.

* every field of ``TwapConfig`` is a row of the parameter table whose default column shows the
  model's default, and every row names a field;
* ``examples/twap.yaml`` runs (momentum_trader + smart_order as the inner executor, skipped
  without them): parents at or above the threshold are sliced, the others go to
  ``smart_order``; every sliced parent is one ``tca`` parent of ``twap`` whose fills are its
  slices', and its row in the ``twap`` section adds up (sent = filled + rejected + open at
  the end; planned = sent + aborted + unsent + merged at send).
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
from hean_twap import TwapConfig

from hean_framework.config_yaml import read_yaml

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
EXAMPLE = ROOT / "examples" / "twap.yaml"


def shown(default: object) -> str:
    if isinstance(default, list):
        return "`[" + ", ".join(map(str, default)) + "]`"
    if isinstance(default, str):
        return f"`{default}`"
    return str(default)


def test_parameter_table_matches_the_model() -> None:
    rows: dict[str, str] = {}
    inside = False
    for line in README.read_text(encoding="utf-8").splitlines():
        if line.startswith("| key | default |"):
            inside = True
            continue
        m = re.match(r"^\| `(\w+)` \| ([^|]+) \|", line)
        if inside and m:
            rows[m.group(1)] = m.group(2).strip()
        elif inside and not line.startswith("|"):
            break
    assert set(rows) == set(TwapConfig.model_fields)
    for name, field in TwapConfig.model_fields.items():
        default = field.default_factory() if field.default_factory else field.default  # type: ignore[call-arg]
        assert rows[name] == shown(default), name


@pytest.mark.skipif(
    importlib.util.find_spec("hean_momentum_trader") is None
    or importlib.util.find_spec("hean_smart_order") is None,
    reason="the example uses momentum_trader and smart_order: pip install -e "
           "plugins/hean-momentum-trader -e plugins/hean-smart-order (the 'example' extra)")
def test_example_yaml_runs(tmp_path: Path) -> None:
    from hean_framework.config import load_setup
    from hean_framework.engine import Engine
    from hean_framework.journal import Journal
    from hean_framework.testing import isolated_plugins

    raw = read_yaml(EXAMPLE)
    raw["base_dir"] = str(EXAMPLE.parent)
    raw.setdefault("report", {})["progress"] = False
    pm = isolated_plugins("hean_twap.plugin", "hean_momentum_trader.plugin",
                          "hean_smart_order.plugin")
    setup = load_setup(None, pm.registry, raw=raw, environ={})
    eng = Engine(setup, pm, out_dir=tmp_path, journal=True, progress=False)
    try:
        res = eng.run()
    finally:
        eng.close()
    twap, tca = res.sections["twap"], res.sections["tca"]
    totals = twap["totals"]
    assert totals["sliced"] >= 5 and totals["inner"] >= 5
    threshold = raw["executors"]["twap"]["threshold_notional"]
    with Journal.open_readonly(tmp_path / "journal.sqlite") as j:
        decisions = [d for d in j.decisions() if d["stage"] == "executor:twap"]
        orders = j.orders()
        fills = j.fills()
    for d in decisions:
        info = d["details"]["twap"]
        assert info["sliced"] == (info["notional"] >= threshold)
        if not info["sliced"]:
            assert info["executor"] == "twap.smart_order" and "smart_order" in d["details"]
    tca_parents = {p["decision_id"]: p for p in tca["parents"]}
    order_decision = {o["order_id"]: o["decision_id"] for o in orders}
    for row in twap["parents"]:
        n = row["slices_planned"]
        assert row["slices_sent"] + row["slices_aborted"] + row["slices_unsent"] \
            + row["slices_merged_at_send"] == n
        assert row["slices_filled"] + row["slices_rejected"] <= row["slices_sent"]
        p = tca_parents.get(row["decision_id"])
        if p is None:
            continue
        assert p["executor"] == "twap"
        mine = [f for f in fills if order_decision.get(f["order_id"]) == row["decision_id"]]
        assert p["fills"] == len(mine)
        if mine:
            assert p["filled_qty"] == pytest.approx(row["filled_qty"], abs=1e-9)
            assert p["is_bps"] == pytest.approx(row["is_total_bps"], abs=1e-4)
