"""POST /v1/cases/lead without FastAPI's per-request machinery: the hot path.

FastAPI's dependency solving, routing, middleware layers and response classes cost several
times the decision itself (bench/results.md). This ASGI layer sits in front of the app and
answers a lead request that is plainly valid — JSON content type, no query string, a body
within the limit, the scope granted, a body the strict request model accepts, a case the
policy decides — with the same function as the FastAPI route (`api.http.routes.lead.answer`),
the same decision log wait (a 200 only after its record is committed) and the same bytes.

Everything else — any error, a missing or wrong token, an oversized or malformed body,
other paths — goes through the full FastAPI app with the body replayed, so error answers
are FastAPI's own by construction. The route stays declared in FastAPI, so the OpenAPI
document is unchanged (tests/api/http/test_fastpath.py compares both paths).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from api.http.auth import authorized
from api.http.body_limits import replaying, utf8_without_bom
from api.http.routes.lead import answer
from api.http.schemas.lead import LeadRequestV1

if TYPE_CHECKING:
    from fastapi import FastAPI

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PATH = "/v1/cases/lead"
_JSON_HEADERS = [(b"content-type", b"application/json")]


def _is_json(content_type: bytes) -> bool:
    # The media types FastAPI reads as JSON: application/json and application/*+json.
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (media.startswith(b"application/") and media.endswith(b"+json"))


class LeadFastPath:
    def __init__(self, app: FastAPI, inner: ASGIApp) -> None:
        self.app = app
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST" or scope["query_string"] or scope.get("root_path"):
            await self.inner(scope, receive, send)
            return
        state = self.app.state
        settings = state.settings
        content_type = length = authorization = None
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value
            elif name == b"content-length":
                length = value
            elif name == b"authorization":
                authorization = value
        if content_type is None or not _is_json(content_type) or (length is not None and (not length.isdigit() or int(length) > settings.max_body_bytes)):
            await self.inner(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            if size > settings.max_body_bytes or not message.get("more_body", False):
                break
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        answered = size <= settings.max_body_bytes and utf8_without_bom(body) and authorized(settings.auth, "cases:decide", authorization)
        if answered:
            try:
                # NOTE: pydantic parses and validates the JSON in one pass, half the cost of
                # json.loads + model_validate; it accepts exactly the bodies the route's
                # json.loads + python-mode validation accepts, with the same values
                # (tests/api/http/test_fastpath.py holds both to it on generated bodies).
                # A body it refuses goes to the app, whose answer is the error.
                request = LeadRequestV1.model_validate_json(body)
                decision_id, content, used = answer(state.jurisdictions, request)
            except Exception:  # noqa: BLE001 - the full app gives the error its answer
                answered = False
        if not answered:
            await self.inner(scope, replaying(body, size > settings.max_body_bytes, receive), send)
            return
        try:
            await state.decision_log.append("lead", body, content, used, decision_id, request.reference)
        except Exception as exc:  # noqa: BLE001 - e.g. LogError: answered by the app's own handler
            await self._answer_error(scope, exc, send)
            return
        await send({"type": "http.response.start", "status": 200, "headers": [*_JSON_HEADERS, (b"content-length", b"%d" % len(content))]})
        await send({"type": "http.response.body", "body": content})

    async def _answer_error(self, scope: Scope, exc: Exception, send: Send) -> None:
        from starlette.requests import Request

        scope["app"] = self.app  # the handlers' Request reads it; FastAPI's own call sets it
        handlers = self.app.exception_handlers
        handler = next((handlers[k] for k in type(exc).__mro__ if k in handlers), None)
        if handler is None:
            raise exc
        response = handler(Request(scope), exc)
        if inspect.isawaitable(response):
            response = await response
        await response(scope, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}
