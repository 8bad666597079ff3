"""The pages in a real headless Chromium against a real uvicorn server on 127.0.0.1.

Debian's chromium (`make test` installs it) is driven through playwright's Python package;
playwright's own browser downloads are never used. Each test saves a screenshot of the
page it checked under out/screenshots/.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, Page, sync_playwright

from api.http.app import create_app
from api.settings import Settings
from api.tokens import AuthConfig
from engine.runtime import Runtime
from tests.conftest import ROOT, SEED_POLICY
from tests.support.policy_edit import copy_with_edit

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = ROOT / "out" / "screenshots"


@pytest.fixture(scope="module")
def cucumber(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real cucumber JSON: the sand-mining scenarios (采砂) run by pytest-bdd in a separate process."""
    path = tmp_path_factory.mktemp("run") / "cucumber.json"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/features/test_features.py", "-k", "采砂", f"--cucumberjson={path}"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    return path


@pytest.fixture(scope="module")
def edited_policy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seed policy as an author left it on disk: WAT-02 now led by the enforcement bureau."""
    return copy_with_edit(SEED_POLICY, tmp_path_factory.mktemp("disk") / "policy", "matters", "WAT-02", lead="qj-enforce")


OPS_TOKEN = "ops-token-for-the-browser-tests-0000"
OPS_TOKENS = f'{{"tokens": [{{"name": "ops", "token": "{OPS_TOKEN}", "scopes": ["decisions:read", "policy:admin"]}}]}}'
OPS = {"Authorization": f"Bearer {OPS_TOKEN}"}


@pytest.fixture(scope="module")
def server(seed_runtime: Runtime, cucumber: Path, edited_policy: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """uvicorn serving the app on 127.0.0.1 at a free port; the active policy is the seed."""
    db = tmp_path_factory.mktemp("db") / "log.sqlite3"
    auth = AuthConfig.parse(OPS_TOKENS, "tests")
    app = create_app(Settings(edited_policy, f"sqlite:///{db}", features_dir=ROOT / "features", cucumber_json=cucumber, auth=auth), runtime=seed_runtime)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    uv = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    uv.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: run `make test`, which installs it (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN", java_script_enabled=False)
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    yield opened
    context.close()


def sign_in(page: Page, server: str, next_path: str) -> None:
    """Sign in through the form, as a person would: the browser keeps only the session cookie."""
    page.goto(f"{server}/signin?next={next_path}")
    page.fill("#f-token", OPS_TOKEN)
    page.click("#signin-submit")
    assert page.url == f"{server}{next_path}"
    cookie = next(c for c in page.context.cookies() if c["name"] == "tiaokuai_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and OPS_TOKEN not in cookie["value"]


def shot(page: Page, name: str, full_page: bool = True) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page, timeout=90_000)  # a long page on a busy machine


def row_ids(page: Page) -> list[str]:
    return [str(r.get_attribute("data-id")) for r in page.locator("#list-table tbody tr").all()]


def test_list_loads_and_filters(page: Page, server: str, seed_runtime: Runtime) -> None:
    page.goto(f"{server}/list?as_of=")
    assert page.locator("h1").inner_text() == "属地管理事项责任清单"
    assert len(row_ids(page)) == len(seed_runtime.policy.matters)
    shot(page, "list")

    page.select_option("select[name=domain]", "water")
    page.click("button[type=submit]")  # a plain GET form: works without JavaScript
    page.wait_for_url("**/list?*domain=water*")
    water = sorted(m.id for m in seed_runtime.policy.matters.values() if m.domain == "water")
    assert sorted(row_ids(page)) == water
    assert page.locator("select[name=domain]").input_value() == "water"

    page.fill("input[name=q]", "盗采河砂")
    page.click("button[type=submit]")
    page.wait_for_url("**q=*")
    assert row_ids(page) == ["WAT-01"]
    assert page.locator("#count").inner_text().startswith("共 1 项")


def test_township_filter_shows_who_leads_there(page: Page, server: str) -> None:
    page.goto(f"{server}/list?as_of=2026-11-01")
    page.fill("input[name=q]", "农村违法建房")
    page.select_option("select[name=township]", "lianhua")
    page.click("button[type=submit]")
    page.wait_for_url("**township=lianhua*")
    lead = page.locator('#list-table tr[data-id="LND-02"] td.lead')
    assert lead.inner_text().splitlines()[0] == "莲花镇综合行政执法队"
    note = lead.locator("a")
    assert note.inner_text() == "依「已赋权乡镇的农村违法建房由综合执法队查处」"  # the clause's title, not its id
    assert note.get_attribute("href") == "/clauses/DEL-BUILD-TEAM"
    shot(page, "list-township")


def test_clause_page_links_scenarios_with_their_results(page: Page, server: str) -> None:
    page.goto(f"{server}/list?as_of=")
    page.click('#list-table tr[data-id="WAT-01"] td.name a')
    page.wait_for_url("**/clauses/WAT-01")
    assert page.locator("#clause-title").inner_text() == "河道非法采砂"
    page.click('a[href="/clauses/YJS-SAND-RIVER"]')
    page.wait_for_url("**/clauses/YJS-SAND-RIVER")
    assert "现场类型" in page.locator("#conditions").inner_text()
    scenario = page.locator("#scenarios .scenario").first
    assert "河道管理范围内的非法采砂" in scenario.inner_text()
    assert scenario.get_attribute("data-status") == "passed"  # from the real pytest-bdd run
    assert "通过" in scenario.locator(".badge").first.inner_text()
    shot(page, "clause")
    anchor = str(scenario.get_attribute("id"))
    page.click(f'a[href="/report#{anchor}"]')
    page.wait_for_url(f"**/report#{anchor}")
    assert page.locator(f"#{anchor}").is_visible()
    assert page.locator('#coverage tr[data-id="YJS-SAND-RIVER"]').get_attribute("data-status") == "passed"
    shot(page, "report")


def test_playground_form_gives_the_decision_and_why(page: Page, server: str) -> None:
    page.goto(f"{server}/playground")
    assert page.locator("select[name^='attr.'], input[name^='attr.']").count() == 0  # 清单外: nothing to ask
    page.select_option("#f-matter", "WAT-01")
    page.select_option("#f-township", "gaojia")
    page.fill("#f-as_of", "2026-11-01")
    page.click("#show-attributes")  # a GET with the chosen matter: its own attributes, no JavaScript
    page.wait_for_url("**/playground?*matter=WAT-01*")
    asked = {str(e.get_attribute("name")) for e in page.locator("select[name^='attr.'], input[name^='attr.']").all()}
    assert asked == {"attr.site_type", "attr.severity", "attr.cross_township", "attr.other_township", "attr.violent_resistance"}
    assert page.locator("#f-township").input_value() == "gaojia" and page.locator("#f-as_of").input_value() == "2026-11-01"
    page.select_option("#f-site_type", "river")
    page.click("#decide")
    page.wait_for_selector("#decision")
    assert page.locator("#lead").get_attribute("data-id") == "qj-water"
    assert page.locator("#lead b").inner_text() == "衢江区水利局"
    assert page.locator("#rule").get_attribute("data-id") == "YJS-SAND-RIVER"
    assert page.locator('#explanation tr[data-rule="WAT-01"]').get_attribute("data-result") == "lost"
    assert "高家镇" in page.locator("#supports").inner_text()
    assert page.locator("#f-site_type").input_value() == "river"  # the form keeps what was entered
    shot(page, "playground")

    page.fill("#f-severity", "4")
    page.click("#decide")
    page.wait_for_selector("#decision")
    assert page.locator("#rule").get_attribute("data-id") == "ESC-SEVERE"


def test_playground_text_box_shows_candidates_evidence_and_the_decision(page: Page, server: str) -> None:
    page.goto(f"{server}/playground?as_of=2026-11-01")
    page.fill("#f-text", "横路后村村口有人往田边倒建筑垃圾和渣土")
    page.select_option("#f-township", "")
    page.click("#decide")
    page.wait_for_selector("#intake")
    assert page.locator("#intake-matter").get_attribute("data-id") == "ENV-03"
    assert page.locator("#intake-township").get_attribute("data-id") == "gaojia"
    assert page.locator("#intake-candidates tr[data-id='ENV-03'] .evidence").count() > 0
    assert page.locator("#lead").get_attribute("data-id") == "qj-enforce"
    assert page.locator("#f-text").input_value().startswith("横路后村")  # the form keeps the words
    shot(page, "playground-text")


def test_playground_outside_the_list_is_dispatched(page: Page, server: str) -> None:
    page.goto(f"{server}/playground?township=zhangtan&as_of=2026-11-01")
    assert page.locator("#f-matter").input_value() == ""  # (清单外 / 未指明事项)
    page.click("#decide")
    page.wait_for_selector("#decision")
    assert page.locator("#decision").get_attribute("data-outcome") == "dispatch"
    assert page.locator("#outcome").inner_text() == "兜底派单"
    assert page.locator("#lead").get_attribute("data-id") == "qj-centre"


def test_the_form_refuses_a_severity_out_of_range(page: Page, server: str) -> None:
    page.goto(f"{server}/playground?matter=WAT-01&township=gaojia&as_of=2026-11-01")
    page.fill("#f-severity", "9")
    page.click("#decide")  # the browser's own constraint check (max=4) keeps the form from being sent
    assert page.locator("#f-severity").evaluate("el => el.validity.rangeOverflow") is True
    assert page.locator("#decision").count() == 0


def test_clause_page_shows_a_decision_just_logged(page: Page, server: str) -> None:
    body = {"matter": "WAT-01", "township": "gaojia", "attributes": {"site_type": "river"}, "as_of": "2026-11-01"}
    decision_id = httpx.post(f"{server}/v1/cases/lead", json=body, timeout=30).json()["decision_id"]
    page.goto(f"{server}/clauses/YJS-SAND-RIVER")
    assert page.locator("#decisions tr").count() == 0  # case data only for `decisions:read`
    sign_in(page, server, "/clauses/YJS-SAND-RIVER")
    row = page.locator("#decisions tr", has=page.locator(f'a[href="/decisions/{decision_id}"]'))
    assert row.count() == 1
    assert "高家镇" in row.inner_text() and "胜出" in row.inner_text()
    assert page.locator("#decisions th").first.inner_text() == "时间(北京时间)"
    logged = httpx.get(f"{server}/v1/decisions/{decision_id}", headers=OPS, timeout=30).json()["time"]  # UTC
    shown = datetime.strptime(row.locator("td").first.inner_text(), "%Y-%m-%d %H:%M:%S")
    assert shown - datetime.fromisoformat(logged.replace("Z", "")).replace(microsecond=0) == timedelta(hours=8)
    shot(page, "clause-decisions")
    page.click(f'a[href="/decisions/{decision_id}"]')  # the id opens the decision's own page
    page.wait_for_url(f"**/decisions/{decision_id}")
    assert page.locator("#lead b").inner_text() == "衢江区水利局"


def test_a_decision_link_without_sign_in_asks_for_it(page: Page, server: str) -> None:
    body = {"matter": "WAT-01", "township": "gaojia", "attributes": {"site_type": "river"}, "as_of": "2026-11-01"}
    decision_id = httpx.post(f"{server}/v1/cases/lead", json=body, timeout=30).json()["decision_id"]
    page.goto(f"{server}/decisions/{decision_id}")  # as a link from elsewhere would open it
    assert "/signin?next=/decisions/" in page.url  # the Chinese sign-in page, not JSON
    assert "衢江区水利局" not in page.locator("main").inner_text()
    assert "decisions:read" in page.locator("#needed").inner_text() and "查看决策记录" in page.locator("#needed").inner_text()
    shot(page, "decision-signin")
    page.fill("#f-token", OPS_TOKEN)
    page.click("#signin-submit")
    page.wait_for_url(f"**/decisions/{decision_id}")
    assert page.locator("#decision-id").inner_text() == decision_id


def test_the_decision_page_reads_in_chinese(browser: Browser, server: str) -> None:
    body = {"matter": "WAT-01", "township": "gaojia", "attributes": {"site_type": "river", "cross_township": False, "severity": 2},
            "as_of": "2026-11-01", "reference": "12345-20261101-0042"}  # fmt: skip
    decision_id = httpx.post(f"{server}/v1/cases/lead", json=body, timeout=30).json()["decision_id"]
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN", java_script_enabled=False, extra_http_headers=OPS)
    page = context.new_page()
    try:
        page.goto(f"{server}/decisions/{decision_id}")
        record = page.locator("#decision-record").inner_text()
        for shown in ("12345-20261101-0042", "WAT-01 河道非法采砂", "高家镇", "现场类型: 河道管理范围内", "跨乡镇(街道): 否", "严重程度(1-4): 2", "(北京时间)"):
            assert shown in record, shown
        assert page.locator("#outcome").inner_text() == "已确定牵头单位"
        assert page.locator("#lead b").inner_text() == "衢江区水利局"
        assert "落选" in page.locator("#explanation").inner_text()
        text = page.locator("main").inner_text()
        assert "cross_township" not in text and "False" not in text and "site_type" not in text
        shot(page, "decision")
    finally:
        context.close()


def test_the_report_says_what_a_status_means_and_when_it_was_made(page: Page, server: str) -> None:
    page.goto(f"{server}/report")
    note = page.locator("#results-note").inner_text()
    assert "未运行" in note and "tiaokuai report --run" in note and "北京时间" in note
    made = datetime.strptime(page.locator("#results-time").inner_text(), "%Y-%m-%d %H:%M:%S")
    assert abs(made - (datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=8))) < timedelta(hours=1)  # this module's run, China time
    assert re.search(r"本报告列出 \d+ 个功能文件中的 \d+ 个场景", page.locator("#report-about").inner_text())
    shot(page, "report-legend", full_page=False)


def test_the_list_says_what_its_downloads_hold(page: Page, server: str) -> None:
    page.goto(f"{server}/list?q=采砂&as_of=2026-11-01")
    note = page.locator("#download-note").inner_text()
    assert "上表筛选出的 1 个事项" in note and "只含 2026-11-01 当日有效的事项" in note
    shot(page, "list-downloads", full_page=False)


def test_diff_page_shows_the_impact_of_the_edit_on_disk(page: Page, server: str) -> None:
    page.goto(f"{server}/diff")
    assert "/signin?next=/diff" in page.url  # operators only: the page asks to sign in
    sign_in(page, server, "/diff")
    assert page.locator("#f-base").input_value() == "active"
    assert page.locator("#f-head").input_value() == "disk"
    assert page.locator('#clause-changes tr[data-id="WAT-02"] td').first.inner_text() == "修改"
    changed = int(page.locator("#changed-count").inner_text())
    groups = page.locator("#change-groups tbody tr")
    assert changed == sum(int(str(groups.nth(i).get_attribute("data-cases"))) for i in range(groups.count())) > 0
    assert {groups.nth(i).get_attribute("data-matter") for i in range(groups.count())} == {"WAT-02"}
    assert "衢江区综合行政执法局" in groups.first.locator("td.added").inner_text()  # the new lead
    shot(page, "diff")
