"""API keys: created with the key shown once, stored hashed, authenticated per channel, revoked, audited."""

from __future__ import annotations

import io

import pytest
from django.contrib.messages import get_messages
from django.core.management import call_command

from gridgov.core.errors import ApplicationError
from gridgov.core.models import AuditEvent
from gridgov.integrations.models import ApiKey, Channel
from gridgov.integrations.services import apikey_authenticate, apikey_create, apikey_revoke, hash_key
from tests.conftest import PASSWORD


def _columns(key: ApiKey) -> list[str]:
    return [str(getattr(key, field.attname)) for field in ApiKey._meta.concrete_fields]


def test_create_stores_only_the_hash(org):
    key, raw = apikey_create(actor=org.users.admin, name="Open311 gateway", channel=Channel.OPEN311, area=org.c1)
    assert raw.startswith("gg_") and len(raw) > 40
    key.refresh_from_db()
    assert key.key_hash == hash_key(raw) and len(key.key_hash) == 64
    assert key.prefix == raw[:8]
    assert key.area == org.c1 and key.created_by == org.users.admin
    assert all(raw not in value for value in _columns(key))
    events = AuditEvent.objects.filter(event_type="integrations.apikey.create")
    assert events.count() == 1
    for event in AuditEvent.objects.all():
        assert raw not in str(event.data) and raw not in event.object_repr
    assert events.get().data["prefix"] == key.prefix


def test_default_area_is_the_subdistrict(org):
    key, _raw = apikey_create(actor=org.users.center, name="cameras", channel=Channel.CAMERA, area=None)
    assert key.area == org.s


def test_authenticate_ok_records_last_use(org):
    key, raw = apikey_create(actor=org.users.admin, name="hotline", channel=Channel.HOTLINE_12345, area=org.s)
    assert key.last_used_at is None
    found = apikey_authenticate(raw=raw, channel=Channel.HOTLINE_12345, ip="10.1.2.3")
    assert found.pk == key.pk
    key.refresh_from_db()
    assert key.last_used_at is not None and key.last_used_ip == "10.1.2.3"
    assert apikey_authenticate(raw=raw).pk == key.pk  # no channel given: any channel


@pytest.mark.parametrize("raw", ["", "nonsense", "gg_" + "x" * 43])
def test_authenticate_unknown(org, raw):
    apikey_create(actor=org.users.admin, name="k", channel=Channel.GENERIC, area=org.s)
    with pytest.raises(ApplicationError) as info:
        apikey_authenticate(raw=raw)
    assert info.value.code == "invalid_api_key" and info.value.status == 403
    assert ApiKey.objects.filter(last_used_at__isnull=False).count() == 0


def test_authenticate_wrong_channel(org):
    key, raw = apikey_create(actor=org.users.admin, name="k", channel=Channel.CAMERA, area=org.s)
    with pytest.raises(ApplicationError) as info:
        apikey_authenticate(raw=raw, channel=Channel.OPEN311, ip="10.0.0.1")
    assert info.value.code == "invalid_api_key" and info.value.status == 403
    key.refresh_from_db()
    assert key.last_used_at is None


def test_revoke(org):
    key, raw = apikey_create(actor=org.users.admin, name="k", channel=Channel.OPEN311, area=org.s)
    apikey_revoke(actor=org.users.center, key=key)
    key.refresh_from_db()
    assert key.revoked_at is not None
    with pytest.raises(ApplicationError) as info:
        apikey_authenticate(raw=raw, channel=Channel.OPEN311)
    assert info.value.code == "invalid_api_key"
    events = AuditEvent.objects.filter(event_type="integrations.apikey.revoke").count()
    with pytest.raises(ApplicationError) as info:
        apikey_revoke(actor=org.users.admin, key=key)
    assert info.value.status == 409 and info.value.code == "already_revoked"
    assert AuditEvent.objects.filter(event_type="integrations.apikey.revoke").count() == events == 1


@pytest.mark.parametrize("who", ["grid_worker", "community", "leader", "nobody"])
def test_only_admins_and_center_create(org, who):
    with pytest.raises(ApplicationError) as info:
        apikey_create(actor=getattr(org.users, who), name="k", channel=Channel.OPEN311, area=org.g11)
    assert info.value.code == "forbidden" and info.value.status == 403
    assert ApiKey.objects.count() == 0
    assert AuditEvent.objects.filter(event_type="integrations.apikey.create").count() == 0


