"""Reads of the registry, always through the scope. Pages, exports and the API share them."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db.models import Prefetch, Q, QuerySet

from gridgov.core.privacy import ID_NUMBER, PHONE, search_hash
from gridgov.core.scope import scoped, scoped_get, subtree
from gridgov.core.validators import normalize_id_number, normalize_phone
from gridgov.registry.choices import RESTRICTED_TAG_KINDS
from gridgov.registry.models import Building, Household, Place, Resident, Shop, Tag
from gridgov.registry.services import may_see_restricted


def tag_list(*, user: Any) -> QuerySet[Tag]:
    """The tag catalogue; key-person tags only for those with the permission."""
    qs = scoped(Tag.objects.all(), user)
    if not may_see_restricted(user):
        qs = qs.exclude(kind__in=RESTRICTED_TAG_KINDS)
    return qs


def tag_get(*, user: Any, pk: Any) -> Tag:
    return scoped_get(tag_list(user=user), user, pk=pk)


def visible_tags(user: Any) -> Prefetch:
    """Prefetch of a resident's tags that hides restricted ones from those without the permission."""
    return Prefetch("tags", queryset=tag_list(user=user).only("id", "code", "name", "kind"))


def looks_like_id_number(text: str) -> bool:
    text = normalize_id_number(text)
    return len(text) == 18 and text[:17].isdigit()


def looks_like_phone(text: str) -> bool:
    digits = normalize_phone(text).replace("-", "")
    return digits.isdigit() and len(digits) >= 7


def resident_search_q(text: str) -> Q:
    """Search by full ID number or full phone number (exact, through the blind index), else by name."""
    text = (text or "").strip()
    if not text:
        return Q()
    if looks_like_id_number(text):
        return Q(id_number_hash=search_hash(ID_NUMBER, text))
    if looks_like_phone(text):
        return Q(phone_hash=search_hash(PHONE, text))
    return Q(name__startswith=text)


def age_range_q(*, age_min: int | None = None, age_max: int | None = None, today: date | None = None) -> Q:
    """Residents aged between age_min and age_max (inclusive) on `today`."""
    today = today or date.today()
    q = Q()
    if age_min is not None:
        q &= Q(birth_date__lte=_years_before(today, age_min))
    if age_max is not None:
        q &= Q(birth_date__gt=_years_before(today, age_max + 1))
    return q


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def resident_list(*, user: Any) -> QuerySet[Resident]:
    """Residents in the user's scope, with grid, group, household and visible tags in a fixed number of queries."""
    return (
        scoped(Resident.objects.all(), user)
        .select_related("grid", "group", "household")
        # Nothing that lists residents draws their areas' boundaries; decoding two polygons per row
        # costs more than the rest of the row and feeds the garbage collector (see registry/bench.py).
        .defer("grid__boundary", "group__boundary")
        .prefetch_related(visible_tags(user))
    )


def resident_get(*, user: Any, pk: Any) -> Resident:
    return scoped_get(resident_list(user=user), user, pk=pk)


def resident_find_by_id_number(*, user: Any, id_number: str) -> Resident | None:
    """The resident with this full ID number in the user's scope (exact search through the blind index)."""
    return resident_list(user=user).filter(id_number_hash=search_hash(ID_NUMBER, id_number)).first()


def household_list(*, user: Any) -> QuerySet[Household]:
    return scoped(Household.objects.all(), user).select_related("grid", "group", "head", "building")


def household_get(*, user: Any, pk: Any) -> Household:
    return scoped_get(household_list(user=user), user, pk=pk)


def household_members(*, user: Any, household: Household) -> QuerySet[Resident]:
    return resident_list(user=user).filter(household=household).order_by("id")


def building_list(*, user: Any) -> QuerySet[Building]:
    return scoped(Building.objects.all(), user).select_related("grid", "group")


def building_get(*, user: Any, pk: Any) -> Building:
    return scoped_get(building_list(user=user), user, pk=pk)


def shop_list(*, user: Any) -> QuerySet[Shop]:
    return scoped(Shop.objects.all(), user).select_related("grid", "group")


def shop_get(*, user: Any, pk: Any) -> Shop:
    return scoped_get(shop_list(user=user), user, pk=pk)


def place_list(*, user: Any) -> QuerySet[Place]:
    return scoped(Place.objects.all(), user).select_related("grid", "group")


def place_get(*, user: Any, pk: Any) -> Place:
    return scoped_get(place_list(user=user), user, pk=pk)


def in_area(queryset: QuerySet, area_code: str) -> QuerySet:
    """Narrow a scoped registry queryset to one area's subtree (the area switcher, a filter)."""
    return queryset.filter(subtree("area_code", area_code))
