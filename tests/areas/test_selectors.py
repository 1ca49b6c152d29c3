"""Reads of the organisation tree, and the point → grid index that other processes keep fresh."""

from __future__ import annotations

import pytest
from django.db.models import F
from django.test import RequestFactory

from gridgov.areas import selectors, services
from gridgov.areas.choices import Level
from gridgov.areas.geo import AREAS_GENERATION, GridIndex, centre_of, grid_index, parse_boundary
from gridgov.areas.models import Area
from gridgov.core.errors import ApplicationError, NotFound
from gridgov.core.models import Generation
from tests.conftest import square

# Points of the fixture's grids: G11 = [117.00, 117.01], G12 = [117.01, 117.02], G21 = [117.02, 117.03],
# all from 32.60 to 32.61.
IN_G11 = (117.005, 32.605)
IN_G12 = (117.015, 32.605)
IN_G21 = (117.025, 32.605)
FAR_AWAY = (118.505, 33.505)


# The grid index


def test_locate_returns_the_covering_grid(org):
    index = GridIndex()
    assert index.locate(*IN_G11) == org.g11.pk
    assert index.locate(*IN_G12) == org.g12.pk
    assert index.locate(*IN_G21) == org.g21.pk
    assert index.locate(*FAR_AWAY) is None
    assert index.locate(117.0, 32.6) == org.g11.pk, "a corner is covered"


def test_shared_edge_resolves_to_the_smallest_code(org):
    edge = (117.01, 32.605)  # G11's east edge is G12's west edge
    assert GridIndex().locate(*edge) == org.g11.pk
    corner = (117.02, 32.61)  # G12 and G21 meet here
    assert GridIndex().locate(*corner) == org.g12.pk


def test_shared_edge_does_not_depend_on_creation_order(db):
    """Create the larger code first: the answer is still the smaller code."""
    s = services.area_create(actor=None, code="340404004", name="S")
    c = services.area_create(actor=None, code="340404004001", name="C", parent=s)
    second = services.area_create(actor=None, code="340404004001002", name="B", parent=c, boundary=square(117.01, 32.6))
    first = services.area_create(actor=None, code="340404004001001", name="A", parent=c, boundary=square(117.0, 32.6))
    assert second.pk < first.pk
    for _ in range(3):
        assert GridIndex().locate(117.01, 32.605) == first.pk


def test_only_grids_are_indexed(org):
    """Communities and the subdistrict have boundaries too, but a point resolves to a grid."""
    inside_c1_outside_grids = (117.005, 32.615)  # C1 is 0.02 high, its grids 0.01
    assert GridIndex().locate(*inside_c1_outside_grids) is None


def test_grid_without_boundary_is_skipped(org):
    services.area_update(actor=None, area=org.g11, boundary=None)
    assert GridIndex().locate(*IN_G11) is None
    assert GridIndex().locate(*IN_G12) == org.g12.pk


def test_empty_index(db):
    assert GridIndex().locate(*IN_G11) is None


def test_index_is_cached_between_lookups(org, django_assert_num_queries):
    index = GridIndex()
    index.locate(*IN_G11)
    with django_assert_num_queries(1):  # the generation counter only
        assert index.locate(*IN_G12) == org.g12.pk


def test_index_notices_a_service_change_in_every_instance(org):
    """Two instances stand for two processes: both notice a boundary moved through the service."""
    this, other = GridIndex(), GridIndex()
    assert this.locate(*IN_G11) == org.g11.pk
    assert other.locate(*IN_G11) == org.g11.pk
    assert this.locate(*FAR_AWAY) is None

    services.area_update(actor=org.users.admin, area=org.g11, boundary=square(118.5, 33.5))

    for index in (this, other, grid_index):
        assert index.locate(*IN_G11) is None
        assert index.locate(*FAR_AWAY) == org.g11.pk
        assert index.locate(*IN_G12) == org.g12.pk


def test_index_notices_a_new_grid(org):
    index = GridIndex()
    assert index.locate(*FAR_AWAY) is None
    new = services.area_create(
        actor=None, code="340404004002002", name="新网格", parent=org.c2, boundary=square(118.5, 33.5)
    )
    assert index.locate(*FAR_AWAY) == new.pk


def test_index_notices_a_deleted_grid(org):
    new = services.area_create(
        actor=None, code="340404004002002", name="新网格", parent=org.c2, boundary=square(118.5, 33.5)
    )
    index = GridIndex()
    assert index.locate(*FAR_AWAY) == new.pk
    services.area_delete(actor=None, area=new)
    assert index.locate(*FAR_AWAY) is None


