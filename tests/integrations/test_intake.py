"""Signed intake at /api/v1/intake/{channel}/: keys, signatures, size, mapping rules, idempotency by the sender's id."""

from __future__ import annotations

import io
import json
import logging
from types import SimpleNamespace

import pytest
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import RequestFactory

from gridgov.cases import defaults as case_defaults
from gridgov.cases.choices import CaseLevel, Priority, Source
from gridgov.cases.models import Case, Category
from gridgov.core import crypto
from gridgov.core.errors import ApplicationError
from gridgov.core.models import AuditEvent
from gridgov.integrations import defaults as intake_defaults
from gridgov.integrations import intake
from gridgov.integrations.api_views import read_body
from gridgov.integrations.models import (
    Channel,
    IntakeChannel,
    IntakeMessage,
    IntakeOutcome,
    IntakeVia,
    MappingRule,
)
from gridgov.integrations.services import apikey_create, apikey_revoke
from tests.cases.conftest import IN_G11, IN_G21
from tests.conftest import PASSWORD

ALARM = {
    "id": "CAM-0001-20260501-083000",
    "type": "占道经营",
    "title": "南门占道经营",
    "description": "摄像头识别到南门外流动摊贩占道经营。",
    "lat": IN_G11["lat"],
    "lng": IN_G11["lng"],
    "address": "幸福路 18 号南门",
    "occurred_at": "2026-05-01T08:30:00+08:00",
    "media_url": "https://cam.example.org/snap/0001.jpg",
}


@pytest.fixture(autouse=True)
def _catalogue(db):
    # A transactional test elsewhere may have flushed what the data migrations installed.
    case_defaults.install()
    intake_defaults.install()


def sender(org, channel: str = Channel.CAMERA, area=None) -> SimpleNamespace:
    """A key of the channel (in `area`, default the subdistrict) and the channel's signing secret."""
    key, raw = apikey_create(actor=None, name=f"{channel} sender", channel=channel, area=area or org.s)
    row = IntakeChannel.objects.get(channel=channel)
    secret = (
        intake.intake_secret_set(actor=None, channel=channel)[1]
        if not row.secret
        else intake.intake_secret_set(actor=None, channel=channel, rotate=True)[1]
    )
    return SimpleNamespace(key=key, raw=raw, secret=secret, channel=channel)


def send(client, who: SimpleNamespace, body=None, *, raw: bytes | None = None, signature: str | None = None, **extra):
    """POST a message as `who`: the body signed with the channel's secret unless `signature` is given."""
    data = raw if raw is not None else json.dumps(body, ensure_ascii=False).encode()
    headers = {"HTTP_X_API_KEY": who.raw, "HTTP_X_GRIDGOV_SIGNATURE": intake.sign(who.secret, data)}
    if signature is not None:
        headers["HTTP_X_GRIDGOV_SIGNATURE"] = signature
    headers.update(extra)
    headers = {name: value for name, value in headers.items() if value is not None}
    return client.post(f"/api/v1/intake/{who.channel}/", data=data, content_type="application/json", **headers)


def nothing_stored() -> bool:
    return not Case.objects.exists() and not IntakeMessage.objects.exists()


# --- a message becomes a case --------------------------------------------------------------------


def test_a_signed_camera_alarm_becomes_a_case(client, org):
    cam = sender(org)
    response = send(client, cam, ALARM)
    assert response.status_code == 201, response.content
    body = response.json()
    case = Case.objects.get()
    assert body["id"] == case.pk and body["code"] == case.code and body["state"] == "reported"
    assert (body["replayed"], body["channel"], body["intake_id"]) == (False, "camera", ALARM["id"])
    assert body["tracking_code"] == case.tracking_code and body["category"] == "01003"
    assert (case.source, case.category.code, case.priority, case.grid) == (Source.CAMERA, "01003", "normal", org.g11)
    assert case.reporter is None and case.title == "南门占道经营" and case.media_url == ALARM["media_url"]
    assert case.description.startswith(ALARM["description"])
    assert ALARM["id"] in case.description and "2026-05-01 08:30" in case.description
    message = IntakeMessage.objects.get()
    assert (message.channel, message.sender_id, message.case, message.api_key) == ("camera", ALARM["id"], case, cam.key)
    assert (message.outcome, message.via, message.event_type) == (IntakeOutcome.CREATED, IntakeVia.API, "占道经营")
    assert message.occurred_at.isoformat() == "2026-05-01T00:30:00+00:00"
    assert message.body_hash == intake.body_hash(ALARM)
    event = AuditEvent.objects.get(event_type="integrations.intake.create")
    assert event.data == {
        "channel": "camera",
        "via": "api",
        "sender_id": ALARM["id"],
        "case": case.code,
        "key": cam.key.prefix,
    }
    cam.key.refresh_from_db()
    assert cam.key.last_used_at is not None


