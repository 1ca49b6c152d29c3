"""The audit trail: every service write leaves one event; events cannot change; only admins read them."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.test import RequestFactory

from gridgov.accounts import services as accounts
from gridgov.areas import services as areas
from gridgov.areas.choices import Mode, Role, UnitKind
from gridgov.core import audit, selectors
from gridgov.core.errors import PermissionDenied
from gridgov.core.models import AuditEvent, AuditResult, ImmutableError
from tests.conftest import PASSWORD, square


def _user_create(org):
    return accounts.user_create(actor=org.users.admin, username="new01", password=PASSWORD), "user.create"


def _user_set_password(org):
    user = org.users.grid_worker
    accounts.user_set_password(actor=org.users.admin, user=user, password="Another-pass-2027")
    return user, "user.set_password"


def _area_create(org):
    grid = areas.area_create(actor=org.users.admin, code="340404004002002", name="四网格", parent=org.c2)
    return grid, "area.create"


def _area_update(org):
    return areas.area_update(actor=org.users.admin, area=org.g21, name="三网格（新）"), "area.update"


def _area_set_mode(org):
    return areas.area_set_mode(actor=org.users.admin, area=org.c2, mode=Mode.EMERGENCY), "area.set_mode"


def _area_delete(org):
    pk = org.grp2.pk
    areas.area_delete(actor=org.users.admin, area=org.grp2)
    org.grp2.pk = pk  # Model.delete() clears the key; the event keeps it
    return org.grp2, "area.delete"


def _unit_create(org):
    unit = areas.unit_create(actor=org.users.admin, name="司法所", kind=UnitKind.JUDICIAL, area=org.s)
    return unit, "unit.create"


def _party_branch_create(org):
    branch = areas.party_branch_create(actor=org.users.admin, name="三网格党支部", grids=[org.g21])
    return branch, "party_branch.create"


def _post_create(org):
    post = areas.post_create(actor=org.users.admin, user=org.users.nobody, role=Role.GRID_WORKER, area=org.g21)
    return post, "post.create"


def _security_policy_update(org):
    return accounts.security_policy_update(actor=org.users.admin, totp_roles=["center"]), "security.policy_update"


WRITES = [
    _user_create,
    _user_set_password,
    _area_create,
    _area_update,
    _area_set_mode,
    _area_delete,
    _unit_create,
    _party_branch_create,
    _post_create,
    _security_policy_update,
]


@pytest.mark.parametrize("write", WRITES, ids=lambda f: f.__name__.lstrip("_"))
def test_every_service_write_records_one_event(org, write):
    before = set(AuditEvent.objects.values_list("pk", flat=True))
    obj, event_type = write(org)
    new = list(AuditEvent.objects.exclude(pk__in=before))
    assert len(new) == 1
    event = new[0]
    assert event.event_type == event_type
    assert event.actor == org.users.admin
    assert event.actor_username == "admin"
    assert event.object_type == obj._meta.label_lower
    assert event.object_id == str(obj.pk)
    assert event.result == AuditResult.SUCCESS


def test_system_writes_have_no_actor(org):
    event = AuditEvent.objects.filter(event_type="area.create", object_id=str(org.s.pk)).get()
    assert event.actor is None
    assert event.actor_username == ""
    assert event.data == {"code": org.s.code, "level": "subdistrict"}


def test_area_update_records_before_and_after(org):
    areas.area_update(actor=org.users.admin, area=org.g21, name="新名字", boundary=square(117.02, 32.6, 0.005))
    event = AuditEvent.objects.filter(event_type="area.update").get()
    assert event.data["before"]["name"] == "三网格"
    assert event.data["after"]["name"] == "新名字"
    assert event.data["boundary_changed"] is True


def test_refused_write_records_nothing_and_rolls_back(org):
    count = AuditEvent.objects.count()
    with pytest.raises(PermissionDenied):
        areas.unit_create(actor=org.users.center, name="x", kind=UnitKind.POLICE, area=org.s)
    assert AuditEvent.objects.count() == count


def test_event_cannot_be_saved_twice(org):
    event = audit.record(actor=org.users.admin, event="test.event")
    event.event_type = "test.changed"
    with pytest.raises(ImmutableError):
        event.save()
    assert AuditEvent.objects.get(pk=event.pk).event_type == "test.event"


def test_event_cannot_be_deleted(org):
    event = audit.record(actor=org.users.admin, event="test.event")
    with pytest.raises(ImmutableError):
        event.delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_database_refuses_changes_to_the_trail(org):
    """PostgreSQL's trigger refuses UPDATE and DELETE; SQLite's refuses UPDATE (its flush deletes rows),
    and the model guards deletes."""
    event = audit.record(actor=org.users.admin, event="test.event")
    if connection.vendor == "postgresql":
        for sql in (
            "UPDATE core_auditevent SET event_type = 'forged' WHERE id = %s",
            "DELETE FROM core_auditevent WHERE id = %s",
        ):
            with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cur:
                cur.execute(sql, [event.pk])
        with pytest.raises(DatabaseError), transaction.atomic():
            AuditEvent.objects.filter(pk=event.pk).update(event_type="forged")
    else:
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cur:
            cur.execute("UPDATE core_auditevent SET event_type = 'forged' WHERE id = %s", [event.pk])
        event.event_type = "forged"
        with pytest.raises(ImmutableError):
            event.save()
        with pytest.raises(ImmutableError):
            AuditEvent.objects.get(pk=event.pk).delete()
    assert AuditEvent.objects.get(pk=event.pk).event_type == "test.event"


def test_record_keeps_who_tried_when_anonymous(db):
    event = audit.record(actor=None, event="auth.login", result=AuditResult.FAILURE, username="ghost", ip="10.0.0.9")
    assert event.actor is None
    assert event.actor_username == "ghost"
    assert event.ip == "10.0.0.9"


def test_client_ip_ignores_forwarded_for_unless_trusted(settings):
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.5, 10.0.0.1")
    settings.GRIDGOV_TRUST_X_FORWARDED_FOR = False
    assert audit.client_ip(request) == "10.0.0.1"
    settings.GRIDGOV_TRUST_X_FORWARDED_FOR = True
    assert audit.client_ip(request) == "203.0.113.5"


def test_audit_selector_is_for_superusers_only(org):
    assert selectors.audit_event_list(user=org.users.admin).count() == AuditEvent.objects.count()
    with pytest.raises(PermissionDenied):
        selectors.audit_event_list(user=org.users.center)


# The audit page


def _table(response) -> str:
    html = response.content.decode()
    start = html.index('data-testid="audit-table"')
    return html[start : html.index("</table>", start)]


@pytest.fixture
def trail(org, client):
    """A failed and a successful web login by wg01 and one by the center, on top of the fixture's writes."""
    client.post("/accounts/login/", {"username": "wg01", "password": "wrong-password"})
    client.post("/accounts/login/", {"username": "wg01", "password": PASSWORD})
    client.post("/accounts/logout/")
    client.post("/accounts/login/", {"username": "center", "password": PASSWORD})
    client.post("/accounts/logout/")
    return org


