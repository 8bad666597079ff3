"""Bearer tokens with scopes (the configuration; api/http/auth.py checks requests against it): who may read decisions, reload the policy, decide, read the list.

Scopes:
    decisions:read   GET /v1/decisions/{id} (logged decisions hold case data): always needs a token
    policy:admin     POST /v1/policy/reload: always needs a token
    cases:decide     POST /v1/cases/lead and :batch: open unless TIAOKUAI_AUTH_DECIDE=token
    list:read        GET /v1/matters…, /v1/organizations, /v1/policy: open unless TIAOKUAI_AUTH_LIST=token
    cases:act        POST /v1/cases, POST /v1/cases/{id}/events ┐
    cases:arbitrate  POST /v1/cases/{id}/ruling                  ├ open unless TIAOKUAI_AUTH_CASES=token
    cases:read       GET /v1/cases…, the case pages              ┘ (open: `actor` is trusted)
A token may name an `organization`: on cases it then acts as that organization.

Tokens come from TIAOKUAI_TOKENS_FILE (a YAML or JSON file) or TIAOKUAI_TOKENS (the same
text inline), shaped `{"tokens": [{"name": "ops", "sha256": "<hex>", "scopes": ["policy:admin"]}]}`.
`sha256` (the hex digest of the token) keeps the secret itself out of the file; `token`
(the plain value, at least 24 characters) is accepted for development. The presented
token is hashed and compared with every configured digest by `hmac.compare_digest`, so
neither the comparison nor the number of tokens checked depends on where they differ.
Tokens are never logged: neither this module nor the error responses repeat them.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Scope = Literal["decisions:read", "policy:admin", "cases:decide", "list:read", "cases:act", "cases:arbitrate", "cases:read"]
SCOPES: tuple[Scope, ...] = ("decisions:read", "policy:admin", "cases:decide", "list:read", "cases:act", "cases:arbitrate", "cases:read")
# The case lifecycle's scopes: open together (development: `actor` is trusted) or token-only.
CASE_SCOPES = ("cases:act", "cases:arbitrate", "cases:read")
Access = Literal["open", "token"]


class TokenSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(min_length=1, max_length=64)]
    token: Annotated[str, Field(min_length=24, max_length=512)] | None = None
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None
    scopes: tuple[Scope, ...] = Field(min_length=1)
    organization: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        default=None, description="the organization this token acts as on cases (its events are its own)"
    )

    @model_validator(mode="after")
    def _one_secret(self) -> TokenSpec:
        if (self.token is None) == (self.sha256 is None):
            raise ValueError("give exactly one of `token` or `sha256`")
        return self


class TokensFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tokens: tuple[TokenSpec, ...] = ()


class AuthConfigError(ValueError):
    """The token configuration is invalid: the service refuses to start with it."""


@dataclass(frozen=True)
class Token:
    name: str
    digest: bytes
    scopes: frozenset[str]
    organization: str | None = None  # a token bound to an organization acts as it on cases


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()


@dataclass(frozen=True)
class AuthConfig:
    """Configured tokens and which open surfaces require one."""

    tokens: tuple[Token, ...] = ()
    decide: Access = "open"
    list: Access = "open"
    cases: Access = "open"

    @classmethod
    def parse(cls, text: str, where: str, decide: Access = "open", list_: Access = "open", cases: Access = "open") -> AuthConfig:
        try:
            raw = yaml.safe_load(text) or {}
            spec = TokensFile.model_validate(raw)
        except (yaml.YAMLError, ValidationError) as exc:
            raise AuthConfigError(f"{where}: invalid token configuration: {exc}") from None
        tokens = tuple(
            Token(t.name, bytes.fromhex(t.sha256) if t.sha256 else _digest(t.token or ""), frozenset(t.scopes), t.organization)
            for t in spec.tokens
        )
        return cls(tokens, decide, list_, cases)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AuthConfig:
        env = os.environ if env is None else env
        decide = _access(env, "TIAOKUAI_AUTH_DECIDE")
        list_ = _access(env, "TIAOKUAI_AUTH_LIST")
        cases = _access(env, "TIAOKUAI_AUTH_CASES")
        if env.get("TIAOKUAI_TOKENS_FILE"):
            path = Path(env["TIAOKUAI_TOKENS_FILE"])
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise AuthConfigError(f"TIAOKUAI_TOKENS_FILE: cannot read `{path}`: {exc.strerror}") from None
            return cls.parse(text, str(path), decide, list_, cases)
        return cls.parse(env.get("TIAOKUAI_TOKENS", ""), "TIAOKUAI_TOKENS", decide, list_, cases)

    def authenticate(self, presented: str) -> Token | None:
        """The token whose digest equals the presented one's, compared in constant time."""
        digest = _digest(presented)
        found: Token | None = None
        for token in self.tokens:  # no early exit: every configured token is compared
            if hmac.compare_digest(digest, token.digest) and found is None:
                found = token
        return found

    def is_open(self, scope: str) -> bool:
        return (
            (scope == "cases:decide" and self.decide == "open")
            or (scope == "list:read" and self.list == "open")
            or (scope in CASE_SCOPES and self.cases == "open")
        )


def _access(env: Mapping[str, str], name: str) -> Access:
    value = env.get(name, "open")
    if value not in ("open", "token"):
        raise AuthConfigError(f"{name} must be `open` or `token`, not `{value}`")
    return "open" if value == "open" else "token"
