from __future__ import annotations

from rest_framework import serializers

from gridgov.areas.choices import Level, UnitKind
from gridgov.areas.models import Area, PartyBranch, Unit

# Labels looked up in a dict: `source="get_level_display"` makes DRF inspect the method's signature on
# every row, a third of a 50-row page's serialisation time (measured by `make bench`).
LEVEL_LABELS = dict(Level.choices)
UNIT_KIND_LABELS = dict(UnitKind.choices)


class AreaSerializer(serializers.ModelSerializer):
    geometry = serializers.JSONField(source="boundary", read_only=True, allow_null=True)
    centre = serializers.SerializerMethodField()
    level_display = serializers.SerializerMethodField()

    class Meta:
        model = Area
        fields = ["id", "code", "name", "level", "level_display", "parent", "mode", "geometry", "centre"]

    def get_centre(self, area: Area) -> list[float] | None:
        centre = area.centre
        return list(centre) if centre else None

    def get_level_display(self, area: Area) -> str:
        return str(LEVEL_LABELS.get(area.level, area.level))


class UnitSerializer(serializers.ModelSerializer):
    kind_display = serializers.SerializerMethodField()
    area_code = serializers.CharField(source="area.code", read_only=True)

    class Meta:
        model = Unit
        fields = ["id", "name", "kind", "kind_display", "area", "area_code", "phone", "address", "active"]

    def get_kind_display(self, unit: Unit) -> str:
        return str(UNIT_KIND_LABELS.get(unit.kind, unit.kind))


class PartyBranchSerializer(serializers.ModelSerializer):
    grids = serializers.SerializerMethodField()

    class Meta:
        model = PartyBranch
        fields = ["id", "name", "secretary", "member_count", "grids"]

    def get_grids(self, branch: PartyBranch) -> list[dict]:
        return [{"id": g.pk, "code": g.code, "name": g.name} for g in branch.grids.all()]
