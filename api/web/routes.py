"""The HTML pages: the list, clause pages, logged decisions, the playground, the policy diff and the report.

Pages are server-rendered and work without JavaScript (plain GET and POST forms). Bad
input on a page is shown on the page with a 4xx status, in Chinese (api/web/wording.py),
with the API's error code as `data-code`, never as a 500.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.http.deps import DecisionLogDep, RuntimeDep, new_decision_id, today
from api.http.logged import policy_used, send_logged
from api.web import gherkin, wording
from api.web.clauses import clause_titles, clause_view
from api.web.decisions import decision_view, recent_decisions
from api.web.diff import diff_page
from api.web.guard import PageAccessDenied, PageRoute, demand, page_scope, principal, secure, sign_in_location
from api.web.render import list_document, list_rows, render, stylesheet
from api.web.report import report_context, results_time
from api.web.session import CSRF_FIELD, sessions
from engine import CaseError, ErrorCode, LeadRequest, Runtime
from engine.analysis import relevant_attributes
from engine.intake import MAX_TEXT_CHARS
from engine.lead import Case
from engine.listing import by_domain, export_csv, export_xlsx, search_matters, three_lists
from engine.policy import Attribute, AttributeType, Matter, Policy

# Sign-in and the stylesheet are open; every other page needs `list:read` (open by default,
# like the API's list) and checks further scopes where it shows case data or decides.
public = APIRouter(include_in_schema=False, route_class=PageRoute)
router = APIRouter(include_in_schema=False, route_class=PageRoute, dependencies=[Depends(page_scope("list:read"))])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DATE_HINT = "按 年-月-日 填写, 如 2026-11-01"


@dataclass(frozen=True)
class PageError:
    code: str
    message: str
    field: str | None = None
    hint: str | None = None


def _settings_path(request: Request, name: str) -> Path | None:
    value = getattr(request.app.state.settings, name, None)
    return Path(value) if value is not None else None


def _page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A rendered page; every page knows who is signed in and carries the CSRF field for its forms."""
    csrf = sessions(request).csrf_field(request)
    who = principal(request)
    response = HTMLResponse(render(template, principal=who, csrf=csrf.field, csrf_name=CSRF_FIELD, **context), status_code=status)
    csrf.set_cookie(response)
    return response


def _csrf_refused(request: Request, policy: Policy) -> HTMLResponse:
    message = "表单已过期或来自其他网站, 无法提交"
    return _page(request, "denied.html", 403, policy=policy, code=ErrorCode.CSRF_FAILED, message=message, hint="请刷新页面后重新提交")


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/list", status_code=307)


# --- sign-in -----------------------------------------------------------------------


def _safe_next(value: object) -> str:
    """Only a path on this site (never `//host` or a scheme) may follow a sign-in."""
    text = str(value or "")
    return text if text.startswith("/") and not text.startswith("//") and "\\" not in text else "/list"


