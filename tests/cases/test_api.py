"""The case API: intake, list, detail, actions, categories, figures and the work queue, over HTTP with tokens.

Every refusal is checked for its code and for what it did not write: no case, no timeline entry,
no attachment and no idempotency key is left behind by a refused request.
"""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from PIL import Image
from rest_framework import serializers

from gridgov.cases.choices import Action, CaseLevel, Priority, Source, State
from gridgov.cases.models import Case, CaseAttachment, CaseEvent, IdempotencyKey
from gridgov.cases.services import case_link, sweep_deadlines
from gridgov.core.api.serializers import PlannedRepresentation
from tests.cases.conftest import IN_G11, IN_G12, IN_G21, OUTSIDE
from tests.conftest import api_headers

pytestmark = pytest.mark.django_db

CASES = "/api/v1/cases/"
PHONE = "13812345678"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


class Caller:
    """One user speaking to the API with their token."""

    def __init__(self, client, username: str) -> None:
        self.client = client
        self.headers = api_headers(client, username)

    def get(self, url: str, params: dict | None = None):
        return self.client.get(url, params or {}, **self.headers)

    def post(self, url: str, data: dict | None = None, **headers):
        return self.client.post(url, data or {}, content_type="application/json", **self.headers, **headers)

    def multipart(self, url: str, data: dict, **headers):
        return self.client.post(url, data, **self.headers, **headers)

    def act(self, case_id: int, action: str, data: dict | None = None):
        return self.post(f"{CASES}{case_id}/actions/{action}/", data)


@pytest.fixture
def as_user(client, org):
    callers: dict[str, Caller] = {}

    def get(username: str) -> Caller:
        if username not in callers:
            callers[username] = Caller(client, username)
        return callers[username]

    return get


def counts() -> tuple[int, int, int, int]:
    return (
        Case.objects.count(),
        CaseEvent.objects.count(),
        CaseAttachment.objects.count(),
        IdempotencyKey.objects.count(),
    )


def png(name: str = "photo.png", size: tuple[int, int] = (40, 30)) -> io.BytesIO:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 80, 40)).save(out, "PNG")
    out.seek(0)
    out.name = name
    return out


def body(**fields) -> dict:
    return {"category": "01001", "title": "楼道暴露垃圾", **IN_G11, **fields}


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


# --- intake -----------------------------------------------------------------------------------


def test_report_as_json_lands_in_the_grid_of_its_point(as_user, org):
    before = counts()
    response = as_user("wg01").post(CASES, body(description="三号楼下", address="一网格三号楼", reporter_phone=PHONE))
    assert response.status_code == 201, response.content
    case = response.json()
    assert case["grid"] == {"id": org.g11.pk, "code": org.g11.code, "name": org.g11.name}
    assert (case["level"], case["state"], case["source"], case["outside_grids"]) == (
        CaseLevel.GRID,
        State.REPORTED,
        Source.GRID_WORKER,
        False,
    )
    assert case["handling_area"]["id"] == org.g11.pk
    assert case["category"] == {"code": "01001", "name": "暴露垃圾"}
    assert case["business_line"]["code"] == "city"
    assert case["code"].startswith(org.g11.code)
    assert case["description"] == "三号楼下" and case["address"] == "一网格三号楼"
    assert [(e["action"], e["to_state"], e["to_level"]) for e in case["timeline"]] == [
        (Action.REPORT, State.REPORTED, CaseLevel.GRID)
    ]
    assert Action.ACCEPT in case["allowed_actions"] and Action.HANDLE_ON_SITE in case["allowed_actions"]
    assert case["reporter_phone"] == "138****5678"
    assert case["tracking_code"] == Case.objects.get(pk=case["id"]).tracking_code
    assert counts() == (before[0] + 1, before[1] + 1, before[2], before[3])


def test_report_as_multipart_with_a_photo_and_extra_fields_as_json_text(as_user, org):
    response = as_user("wg01").multipart(
        CASES,
        {
            "category": "02001",
            "title": "公园旁道路塌陷",
            "lat": str(IN_G11["lat"]),
            "lng": str(IN_G11["lng"]),
            "extra": json.dumps({"area_m2": 2.5, "blocks_traffic": True}),
            "files": [png("a.png"), png("b.png")],
        },
    )
    assert response.status_code == 201, response.content
    case = response.json()
    assert case["extra"] == {"area_m2": 2.5, "blocks_traffic": True}
    assert [a["content_type"] for a in case["attachments"]] == ["image/png", "image/png"]
    first = case["attachments"][0]
    assert first["name"] == "a.png" and first["size"] > 0
    assert first["url"] == f"/cases/{case['id']}/files/{first['id']}/"
    assert first["thumbnail_url"] == f"/cases/{case['id']}/files/{first['id']}/thumbnail/"
    assert [a["id"] for a in case["timeline"][0]["attachments"]] == [a["id"] for a in case["attachments"]]


def test_point_outside_every_grid_is_taken_by_the_subdistrict_and_flagged(as_user, org):
    before = counts()
    response = as_user("wg01").post(CASES, body(**OUTSIDE))
    assert response.status_code == 201, response.content
    case = response.json()
    assert (case["outside_grids"], case["level"], case["grid"]) == (True, CaseLevel.SUBDISTRICT, None)
    assert case["handling_area"]["id"] == org.s.pk
    assert counts()[0] == before[0] + 1
    # The center owns it now and can act on it.
    center_view = as_user("center").get(f"{CASES}{case['id']}/").json()
    assert Action.DISPATCH in center_view["allowed_actions"]