def test_audit_page_for_superuser(trail, client):
    client.force_login(trail.users.admin)
    response = client.get("/audit/")
    assert response.status_code == 200
    assert "area.create" in _table(response)
    assert "auth.login" in _table(response)


def test_audit_page_filters_by_actor(trail, client):
    client.force_login(trail.users.admin)
    page = client.get("/audit/", {"actor": "center"}).context["page"]
    assert len(page.object_list) >= 2
    assert {e.actor_username for e in page.object_list} == {"center"}


def test_audit_page_filters_by_event_type(trail, client):
    client.force_login(trail.users.admin)
    page = client.get("/audit/", {"event_type": "area."}).context["page"]
    assert len(page.object_list) == 8
    assert {e.event_type for e in page.object_list} == {"area.create"}
    table = _table(client.get("/audit/", {"event_type": "area."}))
    assert "auth.login" not in table
    assert "一网格" in table


def test_audit_page_filters_by_result(trail, client):
    client.force_login(trail.users.admin)
    page = client.get("/audit/", {"result": "failure"}).context["page"]
    assert [(e.event_type, e.actor_username) for e in page.object_list] == [("auth.login", "wg01")]


def test_audit_page_combines_filters(trail, client):
    client.force_login(trail.users.admin)
    page = client.get("/audit/", {"actor": "wg01", "event_type": "auth.", "result": "success"}).context["page"]
    assert {(e.event_type, e.result) for e in page.object_list} == {
        ("auth.login", "success"),
        ("auth.logout", "success"),
    }


def test_audit_page_ignores_an_invalid_filter_value(trail, client):
    client.force_login(trail.users.admin)
    response = client.get("/audit/", {"result": "bogus"})
    assert response.status_code == 200
    assert len(response.context["page"].object_list) == min(50, AuditEvent.objects.count())


@pytest.mark.parametrize("role", ["center", "grid_worker", "nobody"])
def test_audit_page_refused_to_others(org, client, role):
    client.force_login(getattr(org.users, role))
    response = client.get("/audit/")
    assert response.status_code in (302, 403)
    if response.status_code == 302:
        assert response["Location"].startswith("/accounts/login/")


def test_audit_page_refused_to_anonymous(org, client):
    response = client.get("/audit/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/audit/")


# The admin


def test_admin_cannot_add_change_or_delete_events(org):
    model_admin = admin.site._registry[AuditEvent]
    request = RequestFactory().get("/admin/")
    request.user = org.users.admin
    event = AuditEvent.objects.first()
    assert model_admin.has_add_permission(request) is False
    assert model_admin.has_change_permission(request) is False
    assert model_admin.has_change_permission(request, event) is False
    assert model_admin.has_delete_permission(request) is False
    assert model_admin.has_delete_permission(request, event) is False


def test_admin_pages_refuse_edits_over_http(org, client):
    client.force_login(org.users.admin)
    event = AuditEvent.objects.first()
    assert client.get("/admin/core/auditevent/").status_code == 200
    assert client.get(f"/admin/core/auditevent/{event.pk}/delete/").status_code == 403
    response = client.post(f"/admin/core/auditevent/{event.pk}/change/", {"event_type": "forged"})
    assert response.status_code == 403
    assert client.get("/admin/core/auditevent/add/").status_code == 403
    assert AuditEvent.objects.get(pk=event.pk).event_type == event.event_type
