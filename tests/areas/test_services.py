"""Writes to the organisation tree: validation of codes and boundaries, permissions, posts, audit."""

from __future__ import annotations

import pytest

from gridgov.areas import services
from gridgov.areas.choices import Level, Mode, Role, UnitKind
from gridgov.areas.geo import AREAS_GENERATION
from gridgov.areas.models import Area, PartyBranch, Post, Unit
from gridgov.core import generations
from gridgov.core.errors import ApplicationError, PermissionDenied
from gridgov.core.models import AuditEvent
from gridgov.core.scope import scope_for
from tests.conftest import square


class Unchanged:
    """Counts rows and audit events before a refused call, to check afterwards that nothing was written."""

    def __init__(self, *models):
        self.models = (*models, AuditEvent)
        self.counts = [m.objects.count() for m in self.models]
        self.generation = generations.current(AREAS_GENERATION)

    def check(self):
        assert [m.objects.count() for m in self.models] == self.counts
        assert generations.current(AREAS_GENERATION) == self.generation


def refused(call, code: str, field: str | None = None, *models) -> ApplicationError:
    before = Unchanged(*(models or (Area,)))
    with pytest.raises(ApplicationError) as excinfo:
        call()
    before.check()
    assert excinfo.value.code == code, excinfo.value.as_dict()
    if field is not None:
        assert field in excinfo.value.fields, excinfo.value.fields
        assert excinfo.value.fields[field]
    return excinfo.value


# Area codes


def test_area_create_levels_follow_the_parent(org):
    assert [org.s.level, org.c1.level, org.g11.level, org.grp1.level] == [
        Level.SUBDISTRICT,
        Level.COMMUNITY,
        Level.GRID,
        Level.GROUP,
    ]
    assert org.g11.parent == org.c1
    assert org.g11.centre is not None


@pytest.mark.parametrize(
    "code",
    [
        "34040400A",  # not digits
        "３４０４０４００５",  # full-width digits are digits to Python, not to us
        "34040400-5",
        " 34040400",
        "3404040051",  # 10 digits for a subdistrict
        "34040400",  # 8 digits
        "990404005",  # no such province
        "340000005",  # the county part is all zeros
        "340404000",  # the subdistrict's own segment is all zeros
        "",
    ],
)
def test_subdistrict_code_refused(org, code):
    refused(lambda: services.area_create(actor=None, code=code, name="街道"), "invalid_area_code", "code")


@pytest.mark.parametrize(
    ("parent", "code"),
    [
        ("s", "340404005001"),  # not under the parent's code
        ("s", "34040400400"),  # 11 digits for a community
        ("s", "3404040040010"),  # 13 digits
        ("s", "340404004000"),  # own segment all zeros
        ("c1", "340404004002003"),  # a grid under C1 with C2's prefix
        ("c1", "34040400400100A"),
        ("g11", "3404040040010010"),  # 16 digits for a group
        ("g11", "34040400400100200"),  # a group under G11 with G12's prefix
        ("g11", "34040400400100100"),
    ],
)
def test_child_code_refused(org, parent, code):
    refused(
        lambda: services.area_create(actor=None, code=code, name="新", parent=getattr(org, parent)),
        "invalid_area_code",
        "code",
    )


@pytest.mark.parametrize(("parent", "code"), [(None, "340404004"), ("s", "340404004001"), ("g11", "34040400400100101")])
def test_taken_code_refused(org, parent, code):
    refused(
        lambda: services.area_create(
            actor=None, code=code, name="重复", parent=getattr(org, parent) if parent else None
        ),
        "invalid_area_code",
        "code",
    )


def test_group_cannot_have_children(org):
    refused(
        lambda: services.area_create(actor=None, code="3404040040010010101", name="x", parent=org.grp1),
        "invalid_parent",
        "parent",
    )


def test_blank_name_and_unknown_mode_refused(org):
    refused(lambda: services.area_create(actor=None, code="340404005", name="  "), "invalid_area", "name")
    refused(lambda: services.area_create(actor=None, code="340404005", name="x", mode="war"), "invalid", "mode")


def test_valid_codes_accepted(org):
    other = services.area_create(actor=None, code="110105001", name="北京某街道")
    assert other.level == Level.SUBDISTRICT
    community = services.area_create(actor=None, code="340404004003", name="三社区", parent=org.s)
    assert community.level == Level.COMMUNITY
    group = services.area_create(actor=None, code="34040400400100103", name="三组", parent=org.g11)
    assert group.level == Level.GROUP


# Boundaries