def test_intake_stays_at_two_statements_on_postgresql(as_user, org):
    """Intake's cost is mostly its statements: keep them from creeping back. On PostgreSQL: the token's user (which
    carries the cache generations' tokens) and one statement writing the key, the number, the case and its
    timeline entry (the caller's posts, the grid and its modes are kept per process). SQLite writes them one by
    one in a savepoint."""
    caller = as_user("wg01")
    caller.post(CASES, body(), HTTP_IDEMPOTENCY_KEY="warm-up")  # the token user and the process caches are warm
    with CaptureQueriesContext(connection) as queries:
        response = caller.post(CASES, body(title="第二件"), HTTP_IDEMPOTENCY_KEY="k-2")
    assert response.status_code == 201, response.content
    limit = 2 if connection.vendor == "postgresql" else 7
    assert len(queries) <= limit, [q["sql"][:80] for q in queries]


def test_same_idempotency_key_returns_the_same_case(as_user):
    wg = as_user("wg01")
    first = wg.post(CASES, body(), HTTP_IDEMPOTENCY_KEY="app-42")
    assert first.status_code == 201, first.content
    before = counts()
    again = wg.post(CASES, body(), HTTP_IDEMPOTENCY_KEY="app-42")
    assert again.status_code == 200, again.content
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["code"] == first.json()["code"]
    assert counts() == before


def test_same_idempotency_key_with_another_body_is_a_conflict(as_user):
    wg = as_user("wg01")
    assert wg.post(CASES, body(), HTTP_IDEMPOTENCY_KEY="app-43").status_code == 201
    before = counts()
    response = wg.post(CASES, body(title="另一件事"), HTTP_IDEMPOTENCY_KEY="app-43")
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_reused"
    assert counts() == before


def test_the_same_key_of_another_user_is_another_case(as_user):
    first = as_user("wg01").post(CASES, body(), HTTP_IDEMPOTENCY_KEY="shared")
    second = as_user("gl01").post(CASES, body(), HTTP_IDEMPOTENCY_KEY="shared")
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["id"] != second.json()["id"]


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"category": "99999"}, "unknown_category", "category"),
        ({"category": "01"}, "unknown_category", "category"),
        ({"category": "04004"}, "invalid_extra", "extra.floors"),
        ({"category": "04004", "extra": {"floors": 3, "grade": "Z"}}, "invalid_extra", "extra.grade"),
        ({"extra": {"nonsense": 1}}, "invalid_extra", "extra.nonsense"),
        ({"extra": [1, 2]}, "invalid_extra", "extra"),
        ({"title": ""}, "invalid", "title"),
        ({"lat": "north"}, "invalid_point", "lat"),
        ({"lat": 32.605, "lng": None}, "invalid_point", "lng"),
        ({"priority": "whenever"}, "invalid", "priority"),
        ({"source": "pigeon"}, "invalid", "source"),
        ({"reporter_phone": "12"}, "invalid", "reporter_phone"),
        ({"colour": "red"}, "unknown_field", "colour"),
        ({"files": "a.jpg"}, "unknown_field", "files"),
        (IN_G21, "outside_scope", "lat"),
    ],
)
def test_bad_intake_is_refused_and_writes_nothing(as_user, fields, code, field):
    before = counts()
    response = as_user("wg01").post(CASES, body(**fields), HTTP_IDEMPOTENCY_KEY="bad-1")
    assert response.status_code == 400, response.content
    error = response.json()
    assert error["code"] == code, error
    assert field in error["fields"], error
    assert error["message"]
    assert counts() == before


def test_missing_required_extra_names_every_field(as_user):
    response = as_user("wg01").post(CASES, body(category="04004", title="自建房开裂"))
    assert response.status_code == 400
    assert {"extra.floors", "extra.grade"} <= set(response.json()["fields"])


def test_a_non_object_body_is_refused(as_user):
    before = counts()
    response = as_user("wg01").client.post(
        CASES, json.dumps([1, 2]), content_type="application/json", **as_user("wg01").headers
    )
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_request"
    assert counts() == before


def test_extra_that_is_not_json_in_a_form_is_refused(as_user):
    before = counts()
    response = as_user("wg01").multipart(CASES, {**body(), "extra": "{floors: 3"})
    assert response.status_code == 400
    assert (response.json()["code"], list(response.json()["fields"])) == ("invalid_extra", ["extra"])
    assert counts() == before


def test_a_30_mb_photo_is_refused_before_anything_is_written(as_user, settings):
    before = counts()
    big = io.BytesIO(b"\xff\xd8\xff\xe0" + b"\0" * (30 * 1024 * 1024))
    big.name = "huge.jpg"
    response = as_user("wg01").multipart(CASES, {**body(), "files": [png(), big]}, HTTP_IDEMPOTENCY_KEY="big")
    assert response.status_code == 400, response.content
    error = response.json()
    assert error["code"] == "file_too_large"
    assert "huge.jpg" in error["message"] and "files" in error["fields"]
    assert counts() == before
    media = settings.MEDIA_ROOT
    assert not media.exists() or not any(path.is_file() for path in media.rglob("*"))