def test_a_camera_alarm_sent_five_times_is_one_case(client, org):
    cam = sender(org)
    answers = [send(client, cam, ALARM) for _ in range(5)]
    assert [a.status_code for a in answers] == [201, 200, 200, 200, 200]
    assert {a.json()["id"] for a in answers} == {Case.objects.get().pk}
    assert [a.json()["replayed"] for a in answers] == [False, True, True, True, True]
    message = IntakeMessage.objects.get()
    assert message.replays == 4 and message.last_replayed_at is not None
    assert AuditEvent.objects.filter(event_type="integrations.intake.create").count() == 1


def test_a_replay_reordered_and_respaced_is_still_a_replay(client, org):
    cam = sender(org)
    assert send(client, cam, ALARM).status_code == 201
    same = json.dumps(dict(reversed(list(ALARM.items()))), indent=2, ensure_ascii=True).encode()
    response = send(client, cam, raw=same)
    assert response.status_code == 200 and response.json()["replayed"] is True
    assert Case.objects.count() == 1


def test_the_same_id_with_another_body_is_refused(client, org):
    cam = sender(org)
    first = send(client, cam, ALARM).json()
    response = send(client, cam, {**ALARM, "description": "另一条告警"})
    assert response.status_code == 409
    assert response.json()["code"] == "intake_id_reused" and list(response.json()["fields"]) == ["id"]
    assert list(Case.objects.values_list("pk", flat=True)) == [first["id"]]
    refused = IntakeMessage.objects.get(outcome=IntakeOutcome.REFUSED)
    assert (refused.sender_id, refused.error_code, refused.case) == (ALARM["id"], "intake_id_reused", None)


def test_the_same_id_on_another_channel_is_another_message(client, org):
    cam, line = sender(org), sender(org, Channel.HOTLINE_12345)
    assert send(client, cam, ALARM).status_code == 201
    response = send(client, line, {**ALARM, "type": "占道经营"})
    assert response.status_code == 201
    assert Case.objects.count() == 2
    assert Case.objects.get(pk=response.json()["id"]).source == Source.HOTLINE


@pytest.mark.parametrize("channel", [Channel.HOTLINE_12345, Channel.GENERIC])
def test_hotline_and_generic_messages_are_hotline_cases(client, org, channel):
    IntakeChannel.objects.filter(channel=channel).update(default_category=Category.objects.get(code="09004"))
    who = sender(org, channel)
    response = send(client, who, {"id": 7, "type": "咨询", "description": "咨询养老补贴政策", **IN_G11})
    assert response.status_code == 201, response.content
    case = Case.objects.get()
    assert (case.source, case.category.code, case.title) == (Source.HOTLINE, "09004", "咨询养老补贴政策")
    assert IntakeMessage.objects.get().sender_id == "7"


def test_a_message_with_an_address_and_no_point_goes_to_the_subdistrict(client, org):
    line = sender(org, Channel.HOTLINE_12345, area=org.c2)
    response = send(client, line, {"id": "GD1", "type": "占道经营", "address": "二社区菜场门口"})
    assert response.status_code == 201, response.content
    case = Case.objects.get()
    assert (case.outside_grids, case.level, case.handling_area) == (True, CaseLevel.SUBDISTRICT, org.s)


# --- mapping rules -------------------------------------------------------------------------------


def test_mapping_picks_category_and_priority(client, org):
    cam = sender(org)
    response = send(client, cam, {**ALARM, "id": "A2", "type": "消防通道堵塞"})
    assert response.status_code == 201
    assert (response.json()["category"], response.json()["priority"]) == ("04001", "urgent")
    override = send(client, cam, {**ALARM, "id": "A3", "type": "消防通道堵塞", "priority": "critical"})
    assert override.json()["priority"] == "critical"


