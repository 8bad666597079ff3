"""Typed errors raised by the engine. api/errors.py maps each to one HTTP status and code."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Finding:
    """One problem in a policy, located for its author.

    `code` is a stable snake_case kind; `message` follows the house style: lowercase,
    no final period, user input in backticks.
    """

    code: str
    message: str
    file: str | None = None
    line: int | None = None
    id: str | None = None
    severity: str = "error"
    hint: str | None = None
    # counter-example cases (engine.decision.Case) from `engine.check`, for `--explain`
    examples: tuple[Any, ...] = dataclasses.field(default=(), compare=False, repr=False)

    def render(self) -> str:
        where = self.file or "<policy>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        ident = f" {self.id}:" if self.id else ""
        hint = f" ({self.hint})" if self.hint else ""
        return f"{where}:{ident} {self.message}{hint}"


class TiaokuaiError(Exception):
    """Base of every error the engine raises on purpose."""


class PolicyError(TiaokuaiError):
    """A policy could not be loaded: it is never activated. Carries every finding."""

    def __init__(self, findings: list[Finding]) -> None:
        self.findings = findings
        first = findings[0].render() if findings else "invalid policy"
        more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
        super().__init__(first + more)


class CompileError(TiaokuaiError):
    """A valid policy could not be turned into durable_rules rulesets."""


class EngineFailure(TiaokuaiError):
    """durable_rules failed while deciding; the decision is not given."""


@dataclass
class CaseError(TiaokuaiError):
    """A case the policy cannot evaluate: unknown matter, township, attribute or value."""

    code: str
    message: str
    field: str | None = None
    hint: str | None = None
    extra: dict[str, object] = dataclasses.field(default_factory=dict)

    def __str__(self) -> str:
        return self.message


class ProposalError(CaseError):
    """A grid task proposal the policy cannot review: unknown kind, organization, field, action,
    channel, frequency, basis level or emergency category, or dates out of order.
    """
