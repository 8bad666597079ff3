"""Step definitions for the case lifecycle feature (zh-CN Gherkin), through the HTTP API.

Each scenario gets its own app and SQLite file, and a clock the scenario sets ("现在是…"),
so deadlines and colours are checked at the moments the scenario names. Organizations may
be named by id, full name or short name; events by their lifecycle name (签收, 到场报到 …).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pytest_bdd import given, parsers, then, when

from api.http.app import create_app
from api.settings import Settings
from engine.analysis.check import check_files
from engine.cases import CHINA
from engine.lead import Case
from tests.conftest import ROOT, SEED_POLICY, runtime_for
from tests.features.steps.lead import org_id

STATUS = {"进行中": "running", "已超时": "overdue", "按时完成": "met", "超时完成": "late", "改派终止": "cancelled"}


@dataclass
class CaseScenario:
    client: TestClient
    now: datetime = field(default_factory=lambda: datetime(2026, 11, 2, 9, tzinfo=CHINA))
    case: dict[str, Any] | None = None
    response: Any = None

    @property
    def case_id(self) -> str:
        assert self.case is not None, "no case was opened"
        return str(self.case["case_id"])

    def refresh(self) -> dict[str, Any]:
        answer = self.client.get(f"/v1/cases/{self.case_id}")
        assert answer.status_code == 200, answer.text
        self.case = answer.json()
        return self.case

    def deadline(self, name: str) -> dict[str, Any]:
        case = self.refresh()
        runs = [d for d in case["clocks"] if d["name"] == name or d["limit"] == name]
        assert runs, f"no deadline `{name}` on the case: {[d['name'] for d in case['clocks']]}"
        return runs[-1]


@pytest.fixture
def lifecycle(tmp_path: Path) -> Iterator[CaseScenario]:
    runtime = runtime_for(SEED_POLICY)
    app = create_app(Settings(SEED_POLICY, f"sqlite:///{tmp_path / 'cases.sqlite3'}"), runtime=runtime)
    with TestClient(app) as client:
        scenario = CaseScenario(client)
        app.state.clock = lambda: scenario.now
        yield scenario


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=CHINA)


def _happens(ctx: CaseScenario, text: str) -> str:
    """An act "于 …" happens then: the scenario's clock moves on to it."""
    moment = _moment(text)
    ctx.now = max(ctx.now, moment)
    return moment.isoformat()