def test_a_type_matches_ignoring_case_and_full_width_forms(client, org):
    rule = MappingRule(channel=Channel.GENERIC, event_type=" Fire-Lane ", category=Category.objects.get(code="04001"))
    intake.mapping_rule_save(actor=org.users.center, rule=rule)
    assert (rule.event_type, rule.type_key) == ("Fire-Lane", "fire-lane")
    who = sender(org, Channel.GENERIC)
    for number, variant in enumerate(["fire-lane", "FIRE-LANE", "ＦＩＲＥ－ＬＡＮＥ"]):
        response = send(client, who, {**ALARM, "id": f"G{number}", "type": variant})
        assert response.status_code == 201, (variant, response.content)
        assert response.json()["category"] == "04001"
    assert send(client, who, {**ALARM, "id": "G9", "type": "fire lane"}).json()["code"] == "unmapped_type"


def test_an_unmapped_type_is_refused_naming_it(client, org):
    cam = sender(org)
    response = send(client, cam, {**ALARM, "type": "高空抛物"})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "unmapped_type" and "高空抛物" in body["message"] and list(body["fields"]) == ["type"]
    assert not Case.objects.exists()
    refused = IntakeMessage.objects.get()
    assert (refused.outcome, refused.event_type, refused.error_code) == ("refused", "高空抛物", "unmapped_type")
    # With a default category the same id is accepted: a refused message does not hold its id.
    IntakeChannel.objects.filter(channel="camera").update(
        default_category=Category.objects.get(code="08001"), default_priority=Priority.URGENT
    )
    response = send(client, cam, {**ALARM, "type": "高空抛物"})
    assert response.status_code == 201
    assert (response.json()["category"], response.json()["priority"]) == ("08001", "urgent")


def test_an_inactive_rule_is_not_used(client, org):
    MappingRule.objects.filter(channel="camera", type_key="占道经营").update(active=False)
    response = send(client, sender(org), ALARM)
    assert response.status_code == 400 and response.json()["code"] == "unmapped_type"
    assert not Case.objects.exists()


def test_mapping_rule_checks(org):
    major = Category.objects.get(code="01")
    with pytest.raises(ApplicationError) as caught:
        intake.mapping_rule_save(
            actor=org.users.admin, rule=MappingRule(channel="camera", event_type="x", category=major)
        )
    assert list(caught.value.fields) == ["category"]
    duplicate = MappingRule(channel="camera", event_type="占道经营 ", category=Category.objects.get(code="01001"))
    with pytest.raises(ApplicationError) as caught:
        intake.mapping_rule_save(actor=org.users.admin, rule=duplicate)
    assert list(caught.value.fields) == ["event_type"] and caught.value.code == "invalid"
    with pytest.raises(ApplicationError) as caught:
        intake.mapping_rule_save(
            actor=org.users.grid_worker,
            rule=MappingRule(channel="camera", event_type="新类型", category=Category.objects.get(code="01001")),
        )
    assert caught.value.code == "forbidden"
    rule = MappingRule(channel="camera", event_type="新类型", category=Category.objects.get(code="01001"))
    intake.mapping_rule_save(actor=org.users.center, rule=rule)
    assert AuditEvent.objects.filter(event_type="integrations.mapping_rule.create", object_id=str(rule.pk)).exists()
    intake.mapping_rule_delete(actor=org.users.center, rule=rule)
    assert not MappingRule.objects.filter(pk=rule.pk).exists()
    assert AuditEvent.objects.filter(event_type="integrations.mapping_rule.delete").count() == 1


def test_default_rules_point_at_active_minor_categories(org):
    rules = MappingRule.objects.select_related("category")
    assert rules.filter(channel="camera").count() == len(intake_defaults.CAMERA_RULES)
    assert rules.filter(channel="hotline_12345").count() == len(intake_defaults.HOTLINE_RULES)
    assert all(rule.category.active and not rule.category.is_major for rule in rules)
    assert {r.type_key for r in rules.filter(channel="camera")} >= {
        "占道经营",
        "乱堆物料",
        "消防通道堵塞",
        "人员聚集",
        "垃圾满溢",
        "烟火",
    }
    # No default rule points at a category whose extra fields are required: such a message could never pass.
    assert not [r for r in rules if any(f.get("required") for f in r.category.form_schema)]


