"""The case lifecycle after the lead is named: working-day clocks, the state machine over
stored events, the case store, and the service the API and pages call.

Flow: api → `CaseService` (service.py) → `plan`/`fold` (machine.py, clocks from clock.py)
→ `CaseStore` (store.py: hash-chained events in the decision log's database).
"""

from engine.cases.anchoring import Anchors
from engine.cases.board import board_items, department_figures
from engine.cases.chapter import CaseChapter, chapter_of
from engine.cases.clock import CHINA, Due, Limit, WorkCalendar, add, china_time, due, iso
from engine.cases.machine import CaseState, Command, Event, fold
from engine.cases.service import CaseService, Corrections, Ruling
from engine.cases.store import Appended, CaseStore
from engine.cases.view import case_view
from engine.errors import (
    ActorNotAllowed,
    ActorNotOnCase,
    CaseEventError,
    CaseExists,
    CaseNotFound,
    DeadlinePassed,
    DisputeState,
    EventInvalid,
    ExtensionRefused,
    NoLifecycle,
    TransitionNotAllowed,
)

__all__ = [
    "CHINA",
    "ActorNotAllowed",
    "Anchors",
    "ActorNotOnCase",
    "Appended",
    "CaseChapter",
    "CaseEventError",
    "CaseExists",
    "CaseNotFound",
    "CaseService",
    "CaseState",
    "CaseStore",
    "Command",
    "Corrections",
    "DeadlinePassed",
    "DisputeState",
    "Due",
    "Event",
    "EventInvalid",
    "ExtensionRefused",
    "Limit",
    "NoLifecycle",
    "Ruling",
    "TransitionNotAllowed",
    "WorkCalendar",
    "add",
    "board_items",
    "case_view",
    "chapter_of",
    "china_time",
    "department_figures",
    "due",
    "fold",
    "iso",
]
