"""The case pages: the centre's board coloured by deadline, a case with its timeline, and the
per-department figures (双向互评). They show case data, so they need scope `cases:read`
like the API (open only when TIAOKUAI_AUTH_CASES=open)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from api.http.routes.lifecycle import MAX_OFFSET, CaseIdConvertor  # noqa: F401 - CaseIdConvertor registers the `case_id` path convertor
from api.web.guard import PageRoute
from api.web.render import render
from engine import ErrorCode
from engine.cases import CaseNotFound, board_items, case_view, china_time, department_figures

router = APIRouter(include_in_schema=False, route_class=PageRoute)  # security headers, like every page

STATUS_ZH = {"running": "进行中", "overdue": "已超时", "met": "按时完成", "late": "超时完成", "cancelled": "改派终止"}
ROLE_ZH = {"lead": "牵头部门", "support": "协同部门", "township": "属地乡镇", "centre": "社治中心", "arbiter": "编办"}


def _context(request: Request) -> dict[str, Any]:
    service = request.app.state.cases
    policy = service.chapter()[0]

    def org_name(org_id: str | None) -> str:
        found = policy.organizations.get(org_id or "")
        return found.name if found else (org_id or "—")

    return {"policy": policy, "STATUS_ZH": STATUS_ZH, "ROLE_ZH": ROLE_ZH, "org_name": org_name}


@router.get("/cases", response_class=HTMLResponse)
async def board_page(request: Request) -> HTMLResponse:
    service = request.app.state.cases
    policy, chapter = service.chapter()
    params = request.query_params
    query: dict[str, Any] = {
        "state": params.get("state") or None,
        "lead": params.get("lead") or None,
        "township": params.get("township") or None,
        "overdue": params.get("overdue") == "true",
    }
    offset = min(int(params["offset"]), MAX_OFFSET) if params.get("offset", "").isdigit() else 0
    now = china_time(request.app.state.clock())
    board = await run_in_threadpool(
        board_items, service, now, state=query["state"], lead=query["lead"], township=query["township"],
        overdue=True if query["overdue"] else None, limit=100, offset=offset,
    )
    leads = sorted({o.id: o for o in policy.organizations.values() if not o.is_township}.values(), key=lambda o: o.id)
    next_query = {k: v for k, v in {**query, "overdue": "true" if query["overdue"] else None, "offset": board["next_offset"]}.items() if v}
    return HTMLResponse(render(
        "cases.html", **_context(request), nav="cases", board=board, query=query, error=None,
        states=[s for s in chapter.lifecycle.states if not s.final], leads=leads, townships=policy.townships(),
        warn_percent=round(chapter.lifecycle.warn_at * 100), next_url="/cases?" + urlencode(next_query),
    ))


@router.get("/cases/figures", response_class=HTMLResponse)
async def figures_page(request: Request) -> HTMLResponse:
    service = request.app.state.cases
    now = china_time(request.app.state.clock())
    figures = await run_in_threadpool(department_figures, service, now)
    return HTMLResponse(render("case_figures.html", **_context(request), nav="cases", figures=figures))


@router.get("/cases/{case_id:case_id}", response_class=HTMLResponse)
async def case_page(case_id: str, request: Request) -> HTMLResponse:
    service = request.app.state.cases
    policy, chapter = service.chapter()
    now = china_time(request.app.state.clock())
    try:
        state = await run_in_threadpool(service.state, case_id, chapter)
    except CaseNotFound:
        page = render("not_found.html", **_context(request), nav="cases", code=ErrorCode.CASE_NOT_FOUND, message=f"没有案件 {case_id}",
                      hint="案件编号见案件看板")
        return HTMLResponse(page, status_code=404)
    return HTMLResponse(render("case.html", **_context(request), nav="cases", case=case_view(state, chapter, policy, now)))