# --- keys ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["missing", "unknown", "revoked", "other_channel", "open311"])
def test_a_bad_key_is_403_and_stores_nothing(client, org, case):
    cam = sender(org)
    raw = cam.raw
    if case == "missing":
        raw = None
    elif case == "unknown":
        raw = "gg_" + "x" * 43
    elif case == "revoked":
        apikey_revoke(actor=None, key=cam.key)
    elif case == "other_channel":
        raw = sender(org, Channel.HOTLINE_12345).raw
    elif case == "open311":
        raw = apikey_create(actor=None, name="o", channel=Channel.OPEN311, area=org.s)[1]
    response = send(client, cam, ALARM, HTTP_X_API_KEY=raw)
    assert response.status_code == 403
    assert response.json()["code"] == "invalid_api_key"
    assert nothing_stored()


# --- signatures ----------------------------------------------------------------------------------


def _signatures(cam) -> dict[str, str | None]:
    body = json.dumps(ALARM, ensure_ascii=False).encode()
    good = intake.sign(cam.secret, body)
    return {
        "missing": None,
        "empty": "",
        "garbage": "sha256=nothex",
        "other_secret": intake.sign("gis_another-secret", body),
        "other_body": intake.sign(cam.secret, body + b" "),
        "no_prefix": good.removeprefix("sha256="),
        "sha1_prefix": "sha1=" + good.removeprefix("sha256="),
        "truncated": good[:-2],
    }


@pytest.mark.parametrize(
    "case", ["missing", "empty", "garbage", "other_secret", "other_body", "no_prefix", "sha1_prefix", "truncated"]
)
def test_a_wrong_or_missing_signature_is_401_and_stores_nothing(client, org, case):
    cam = sender(org)
    signature = _signatures(cam)[case]
    body = json.dumps(ALARM, ensure_ascii=False).encode()
    headers = {"HTTP_X_API_KEY": cam.raw}
    if signature is not None:
        headers["HTTP_X_GRIDGOV_SIGNATURE"] = signature
    response = client.post("/api/v1/intake/camera/", data=body, content_type="application/json", **headers)
    assert response.status_code == 401, response.content
    assert response.json()["code"] == "invalid_signature"
    assert nothing_stored()


def test_an_upper_case_signature_is_accepted(client, org):
    cam = sender(org)
    body = json.dumps(ALARM).encode()
    signature = "sha256=" + intake.sign(cam.secret, body).removeprefix("sha256=").upper()
    assert send(client, cam, raw=body, signature=signature).status_code == 201


def test_a_tampered_body_is_refused(client, org):
    cam = sender(org)
    signed = json.dumps(ALARM, ensure_ascii=False).encode()
    tampered = json.dumps({**ALARM, "type": "消防通道堵塞"}, ensure_ascii=False).encode()
    response = send(client, cam, raw=tampered, signature=intake.sign(cam.secret, signed))
    assert response.status_code == 401 and nothing_stored()


def test_a_channel_without_a_secret_refuses_everything(client, org):
    key, raw = apikey_create(actor=None, name="cam", channel="camera", area=org.s)
    body = json.dumps(ALARM).encode()
    response = client.post(
        "/api/v1/intake/camera/",
        data=body,
        content_type="application/json",
        HTTP_X_API_KEY=raw,
        HTTP_X_GRIDGOV_SIGNATURE=intake.sign("", body),
    )
    assert response.status_code == 401 and response.json()["code"] == "invalid_signature"
    assert nothing_stored()


def test_a_rotated_secret_stops_the_old_one(client, org):
    cam = sender(org)
    old = cam.secret
    _row, new = intake.intake_secret_set(actor=org.users.admin, channel="camera", rotate=True)
    assert new != old
    assert send(client, cam, ALARM).status_code == 401
    cam.secret = new
    assert send(client, cam, ALARM).status_code == 201


# --- secrets -------------------------------------------------------------------------------------


def test_the_secret_is_shown_once_and_stored_sealed(org):
    row, raw = intake.intake_secret_set(actor=org.users.center, channel="hotline_12345")
    row.refresh_from_db()
    assert raw.startswith("gis_") and len(raw) > 40 and row.secret == raw
    sealed = IntakeChannel.objects.values_list("secret", flat=True).get(pk=row.pk).stored
    assert raw not in sealed and sealed.startswith("g1$")
    assert crypto.decrypt(sealed, context=intake.SECRET_CONTEXT) == raw
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(sealed, context="cases_case.reporter_phone")
    with pytest.raises(ApplicationError) as caught:
        intake.intake_secret_set(actor=org.users.center, channel="hotline_12345")
    assert (caught.value.code, caught.value.status) == ("secret_exists", 409)
    events = AuditEvent.objects.filter(event_type__startswith="integrations.intake.secret")
    assert [e.event_type for e in events] == ["integrations.intake.secret_create"]
    assert all(raw not in json.dumps(e.data) and raw not in e.object_repr for e in AuditEvent.objects.all())


