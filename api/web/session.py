"""Sign-in for the pages: the API's bearer tokens, exchanged once for a session cookie.

Browsers cannot send `Authorization: Bearer`, so the pages offer a sign-in form: the
token is checked exactly as the API checks it (api/auth.py) and exchanged for a signed,
HttpOnly, SameSite=Lax cookie that names the token (never holds it) and expires after
`SESSION_HOURS`. Every request re-checks that the named token is still configured with
the same digest, so removing or rotating a token ends its sessions. A bearer header is
accepted on the pages too (scripts, tests).

Forms are protected against cross-site request forgery by a second cookie (random,
HttpOnly, SameSite=Strict) and a hidden field that must carry its HMAC: another site
can neither read the cookie nor compute the field. Every POST of a page checks it.

The signing secret is TIAOKUAI_SESSION_SECRET (set it when several replicas serve the
pages, or to keep sessions across worker restarts); otherwise a random one per process.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from api.tokens import AuthConfig, Scope, Token

SESSION_COOKIE = "tiaokuai_session"
CSRF_COOKIE = "tiaokuai_csrf"
CSRF_FIELD = "csrf"
SESSION_HOURS = 8


@dataclass(frozen=True)
class Principal:
    """Who is asking on a page: a signed-in token's name and scopes, or nobody."""

    name: str | None
    scopes: frozenset[str]
    config: AuthConfig

    def may(self, scope: Scope) -> bool:
        return self.config.is_open(scope) or scope in self.scopes


class Sessions:
    """Issues and reads session and CSRF cookies with one secret."""

    def __init__(self, secret: str | None = None) -> None:
        self._secret = (secret or os.environ.get("TIAOKUAI_SESSION_SECRET") or secrets.token_urlsafe(32)).encode()
        self._serializer = URLSafeTimedSerializer(self._secret, salt="tiaokuai-session")

    # --- sessions ------------------------------------------------------------------

    def sign_in(self, response: Response, request: Request, token: Token) -> None:
        value = self._serializer.dumps({"name": token.name, "digest": token.digest.hex()[:32]})
        response.set_cookie(
            SESSION_COOKIE, value, max_age=SESSION_HOURS * 3600, httponly=True, samesite="lax", secure=_https(request), path="/"
        )

    @staticmethod
    def sign_out(response: Response) -> None:
        response.delete_cookie(SESSION_COOKIE, path="/")

    def principal(self, request: Request) -> Principal:
        config: AuthConfig = request.app.state.settings.auth
        token = _bearer_token(request, config) or self._session_token(request, config)
        if token is None:
            return Principal(None, frozenset(), config)
        return Principal(token.name, token.scopes, config)

    def _session_token(self, request: Request, config: AuthConfig) -> Token | None:
        raw = request.cookies.get(SESSION_COOKIE)
        if not raw:
            return None
        try:
            data = self._serializer.loads(raw, max_age=SESSION_HOURS * 3600)
        except BadSignature:
            return None
        if not isinstance(data, dict):
            return None
        for token in config.tokens:  # still configured, with the same secret
            if token.name == data.get("name") and hmac.compare_digest(token.digest.hex()[:32], str(data.get("digest", ""))):
                return token
        return None

    # --- CSRF ----------------------------------------------------------------------

    def csrf_field(self, request: Request) -> CsrfToken:
        """The value a form of this response must carry (and the cookie to set, if new)."""
        cookie = request.cookies.get(CSRF_COOKIE)
        fresh = not cookie or len(cookie) != 43
        if fresh:
            cookie = secrets.token_urlsafe(32)
        assert cookie is not None
        return CsrfToken(cookie, self._mac(cookie), fresh, _https(request))

    def csrf_ok(self, request: Request, submitted: object) -> bool:
        cookie = request.cookies.get(CSRF_COOKIE)
        return bool(cookie) and isinstance(submitted, str) and hmac.compare_digest(self._mac(cookie or ""), submitted)

    def _mac(self, cookie: str) -> str:
        return hmac.new(self._secret, b"csrf:" + cookie.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class CsrfToken:
    cookie: str
    field: str
    fresh: bool
    secure: bool

    def set_cookie(self, response: Response) -> None:
        if self.fresh:
            response.set_cookie(CSRF_COOKIE, self.cookie, httponly=True, samesite="strict", secure=self.secure, path="/")


def _https(request: Request) -> bool:
    return request.url.scheme == "https"


def _bearer_token(request: Request, config: AuthConfig) -> Token | None:
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    return config.authenticate(credentials.strip())


def sessions(request: Request) -> Sessions:
    found: Sessions = request.app.state.sessions
    return found
