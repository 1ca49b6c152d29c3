"""Registry API serializers: read serializers render, write serializers parse. Neither writes.

Writes go through `registry.services` (the viewsets call them with the parsed data). Records
named in input (grid, group, household, building, head, tags) are looked up through the
selectors, so an id outside the caller's scope is the same field error as an id that does not
exist. ID and phone numbers are rendered masked, always: the model gives `Sensitive` values and
`str()` is their masked form; the full values only come from the audited reveal endpoint.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from gridgov.areas.choices import Level
from gridgov.registry import selectors
from gridgov.registry.choices import (
    BuildingUse,
    Gender,
    LivingStatus,
    PlaceKind,
    Relation,
    SafetyGrade,
    Structure,
)
from gridgov.registry.models import Building, Household, Place, Resident, Shop, Tag

# --- output ------------------------------------------------------------------------------------


@extend_schema_field(OpenApiTypes.STR)
class MaskedField(serializers.Field):
    """A personal value (ID or phone number) in its masked form: `340404********1234`, `138****5678`."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> str:
        return str(value) if value else ""


class AreaRefSerializer(serializers.Serializer):
    """An area named by id, code and name (from `select_related`: no query per row)."""

    id = serializers.IntegerField(read_only=True)
    code = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)


class TagRefSerializer(serializers.Serializer):
    code = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)
    kind = serializers.CharField(read_only=True)


class HeadRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)


def age_on(birth: date | None, today: date) -> int | None:
    """Full years between `birth` and `today`."""
    if birth is None:
        return None
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


class PlacedSerializer(serializers.ModelSerializer):
    """Every registry row sits in a grid and possibly a household group."""

    grid = AreaRefSerializer(read_only=True)
    group = AreaRefSerializer(read_only=True, allow_null=True)


class ResidentSerializer(PlacedSerializer):
    id_number = MaskedField(help_text="Masked; POST …/reveal/ for the full value (audited).")
    phone = MaskedField(help_text="Masked; POST …/reveal/ for the full value (audited).")
    age = serializers.SerializerMethodField()
    # The prefetch of the selector (restricted tags only for those permitted): no query per row.
    tags = TagRefSerializer(many=True, read_only=True)

    class Meta:
        model = Resident
        fields = [
            "id",
            "name",
            "gender",
            "birth_date",
            "age",
            "id_number",
            "phone",
            "grid",
            "group",
            "household",
            "relation",
            "address",
            "tags",
            "living_status",
            "notes",
        ]
        read_only_fields = fields

    def get_age(self, resident: Resident) -> int | None:
        return age_on(resident.birth_date, date.today())


class HouseholdSerializer(PlacedSerializer):
    head = HeadRefSerializer(read_only=True, allow_null=True)
    members = serializers.SerializerMethodField(help_text="How many residents belong to the household.")

    class Meta:
        model = Household
        fields = ["id", "number", "address", "building", "room", "grid", "group", "head", "members"]
        read_only_fields = fields

    def get_members(self, household: Household) -> int:
        # Lists annotate the count (HouseholdViewSet.get_queryset); a single record may count.
        count = getattr(household, "member_count", None)
        return household.members.count() if count is None else count


class BuildingSerializer(PlacedSerializer):
    class Meta:
        model = Building
        fields = [
            "id",
            "name",
            "address",
            "use",
            "floors",
            "structure",
            "year_built",
            "safety_grade",
            "lng",
            "lat",
            "grid",
            "group",
        ]
        read_only_fields = fields


class ShopSerializer(PlacedSerializer):
    phone = MaskedField(help_text="Masked; POST …/reveal/ for the full value (audited).")

    class Meta:
        model = Shop
        fields = [
            "id",
            "name",
            "business_type",
            "licence_number",
            "operator",
            "phone",
            "address",
            "lng",
            "lat",
            "grid",
            "group",
        ]
        read_only_fields = fields


class PlaceSerializer(PlacedSerializer):
    geometry = serializers.JSONField(read_only=True, help_text="GeoJSON Point, LineString or Polygon (WGS 84).")

    class Meta:
        model = Place
        fields = ["id", "kind", "name", "geometry", "description", "grid", "group"]
        read_only_fields = fields


class TagSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tag
        fields = ["id", "code", "name", "kind", "description"]
        read_only_fields = fields


class RevealSerializer(serializers.Serializer):
    """The full values of one record; residents have both, shops only a phone number."""

    id_number = serializers.CharField(required=False, help_text="Residents only.")
    phone = serializers.CharField()


# --- input: records by id (or code), looked up in the caller's scope ---------------------------


