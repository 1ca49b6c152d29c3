"""The scope matrix: every role against its own area, a sibling and the parent, for rows and for the API."""

from __future__ import annotations

import pytest

from gridgov.areas.models import Area, PartyBranch, Post, Unit
from gridgov.core.errors import NotFound
from gridgov.core.models import AuditEvent
from gridgov.core.scope import scope_for, scoped, scoped_get
from tests.conftest import api_headers

# (role, area attribute on the org fixture, visible?). "Own" is where the role's post sits (for the unit
# handler: the community its unit serves); the subdistrict roles have a neighbouring subdistrict as sibling
# and no parent.
MATRIX = [
    ("center", "s", True),
    ("center", "s2", False),
    ("center", "g21", True),
    ("leader", "s", True),
    ("leader", "s2", False),
    ("leader", "grp2", True),
    ("community", "c1", True),
    ("community", "c2", False),
    ("community", "s", False),
    ("community", "grp1", True),
    ("grid_leader", "g11", True),
    ("grid_leader", "g12", False),
    ("grid_leader", "c1", False),
    ("grid_worker", "g11", True),
    ("grid_worker", "g12", False),
    ("grid_worker", "c1", False),
    ("grid_worker", "grp2", True),
    ("group_leader", "grp1", True),
    ("group_leader", "grp2", False),
    ("group_leader", "g11", False),
    ("unit_handler", "c1", True),
    ("unit_handler", "c2", False),
    ("unit_handler", "s", False),
    ("mediator", "c1", True),
    ("mediator", "c2", False),
    ("mediator", "s", False),
    ("admin", "s", True),
    ("admin", "s2", True),
    ("admin", "grp2", True),
    ("nobody", "s", False),
    ("nobody", "c1", False),
    ("nobody", "g11", False),
]
MATRIX_IDS = [f"{role}-{attr}-{'visible' if visible else 'hidden'}" for role, attr, visible in MATRIX]


@pytest.mark.parametrize(("role", "attr", "visible"), MATRIX, ids=MATRIX_IDS)
def test_area_rows(org_wide, role, attr, visible):
    user = getattr(org_wide.users, role)
    area = getattr(org_wide, attr)
    assert scoped(Area.objects.filter(pk=area.pk), user).exists() is visible
    if visible:
        assert scoped_get(Area.objects.all(), user, pk=area.pk) == area
    else:
        with pytest.raises(NotFound) as excinfo:
            scoped_get(Area.objects.all(), user, pk=area.pk)
        assert excinfo.value.code == "not_found"
        assert excinfo.value.status == 404


@pytest.mark.parametrize(("role", "attr", "visible"), MATRIX, ids=MATRIX_IDS)
def test_area_api_detail(org_wide, client, role, attr, visible):
    headers = api_headers(client, getattr(org_wide.users, role).username)
    area = getattr(org_wide, attr)
    response = client.get(f"/api/v1/areas/{area.pk}/", **headers)
    if visible:
        assert response.status_code == 200
        assert response.json()["code"] == area.code
    else:
        assert response.status_code == 404
        assert response.json() == {"code": "not_found", "message": response.json()["message"], "fields": {}}


EXPECTED_AREA_LISTS = {
    "center": {"s", "c1", "c2", "g11", "g12", "g21", "grp1", "grp2"},
    "leader": {"s", "c1", "c2", "g11", "g12", "g21", "grp1", "grp2"},
    "community": {"c1", "g11", "g12", "grp1", "grp2"},
    "grid_leader": {"g11", "grp1", "grp2"},
    "grid_worker": {"g11", "grp1", "grp2"},
    "group_leader": {"grp1"},
    "unit_handler": {"c1", "g11", "g12", "grp1", "grp2"},
    "mediator": {"c1", "g11", "g12", "grp1", "grp2"},
    "admin": {"s", "s2", "c1", "c2", "g11", "g12", "g21", "grp1", "grp2"},
    "nobody": set(),
}


@pytest.mark.parametrize("role", sorted(EXPECTED_AREA_LISTS))
def test_area_list_is_exactly_the_subtree(org_wide, role):
    user = getattr(org_wide.users, role)
    expected = {getattr(org_wide, attr).code for attr in EXPECTED_AREA_LISTS[role]}
    assert set(scoped(Area.objects.all(), user).values_list("code", flat=True)) == expected


def test_grid_worker_list_is_its_grid_and_groups(org, client):
    headers = api_headers(client, "wg01")
    body = client.get("/api/v1/areas/", **headers).json()
    assert {item["code"] for item in body["results"]} == {org.g11.code, org.grp1.code, org.grp2.code}
    assert body["count"] == 3


