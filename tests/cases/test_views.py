"""Case pages through the test client: the work queue, the list with saved views, the case page
and its actions, attachments, the report form and the resolution figures — scoped and in Chinese."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.shortcuts import render
from django.test.utils import CaptureQueriesContext
from django.urls import path, reverse
from django.utils import timezone, translation
from PIL import Image

from gridgov.cases.choices import Action, CaseLevel, State
from gridgov.cases.models import Case, SavedView
from gridgov.cases.services import allowed_actions, sweep_deadlines
from gridgov.urls import urlpatterns as site_urlpatterns
from tests.cases.conftest import IN_G11, IN_G21

pytestmark = pytest.mark.django_db


def _layout_only(request):
    return render(request, "base.html")


# The site plus one page that is the layout alone, to tell a page's own queries from the layout's
# (session, menu, area switcher, notification bell), which every page pays.
urlpatterns = [path("__layout__/", _layout_only), *site_urlpatterns]


def own_queries(client, url: str, data: dict | None = None) -> tuple[int, object]:
    """How many queries a page makes beyond the layout's, and its response (both pages warmed first)."""
    counts = []
    response = None
    for target in ("/__layout__/", url):
        client.get(target, data)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(target, data)
        assert response.status_code == 200
        counts.append(len(captured.captured_queries))
    return counts[1] - counts[0], response


def html(response) -> str:
    """The response body as text."""
    return response.content.decode()


def png(name: str = "photo.png", colour: str = "red") -> SimpleUploadedFile:
    """A small real PNG upload."""
    out = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(out, "PNG")
    return SimpleUploadedFile(name, out.getvalue(), content_type="image/png")


def zh(message: str, **params) -> str:
    """A message as the Chinese pages show it (the catalogue's translation of the English msgid)."""
    with translation.override("zh-hans"):
        text = translation.gettext(message)
    return text % params if params else text


def ids_with(text: str, prefix: str) -> set[str]:
    """The data-testid values on the page that start with `prefix`, without it."""
    return set(re.findall(rf'data-testid="{prefix}([a-z_]+)"', text))


def messages_of(response) -> list[str]:
    """The messages the response shows."""
    return [str(m) for m in response.context["messages"]] if response.context else []


@pytest.fixture
def signed_in(client):
    """Sign the test client in as a user."""

    def login(user):
        """Force-login the client as `user` and return it."""
        client.force_login(user)
        return client

    return login


# --- the work queue ---------------------------------------------------------------------------


def test_queue_lists_what_the_center_must_accept_overdue_first_in_chinese(org, report, signed_in):
    # Reported by the center itself, a subdistrict-level category stays at the subdistrict: the center accepts it.
    late = report(org.users.center, category="04004", title="自建房开裂", extra={"floors": 3, "grade": "C"})
    sweep_deadlines(now=timezone.now() + timedelta(days=2))
    fresh = report(org.users.center, category="04004", title="自建房倾斜", extra={"floors": 2, "grade": "B"})
    # 04004 must be accepted within 480 minutes: after 400 the fresh one is warned, not yet overdue.
    sweep_deadlines(now=timezone.now() + timedelta(minutes=400))
    response = signed_in(org.users.center).get(reverse("cases:queue"))
    text = html(response)
    assert response.status_code == 200
    assert '<html lang="zh-hans">' in text and "退出登录" in text
    section = text[text.index('data-testid="queue-accept"') :]
    codes = re.findall(r'data-testid="queue-row" data-code="([^"]+)"', section)
    assert codes[:2] == [late.code, fresh.code]  # the overdue one first
    first_row = section[section.index(late.code) : section.index(fresh.code)]
    assert 'data-testid="flag-overdue"' in first_row and "text-bg-danger" in first_row
    second_row = section[section.index(fresh.code) :]
    assert 'data-testid="flag-warned"' in second_row and "gg-badge-amber" in second_row
    assert 'data-testid="flag-overdue"' not in second_row
    assert 'data-testid="queue-overdue"' in text
    counts = {s.key: s.total for s in response.context["sections"]}
    assert counts["accept"] == 2
    assert re.search(r'data-testid="count-accept">.*?<div class="gg-stat-value text-primary">2</div>', text, re.S)
    # The deadline is relative time, from Django's own Chinese catalogue.
    assert re.search(r"(小时|分钟|天)", first_row)


