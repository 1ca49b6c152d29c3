"""Signed intake from cameras, the 12345 hotline and other systems: one door for the endpoint and the .xlsx import.

A message is checked in a fixed order by the endpoint (size, key, signature) and then here: its
fields, its type's mapping rule, and the case pipeline's own intake check (`case_report`). The
sender's own id makes it idempotent: the `created` IntakeMessage row of a channel and id is
unique, so a replay answers with the first case and a concurrent duplicate loses on the unique
index and is answered as a replay too. The same id with another body is a 409.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from gridgov.areas.models import Area
from gridgov.cases.choices import Priority, Source
from gridgov.cases.models import Case, Category
from gridgov.cases.services import case_report, check_intake
from gridgov.core import audit
from gridgov.core.errors import ApplicationError, Conflict, NotFound, PermissionDenied
from gridgov.core.privacy import is_secret_set
from gridgov.core.signing import SIGNATURE_HEADER, sign, verify  # noqa: F401 (sign: for senders and tests)
from gridgov.integrations import defaults
from gridgov.integrations.defaults import normalize_type
from gridgov.integrations.models import (
    EVENT_TYPE_LENGTH,
    INTAKE_CHANNELS,
    SENDER_ID_LENGTH,
    ApiKey,
    Channel,
    IntakeChannel,
    IntakeMessage,
    IntakeOutcome,
    IntakeVia,
    MappingRule,
)
from gridgov.integrations.services import can_manage_keys

logger = logging.getLogger("gridgov.integrations")

SECRET_CONTEXT = "integrations_intakechannel.secret"
SECRET_PREFIX = "gis_"
DEFAULT_MAX_BYTES = 256 * 1024
# The sender's description leaves room for the line naming the sender's id and time (case descriptions: 4,000).
MAX_DESCRIPTION = 3800
FIELDS = frozenset(
    {
        "id",
        "type",
        "title",
        "description",
        "lat",
        "lng",
        "address",
        "occurred_at",
        "priority",
        "reporter_name",
        "reporter_phone",
        "media_url",
        "extra",
    }
)
# Which case source each channel's cases carry. `generic` (another government platform forwarding work orders,
# such as a district's digital city-management system) counts as the hotline: like 12345 it forwards what people
# asked for, and the pipeline takes hotline cases at the category's level. The channel itself stays on the message.
SOURCES = {Channel.CAMERA: Source.CAMERA, Channel.HOTLINE_12345: Source.HOTLINE, Channel.GENERIC: Source.HOTLINE}


def max_bytes() -> int:
    """The largest body the endpoint reads (GRIDGOV_INTAKE_MAX_BYTES, default 256 KiB)."""
    return int(getattr(settings, "GRIDGOV_INTAKE_MAX_BYTES", DEFAULT_MAX_BYTES))


def _invalid(name: str, message: Any, code: str = "invalid") -> ApplicationError:
    return ApplicationError(code, message, fields={name: [str(message)]})


# --- channels and their secrets ------------------------------------------------------------------


def intake_channel_get(channel: str) -> IntakeChannel:
    """The settings row of an intake channel.

    The rows (and the default mapping rules) come from a data migration; a `flush`, as `gridgov demo` runs,
    removes them. Channels cannot be deleted otherwise, so a missing row means the defaults are to be put back.
    """
    if channel not in INTAKE_CHANNELS:
        raise NotFound("unknown_channel", _("Unknown intake channel: %(channel)s.") % {"channel": channel})
    row = IntakeChannel.objects.select_related("default_category").filter(channel=channel).first()
    if row is None:
        defaults.install()
        row = IntakeChannel.objects.select_related("default_category").get(channel=channel)
    return row


def intake_secret_set(*, actor: Any, channel: str, rotate: bool = False) -> tuple[IntakeChannel, str]:
    """Generate the channel's signing secret; returns it once (it is stored sealed and never shown again).

    A channel that has a secret keeps it unless `rotate`: the old secret stops working at once.
    """
    if not can_manage_keys(actor):
        raise PermissionDenied("forbidden", _("Only administrators and the center may set signing secrets."))
    intake_channel_get(channel)
    raw = SECRET_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        row = IntakeChannel.objects.select_for_update().get(channel=channel)
        if not rotate and is_secret_set(row, "secret"):
            raise Conflict(
                "secret_exists",
                _("This channel already has a signing secret; it is not shown again. Rotate it to get a new one."),
            )
        rotated = is_secret_set(row, "secret")
        row.secret = raw
        row.secret_set_at = timezone.now()
        row.save(update_fields=["secret", "secret_set_at", "updated_at"])
        audit.record(
            actor=actor,
            event="integrations.intake.secret_rotate" if rotated else "integrations.intake.secret_create",
            obj=row,
            data={"channel": channel},
        )
    logger.info("intake secret %s channel=%s", "rotated" if rotated else "created", channel)
    return row, raw


def intake_channel_update(*, actor: Any, row: IntakeChannel, fields: list[str]) -> IntakeChannel:
    """Save what an admin changed on a channel (active, default category and priority), checked and audited."""
    if not can_manage_keys(actor):
        raise PermissionDenied("forbidden", _("Only administrators and the center may change intake channels."))
    allowed = {"active", "default_category", "default_priority"}
    changed = [name for name in fields if name in allowed]
    if row.default_category_id is not None:
        _check_rule_category(row.default_category, "default_category")
    if row.default_priority not in Priority.values:
        raise _invalid("default_priority", _("Not one of the allowed values."))
    with transaction.atomic():
        row.save(update_fields=[*changed, "updated_at"])
        audit.record(
            actor=actor,
            event="integrations.intake.channel_update",
            obj=row,
            data={
                "channel": row.channel,
                "active": row.active,
                "default_category": row.default_category.code if row.default_category_id else "",
                "default_priority": row.default_priority,
            },
        )
    return row


def verify_signature(*, row: IntakeChannel, body: bytes, header: str | None) -> None:
    """Refuse (401 invalid_signature) a body whose signature header is missing or does not match."""
    if not is_secret_set(row, "secret"):
        raise ApplicationError(
            "invalid_signature",
            _("This channel has no signing secret yet: ask the administrator to generate one."),
            status=401,
        )
    given = (header or "").strip()
    if not given:
        raise ApplicationError(
            "invalid_signature",
            _("The %(header)s header is missing.") % {"header": SIGNATURE_HEADER},
            status=401,
        )
    secret = row.secret
    if not verify(secret, body, given.lower()):  # hex digits in either case
        raise ApplicationError(
            "invalid_signature",
            _("The signature does not match the body: sign the exact bytes sent with the channel's secret."),
            status=401,
        )


# --- mapping rules -------------------------------------------------------------------------------


def _check_rule_category(category: Category | None, name: str = "category") -> None:
    if category is None or not category.active or category.is_major:
        raise _invalid(name, _("Choose an active minor category."))


def mapping_rule_save(*, actor: Any, rule: MappingRule) -> MappingRule:
    """Create or change a mapping rule: an active minor category, a type not mapped twice on the channel."""
    if not can_manage_keys(actor):
        raise PermissionDenied("forbidden", _("Only administrators and the center may change mapping rules."))
    rule.event_type = (rule.event_type or "").strip()
    rule.type_key = normalize_type(rule.event_type)
    fields: dict[str, list[str]] = {}
    if rule.channel not in INTAKE_CHANNELS:
        fields["channel"] = [_("Unknown intake channel: %(channel)s.") % {"channel": rule.channel}]
    if not rule.type_key:
        fields["event_type"] = [_("This field is required.")]
    elif len(rule.event_type) > EVENT_TYPE_LENGTH:
        fields["event_type"] = [_("At most %(n)d characters.") % {"n": EVENT_TYPE_LENGTH}]
    elif MappingRule.objects.filter(channel=rule.channel, type_key=rule.type_key).exclude(pk=rule.pk).exists():
        fields["event_type"] = [_("This channel already has a rule for this type.")]
    category = Category.objects.filter(pk=rule.category_id).first() if rule.category_id else None
    if category is None or not category.active or category.is_major:
        fields["category"] = [_("Choose an active minor category.")]
    if rule.priority not in Priority.values:
        fields["priority"] = [_("Not one of the allowed values.")]
    if fields:
        raise ApplicationError("invalid", next(iter(fields.values()))[0], fields=fields)
    created = rule.pk is None
    message = _("This channel already has a rule for this type.")
    try:
        with transaction.atomic():
            rule.save()
            audit.record(
                actor=actor,
                event="integrations.mapping_rule.create" if created else "integrations.mapping_rule.update",
                obj=rule,
                data={
                    "channel": rule.channel,
                    "event_type": rule.event_type,
                    "category": category.code,
                    "priority": rule.priority,
                    "active": rule.active,
                },
            )
    except IntegrityError:
        raise Conflict("duplicate_rule", message, fields={"event_type": [message]}) from None
    return rule


def mapping_rule_delete(*, actor: Any, rule: MappingRule) -> None:
    """Delete a rule; messages of its type then fall back to the channel's default category, or are refused."""
    if not can_manage_keys(actor):
        raise PermissionDenied("forbidden", _("Only administrators and the center may change mapping rules."))
    with transaction.atomic():
        audit.record(
            actor=actor,
            event="integrations.mapping_rule.delete",
            obj=rule,
            data={"channel": rule.channel, "event_type": rule.event_type},
        )
        rule.delete()


