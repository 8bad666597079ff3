"""Replay a logged decision under the policy version it was made with.

Contract: `json_bytes` is the one rendering of an answer body; the API sends exactly these
bytes and the log stores them. `Replayer.replay(record)` loads the stored policy files
(checked against their digest), decides the logged request again with the replay function
of the record's kind and renders it with the logged id: for a faithful engine the bytes
are identical to the logged response. The record's time is not part of the response, so
nothing else may differ. Lead decisions replay here; other kinds (grid admission) bring
their replay function, since reading their requests belongs to their own modules.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from engine.errors import ReplayError
from engine.lead.decision import Decision
from engine.log.store import DecisionLog, Record
from engine.runtime import Answer, Runtime


def json_bytes(payload: Mapping[str, Any]) -> bytes:
    """An answer body as sent.

    # NOTE: orjson writes the bytes Starlette's JSONResponse (`json.dumps`, compact,
    # UTF-8 as is) writes for every value an answer holds — strings, ints, booleans, null —
    # about 10x faster; it spells floats below 1e-4 without the exponent's leading zero
    # (`1e-5`, json: `1e-05`) and has no integers beyond 64 bits, which fall back to json.
    # Replay renders with this same function, so a record always re-renders identically.
    """
    try:
        return orjson.dumps(payload)
    except TypeError:  # an integer beyond 64 bits
        return json.dumps(payload, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode("utf-8")


def response_bytes(decision_id: str, answer: Answer | Decision) -> bytes:
    """The lead response body as sent: the decision id, the decision's canonical dict, and for
    a request in words the `intake` block.

    Equal to `json_bytes(Answer(...).to_dict(decision_id))`; the part that depends on the
    decision alone is rendered once per decision (a cache hit reuses it).
    """
    decision, intake = (answer.decision, answer.intake) if isinstance(answer, Answer) else (answer, None)
    body, reference = decision.wire, decision.reference
    tail = b"null" if reference is None else orjson.dumps(reference)
    if intake is not None:
        tail += b',"intake":' + json_bytes(intake)
    return b'{"decision_id":' + orjson.dumps(decision_id) + b"," + body + tail + b"}"


@dataclass(frozen=True)
class ReplayResult:
    """A replayed record: the logged response and the one produced now."""

    record: Record
    logged: str
    replayed: str

    @property
    def identical(self) -> bool:
        return self.logged == self.replayed


# Re-decide one record under a runtime of its stored policy; return the response bytes.
ReplayFn = Callable[[Runtime, Record], bytes]


class Replayer:
    """Replays records of one log; compiles each stored policy version once."""

    def __init__(self, log: DecisionLog, kinds: Mapping[str, ReplayFn]) -> None:
        self.log = log
        self.kinds = dict(kinds)  # how each kind of record is re-decided (api/http/logged.py REPLAY_KINDS)
        self._runtimes: dict[str, Runtime] = {}

    def runtime(self, digest: str) -> Runtime:
        """The stored policy version `digest`, compiled and registered (under its own names)."""
        if digest not in self._runtimes:
            files = self.log.policy_files(digest)
            self._runtimes[digest] = Runtime.from_files(files, source=f"decision log, policy {digest[:12]}")
        return self._runtimes[digest]

    def replay(self, record: Record) -> ReplayResult:
        replay = self.kinds.get(record.kind)
        if replay is None:
            raise ReplayError(f"records of kind `{record.kind}` cannot be replayed here")
        runtime = self.runtime(record.policy_digest)
        if runtime.policy.digest != record.policy_digest:
            raise ReplayError(f"stored policy `{record.policy_digest[:12]}` loaded with another digest")
        try:
            replayed = replay(runtime, record).decode("utf-8")
        except (ValueError, TypeError) as exc:  # a request this engine version cannot read
            raise ReplayError(f"the logged request cannot be read: {exc}") from exc
        return ReplayResult(record, record.response, replayed)