def test_a_file_over_the_limit_is_refused_on_an_action_too(as_user, org, report, settings):
    settings.GRIDGOV_CASE_FILE_MAX_BYTES = 1000
    case = report(org.users.grid_worker)
    before = counts()
    response = as_user("wg01").multipart(
        f"{CASES}{case.pk}/actions/attach/", {"files": [png(size=(400, 400))], "note": "照片"}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "file_too_large"
    assert counts() == before


def test_a_text_file_named_jpg_is_refused(as_user):
    before = counts()
    fake = io.BytesIO(b"just some text, not a photo\n" * 20)
    fake.name = "photo.jpg"
    response = as_user("wg01").multipart(CASES, {**body(), "files": [fake]})
    assert response.status_code == 400
    error = response.json()
    assert error["code"] == "unsupported_file" and "photo.jpg" in error["message"]
    assert counts() == before


def test_anonymous_callers_are_refused(client, org):
    assert client.get(CASES).status_code == 401
    assert client.post(CASES, body(), content_type="application/json").status_code == 401


# --- list and detail: scope -------------------------------------------------------------------


@pytest.fixture
def spread(org, report, act):
    """Cases in each grid, dispatched to the property company, to the police, and to the police with
    the property company as co-handler."""
    u = org.users
    g11 = report(u.grid_worker, title="一网格的事")
    g21 = report(u.center, category="02001", title="三网格的事", point=IN_G21)
    to_prop = report(u.center, category="02001", title="派给物业", point=IN_G12)
    act(u.center, to_prop, Action.DISPATCH, unit=org.prop.pk)
    to_police = report(u.center, category="02001", title="派给派出所", point=IN_G12)
    act(u.center, to_police, Action.DISPATCH, unit=org.police.pk)
    jointly = report(u.center, category="02001", title="联合处置", point=IN_G11)
    act(u.center, jointly, Action.DISPATCH, unit=org.police.pk, co_units=[org.prop.pk])
    return {"g11": g11, "g21": g21, "to_prop": to_prop, "to_police": to_police, "jointly": jointly}


def test_a_grid_worker_does_not_see_another_grids_case(as_user, spread):
    wg = as_user("wg01")
    listed = ids(wg.get(CASES))
    assert spread["g11"].pk in listed and spread["jointly"].pk in listed
    assert spread["g21"].pk not in listed and spread["to_prop"].pk not in listed
    response = wg.get(f"{CASES}{spread['g21'].pk}/")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")


def test_a_unit_handler_sees_only_the_cases_of_their_unit_also_as_co_handler(as_user, spread):
    unit = as_user("unit01")
    assert ids(unit.get(CASES)) == {spread["to_prop"].pk, spread["jointly"].pk}
    assert unit.get(f"{CASES}{spread['to_police'].pk}/").status_code == 404
    assert unit.get(f"{CASES}{spread['g11'].pk}/").status_code == 404
    detail = unit.get(f"{CASES}{spread['jointly'].pk}/").json()
    assert detail["co_units"] == [{"id": spread["jointly"].co_unit_links.get().unit_id, "name": "测试物业"}]
    assert detail["unit"]["name"] == "测试派出所"


def test_the_tracking_code_is_for_staff_not_for_unit_handlers(as_user, spread):
    case = spread["to_prop"]
    assert as_user("center").get(f"{CASES}{case.pk}/").json()["tracking_code"] == case.tracking_code
    assert as_user("unit01").get(f"{CASES}{case.pk}/").json()["tracking_code"] is None


def test_the_reporters_phone_never_appears_in_full(as_user, org):
    wg = as_user("wg01")
    created = wg.post(CASES, body(reporter_phone=PHONE))
    case_id = created.json()["id"]
    responses = [created, wg.get(CASES), wg.get(f"{CASES}{case_id}/"), wg.act(case_id, "accept")]
    for response in responses:
        assert response.status_code in (200, 201)
        assert PHONE not in response.content.decode()
    assert responses[2].json()["reporter_phone"] == "138****5678"
    assert "reporter_phone" not in responses[1].json()["results"][0]


def test_list_rows_carry_what_the_list_shows(as_user, spread, org):
    rows = {row["id"]: row for row in as_user("center").get(CASES).json()["results"]}
    row = rows[spread["jointly"].pk]
    assert set(row) == {
        "id",
        "code",
        "title",
        "category",
        "business_line",
        "kind",
        "source",
        "priority",
        "state",
        "state_label",
        "level",
        "grid",
        "handling_area",
        "unit",
        "address",
        "lat",
        "lng",
        "outside_grids",
        "due_at",
        "warned",
        "overdue",
        "urged",
        "created_at",
        "closed_at",
        "closed_level",
    }
    assert row["unit"] == {"id": org.police.pk, "name": "测试派出所"}
    assert (row["state"], row["state_label"]) == (State.DISPATCHED, str(State.DISPATCHED.label))
    assert row["grid"]["code"] == org.g11.code and row["due_at"]


def test_the_list_is_paginated(as_user, spread):
    page = as_user("center").get(CASES, {"page_size": 2}).json()
    assert page["count"] == 5 and len(page["results"]) == 2 and page["next"]
    # Newest first.
    assert page["results"][0]["id"] == spread["jointly"].pk


# --- query counts -----------------------------------------------------------------------------


@pytest.fixture
def many(org, report, act):
    """Twelve cases with units, co-units, escalations and photos: what could make a page cost per row."""
    u = org.users
    cases = []
    for i in range(12):
        case = report(u.center, category="02001", title=f"第{i}件", point=IN_G11 if i % 2 else IN_G12)
        if i % 3 == 0:
            act(u.center, case, Action.DISPATCH, unit=org.prop.pk, co_units=[org.police.pk])
        elif i % 3 == 1:
            act(u.center, case, Action.DISPATCH, unit=org.police.pk, co_units=[org.prop.pk])
        cases.append(case)
    return cases


@pytest.mark.parametrize("username", ["center", "wg01", "unit01"])
def test_the_list_costs_the_same_few_queries_whatever_the_page_size(
    as_user, many, username, django_assert_max_num_queries
):
    caller = as_user(username)
    caller.get(CASES)  # the caller's scope is read once per process, then kept
    sizes = {}
    for size in (1, 50):
        with django_assert_max_num_queries(10), CaptureQueriesContext(connection) as queries:
            response = caller.get(CASES, {"page_size": size, "state": "dispatched,reported", "category": "02"})
        assert response.status_code == 200
        assert len(response.json()["results"]) == min(size, response.json()["count"])
        sizes[size] = len(queries)
    assert sizes[1] == sizes[50]


def test_the_list_with_every_filter_stays_within_ten_queries(as_user, many, org, django_assert_max_num_queries):
    center = as_user("center")
    with django_assert_max_num_queries(10), CaptureQueriesContext(connection) as queries:
        response = center.get(
            CASES,
            {
                "q": "件",
                "state": ["dispatched", "reported"],
                "level": "community",
                "category": "02001",
                "business_line": "city",
                "area": org.c1.code,
                "overdue": "false",
                "warned": "false",
                "source": "grid_worker",
                "priority": "normal",
                "unit": org.prop.pk,
                "created_after": "2020-01-01",
                "created_before": "2099-01-01",
                "page_size": 100,
            },
        )
    assert response.status_code == 200, response.content
    assert not any("DISTINCT" in q["sql"] for q in queries.captured_queries)


def test_the_detail_stays_within_fifteen_queries(as_user, org, report, act, django_assert_max_num_queries):
    u = org.users
    case = report(u.center, category="02001", title="查询次数", point=IN_G11)
    other = report(u.center, category="02001", title="关联", point=IN_G11)
    case_link(actor=u.center, case=case, other=other)
    act(u.center, case, Action.DISPATCH, unit=org.prop.pk, co_units=[org.police.pk])
    act(u.unit_handler, case, Action.CLAIM)
    act(u.unit_handler, case, Action.ATTACH, files=[png("1.png"), png("2.png")], note="现场")
    act(u.unit_handler, case, Action.RESOLVE, result="已修复", files=[png("3.png")])
    for username in ("center", "unit01"):
        caller = as_user(username)
        with django_assert_max_num_queries(15):
            response = caller.get(f"{CASES}{case.pk}/")
        assert response.status_code == 200
        detail = response.json()
        assert len(detail["timeline"]) == 6 and len(detail["attachments"]) == 3
    assert detail["co_units"] == [{"id": org.police.pk, "name": "测试派出所"}]
    related = as_user("center").get(f"{CASES}{case.pk}/").json()["related"]
    assert related == [{"id": other.pk, "code": other.code, "title": "关联", "state": State.REPORTED}]


# --- detail and actions -----------------------------------------------------------------------


def test_the_detail_holds_the_timeline_and_what_the_caller_may_do(as_user, org, report, act):
    case = report(org.users.grid_worker)
    act(org.users.grid_worker, case, Action.ATTACH, files=[png()], note="补充照片")
    detail = as_user("gl01").get(f"{CASES}{case.pk}/").json()
    assert [e["action"] for e in detail["timeline"]] == [Action.REPORT, Action.ATTACH]
    attach = detail["timeline"][1]
    assert attach["actor_name"] == "wg01" and attach["note"] == "补充照片"
    assert attach["action_label"] == str(Action.ATTACH.label)
    assert attach["data"] == {"files": 1} and attach["attachments"][0]["content_type"] == "image/png"
    assert {"accept", "reject", "handle_on_site", "escalate", "comment"} <= set(detail["allowed_actions"])
    assert "dispatch" not in detail["allowed_actions"]
    leader = as_user("leader").get(f"{CASES}{case.pk}/").json()
    assert "accept" not in leader["allowed_actions"] and "urge" in leader["allowed_actions"]


def test_a_case_through_every_kind_of_action_body(as_user, org, report):
    center, unit, wg = as_user("center"), as_user("unit01"), as_user("wg01")
    case_id = wg.post(CASES, body(category="02001", title="路面破损")).json()["id"]
    # The grid worker reported at grid level; they escalate with a reason.
    response = wg.act(case_id, "escalate", {"reason": "需社区协调"})
    assert response.status_code == 200 and response.json()["level"] == CaseLevel.COMMUNITY
    # The community dispatches by unit name, with a co-handling unit.
    response = as_user("sq01").act(case_id, "dispatch", {"unit": "测试物业", "co_units": [org.police.pk]})
    assert response.status_code == 200, response.content
    assert response.json()["unit"]["id"] == org.prop.pk
    assert response.json()["co_units"] == [{"id": org.police.pk, "name": "测试派出所"}]
    assert unit.act(case_id, "claim").json()["state"] == State.IN_PROGRESS
    response = unit.act(case_id, "extend_request", {"hours": 24, "reason": "等材料"})
    assert response.json()["extension_requested_hours"] == 24
    response = as_user("sq01").act(case_id, "extend_approve", {"approved": True, "note": "同意"})
    assert response.json()["extension_requested_hours"] is None
    assert as_user("leader").act(case_id, "urge", {"note": "请尽快"}).json()["urged"] is True
    response = unit.multipart(f"{CASES}{case_id}/actions/resolve/", {"result": "已修复", "files": [png()]})
    assert response.status_code == 200, response.content
    assert response.json()["state"] == State.RESOLVED and len(response.json()["attachments"]) == 1
    response = as_user("sq01").act(case_id, "verify", {"passed": False, "note": "未修好"})
    assert response.json()["state"] == State.IN_PROGRESS
    unit.act(case_id, "resolve", {"result": "重新修复", "measures": "更换路面"})
    response = center.act(case_id, "verify", {"passed": True})
    assert (response.json()["state"], response.json()["closed_level"]) == (State.CLOSED, CaseLevel.COMMUNITY)
    assert response.json()["measures"] == "更换路面"
    response = wg.act(case_id, "rate", {"score": 6})
    assert (response.status_code, response.json()["code"]) == (400, "invalid")
    response = wg.act(case_id, "rate", {"score": 4, "note": "满意"})
    assert response.json()["satisfaction"] == 4
    response = center.act(case_id, "reopen", {"reason": "居民再次反映"})
    assert response.json()["state"] == State.REGISTERED
    assert center.act(case_id, "comment", {"note": "已电话回访"}).status_code == 200
    actions = [e["action"] for e in center.get(f"{CASES}{case_id}/").json()["timeline"]]
    assert actions == [
        "report",
        "escalate",
        "dispatch",
        "claim",
        "extend_request",
        "extend_approve",
        "urge",
        "resolve",
        "verify",
        "resolve",
        "verify",
        "rate",
        "reopen",
        "comment",
    ]


def test_reject_merge_and_return(as_user, org, report, act):
    center, unit = as_user("center"), as_user("unit01")
    first = report(org.users.center, category="02001", title="重复一", point=IN_G11)
    second = report(org.users.center, category="02001", title="重复二", point=IN_G11)
    response = center.act(second.pk, "merge", {"target": first.code})
    assert (response.json()["state"], response.json()["merged_into"]["id"]) == (State.MERGED, first.pk)
    third = report(org.users.center, category="02001", title="无效", point=IN_G11)
    assert center.act(third.pk, "reject", {"reason": "不属实"}).json()["state"] == State.REJECTED
    act(org.users.center, first, Action.DISPATCH, unit=org.prop.pk)
    response = unit.act(first.pk, "return", {"reason": "不属于本单位"})
    # The unit gave the case back: it answers with the case as it left it, and may do nothing more.
    assert response.status_code == 200, response.content
    assert (response.json()["state"], response.json()["unit"], response.json()["allowed_actions"]) == (
        State.REGISTERED,
        None,
        [],
    )
    assert unit.get(f"{CASES}{first.pk}/").status_code == 404


def test_handle_on_site_by_the_reporter(as_user, org):
    wg = as_user("wg01")
    case_id = wg.post(CASES, body()).json()["id"]
    response = wg.act(case_id, "handle_on_site", {"result": "已清理", "measures": "清运"})
    assert (response.json()["state"], response.json()["result"]) == (State.RESOLVED, "已清理")
    assert as_user("gl01").act(case_id, "verify", {"passed": "true"}).json()["closed_level"] == CaseLevel.GRID


def _events() -> int:
    return CaseEvent.objects.count()


def test_an_action_in_the_wrong_state_is_a_conflict(as_user, org, report):
    case = report(org.users.grid_worker)
    before, state = _events(), case.state
    response = as_user("gl01").act(case.pk, "verify", {"passed": True})
    assert response.status_code == 409
    assert (response.json()["code"], response.json()["fields"]) == ("illegal_transition", {"state": [State.REPORTED]})
    case.refresh_from_db()
    assert (_events(), case.state) == (before, state)


def test_an_action_the_role_may_not_take_is_forbidden(as_user, org, report):
    case = report(org.users.grid_worker)
    before = _events()
    response = as_user("leader").act(case.pk, "accept")
    assert (response.status_code, response.json()["code"]) == (403, "forbidden")
    case.refresh_from_db()
    assert (_events(), case.state) == (before, State.REPORTED)


def test_an_unknown_action_is_not_found(as_user, org, report):
    case = report(org.users.grid_worker)
    for name in ("teleport", "warn", "report"):
        response = as_user("wg01").act(case.pk, name)
        assert (response.status_code, response.json()["code"]) == (404, "unknown_action")


def test_an_action_on_a_case_outside_the_scope_is_not_found(as_user, org, report):
    case = report(org.users.center, category="02001", point=IN_G21)
    before = _events()
    response = as_user("wg01").act(case.pk, "accept")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert as_user("wg01").act(999999, "accept").status_code == 404
    assert _events() == before


@pytest.mark.parametrize(
    ("action", "data", "code", "field"),
    [
        ("escalate", {}, "invalid", "reason"),
        ("escalate", {"reason": "  "}, "invalid", "reason"),
        ("escalate", {"reason": "x", "unit": 1}, "unknown_field", "unit"),
        ("comment", {}, "invalid", "note"),
        ("attach", {"note": "x"}, "invalid", "files"),
        ("handle_on_site", {"result": ""}, "invalid", "result"),
        ("merge", {"target": "nope"}, "unknown_case", "target"),
    ],
)
def test_bad_action_bodies_are_refused_and_write_nothing(as_user, org, report, action, data, code, field):
    case = report(org.users.grid_worker)
    before = counts()
    response = as_user("wg01").act(case.pk, action, data)
    assert response.status_code == 400, response.content
    assert (response.json()["code"], field in response.json()["fields"]) == (code, True), response.json()
    case.refresh_from_db()
    assert (counts(), case.state) == (before, State.REPORTED)


def test_dispatch_to_an_unknown_unit_is_refused(as_user, org, report):
    case = report(org.users.center, category="02001", point=IN_G11)
    before = counts()
    response = as_user("center").act(case.pk, "dispatch", {"unit": "没有这个单位"})
    assert (response.status_code, response.json()["code"]) == (400, "unknown_unit")
    assert counts() == before


def test_an_attachment_that_is_not_a_photo_is_refused_on_an_action(as_user, org, report):
    case = report(org.users.grid_worker)
    before = counts()
    fake = io.BytesIO(b"MZ" + b"\0" * 100)
    fake.name = "virus.jpg"
    response = as_user("wg01").multipart(f"{CASES}{case.pk}/actions/attach/", {"files": [fake]})
    assert (response.status_code, response.json()["code"]) == (400, "unsupported_file")
    assert counts() == before


# --- filters ----------------------------------------------------------------------------------


@pytest.fixture
def filtered(org, report, act):
    """Five cases that differ in every filtered attribute, and the deadline sweep run 50 minutes on."""
    u = org.users
    a = report(u.grid_worker, title="楼道垃圾")  # 01001 grid level, warned after 48 of its 60 minutes
    b = report(
        u.center, category="02001", title="道路塌陷", point=IN_G12, priority=Priority.URGENT, source="hotline_12345"
    )
    act(u.center, b, Action.DISPATCH, unit=org.prop.pk)
    c = report(u.center, category="05001", title="邻里噪音", point=IN_G21, source=Source.SUPERIOR)
    d = report(u.grid_worker, category="01002", title="乱堆物")
    act(u.grid_worker, d, Action.HANDLE_ON_SITE, result="已清理")
    act(u.grid_leader, d, Action.VERIFY, passed=True)
    e = report(
        u.center,
        category="04004",
        title="自建房开裂",
        point=IN_G21,
        priority=Priority.CRITICAL,
        extra={"floors": 3, "grade": "C"},
    )  # subdistrict level, overdue after 30 minutes, never escalated by the sweep
    sweep_deadlines(now=timezone.now() + timedelta(minutes=50))
    # c was reported long ago, just after midnight local time (the day before in UTC).
    local = timezone.make_aware(datetime(2020, 3, 2, 0, 30), timezone.get_current_timezone())
    Case.objects.filter(pk=c.pk).update(created_at=local)
    return {k: v.pk for k, v in {"a": a, "b": b, "c": c, "d": d, "e": e}.items()}


def test_every_filter_narrows_the_list(as_user, org, filtered):
    f = filtered
    center = as_user("center")

    def only(**params) -> set[str]:
        found = ids(center.get(CASES, params))
        return {name for name, pk in f.items() if pk in found}

    assert only() == {"a", "b", "c", "d", "e"}
    assert only(q="塌陷") == {"b"}
    assert only(q=Case.objects.get(pk=f["c"]).code) == {"c"}
    assert only(q=org.g11.code) == {"a", "d"}  # the start of a case number: the grid's cases
    assert only(q="垃圾") == {"a"}
    assert only(state="reported") == {"a", "c", "e"}
    assert only(state=["dispatched", "closed"]) == {"b", "d"}
    assert only(state="dispatched,closed") == {"b", "d"}
    assert only(level="community") == {"b"}
    assert only(level="subdistrict") == {"e"}
    assert only(category="01") == {"a", "d"}
    assert only(category="01001") == {"a"}
    assert only(business_line="dispute") == {"c"}
    assert only(area=org.g11.code) == {"a", "d"}
    assert only(area=org.c1.pk) == {"a", "b", "d"}
    assert only(area=org.c2.code) == {"c", "e"}
    assert only(area=org.s.code) == {"a", "b", "c", "d", "e"}
    assert only(overdue="true") == {"e"}
    assert only(overdue="false") == {"a", "b", "c", "d"}
    assert only(warned="true") == {"a", "e"}
    assert only(warned="0") == {"b", "c", "d"}
    assert only(source="hotline_12345") == {"b"}
    assert only(source="superior") == {"c"}
    assert only(priority="urgent") == {"b"}
    assert only(priority="critical") == {"e"}
    assert only(unit=org.prop.pk) == {"b"}
    assert only(closed_level="grid") == {"d"}
    # Whole local days, inclusive: c was made at 00:30 on 2 March, Beijing time.
    assert only(created_before="2020-03-02") == {"c"}
    assert only(created_before="2020-03-01") == set()
    assert only(created_after="2020-03-02", created_before="2020-03-02") == {"c"}
    assert only(created_after="2020-03-03") == {"a", "b", "d", "e"}
    # Filters combine.
    assert only(area=org.c2.code, state="reported", overdue="false") == {"c"}


def test_a_grid_worker_filters_within_their_scope_only(as_user, org, filtered):
    wg = as_user("wg01")
    assert ids(wg.get(CASES, {"state": "reported"})) == {filtered["a"]}
    response = wg.get(CASES, {"area": org.c2.code})
    assert (response.status_code, "area" in response.json()["fields"]) == (400, True)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("state", "bogus"),
        ("state", "reported,bogus"),
        ("level", "galaxy"),
        ("category", "99"),
        ("category", "abc"),
        ("business_line", "nope"),
        ("area", "999999999999"),
        ("area", "c1"),
        ("overdue", "maybe"),
        ("warned", "2"),
        ("source", "pigeon"),
        ("priority", "whenever"),
        ("unit", "999999"),
        ("unit", "x"),
        ("created_after", "2026-13-01"),
        ("created_before", "yesterday"),
        ("closed_level", "moon"),
    ],
)
def test_an_invalid_filter_value_is_a_clear_400(as_user, org, name, value):
    response = as_user("center").get(CASES, {name: value})
    assert response.status_code == 400, response.content
    error = response.json()
    assert (error["code"], list(error["fields"])) == ("invalid", [name])
    assert error["message"]


