"""The resident pages (3+N: 居民下单 → 社区派单 → 责任单位接单): report without login, follow with a code, rate."""

from __future__ import annotations

import io
import re

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import translation
from django.utils.translation import gettext
from PIL import Image

from gridgov.cases.choices import Action, CaseLevel, Source, State
from gridgov.cases.models import Case
from tests.cases.conftest import IN_G11, IN_G21
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

REPORT_URL = "/public/report/"
PHONE = "13800001234"


def zh(msgid: str) -> str:
    """What the page says for `msgid` in Chinese (the catalogue may not have it yet: then the msgid)."""
    with translation.override("zh-hans"):
        return gettext(msgid)


def png(name: str = "photo.png", colour: str = "red") -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(out, "PNG")
    return SimpleUploadedFile(name, out.getvalue(), content_type="image/png")


def form_data(**overrides) -> dict:
    data = {
        "category": "02001",
        "title": "公园旁道路塌陷",
        "description": "人行道塌了一个坑，约半米宽",
        "address": "新建社区A区公园东侧",
        "lat": IN_G11["lat"],
        "lng": IN_G11["lng"],
        "reporter_name": "王女士",
        "reporter_phone": PHONE,
        "website": "",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture(autouse=True)
def _fresh_rate_limit():
    """The per-address report counter lives in the cache, which outlives a test."""
    cache.clear()
    yield
    cache.clear()


def post_report(client, *, ip: str = "203.0.113.7", **overrides):
    return client.post(REPORT_URL, form_data(**overrides), REMOTE_ADDR=ip)


def reported(response) -> Case:
    assert response.status_code == 302, response.content.decode()[:2000]
    match = re.fullmatch(r"/public/track/([A-Z0-9]+)/\?new=1", response["Location"])
    assert match, response["Location"]
    return Case.objects.get(tracking_code=match.group(1))


# --- the 3+N chain --------------------------------------------------------------------------------


def test_resident_reports_community_dispatches_unit_handles_resident_follows_and_rates(client, org, act):
    u = org.users
    page = client.get(REPORT_URL)
    html = page.content.decode()
    assert page.status_code == 200
    assert 'value="02001"' in html and "道路塌陷与破损" in html
    assert 'value="04004"' not in html  # not resident-reportable
    assert "gg-sidebar" not in html and "user-menu" not in html  # no staff layout

    response = client.post(
        REPORT_URL,
        {**form_data(), "x_02001_area_m2": "2.5", "x_02001_blocks_traffic": "true", "photos": [png()]},
        REMOTE_ADDR="203.0.113.7",
    )
    case = reported(response)
    assert (case.source, case.level, case.handling_area, case.grid) == (
        Source.RESIDENT,
        CaseLevel.COMMUNITY,
        org.c1,
        org.g11,
    )
    assert (case.state, case.reporter, case.reporter_name) == (State.REPORTED, None, "王女士")
    assert case.extra == {"area_m2": 2.5, "blocks_traffic": True}
    assert str(case.reporter_phone) != "" and case.attachments.count() == 1
    with connection.cursor() as cursor:
        cursor.execute("SELECT reporter_phone FROM cases_case WHERE id = %s", [case.pk])
        stored = str(cursor.fetchone()[0])
    assert PHONE not in stored  # encrypted at rest

    received = client.get(response["Location"]).content.decode()
    assert case.tracking_code in received and 'data-testid="tracking-code"' in received
    assert f"/public/track/{case.tracking_code}/" in received  # the link to follow it
    assert zh("Received, waiting to be accepted") in received

    act(u.community, case, Action.DISPATCH, unit=org.prop.pk, note="内部备注：请物业今天处理")
    act(u.unit_handler, case, Action.CLAIM, note="内部：已派维修班组")
    act(u.unit_handler, case, Action.RESOLVE, result="已回填修复并设置警示标志")
    act(u.community, case, Action.VERIFY, passed=True, note="现场核查已修复")
    case.refresh_from_db()
    assert case.state == State.CLOSED

    page = client.get(f"/public/track/{case.tracking_code}/").content.decode()
    assert zh("Case closed") in page
    assert "已回填修复并设置警示标志" in page and "现场核查已修复" in page and "测试物业" in page
    for secret in ("内部备注", "内部：已派维修班组", "sq01", "unit01", PHONE, "138****1234", "王女士"):
        assert secret not in page, secret
    steps = re.findall(r'data-action="(\w+)"', page)
    assert steps == ["report", "dispatch", "claim", "resolve", "verify"]
    assert 'data-testid="rate-form"' in page

    rated = client.post(f"/public/track/{case.tracking_code}/rate/", {"score": "5", "note": "修得很快"})
    assert rated.status_code == 302
    case.refresh_from_db()
    assert (case.satisfaction, case.satisfaction_note) == (5, "修得很快")
    assert case.events.filter(action=Action.RATE, actor=None).count() == 1
    page = client.get(f"/public/track/{case.tracking_code}/").content.decode()
    assert 'data-testid="rating"' in page and 'data-score="5"' in page and 'data-testid="rate-form"' not in page

    again = client.post(f"/public/track/{case.tracking_code}/rate/", {"score": "1", "note": "改评"})
    assert again.status_code == 409
    assert zh("This case has already been rated.") in again.content.decode()
    case.refresh_from_db()
    assert (case.satisfaction, case.satisfaction_note) == (5, "修得很快")


def test_a_case_that_is_not_closed_cannot_be_rated(client, org):
    case = reported(post_report(client))
    response = client.post(f"/public/track/{case.tracking_code}/rate/", {"score": "4"})
    assert response.status_code == 409
    assert 'data-testid="rate-error"' in response.content.decode()
    case.refresh_from_db()
    assert case.satisfaction is None


def test_a_bad_score_is_refused_beside_the_stars(client, org, act):
    u = org.users
    case = reported(post_report(client))
    act(u.community, case, Action.DISPATCH, unit=org.prop.pk)
    act(u.unit_handler, case, Action.CLAIM)
    act(u.unit_handler, case, Action.RESOLVE, result="已修复")
    act(u.community, case, Action.VERIFY, passed=True)
    response = client.post(f"/public/track/{case.tracking_code}/rate/", {"score": "9"})
    assert response.status_code == 400
    assert 'data-testid="rate-form"' in response.content.decode()
    case.refresh_from_db()
    assert case.satisfaction is None


def test_rejection_reason_is_shown_but_other_notes_are_not(client, org, act):
    case = reported(post_report(client))
    act(org.users.community, case, Action.COMMENT, note="内部讨论：疑似重复")
    act(org.users.community, case, Action.REJECT, reason="该处属市政道路，请拨打12345")
    page = client.get(f"/public/track/{case.tracking_code}/").content.decode()
    assert "该处属市政道路，请拨打12345" in page and zh("Not accepted") in page
    assert "内部讨论" not in page


# --- photos ---------------------------------------------------------------------------------------


def test_photos_are_served_only_through_their_own_case(client, org, act):
    case = reported(post_report(client, photos=[png("a.png"), png("b.png", "blue")]))
    other = reported(post_report(client, title="另一处"))
    photo = case.attachments.order_by("id").first()
    act(org.users.community, case, Action.ATTACH, files=[png("staff.png")], note="现场照片")
    staff_photo = case.attachments.order_by("-id").first()

    page = client.get(f"/public/track/{case.tracking_code}/").content.decode()
    assert page.count(f"/public/track/{case.tracking_code}/files/") == 4  # two photos, link and thumbnail each
    full = client.get(f"/public/track/{case.tracking_code}/files/{photo.pk}/")
    assert full.status_code == 200 and full["Content-Type"] == "image/png"
    assert b"".join(full.streaming_content).startswith(b"\x89PNG")
    thumb = client.get(f"/public/track/{case.tracking_code}/files/{photo.pk}/?thumbnail=1")
    assert thumb.status_code == 200 and thumb["Content-Type"] == "image/jpeg"
    assert client.get(f"/public/track/{other.tracking_code}/files/{photo.pk}/").status_code == 404
    assert client.get(f"/public/track/{case.tracking_code}/files/{staff_photo.pk}/").status_code == 404
    assert client.get(f"/public/track/NOSUCHCODE/files/{photo.pk}/").status_code == 404


def test_a_file_that_is_not_a_photo_is_refused(client, org):
    fake = SimpleUploadedFile("photo.jpg", b"this is not an image", content_type="image/jpeg")
    response = post_report(client, photos=[fake])
    assert response.status_code == 400
    assert Case.objects.count() == 0
    pdf = SimpleUploadedFile("scan.jpg", b"%PDF-1.4\n%fake pdf\n", content_type="image/jpeg")
    response = post_report(client, photos=[pdf])
    html = response.content.decode()
    assert response.status_code == 400 and "scan.jpg" in html
    assert 'data-testid="photos-lost"' in html  # the browser does not send them back
    assert Case.objects.count() == 0


def test_more_than_three_photos_are_refused(client, org):
    response = post_report(client, photos=[png(f"{n}.png") for n in range(4)])
    assert response.status_code == 400
    assert Case.objects.count() == 0


# --- bad input keeps the input --------------------------------------------------------------------


def test_a_bad_phone_is_refused_and_the_input_kept(client, org):
    response = post_report(client, reporter_phone="12345")
    html = response.content.decode()
    assert response.status_code == 400
    assert Case.objects.count() == 0
    assert 'value="公园旁道路塌陷"' in html and "新建社区A区公园东侧" in html and "is-invalid" in html
    assert 'name="lat" value="32.605"' in html


def test_a_missing_title_is_refused(client, org):
    response = post_report(client, title="")
    assert response.status_code == 400
    assert Case.objects.count() == 0
    assert "人行道塌了一个坑" in response.content.decode()


def test_a_missing_place_is_refused(client, org):
    response = post_report(client, lat="", lng="", address="")
    assert response.status_code == 400
    assert 'data-testid="location-error"' in response.content.decode()
    assert Case.objects.count() == 0


def test_an_address_without_a_map_point_goes_to_the_subdistrict(client, org):
    """A resident without script cannot tap the map: the report is kept and the subdistrict takes it."""
    case = reported(post_report(client, lat="", lng="", address="淮舜南路 12 号门口"))
    assert (case.outside_grids, case.level, case.handling_area, case.grid) == (True, "subdistrict", org.s, None)


def test_a_bad_extra_value_is_shown_beside_its_field(client, org):
    response = client.post(REPORT_URL, {**form_data(), "x_02001_area_m2": "很大"}, REMOTE_ADDR="203.0.113.7")
    html = response.content.decode()
    assert response.status_code == 400 and Case.objects.count() == 0
    assert re.search(r'name="x_02001_area_m2"[^>]*is-invalid|is-invalid[^>]*name="x_02001_area_m2"', html)


def test_a_category_residents_may_not_report_is_refused(client, org):
    response = post_report(client, category="04004")
    assert response.status_code == 400
    assert Case.objects.count() == 0
    response = post_report(client, category="02")  # a major class is not a choice either
    assert response.status_code == 400 and Case.objects.count() == 0


def test_the_honeypot_refuses_robots(client, org):
    response = post_report(client, website="http://spam.example")
    assert response.status_code == 400
    assert 'data-testid="refusal"' in response.content.decode()
    assert Case.objects.count() == 0


def test_reports_per_address_and_hour_are_limited(client, org, settings):
    settings.GRIDGOV_PUBLIC_REPORTS_PER_HOUR = 2
    reported(post_report(client, title="一"))
    reported(post_report(client, title="二"))
    third = post_report(client, title="三")
    assert third.status_code == 429
    html = third.content.decode()
    assert 'data-testid="refusal"' in html and 'value="三"' in html
    assert Case.objects.count() == 2
    reported(post_report(client, title="四", ip="198.51.100.9"))  # another address is not affected
    assert Case.objects.count() == 3


def test_refused_reports_do_not_count_toward_the_limit(client, org, settings):
    settings.GRIDGOV_PUBLIC_REPORTS_PER_HOUR = 1
    assert post_report(client, title="").status_code == 400
    reported(post_report(client))


# --- following ------------------------------------------------------------------------------------


def test_the_track_form_goes_to_the_code_page(client, org):
    case = reported(post_report(client))
    spaced = f" {case.tracking_code[:5].lower()} {case.tracking_code[5:]} "
    response = client.get("/public/track/", {"code": spaced})
    assert response.status_code == 302 and response["Location"] == f"/public/track/{case.tracking_code}/"
    assert client.get("/public/track/").status_code == 200


def test_an_unknown_code_shows_a_friendly_not_found_page(client, org):
    response = client.get("/public/track/ZZZZZZZZZZ/")
    html = response.content.decode()
    assert response.status_code == 404
    assert 'data-testid="public-not-found"' in html and 'data-testid="track-form"' in html
    assert client.post("/public/track/ZZZZZZZZZZ/rate/", {"score": "5"}).status_code == 404


def test_a_signed_in_staff_member_sees_the_public_layout(client, org):
    case = reported(post_report(client))
    assert client.login(username="sq01", password=PASSWORD)
    html = client.get(f"/public/track/{case.tracking_code}/").content.decode()
    assert "gg-sidebar" not in html and "sq01" not in html
    assert case.title in html


def test_a_point_in_another_community_lands_there(client, org):
    case = reported(post_report(client, lat=IN_G21["lat"], lng=IN_G21["lng"]))
    assert (case.grid, case.handling_area, case.level) == (org.g21, org.c2, CaseLevel.COMMUNITY)