BOW_TIE = {
    "type": "Polygon",
    "coordinates": [[[117.0, 32.6], [117.01, 32.61], [117.01, 32.6], [117.0, 32.61], [117.0, 32.6]]],
}
BAD_BOUNDARIES = {
    "list": [[117.0, 32.6], [117.01, 32.6], [117.01, 32.61]],
    "string": '{"type": "Polygon", "coordinates": []}',
    "number": 42,
    "point": {"type": "Point", "coordinates": [117.0, 32.6]},
    "linestring": {"type": "LineString", "coordinates": [[117.0, 32.6], [117.01, 32.6]]},
    "feature": {"type": "Feature", "geometry": square(117.0, 32.6), "properties": {}},
    "no-type": {"coordinates": square(117.0, 32.6)["coordinates"]},
    "bow-tie": BOW_TIE,
    "longitude-out-of-range": square(180.5, 32.6),
    "latitude-out-of-range": square(117.0, 90.5),
    "lat-lng-swapped": {
        "type": "Polygon",
        "coordinates": [[[32.6, 117.0], [32.61, 117.0], [32.61, 117.01], [32.6, 117.01], [32.6, 117.0]]],
    },
    "empty-polygon": {"type": "Polygon", "coordinates": []},
    "empty-multipolygon": {"type": "MultiPolygon", "coordinates": []},
    "too-few-points": {"type": "Polygon", "coordinates": [[[117.0, 32.6], [117.01, 32.6], [117.0, 32.6]]]},
    "flat": {"type": "Polygon", "coordinates": [[[117.0, 32.6], [117.01, 32.6], [117.02, 32.6], [117.0, 32.6]]]},
    "not-numbers": {"type": "Polygon", "coordinates": [[["a", "b"], [1, 2], [3, 4], ["a", "b"]]]},
    "coordinates-not-a-list": {"type": "Polygon", "coordinates": "117,32"},
    "not-closed": {
        "type": "Polygon",
        "coordinates": [[[float("nan"), 32.6], [117.01, 32.6], [117.01, 32.61], [float("nan"), 32.6]]],
    },
}


@pytest.mark.parametrize("boundary", list(BAD_BOUNDARIES.values()), ids=list(BAD_BOUNDARIES))
def test_area_create_refuses_bad_boundary(org, boundary):
    error = refused(
        lambda: services.area_create(
            actor=None, code="340404004001003", name="新网格", parent=org.c1, boundary=boundary
        ),
        "invalid_boundary",
        "boundary",
    )
    assert error.message


@pytest.mark.parametrize("boundary", list(BAD_BOUNDARIES.values()), ids=list(BAD_BOUNDARIES))
def test_area_update_refuses_bad_boundary(org, boundary):
    refused(lambda: services.area_update(actor=None, area=org.g11, boundary=boundary), "invalid_boundary", "boundary")
    assert Area.objects.get(pk=org.g11.pk).boundary == square(117.0, 32.6)


def test_multipolygon_accepted_and_centre_inside(org):
    multi = {
        "type": "MultiPolygon",
        "coordinates": [square(117.0, 32.7)["coordinates"], square(117.05, 32.7)["coordinates"]],
    }
    area = services.area_create(actor=None, code="340404004002002", name="飞地网格", parent=org.c2, boundary=multi)
    from shapely.geometry import Point, shape

    assert shape(multi).covers(Point(area.centre))


def test_explicit_centre_kept_and_checked(org):
    area = services.area_create(
        actor=None,
        code="340404004002002",
        name="四网格",
        parent=org.c2,
        boundary=square(117.0, 32.7),
        centre=(117.001, 32.701),
    )
    assert area.centre == (117.001, 32.701)
    refused(lambda: services.area_update(actor=None, area=area, centre=(200, 32)), "invalid", "centre")


# Updates


def test_area_update_changes_name_mode_and_boundary(org):
    area = services.area_update(
        actor=org.users.admin, area=org.g21, name=" 三网格新 ", mode=Mode.EMERGENCY, boundary=square(117.03, 32.6)
    )
    stored = Area.objects.get(pk=org.g21.pk)
    assert (stored.name, stored.mode, stored.boundary) == ("三网格新", Mode.EMERGENCY, square(117.03, 32.6))
    assert 117.03 <= stored.centre_lng <= 117.04
    assert area.name == "三网格新"
    assert stored.code == org.g21.code


def test_area_update_can_clear_the_boundary(org):
    services.area_update(actor=None, area=org.g21, boundary=None)
    assert Area.objects.get(pk=org.g21.pk).boundary is None


