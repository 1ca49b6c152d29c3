"""The visit pages: the picker, the form that does two campaigns at once and opens a case, refusals that
re-render with the Chinese reason and write nothing, the visit page, the list and its scope."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation
from PIL import Image

from gridgov.cases.models import Case, CaseEvent
from gridgov.fieldwork.choices import ItemType, TargetState
from gridgov.fieldwork.models import CampaignTarget, CareCheck, ChecklistItem, FieldPhoto, Finding, Visit
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_campaigns(campaign, checklists):
    fire = campaign(checklists.fire, name="消防安全专项")
    fraud = campaign(checklists.fraud, name="反诈宣传专项", target_filter={"member_tags": ["dujulaoren"]})
    return fire, fraud


def login(client, username: str) -> None:
    assert client.login(username=username, password=PASSWORD)


def counts() -> tuple[int, ...]:
    return (
        Visit.objects.count(),
        Finding.objects.count(),
        Case.objects.count(),
        CaseEvent.objects.count(),
        CampaignTarget.objects.filter(state=TargetState.DONE).count(),
        FieldPhoto.objects.count(),
    )


def form_url(household) -> str:
    return f"/fieldwork/visits/new/?kind=household&id={household.pk}"


def task_indices(response) -> dict[str, int]:
    """Campaign name → the section number the form gave it."""
    return {s.target.campaign.name: s.index for s in response.context["form"].sections}


def png(name: str = "crack.png") -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (120, 90, 60)).save(out, "PNG")
    return SimpleUploadedFile(name, out.getvalue(), content_type="image/png")


def test_the_form_shows_the_target_its_members_and_one_section_per_open_campaign(client, org, homes, two_campaigns):
    login(client, "wg01")
    response = client.get(form_url(homes.h1))
    assert response.status_code == 200
    html = response.content.decode()
    assert "一网格1号楼101" in html and "王奶奶" in html
    assert set(task_indices(response)) == {"消防安全专项", "反诈宣传专项"}
    # Items are rendered by type: yes / no radios, a number input, a choice select.
    assert 'type="radio"' in html and 'name="campaigns.0.answers.' in html
    assert 'type="number"' in html and "无智能手机" in html
    # A household with only one campaign gets one section.
    assert set(task_indices(client.get(form_url(homes.h2)))) == {"消防安全专项"}


def test_one_post_does_two_campaigns_and_opens_a_hazard_case(client, org, homes, two_campaigns):
    fire, fraud = two_campaigns
    login(client, "wg01")
    index = task_indices(client.get(form_url(homes.h1)))
    f, r = index["消防安全专项"], index["反诈宣传专项"]
    data = {
        f"campaigns.{f}.do": "1",
        f"campaigns.{f}.answers.ebike_indoors": "yes",  # the problem answer: opens 04002
        f"campaigns.{f}.answers.extinguishers": "2",
        f"campaigns.{r}.do": "1",
        f"campaigns.{r}.answers.leaflet": "yes",
        f"campaigns.{r}.answers.app": "已安装",
        "note": "入户检查",
        "lat": "32.605",
        "lng": "117.005",
    }
    response = client.post(form_url(homes.h1), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    visit = Visit.objects.get()
    assert response["Location"] == f"/fieldwork/visits/{visit.pk}/"
    done = CampaignTarget.objects.filter(household=homes.h1, state=TargetState.DONE)
    assert {t.campaign_id for t in done} == {fire.pk, fraud.pk}
    assert all(t.visit_id == visit.pk for t in done)
    case = Case.objects.get()
    assert case.category.code == "04002" and case.grid_id == org.g11.pk
    fire.refresh_from_db()
    assert fire.done_count == 1

    page = client.get(response["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    # The message names the case with a link; the page lists the answers by label and the finding's case.
    assert f'href="/cases/{case.pk}/"' in html and case.code in html
    assert "电动车入户充电" in html and "灭火器数量" in html and "已安装" in html
    assert len(page.context["detail"].findings) == 1
    assert page.context["detail"].findings[0].case.pk == case.pk


def test_bad_answers_re_render_with_the_chinese_reason_and_nothing_is_written(client, org, homes, two_campaigns):
    login(client, "wg01")
    index = task_indices(client.get(form_url(homes.h1)))
    f, r = index["消防安全专项"], index["反诈宣传专项"]
    before = counts()
    data = {
        f"campaigns.{f}.do": "1",
        f"campaigns.{f}.answers.ebike_indoors": "yes",
        f"campaigns.{f}.answers.extinguishers": "很多",  # not a number
        f"campaigns.{r}.do": "1",
        f"campaigns.{r}.answers.leaflet": "yes",
        f"campaigns.{r}.answers.app": "不知道",  # not one of the choices
        "note": "保留的备注",
    }
    with translation.override("zh-hans"):
        response = client.post(form_url(homes.h1), data, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 400
    assert counts() == before
    form = response.context["form"]
    fire = next(s for s in form.sections if s.index == f)
    fraud = next(s for s in form.sections if s.index == r)
    number = next(i for i in fire.items if i.item.code == "extinguishers")
    choice = next(i for i in fraud.items if i.item.code == "app")
    with translation.override("zh-hans"):
        assert number.errors == [translation.gettext("Enter a number.")]  # the catalogue's wording, at the field
    assert choice.errors and "已安装" in choice.errors[0]
    html = response.content.decode()
    # Nothing typed is lost.
    assert 'value="很多"' in html and "保留的备注" in html
    assert f'value="yes" id="campaigns.{f}.answers.ebike_indoors-yes" autocomplete="off" checked' in html


def test_a_task_left_unticked_is_not_done(client, org, homes, two_campaigns):
    fire, fraud = two_campaigns
    login(client, "wg01")
    index = task_indices(client.get(form_url(homes.h1)))
    r = index["反诈宣传专项"]
    data = {f"campaigns.{r}.do": "1", f"campaigns.{r}.answers.leaflet": "yes", f"campaigns.{r}.answers.app": "未安装"}
    response = client.post(form_url(homes.h1), data)
    assert response.status_code == 302
    assert set(CampaignTarget.objects.filter(state=TargetState.DONE).values_list("campaign_id", flat=True)) == {
        fraud.pk
    }
    assert Case.objects.count() == 0


def test_a_required_answer_missing_in_the_second_section_is_shown_there(client, org, homes, two_campaigns):
    login(client, "wg01")
    index = task_indices(client.get(form_url(homes.h1)))
    f, r = index["消防安全专项"], index["反诈宣传专项"]
    before = counts()
    # Only the second section is ticked: the service numbers it 0, the form must put the reason on section r.
    response = client.post(form_url(homes.h1), {f"campaigns.{r}.do": "1", f"campaigns.{r}.answers.app": "未安装"})
    assert response.status_code == 400
    assert counts() == before
    sections = {s.index: s for s in response.context["form"].sections}
    leaflet = next(i for i in sections[r].items if i.item.code == "leaflet")
    assert leaflet.errors
    assert not any(i.errors for i in sections[f].items)


def test_a_photo_item_is_answered_with_an_uploaded_file(client, org, homes, checklists, campaign):
    ChecklistItem.objects.create(
        template=checklists.fraud, order=3, code="door_photo", label="门牌照片", type=ItemType.PHOTO, required=True
    )
    campaign(checklists.fraud, name="反诈宣传专项")
    login(client, "wg01")
    data = {
        "campaigns.0.do": "1",
        "campaigns.0.answers.leaflet": "yes",
        "campaigns.0.answers.app": "已安装",
        "campaigns.0.answers.door_photo": "door.png",
        "photos": [png("door.png")],
    }
    response = client.post(form_url(homes.h2), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    photo = FieldPhoto.objects.get()
    page = client.get(response["Location"])
    assert f"/fieldwork/photos/{photo.pk}/thumbnail/" in page.content.decode()


def test_care_checks_due_for_members_are_on_the_form_and_done_by_it(client, org, homes):
    from gridgov.fieldwork.services.care import care_plan_create

    plan = care_plan_create(actor=org.users.grid_worker, resident=homes.elder, method="visit", interval_days=7)
    check = CareCheck.objects.get(plan=plan)
    login(client, "wg01")
    response = client.get(form_url(homes.h1))
    assert [c.check.pk for c in response.context["form"].checks] == [check.pk]
    response = client.post(form_url(homes.h1), {"care_checks.0.do": "1", "care_checks.0.note": "身体好"})
    assert response.status_code == 302
    check.refresh_from_db()
    assert check.state == "done" and check.note == "身体好"
    assert "王奶奶" in client.get(response["Location"]).content.decode()


def test_a_target_outside_the_scope_is_a_404_and_outside_the_grid_roles_a_403(client, org, homes, two_campaigns):
    login(client, "wg01")
    assert client.get(form_url(homes.h5)).status_code == 404  # G21: not wg01's
    before = counts()
    assert client.post(form_url(homes.h5), {"note": "x"}).status_code == 404
    assert counts() == before
    client.logout()
    login(client, "leader")  # sees the subdistrict but does not visit
    assert client.get(form_url(homes.h1)).status_code == 403


def test_the_picker_finds_the_users_households_by_address(client, org, homes, two_campaigns):
    login(client, "wg01")
    response = client.get("/fieldwork/visits/new/?kind=household&q=1号楼")
    assert response.status_code == 200
    found = {row.pk: row.open_tasks for row in response.context["results"]}
    assert found == {homes.h1.pk: 2, homes.h2.pk: 1}
    assert "三网格" not in response.content.decode()


def test_the_visit_list_and_page_are_scoped(client, org, homes, two_campaigns):
    from gridgov.fieldwork.services.visits import visit_record

    visit = visit_record(
        actor=org.users.grid_worker,
        kind="household",
        target_id=homes.h2.pk,
        campaigns=[
            {
                "target": CampaignTarget.objects.get(household=homes.h2).pk,
                "answers": {"ebike_indoors": "no", "extinguishers": 1},
            }
        ],
    )
    login(client, "gl01")
    response = client.get("/fieldwork/visits/")
    assert response.status_code == 200
    assert [v.pk for v in response.context["page"]] == [visit.pk]
    assert response.context["page"][0].task_count == 1
    assert client.get(f"/fieldwork/visits/{visit.pk}/").status_code == 200
    client.logout()
    login(client, "center")
    assert client.get(f"/fieldwork/visits/{visit.pk}/").status_code == 200
    assert list(client.get(f"/fieldwork/visits/?grid={org.g12.code}").context["page"]) == []
    assert list(client.get(f"/fieldwork/visits/?grid={org.g11.code}").context["page"]) == [visit]
    assert list(client.get(f"/fieldwork/visits/?visitor={org.users.grid_worker.pk}").context["page"]) == [visit]
    client.logout()
    # A community worker of C2 does not see a visit in C1.
    from gridgov.accounts.services import user_create
    from gridgov.areas.choices import Role
    from gridgov.areas.services import post_create

    other = user_create(actor=None, username="sq02", password=PASSWORD, name="sq02")
    post_create(actor=None, user=other, role=Role.COMMUNITY, area=org.c2)
    login(client, "sq02")
    assert client.get(f"/fieldwork/visits/{visit.pk}/").status_code == 404
    assert list(client.get("/fieldwork/visits/").context["page"]) == []


def test_a_task_done_by_someone_else_meanwhile_does_not_shift_the_answers(client, org, homes, two_campaigns):
    from gridgov.fieldwork.services.visits import visit_record

    login(client, "wg01")
    index = task_indices(client.get(form_url(homes.h1)))
    f, r = index["消防安全专项"], index["反诈宣传专项"]
    fire_task = CampaignTarget.objects.get(household=homes.h1, campaign__name="消防安全专项")
    fraud_task = CampaignTarget.objects.get(household=homes.h1, campaign__name="反诈宣传专项")
    # The group leader records the fire task while the worker's form is open.
    visit_record(
        actor=org.users.group_leader,
        kind="household",
        target_id=homes.h1.pk,
        campaigns=[{"target": fire_task.pk, "answers": {"ebike_indoors": "no", "extinguishers": 3}}],
    )
    before = counts()
    data = {
        f"campaigns.{f}.target": fire_task.pk,
        f"campaigns.{f}.do": "1",
        f"campaigns.{f}.answers.ebike_indoors": "yes",
        f"campaigns.{f}.answers.extinguishers": "2",
        f"campaigns.{r}.target": fraud_task.pk,
        f"campaigns.{r}.do": "1",
        f"campaigns.{r}.answers.leaflet": "yes",
        f"campaigns.{r}.answers.app": "已安装",
    }
    response = client.post(form_url(homes.h1), data)
    assert response.status_code == 400
    assert counts() == before
    form = response.context["form"]
    # The fraud answers stay on the fraud section; the form says the fire task is already done.
    [section] = form.sections
    assert section.index == r and section.target.pk == fraud_task.pk
    assert {i.item.code: i.value for i in section.items} == {"leaflet": "yes", "app": "已安装"}
    assert form.top_errors and "消防安全专项" in form.top_errors[0]