def test_the_unit_filter_offers_only_units_in_scope(as_user, org_wide, report, act):
    response = as_user("center").get(CASES, {"unit": org_wide.s2_police.pk})
    assert response.status_code == 400
    assert as_user("center").get(CASES, {"unit": org_wide.c2_prop.pk}).status_code == 200


# --- categories, business lines ---------------------------------------------------------------


def test_the_category_tree(as_user):
    rows = as_user("wg01").get("/api/v1/categories/").json()
    by_code = {row["code"]: row for row in rows}
    assert [row["code"] for row in rows] == sorted(by_code)
    assert by_code["01"]["parent"] is None and by_code["01"]["is_major"] is True
    minor = by_code["02001"]
    assert (minor["parent"], minor["level"], minor["unit_kind"], minor["resident_reportable"]) == (
        "02",
        CaseLevel.COMMUNITY,
        "property",
        True,
    )
    assert minor["business_line"] == {"code": "city", "name": "城市管理"}
    assert minor["deadlines"] == {
        "accept_minutes": {"normal": 60, "urgent": 30, "critical": 10},
        "handle_hours": {"normal": 24, "urgent": 8, "critical": 2},
    }
    schema = {f["name"]: f for f in by_code["04004"]["form_schema"]}
    assert schema["floors"]["required"] is True and schema["grade"]["choices"] == ["A", "B", "C", "D"]


