"""The case pages in a real headless Chromium against a real uvicorn server: the board's
rows are coloured by deadline, the case page shows the timeline with its clauses."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest
from playwright.sync_api import Page, sync_playwright

from api.http.app import create_app
from api.settings import Settings
from engine.cases import CHINA
from tests.conftest import ROOT, SEED_POLICY, runtime_for
from tests.support.live import serve
from tests.system.test_browser import CHROMIUM, FLAGS

SCREENSHOTS = ROOT / "out" / "screenshots"
NOW = datetime(2026, 11, 2, 12, tzinfo=CHINA)


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    db = tmp_path_factory.mktemp("cases") / "cases.sqlite3"
    app = create_app(Settings(SEED_POLICY, f"sqlite:///{db}"), runtime=runtime_for(SEED_POLICY))
    app.state.clock = lambda: NOW
    with serve(app) as base:
        opened = {}
        for colour, minutes in (("red", 150), ("amber", 55), ("green", 5)):
            at = (NOW - timedelta(minutes=minutes)).isoformat()
            body = {"case": {"matter": "WAT-01", "township": "gaojia", "attributes": {"site_type": "river"}}, "actor": "gaojia", "at": at}
            answer = httpx.post(f"{base}/v1/cases", json=body, timeout=30)
            assert answer.status_code == 201, answer.text
            opened[colour] = answer.json()["case_id"]
        returned = httpx.post(f"{base}/v1/cases/{opened['green']}/events", timeout=30, json={
            "kind": "return", "actor": "qj-water", "reason": "不属于本单位职责", "claim": "qj-nrp",
            "corrections": {"attributes": {"site_type": "farmland"}}, "at": NOW.isoformat()})
        assert returned.status_code == 200, returned.text
        yield base, opened


@pytest.fixture(scope="module")
def page() -> Iterator[Page]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield browser.new_page(viewport={"width": 1200, "height": 900})
        browser.close()


def test_the_board_colours_each_case_by_its_nearest_deadline(board: tuple[str, dict[str, str]], page: Page) -> None:
    base, opened = board
    page.goto(f"{base}/cases")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "cases-board.png"), full_page=True)
    for colour, case_id in opened.items():
        row = page.locator(f'tr[data-case="{case_id}"]')
        assert row.get_attribute("data-colour") == colour
    backgrounds = {c: page.locator(f'tr[data-case="{cid}"]').evaluate("r => getComputedStyle(r).backgroundColor") for c, cid in opened.items()}
    assert len(set(backgrounds.values())) == 3, backgrounds  # three different fills
    assert "已超时" in page.locator(f'tr[data-case="{opened["red"]}"]').inner_text()
    page.select_option("select[name=lead]", "qj-nrp")
    page.click("form#filters button[type=submit]")
    rows = page.locator("#board tbody tr[data-case]")
    assert rows.count() == 1 and rows.first.get_attribute("data-case") == opened["green"]


def test_the_case_page_shows_the_timeline_and_the_clause_behind_each_step(board: tuple[str, dict[str, str]], page: Page) -> None:
    base, opened = board
    page.goto(f"{base}/cases")
    page.click(f'tr[data-case="{opened["green"]}"] a')
    page.wait_for_selector("#timeline")
    page.screenshot(path=str(SCREENSHOTS / "case.png"), full_page=True)
    steps = page.locator("#timeline li")
    assert [steps.nth(i).get_attribute("data-kind") for i in range(steps.count())] == ["open", "return", "reassign"]
    assert "YJS-SAND-FARMLAND" in steps.nth(2).inner_text() and "不属于本单位职责" in steps.nth(1).inner_text()
    assert page.locator("#lead").inner_text() == "衢州市自然资源和规划局衢江分局"


def test_the_figures_page_counts_returns(board: tuple[str, dict[str, str]], page: Page) -> None:
    base, _ = board
    page.goto(f"{base}/cases/figures")
    water = page.locator('#figures tr[data-org="qj-water"]').inner_text()
    assert water.split("\t")[6].strip() == "1", water  # 退单 column