def test_grid_worker_cannot_revoke(org):
    key, _raw = apikey_create(actor=org.users.admin, name="k", channel=Channel.OPEN311, area=org.s)
    with pytest.raises(ApplicationError) as info:
        apikey_revoke(actor=org.users.grid_worker, key=key)
    assert info.value.code == "forbidden"
    key.refresh_from_db()
    assert key.revoked_at is None


def test_bad_channel_refused(org):
    with pytest.raises(ApplicationError) as info:
        apikey_create(actor=org.users.admin, name="k", channel="fax", area=org.s)
    assert info.value.code == "invalid" and "channel" in info.value.fields
    assert ApiKey.objects.count() == 0


def test_command_create_list_revoke(org):
    out, err = io.StringIO(), io.StringIO()
    args = ["create", "--name", "cam", "--channel", "camera", "--area", org.c2.code]
    call_command("apikey", *args, stdout=out, stderr=err)
    raw = out.getvalue().strip()
    assert "not shown again" in err.getvalue()
    key = apikey_authenticate(raw=raw, channel=Channel.CAMERA)
    assert key.area == org.c2 and key.created_by is None
    listing = io.StringIO()
    call_command("apikey", "list", stdout=listing)
    assert key.prefix in listing.getvalue() and raw not in listing.getvalue()
    call_command("apikey", "revoke", key.prefix, stdout=io.StringIO())
    with pytest.raises(ApplicationError):
        apikey_authenticate(raw=raw)


def test_admin_add_shows_key_once(client, org):
    client.login(username="admin", password=PASSWORD)
    response = client.post(
        "/admin/integrations/apikey/add/",
        {"name": "gateway", "channel": Channel.OPEN311, "area": org.c1.pk},
    )
    assert response.status_code == 302, response.content[:2000]
    key = ApiKey.objects.get()
    shown = [str(m) for m in get_messages(response.wsgi_request) if "<code>" in str(m)]
    assert len(shown) == 1
    raw = shown[0].split("<code>")[1].split("</code>")[0]
    assert apikey_authenticate(raw=raw, channel=Channel.OPEN311).pk == key.pk
    assert sum(raw in str(m) for m in get_messages(response.wsgi_request)) == 1
    # The page the admin lands on shows it; no later page does, and none shows the hash.
    landing = client.get(response["Location"]).content.decode()
    assert landing.count(raw) == 1
    page = client.get(f"/admin/integrations/apikey/{key.pk}/change/")
    assert page.status_code == 200
    assert raw not in page.content.decode() and key.key_hash not in page.content.decode()
    listing = client.get("/admin/integrations/apikey/").content.decode()
    assert key.prefix in listing and raw not in listing and key.key_hash not in listing


def test_admin_revoke_action(client, org):
    key, raw = apikey_create(actor=org.users.admin, name="k", channel=Channel.GENERIC, area=org.s)
    client.login(username="admin", password=PASSWORD)
    response = client.post(
        "/admin/integrations/apikey/", {"action": "revoke", "_selected_action": [key.pk], "index": 0}
    )
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None
    with pytest.raises(ApplicationError):
        apikey_authenticate(raw=raw)


def test_admin_list_shows_a_center_only_its_own_areas_keys(client, org):
    from django.contrib.auth.models import Permission

    from gridgov.areas import services as areas
    from tests.conftest import square

    other = areas.area_create(actor=None, code="340404005", name="另一街道", boundary=square(118.0, 32.6, 0.03))
    mine, _ = apikey_create(actor=org.users.admin, name="本街道网关", channel=Channel.CAMERA, area=org.s)
    theirs, _ = apikey_create(actor=org.users.admin, name="外街道网关", channel=Channel.CAMERA, area=other)
    center = org.users.center
    center.is_staff = True
    center.save(update_fields=["is_staff"])
    center.user_permissions.add(Permission.objects.get(codename="view_apikey"))
    client.login(username="center", password=PASSWORD)
    listing = client.get("/admin/integrations/apikey/")
    assert listing.status_code == 200
    page = listing.content.decode()
    assert mine.name in page and theirs.name not in page
    assert client.get(f"/admin/integrations/apikey/{theirs.pk}/change/").status_code in (302, 404)