def test_residents_see_only_the_leaves_they_may_report(as_user):
    rows = as_user("wg01").get("/api/v1/categories/", {"resident": "1"}).json()
    codes = {row["code"] for row in rows}
    assert "01001" in codes and "02001" in codes
    assert "04004" not in codes and "01" not in codes
    assert all(row["resident_reportable"] and not row["is_major"] for row in rows)


def test_one_category_by_code(as_user):
    response = as_user("wg01").get("/api/v1/categories/05001/")
    assert response.json()["name"] == "邻里纠纷"
    assert as_user("wg01").get("/api/v1/categories/99999/").status_code == 404


def test_business_lines(as_user):
    rows = as_user("wg01").get("/api/v1/business-lines/").json()
    assert [row["code"] for row in rows][:2] == ["safety", "epidemic"]
    assert {"code": "city", "name": "城市管理"}.items() <= next(r for r in rows if r["code"] == "city").items()


# --- resolution figures -----------------------------------------------------------------------


STATS = "/api/v1/stats/resolution/"


def test_resolution_figures_by_area_and_period(as_user, org, report, act):
    u = org.users
    on_site = report(u.grid_worker, title="当场处置")
    act(u.grid_worker, on_site, Action.HANDLE_ON_SITE, result="已清理")
    act(u.grid_leader, on_site, Action.VERIFY, passed=True)
    up = report(u.center, category="02001", title="街道处置", point=IN_G21)
    act(u.center, up, Action.DISPATCH, unit=org.police.pk)
    today = timezone.localdate().isoformat()
    figures = as_user("center").get(STATS, {"area": org.s.code, "start": today, "end": today}).json()
    assert (figures["closed"], figures["closed_by_level"]["grid"], figures["within_grid"]) == (1, 1, 1.0)
    children = {child["area"]["code"]: child for child in figures["children"]}
    assert set(children) == {org.c1.code, org.c2.code}
    assert (children[org.c1.code]["closed"], children[org.c2.code]["closed"]) == (1, 0)
    assert children[org.c2.code]["within_grid"] is None


