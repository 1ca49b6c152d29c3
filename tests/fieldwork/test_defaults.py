"""The default checklists: installed by migration 0002, idempotent, and every problem opens a real minor category."""

from __future__ import annotations

import pytest

from gridgov.cases.models import Category
from gridgov.fieldwork import defaults
from gridgov.fieldwork.admin import ChecklistItemForm
from gridgov.fieldwork.choices import ItemType
from gridgov.fieldwork.models import ChecklistItem, ChecklistTemplate

pytestmark = pytest.mark.django_db

CODES = {code for code, *_rest in defaults.CHECKLISTS}


def snapshot() -> list[tuple]:
    templates = list(
        ChecklistTemplate.objects.filter(code__in=CODES)
        .order_by("code")
        .values_list("code", "name", "business_line__code", "target_kind", "description", "active")
    )
    items = list(
        ChecklistItem.objects.filter(template__code__in=CODES)
        .order_by("template__code", "order")
        .values_list(
            "template__code",
            "order",
            "code",
            "label",
            "type",
            "choices",
            "required",
            "problem_values",
            "problem_below",
            "problem_above",
            "category__code",
            "rectify_days",
        )
    )
    return templates + items


def test_the_migration_installed_every_default_checklist():
    assert set(ChecklistTemplate.objects.values_list("code", flat=True)) >= {
        "house-safety",
        "fire-hazard-shop",
        "fire-hazard-home",
        "self-built-house",
        "epidemic-check",
        "anti-fraud",
        "living-alone-check",
    }
    fire = ChecklistTemplate.objects.get(code="fire-hazard-shop")
    assert fire.target_kind == "shop" and fire.business_line.code == "work_safety"
    extinguishers = fire.items.get(code="extinguishers")
    assert extinguishers.type == ItemType.NUMBER and extinguishers.problem_below == 1
    assert fire.items.get(code="ebike_indoor").category.code == "04002"


def test_installing_twice_gives_the_same_rows():
    ChecklistTemplate.objects.filter(code__in=CODES).delete()
    first = defaults.install_checklists()
    assert first == len(CODES) + sum(len(items) for *_rest, items in defaults.CHECKLISTS)
    before = snapshot()
    assert defaults.install_checklists() == 0
    assert snapshot() == before


def test_reinstalling_keeps_what_admins_changed():
    template = ChecklistTemplate.objects.get(code="anti-fraud")
    template.active = False
    template.save()
    template.items.filter(code="leaflet").delete()
    calls = template.items.get(code="suspicious_calls")
    calls.label = "近一个月是否接到可疑电话"
    calls.rectify_days = 2
    calls.save()
    ChecklistItem.objects.create(template=template, order=99, code="extra", label="管理员加的题", type=ItemType.TEXT)

    assert defaults.install_checklists() == 0

    template.refresh_from_db()
    assert template.active is False
    assert set(template.items.values_list("code", flat=True)) == {
        "publicity",
        "app_installed",
        "elderly_briefed",
        "suspicious_calls",
        "suspicious_detail",
        "extra",
    }
    calls.refresh_from_db()
    assert (calls.label, calls.rectify_days) == ("近一个月是否接到可疑电话", 2)


def test_every_problem_item_opens_an_existing_minor_category_with_a_deadline():
    items = ChecklistItem.objects.filter(template__code__in=CODES).select_related("category", "template")
    problems = [i for i in items if i.problem_values or i.problem_below is not None or i.problem_above is not None]
    assert len(problems) >= 25
    for item in problems:
        assert item.category is not None, item.code
        assert item.category.parent_id is not None and len(item.category.code) == 5, item.code
        assert Category.objects.filter(code=item.category.code, parent__code=item.category.code[:2]).exists()
        assert 1 <= item.rectify_days <= 365, item.code
    # Every category code the table names is a minor class of the case defaults (none silently dropped).
    named = {spec["category"] for *_rest, specs in defaults.CHECKLISTS for spec in specs if spec["category"]}
    assert named == set(Category.objects.filter(code__in=named, parent__isnull=False).values_list("code", flat=True))


def test_every_default_item_passes_the_admin_validation():
    for item in ChecklistItem.objects.filter(template__code__in=CODES):
        data = {
            "order": item.order,
            "code": item.code,
            "label": item.label,
            "type": item.type,
            "choices": "\n".join(item.choices),
            "required": item.required,
            "problem_values": "\n".join(
                ("yes" if v else "no") if isinstance(v, bool) else v for v in item.problem_values
            ),
            "problem_below": "" if item.problem_below is None else item.problem_below,
            "problem_above": "" if item.problem_above is None else item.problem_above,
            "category": item.category_id or "",
            "rectify_days": item.rectify_days or "",
            "help_text": item.help_text,
        }
        form = ChecklistItemForm(data=data, instance=item)
        assert form.is_valid(), (item.template.code, item.code, form.errors)
        assert form.cleaned_data["problem_values"] == item.problem_values


def test_a_template_asks_every_field_the_cases_it_opens_require():
    # 04004 requires `floors` and `grade`: the checklists opening it ask both, so a visit can fill the case's
    # extra fields from its answers (item code = field name), with values the case form accepts.
    checked = 0
    for template in ChecklistTemplate.objects.filter(code__in=CODES).prefetch_related("items__category"):
        items = {item.code: item for item in template.items.all()}
        categories = {item.category for item in items.values() if item.category is not None}
        for category in categories:
            for field in category.form_schema:
                item = items.get(field["name"])
                if item is None:
                    assert not field.get("required"), (template.code, category.code, field["name"])
                    continue
                checked += 1
                assert item.required or not field.get("required"), (template.code, item.code)
                if field["type"] == "choice":
                    assert item.type == ItemType.CHOICE and set(item.choices) <= set(field["choices"]), item.code
                else:
                    assert item.type == ItemType.NUMBER, item.code
    assert checked >= 5  # floors and grade twice, temperature
