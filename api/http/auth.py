"""The HTTP side of access control: a route dependency that demands a bearer token with a scope.

Scopes and the token configuration are described in api/tokens.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request, params
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.tokens import AuthConfig, Scope, Token
from engine import ErrorCode


class AuthError(Exception):
    """401 (no or unknown token) or 403 (token without the scope); mapped in api/http/errors.py."""

    def __init__(self, status: int, code: str, message: str, hint: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.hint = status, code, message, hint


_bearer = HTTPBearer(auto_error=False, description="a token from TIAOKUAI_TOKENS(_FILE)")


def _authorize(config: AuthConfig, scope: Scope, scheme: str | None, presented: str | None) -> Token | None:
    """The token with `scope` (None while the configuration leaves it open), or AuthError."""
    if config.is_open(scope):
        return None
    if scheme is None or scheme.lower() != "bearer" or not presented:
        raise AuthError(401, ErrorCode.UNAUTHORIZED, f"this needs a bearer token with scope `{scope}`", "send Authorization: Bearer <token>")
    token = config.authenticate(presented)
    if token is None:
        raise AuthError(401, ErrorCode.UNAUTHORIZED, "the bearer token is not valid", "check the token with the service's operator")
    if scope not in token.scopes:
        raise AuthError(403, ErrorCode.INSUFFICIENT_SCOPE, f"token `{token.name}` lacks scope `{scope}`", f"use a token with scope `{scope}`")
    return token


def authorized(config: AuthConfig, scope: Scope, authorization: bytes | None) -> bool:
    """Whether a request with this raw Authorization header may use `scope`: the check of
    `require`, for the lead fast path (api/http/fastpath.py), which leaves every refusal
    to `require` to answer."""
    if config.is_open(scope):
        return True
    scheme, _, credentials = (authorization or b"").decode("latin-1").partition(" ")  # as HTTPBearer reads it
    try:
        _authorize(config, scope, scheme or None, credentials or None)
    except AuthError:
        return False
    return True


def require(scope: Scope) -> Callable[..., Awaitable[Token | None]]:
    """A route dependency: the request must carry a bearer token with `scope`
    (unless the configuration leaves that scope open)."""

    async def check(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Token | None:
        config: AuthConfig = request.app.state.settings.auth
        return _authorize(config, scope, credentials.scheme if credentials else None, credentials.credentials if credentials else None)

    check.__name__ = f"require_{scope.replace(':', '_')}"
    return check


Principal = Token  # who acts on a case: the token's name and, if bound, its organization


def acting(scope: Scope) -> Any:
    """A route parameter's default: the token acting with `scope` (None while it is open).

    It reads the header itself, so the route's OpenAPI entry shows a lock only where the app
    adds `bearer_documented()` (when the scope needs a token), as `protected` does."""

    async def check(request: Request) -> Token | None:
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        return _authorize(request.app.state.settings.auth, scope, scheme or None, presented.strip() or None)

    check.__name__ = f"acting_{scope.replace(':', '_')}"
    return Depends(check)


def bearer_documented(scope: Scope, config: AuthConfig) -> list[params.Depends]:
    """`dependencies=` that only document bearer auth (the routes check it themselves)."""
    return [] if config.is_open(scope) else [Depends(_bearer)]


def dependency(scope: Scope) -> list[params.Depends]:
    """`dependencies=` for include_router: every route of the router needs `scope`."""
    return [Depends(require(scope))]


def protected(scope: Scope, config: AuthConfig, *extra: int) -> dict[str, Any]:
    """include_router keywords: the scope check and its documented 401/403 answers (plus
    `extra` statuses, e.g. 413 for bodies, 503 for the engine), in the error shape.

    A scope the configuration leaves open gets no dependency at all, so the OpenAPI page
    shows no lock there and an open route pays nothing for access control.
    """
    from api.http.schemas.common import ErrorV1

    statuses = {401: "no or unknown bearer token", 403: "the token lacks the scope", 413: "request body too large", 503: "the rules engine failed"}
    guarded = not config.is_open(scope)
    codes = ((401, 403) if guarded else ()) + extra
    responses: dict[int | str, dict[str, Any]] = {code: {"model": ErrorV1, "description": statuses[code]} for code in codes}
    return {"dependencies": dependency(scope) if guarded else [], "responses": responses}
