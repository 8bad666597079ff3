"""Input limits, as pure ASGI layers in front of the app.

`BodyLimit`: an oversized request body never reaches FastAPI's JSON parser (nor the
engine); 413 in the one error shape. The body is read up to the limit before the app sees
it (declared Content-Length first, chunked bodies counted as they arrive), then replayed.
FastAPI's own `max_body_size` answers `text/plain`, outside the error shape. A JSON body
must also be UTF-8 without a byte-order mark (RFC 8259 §8.1): Python's JSON parser would
accept UTF-16 and UTF-32 too, and the decision log, which keeps the body as received,
could then not hold it as text, so such a decision could not be replayed. It is a 400
`invalid_encoding` before anything is decided.

`reject_unknown_query`: an app-wide dependency; a /v1 route's undeclared query parameters
are a 422, not silently ignored (`?domian=water` would otherwise list every matter).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, get_args, get_origin

from fastapi import Request

from api.http.errors import ApiError
from engine import ErrorCode

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await self._reject(send, 400, "invalid_content_length", "the Content-Length header is not a number")
                    return
                if declared > self.max_bytes:
                    await self._too_large(send)
                    return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body and _is_json(scope) and not utf8_without_bom(body):
            await self._reject(
                send, 400, ErrorCode.INVALID_ENCODING, "the request body is not UTF-8 text without a byte-order mark",
                "send JSON encoded as UTF-8, without a BOM (RFC 8259)",
            )
            return
        await self.app(scope, replaying(body, False, receive), send)

    async def _too_large(self, send: Send) -> None:
        await self._reject(
            send,
            413,
            ErrorCode.BODY_TOO_LARGE,
            f"request body is larger than {self.max_bytes} bytes",
            "send a smaller body; split a batch into several requests",
        )

    @staticmethod
    async def _reject(send: Send, status: int, code: str, message: str, hint: str | None = None) -> None:
        error: dict[str, str] = {"code": code, "message": message}
        if hint:
            error["hint"] = hint
        payload = json.dumps({"error": error}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()), (b"connection", b"close")],
            }
        )
        await send({"type": "http.response.body", "body": payload})


def replaying(body: bytes, more: bool, receive: Receive) -> Receive:
    """A `receive` that gives the body read so far, then the rest from the client."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": more}
        return await receive()

    return replay


BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")  # UTF-8, UTF-16/32 LE, UTF-16/32 BE


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            kind = value.split(b";", 1)[0].strip().lower()
            return bool(kind == b"application/json" or kind.endswith(b"+json"))
    return True  # no content type: FastAPI reads the body as JSON anyway


def utf8_without_bom(body: bytes) -> bool:
    """JSON text as RFC 8259 wants it: UTF-8, no byte-order mark (the fast path checks it too)."""
    if body.startswith(BOMS) or body.startswith(b"\x00\x00\xfe\xff"):
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    # NUL bytes in the first four: UTF-16/32 without a BOM (JSON text starts with ASCII).
    return b"\x00" not in body[:4]


async def reject_unknown_query(request: Request) -> None:
    """An app-wide dependency: a query parameter the route does not declare is a 422, not
    silently ignored (`?domian=water` would otherwise list every matter)."""
    if not request.query_params or not request.url.path.startswith("/v1/"):
        return  # the pages (api/web) read their own query parameters
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    declared = {p.alias for p in _query_params(dependant)} if dependant is not None else set()
    for name in request.query_params:
        if name not in declared:
            hint = f"known: {', '.join(sorted(declared))}" if declared else "this endpoint takes no query parameters"
            raise ApiError(422, ErrorCode.UNKNOWN_PARAMETER, f"unknown query parameter `{name}`", name or None, hint)
    # A parameter that takes one value, given several times, is a 422 too: Starlette would
    # silently keep the last (`?kind=a&kind=township` would answer for `township`).
    given = request.query_params.multi_items()
    for p in _query_params(dependant) if dependant is not None else ():
        times = sum(1 for name, _ in given if name == p.alias)
        if times > 1 and not _takes_many(p.field_info.annotation):
            raise ApiError(422, ErrorCode.INVALID_VALUE, f"`{p.alias}` is given {times} times", p.alias, "give it once")


def _takes_many(annotation: Any) -> bool:
    if get_origin(annotation) in (list, tuple, set, frozenset):
        return True
    return any(_takes_many(arg) for arg in get_args(annotation))


def _query_params(dependant: Any) -> list[Any]:
    found = list(dependant.query_params)
    for sub in dependant.dependencies:
        found += _query_params(sub)
    return found
