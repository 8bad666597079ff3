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


def authorized(config: AuthConfig, scope: Scope, authorization: bytes | None) -> bool:
    """Whether a request with this raw Authorization header may use `scope`: the check of
    `require`, for the lead fast path (api/http/fastpath.py), which leaves every refusal
    to `require` to answer."""
    if config.is_open(scope):
        return True
    if authorization is None:
        return False
    scheme, _, credentials = authorization.decode("latin-1").partition(" ")  # as HTTPBearer reads it
    if scheme.lower() != "bearer" or not credentials:
        return False
    token = config.authenticate(credentials)
    return token is not None and scope in token.scopes


def require(scope: Scope) -> Callable[..., Awaitable[Token | None]]:
    """A route dependency: the request must carry a bearer token with `scope`
    (unless the configuration leaves that scope open)."""

    async def check(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Token | None:
        config: AuthConfig = request.app.state.settings.auth
        if config.is_open(scope):
            return None
        if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
            raise AuthError(401, ErrorCode.UNAUTHORIZED, f"this needs a bearer token with scope `{scope}`", "send Authorization: Bearer <token>")
        token = config.authenticate(credentials.credentials)
        if token is None:
            raise AuthError(401, ErrorCode.UNAUTHORIZED, "the bearer token is not valid", "check the token with the service's operator")
        if scope not in token.scopes:
            raise AuthError(403, ErrorCode.INSUFFICIENT_SCOPE, f"token `{token.name}` lacks scope `{scope}`", f"use a token with scope `{scope}`")
        return token

    check.__name__ = f"require_{scope.replace(':', '_')}"
    return check


Principal = Token  # who acts on a case: the token's name and, if bound, its organization


def acting(scope: Scope) -> Any:
    """A route parameter's default: the token acting with `scope` (None while it is open)."""
    return Depends(require(scope))


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