def _attributes(text: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in filter(None, (p.strip() for p in text.split(","))):
        key, _, value = pair.partition("=")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _event_kind(ctx: CaseScenario, name: str) -> str:
    lifecycle = runtime_for(SEED_POLICY).policy.lifecycle
    assert lifecycle is not None
    for t in lifecycle.transitions:
        if name in (t.event, t.name):
            return t.event
    raise AssertionError(f"no event `{name}` in the lifecycle")


def _org(text: str) -> str:
    return org_id(runtime_for(SEED_POLICY).policy, text)


@given("案件流转使用衢江区示例政策")
def _seed(lifecycle: CaseScenario) -> None:
    assert lifecycle.client.get("/healthz").status_code == 200


@given(parsers.parse('现在是"{moment}"'))
@when(parsers.parse('现在是"{moment}"'))
def _now(lifecycle: CaseScenario, moment: str) -> None:
    lifecycle.now = _moment(moment)


@when(parsers.parse('"{township}"就事项"{matter}"吹哨, 案件属性为"{attributes}"'))
def _whistle(lifecycle: CaseScenario, township: str, matter: str, attributes: str) -> None:
    place = _org(township)
    body = {"case": {"matter": matter, "township": place, "attributes": _attributes(attributes)}, "actor": place}
    answer = lifecycle.client.post("/v1/cases", json=body)
    assert answer.status_code == 201, answer.text
    lifecycle.case = answer.json()


@when(parsers.re(r'"(?P<actor>[^"]+)"于"(?P<at>[^"]+)"(?P<event>签收|联系乡镇|到场报到|办结|回访结案|重新办理)$'))
def _act(lifecycle: CaseScenario, actor: str, at: str, event: str) -> None:
    body = {"kind": _event_kind(lifecycle, event), "actor": _org(actor), "at": _happens(lifecycle, at)}
    lifecycle.response = lifecycle.client.post(f"/v1/cases/{lifecycle.case_id}/events", json=body)
    if lifecycle.response.status_code == 200:
        lifecycle.case = lifecycle.response.json()


@when(parsers.re(
    r'"(?P<actor>[^"]+)"于"(?P<at>[^"]+)"退单, 理由为"(?P<reason>[^"]+)", 认为应由"(?P<claim>[^"]+)"牵头'
    r'(, 更正案件属性为"(?P<attributes>[^"]+)")?$'
))
def _return(lifecycle: CaseScenario, actor: str, at: str, reason: str, claim: str, attributes: str | None) -> None:
    body: dict[str, Any] = {"kind": "return", "actor": _org(actor), "at": _happens(lifecycle, at), "reason": reason, "claim": _org(claim)}
    if attributes:
        body["corrections"] = {"attributes": _attributes(attributes)}
    answer = lifecycle.client.post(f"/v1/cases/{lifecycle.case_id}/events", json=body)
    assert answer.status_code == 200, answer.text
    lifecycle.case = answer.json()


@when(parsers.parse('"{arbiter}"于"{at}"裁定由"{lead}"牵头, 依据"{basis}"'))
def _ruling(lifecycle: CaseScenario, arbiter: str, at: str, lead: str, basis: str) -> None:
    body = {"actor": _org(arbiter), "lead": _org(lead), "at": _happens(lifecycle, at), "basis": {"document": basis}}
    answer = lifecycle.client.post(f"/v1/cases/{lifecycle.case_id}/ruling", json=body)
    assert answer.status_code == 200, answer.text
    lifecycle.case = answer.json()
    lifecycle.response = answer


@then(parsers.parse('案件由"{lead}"牵头, 依据条款"{clause}"'))
def _lead_by(lifecycle: CaseScenario, lead: str, clause: str) -> None:
    case = lifecycle.refresh()
    assert case["lead"]["id"] == _org(lead), case["lead"]
    assert case["rule"]["id"] == clause, case["rule"]


@then(parsers.parse('案件由"{lead}"牵头'))
def _lead(lifecycle: CaseScenario, lead: str) -> None:
    assert lifecycle.refresh()["lead"]["id"] == _org(lead)


@then(parsers.parse('案件状态为"{state}"'))
def _state(lifecycle: CaseScenario, state: str) -> None:
    case = lifecycle.refresh()
    assert state in (case["state"]["name"], case["state"]["id"]), case["state"]


@then(parsers.parse('案件时限"{name}"于"{due}"到期'))
def _due(lifecycle: CaseScenario, name: str, due: str) -> None:
    assert lifecycle.deadline(name)["due_at"] == due


@then(parsers.parse('案件时限"{name}"为"{status}"'))
def _status(lifecycle: CaseScenario, name: str, status: str) -> None:
    assert lifecycle.deadline(name)["status"] == STATUS[status]


@then(parsers.parse('案件时限"{name}"按官方放假调休安排计算'))
def _official(lifecycle: CaseScenario, name: str) -> None:
    assert lifecycle.deadline(name)["calendar"] == "official"


@then(parsers.parse('案件时限"{name}"标明按周一至周五推算'))
def _assumed(lifecycle: CaseScenario, name: str) -> None:
    assert lifecycle.deadline(name)["calendar"] == "weekdays_assumed"
    assert lifecycle.refresh()["calendar"] == "weekdays_assumed"


@then(parsers.parse('办理经过依次为"{names}"'))
def _history(lifecycle: CaseScenario, names: str) -> None:
    assert [e["name"] for e in lifecycle.refresh()["history"]] == names.split("、")


@then(parsers.parse('该操作被拒绝, 状态码 {status:d}, 可办理事项为"{names}"'))
def _refused(lifecycle: CaseScenario, status: int, names: str) -> None:
    answer = lifecycle.response
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert [a["name"] for a in error["allowed"]] == names.split("、"), error


@then(parsers.parse('案件提交"{arbiter}"裁定, 争议期间由"{lead}"继续办理'))
def _disputed(lifecycle: CaseScenario, arbiter: str, lead: str) -> None:
    dispute = lifecycle.refresh()["dispute"]
    assert dispute is not None and dispute["open"], dispute
    assert dispute["arbiter"]["id"] == _org(arbiter)
    assert dispute["handling_meanwhile"]["id"] == _org(lead)
    assert lifecycle.case is not None and lifecycle.case["lead"]["id"] == _org(lead)


def _proposal(lifecycle: CaseScenario) -> dict[str, Any]:
    proposal: dict[str, Any] = lifecycle.response.json()["proposed_rule"]
    return proposal


@then("裁定生成的规则草案经 tiaokuai check 检查无问题")
def _proposal_checks(lifecycle: CaseScenario) -> None:
    proposal = _proposal(lifecycle)
    files = {**runtime_for(SEED_POLICY).policy.files, proposal["file"]: proposal["yaml"]}
    report = check_files(files, full=True)
    assert report.policy is not None and not report.findings, [f.render() for f in report.findings]


@then(parsers.parse('加入该规则草案后, 同类案件由"{lead}"牵头'))
def _proposal_decides(lifecycle: CaseScenario, lead: str, tmp_path: Path) -> None:
    proposal = _proposal(lifecycle)
    policy_dir = tmp_path / "policy"
    for name, text in {**runtime_for(SEED_POLICY).policy.files, proposal["file"]: proposal["yaml"]}.items():
        (policy_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (policy_dir / name).write_text(text, encoding="utf-8")
    case = lifecycle.refresh()
    attributes = {k: v for k, v in proposal["rule"]["when"].items() if k != "matter"}
    decision = runtime_for(policy_dir).decide(
        Case(township=case["township"]["id"], matter=case["matter"]["id"], attributes=attributes, as_of=lifecycle.now.date())
    )
    assert decision.lead.id == _org(lead), decision.lead
    assert decision.rule.id == proposal["id"]


@then(parsers.parse('命令 tiaokuai deadline --start {start} --limit {limit} 输出"{due}"'))
def _cli(start: str, limit: str, due: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "api.cli", "deadline", "--start", start, "--limit", limit],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == due


def _board_item(lifecycle: CaseScenario, query: str = "") -> dict[str, Any] | None:
    answer = lifecycle.client.get(f"/v1/cases{query}")
    assert answer.status_code == 200, answer.text
    return next((i for i in answer.json()["items"] if i["case_id"] == lifecycle.case_id), None)


@then(parsers.parse('看板上该案件为"{colour}"'))
def _colour(lifecycle: CaseScenario, colour: str) -> None:
    item = _board_item(lifecycle)
    assert item is not None and item["colour"] == colour, item


@then(parsers.parse('看板上该案件为"{colour}", 已超时'))
def _overdue(lifecycle: CaseScenario, colour: str) -> None:
    item = _board_item(lifecycle)
    assert item is not None and item["colour"] == colour and item["overdue"], item


@then("看板按\"只看超时\"筛选时列出该案件")
def _overdue_filter(lifecycle: CaseScenario) -> None:
    assert _board_item(lifecycle, "?overdue=true") is not None
    assert _board_item(lifecycle, "?overdue=false") is None


@then("看板页面上该案件标为红色")
def _page(lifecycle: CaseScenario) -> None:
    page = lifecycle.client.get("/cases?overdue=true")
    assert page.status_code == 200, page.text
    assert f'data-colour="red" data-case="{lifecycle.case_id}"' in page.text