def test_area_update_refuses_blank_name_and_unknown_mode(org):
    refused(lambda: services.area_update(actor=None, area=org.g21, name=""), "invalid", "name")
    refused(lambda: services.area_update(actor=None, area=org.g21, mode="war"), "invalid", "mode")
    assert Area.objects.get(pk=org.g21.pk).name == "三网格"


def test_area_writes_change_the_grid_index_generation(org):
    seen = {generations.current(AREAS_GENERATION)}
    services.area_update(actor=None, area=org.g21, name="x")
    seen.add(generations.current(AREAS_GENERATION))
    new = services.area_create(actor=None, code="340404004002002", name="y", parent=org.c2)
    seen.add(generations.current(AREAS_GENERATION))
    services.area_delete(actor=None, area=new)
    seen.add(generations.current(AREAS_GENERATION))
    assert len(seen) == 4 and 0 not in seen


def test_set_mode_switches_the_whole_subtree(org):
    services.area_set_mode(actor=org.users.admin, area=org.c1, mode=Mode.EMERGENCY)
    modes = dict(Area.objects.values_list("code", "mode"))
    assert {code for code, mode in modes.items() if mode == Mode.EMERGENCY} == {
        org.c1.code,
        org.g11.code,
        org.g12.code,
        org.grp1.code,
        org.grp2.code,
    }
    assert AuditEvent.objects.filter(event_type="area.set_mode").get().data == {"mode": "emergency", "areas": 5}
    refused(lambda: services.area_set_mode(actor=None, area=org.c1, mode="war"), "invalid", "mode")


def test_area_delete(org):
    services.area_delete(actor=org.users.admin, area=org.grp2)
    assert not Area.objects.filter(code="34040400400100102").exists()


@pytest.mark.parametrize("attr", ["s", "c1", "g11", "grp1"])
def test_area_in_use_cannot_be_deleted(org, attr):
    """Children, posts, units or party branches keep an area."""
    error = refused(lambda: services.area_delete(actor=None, area=getattr(org, attr)), "area_in_use")
    assert error.status == 409


# Permissions


@pytest.mark.parametrize("role", ["center", "leader"])
def test_dispatchers_and_leaders_switch_modes_in_their_area(org, role):
    services.area_set_mode(actor=getattr(org.users, role), area=org.c1, mode=Mode.EMERGENCY)
    assert set(Area.objects.filter(code__startswith=org.c1.code).values_list("mode", flat=True)) == {Mode.EMERGENCY}
    assert services.may_set_mode(actor=getattr(org.users, role), area=org.s)


@pytest.mark.parametrize("role", ["community", "grid_leader", "grid_worker", "unit_handler", "mediator", "nobody"])
def test_others_may_not_switch_modes(org, role):
    actor = getattr(org.users, role)
    assert not services.may_set_mode(actor=actor, area=org.g11)
    before = Unchanged(Area)
    with pytest.raises(PermissionDenied):
        services.area_set_mode(actor=actor, area=org.g11, mode=Mode.EMERGENCY)
    before.check()
    assert Area.objects.get(pk=org.g11.pk).mode == Mode.NORMAL


@pytest.mark.parametrize("role", ["center", "leader", "community", "grid_worker", "unit_handler", "nobody"])
def test_only_administrators_change_the_tree(org, role):
    actor = getattr(org.users, role)
    calls = [
        lambda: services.area_create(actor=actor, code="340404005", name="x"),
        lambda: services.area_update(actor=actor, area=org.g11, name="x"),
        lambda: services.area_update(actor=actor, area=org.g11, boundary=BOW_TIE),
        lambda: services.area_delete(actor=actor, area=org.grp2),
        lambda: services.unit_create(actor=actor, name="x", kind=UnitKind.POLICE, area=org.s),
        lambda: services.party_branch_create(actor=actor, name="x", grids=[org.g21]),
        lambda: services.post_create(actor=actor, user=org.users.nobody, role=Role.GRID_WORKER, area=org.g21),
    ]
    for call in calls:
        before = Unchanged(Area, Unit, PartyBranch, Post)
        with pytest.raises(PermissionDenied) as excinfo:
            call()
        assert excinfo.value.status == 403
        before.check()
    assert Area.objects.get(pk=org.g11.pk).name == "一网格"
    assert Area.objects.get(pk=org.s.pk).mode == Mode.NORMAL


# Units and party branches


def test_unit_create_refusals(org):
    refused(lambda: services.unit_create(actor=None, name="x", kind="bakery", area=org.s), "invalid", "kind", Unit)
    refused(
        lambda: services.unit_create(actor=None, name="测试派出所", kind=UnitKind.POLICE, area=org.s),
        "invalid_unit",
        None,
        Unit,
    )
    refused(
        lambda: services.unit_create(actor=None, name=" ", kind=UnitKind.POLICE, area=org.s),
        "invalid_unit",
        "name",
        Unit,
    )


