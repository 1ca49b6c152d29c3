"""Admins edit checklists here, without code; the rest of fieldwork is read here and written by the services.

Campaigns, visits, patrols, care checks and activities carry an `area_code` and side effects (targets
picked, cases opened, next checks scheduled) that only the services set, so the admin neither adds
nor deletes them and edits only their free text.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Sum
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from gridgov.cases.models import Category
from gridgov.core import audit
from gridgov.core.admin import AuditedModelAdmin
from gridgov.fieldwork.choices import ItemType
from gridgov.fieldwork.models import (
    Activity,
    Campaign,
    CampaignTarget,
    CareCheck,
    CarePlan,
    ChecklistItem,
    ChecklistTemplate,
    HomeService,
    Patrol,
    Visit,
)

MAX_RECTIFY_DAYS = 365
# What an admin may type for a yes / no problem answer, in either interface language.
YES_WORDS = {"true", "yes", "y", "1", "是"}
NO_WORDS = {"false", "no", "n", "0", "否"}


def _lines(value: Any) -> list[str]:
    return [line.strip() for line in str(value or "").splitlines() if line.strip()]


class LinesField(forms.CharField):
    """A JSON list edited as one text per line."""

    widget = forms.Textarea(attrs={"rows": 3, "cols": 24})

    def prepare_value(self, value: Any) -> str:
        if isinstance(value, list):
            return "\n".join(_answer_text(v) for v in value)
        return super().prepare_value(value)

    def to_python(self, value: Any) -> list[str]:
        return _lines(value)


def _answer_text(value: Any) -> str:
    if value is True:
        return gettext("yes")
    if value is False:
        return gettext("no")
    return str(value)


class ChecklistItemForm(forms.ModelForm):
    """One item: the answers that are a problem must be answers the item can take, and a problem opens
    a case of a minor category with a deadline."""

    choices = LinesField(label=_("choices"), required=False, help_text=_("For choice items: one choice per line."))
    problem_values = LinesField(
        label=_("problem answers"),
        required=False,
        help_text=_("One per line: yes or no for yes / no items, the choice texts for choice items."),
    )

    class Meta:
        model = ChecklistItem
        fields = [
            "order",
            "code",
            "label",
            "type",
            "choices",
            "required",
            "problem_values",
            "problem_below",
            "problem_above",
            "category",
            "rectify_days",
            "help_text",
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind = data.get("type")
        choices = data.get("choices") or []
        raw_problems = data.get("problem_values") or []
        below, above = data.get("problem_below"), data.get("problem_above")
        category, days = data.get("category"), data.get("rectify_days")

        if kind == ItemType.CHOICE:
            if not choices:
                self.add_error("choices", _("A choice item needs its choices."))
            elif len(set(choices)) != len(choices):
                self.add_error("choices", _("Each choice may be listed once."))
        elif choices:
            self.add_error("choices", _("Only choice items have choices."))

        problems: list[Any] = []
        if kind == ItemType.YES_NO:
            for text in raw_problems:
                word = text.lower()
                if word in YES_WORDS or word == gettext("yes").lower():
                    problems.append(True)
                elif word in NO_WORDS or word == gettext("no").lower():
                    problems.append(False)
                else:
                    self.add_error("problem_values", _("A yes / no item's problem answer is yes or no."))
                    break
        elif kind == ItemType.CHOICE:
            wrong = [text for text in raw_problems if text not in choices]
            if wrong:
                self.add_error(
                    "problem_values",
                    _("Not one of the item's choices: %(values)s.") % {"values": "、".join(wrong)},
                )
            problems = raw_problems
        elif raw_problems:
            if kind == ItemType.NUMBER:
                message = _("A number item's problems are set with “problem below” and “problem above”.")
            else:
                message = _("Answers of this type cannot be problems.")
            self.add_error("problem_values", message)
        data["problem_values"] = list(dict.fromkeys(problems))

        if kind != ItemType.NUMBER:
            for name in ("problem_below", "problem_above"):
                if data.get(name) is not None:
                    self.add_error(name, _("Only number items have limits."))
        elif below is not None and above is not None and below > above:
            self.add_error("problem_above", _("The upper limit must not be below the lower limit."))

        is_problem = bool(data["problem_values"]) or below is not None or above is not None
        if category is not None and (category.parent_id is None or len(category.code) != 5):
            self.add_error("category", _("Choose a minor class (a 5-digit code)."))
        if days is not None and not 1 <= days <= MAX_RECTIFY_DAYS:
            self.add_error("rectify_days", _("From 1 to %(max)d days.") % {"max": MAX_RECTIFY_DAYS})
        # A problem without a category is recorded as a finding in the ledger and opens no case.
        if is_problem:
            if category is not None and days is None:
                self.add_error("rectify_days", _("A problem answer that opens a case needs a rectification deadline."))
            if category is None and days is not None:
                self.add_error("category", _("A rectification deadline needs the category of the case to open."))
        elif category is not None or days is not None:
            self.add_error("category", _("Set the problem answers this category is for, or clear it."))
        return data


class ChecklistItemInline(admin.TabularInline):
    model = ChecklistItem
    form = ChecklistItemForm
    extra = 1

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("category")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "category":
            # Cases are opened in minor classes only; the two-level tree is small enough for one select.
            kwargs["queryset"] = Category.objects.filter(parent__isnull=False).order_by("code")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(ChecklistTemplate)
class ChecklistTemplateAdmin(AuditedModelAdmin):
    list_display = ["code", "name", "business_line", "target_kind", "item_count", "active"]
    list_filter = ["target_kind", "business_line", "active"]
    search_fields = ["code", "name"]
    inlines = [ChecklistItemInline]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("business_line")

    @admin.display(description=_("items"))
    def item_count(self, obj: ChecklistTemplate) -> int:
        return obj.items.count()

    def save_formset(self, request, form, formset, change):
        super().save_formset(request, form, formset, change)
        # The template's own save is audited by AuditedModelAdmin; the items changed with it are noted here.
        changes = {
            "added": [item.code for item in formset.new_objects],
            "changed": [item.code for item, _fields in formset.changed_objects],
            "deleted": [item.code for item in formset.deleted_objects],
        }
        if any(changes.values()):
            audit.record(
                actor=request.user,
                event="checklistitem.update",
                obj=form.instance,
                ip=audit.client_ip(request),
                data={**changes, "via": "admin"},
            )


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows the services write: listed and shown, never added, changed or deleted here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class FreeTextAdmin(AuditedModelAdmin):
    """Rows the services write whose free text an admin may correct (audited); never added or deleted here."""

    editable: tuple[str, ...] = ()

    def get_readonly_fields(self, request, obj=None):
        meta = self.model._meta
        return [f.name for f in [*meta.fields, *meta.many_to_many] if f.name not in self.editable]

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Campaign)
class CampaignAdmin(FreeTextAdmin):
    editable = ("name", "description")
    list_display = [
        "name",
        "business_line",
        "area",
        "checklist",
        "state",
        "starts_on",
        "ends_on",
        "progress",
        "problems",
    ]
    list_filter = ["state", "business_line", "target_kind"]
    search_fields = ["name", "area__name"]
    date_hierarchy = "starts_on"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("business_line", "area", "checklist")
            .annotate(problems=Sum("targets__problem_count"))
        )

    @admin.display(description=_("progress"))
    def progress(self, obj: Campaign) -> str:
        share = round(100 * obj.done_count / obj.target_count) if obj.target_count else 0
        return f"{obj.done_count} / {obj.target_count} ({share}%)"

    @admin.display(description=_("problems found"), ordering="problems")
    def problems(self, obj: Campaign) -> int:
        return obj.problems or 0


@admin.register(CampaignTarget)
class CampaignTargetAdmin(ReadOnlyAdmin):
    list_display = ["label", "campaign", "kind", "grid", "group", "assignee", "due_on", "state", "problem_count"]
    list_filter = ["state", "kind", "campaign"]
    search_fields = ["label", "address", "campaign__name"]
    list_select_related = ["campaign", "grid", "group", "assignee"]


@admin.register(Visit)
class VisitAdmin(ReadOnlyAdmin):
    list_display = ["label", "kind", "grid", "visitor_name", "visited_at"]
    list_filter = ["kind"]
    search_fields = ["label", "address", "visitor_name"]
    date_hierarchy = "visited_at"
    list_select_related = ["grid"]


@admin.register(Patrol)
class PatrolAdmin(ReadOnlyAdmin):
    list_display = ["worker", "grid", "state", "started_at", "ended_at", "distance_m", "point_count", "flagged_count"]
    list_filter = ["state"]
    search_fields = ["worker__username", "worker__name", "grid__name"]
    date_hierarchy = "started_at"
    list_select_related = ["worker", "grid"]


@admin.register(CarePlan)
class CarePlanAdmin(FreeTextAdmin):
    editable = ("needs",)
    list_display = ["resident", "grid", "method", "interval_days", "caretaker", "starts_on", "active"]
    list_filter = ["method", "active"]
    search_fields = ["resident__name", "grid__name"]
    list_select_related = ["resident", "grid", "caretaker"]


@admin.register(CareCheck)
class CareCheckAdmin(ReadOnlyAdmin):
    list_display = ["resident", "method", "due_on", "state", "done_at", "done_by", "missed_at"]
    list_filter = ["state", "method"]
    search_fields = ["resident__name"]
    date_hierarchy = "due_on"
    list_select_related = ["resident", "done_by"]


@admin.register(HomeService)
class HomeServiceAdmin(FreeTextAdmin):
    editable = ("description",)
    list_display = ["resident", "kind", "served_on", "served_by"]
    list_filter = ["kind"]
    search_fields = ["resident__name", "description"]
    date_hierarchy = "served_on"
    list_select_related = ["resident", "served_by"]


@admin.register(Activity)
class ActivityAdmin(FreeTextAdmin):
    editable = ("title", "organiser", "place", "description")
    list_display = ["title", "kind", "organiser", "area", "held_on", "households_reached"]
    list_filter = ["kind"]
    search_fields = ["title", "organiser", "place"]
    date_hierarchy = "held_on"
    list_select_related = ["area"]
