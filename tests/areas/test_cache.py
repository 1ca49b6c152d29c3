"""The areas each process keeps (areas.cache): right after every area write, here or in another process."""

from __future__ import annotations

import pytest

from gridgov.areas import cache, services
from gridgov.areas.choices import Mode
from gridgov.areas.geo import AREAS_GENERATION
from gridgov.areas.models import Area
from gridgov.core.models import Generation

pytestmark = pytest.mark.django_db


def test_an_area_is_read_without_its_outline(org):
    grid = cache.area_by_id(org.g11.pk)
    assert (grid.code, grid.name, grid.parent_id, grid.level) == (org.g11.code, org.g11.name, org.c1.pk, "grid")
    assert "boundary" in grid.get_deferred_fields()
    assert cache.area_by_code(org.c1.code).pk == org.c1.pk
    assert cache.area_by_id(-1) is None and cache.area_by_code("9") is None


def test_each_caller_gets_its_own_instance(org):
    first = cache.area_by_id(org.g11.pk)
    first.name = "改了"
    assert cache.area_by_id(org.g11.pk).name == org.g11.name


def test_writes_through_the_services_are_seen_at_once(org):
    assert cache.area_by_id(org.g11.pk).name == org.g11.name
    services.area_update(actor=org.users.admin, area=org.g11, name="新名字")
    assert cache.area_by_id(org.g11.pk).name == "新名字"
    assert not cache.in_emergency(org.g11.code)
    services.area_set_mode(actor=org.users.admin, area=org.c1, mode=Mode.EMERGENCY)
    assert cache.in_emergency(org.g11.code) and cache.in_emergency(org.c1.code)
    assert not cache.in_emergency(org.s.code) and not cache.in_emergency(org.c2.code)


def test_a_write_of_another_process_is_seen_once_its_token_moves(org):
    assert not cache.in_emergency(org.g12.code)
    Area.objects.filter(pk=org.g12.pk).update(mode=Mode.EMERGENCY, name="别处改的")  # no signal, no token
    assert not cache.in_emergency(org.g12.code)  # kept: nothing said it changed
    Generation.objects.filter(name=AREAS_GENERATION).update(value=424242)
    assert cache.in_emergency(org.g12.code)
    assert cache.area_by_id(org.g12.pk).name == "别处改的"