def test_same_unit_name_in_another_area_is_fine(org):
    assert services.unit_create(actor=None, name="测试物业", kind=UnitKind.PROPERTY, area=org.c2).area == org.c2


def test_party_branch_refusals(org):
    refused(lambda: services.party_branch_create(actor=None, name="x", grids=[]), "invalid", "grids", PartyBranch)
    refused(
        lambda: services.party_branch_create(actor=None, name="x", grids=[org.g21, org.c2]),
        "invalid",
        "grids",
        PartyBranch,
    )
    refused(
        lambda: services.party_branch_create(actor=None, name="一二网格党支部", grids=[org.g21]),
        "invalid_party_branch",
        "name",
        PartyBranch,
    )


def test_party_branch_on_two_grids(org):
    assert set(org.branch.grids.values_list("code", flat=True)) == {org.g11.code, org.g12.code}


# Posts: the role fits the level


@pytest.mark.parametrize(
    ("role", "attr"),
    [
        (Role.GRID_WORKER, "c1"),
        (Role.GRID_WORKER, "s"),
        (Role.GRID_WORKER, "grp1"),
        (Role.GRID_LEADER, "c1"),
        (Role.COMMUNITY, "g11"),
        (Role.CENTER, "c1"),
        (Role.LEADER, "g11"),
        (Role.GROUP_LEADER, "g11"),
        (Role.MEDIATOR, "grp1"),
    ],
)
def test_post_at_the_wrong_level_refused(org, role, attr):
    refused(
        lambda: services.post_create(actor=None, user=org.users.nobody, role=role, area=getattr(org, attr)),
        "invalid",
        "area",
        Post,
    )


@pytest.mark.parametrize(
    ("role", "attr"),
    [
        (Role.CENTER, "s"),
        (Role.LEADER, "s"),
        (Role.COMMUNITY, "c2"),
        (Role.GRID_LEADER, "g21"),
        (Role.GRID_WORKER, "g21"),
        (Role.GROUP_LEADER, "grp2"),
        (Role.MEDIATOR, "s"),
        (Role.MEDIATOR, "c2"),
        (Role.MEDIATOR, "g21"),
    ],
)
def test_post_at_the_right_level_accepted(org, role, attr):
    post = services.post_create(actor=org.users.admin, user=org.users.nobody, role=role, area=getattr(org, attr))
    assert post.area == getattr(org, attr)
    assert Post.objects.filter(user=org.users.nobody, role=role).count() == 1


def test_unit_handler_post_is_held_at_a_unit(org):
    nobody = org.users.nobody
    refused(
        lambda: services.post_create(actor=None, user=nobody, role=Role.UNIT_HANDLER, area=org.c1),
        "invalid",
        "unit",
        Post,
    )
    refused(
        lambda: services.post_create(actor=None, user=nobody, role=Role.UNIT_HANDLER, area=org.c1, unit=org.prop),
        "invalid",
        "unit",
        Post,
    )
    refused(
        lambda: services.post_create(actor=None, user=nobody, role=Role.GRID_WORKER, unit=org.prop),
        "invalid",
        "area",
        Post,
    )
    refused(
        lambda: services.post_create(actor=None, user=nobody, role=Role.GRID_WORKER, area=org.g21, unit=org.prop),
        "invalid",
        "area",
        Post,
    )
    post = services.post_create(actor=None, user=nobody, role=Role.UNIT_HANDLER, unit=org.police)
    assert post.unit == org.police
    assert post.area is None


def test_unknown_role_refused(org):
    refused(
        lambda: services.post_create(actor=None, user=org.users.nobody, role="king", area=org.s),
        "invalid",
        "role",
        Post,
    )


@pytest.mark.parametrize(("role", "where"), [(Role.GRID_WORKER, "g11"), (Role.UNIT_HANDLER, "prop")])
def test_the_same_post_twice_is_a_conflict(org, role, where):
    user = org.users.grid_worker if role == Role.GRID_WORKER else org.users.unit_handler
    place = {"area": org.g11} if role == Role.GRID_WORKER else {"unit": org.prop}
    error = refused(
        lambda: services.post_create(actor=None, user=user, role=role, **place), "duplicate_post", None, Post
    )
    assert error.status == 409


def test_post_create_refreshes_the_users_cached_scope(org):
    nobody = org.users.nobody
    assert scope_for(nobody).is_empty
    services.post_create(actor=None, user=nobody, role=Role.GRID_WORKER, area=org.g21)
    assert scope_for(nobody).area_codes == (org.g21.code,)
