"""Activities: volunteers only, nothing half-written, photos served through the scope, counts per grid and group."""

from __future__ import annotations

import io
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from gridgov.core.errors import ApplicationError
from gridgov.core.models import AuditEvent
from gridgov.fieldwork.models import Activity, FieldPhoto
from gridgov.fieldwork.selectors.activities import activity_stats
from gridgov.fieldwork.services.activities import activity_create, activity_delete, activity_update
from tests.conftest import api_headers


def png(name: str = "photo.png") -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(out, "PNG")
    return SimpleUploadedFile(name, out.getvalue(), content_type="image/png")


@pytest.fixture
def folk(org):
    """Volunteers v1 (G11/grp1), v2 (G11/grp2), v3 (G12) and v4 (G21); a non-volunteer n1 in G11."""
    from gridgov.registry.models import Tag
    from gridgov.registry.services import resident_create

    volunteer = Tag.objects.get(code="zhiyuanzhe")

    def person(name, grid, group=None, tags=(volunteer,)):
        return resident_create(actor=None, grid=grid, group=group, name=name, gender="male", tags=list(tags))

    return SimpleNamespace(
        v1=person("志愿甲", org.g11, org.grp1),
        v2=person("志愿乙", org.g11, org.grp2),
        v3=person("志愿丙", org.g12),
        v4=person("志愿丁", org.g21),
        n1=person("普通人", org.g11, tags=()),
    )


def counts() -> tuple[int, ...]:
    return (
        Activity.objects.count(),
        Activity.participants.through.objects.count(),
        FieldPhoto.objects.count(),
        AuditEvent.objects.filter(event_type__startswith="fieldwork.activity").count(),
    )


def make(org, actor=None, **fields):
    fields.setdefault("title", "反诈宣传进小区")
    fields.setdefault("kind", "publicity")
    fields.setdefault("organiser", "一社区")
    fields.setdefault("area", org.g11)
    fields.setdefault("held_on", timezone.localdate())
    return activity_create(actor=actor or org.users.grid_worker, **fields)


def refused(code, call, *args, **kwargs) -> ApplicationError:
    before = counts()
    with pytest.raises(ApplicationError) as info:
        call(*args, **kwargs)
    assert info.value.code == code, info.value.as_dict()
    assert counts() == before
    return info.value


def test_create_with_volunteers_and_photos(org, folk):
    activity = make(org, participants=[folk.v1, folk.v2], photos=[png()], households_reached=30)
    assert set(activity.participants.all()) == {folk.v1, folk.v2}
    [photo] = activity.photos.all()
    assert photo.content_type == "image/png" and photo.thumbnail and photo.area_code == org.g11.code
    assert AuditEvent.objects.get(event_type="fieldwork.activity.create").data["participants"] == 2


def test_non_volunteer_is_refused_naming_them_with_nothing_written(org, folk):
    error = refused("not_volunteer", make, org, participants=[folk.v1, folk.n1], photos=[png()])
    assert "普通人" in error.message and "志愿甲" not in error.message
    assert "participants" in error.fields


def test_bad_input_is_refused_whole(org, folk):
    refused("unsupported_file", make, org, participants=[folk.v1], photos=[png(), SimpleUploadedFile("a.png", b"no")])
    refused("invalid", make, org, held_on=timezone.localdate() + timedelta(days=1))
    refused("invalid_area", make, org, area=org.s)
    refused("not_found", make, org, area=org.g21)  # outside the worker's grid
    refused("invalid", make, org, participants=[folk.v4])  # a volunteer outside the scope
    refused("forbidden", make, org, actor=org.users.group_leader, area=org.grp1)


def test_update_and_delete_are_audited(org, folk):
    activity = make(org, participants=[folk.v1])
    activity_update(actor=org.users.grid_leader, activity=activity, participants=[folk.v2], households_reached=12)
    activity.refresh_from_db()
    assert list(activity.participants.all()) == [folk.v2] and activity.households_reached == 12
    event = AuditEvent.objects.get(event_type="fieldwork.activity.update")
    assert event.data["fields"] == ["households_reached", "participants"]
    activity_delete(actor=org.users.community, activity=activity)
    assert not Activity.objects.exists()
    assert AuditEvent.objects.get(event_type="fieldwork.activity.delete").data["title"] == "反诈宣传进小区"


