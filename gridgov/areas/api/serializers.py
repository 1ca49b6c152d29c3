from __future__ import annotations

from rest_framework import serializers

from gridgov.areas.models import Area, PartyBranch, Unit


class AreaSerializer(serializers.ModelSerializer):
    geometry = serializers.JSONField(source="boundary", read_only=True, allow_null=True)
    centre = serializers.SerializerMethodField()
    level_display = serializers.CharField(source="get_level_display", read_only=True)

    class Meta:
        model = Area
        fields = ["id", "code", "name", "level", "level_display", "parent", "mode", "geometry", "centre"]

    def get_centre(self, area: Area) -> list[float] | None:
        centre = area.centre
        return list(centre) if centre else None


class UnitSerializer(serializers.ModelSerializer):
    kind_display = serializers.CharField(source="get_kind_display", read_only=True)
    area_code = serializers.CharField(source="area.code", read_only=True)

    class Meta:
        model = Unit
        fields = ["id", "name", "kind", "kind_display", "area", "area_code", "phone", "address", "active"]


class PartyBranchSerializer(serializers.ModelSerializer):
    grids = serializers.SerializerMethodField()

    class Meta:
        model = PartyBranch
        fields = ["id", "name", "secretary", "member_count", "grids"]

    def get_grids(self, branch: PartyBranch) -> list[dict]:
        return [{"id": g.pk, "code": g.code, "name": g.name} for g in branch.grids.all()]