EXPECTED_UNITS = {
    "center": {"测试派出所", "测试物业", "二社区物业"},
    "leader": {"测试派出所", "测试物业", "二社区物业"},
    "community": {"测试派出所", "测试物业"},
    "grid_leader": {"测试派出所", "测试物业"},
    "grid_worker": {"测试派出所", "测试物业"},
    "group_leader": {"测试派出所", "测试物业"},
    "unit_handler": {"测试派出所", "测试物业"},
    "mediator": {"测试派出所", "测试物业"},
    "admin": {"测试派出所", "测试物业", "二社区物业", "邻街道派出所"},
    "nobody": set(),
}


@pytest.mark.parametrize("role", sorted(EXPECTED_UNITS))
def test_units_follow_the_ancestor_rule(org_wide, role):
    """A unit serving an area above the user's serves the user's area too; a sibling's unit does not."""
    user = getattr(org_wide.users, role)
    assert set(scoped(Unit.objects.all(), user).values_list("name", flat=True)) == EXPECTED_UNITS[role]


def test_grid_worker_sees_the_police_station_but_not_the_sibling_communitys_property_company(org_wide):
    wg01 = org_wide.users.grid_worker
    assert scoped_get(Unit.objects.all(), wg01, pk=org_wide.police.pk) == org_wide.police
    with pytest.raises(NotFound):
        scoped_get(Unit.objects.all(), wg01, pk=org_wide.c2_prop.pk)


def test_unit_handler_sees_its_own_unit_even_outside_the_area_rule(org_wide):
    """The unit rule grants the handler's unit by id: moving the unit to another community keeps it visible."""
    org_wide.prop.area = org_wide.c2
    org_wide.prop.save()
    handler = org_wide.users.unit_handler
    fresh = type(handler).objects.get(pk=handler.pk)
    assert org_wide.prop.pk in set(scoped(Unit.objects.all(), fresh).values_list("pk", flat=True))
    assert scope_for(fresh).unit_ids == (org_wide.prop.pk,)


EXPECTED_BRANCHES = {
    "center": {"一二网格党支部", "三网格党支部"},
    "leader": {"一二网格党支部", "三网格党支部"},
    "community": {"一二网格党支部"},
    "grid_leader": {"一二网格党支部"},
    "grid_worker": {"一二网格党支部"},
    # The branch is built on the grid above the household group: the group leader sees their grid's branch.
    "group_leader": {"一二网格党支部"},
    "unit_handler": {"一二网格党支部"},
    "mediator": {"一二网格党支部"},
    "admin": {"一二网格党支部", "三网格党支部"},
    "nobody": set(),
}


@pytest.mark.parametrize("role", sorted(EXPECTED_BRANCHES))
def test_party_branches_reach_the_scope_through_their_grids(org_wide, role):
    user = getattr(org_wide.users, role)
    names = list(scoped(PartyBranch.objects.all(), user).values_list("name", flat=True))
    assert set(names) == EXPECTED_BRANCHES[role]
    assert len(names) == len(set(names)), "a branch on two visible grids must be listed once"


def test_community_staff_on_a_branch_spanning_two_grids_sees_it_once(org):
    rows = list(scoped(PartyBranch.objects.all(), org.users.community))
    assert rows == [org.branch]


def test_posts_of_a_grid_worker_are_those_in_its_grid_subtree(org):
    usernames = set(scoped(Post.objects.all(), org.users.grid_worker).values_list("user__username", flat=True))
    assert usernames == {"gl01", "wg01", "lb01"}


def test_posts_of_a_unit_handler_include_its_own_unit_post(org):
    posts = scoped(Post.objects.all(), org.users.unit_handler)
    assert posts.filter(user=org.users.unit_handler, unit=org.prop).exists()
    assert set(posts.values_list("user__username", flat=True)) == {"unit01", "sq01", "gl01", "wg01", "lb01", "tj01"}


def test_posts_of_the_center_cover_every_post_in_the_subdistrict(org):
    """Area posts by the area, unit posts by the area the unit serves."""
    usernames = set(scoped(Post.objects.all(), org.users.center).values_list("user__username", flat=True))
    assert usernames == {"center", "leader", "sq01", "gl01", "wg01", "lb01", "tj01", "unit01"}


def test_unit_posts_are_seen_from_the_area_the_unit_serves(org):
    """unit01 works at the property company serving C1: C1's staff see that post, C2's grid does not."""

    def names(user):
        return set(scoped(Post.objects.all(), user).values_list("user__username", flat=True))

    assert "unit01" in names(org.users.community)
    assert "unit01" not in names(org.users.grid_worker)


