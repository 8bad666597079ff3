"""`tiaokuai classify`: candidates with evidence, then the decision as the lead endpoint makes it."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from api.cli import app
from tests.conftest import SEED_POLICY

runner = CliRunner()


def classify(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["classify", *args, "--as-of", "2026-11-01", "--policy", str(SEED_POLICY)])
    return result.exit_code, result.output


def test_text_and_place_give_candidates_evidence_and_the_lead() -> None:
    code, out = classify("有人在农田里偷挖砂石", "--place", "莲花镇")
    assert code == 0, out
    assert out.startswith("confidence: ")
    assert "1. WAT-01 河道非法采砂" in out and "site_type=farmland ← `农田`" in out
    assert "lead:      衢州市自然资源和规划局衢江分局 (qj-nrp)" in out and "YJS-SAND-FARMLAND" in out


def test_json_carries_the_intake_block() -> None:
    code, out = classify("横路后村有人往田边倒建筑垃圾", "--json")
    assert code == 0, out
    body = json.loads(out)
    assert body["classification"]["items"][0]["id"] == "ENV-03"
    assert body["decision"]["intake"]["township"]["matched"] == "横路后村"
    assert body["decision"]["rule"]["id"] == "YJS-DUMP-CONSTRUCTION"


def test_without_a_township_the_candidates_still_show() -> None:
    code, out = classify("井盖丢了")
    assert code == 0 and "1. URB-03" in out and "decision:   none" in out


def test_a_place_naming_two_townships_is_an_error() -> None:
    code, out = classify("井盖丢了", "--place", "高家镇和莲花镇交界")
    assert code == 1 and "names 2 townships" in out
