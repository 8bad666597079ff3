"""The HTML pages through the ASGI app: filters, clause pages, the playground, downloads, errors."""

from __future__ import annotations

import html
import io
import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
from fastapi.testclient import TestClient
from httpx import Response

from api.http.app import create_app
from api.settings import Settings
from api.tokens import SCOPES, AuthConfig
from api.web.wording import SCOPE_ZH
from engine.listing.sheet import HEADER_ROW, LIST_SHEET
from engine.runtime import Runtime
from tests.conftest import ROOT, SEED_POLICY
from tests.support.policy_edit import copy_with_edit


@pytest.fixture(scope="module")
def edited_policy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seed policy as an author left it on disk: WAT-02 now led by the enforcement bureau."""
    return copy_with_edit(SEED_POLICY, tmp_path_factory.mktemp("disk") / "policy", "matters", "WAT-02", lead="qj-enforce")


OPS_TOKEN = "ops-token-for-the-page-tests-00000000"
OPS = {"Authorization": f"Bearer {OPS_TOKEN}"}
OPS_TOKENS = f'{{"tokens": [{{"name": "ops", "token": "{OPS_TOKEN}", "scopes": ["decisions:read", "policy:admin"]}}]}}'


@pytest.fixture(scope="module")
def web(seed_runtime: Runtime, edited_policy: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The app serving the seed policy, with the edited copy as its policy directory on disk."""
    tmp = tmp_path_factory.mktemp("web")
    settings = Settings(edited_policy, f"sqlite:///{tmp / 'log.sqlite3'}", features_dir=ROOT / "features", cucumber_json=tmp / "absent.json",
                        auth=AuthConfig.parse(OPS_TOKENS, "tests"))
    with TestClient(create_app(settings, runtime=seed_runtime), headers=OPS) as client:
        yield client


def csrf_token(client: TestClient) -> str:
    """The CSRF field of a page's forms (the client keeps the matching cookie)."""
    match = re.search(r'name="csrf" value="([0-9a-f]{64})"', client.get("/playground").text)
    assert match is not None
    return match.group(1)


def post_form(client: TestClient, path: str, data: dict[str, str]) -> Response:
    return client.post(path, data={**data, "csrf": csrf_token(client)})


def ids_in(page: str) -> list[str]:
    return re.findall(r'<tr data-id="([^"]+)">', page)


