"""The fieldwork admin: checklists edited without code (and validated), everything else shown read-mostly."""

from __future__ import annotations

import pytest

from gridgov.cases.models import Category
from gridgov.core.models import AuditEvent
from gridgov.fieldwork.models import ChecklistItem, ChecklistTemplate
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

MODELS = [
    "checklisttemplate",
    "campaign",
    "campaigntarget",
    "visit",
    "patrol",
    "careplan",
    "carecheck",
    "homeservice",
    "activity",
]
ADDABLE = {"checklisttemplate"}


@pytest.fixture
def admin_client(client, org):
    assert client.login(username="admin", password=PASSWORD)
    return client


@pytest.mark.parametrize("model", MODELS)
def test_every_model_lists_and_only_checklists_are_added_here(admin_client, model):
    assert admin_client.get(f"/admin/fieldwork/{model}/").status_code == 200
    expected = 200 if model in ADDABLE else 403
    assert admin_client.get(f"/admin/fieldwork/{model}/add/").status_code == expected


def test_a_default_checklist_opens_with_its_items(admin_client):
    template = ChecklistTemplate.objects.get(code="self-built-house")
    response = admin_client.get(f"/admin/fieldwork/checklisttemplate/{template.pk}/change/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "规划、用地、建设等审批手续是否齐全" in body
    assert 'name="items-TOTAL_FORMS"' in body


def post_template(client, code: str, items: list[dict]):
    data = {
        "code": code,
        "name": "测试排查表",
        "business_line": "",
        "target_kind": "shop",
        "description": "",
        "active": "on",
        "items-TOTAL_FORMS": str(len(items)),
        "items-INITIAL_FORMS": "0",
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "1000",
    }
    for index, item in enumerate(items):
        row = {
            "order": 10 * (index + 1),
            "code": f"q{index}",
            "label": f"问题{index}",
            "type": "yes_no",
            "choices": "",
            "required": "on",
            "problem_values": "",
            "problem_below": "",
            "problem_above": "",
            "category": "",
            "rectify_days": "",
            "help_text": "",
            **item,
        }
        data.update({f"items-{index}-{name}": value for name, value in row.items()})
    return client.post("/admin/fieldwork/checklisttemplate/add/", data)


def minor(code: str = "04002") -> int:
    return Category.objects.get(code=code).pk


def test_a_good_checklist_is_saved_with_its_items_and_audited(admin_client):
    response = post_template(
        admin_client,
        "t-good",
        [
            {"problem_values": "是", "category": minor(), "rectify_days": "3"},
            {
                "type": "choice",
                "choices": "良好\n一般\n较差",
                "problem_values": "较差",
                "category": minor(),
                "rectify_days": 7,
            },
            {"type": "number", "problem_below": "1", "category": minor("04001"), "rectify_days": 1},
            {"type": "text", "required": ""},
        ],
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    template = ChecklistTemplate.objects.get(code="t-good")
    rows = list(template.items.order_by("order").values_list("type", "choices", "problem_values", "problem_below"))
    assert rows == [
        ("yes_no", [], [True], None),
        ("choice", ["良好", "一般", "较差"], ["较差"], None),
        ("number", [], [], 1.0),
        ("text", [], [], None),
    ]
    events = AuditEvent.objects.filter(object_id=str(template.pk), object_type="fieldwork.checklisttemplate")
    assert set(events.values_list("event_type", flat=True)) == {"checklisttemplate.create", "checklistitem.update"}
    assert events.get(event_type="checklistitem.update").data["added"] == ["q0", "q1", "q2", "q3"]


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"type": "choice", "choices": ""}, "choices"),  # a choice item without choices
        (
            {"type": "choice", "choices": "甲\n乙", "problem_values": "丙", "category": "C", "rectify_days": 3},
            "problem_values",
        ),
        ({"problem_values": "maybe", "category": "C", "rectify_days": 3}, "problem_values"),
        ({"type": "text", "problem_values": "坏", "category": "C", "rectify_days": 3}, "problem_values"),
        ({"problem_values": "否", "rectify_days": 3}, "category"),  # a deadline without a category to open
        ({"problem_values": "否", "category": "MAJOR", "rectify_days": 3}, "category"),  # a major class
        ({"problem_values": "否", "category": "C"}, "rectify_days"),  # no deadline
        ({"problem_values": "否", "category": "C", "rectify_days": "400"}, "rectify_days"),
        (
            {"type": "number", "problem_below": "5", "problem_above": "1", "category": "C", "rectify_days": 3},
            "problem_above",
        ),
        ({"problem_below": "1", "category": "C", "rectify_days": 3}, "problem_below"),  # limits on a yes / no item
        ({"category": "C", "rectify_days": 3}, "category"),  # a category without any problem answer
    ],
)
def test_a_bad_item_is_refused_and_nothing_is_written(admin_client, item, field):
    category = {"C": minor(), "MAJOR": Category.objects.get(code="04").pk}.get(item.get("category"), "")
    templates, items, events = (
        ChecklistTemplate.objects.count(),
        ChecklistItem.objects.count(),
        AuditEvent.objects.count(),
    )
    response = post_template(admin_client, "t-bad", [{**item, "category": category}])
    assert response.status_code == 200
    errors = response.context["inline_admin_formsets"][0].formset.errors[0]
    assert field in errors, errors
    assert (ChecklistTemplate.objects.count(), ChecklistItem.objects.count()) == (templates, items)
    assert AuditEvent.objects.count() == events


def test_a_campaign_shows_progress_and_edits_only_its_text(admin_client, org):
    from gridgov.fieldwork.models import Campaign
    from tests.fieldwork.test_ledgers import make_campaign

    campaign = make_campaign(org).campaign
    response = admin_client.get("/admin/fieldwork/campaign/")
    body = response.content.decode()
    assert "2 / 4 (50%)" in body
    assert '<td class="field-problems">2</td>' in body
    page = admin_client.get(f"/admin/fieldwork/campaign/{campaign.pk}/change/")
    assert page.status_code == 200
    form = page.context["adminform"].form
    assert set(form.fields) == {"name", "description"}
    assert Campaign.objects.filter(pk=campaign.pk).exists()
    assert admin_client.post(f"/admin/fieldwork/campaign/{campaign.pk}/delete/").status_code == 403