@pytest.mark.parametrize("who", ["grid_worker", "community", "leader", "nobody"])
def test_only_admins_and_the_center_set_secrets(org, who):
    with pytest.raises(ApplicationError) as caught:
        intake.intake_secret_set(actor=getattr(org.users, who), channel="camera")
    assert caught.value.code == "forbidden"
    assert not IntakeChannel.objects.get(channel="camera").secret


def test_the_secret_command(org):
    out, err = io.StringIO(), io.StringIO()
    call_command("intake", "secret", "camera", stdout=out, stderr=err)
    first = out.getvalue().strip()
    assert first.startswith("gis_") and "not shown again" in err.getvalue()
    assert IntakeChannel.objects.get(channel="camera").secret == first
    with pytest.raises(CommandError, match="secret_exists"):
        call_command("intake", "secret", "camera", stdout=io.StringIO(), stderr=io.StringIO())
    out = io.StringIO()
    call_command("intake", "secret", "camera", "--rotate", stdout=out, stderr=io.StringIO())
    second = out.getvalue().strip()
    assert second != first
    assert IntakeChannel.objects.get(channel="camera").secret == second


def test_the_admin_rotates_a_secret_and_shows_it_once(client, org):
    client.login(username="admin", password=PASSWORD)
    row = IntakeChannel.objects.get(channel="camera")
    response = client.post(
        "/admin/integrations/intakechannel/", {"action": "rotate_secret", "_selected_action": [row.pk], "index": 0}
    )
    assert response.status_code == 302
    shown = [str(m) for m in get_messages(response.wsgi_request) if "<code>" in str(m)]
    assert len(shown) == 1
    raw = shown[0].split("<code>")[1].split("</code>")[0]
    row.refresh_from_db()
    assert row.secret == raw
    sealed = IntakeChannel.objects.values_list("secret", flat=True).get(pk=row.pk).stored
    assert client.get(response["Location"]).content.decode().count(raw) == 1
    for page in ("/admin/integrations/intakechannel/", f"/admin/integrations/intakechannel/{row.pk}/change/"):
        content = client.get(page).content.decode()
        assert raw not in content and sealed not in content


def _rule_form(event_type: str, code: str, priority: str = "normal") -> dict:
    category = Category.objects.get(code=code)
    return {
        "channel": "camera",
        "event_type": event_type,
        "category": category.pk,
        "priority": priority,
        "order": 1,
        "active": "on",
    }


@pytest.mark.parametrize(
    ("form", "field"),
    [
        (("占道经营", "01001"), "event_type"),
        ((" 占道经营 ", "01001"), "event_type"),
        (("高空抛物", "01"), "category"),
        (("", "01001"), "event_type"),
    ],
)
def test_the_admin_refuses_a_bad_rule(client, org, form, field):
    client.login(username="admin", password=PASSWORD)
    count = MappingRule.objects.count()
    response = client.post("/admin/integrations/mappingrule/add/", _rule_form(*form))
    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == [field]
    assert MappingRule.objects.count() == count
    assert not AuditEvent.objects.filter(event_type__startswith="integrations.mapping_rule").exists()


def test_the_admin_adds_a_rule_through_the_service(client, org):
    client.login(username="admin", password=PASSWORD)
    response = client.post("/admin/integrations/mappingrule/add/", _rule_form("高空抛物", "03001", "urgent"))
    assert response.status_code == 302
    rule = MappingRule.objects.get(type_key="高空抛物")
    assert (rule.priority, rule.category.code) == ("urgent", "03001")
    event = AuditEvent.objects.get(event_type="integrations.mapping_rule.create")
    assert event.actor == org.users.admin and event.data["category"] == "03001"