def test_resolution_figures_default_to_the_callers_top_area_and_accept_an_id(as_user, org, report, act):
    u = org.users
    case = report(u.center, category="02001", title="社区处置", point=IN_G11)
    act(u.center, case, Action.CLAIM)
    act(u.center, case, Action.RESOLVE, result="已处理")
    act(u.community, case, Action.VERIFY, passed=True)
    default = as_user("center").get(STATS).json()
    assert default["area"]["id"] == org.s.pk and default["end"] == timezone.localdate().isoformat()
    assert (default["closed"], default["closed_by_level"]["community"], default["within_community"]) == (1, 1, 1.0)
    assert default["within_grid"] == 0.0
    by_id = as_user("center").get(STATS, {"area": org.c1.pk}).json()
    assert (by_id["area"]["code"], by_id["closed"]) == (org.c1.code, 1)
    assert [child["area"]["code"] for child in by_id["children"]] == [org.g11.code, org.g12.code]
    assert as_user("sq01").get(STATS).json()["area"]["id"] == org.c1.pk


def test_resolution_figures_refuse_an_area_outside_the_scope_and_bad_dates(as_user, org):
    wg = as_user("wg01")
    for area in (org.c2.code, org.s.code, org.c2.pk, "nonsense"):
        response = wg.get(STATS, {"area": area})
        assert (response.status_code, response.json()["code"]) == (404, "not_found"), area
    response = wg.get(STATS, {"start": "2026-02-30"})
    assert (response.status_code, list(response.json()["fields"])) == (400, ["start"])
    response = wg.get(STATS, {"start": "2026-05-02", "end": "2026-05-01"})
    assert (response.status_code, list(response.json()["fields"])) == (400, ["end"])


