"""The FastAPI application: wiring only. Routes live in api/http/routes/, errors in api/http/errors.py."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI
from starlette.types import Receive, Scope, Send

from api.http import docs, errors
from api.http.auth import bearer_documented, protected
from api.http.body_limits import BodyLimit, reject_unknown_query
from api.http.fastpath import LeadFastPath
from api.http.logged import decide_logged
from api.http.operation_ids import operation_id
from api.http.routes import admin, admission, batch, catalogue, decisions, intake, lead, lifecycle, system
from api.http.routes import jurisdictions as jurisdiction_routes
from api.http.schemas.common import ErrorV1
from api.settings import Settings
from api.web import install as install_pages
from api.web import public as web_public
from api.web import router as web_router
from api.web.cases import router as case_pages
from api.web.guard import page_scope
from api.web.session import Sessions
from engine import ENGINE_VERSION, CheckpointError, Jurisdictions, Runtime, resume
from engine.cases import Anchors, CaseService, CaseStore
from engine.log import Checkpointer, CheckpointFile, load_or_create_key, open_log, utc_now

log = logging.getLogger("tiaokuai.app")


class TiaokuaiApp(FastAPI):
    """FastAPI with the lead fast path in front of all of it (api/http/fastpath.py).

    # NOTE: in front of FastAPI's own `__call__` too, not only of its middleware: that call
    # asks OpenTelemetry whether tracing is configured on every request (environment
    # lookups), ~3 % of the lead path's time under load (bench/results.md).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fast_path = LeadFastPath(self, super().__call__)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._fast_path(scope, receive, send)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Everything made at start-up (policy, compiled rules, routes, caches) lives as long as
    # the process: freeze it out of the collector's sight, so a full collection walks only
    # what requests made (p99 under load: bench/results.md).
    gc.collect()
    gc.freeze()
    checkpointer: Checkpointer | None = app.state.checkpointer
    if checkpointer is not None:
        checkpointer.start()
    yield
    # Everything queued is committed before the process lets go of the decision log,
    # and the final head is signed.
    app.state.cases.store.close()
    app.state.decision_log.close()
    if checkpointer is not None:
        try:
            checkpointer.stop()
        except CheckpointError as exc:
            log.error("the final checkpoint was not written: %s", exc)


def _checkpointer(settings: Settings, anchors: Anchors) -> Checkpointer | None:
    """Signs every chain of the database (each jurisdiction's decisions, the case events)."""
    paths = settings.checkpoint_paths()
    if paths is None:
        return None
    key, file = paths
    return Checkpointer(load_or_create_key(key), CheckpointFile(file), anchors.heads, utc_now, settings.checkpoint_interval)


def create_app(settings: Settings | None = None, runtime: Runtime | None = None, jurisdictions: Jurisdictions | None = None) -> FastAPI:
    """Build the app. Every policy is loaded (and validated) before the app serves anything:
    the default jurisdiction (`runtime`, or the policy directory) and, with
    `settings.jurisdictions_dir`, every county policy under it."""
    settings = settings or Settings.from_env()
    app = TiaokuaiApp(
        # ASCII: client generators make the package name from the title (tiaokuai-client)
        title="tiaokuai",
        version=ENGINE_VERSION,
        summary="Responsibility determination for county–township governance (条块: 县乡一体、条抓块统)",
        description="Who leads this case, grid task admission, and the 属地管理 responsibility list.",
        lifespan=_lifespan,
        dependencies=[Depends(reject_unknown_query)],
        generate_unique_id_function=operation_id,
        docs_url=None,  # /docs and /redoc come from api/http/docs.py: assets from the package, no CDN
        redoc_url=None,
    )
    docs.install(app)
    app.state.settings = settings
    decision_log = open_log(settings.database_url, ENGINE_VERSION, sqlite_synchronous=settings.sqlite_synchronous)
    if jurisdictions is None and runtime is None:
        # every jurisdiction resumes its last activated version from the log (engine.runtime.resume)
        resumed = {}

        def resume_dir(directory: Path) -> Runtime:
            resumed[str(directory)] = found = resume(decision_log, directory, settings.decision_cache)
            return found.runtime

        jurisdictions = Jurisdictions.load(settings.policy_dir, settings.jurisdictions_dir, loader=resume_dir)
        for directory, found in resumed.items():
            if found.disk_digest is not None:
                log.warning(
                    "serving the last activated policy %s; %s holds another version (%s): reload to activate it",
                    found.runtime.policy.digest[:12], directory, found.disk_digest[:12],
                )
    elif jurisdictions is None:
        assert runtime is not None
        jurisdictions = Jurisdictions.single(runtime, settings.policy_dir)
    for served in jurisdictions:
        decision_log.activate(served.policy, served.active.source)
    app.state.jurisdictions = jurisdictions
    app.state.runtime = jurisdictions.get()  # the default jurisdiction
    app.state.decision_log = decision_log
    runtime_, log_ = app.state.runtime, app.state.decision_log
    app.state.clock = lambda: datetime.now(UTC)  # the case lifecycle's "now" (tests set their own)
    app.state.cases = CaseService(
        CaseStore(log_.db), log_, lambda: runtime_.policy, lambda case, request: decide_logged(runtime_, log_, case, request)
    )
    app.state.checkpointer = _checkpointer(settings, Anchors(decision_log, app.state.cases.store))
    app.state.sessions = Sessions()
    errors.install(app)
    install_pages(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    auth = settings.auth
    app.include_router(lead.router, **protected("cases:decide", auth, 413, 503))
    app.include_router(batch.router, **protected("cases:decide", auth, 413, 503))
    app.include_router(catalogue.router, **protected("list:read", auth))
    app.include_router(intake.router, **protected("list:read", auth, 413))
    app.include_router(jurisdiction_routes.router, **protected("list:read", auth))
    app.include_router(system.router)
    app.include_router(admission.router, **protected("cases:decide", auth, 413, 503))
    app.include_router(decisions.router, **protected("decisions:read", auth))
    app.include_router(web_public)
    app.include_router(web_router)  # the pages check scopes themselves (session cookie or bearer)
    app.include_router(admin.router, **protected("policy:admin", auth, 413))
    # the lifecycle's routes check their own scopes (cases:act, cases:arbitrate, cases:read)
    case_errors: dict[int | str, dict[str, object]] = {code: {"model": ErrorV1} for code in (400, 401, 403, 404, 409, 413, 422, 503)}
    app.include_router(lifecycle.router, responses=case_errors, dependencies=bearer_documented("cases:act", auth))
    # The case pages sign in like the other pages (session cookie or bearer; redirect to /signin).
    app.include_router(case_pages, dependencies=[Depends(page_scope("cases:read"))])
    return app