def test_queue_shows_the_claim_section_to_the_unit_and_an_empty_state_otherwise(org, report, act, signed_in):
    client = signed_in(org.users.unit_handler)
    empty = client.get(reverse("cases:queue"))
    assert 'data-testid="queue-empty"' in html(empty)
    case = report(org.users.center, category="02001", title="公园旁道路塌陷")
    act(org.users.center, case, Action.DISPATCH, unit=org.prop.pk)
    text = html(client.get(reverse("cases:queue")))
    assert 'data-testid="queue-empty"' not in text
    claim = text[text.index('data-testid="queue-claim"') :]
    assert f'data-code="{case.code}"' in claim


# --- the case list and saved views -----------------------------------------------------------


def test_list_is_scoped_filtered_and_links_the_ledger_export_with_the_query(org, report, signed_in):
    mine = report(org.users.grid_worker, title="楼道堆物")
    other = report(org.users.center, title="三网格垃圾", point=IN_G21)
    client = signed_in(org.users.grid_worker)
    response = client.get(reverse("cases:list"))
    text = html(response)
    assert response.status_code == 200
    assert mine.code in text and other.code not in text
    assert 'data-state="reported"' in text and "text-bg-warning" in text
    filtered = client.get(reverse("cases:list"), {"state": "closed", "q": "楼道"})
    assert mine.code not in html(filtered)
    assert 'data-testid="empty"' in html(filtered)
    export = re.search(r'href="([^"]+)" data-testid="export"', html(filtered)).group(1)
    assert export.startswith(reverse("cases:export") + "?")
    assert "state=closed" in export and "q=" in export


@pytest.mark.urls(__name__)
def test_list_of_many_cases_uses_at_most_twelve_queries_of_its_own(org, report, act, signed_in):
    client = signed_in(org.users.center)
    report(org.users.center, category="02001", title="道路破损", point=IN_G11)
    few, _response = own_queries(client, reverse("cases:list"), {"level": "community"})
    for n in range(24):
        case = report(org.users.center, category="02001", title=f"道路破损{n}", point=IN_G11 if n % 2 else IN_G21)
        if n % 3 == 0:
            act(org.users.center, case, Action.DISPATCH, unit=org.prop.pk)
    many, response = own_queries(client, reverse("cases:list"), {"level": "community"})
    assert len(response.context["page"]) == 25
    assert many <= 12
    assert many == few  # no query per row


def test_saved_views_are_saved_listed_and_deleted_per_user(org, signed_in, client):
    client = signed_in(org.users.grid_worker)
    response = client.post(reverse("cases:saved_view_save"), {"name": "超期", "query": "overdue=true&level=grid"})
    assert response.status_code == 302 and response["Location"].endswith("?overdue=true&level=grid")
    view = SavedView.objects.get(user=org.users.grid_worker)
    text = html(client.get(reverse("cases:list")))
    assert 'href="/cases/?overdue=true&amp;level=grid">超期</a>' in text
    current = html(client.get(reverse("cases:list") + "?overdue=true&level=grid"))
    assert 'value="超期"' in current  # the open view is named in the save box
    refused = client.post(reverse("cases:saved_view_save"), {"name": "", "query": "level=grid"}, follow=True)
    assert zh("This field is required.") in messages_of(refused)
    assert SavedView.objects.count() == 1
    # Another user cannot delete it.
    other = signed_in(org.users.community)
    assert other.post(reverse("cases:saved_view_delete", args=[view.pk])).status_code == 404
    assert SavedView.objects.filter(pk=view.pk).exists()
    mine = signed_in(org.users.grid_worker)
    assert mine.post(reverse("cases:saved_view_delete", args=[view.pk])).status_code == 302
    assert not SavedView.objects.exists()


# --- the case page ----------------------------------------------------------------------------