def test_list_shows_every_matter_in_force_in_official_columns(web: TestClient, seed_runtime: Runtime) -> None:
    response = web.get("/list", params={"as_of": "2026-11-01"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = response.text
    for header in ("序号", "事项名称", "领域", "主体责任", "乡镇(街道)职责", "县级部门职责", "牵头部门", "配合部门", "依据", "时限"):
        assert f"<th>{header}</th>" in page
    expected = [m.id for m in seed_runtime.policy.matters.values() if m.in_force(date(2026, 11, 1))]
    assert sorted(ids_in(page)) == sorted(expected)


def test_list_filters_by_domain_and_text(web: TestClient, seed_runtime: Runtime) -> None:
    water = [m.id for m in seed_runtime.policy.matters.values() if m.domain == "water"]
    assert sorted(ids_in(web.get("/list", params={"domain": "water", "as_of": ""}).text)) == sorted(water)
    by_alias = ids_in(web.get("/list", params={"q": "盗采河砂", "as_of": ""}).text)
    assert by_alias == ["WAT-01"]
    assert ids_in(web.get("/list", params={"q": "不存在的事项xyz"}).text) == []


def test_township_view_shows_the_engines_lead_for_that_township(web: TestClient) -> None:
    # LND-02 (农村违法建房): 莲花镇 holds delegated powers, so its own team leads there.
    delegated = web.get("/list", params={"township": "lianhua", "q": "LND-02", "as_of": "2026-11-01"}).text
    assert re.search(
        r'class="lead">莲花镇综合行政执法队<br><span class="muted lead-note"><a href="/clauses/DEL-BUILD-TEAM" title="DEL-BUILD-TEAM">依「已赋权乡镇的农村违法建房由综合执法队查处」</a>',
        delegated,
    )  # the clause's title, not its id
    plain = web.get("/list", params={"q": "LND-02", "as_of": "2026-11-01"}).text
    assert 'class="lead">衢江区综合行政执法局' in plain


def test_bad_filters_are_shown_on_the_page_with_4xx(web: TestClient) -> None:
    response = web.get("/list", params={"domain": "watr"})
    assert response.status_code == 422
    assert 'data-code="unknown_domain"' in response.text and "是否要找 water 水利?" in response.text
    response = web.get("/list", params={"as_of": "2026-13-40"})
    assert response.status_code == 422 and 'data-code="invalid_date"' in response.text
    response = web.get("/list", params={"township": "gaojiazhen"})
    assert response.status_code == 422 and "是否要找 gaojia 高家镇?" in response.text


def test_matter_clause_page(web: TestClient) -> None:
    page = web.get("/clauses/WAT-01").text
    assert '<h1 id="clause-title">河道非法采砂</h1>' in page
    assert "《中华人民共和国水法》" in page and "第三十九条" in page
    assert "matters/water.yaml:2" in page
    for rule in ("YJS-SAND-RIVER", "YJS-SAND-FARMLAND", "ESC-SEVERE"):
        assert f'href="/clauses/{rule}"' in page
    assert 'id="s-water-' in page  # the scenario tagged @rule:WAT-01
    assert "尚无" in page  # no cucumber JSON configured: no results claimed


def test_rule_clause_page_shows_conditions_and_outcome(web: TestClient) -> None:
    page = web.get("/clauses/YJS-SAND-FARMLAND").text
    assert "现场类型</td><td>属于 {耕地、林地}" in page
    assert "事项</td><td>= WAT-01 河道非法采砂" in page
    assert "牵头单位</th><td>衢州市自然资源和规划局衢江分局" in page
    assert "优先级</th><td>10" in page


def test_unknown_clause_is_a_404_page_with_a_hint(web: TestClient) -> None:
    response = web.get("/clauses/WAT-1")
    assert response.status_code == 404
    assert "没有编号为「WAT-1」的条款" in response.text and "是否要找 WAT-01 河道非法采砂?" in response.text


def test_playground_decides_with_the_engine(web: TestClient) -> None:
    form = {"matter": "WAT-01", "township": "gaojia", "as_of": "2026-11-01", "attr.site_type": "river", "attr.severity": ""}
    page = post_form(web, "/playground", form).text
    assert 'id="lead" data-id="qj-water"' in page
    assert 'id="rule" data-id="YJS-SAND-RIVER"' in page
    assert '<tr data-rule="WAT-01" data-result="lost">' in page
    escalated = post_form(web, "/playground", {**form, "attr.severity": "4"}).text
    assert 'id="rule" data-id="ESC-SEVERE"' in escalated


def test_playground_reads_a_ticket_text(web: TestClient) -> None:
    form = {"text": "高家镇衢江边上有人晚上偷偷挖沙", "as_of": "2026-11-01", "matter": "", "township": ""}
    page = post_form(web, "/playground", form).text
    assert 'id="intake" data-confidence="high"' in page
    assert 'id="intake-matter" data-id="WAT-01"' in page and 'id="intake-township" data-id="gaojia"' in page
    assert 'class="intake-attribute" data-id="site_type" data-value="river"' in page
    assert '<tr data-id="WAT-01">' in page and "挖沙 · " in page  # candidates with their evidence
    assert 'id="rule" data-id="YJS-SAND-RIVER"' in page
    outside = post_form(web, "/playground", {**form, "text": "请问图书馆几点开门", "place": "浮石"}).text
    assert 'data-outcome="dispatch"' in outside and "未识别出清单事项" in outside
    ambiguous = post_form(web, "/playground", {**form, "text": "井盖丢了", "place": "高家镇和莲花镇交界"})
    assert ambiguous.status_code == 422 and 'data-code="place_ambiguous"' in ambiguous.text


def test_playground_shows_case_errors_with_4xx(web: TestClient) -> None:
    response = post_form(web, "/playground", {"matter": "WAT-01", "township": "gaojia", "as_of": "2026-11-01", "attr.severity": "很严重"})
    assert response.status_code == 422 and 'data-code="wrong_type"' in response.text
    response = post_form(web, "/playground", {"matter": "WAT-01", "township": "gaojia", "as_of": "2026-11-01", "attr.severity": "9"})
    assert response.status_code == 422 and 'data-code="value_out_of_range"' in response.text
    response = post_form(web, "/playground", {"township": "gaojia", "as_of": "yesterday"})
    assert response.status_code == 422 and 'data-code="invalid_date"' in response.text


def test_downloads(web: TestClient, seed_runtime: Runtime) -> None:
    xlsx = web.get("/list.xlsx", params={"as_of": ""})
    assert xlsx.status_code == 200 and "attachment" in xlsx.headers["content-disposition"]
    ws = openpyxl.load_workbook(io.BytesIO(xlsx.content))[LIST_SHEET]
    assert ws.max_row - HEADER_ROW == len(seed_runtime.policy.matters)
    csv = web.get("/list.csv", params={"domain": "water", "as_of": ""})
    assert csv.content.startswith(b"\xef\xbb\xbf") and csv.text.count("WAT-0") >= 2
    assert "<style>" in web.get("/list.html").text


def test_report_page_without_results(web: TestClient) -> None:
    page = web.get("/report").text
    assert "尚无运行结果" in page
    assert '<tr data-id="YJS-SAND-RIVER" data-status="not run">' in page


def test_static_css_and_home(web: TestClient) -> None:
    assert web.get("/static/tiaokuai.css").headers["content-type"].startswith("text/css")
    response = web.get("/", follow_redirects=False)
    assert response.status_code == 307 and response.headers["location"] == "/list"


def test_settings_default_to_the_repository(tmp_path: Path) -> None:
    settings = Settings.from_env(SEED_POLICY, f"sqlite:///{tmp_path / 'x.sqlite3'}")
    assert settings.features_dir == ROOT / "features"
    assert settings.cucumber_json == ROOT / "out" / "cucumber.json"


def test_grid_criterion_has_a_clause_page_with_its_scenarios(web: TestClient) -> None:
    page = web.get("/clauses/GA-02").text
    assert '<h1 id="clause-title">须属于网格职责范围</h1>' in page
    assert "任务类型属于网格职责范围</td><td>= 否" in page
    assert "不予准入" in page
    assert 'href="/clauses/GA-02">@criterion:GA-02</a>' in page


def test_clause_page_lists_recent_decisions_from_the_log(web: TestClient) -> None:
    body = {"matter": "WAT-01", "township": "gaojia", "attributes": {"site_type": "river"}, "as_of": "2026-11-01"}
    decision_id = web.post("/v1/cases/lead", json=body).json()["decision_id"]
    page = web.get("/clauses/YJS-SAND-RIVER").text
    row = re.search(rf'<tr><td>([^<]+)</td><td class="mono"><a href="/decisions/{decision_id}">.*?</tr>', page)
    assert row is not None, "the logged decision is not on the clause page"
    assert "高家镇" in row.group(0) and "胜出" in row.group(0)
    logged = web.get(f"/v1/decisions/{decision_id}").json()["time"]  # UTC, as the log keeps it
    shown = datetime.strptime(row.group(1), "%Y-%m-%d %H:%M:%S")
    assert shown - datetime.fromisoformat(logged.replace("Z", "")).replace(microsecond=0) == timedelta(hours=8)  # China time
    assert "<th>时间(北京时间)</th>" in page
    lost = re.search(rf'<a href="/decisions/{decision_id}">.*?</tr>', web.get("/clauses/WAT-01").text)
    assert lost is not None and "落选" in lost.group(0)
    assert decision_id not in web.get("/clauses/WAT-02").text


def test_diff_page_shows_what_the_edit_on_disk_would_change(web: TestClient) -> None:
    response = web.get("/diff")
    assert response.status_code == 200
    page = response.text
    assert '<tr class="changed" data-id="WAT-02">' in page
    assert "受变更影响的事项 WAT-02" in page
    groups = re.findall(r'<tr data-matter="([^"]*)" data-township="([^"]*)" data-cases="(\d+)">', page)
    changed = int(re.search(r'id="changed-count">(\d+)<', page).group(1))  # type: ignore[union-attr]
    assert changed == sum(int(n) for _, _, n in groups) > 0 and {m for m, _, _ in groups} == {"WAT-02"}
    rows = re.findall(r'<tr data-matter="([^"]*)" data-township="([^"]*)">', page)
    assert len(rows) == min(changed, 500) and {m for m, _ in rows} == {"WAT-02"}
    assert 'href="/diff?base=active&head=disk&all=1"' in page  # checking every matter is one click away
    # the edit on disk kept the version number: two contents under one version are called out
    notice = re.search(r'<div class="notice" id="same-version">(.*?)</div>', page, re.S)
    assert notice is not None and "2026.11.2" in notice.group(1)
    cases = re.search(r'<table class="official" id="case-changes">.*?</table>', page, re.S)
    assert cases is not None and "严重程度(1-4): " in cases.group(0) and "severity=" not in cases.group(0)
    assert "engine/space.py" not in page and "<td>牵头部门</td>" in page  # the changed field, in Chinese


def test_diff_page_rejects_unknown_versions(web: TestClient) -> None:
    response = web.get("/diff", params={"base": "nope"})
    assert response.status_code == 422 and "没有版本「nope」" in response.text


def test_a_decision_page_in_chinese_behind_the_scope(web: TestClient) -> None:
    body = {"matter": "WAT-01", "township": "gaojia", "attributes": {"site_type": "river", "cross_township": False},
            "as_of": "2026-11-01", "reference": "12345-20261101-0001"}  # fmt: skip
    decision_id = web.post("/v1/cases/lead", json=body).json()["decision_id"]
    signed_out = web.get(f"/decisions/{decision_id}", headers={"Authorization": ""}, follow_redirects=False)
    assert signed_out.status_code == 303 and signed_out.headers["location"] == f"/signin?next=/decisions/{decision_id}&scope=decisions:read"
    signin = web.get(signed_out.headers["location"], headers={"Authorization": ""})
    assert signin.headers["content-type"].startswith("text/html") and "衢江区水利局" not in signin.text
    assert re.search(r'id="needed" data-scope="decisions:read">要打开的页面需要具有 <span class="mono">decisions:read</span> 权限\(查看决策记录', signin.text)
    assert set(SCOPE_ZH) == set(SCOPES)  # every scope a page may ask for is explained
    page = web.get(f"/decisions/{decision_id}")
    assert page.status_code == 200
    for shown in ("牵头判定", "12345-20261101-0001", "WAT-01 河道非法采砂", "高家镇", "衢江区水利局", "已确定牵头单位", "(北京时间)", "YJS-SAND-RIVER", "第 "):
        assert shown in page.text, shown
    record = re.search(r'<table class="kv" id="decision-record">.*?</table>', page.text, re.S)
    assert record is not None and "跨乡镇(街道): 否" in record.group(0) and "cross_township" not in record.group(0) and "False" not in record.group(0)
    missing = web.get("/decisions/0000000000000000000000")
    assert missing.status_code == 404 and 'data-code="unknown_decision"' in missing.text


def test_a_decision_page_needs_decisions_read(seed_runtime: Runtime, tmp_path: Path) -> None:
    """Signed in without `decisions:read`: the Chinese denied page (403), never the record or JSON."""
    tokens = '{"tokens": [{"name": "clerk", "token": "clerk-token-for-the-page-tests-000000", "scopes": ["cases:decide"]}]}'
    settings = Settings(SEED_POLICY, f"sqlite:///{tmp_path / 'log.sqlite3'}", auth=AuthConfig.parse(tokens, "tests"))
    with TestClient(create_app(settings, runtime=seed_runtime), headers={"Authorization": "Bearer clerk-token-for-the-page-tests-000000"}) as client:
        decision_id = client.post("/v1/cases/lead", json={"matter": "WAT-01", "township": "gaojia", "as_of": "2026-11-01"}).json()["decision_id"]
        denied = client.get(f"/decisions/{decision_id}")
        assert denied.status_code == 403 and denied.headers["content-type"].startswith("text/html")
        assert 'data-code="insufficient_scope"' in denied.text and "没有 decisions:read 权限" in denied.text
        assert "衢江区水利局" not in denied.text
        assert client.get(f"/v1/decisions/{decision_id}").status_code == 403  # the API's answer to the same token


def test_playground_asks_only_for_the_matters_own_attributes(web: TestClient) -> None:
    def fields(page: str) -> set[str]:
        return set(re.findall(r'name="attr\.(\w+)"', page))

    sand = fields(web.get("/playground", params={"matter": "WAT-01"}).text)
    assert sand == {"site_type", "severity", "cross_township", "other_township", "violent_resistance"}  # space.relevant_attributes
    outside = web.get("/playground").text
    assert fields(outside) == set() and "清单外案件由县社会治理中心兜底派单" in outside
    assert 'formmethod="get"' in outside  # choosing the matter is a GET: no JavaScript needed


def test_playground_errors_are_chinese(web: TestClient) -> None:
    page = post_form(web, "/playground", {"matter": "WAT-01", "township": "gaojia", "as_of": "2026-11-01", "attr.severity": "9"})
    assert page.status_code == 422
    box = re.search(r'<div class="error-box" id="error".*?</div>', page.text, re.S)
    assert box is not None and 'data-code="value_out_of_range"' in box.group(0)
    assert "「严重程度(1-4)」须在 1 至 4 之间" in box.group(0), box.group(0)
    assert not re.search(r"[A-Za-z]{3,}", re.sub(r"<[^>]+>", "", box.group(0)))  # no English in what the auditor reads
    ambiguous = post_form(web, "/playground", {"township": "", "as_of": "2026-11-01", "text": "井盖丢了", "place": "高家镇和莲花镇交界"}).text
    assert "地点涉及多个乡镇(街道): 高家镇、莲花镇" in ambiguous


def test_list_page_says_what_the_download_holds(web: TestClient) -> None:
    note = re.search(r'<p class="muted" id="download-note">(.*?)</p>', web.get("/list", params={"q": "采砂", "as_of": "2026-11-01"}).text, re.S)
    assert note is not None and "上表筛选出的 1 个事项" in note.group(1) and "只含 2026-11-01 当日有效的事项" in note.group(1)
    every = re.search(r'<p class="muted" id="download-note">(.*?)</p>', web.get("/list", params={"as_of": ""}).text, re.S)
    assert every is not None and "含全部事项(含已失效、未生效)" in every.group(1)
    lists = web.get("/lists", params={"township": "gaojia", "as_of": "2026-11-01"}).text
    assert re.search(r'id="download-note">下载内容: 高家镇在 2026-11-01 的三张清单', lists)


def test_report_explains_the_status_and_where_it_comes_from(web: TestClient) -> None:
    page = web.get("/report").text
    assert 'id="results-note"' in page and "本机尚无运行结果" in page and "tiaokuai report --run" in page
    assert 'id="report-about"' in page and "由规则引擎实际判定" in page


def test_scenario_steps_say_what_their_codes_mean(web: TestClient) -> None:
    page = html.unescape(web.get("/clauses/YJS-SAND-RIVER").text)
    for step, meaning in (('案件属性"site_type"为"river"', "现场类型: 河道管理范围内"), ('结果为"assigned"', "已确定牵头单位"),
                          ('时限"sign"为"1h"', "签收 1小时"), ('规则"WAT-01"的判定为"lost"', "「河道非法采砂」落选")):  # fmt: skip
        assert f'{step} <span class="gloss muted">({meaning})</span>' in page, step
    assert re.search(r'牵头单位为"衢江区水利局"\s*</li>', page)  # names need no gloss
    assert '<span class="gloss muted">' in web.get("/report").text
