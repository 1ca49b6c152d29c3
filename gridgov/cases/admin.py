"""Admins edit business lines and categories here, without code; cases are read-only (the timeline is the record)."""

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from gridgov.cases.models import BusinessLine, Case, CaseEvent, Category
from gridgov.cases.schema import check_schema
from gridgov.core.errors import ApplicationError


@admin.register(BusinessLine)
class BusinessLineAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "order", "active")
    list_editable = ("order", "active")


class CategoryForm(forms.ModelForm):
    class Meta:
        model = Category
        fields = [
            "code",
            "name",
            "business_line",
            "parent",
            "kind",
            "level",
            "unit_kind",
            "resident_reportable",
            "accept_minutes_normal",
            "accept_minutes_urgent",
            "accept_minutes_critical",
            "handle_hours_normal",
            "handle_hours_urgent",
            "handle_hours_critical",
            "form_schema",
            "active",
            "order",
        ]

    def clean_form_schema(self):
        try:
            return check_schema(self.cleaned_data.get("form_schema") or [])
        except ApplicationError as exc:
            raise forms.ValidationError(exc.fields.get("form_schema") or [exc.message]) from None

    def clean(self):
        data = super().clean()
        code, parent = data.get("code") or "", data.get("parent")
        if parent is None and len(code) != 2:
            self.add_error("code", _("A major class has a 2-digit code."))
        if parent is not None and (len(code) != 5 or not code.startswith(parent.code)):
            self.add_error("code", _("A minor class has a 5-digit code that starts with its major class's."))
        if code and not code.isdigit():
            self.add_error("code", _("Digits only."))
        return data


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    form = CategoryForm
    list_display = ("code", "name", "business_line", "level", "unit_kind", "resident_reportable", "active")
    list_filter = ("business_line", "level", "resident_reportable", "active")
    search_fields = ("code", "name")
    ordering = ("code",)


class CaseEventInline(admin.TabularInline):
    model = CaseEvent
    extra = 0
    can_delete = False
    fields = ("time", "actor_name", "action", "from_state", "to_state", "from_level", "to_level", "note")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    list_display = ("code", "title", "category", "state", "level", "created_at")
    list_filter = ("state", "level", "source", "business_line")
    search_fields = ("code", "title")
    inlines = [CaseEventInline]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Case._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