def test_case_page_shows_details_map_photos_and_only_the_allowed_actions(org, report, signed_in):
    case = report(
        org.users.grid_worker,
        category="02001",
        title="公园旁道路塌陷",
        description="塌陷约两平方米",
        address="幸福路公园旁",
        reporter_phone="13812345678",
        extra={"area_m2": 2.5, "blocks_traffic": True},
        files=[png()],
    )
    response = signed_in(org.users.grid_worker).get(reverse("cases:detail", args=[case.pk]))
    text = html(response)
    assert response.status_code == 200
    assert case.code in text and "公园旁道路塌陷" in text and "幸福路公园旁" in text
    assert "13812345678" not in text and 'data-testid="reporter-phone"' in text  # masked
    assert "面积(平方米)" in text and "2.5" in text and "是否影响通行" in text
    data = json.loads(re.search(r'<script id="gg-case-map-data" type="application/json">(.*?)</script>', text).group(1))
    assert data["point"] == [IN_G11["lat"], IN_G11["lng"]] and data["boundary"]["type"] == "Polygon"
    attachment = case.attachments.get()
    assert reverse("cases:attachment_thumbnail", args=[case.pk, attachment.pk]) in text
    assert ids_with(text, "action-") == set(allowed_actions(actor=org.users.grid_worker, case=case))
    assert "dispatch" not in ids_with(text, "action-")  # grid level: nobody dispatches here
    assert 'data-testid="notice"' not in text  # no unit yet
    assert text.count('data-testid="timeline-entry"') == 1


def test_case_page_is_404_outside_the_scope_and_so_are_its_files(org, report, signed_in):
    other = report(org.users.center, title="三网格垃圾", point=IN_G21, files=[png()])
    attachment = other.attachments.get()
    client = signed_in(org.users.grid_worker)
    assert client.get(reverse("cases:detail", args=[other.pk])).status_code == 404
    assert client.get(reverse("cases:attachment", args=[other.pk, attachment.pk])).status_code == 404
    assert client.get(reverse("cases:attachment_thumbnail", args=[other.pk, attachment.pk])).status_code == 404
    assert client.post(reverse("cases:action", args=[other.pk, "comment"]), {"note": "x"}).status_code == 404
    assert other.events.count() == 1


