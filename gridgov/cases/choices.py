"""Choice sets of the case pipeline: value and label in one place."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class CaseKind(models.TextChoices):
    INCIDENT = "incident", _("Incident")
    HAZARD = "hazard", _("Hazard")
    DISPUTE = "dispute", _("Dispute")
    PETITION = "petition", _("Petition")
    SERVICE = "service", _("Service request")
    PROPOSAL = "proposal", _("Proposal")


class Source(models.TextChoices):
    GRID_WORKER = "grid_worker", _("Grid worker")
    RESIDENT = "resident", pgettext_lazy("case source", "Resident")
    HOTLINE = "hotline_12345", _("12345 hotline")
    CAMERA = "camera", _("Camera")
    SUPERIOR = "superior", _("Superior department")
    COUNCIL = "council", _("Council")
    OPEN311 = "open311", _("Open311")


class Priority(models.TextChoices):
    NORMAL = "normal", pgettext_lazy("priority", "Normal")
    URGENT = "urgent", _("Urgent")
    CRITICAL = "critical", _("Critical")


class CaseLevel(models.TextChoices):
    """Where a case is handled. `superior` means the subdistrict handed it to a district department."""

    GRID = "grid", _("Grid")
    COMMUNITY = "community", _("Community")
    SUBDISTRICT = "subdistrict", _("Subdistrict")
    SUPERIOR = "superior", _("Superior department")


LEVEL_ORDER = [CaseLevel.GRID, CaseLevel.COMMUNITY, CaseLevel.SUBDISTRICT, CaseLevel.SUPERIOR]
NEXT_LEVEL = {a: b for a, b in zip(LEVEL_ORDER, LEVEL_ORDER[1:], strict=False)}
# Code length of the area that handles a case at each level (the superior is reached through the subdistrict).
LEVEL_CODE_LENGTH = {CaseLevel.GRID: 15, CaseLevel.COMMUNITY: 12, CaseLevel.SUBDISTRICT: 9, CaseLevel.SUPERIOR: 9}


class State(models.TextChoices):
    REPORTED = "reported", _("Reported")
    REGISTERED = "registered", _("Registered")
    DISPATCHED = "dispatched", _("Dispatched")
    IN_PROGRESS = "in_progress", _("In progress")
    RESOLVED = "resolved", _("Awaiting verification")
    CLOSED = "closed", _("Closed")
    REJECTED = "rejected", _("Rejected")
    MERGED = "merged", _("Merged")


OPEN_STATES = frozenset({State.REPORTED, State.REGISTERED, State.DISPATCHED, State.IN_PROGRESS, State.RESOLVED})
# States whose clock the deadline sweep watches (a resolved case waits for verification, not for handling).
TIMED_STATES = frozenset({State.REPORTED, State.REGISTERED, State.DISPATCHED, State.IN_PROGRESS})

STATE_COLOURS = {
    State.REPORTED: "warning",
    State.REGISTERED: "info",
    State.DISPATCHED: "primary",
    State.IN_PROGRESS: "primary",
    State.RESOLVED: "secondary",
    State.CLOSED: "success",
    State.REJECTED: "dark",
    State.MERGED: "light",
}


class Action(models.TextChoices):
    REPORT = "report", _("Report")
    ACCEPT = "accept", _("Accept")
    REJECT = "reject", _("Reject")
    HANDLE_ON_SITE = "handle_on_site", _("Handle on site")
    DISPATCH = "dispatch", _("Dispatch")
    CLAIM = "claim", _("Claim")
    RETURN = "return", _("Return")
    ESCALATE = "escalate", _("Escalate")
    RESOLVE = "resolve", _("Resolve")
    VERIFY = "verify", _("Verify")
    REOPEN = "reopen", _("Reopen")
    RATE = "rate", _("Rate")
    URGE = "urge", _("Urge")
    EXTEND_REQUEST = "extend_request", _("Request extension")
    EXTEND_APPROVE = "extend_approve", _("Decide extension")
    MERGE = "merge", _("Merge")
    COMMENT = "comment", _("Comment")
    ATTACH = "attach", _("Attach files")
    # Written by the deadline sweep, never requested by a user.
    WARN = "warn", _("Deadline warning")
    OVERDUE = "overdue", _("Overdue")


class FieldType(models.TextChoices):
    """Types of a category's extra form fields."""

    TEXT = "text", _("Text")
    NUMBER = "number", _("Number")
    INTEGER = "integer", _("Whole number")
    BOOLEAN = "boolean", _("Yes / no")
    CHOICE = "choice", _("Choice")
    DATE = "date", _("Date")