def test_stats_per_grid_and_group(org, folk):
    today = timezone.localdate()
    make(org, area=org.grp1, participants=[folk.v1, folk.v2], households_reached=10)
    make(org, area=org.grp2, participants=[folk.v2], households_reached=5)
    make(org, area=org.g11, households_reached=7)  # the grid as a whole
    make(org, actor=org.users.community, area=org.g12, participants=[folk.v3], households_reached=3)
    make(org, actor=org.users.community, area=org.c1, households_reached=100)  # community-wide
    make(org, actor=org.users.community, area=org.g12, held_on=today.replace(year=today.year - 1))  # out of period

    community = activity_stats(user=org.users.community, area=org.c1)
    rows = {row.area.code: (row.activities, row.households, row.participations) for row in community.children}
    assert rows == {org.g11.code: (3, 22, 3), org.g12.code: (1, 3, 1)}
    assert (community.total.activities, community.total.households, community.total.participations) == (5, 125, 4)
    assert (community.own.activities, community.own.households) == (1, 100)

    grid = activity_stats(user=org.users.grid_worker, area=org.g11)
    rows = {row.area.code: (row.activities, row.households, row.participations) for row in grid.children}
    assert rows == {org.grp1.code: (1, 10, 2), org.grp2.code: (1, 5, 1)}
    assert grid.own.activities == 1

    with pytest.raises(ApplicationError) as info:
        activity_stats(user=org.users.community, area=org.c1, start=today, end=today - timedelta(days=1))
    assert info.value.code == "invalid"


def test_api_multipart_create_detail_photo_and_stats(client, org, folk):
    worker = api_headers(client, "wg01")
    response = client.post(
        "/api/v1/activities/",
        {
            "title": "义务理发",
            "kind": "volunteer",
            "organiser": "一网格党支部",
            "area": org.grp1.pk,
            "held_on": timezone.localdate().isoformat(),
            "households_reached": 8,
            "participants": [folk.v1.pk, folk.v2.pk],
            "photos": [png("a.png"), png("b.png")],
        },
        **worker,
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert sorted(p["name"] for p in body["participants"]) == ["志愿乙", "志愿甲"]
    assert len(body["photos"]) == 2
    thumb = client.get(body["photos"][0]["thumbnail_url"], **worker)
    assert thumb.status_code == 302  # a page view: it wants a session, not a token
    client.force_login(org.users.grid_worker)
    photo = client.get(body["photos"][0]["url"])
    assert photo.status_code == 200 and photo["Content-Type"] == "image/png"
    assert photo["X-Content-Type-Options"] == "nosniff"
    client.force_login(org.users.center)
    assert client.get(body["photos"][0]["thumbnail_url"]).status_code == 200
    from gridgov.accounts.services import user_create
    from gridgov.areas.choices import Role
    from gridgov.areas.services import post_create
    from tests.conftest import PASSWORD

    outsider = user_create(actor=None, username="wg21", password=PASSWORD, name="wg21")
    post_create(actor=None, user=outsider, role=Role.GRID_WORKER, area=org.g21)
    client.force_login(outsider)
    assert client.get(body["photos"][0]["url"]).status_code == 404

    stats = client.get("/api/v1/activities/stats/", {"area": org.g11.code}, **worker).json()
    assert stats["activities"] == 1 and stats["participations"] == 2
    groups = {row["area"]["code"]: row["activities"] for row in stats["children"]}
    assert groups == {org.grp1.code: 1, org.grp2.code: 0}
    assert client.get("/api/v1/activities/stats/", {"area": org.g21.code}, **worker).status_code == 404

    listed = client.get("/api/v1/activities/", {"area": org.grp1.pk}, **worker).json()
    assert listed["count"] == 1 and listed["results"][0]["participant_count"] == 2


def test_api_refuses_a_non_volunteer_with_nothing_written(client, org, folk):
    worker = api_headers(client, "wg01")
    before = counts()
    response = client.post(
        "/api/v1/activities/",
        {
            "title": "清理楼道",
            "kind": "volunteer",
            "organiser": "一网格",
            "area": org.g11.pk,
            "held_on": timezone.localdate().isoformat(),
            "participants": [folk.v1.pk, folk.n1.pk],
        },
        content_type="application/json",
        **worker,
    )
    assert response.status_code == 400
    assert response.json()["code"] == "not_volunteer" and "普通人" in response.json()["message"]
    assert counts() == before


def test_api_patch_and_delete(client, org, folk):
    worker = api_headers(client, "wg01")
    activity = make(org, participants=[folk.v1])
    response = client.patch(
        f"/api/v1/activities/{activity.pk}/", {"households_reached": 40}, content_type="application/json", **worker
    )
    assert response.status_code == 200 and response.json()["households_reached"] == 40
    assert [p["name"] for p in response.json()["participants"]] == ["志愿甲"]  # left out: kept
    assert client.delete(f"/api/v1/activities/{activity.pk}/", **worker).status_code == 204
    assert client.get(f"/api/v1/activities/{activity.pk}/", **worker).status_code == 404