def active_rules(channel: str) -> dict[str, MappingRule]:
    """The channel's active rules by normalised type: one read for a whole file of messages."""
    rules = MappingRule.objects.select_related("category").filter(channel=channel, active=True)
    return {rule.type_key: rule for rule in rules}


def resolve_mapping(
    *, row: IntakeChannel, event_type: str, rules: dict[str, MappingRule] | None = None
) -> tuple[Category, str]:
    """The category and priority a type becomes: its active rule, else the channel's default, else 400."""
    key = normalize_type(event_type)
    if rules is not None:
        rule = rules.get(key)
    else:
        rule = (
            MappingRule.objects.select_related("category")
            .filter(channel=row.channel, type_key=key, active=True)
            .first()
        )
    if rule is not None:
        return rule.category, rule.priority
    if row.default_category_id is not None:
        return row.default_category, row.default_priority
    message = _("No mapping rule for the type “%(type)s” on this channel, and the channel has no default category.") % {
        "type": event_type
    }
    raise ApplicationError("unmapped_type", message, fields={"type": [message]})


# --- messages ------------------------------------------------------------------------------------


def body_hash(data: dict[str, Any]) -> str:
    """A hash of the parsed body, independent of key order and spacing: a sender re-serialising the same
    message is a replay, not a reuse of its id."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def sender_id(data: Any) -> str:
    """The sender's id of a message: required, text or a whole number, at most 100 characters."""
    value = data.get("id") if isinstance(data, dict) else None
    if isinstance(value, bool) or value is None:
        raise _invalid("id", _("This field is required."))
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str):
        raise _invalid("id", _("Text or a whole number is required."))
    value = value.strip()
    if not value:
        raise _invalid("id", _("This field is required."))
    if len(value) > SENDER_ID_LENGTH:
        raise _invalid("id", _("At most %(n)d characters.") % {"n": SENDER_ID_LENGTH})
    return value