# --- the work queue ---------------------------------------------------------------------------


def test_the_work_queue_of_each_role(as_user, org, report, act):
    u = org.users
    to_accept = report(u.center, category="02001", title="待受理", point=IN_G11)
    to_claim = report(u.center, category="02001", title="待接单", point=IN_G12)
    act(u.center, to_claim, Action.DISPATCH, unit=org.prop.pk)
    community = {s["key"]: s for s in as_user("sq01").get(f"{CASES}queue/").json()}
    assert list(community) == ["accept", "dispatch", "claim", "handle", "verify", "extension"]
    assert [c["id"] for c in community["accept"]["cases"]] == [to_accept.pk]
    assert community["accept"]["total"] == 1 and community["accept"]["label"]
    unit = {s["key"]: s for s in as_user("unit01").get(f"{CASES}queue/").json()}
    assert [c["id"] for c in unit["claim"]["cases"]] == [to_claim.pk]
    assert unit["accept"]["total"] == 0


# --- OpenAPI ----------------------------------------------------------------------------------


def test_the_endpoints_are_documented_with_their_errors(as_user):
    paths = as_user("admin").get("/api/v1/schema/", {"format": "json"}).json()["paths"]
    create = paths["/api/v1/cases/"]["post"]
    assert {"201", "200", "400", "409"} <= set(create["responses"])
    assert {"application/json", "multipart/form-data"} <= set(create["requestBody"]["content"])
    assert any(p["name"] == "Idempotency-Key" for p in create["parameters"])
    listed = {p["name"] for p in paths["/api/v1/cases/"]["get"]["parameters"]}
    assert {"q", "state", "level", "category", "business_line", "area", "overdue", "warned", "source"} <= listed
    assert {"priority", "unit", "created_after", "created_before", "closed_level", "page", "page_size"} <= listed
    act = paths["/api/v1/cases/{id}/actions/{action_name}/"]["post"]
    assert {"200", "400", "403", "404", "409"} <= set(act["responses"])
    assert "/api/v1/stats/resolution/" in paths and "/api/v1/cases/queue/" in paths
    assert "/api/v1/categories/" in paths and "/api/v1/business-lines/" in paths


