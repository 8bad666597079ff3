"""The case pages render every state a case can be in (dispute open, ruled, extended, closed)."""

from __future__ import annotations

from pathlib import Path

from tests.api.http.test_cases import SAND, event, make_client


def test_case_page_through_a_dispute_and_its_ruling(tmp_path: Path) -> None:
    client, _ = make_client(tmp_path / "pages.sqlite3")
    with client:
        opened = client.post("/v1/cases", json={"case": {**SAND, "attributes": {"site_type": "other"}}, "actor": "gaojia"})
        cid = opened.json()["case_id"]
        assert event(client, cid, kind="return", actor="qj-water", reason="权属不清", claim="qj-nrp").status_code == 200
        page = client.get(f"/cases/{cid}")
        assert page.status_code == 200 and "提交中共衢江区委机构编制委员会办公室裁定中" in page.text and "衢江区水利局" in page.text
        ruled = client.post(f"/v1/cases/{cid}/ruling", json={"actor": "qj-bb", "lead": "qj-nrp", "basis": {"document": "协调会议纪要", "article": "〔2026〕5号"}})
        assert ruled.status_code == 200, ruled.text
        assert event(client, cid, kind="sign", actor="qj-nrp").status_code == 200
        assert event(client, cid, kind="extend", actor="qj-nrp", limit="handle", by="5wd", reason="需等待鉴定").status_code == 200
        page = client.get(f"/cases/{cid}")
        assert page.status_code == 200
        assert "裁定依据: 协调会议纪要 〔2026〕5号" in page.text and "+5wd" in page.text and 'data-kind="ruling"' in page.text
        figures = client.get("/cases/figures")
        assert figures.status_code == 200 and 'data-org="qj-water"' in figures.text
        missing = client.get("/cases/0123456789abcdef012345")
        assert missing.status_code == 404 and "没有案件" in missing.text
        board = client.get("/cases?overdue=true&lead=qj-nrp&state=signed&township=gaojia")
        assert board.status_code == 200 and "没有符合条件的案件" in board.text