def _user(field: serializers.Field) -> Any:
    request = field.context.get("request")
    return getattr(request, "user", None)


@extend_schema_field(OpenApiTypes.INT)
class AreaField(serializers.PrimaryKeyRelatedField):
    """An area of one level by id, among the areas the caller sees."""

    def __init__(self, *, level: str, **kwargs: Any) -> None:
        self.level = level
        super().__init__(**kwargs)

    def get_queryset(self):
        from gridgov.areas.selectors import area_list

        return area_list(user=_user(self)).filter(level=self.level)


@extend_schema_field(OpenApiTypes.INT)
class HouseholdField(serializers.PrimaryKeyRelatedField):
    def get_queryset(self):
        return selectors.household_list(user=_user(self))


@extend_schema_field(OpenApiTypes.INT)
class BuildingField(serializers.PrimaryKeyRelatedField):
    def get_queryset(self):
        return selectors.building_list(user=_user(self))


@extend_schema_field(OpenApiTypes.INT)
class ResidentField(serializers.PrimaryKeyRelatedField):
    def get_queryset(self):
        return selectors.resident_list(user=_user(self))


@extend_schema_field(OpenApiTypes.STR)
class TagCodeField(serializers.SlugRelatedField):
    """A tag by code; restricted kinds exist only for those permitted to see them."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(slug_field="code", **kwargs)

    def get_queryset(self):
        return selectors.tag_list(user=_user(self))


def _text(max_length: int | None = None) -> serializers.CharField:
    return serializers.CharField(required=False, allow_blank=True, max_length=max_length)


def _choice(choices: Any, *, blank: bool = True) -> serializers.ChoiceField:
    return serializers.ChoiceField(choices=choices, required=False, allow_blank=blank)


def _phone() -> serializers.CharField:
    # Write-only: the browsable API's forms must not show (and send back) the masked value.
    return serializers.CharField(
        required=False,
        allow_blank=True,
        write_only=True,
        max_length=32,
        help_text="Mobile, or landline with its area code. Left out of an update: kept; empty: removed.",
    )


class PlacedInputSerializer(serializers.Serializer):
    """Where a record goes: a grid, optionally one of its household groups (the group alone is enough)."""

    grid = AreaField(level=Level.GRID, required=False)
    group = AreaField(level=Level.GROUP, required=False, allow_null=True)


class ResidentInputSerializer(PlacedInputSerializer):
    """A resident as a client sends it. ID and phone numbers left out of an update keep their value."""

    name = serializers.CharField(max_length=50)
    gender = _choice(Gender.choices)
    birth_date = serializers.DateField(required=False, allow_null=True)
    id_number = serializers.CharField(
        required=False,
        allow_blank=True,
        write_only=True,
        max_length=32,
        help_text="The full GB 11643 number (18 characters). Left out of an update: kept; empty: removed.",
    )
    phone = _phone()
    household = HouseholdField(required=False, allow_null=True)
    relation = _choice(Relation.choices)
    address = _text(200)
    notes = _text()
    living_status = _choice(LivingStatus.choices, blank=False)
    tags = TagCodeField(many=True, required=False, help_text="Tag codes; the list replaces the resident's tags.")


class HouseholdInputSerializer(PlacedInputSerializer):
    address = serializers.CharField(max_length=200)
    number = _text(32)
    building = BuildingField(required=False, allow_null=True)
    room = _text(32)
    head = ResidentField(required=False, help_text="A member of the household (updates only).")


class BuildingInputSerializer(PlacedInputSerializer):
    address = serializers.CharField(max_length=200)
    use = serializers.ChoiceField(choices=BuildingUse.choices)
    name = _text(100)
    floors = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=300)
    structure = _choice(Structure.choices)
    year_built = serializers.IntegerField(required=False, allow_null=True)
    safety_grade = _choice([c for c in SafetyGrade.choices if c[0]])
    lng = serializers.FloatField(required=False, allow_null=True)
    lat = serializers.FloatField(required=False, allow_null=True)


class ShopInputSerializer(PlacedInputSerializer):
    name = serializers.CharField(max_length=100)
    business_type = serializers.CharField(max_length=50)
    licence_number = _text(32)
    operator = _text(50)
    phone = _phone()
    address = _text(200)
    lng = serializers.FloatField(required=False, allow_null=True)
    lat = serializers.FloatField(required=False, allow_null=True)


class PlaceInputSerializer(PlacedInputSerializer):
    kind = serializers.ChoiceField(choices=PlaceKind.choices)
    name = serializers.CharField(max_length=100)
    geometry = serializers.JSONField(help_text="GeoJSON Point, LineString or Polygon (WGS 84).")
    description = _text()