def _occurred_at(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = parse_datetime(value.strip()) if isinstance(value, str) else None
        except ValueError:  # well formed but impossible, such as month 13
            moment = None
        if moment is None:
            raise _invalid("occurred_at", _("An ISO 8601 date and time such as 2026-05-01T08:30:00+08:00 is required."))
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


@dataclass
class Prepared:
    """A message after its own checks and its mapping, before anything is written."""

    row: IntakeChannel
    sender_id: str
    event_type: str
    body_hash: str
    occurred_at: datetime | None
    fields: dict[str, Any] = field(default_factory=dict)  # case_report's keyword arguments


def _trailer(row: IntakeChannel, sender: str, occurred_at: datetime | None) -> str:
    """The line a case description ends with: which channel sent it under which id, and when it happened.
    Stored text, so in the site's language whatever language the sender's request asked for."""
    with translation.override(settings.LANGUAGE_CODE):
        if occurred_at is None:
            return _("[%(channel)s %(id)s]") % {"channel": row.get_channel_display(), "id": sender}
        return _("[%(channel)s %(id)s, occurred %(time)s]") % {
            "channel": row.get_channel_display(),
            "id": sender,
            "time": timezone.localtime(occurred_at).strftime("%Y-%m-%d %H:%M"),
        }


def _require_object(data: Any) -> None:
    if not isinstance(data, dict):
        message = _("The body must be a JSON object.")
        raise ApplicationError("invalid", message, fields={"non_field_errors": [message]})


def prepare(
    *,
    row: IntakeChannel,
    data: Any,
    within: Area | None,
    check: bool = False,
    rules: dict[str, MappingRule] | None = None,
) -> Prepared:
    """Check a message's fields and map its type. With `check`, also run the case pipeline's intake check, so a
    file of messages can be checked whole before any of them is written (`rules`: `active_rules`, read once)."""
    _require_object(data)
    unknown = sorted(str(name) for name in data if name not in FIELDS)
    if unknown:
        message = _("Unknown field: %(name)s.") % {"name": unknown[0]}
        raise ApplicationError("unknown_field", message, fields={name: [_("Unknown field.")] for name in unknown})
    sender = sender_id(data)
    event_type = data.get("type")
    if not isinstance(event_type, str) or not event_type.strip():
        raise _invalid("type", _("This field is required."))
    event_type = event_type.strip()
    if len(event_type) > EVENT_TYPE_LENGTH:
        raise _invalid("type", _("At most %(n)d characters.") % {"n": EVENT_TYPE_LENGTH})
    description = data.get("description") or ""
    if not isinstance(description, str):
        raise _invalid("description", _("Text is required."))
    description = description.strip()
    if len(description) > MAX_DESCRIPTION:
        raise _invalid("description", _("At most %(n)d characters.") % {"n": MAX_DESCRIPTION})
    occurred_at = _occurred_at(data.get("occurred_at"))
    priority = data.get("priority")
    if priority not in (None, "") and priority not in Priority.values:
        raise _invalid("priority", _("One of: %(values)s.") % {"values": ", ".join(Priority.values)})
    category, mapped_priority = resolve_mapping(row=row, event_type=event_type, rules=rules)
    title = data.get("title")
    if title in (None, ""):
        first_line = description.splitlines()[0].strip() if description else ""
        title = first_line[:40] or event_type
    trailer = _trailer(row, sender, occurred_at)
    fields = {
        "category": category,
        "title": title,
        "description": f"{description}\n\n{trailer}" if description else trailer,
        "priority": priority or mapped_priority,
        "source": SOURCES[row.channel],
        "extra": data.get("extra"),
        "lat": data.get("lat"),
        "lng": data.get("lng"),
        "address": data.get("address") or "",
        "reporter_name": data.get("reporter_name") or "",
        "reporter_phone": data.get("reporter_phone") or "",
        "media_url": data.get("media_url") or "",
        "within": within,
    }
    if check:
        try:
            check_intake(actor=None, **fields)
        except ApplicationError as exc:
            raise _as_sender_fields(exc) from None
    return Prepared(
        row=row,
        sender_id=sender,
        event_type=event_type,
        body_hash=body_hash(data),
        occurred_at=occurred_at,
        fields=fields,
    )


def _as_sender_fields(exc: ApplicationError) -> ApplicationError:
    """The pipeline names the category, which the sender never sends: the sender's `type` chose it."""
    if "category" not in exc.fields:
        return exc
    fields = {("type" if name == "category" else name): reasons for name, reasons in exc.fields.items()}
    return ApplicationError(exc.code, exc.message, fields=fields, status=exc.status)


def created_message(channel: str, sender: str) -> IntakeMessage | None:
    """The message of this channel and id that made a case, if any."""
    return (
        IntakeMessage.objects.select_related("case", "case__category")
        .filter(channel=channel, sender_id=sender, outcome=IntakeOutcome.CREATED)
        .first()
    )


def create(
    prepared: Prepared, *, key: ApiKey | None = None, actor: Any = None, via: str = IntakeVia.API
) -> IntakeMessage | None:
    """Write the message and its case in one transaction; None when another message took the id meanwhile.

    The message row is claimed first: a concurrent duplicate waits on the unique index there (PostgreSQL) or
    on the write lock (SQLite), then fails before building a case of its own.
    """
    try:
        with transaction.atomic():
            message = IntakeMessage.objects.create(
                channel=prepared.row.channel,
                via=via,
                sender_id=prepared.sender_id,
                event_type=prepared.event_type,
                body_hash=prepared.body_hash,
                occurred_at=prepared.occurred_at,
                api_key=key,
                imported_by=actor if getattr(actor, "is_authenticated", False) else None,
                outcome=IntakeOutcome.CREATED,
            )
            try:
                case = case_report(actor=None, **prepared.fields)
            except ApplicationError as exc:
                raise _as_sender_fields(exc) from None
            message.case = case
            message.save(update_fields=["case", "updated_at"])
            audit.record(
                actor=actor,
                event="integrations.intake.create",
                obj=message,
                data={
                    "channel": message.channel,
                    "via": via,
                    "sender_id": message.sender_id,
                    "case": case.code,
                    "key": key.prefix if key is not None else "",
                },
            )
    except IntegrityError:
        if created_message(prepared.row.channel, prepared.sender_id) is None:
            raise
        return None
    return message


@dataclass
class Received:
    """What the endpoint answers: the case, and whether it was made by an earlier copy of the message."""

    case: Case
    message: IntakeMessage
    replayed: bool


def _replay(message: IntakeMessage, digest: str) -> Received:
    if message.body_hash != digest:
        reason = _("Use a new id for a new message.")
        raise Conflict(
            "intake_id_reused",
            _("This id was already used for a different message on this channel."),
            fields={"id": [reason]},
        )
    now = timezone.now()
    # One UPDATE: concurrent replays must not overwrite each other's count.
    IntakeMessage.objects.filter(pk=message.pk).update(replays=F("replays") + 1, last_replayed_at=now)
    return Received(case=message.case, message=message, replayed=True)


def _refusal(row: IntakeChannel, key: ApiKey | None, data: Any, exc: ApplicationError) -> None:
    """Keep a refused message that passed the key and the signature: admins see which types lack a rule."""
    sender = ""
    if isinstance(data, dict):
        raw = data.get("id")
        sender = str(raw).strip()[:SENDER_ID_LENGTH] if isinstance(raw, str | int) and raw is not True else ""
    event_type = data.get("type") if isinstance(data, dict) else ""
    IntakeMessage.objects.create(
        channel=row.channel,
        sender_id=sender,
        event_type=event_type.strip()[:EVENT_TYPE_LENGTH] if isinstance(event_type, str) else "",
        body_hash=body_hash(data) if isinstance(data, dict) else "",
        api_key=key,
        outcome=IntakeOutcome.REFUSED,
        error_code=exc.code[:50],
    )


def intake_receive(*, channel: str, data: Any, key: ApiKey) -> Received:
    """A signed message of an authenticated sender becomes one case, however often it is sent.

    The caller (the endpoint) has checked the size, the key (bound to `channel`) and the signature.
    Raises ApplicationError: 400 (fields, `unknown_field`, `unmapped_type`, the pipeline's codes), 403
    `channel_disabled`, 409 `intake_id_reused`. Refusals are logged and kept as `refused` messages.
    """
    row = intake_channel_get(channel)
    try:
        if not row.active:
            raise PermissionDenied("channel_disabled", _("This intake channel is switched off."))
        _require_object(data)
        sender = sender_id(data)
        digest = body_hash(data)
        # A replay answers with the first case even if its body would be refused now (a rule changed since).
        earlier = created_message(channel, sender)
        if earlier is not None:
            return _replay(earlier, digest)
        prepared = prepare(row=row, data=data, within=key.area)
        message = create(prepared, key=key)
        if message is None:
            return _replay(created_message(channel, sender), digest)
    except ApplicationError as exc:
        _refusal(row, key, data, exc)
        raise
    logger.info("intake case created channel=%s id=%s case=%s", channel, message.sender_id, message.case.code)
    return Received(case=message.case, message=message, replayed=False)