@public.get("/signin", response_class=HTMLResponse)
def signin_page(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    """The sign-in form: a token from the service's operator (the same tokens as the API)."""
    scope = request.query_params.get("scope")
    needed = (scope, wording.SCOPE_ZH[scope]) if scope in wording.SCOPE_ZH else None
    return _page(request, "signin.html", policy=runtime.policy, next=_safe_next(request.query_params.get("next")), needed=needed, error=None)


@public.post("/signin", response_class=HTMLResponse, response_model=None)
async def signin(request: Request, runtime: RuntimeDep) -> Response:
    form = await request.form()
    if not sessions(request).csrf_ok(request, form.get(CSRF_FIELD)):
        return _csrf_refused(request, runtime.policy)
    target = _safe_next(form.get("next"))
    presented = str(form.get("token") or "").strip()
    token = request.app.state.settings.auth.authenticate(presented) if presented else None
    if token is None:
        error = PageError(ErrorCode.UNAUTHORIZED, "令牌无效", "token", "请向本服务的运维人员核对令牌")
        return _page(request, "signin.html", 401, policy=runtime.policy, next=target, needed=None, error=error)
    response = RedirectResponse(target, status_code=303)
    sessions(request).sign_in(response, request, token)
    return response


@public.post("/signout", response_model=None)
async def signout(request: Request, runtime: RuntimeDep) -> Response:
    form = await request.form()
    if not sessions(request).csrf_ok(request, form.get(CSRF_FIELD)):
        return _csrf_refused(request, runtime.policy)
    response = RedirectResponse("/list", status_code=303)
    sessions(request).sign_out(response)
    return response


def install(app: FastAPI) -> None:
    """Register the pages' answer to a missing scope: the sign-in form, or 403 when signed in."""

    @app.exception_handler(PageAccessDenied)
    async def _denied(request: Request, exc: PageAccessDenied) -> Response:
        policy = request.app.state.runtime.policy
        if exc.principal.name is None and request.method == "GET":
            return secure(RedirectResponse(sign_in_location(exc.path, exc.scope), status_code=303))
        if exc.principal.name is None:
            message = f"请先登录: 本操作需要具有 {exc.scope} 权限的令牌"
            error = PageError(ErrorCode.UNAUTHORIZED, message, None, None)
            return secure(_page(request, "signin.html", 401, policy=policy, next=_safe_next(exc.path), needed=None, error=error))
        message = f"令牌「{exc.principal.name}」没有 {exc.scope} 权限, 不能查看或执行本页的内容"
        hint = f"用具有 {exc.scope} 权限的令牌重新登录; 运维人员可用 tiaokuai token 生成令牌"
        return secure(_page(request, "denied.html", 403, policy=policy, code=ErrorCode.INSUFFICIENT_SCOPE, message=message, hint=hint))


@public.get("/static/tiaokuai.css")
def css() -> Response:
    return Response(stylesheet(), media_type="text/css", headers={"Cache-Control": "max-age=300"})


# --- the list ----------------------------------------------------------------------


@dataclass(frozen=True)
class ListQuery:
    q: str | None
    domain: str | None
    township: str | None
    as_of: date | None


def _list_query(request: Request, policy: Policy) -> tuple[ListQuery, PageError | None]:
    params = request.query_params
    q = (params.get("q") or "").strip()[:100] or None
    domain = params.get("domain") or None
    township = params.get("township") or None
    raw_day = params.get("as_of")
    day: date | None = None
    error = None
    if raw_day is None:
        day = today()
    elif raw_day:
        try:
            day = date.fromisoformat(raw_day)
        except ValueError:
            error = PageError(ErrorCode.INVALID_DATE, f"「{raw_day}」不是有效日期", "日期", DATE_HINT)
    domains = {d.id: d.name for d in policy.manifest.domains}
    if domain is not None and domain not in domains:
        error = PageError(ErrorCode.UNKNOWN_DOMAIN, f"政策中没有领域「{domain}」", "领域", wording.did_you_mean(domain, domains))
        domain = None
    townships = {t.id: t.name for t in policy.townships()}
    if township is not None and township not in townships:
        error = PageError(ErrorCode.UNKNOWN_TOWNSHIP, f"政策中没有乡镇(街道)「{township}」", "乡镇(街道)", wording.did_you_mean(township, townships))
        township = None
    return ListQuery(q, domain, township, day), error


def filter_matters(policy: Policy, query: ListQuery) -> list[Matter]:
    """The matters the query selects, in the policy's order."""
    return [hit.matter for hit in search_matters(policy, query.q, query.domain, query.as_of)]


def _township_view(runtime: Runtime, rows: list[dict[str, Any]], township: str, day: date) -> None:
    """Replace each row's lead and supports by what the engine decides for that township."""
    for row in rows:
        try:
            decision = runtime.decide(Case(township=township, matter=row["id"], as_of=day))
        except CaseError:
            continue
        if decision.outcome == "dispatch":
            continue
        row["lead"] = decision.lead.name
        row["supports"] = [s.name for s in decision.supports]
        if decision.rule.id != row["id"]:
            row["lead_note"] = decision.rule.id
            row["lead_note_title"] = decision.rule.title


@router.get("/list", response_class=HTMLResponse)
def list_page(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    """The responsibility list as a table, filtered by text, domain, township and date."""
    policy = runtime.policy
    query, error = _list_query(request, policy)
    matters = by_domain(policy, filter_matters(policy, query))
    rows = list_rows(policy, matters)
    township = policy.organizations[query.township] if query.township else None
    decided_on = query.as_of or today()
    if township is not None:
        # Deciding every matter for a township is deciding: it needs the scope the API asks for.
        demand(request, "cases:decide")
        _township_view(runtime, rows, township.id, decided_on)
    params = {k: v for k, v in (("q", query.q), ("domain", query.domain), ("as_of", query.as_of.isoformat() if query.as_of else "")) if v is not None}
    return _page(
        request,
        "list.html",
        422 if error else 200,
        nav="list",
        policy=policy,
        rows=rows,
        total=len(policy.matters),
        q=query.q,
        domain=query.domain,
        township=township,
        townships=policy.townships(),
        as_of=query.as_of,
        decided_on=decided_on,
        query="?" + urlencode(params) if params else "",
        error=error,
    )


@router.get("/lists", response_class=HTMLResponse)
def three_lists_page(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    """A township's 基本 / 配合 / 收回 lists (engine.township_lists), with the xlsx download."""
    policy = runtime.policy
    townships = policy.townships()
    served = request.app.state.jurisdictions
    jurisdictions = [{"id": r.policy.id, "name": r.policy.manifest.jurisdiction} for r in served]
    wanted = request.query_params.get("township") or (townships[0].id if townships else "")
    raw_day = request.query_params.get("as_of") or ""
    error, lists, town = None, None, None
    try:
        day = date.fromisoformat(raw_day) if raw_day else today()
    except ValueError:
        day, error = today(), PageError(ErrorCode.INVALID_DATE, f"「{raw_day}」不是有效日期", "日期", DATE_HINT)
    town = policy.organizations.get(wanted)
    if town is None or not town.is_township:
        town = None
        hint = wording.did_you_mean(wanted, {t.id: t.name for t in townships})
        error = error or PageError(ErrorCode.UNKNOWN_TOWNSHIP, f"政策中没有乡镇(街道)「{wanted}」", "乡镇(街道)", hint)
    elif error is None:
        lists = three_lists(policy, town.id, day).to_dict(policy)
    return _page(request, "three_lists.html", 404 if town is None else 200, nav="lists", policy=policy, townships=townships,
                 township=town, as_of=day.isoformat(), lists=lists, error=error, jurisdictions=jurisdictions)


@router.get("/list.xlsx")
def list_xlsx(request: Request, runtime: RuntimeDep) -> Response:
    policy = runtime.policy
    query, _ = _list_query(request, policy)
    buffer = io.BytesIO()
    export_xlsx(policy, buffer, query.as_of, filter_matters(policy, query))
    name = f"{policy.id}-{policy.version}-list.xlsx"
    return Response(buffer.getvalue(), media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/list.csv")
def list_csv(request: Request, runtime: RuntimeDep) -> Response:
    policy = runtime.policy
    query, _ = _list_query(request, policy)
    buffer = io.StringIO()
    export_csv(policy, buffer, query.as_of, filter_matters(policy, query))
    name = f"{policy.id}-{policy.version}-list.csv"
    body = "\ufeff" + buffer.getvalue()  # BOM: Excel then reads the Chinese text as UTF-8
    return Response(body.encode("utf-8"), media_type="text/csv; charset=utf-8", headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/list.html", response_class=HTMLResponse)
def list_html(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    policy = runtime.policy
    query, _ = _list_query(request, policy)
    return HTMLResponse(list_document(policy, by_domain(policy, filter_matters(policy, query)), query.as_of))


# --- clause pages ------------------------------------------------------------------


def load_scenarios(request: Request) -> tuple[list[gherkin.Feature], str | None]:
    """The features with the last run's results attached, and where the results came from."""
    path = _settings_path(request, "cucumber_json")
    features, found = gherkin.features_with_results(_settings_path(request, "features_dir") or Path("features"), path)
    return features, str(path) if found and path is not None else None


@router.get("/clauses/{clause_id}", response_class=HTMLResponse)
def clause_page(request: Request, runtime: RuntimeDep, clause_id: str) -> HTMLResponse:
    """A matter, rule or delegation: its text, basis, scenarios and recent decisions."""
    policy = runtime.policy
    view = clause_view(policy, clause_id)
    if view is None:
        hint = wording.did_you_mean(clause_id, clause_titles(policy))
        return _page(request, "not_found.html", 404, policy=policy, code=ErrorCode.UNKNOWN_CLAUSE, message=f"没有编号为「{clause_id}」的条款", hint=hint)
    features, source = load_scenarios(request)
    if principal(request).may("decisions:read"):
        decisions, note = recent_decisions(request, clause_id)
    else:  # logged decisions hold case data: only for `decisions:read`
        decisions, note = None, "近期决策含案件数据, 用具有 decisions:read 权限的令牌登录后显示。"
    return _page(
        request,
        "clause.html",
        policy=policy,
        clause=view,
        scenarios=gherkin.by_clause(features).get(clause_id, []),
        results_from=source,
        results_time=results_time(source),
        gloss=wording.step_glosser(policy),
        decisions=decisions,
        decisions_note=note,
    )


@router.get("/decisions/{decision_id}", response_class=HTMLResponse, dependencies=[Depends(page_scope("decisions:read"))])
def decision_page(request: Request, runtime: RuntimeDep, decision_id: str) -> HTMLResponse:
    """One logged decision in Chinese, behind the scope of GET /v1/decisions/{id} (`decisions:read`)."""
    policy = runtime.policy
    view = decision_view(request, policy, decision_id)
    if view is None:
        message = f"决策日志中没有编号为「{decision_id[:64]}」的决策"
        return _page(request, "not_found.html", 404, policy=policy, code=ErrorCode.UNKNOWN_DECISION, message=message, hint=None)
    return _page(request, "decision.html", policy=policy, d=view, labels=dict(policy.manifest.time_limit_labels))


# --- who leads this case -----------------------------------------------------------


@dataclass
class CaseForm:
    matter: str = ""
    township: str = ""
    as_of: str = ""
    attributes: dict[str, str] | None = None
    text: str = ""  # the ticket's words: intake reads matter, attributes and township from them
    place: str = ""


def _form_from(values: Any, policy: Policy) -> CaseForm:
    townships = policy.townships()
    return CaseForm(
        matter=str(values.get("matter") or ""),
        # a ticket in words names its own township: no default then
        township=str(values.get("township") or ("" if values.get("text") or values.get("place") or not townships else townships[0].id)),
        as_of=str(values.get("as_of") or today().isoformat()),
        attributes={k[5:]: str(v) for k, v in values.items() if k.startswith("attr.") and str(v) != ""},
        text=str(values.get("text") or "")[:MAX_TEXT_CHARS + 1],
        place=str(values.get("place") or "")[:200],
    )


def _case_of(form: CaseForm, policy: Policy) -> Case:
    """The form as an engine case; raises CaseError for values the form cannot carry."""
    try:
        day = date.fromisoformat(form.as_of)
    except ValueError:
        raise CaseError(ErrorCode.INVALID_DATE, f"`{form.as_of}` is not a date", "as_of", DATE_HINT) from None
    attributes: dict[str, Any] = {}
    for key, raw in (form.attributes or {}).items():
        attr = policy.attributes.get(key)
        value: Any = raw
        if attr is not None and attr.type is AttributeType.bool:
            if raw not in ("true", "false"):
                raise CaseError(ErrorCode.WRONG_TYPE, f"`{key}` must be true or false", f"attributes.{key}")
            value = raw == "true"
        elif attr is not None and attr.type in (AttributeType.int, AttributeType.number):
            try:
                number = float(raw)
            except ValueError:
                raise CaseError(ErrorCode.WRONG_TYPE, f"`{key}` must be a number", f"attributes.{key}") from None
            value = int(number) if number.is_integer() else number
        attributes[key] = value
    return Case(township=form.township, matter=form.matter or None, attributes=attributes, as_of=day)


def form_attributes(policy: Policy, matter_id: str | None) -> list[Attribute]:
    """The case attributes the form asks for: those that can change a decision on the matter
    (declared by it, or tested or referred to by a rule that applies to it); none outside the list."""
    if not matter_id or matter_id not in policy.matters:
        return []
    return [policy.attributes[name] for name in relevant_attributes(policy, matter_id)]


def _playground(
    request: Request, policy: Policy, form: CaseForm, decision: dict[str, Any] | None = None, error: PageError | None = None
) -> HTMLResponse:
    intake = (decision or {}).get("intake") or {}
    chosen = intake.get("matter")
    rows = [chosen | {"evidence": intake.get("evidence", [])}] if chosen and "score" in chosen else []
    rows += intake.get("runners_up") or intake.get("candidates") or []
    return _page(
        request,
        "playground.html",
        422 if error else 200,
        nav="playground",
        policy=policy,
        form=form,
        matters=list(policy.matters.values()),
        townships=policy.townships(),
        attributes=form_attributes(policy, form.matter or ((intake.get("matter") or {}).get("id"))),
        all_attributes=len(policy.attributes),
        attr_text=lambda key, value: wording.attributes_text(policy, {key: value})[0],
        EVIDENCE_ZH=wording.EVIDENCE_ZH,
        labels=dict(policy.manifest.time_limit_labels),
        decision=decision,
        intake_rows=rows,
        error=error,
    )


@router.get("/playground", response_class=HTMLResponse)
def playground(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    """The case form, prefilled from the query string (e.g. `?matter=WAT-01`)."""
    return _playground(request, runtime.policy, _form_from(request.query_params, runtime.policy))


@router.post("/playground", response_class=HTMLResponse)
async def playground_decide(request: Request, runtime: RuntimeDep, decision_log: DecisionLogDep) -> HTMLResponse:
    """Decide the case in the form with the real engine and show the decision and its reasons.

    A trial decision is a decision: it needs `cases:decide` (when deciding is closed) and
    is logged, as kind `trial`, before it is shown.
    """
    policy = runtime.policy
    values = await request.form()
    if not sessions(request).csrf_ok(request, values.get(CSRF_FIELD)):
        return _csrf_refused(request, policy)
    demand(request, "cases:decide")
    form = _form_from(values, policy)
    try:
        in_words = bool(form.text or form.place)
        case = _case_of(replace(form, township=form.township or "-") if in_words else form, policy)
        asked = LeadRequest(
            as_of=case.as_of, matter=case.matter, township=(form.township or None) if in_words else case.township,
            text=form.text or None, place=form.place or None, attributes=case.attributes,
        )  # fmt: skip
        answer = runtime.answer(asked)
    except CaseError as exc:
        message, hint = wording.case_error(policy, exc)
        return _playground(request, policy, form, error=PageError(exc.code, message, wording.field_label(policy, exc.field), hint))
    decision_id = new_decision_id()
    body = answer.to_dict(decision_id)
    trial = {"matter": asked.matter, "township": asked.township, "text": asked.text, "place": asked.place,
             "attributes": dict(asked.attributes), "as_of": asked.as_of.isoformat()}  # fmt: skip
    used = policy_used(answer.decision.policy["digest"], policy, runtime.policy)
    await send_logged(request, decision_log, "trial", decision_id, body, used, {k: v for k, v in trial.items() if v is not None})
    return _playground(request, policy, form, decision=body)


# --- policy diff and report --------------------------------------------------------


@router.get("/diff", response_class=HTMLResponse)
async def diff(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    """The impact of a policy change: clauses changed and the decisions that would change."""
    demand(request, "policy:admin")  # heavy analysis: operators only
    status, context = await diff_page(request, runtime, with_logged=principal(request).may("decisions:read"))
    return _page(request, "diff.html", status, nav="diff", policy=runtime.policy, **context)


@router.get("/report", response_class=HTMLResponse)
def report(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    """The Gherkin report for auditors: features, their last results, clause by clause."""
    features, source = load_scenarios(request)
    return _page(request, "report.html", nav="report", policy=runtime.policy, clause_links=True, **report_context(runtime.policy, features, source))