def test_index_follows_the_generation_row_written_by_another_process(org):
    """Another process edits the row and bumps the counter in its own transaction; we only see the database."""
    this, other = GridIndex(), GridIndex()
    assert this.locate(*IN_G11) == org.g11.pk
    assert other.locate(*IN_G11) == org.g11.pk

    Area.objects.filter(pk=org.g11.pk).update(boundary=square(118.5, 33.5))
    # Without a bump the cached snapshots still answer the old geometry: the counter is what they watch.
    assert this.locate(*IN_G11) == org.g11.pk
    assert this.locate(*FAR_AWAY) is None

    assert Generation.objects.filter(name=AREAS_GENERATION).update(value=F("value") + 1) == 1
    for index in (this, other):
        assert index.locate(*IN_G11) is None
        assert index.locate(*FAR_AWAY) == org.g11.pk


def test_hand_edited_broken_boundary_does_not_break_lookups(org):
    Area.objects.filter(pk=org.g12.pk).update(boundary={"type": "Polygon", "coordinates": "junk"})
    Generation.objects.filter(name=AREAS_GENERATION).update(value=F("value") + 1)
    assert GridIndex().locate(*IN_G11) == org.g11.pk
    assert GridIndex().locate(*IN_G12) is None


# Geometry helpers


def test_parse_boundary_returns_a_valid_geometry():
    geometry = parse_boundary(square(117.0, 32.6))
    assert geometry.is_valid
    assert geometry.bounds == pytest.approx((117.0, 32.6, 117.01, 32.61))


def test_centre_of_a_concave_shape_lies_inside():
    # A U shape whose centroid falls in the notch.
    u_shape = {
        "type": "Polygon",
        "coordinates": [[[0, 0], [3, 0], [3, 3], [2, 3], [2, 1], [1, 1], [1, 3], [0, 3], [0, 0]]],
    }
    geometry = parse_boundary(u_shape)
    assert not geometry.contains(geometry.centroid)
    from shapely.geometry import Point

    assert geometry.contains(Point(centre_of(geometry)))


# area_locate


def test_area_locate(org):
    lng, lat = IN_G11
    assert selectors.area_locate(user=org.users.grid_worker, lat=str(lat), lng=str(lng)) == org.g11
    assert selectors.area_locate(user=org.users.center, lat=lat, lng=lng) == org.g11


def test_area_locate_outside_every_grid(org):
    with pytest.raises(NotFound) as excinfo:
        selectors.area_locate(user=org.users.admin, lat=FAR_AWAY[1], lng=FAR_AWAY[0])
    assert excinfo.value.code == "outside_grids"


def test_area_locate_in_a_grid_outside_the_scope(org):
    with pytest.raises(NotFound) as excinfo:
        selectors.area_locate(user=org.users.grid_worker, lat=IN_G21[1], lng=IN_G21[0])
    assert excinfo.value.code == "not_found"


@pytest.mark.parametrize(("lat", "lng"), [(None, 117), ("", "117"), ("x", "117"), ("95", "117"), ("32", "-200")])
def test_area_locate_invalid_point(org, lat, lng):
    with pytest.raises(ApplicationError) as excinfo:
        selectors.area_locate(user=org.users.admin, lat=lat, lng=lng)
    assert excinfo.value.code == "invalid_point"
    assert excinfo.value.status == 400


# Lists, trees and features


def test_area_roots(org):
    assert selectors.area_roots(user=org.users.admin) == [org.s]
    assert selectors.area_roots(user=org.users.grid_worker) == [org.g11]
    assert selectors.area_roots(user=org.users.unit_handler) == [org.c1]
    assert selectors.area_roots(user=org.users.nobody) == []


def test_user_default_area(org):
    assert selectors.user_default_area(user=org.users.center) == org.s
    assert selectors.user_default_area(user=org.users.group_leader) == org.grp1
    assert selectors.user_default_area(user=org.users.nobody) is None


def test_area_tree_goes_down_to_grids(org):
    tree = selectors.area_tree(user=org.users.center)
    assert [n.area.code for n in tree] == [org.s.code]
    assert [n.area.code for n in tree[0].children] == [org.c1.code, org.c2.code]
    assert [n.area.code for n in tree[0].children[0].children] == [org.g11.code, org.g12.code]
    assert tree[0].children[0].children[0].children == [], "groups are below the default depth"