def test_a_center_without_staff_status_cannot_reach_the_admin(client, org):
    client.login(username="center", password=PASSWORD)
    response = client.get("/admin/integrations/intakechannel/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


# --- size, body and fields -----------------------------------------------------------------------


def test_an_oversized_body_is_413(client, org, settings):
    settings.GRIDGOV_INTAKE_MAX_BYTES = 1024
    cam = sender(org)
    response = send(client, cam, {**ALARM, "description": "长" * 1000})
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert nothing_stored()
    cam.key.refresh_from_db()
    assert cam.key.last_used_at is None  # refused before the key was looked at


class _Spy(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.asked = 0

    def read(self, size: int = -1) -> bytes:
        self.asked += 1 if size is None or size < 0 else size
        return super().read(size)


def test_an_oversized_body_is_not_read(settings):
    settings.GRIDGOV_INTAKE_MAX_BYTES = 100
    big = _Spy(b"x" * 10_000)
    request = RequestFactory().generic("POST", "/api/v1/intake/camera/", b"", content_type="application/json")
    request.META["CONTENT_LENGTH"] = "10000"
    request.META["wsgi.input"] = big
    request._stream = big
    with pytest.raises(ApplicationError) as caught:
        read_body(SimpleNamespace(META=request.META, _request=request))
    assert (caught.value.code, caught.value.status) == ("too_large", 413)
    assert big.tell() == 0
    # Without a declared length, no more than one byte past the limit is read.
    small = _Spy(b"y" * 10_000)
    request.META["CONTENT_LENGTH"] = ""
    request._stream = small
    with pytest.raises(ApplicationError):
        read_body(SimpleNamespace(META=request.META, _request=request))
    assert small.tell() == 101


def test_a_body_at_the_limit_is_read(settings, org, client):
    cam = sender(org)
    body = json.dumps(ALARM, ensure_ascii=False).encode()
    settings.GRIDGOV_INTAKE_MAX_BYTES = len(body)
    assert send(client, cam, raw=body).status_code == 201


@pytest.mark.parametrize(
    ("raw", "code"),
    [(b"", "invalid_json"), (b"{not json", "invalid_json"), (b"\xff\xfe{}", "invalid_json"), (b"[1, 2]", "invalid")],
)
def test_a_body_that_is_not_a_json_object_is_400(client, org, raw, code):
    response = send(client, sender(org), raw=raw)
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert not Case.objects.exists()


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"id": None}, "invalid", "id"),
        ({"id": "  "}, "invalid", "id"),
        ({"id": True}, "invalid", "id"),
        ({"id": "x" * 101}, "invalid", "id"),
        ({"id": {"a": 1}}, "invalid", "id"),
        ({"type": None}, "invalid", "type"),
        ({"type": 12}, "invalid", "type"),
        ({"priority": "high"}, "invalid", "priority"),
        ({"occurred_at": "yesterday"}, "invalid", "occurred_at"),
        ({"occurred_at": "2026-13-01T00:00:00"}, "invalid", "occurred_at"),
        ({"camera_no": "17"}, "unknown_field", "camera_no"),
        ({"lat": "north"}, "invalid_point", "lat"),
        ({"lat": None, "lng": None, "address": ""}, "invalid_point", "lat"),
        ({"lat": IN_G21["lat"], "lng": IN_G21["lng"]}, "outside_scope", "lat"),
        ({"reporter_phone": "12345"}, "invalid", "reporter_phone"),
        ({"media_url": "javascript:alert(1)"}, "invalid", "media_url"),
        ({"extra": {"camera_no": "17"}}, "invalid_extra", "extra.camera_no"),
        ({"title": "t" * 101}, "invalid", "title"),
        ({"description": "d" * 3801}, "invalid", "description"),
    ],
)
def test_bad_fields_are_400_naming_them_and_store_no_case(client, org, change, code, field):
    cam = sender(org, area=org.c1)
    body = {**ALARM, **change}
    body = {name: value for name, value in body.items() if value is not None or name in ("id", "type")}
    response = send(client, cam, body)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code
    assert field in response.json()["fields"]
    assert not Case.objects.exists()
    assert IntakeMessage.objects.filter(outcome=IntakeOutcome.CREATED).count() == 0
    assert IntakeMessage.objects.get().error_code == code


def test_a_missing_title_comes_from_the_description_or_the_type(client, org):
    cam = sender(org)
    body = {name: value for name, value in ALARM.items() if name != "title"}
    assert send(client, cam, body).status_code == 201
    assert Case.objects.get().title == ALARM["description"][:40]
    bare = {"id": "B", "type": "垃圾满溢", **IN_G11}
    assert send(client, cam, bare).status_code == 201
    case = Case.objects.get(pk=IntakeMessage.objects.get(sender_id="B").case_id)
    assert (case.title, case.category.code) == ("垃圾满溢", "01001")
    # Only the line naming the sender's id: no blank description above it.
    assert "\n" not in case.description and " B" in case.description and len(case.description) < 20


