"""The case workflow as one declarative table: action, from which states, to which, who may, what it needs.

`services.case_transition` is the only code that changes a case's state; it finds the row here,
checks the actor against `who`, the case against `guard`, the input against `needs`, and applies
the step. An action may have several rows (a unit claims a dispatched case; the level's own staff
claims one they handle themselves). `target` None means the step decides (verify passes or fails).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gridgov.cases.choices import OPEN_STATES, Action, CaseLevel, State

# Who may act. Each name is checked by `services.actor_is`.
LEVEL_STAFF = "level_staff"  # staff of the level that owns the case now (the center at any level)
UNIT = "unit"  # a handler of the responsible unit
ASSIGNEE = "assignee"  # the person who claimed the case
REPORTER = "reporter"  # the user who reported it
SUPERVISOR = "supervisor"  # subdistrict leaders and the center (督办)
PUBLIC = "public"  # a resident holding the tracking code
CONCERNED = "concerned"  # anyone with a post who can see the case

Guard = Callable[[object], bool]


def _has_unit(case) -> bool:
    return case.unit_id is not None


def _no_unit(case) -> bool:
    return case.unit_id is None


def _not_rated(case) -> bool:
    return case.satisfaction is None


def _no_pending_extension(case) -> bool:
    return case.extension_requested_hours is None


def _pending_extension(case) -> bool:
    return case.extension_requested_hours is not None


@dataclass(frozen=True)
class Transition:
    action: str
    sources: frozenset[str]
    target: str | None
    who: frozenset[str]
    needs: tuple[str, ...] = ()
    levels: frozenset[str] | None = None  # None: at every level
    guard: Guard | None = None


def _t(action, sources, target, who, needs=(), levels=None, guard=None) -> Transition:
    return Transition(
        action=action,
        sources=frozenset(sources),
        target=target,
        who=frozenset(who),
        needs=tuple(needs),
        levels=frozenset(levels) if levels is not None else None,
        guard=guard,
    )


R, G, D, P, V, C, X, M = (
    State.REPORTED,
    State.REGISTERED,
    State.DISPATCHED,
    State.IN_PROGRESS,
    State.RESOLVED,
    State.CLOSED,
    State.REJECTED,
    State.MERGED,
)
DISPATCHING_LEVELS = (CaseLevel.COMMUNITY, CaseLevel.SUBDISTRICT, CaseLevel.SUPERIOR)
ESCALATING_LEVELS = (CaseLevel.GRID, CaseLevel.COMMUNITY, CaseLevel.SUBDISTRICT)

TRANSITIONS: tuple[Transition, ...] = (
    _t(Action.ACCEPT, {R}, G, {LEVEL_STAFF}),
    _t(Action.REJECT, {R}, X, {LEVEL_STAFF}, needs=("reason",)),
    _t(Action.HANDLE_ON_SITE, {R, G}, V, {LEVEL_STAFF, REPORTER}, needs=("result",), levels={CaseLevel.GRID}),
    # Dispatching a reported case accepts it in the same step.
    _t(Action.DISPATCH, {R, G, D}, D, {LEVEL_STAFF}, needs=("unit",), levels=DISPATCHING_LEVELS),
    _t(Action.CLAIM, {D}, P, {UNIT}, guard=_has_unit),
    _t(Action.CLAIM, {R, G}, P, {LEVEL_STAFF}),
    _t(Action.RETURN, {D, P}, G, {UNIT}, needs=("reason",), guard=_has_unit),
    _t(Action.ESCALATE, {R, G, P}, None, {LEVEL_STAFF}, needs=("reason",), levels=ESCALATING_LEVELS, guard=_no_unit),
    _t(Action.RESOLVE, {P}, V, {UNIT}, needs=("result",), guard=_has_unit),
    _t(Action.RESOLVE, {P}, V, {ASSIGNEE, LEVEL_STAFF}, needs=("result",), guard=_no_unit),
    _t(Action.VERIFY, {V}, None, {LEVEL_STAFF}, needs=("passed",)),
    _t(Action.REOPEN, {C, X}, G, {LEVEL_STAFF, SUPERVISOR}, needs=("reason",)),
    _t(Action.RATE, {C}, C, {REPORTER, PUBLIC}, needs=("score",), guard=_not_rated),
    _t(Action.URGE, OPEN_STATES, None, {SUPERVISOR}),
    _t(Action.EXTEND_REQUEST, {D, P}, None, {UNIT, ASSIGNEE}, needs=("hours", "reason"), guard=_no_pending_extension),
    _t(Action.EXTEND_APPROVE, {D, P}, None, {LEVEL_STAFF}, needs=("approved",), guard=_pending_extension),
    _t(Action.MERGE, {R, G}, M, {LEVEL_STAFF}, needs=("target",)),
    _t(Action.COMMENT, set(State.values) - {M}, None, {CONCERNED}, needs=("note",)),
    _t(Action.ATTACH, set(State.values) - {M}, None, {CONCERNED}, needs=("files",)),
)

# Actions people request (the sweep's warn/overdue and the intake's report are not in the table).
USER_ACTIONS: tuple[str, ...] = tuple(dict.fromkeys(t.action for t in TRANSITIONS))


def rows_for(action: str) -> tuple[Transition, ...]:
    return tuple(t for t in TRANSITIONS if t.action == action)