def test_attachments_are_served_inline_with_their_type_and_never_sniffed(org, report, signed_in):
    case = report(org.users.grid_worker, files=[png("现场.png")])
    elsewhere = report(org.users.grid_worker, title="另一件")
    attachment = case.attachments.get()
    client = signed_in(org.users.grid_worker)
    response = client.get(reverse("cases:attachment", args=[case.pk, attachment.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"].startswith("inline")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content).startswith(b"\x89PNG")
    thumb = client.get(reverse("cases:attachment_thumbnail", args=[case.pk, attachment.pk]))
    assert thumb["Content-Type"] == "image/jpeg" and thumb["X-Content-Type-Options"] == "nosniff"
    # A file is reached only through its own case.
    assert client.get(reverse("cases:attachment", args=[elsewhere.pk, attachment.pk])).status_code == 404


def test_posting_an_action_takes_it_and_says_so(org, report, signed_in):
    case = report(org.users.grid_worker, title="公园旁道路塌陷", category="02001")
    client = signed_in(org.users.grid_worker)
    response = client.post(reverse("cases:action", args=[case.pk, "escalate"]), {"reason": "网格无法处置"})
    # The community now owns it; the grid worker still sees the case in their grid.
    assert response.status_code == 302 and response["Location"] == reverse("cases:detail", args=[case.pk])
    case.refresh_from_db()
    assert (case.level, case.handling_area) == (CaseLevel.COMMUNITY, org.c1)
    page = client.get(response["Location"])
    assert case.events.last().note == "网格无法处置"
    assert "网格无法处置" in html(page)
    assert len(messages_of(page)) == 1


def test_a_refused_action_shows_the_chinese_message_keeps_the_input_and_changes_nothing(org, report, signed_in):
    case = report(org.users.grid_worker, title="楼道堆物")
    client = signed_in(org.users.grid_worker)
    missing = client.post(reverse("cases:action", args=[case.pk, "handle_on_site"]), {"measures": "已通知物业清理"})
    assert missing.status_code == 400
    assert messages_of(missing) == [zh("This field is required.")]
    text = html(missing)
    assert "已通知物业清理" in text  # the input is kept
    assert re.search(r'<details class="gg-action[^"]*" open data-testid="action-handle_on_site"', text)
    wrong_state = client.post(reverse("cases:action", args=[case.pk, "verify"]), {"passed": "yes"})
    assert wrong_state.status_code == 409
    with translation.override("zh-hans"):
        expected = translation.gettext("A case that is %(state)s cannot be given the action “%(action)s”.") % {
            "state": State(case.state).label,
            "action": Action.VERIFY.label,
        }
    assert messages_of(wrong_state) == [expected]
    case.refresh_from_db()
    assert case.state == State.REPORTED and case.events.count() == 1
    assert client.post(reverse("cases:action", args=[case.pk, "fly"])).status_code == 404


def test_dispatch_offers_the_categorys_unit_kind_first_and_links_the_notice(org, report, signed_in):
    case = report(org.users.center, category="02001", title="公园旁道路塌陷")
    client = signed_in(org.users.center)
    text = html(client.get(reverse("cases:detail", args=[case.pk])))
    select = text[text.index('name="unit"') : text.index("</select>", text.index('name="unit"'))]
    options = re.findall(r'<option value="(\d+)"', select)
    assert options[0] == str(org.prop.pk) and str(org.police.pk) in options
    response = client.post(
        reverse("cases:action", args=[case.pk, "dispatch"]),
        {"unit": org.prop.pk, "co_units": [org.police.pk], "measures": "三日内回填"},
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert (case.state, case.unit, case.measures) == (State.DISPATCHED, org.prop, "三日内回填")
    page = html(client.get(reverse("cases:detail", args=[case.pk])))
    assert reverse("cases:notice", args=[case.pk]) in page
    assert "测试派出所" in page  # the co-handling unit
    # Dispatching again starts from the current units.
    form = page[page.index('data-testid="action-dispatch"') :]
    assert f'<option value="{org.prop.pk}" selected>' in form[: form.index("</select>")]
    co_units = form[form.index('name="co_units"') :]
    assert f'<option value="{org.police.pk}" selected>' in co_units[: co_units.index("</select>")]


def test_a_unit_that_returns_a_case_goes_back_to_its_queue(org, report, act, signed_in):
    case = report(org.users.center, category="02001", title="公园旁道路塌陷")
    act(org.users.center, case, Action.DISPATCH, unit=org.prop.pk)
    client = signed_in(org.users.unit_handler)
    assert client.post(reverse("cases:action", args=[case.pk, "claim"])).status_code == 302
    response = client.post(reverse("cases:action", args=[case.pk, "return"]), {"reason": "不属于本单位"})
    assert response.status_code == 302 and response["Location"] == reverse("cases:queue")
    case.refresh_from_db()
    assert case.state == State.REGISTERED and case.unit is None


@pytest.mark.urls(__name__)
def test_case_page_uses_at_most_fifteen_queries_of_its_own(org, report, act, signed_in):
    case = report(org.users.center, category="02001", title="公园旁道路塌陷", files=[png()])
    client = signed_in(org.users.center)
    url = reverse("cases:detail", args=[case.pk])
    first, _response = own_queries(client, url)
    act(org.users.center, case, Action.DISPATCH, unit=org.prop.pk, co_units=[org.police.pk])
    act(org.users.unit_handler, case, Action.CLAIM)
    act(org.users.unit_handler, case, Action.RESOLVE, result="已修复", files=[png("after.png", "blue")])
    later, response = own_queries(client, url)
    assert html(response).count('data-testid="timeline-entry"') == 4
    assert html(response).count('data-testid="photo"') == 2
    assert first <= 15 and later <= 15


# --- the report form --------------------------------------------------------------------------


def test_report_form_offers_categories_by_business_line_and_their_extra_fields(org, signed_in):
    response = signed_in(org.users.grid_worker).get(reverse("cases:report"))
    text = html(response)
    assert response.status_code == 200
    assert '<optgroup label="城市管理">' in text and "02001 道路塌陷与破损" in text
    assert '<option value="01">' not in text  # major classes are not offered
    schemas = json.loads(
        re.search(r'<script id="gg-category-schemas" type="application/json">(.*?)</script>', text).group(1)
    )
    assert [f["name"] for f in schemas["04004"]] == ["floors", "grade"]
    assert 'accept="image/*" capture="environment" multiple' in text
    assert 'id="gg-geolocate"' in text


def test_report_form_errors_keep_the_input_and_name_the_fields(org, signed_in):
    client = signed_in(org.users.grid_worker)
    data = {"category": "04004", "title": "自建房开裂", "description": "外墙裂缝", "priority": "urgent", **IN_G11}
    data["extra.grade"] = "E"
    response = client.post(reverse("cases:report"), {**data, "files": [png()]})
    assert response.status_code == 400
    text = html(response)
    assert 'data-testid="form-errors"' in text
    assert 'value="自建房开裂"' in text and "外墙裂缝" in text
    assert 'value="urgent" id="priority-urgent" autocomplete="off" checked' in text
    assert re.search(r'name="extra.floors" id="extra-floors"', text)
    extra = response.context["extra_fields"]
    assert {f["name"]: bool(f["errors"]) for f in extra} == {"floors": True, "grade": True}
    assert not Case.objects.exists()
    missing_title = client.post(reverse("cases:report"), {"category": "01001", "title": "", **IN_G11})
    assert missing_title.status_code == 400
    assert zh("This field is required.") in html(missing_title)


def test_report_form_creates_the_case_with_photos_and_opens_it(org, signed_in):
    client = signed_in(org.users.grid_worker)
    data = {
        "category": "04004",
        "title": "自建房开裂",
        "priority": "normal",
        "address": "幸福路1号",
        "extra.floors": "3",
        "extra.grade": "C",
        **IN_G11,
    }
    response = client.post(reverse("cases:report"), {**data, "files": [png(), png("b.png", "green")]})
    case = Case.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("cases:detail", args=[case.pk])
    assert (case.grid, case.level, case.extra) == (org.g11, CaseLevel.GRID, {"floors": 3, "grade": "C"})
    assert case.attachments.count() == 2


def test_report_page_is_refused_to_a_user_without_any_post(org, signed_in):
    assert signed_in(org.users.nobody).get(reverse("cases:report")).status_code == 403


# --- resolution figures -----------------------------------------------------------------------


def test_figures_show_the_three_rates_for_the_area_and_each_child(org, report, act, signed_in):
    on_site = report(org.users.grid_worker, title="楼道垃圾")
    act(org.users.grid_worker, on_site, Action.HANDLE_ON_SITE, result="已清理")
    act(org.users.grid_leader, on_site, Action.VERIFY, passed=True)
    big = report(org.users.center, category="04004", title="自建房", extra={"floors": 3, "grade": "D"})
    act(org.users.center, big, Action.CLAIM)
    act(org.users.center, big, Action.RESOLVE, result="已加固")
    act(org.users.center, big, Action.VERIFY, passed=True)
    client = signed_in(org.users.center)
    response = client.get(reverse("cases:stats"), {"area": org.s.pk})
    text = html(response)
    assert response.status_code == 200
    rates = {r["key"]: r["value"] for r in response.context["total"]["rates"]}
    assert rates == {"grid": 50.0, "community": 50.0, "subdistrict": 100.0}
    assert re.search(r'data-testid="rate-grid">.*?50\.0<span', text, re.S)
    rows = re.findall(r'data-testid="stats-row" data-code="(\d+)"', text)
    assert rows == [org.c1.code, org.c2.code]
    bad = client.get(reverse("cases:stats"), {"area": org.s.pk, "start": "2026-05-10", "end": "2026-05-01"})
    assert bad.status_code == 400 and 'data-testid="form-errors"' in html(bad)


def test_figures_offer_only_the_users_areas(org, signed_in):
    client = signed_in(org.users.grid_worker)
    response = client.get(reverse("cases:stats"))
    assert response.status_code == 200
    offered = {value for value, _label in response.context["form"].fields["area"].choices}
    assert str(org.g11.pk) in offered and str(org.g21.pk) not in offered
    assert client.get(reverse("cases:stats"), {"area": org.g21.pk}).status_code == 400


def test_each_page_renders_for_each_role(org, report, signed_in):
    case = report(org.users.grid_worker)
    # Each page with a label of its own, as the Chinese catalogue has it.
    pages = [
        ("queue", [], "To accept"),
        ("list", [], "Export ledger"),
        ("report", [], "Use my current location"),
        ("stats", [], "Closed within the grid"),
        ("detail", [case.pk], "Timeline"),
    ]
    for _name, _args, label in pages:
        assert zh(label) != label, f"the zh_Hans catalogue does not translate {label!r}"
    u = org.users
    for user in (u.center, u.community, u.grid_leader, u.leader, u.unit_handler):
        client = signed_in(user)
        for name, args, label in pages:
            response = client.get(reverse(f"cases:{name}", args=args))
            # A unit sees only what is dispatched to it.
            expected = 404 if (user == org.users.unit_handler and name == "detail") else 200
            assert response.status_code == expected, (user.username, name)
            if expected == 200:
                text = html(response)
                assert '<html lang="zh-hans">' in text and zh(label) in text, (user.username, name)