def test_area_tree_of_a_grid_worker(org):
    tree = selectors.area_tree(user=org.users.grid_worker)
    assert [n.area.code for n in tree] == [org.g11.code]
    deeper = selectors.area_tree(user=org.users.grid_worker, depth_level=Level.GROUP)
    assert [n.area.code for n in deeper[0].children] == [org.grp1.code, org.grp2.code]


def test_area_tree_under_a_root(org):
    tree = selectors.area_tree(user=org.users.center, root=org.c2)
    assert [n.area.code for n in tree] == [org.c2.code]
    assert [n.area.code for n in tree[0].children] == [org.g21.code]


def test_area_features_are_scoped(org):
    features = selectors.area_features(user=org.users.grid_worker)
    assert features["type"] == "FeatureCollection"
    assert [f["properties"]["code"] for f in features["features"]] == [org.g11.code]
    feature = features["features"][0]
    assert feature["geometry"] == square(117.0, 32.6)
    assert feature["properties"]["url"] == f"/areas/{org.g11.pk}/"
    everything = selectors.area_features(user=org.users.center)
    assert {f["properties"]["code"] for f in everything["features"]} == {
        org.c1.code,
        org.c2.code,
        org.g11.code,
        org.g12.code,
        org.g21.code,
    }
    under_c2 = selectors.area_features(user=org.users.center, root=org.c2)
    assert {f["properties"]["code"] for f in under_c2["features"]} == {org.c2.code, org.g21.code}


def test_area_detail_of_a_grid(org):
    detail = selectors.area_detail(user=org.users.grid_worker, pk=org.g11.pk)
    assert detail.area == org.g11
    assert detail.ancestors == [], "the worker does not see the community above"
    assert [c.code for c in detail.children] == [org.grp1.code, org.grp2.code]
    assert [p.user.username for p in detail.workers] == ["wg01"]
    assert [p.user.username for p in detail.leaders] == ["gl01"]
    assert detail.party_branches == [org.branch]
    assert {u.name for u in detail.units} == {"测试派出所", "测试物业"}


def test_area_detail_for_the_center(org):
    detail = selectors.area_detail(user=org.users.center, pk=org.g11.pk)
    assert detail.ancestors == [org.s, org.c1]
    community = selectors.area_detail(user=org.users.center, pk=org.c1.pk)
    assert [c.code for c in community.children] == [org.g11.code, org.g12.code]
    assert [c.child_count for c in community.children] == [2, 0]
    assert [p.user.username for p in community.workers] == ["sq01", "tj01"]
    assert community.party_branches == [org.branch], "a branch on two grids is listed once"
    group = selectors.area_detail(user=org.users.center, pk=org.grp1.pk)
    assert group.party_branches == [org.branch]
    assert [p.user.username for p in group.workers] == ["lb01"]


def test_area_detail_outside_the_scope(org):
    with pytest.raises(NotFound):
        selectors.area_detail(user=org.users.grid_worker, pk=org.g12.pk)


def test_unit_and_party_branch_get(org):
    assert selectors.unit_get(user=org.users.grid_worker, pk=org.police.pk) == org.police
    assert selectors.party_branch_get(user=org.users.grid_worker, pk=org.branch.pk) == org.branch
    assert selectors.party_branch_get(user=org.users.group_leader, pk=org.branch.pk) == org.branch
    other = services.party_branch_create(actor=None, name="三网格党支部", grids=[org.g21])
    with pytest.raises(NotFound):
        selectors.party_branch_get(user=org.users.group_leader, pk=other.pk)


def test_switchable_areas_stop_above_groups(org):
    areas = selectors.switchable_areas(user=org.users.community)
    assert [a.code for a in areas] == [org.c1.code, org.g11.code, org.g12.code]
    assert selectors.switchable_areas(user=org.users.nobody) == []


def _request(user, session=None):
    request = RequestFactory().get("/")
    request.user = user
    request.session = session or {}
    return request


def test_current_area_defaults_to_the_top_of_the_scope(org):
    assert selectors.current_area(_request(org.users.community)) == org.c1


def test_current_area_follows_the_session(org):
    request = _request(org.users.community, {selectors.SESSION_AREA_KEY: org.g12.pk})
    assert selectors.current_area(request) == org.g12


def test_current_area_ignores_an_area_outside_the_scope(org):
    request = _request(org.users.community, {selectors.SESSION_AREA_KEY: org.g21.pk})
    assert selectors.current_area(request) == org.c1