# --- the body as DRF renders it ----------------------------------------------------------------


def _bodies(caller, path: str, monkeypatch) -> tuple[dict, dict]:
    planned = caller.get(path).json()
    with monkeypatch.context() as patched:
        patched.setattr(PlannedRepresentation, "to_representation", serializers.Serializer.to_representation)
        generic = caller.get(path).json()
    return planned, generic


def test_a_full_case_renders_as_drf_renders_it(as_user, org, report, act, monkeypatch):
    u = org.users
    case = report(
        u.center, category="02001", title="渲染", point=IN_G11, reporter_phone="13800138000", address="一号楼"
    )
    other = report(u.center, category="02001", title="关联", point=IN_G11)
    case_link(actor=u.center, case=case, other=other)
    act(u.center, case, Action.DISPATCH, unit=org.prop.pk, co_units=[org.police.pk])
    act(u.unit_handler, case, Action.CLAIM)
    act(u.unit_handler, case, Action.ATTACH, files=[png("1.png")], note="现场")
    act(u.unit_handler, case, Action.RESOLVE, result="已修复", files=[png("2.png")])
    for username in ("center", "unit01"):
        planned, generic = _bodies(as_user(username), f"{CASES}{case.pk}/", monkeypatch)
        assert planned == generic
        assert planned["unit"] == {"id": org.prop.pk, "name": org.prop.name}
        assert planned["state_label"] and planned["timeline"][1]["action_label"]
        assert planned["reporter_phone"] == "138****8000"
    planned, generic = _bodies(as_user("center"), f"{CASES}?page_size=50", monkeypatch)
    assert planned == generic and planned["count"] == 2


def test_a_new_case_answers_with_the_body_drf_would_give(as_user, org, monkeypatch):
    caller = as_user("wg01")
    created = caller.post(CASES, body(), HTTP_IDEMPOTENCY_KEY="render-1").json()
    with monkeypatch.context() as patched:
        patched.setattr(PlannedRepresentation, "to_representation", serializers.Serializer.to_representation)
        replayed = caller.post(CASES, body(), HTTP_IDEMPOTENCY_KEY="render-1").json()  # read back, DRF's way
    assert created == replayed
