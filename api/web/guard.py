"""The pages' access control: the API's scopes, for a browser.

`page_scope(scope)` is a router dependency: without the scope a GET is redirected to the
sign-in page (or answered 403 when signed in without it). `PageRoute` adds the security
headers to every page response: a Content-Security-Policy that allows only this origin's
stylesheet (and the inline one of standalone documents, by its hash), no scripts, no
framing, forms posting only here.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Awaitable, Callable, Coroutine
from functools import cache
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.routing import APIRoute

from api.tokens import Scope
from api.web.render import stylesheet
from api.web.session import Principal, sessions


class PageAccessDenied(Exception):
    """A page needs `scope`; `signed_in` tells a sign-in prompt (401) from a 403."""

    def __init__(self, scope: Scope, principal: Principal, path: str) -> None:
        super().__init__(f"this page needs scope `{scope}`")
        self.scope, self.principal, self.path = scope, principal, path


def principal(request: Request) -> Principal:
    found = getattr(request.state, "principal", None)
    if isinstance(found, Principal):
        return found
    who = sessions(request).principal(request)
    request.state.principal = who
    return who


def demand(request: Request, scope: Scope) -> Principal:
    """The principal, if it holds `scope`; else PageAccessDenied."""
    who = principal(request)
    if not who.may(scope):
        raise PageAccessDenied(scope, who, request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    return who


def page_scope(scope: Scope) -> Callable[[Request], Awaitable[None]]:
    async def check(request: Request) -> None:
        demand(request, scope)

    check.__name__ = f"page_{scope.replace(':', '_')}"
    return check


def sign_in_location(path: str, scope: Scope) -> str:
    """The sign-in form, saying which scope the page at `path` needs, returning there after."""
    return "/signin?next=" + quote(path, safe="/") + "&scope=" + quote(scope, safe=":")


@cache
def content_security_policy() -> str:
    digest = base64.b64encode(hashlib.sha256(stylesheet().encode("utf-8")).digest()).decode()
    return (
        f"default-src 'none'; style-src 'self' 'sha256-{digest}'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


class PageRoute(APIRoute):
    """An APIRoute whose responses carry the pages' security headers (only the pages pay for it)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def with_headers(request: Request) -> Response:
            response = await handler(request)
            secure(response)
            return response

        return with_headers


def secure(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = content_security_policy()
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    response.headers.setdefault("Cache-Control", "no-store")
    return response