def test_superuser_and_nobody(org):
    assert scoped(Post.objects.all(), org.users.admin).count() == Post.objects.count()
    assert not scoped(Post.objects.all(), org.users.nobody).exists()
    assert scope_for(org.users.nobody).is_empty
    assert scope_for(org.users.admin).everything


def test_inactive_post_grants_nothing(org, client):
    headers = api_headers(client, "wg01")
    assert client.get(f"/api/v1/areas/{org.g11.pk}/", **headers).status_code == 200
    for post in Post.objects.filter(user=org.users.grid_worker):  # as the admin ends a post: through save()
        post.active = False
        post.save()

    fresh = type(org.users.grid_worker).objects.get(pk=org.users.grid_worker.pk)
    assert scope_for(fresh).is_empty
    assert not scoped(Area.objects.all(), fresh).exists()
    assert not scoped(Unit.objects.all(), fresh).exists()
    assert not scoped(PartyBranch.objects.all(), fresh).exists()
    # The API computes the scope per request, so the token now reaches nothing.
    assert client.get(f"/api/v1/areas/{org.g11.pk}/", **headers).status_code == 404
    assert client.get("/api/v1/areas/", **headers).json()["count"] == 0


def test_inactive_post_does_not_count_beside_an_active_one(org):
    from gridgov.areas import services

    wg01 = org.users.grid_worker
    extra = services.post_create(actor=None, user=wg01, role="grid_worker", area=org.g21)
    extra.active = False
    extra.save()
    fresh = type(wg01).objects.get(pk=wg01.pk)
    assert scope_for(fresh).area_codes == (org.g11.code,)


def test_anonymous_and_inactive_users_see_nothing(org):
    from django.contrib.auth.models import AnonymousUser

    assert scope_for(AnonymousUser()).is_empty
    assert scope_for(None).is_empty
    assert not scoped(Area.objects.all(), AnonymousUser()).exists()
    wg01 = org.users.grid_worker
    type(wg01).objects.filter(pk=wg01.pk).update(is_active=False)
    fresh = type(wg01).objects.get(pk=wg01.pk)
    assert not scoped(Area.objects.all(), fresh).exists()


def test_scope_is_computed_once_per_user_object(org, django_assert_max_num_queries):
    wg01 = type(org.users.grid_worker).objects.get(pk=org.users.grid_worker.pk)
    with django_assert_max_num_queries(2):  # the posts generation's token, then the posts
        scope_for(wg01)
        scope_for(wg01)


def test_scope_is_kept_per_process_until_a_post_changes_anywhere(org, django_assert_num_queries):
    from gridgov.core.models import Generation
    from gridgov.core.scope import POSTS_GENERATION

    def fresh():
        return type(org.users.grid_worker).objects.get(pk=org.users.grid_worker.pk)

    assert scope_for(fresh()).area_codes == (org.g11.code,)
    user = fresh()
    with django_assert_num_queries(1):  # only the token: the posts are kept
        assert scope_for(user).area_codes == (org.g11.code,)
    # Another process gives the worker a second grid: its transaction writes the post and a new token.
    post = Post(user=org.users.grid_worker, role="grid_worker", area=org.g21)
    Post.objects.bulk_create([post])  # no signal reaches this process
    assert scope_for(fresh()).area_codes == (org.g11.code,)  # the token has not moved: still kept
    Generation.objects.filter(name=POSTS_GENERATION).update(value=12345)
    assert scope_for(fresh()).area_codes == tuple(sorted((org.g11.code, org.g21.code)))


def test_minimal_prefixes_keep_filters_short(org):
    """A community post and a grid post inside it leave one prefix."""
    from gridgov.areas import services

    services.post_create(actor=None, user=org.users.grid_worker, role="community", area=org.c1)
    fresh = type(org.users.grid_worker).objects.get(pk=org.users.grid_worker.pk)
    assert scope_for(fresh).area_codes == (org.c1.code,)
    assert scope_for(fresh).roles == frozenset({"community", "grid_worker"})


def test_model_without_scope_rule_cannot_be_read(org):
    with pytest.raises(TypeError, match="scope_rule"):
        scoped(AuditEvent.objects.all(), org.users.grid_worker)


@pytest.mark.parametrize("pk", ["abc", None, "999999999"])
def test_scoped_get_turns_bad_keys_into_not_found(org, pk):
    with pytest.raises(NotFound):
        scoped_get(Area.objects.all(), org.users.admin, pk=pk)