@pytest.mark.parametrize("path", ["/api/v1/intake/fax/", "/api/v1/intake/open311/"])
def test_an_unknown_channel_is_404(client, org, path):
    response = client.post(path, data=b"{}", content_type="application/json")
    assert response.status_code == 404 and response.json()["code"] == "unknown_channel"


def test_only_post_is_allowed(client, org):
    response = client.get("/api/v1/intake/camera/")
    assert response.status_code == 405 and response.json()["code"] == "method_not_allowed"


def test_a_disabled_channel_refuses(client, org):
    cam = sender(org)
    IntakeChannel.objects.filter(channel="camera").update(active=False)
    response = send(client, cam, ALARM)
    assert response.status_code == 403 and response.json()["code"] == "channel_disabled"
    assert not Case.objects.exists()


def test_each_refusal_is_logged(client, org, caplog):
    cam = sender(org)
    with caplog.at_level(logging.WARNING, logger="gridgov.integrations"):
        send(client, cam, ALARM, HTTP_X_API_KEY="gg_nope")
        send(client, cam, ALARM, signature="sha256=00")
        send(client, cam, {**ALARM, "type": "未知"})
    lines = [r.getMessage() for r in caplog.records if r.name == "gridgov.integrations"]
    assert any("code=invalid_api_key" in line and "status=403" in line for line in lines)
    assert any("code=invalid_signature" in line and "status=401" in line for line in lines)
    assert any("code=unmapped_type" in line and cam.key.prefix in line for line in lines)
    assert all(cam.secret not in line and cam.raw not in line for line in lines)


def test_the_schema_documents_the_endpoint(client, org):
    client.login(username="admin", password=PASSWORD)
    response = client.get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    operation = schema["paths"]["/api/v1/intake/{channel}/"]["post"]
    assert {"201", "200", "400", "401", "403", "409", "413"} <= set(operation["responses"])


def test_the_defaults_come_back_after_a_flush(client, org):
    """`gridgov demo` flushes the database: the channels and default rules are put back on first use."""
    cam = sender(org)
    secret_row = IntakeChannel.objects.get(channel="camera")
    MappingRule.objects.all().delete()
    IntakeChannel.objects.all().delete()
    assert intake.intake_channel_get("camera").secret == ""
    assert MappingRule.objects.filter(channel="camera").count() == len(intake_defaults.CAMERA_RULES)
    assert IntakeChannel.objects.count() == 3 and secret_row.secret
    IntakeChannel.objects.filter(channel="camera").update(secret=secret_row.secret)
    response = send(client, cam, ALARM)
    assert response.status_code == 201 and response.json()["category"] == "01003"


def test_the_admin_pages_render(client, org):
    cam = sender(org)
    send(client, cam, ALARM)
    send(client, cam, {**ALARM, "id": "X", "type": "未知"})
    client.login(username="admin", password=PASSWORD)
    row = IntakeChannel.objects.get(channel="camera")
    rule = MappingRule.objects.filter(channel="camera").first()
    for url in (
        "/admin/integrations/intakechannel/",
        f"/admin/integrations/intakechannel/{row.pk}/change/",
        "/admin/integrations/mappingrule/?channel__exact=camera",
        f"/admin/integrations/mappingrule/{rule.pk}/change/",
        "/admin/integrations/intakemessage/?outcome__exact=refused",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
    listing = client.get("/admin/integrations/intakemessage/").content.decode()
    assert ALARM["id"] in listing and "unmapped_type" in listing
    response = client.post(
        f"/admin/integrations/intakechannel/{row.pk}/change/",
        {"active": "on", "default_category": Category.objects.get(code="08001").pk, "default_priority": "urgent"},
    )
    assert response.status_code == 302
    row.refresh_from_db()
    assert (row.default_category.code, row.default_priority) == ("08001", "urgent") and row.has_secret
    event = AuditEvent.objects.get(event_type="integrations.intake.channel_update")
    assert event.data["default_category"] == "08001" and "secret" not in json.dumps(event.data)


def test_the_description_line_is_in_the_sites_language(client, org):
    cam = sender(org)
    response = send(client, cam, ALARM, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 201
    description = Case.objects.get().description
    assert "视频监控" in description and "Camera" not in description
