"""A faster `to_representation` for read serializers that render many rows or large bodies.

DRF renders each field through `Field.get_attribute` (which walks the source path and inspects every
value for being a callable) and the field's `to_representation` (which converts a `str` to `str`). For a
case body of forty-odd fields that was most of its rendering (make bench: cases.intake_http). A planned
serializer decides once per instance, per field, whether the attribute can be read directly and whether
a value of the field's own type can be passed as it is; every other field goes the DRF way. The output is
the same as DRF's (tests/cases/test_api.py compares them on the case body).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from rest_framework import fields, serializers
from rest_framework.relations import PKOnlyObject

# Fields whose `to_representation` returns a value of exactly this type unchanged.
_IDENTITY: dict[type[fields.Field], type] = {
    fields.CharField: str,
    fields.IntegerField: int,
    fields.BooleanField: bool,
    fields.FloatField: float,
}


class PlannedRepresentation(serializers.Serializer):
    """Mix into a read serializer (before the DRF base) to render it through a plan built once."""

    def _representation_plan(self) -> list[tuple[fields.Field, str, str | None, type | None]]:
        plan = []
        for field in self._readable_fields:
            attrs = field.source_attrs
            direct = attrs[0] if len(attrs) == 1 and not isinstance(field, fields.SerializerMethodField) else None
            plan.append((field, field.field_name, direct, _IDENTITY.get(type(field))))
        self.__dict__["_plan"] = plan
        return plan

    def to_representation(self, instance: Any) -> dict[str, Any]:
        plan = self.__dict__.get("_plan") or self._representation_plan()
        ret: dict[str, Any] = {}
        for field, name, direct, identity in plan:
            if direct is not None and not isinstance(instance, Mapping):
                try:
                    attribute = getattr(instance, direct)
                except (AttributeError, ObjectDoesNotExist):
                    attribute = field.get_attribute(instance)  # DRF's defaults and errors
                else:
                    if callable(attribute) and not isinstance(attribute, type):
                        attribute = field.get_attribute(instance)
            else:
                try:
                    attribute = field.get_attribute(instance)
                except fields.SkipField:
                    continue
            if attribute is None or (isinstance(attribute, PKOnlyObject) and attribute.pk is None):
                ret[name] = None
            elif type(attribute) is identity:
                ret[name] = attribute
            else:
                ret[name] = field.to_representation(attribute)
        return ret
