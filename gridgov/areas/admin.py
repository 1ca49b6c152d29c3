from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from gridgov.areas import services
from gridgov.areas.geo import parse_boundary
from gridgov.areas.models import Area, PartyBranch, Post, Unit
from gridgov.core.admin import AuditedModelAdmin
from gridgov.core.errors import ApplicationError


class AreaAdminForm(forms.ModelForm):
    class Meta:
        model = Area
        fields = ["code", "name", "parent", "boundary", "mode"]

    def clean_boundary(self):
        boundary = self.cleaned_data.get("boundary")
        if boundary is not None:
            try:
                parse_boundary(boundary)
            except ApplicationError as exc:
                raise ValidationError(exc.message) from exc
        return boundary


@admin.register(Area)
class AreaAdmin(admin.ModelAdmin):
    """Area writes go through the services, which validate codes and refresh the grid index."""

    form = AreaAdminForm
    list_display = ["code", "name", "level", "parent", "mode"]
    list_filter = ["level", "mode"]
    search_fields = ["code", "name"]
    raw_id_fields = ["parent"]

    def get_readonly_fields(self, request, obj=None):
        return ["code", "parent"] if obj else []

    def save_model(self, request, obj, form, change):
        try:
            if change:
                services.area_update(actor=request.user, area=obj, name=obj.name, boundary=obj.boundary, mode=obj.mode)
            else:
                created = services.area_create(
                    actor=request.user,
                    code=obj.code,
                    name=obj.name,
                    parent=obj.parent,
                    boundary=obj.boundary,
                    mode=obj.mode,
                )
                obj.pk = created.pk
        except ApplicationError as exc:
            raise ValidationError(exc.message) from exc

    def delete_model(self, request, obj):
        services.area_delete(actor=request.user, area=obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


@admin.register(Unit)
class UnitAdmin(AuditedModelAdmin):
    list_display = ["name", "kind", "area", "phone", "active"]
    list_filter = ["kind", "active"]
    search_fields = ["name"]
    raw_id_fields = ["area"]


@admin.register(PartyBranch)
class PartyBranchAdmin(AuditedModelAdmin):
    list_display = ["name", "secretary", "member_count"]
    search_fields = ["name"]
    filter_horizontal = ["grids"]


@admin.register(Post)
class PostAdmin(AuditedModelAdmin):
    list_display = ["user", "role", "area", "unit", "active"]
    list_filter = ["role", "active"]
    search_fields = ["user__username", "user__name", "area__name", "unit__name"]
    raw_id_fields = ["user", "area", "unit"]
