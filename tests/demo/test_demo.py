"""`gridgov demo`: the 毕家岗街道 it builds, its accounts, and its refusal to touch foreign data.

The tests that only read the demo share one build per class (inside a transaction rolled back
afterwards): a build takes seconds, and the registry's part is tested in tests/registry.
"""

from __future__ import annotations

import io
import itertools
from contextlib import contextmanager

import pytest
import shapely
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone
from shapely.geometry import shape

from gridgov.accounts.models import User
from gridgov.accounts.services import user_create
from gridgov.areas.choices import Level, Role, UnitKind
from gridgov.areas.geo import AREAS_GENERATION, grid_index
from gridgov.areas.models import Area, PartyBranch, Post, Unit
from gridgov.core import generations
from gridgov.core.models import AuditEvent
from gridgov.demo.builder import chinese_number
from gridgov.demo.models import DemoMarker
from gridgov.registry.models import Resident

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _debug(settings):
    settings.DEBUG = True


def run_demo(*args: str) -> str:
    out = io.StringIO()
    call_command("demo", *args, stdout=out)
    return out.getvalue()


@contextmanager
def built_demo():
    """The demo built into the test database, rolled back afterwards; yields what the command printed."""
    fast = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    with transaction.atomic():
        with override_settings(DEBUG=True, PASSWORD_HASHERS=fast):
            output = run_demo()
        yield output
        transaction.set_rollback(True)


@pytest.fixture(scope="class")
def demo(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), built_demo() as output:
        yield output


def grids() -> list[Area]:
    return list(Area.objects.filter(level=Level.GRID).order_by("code"))


class TestTheBuiltDemo:
    """What one build of the demo holds."""

    def test_builds_the_organisation_tree_of_the_article(self, demo):
        subdistrict = Area.objects.get(level=Level.SUBDISTRICT)
        assert (subdistrict.code, subdistrict.name) == ("340404004", "毕家岗街道")
        communities = list(Area.objects.filter(level=Level.COMMUNITY).order_by("code"))
        assert [c.code for c in communities] == [f"340404004{n:03d}" for n in range(1, 5)]
        assert communities[0].name == "新建社区"
        assert len(grids()) == 25
        assert grids()[0].name == "新建社区第一网格"
        for grid in grids():
            assert grid.parent.parent_id == subdistrict.pk
            groups = list(grid.children.order_by("code"))
            assert 12 <= len(groups) <= 16
            assert [g.code for g in groups] == [f"{grid.code}{n:02d}" for n in range(1, len(groups) + 1)]
        for area in Area.objects.all():
            assert area.boundary["type"] == "Polygon"
            assert area.centre is not None

    def test_the_intake_channels_and_their_mapping_rules_survive_the_flush(self, demo):
        from gridgov.integrations.models import IntakeChannel, MappingRule

        assert sorted(IntakeChannel.objects.values_list("channel", flat=True)) == ["camera", "generic", "hotline_12345"]
        camera = MappingRule.objects.filter(channel="camera")
        assert camera.count() >= 10 and all(rule.category.code[2:] != "000" for rule in camera)
        assert "integrations…" in demo or "对接…" in demo

    def test_seventeen_party_branches_cover_every_grid_once(self, demo):
        branches = list(PartyBranch.objects.prefetch_related("grids"))
        assert len(branches) == 17
        sizes = sorted(len(b.grids.all()) for b in branches)
        assert sizes == [1] * 9 + [2] * 8
        covered = [g.pk for b in branches for g in b.grids.all()]
        assert sorted(covered) == sorted(g.pk for g in grids())
        for branch in branches:
            assert len({g.parent_id for g in branch.grids.all()}) == 1, "a branch stays within one community"
            assert branch.secretary
            assert 15 <= branch.member_count <= 60
        assert PartyBranch.objects.filter(name="新建社区第一二网格联合党支部").exists()
        assert PartyBranch.objects.filter(name="新建社区第七网格党支部").exists()

    def test_units_serve_the_subdistrict_and_the_property_company_serves_xinjian(self, demo):
        subdistrict = Area.objects.get(level=Level.SUBDISTRICT)
        for kind in (
            UnitKind.POLICE,
            UnitKind.JUDICIAL,
            UnitKind.COURT,
            UnitKind.ENFORCEMENT,
            UnitKind.DEPARTMENT,
            UnitKind.CENTER,
        ):
            assert Unit.objects.filter(kind=kind, area=subdistrict).exists(), kind
        assert Unit.objects.filter(kind=UnitKind.PROPERTY, area__name="新建社区").count() == 1
        assert not Unit.objects.filter(kind=UnitKind.PROPERTY, area=subdistrict).exists()
        assert Unit.objects.filter(kind=UnitKind.COMMUNITY).count() == 4

    def test_grids_tile_the_subdistrict_and_communities(self, demo):
        subdistrict = shape(Area.objects.get(level=Level.SUBDISTRICT).boundary)
        polygons = {g.pk: shape(g.boundary) for g in grids()}
        assert all(p.is_valid for p in polygons.values())
        union = shapely.unary_union(list(polygons.values()))
        assert abs(union.area - subdistrict.area) < 1e-9
        assert union.symmetric_difference(subdistrict).area < 1e-9
        assert abs(sum(p.area for p in polygons.values()) - subdistrict.area) < 1e-9
        for a, b in itertools.combinations(polygons.values(), 2):
            assert a.intersection(b).area == 0
        for community in Area.objects.filter(level=Level.COMMUNITY):
            outline = shape(community.boundary)
            assert outline.is_valid
            own = shapely.unary_union([polygons[g.pk] for g in community.children.all()])
            assert own.symmetric_difference(outline).area < 1e-9
        # Near Huainan.
        minx, miny, maxx, maxy = subdistrict.bounds
        assert 116.95 < minx < maxx < 117.05 and 32.55 < miny < maxy < 32.65

    def test_household_groups_tile_their_grid(self, demo):
        for grid in grids():
            outline = shape(grid.boundary)
            parts = [shape(g.boundary) for g in grid.children.all()]
            assert all(p.is_valid for p in parts)
            assert abs(sum(p.area for p in parts) - outline.area) < 1e-12
            assert shapely.unary_union(parts).symmetric_difference(outline).area < 1e-12
            for a, b in itertools.combinations(parts, 2):
                assert a.intersection(b).area < 1e-15

    def test_grid_index_finds_each_grid_from_its_centre(self, demo):
        for grid in grids():
            assert grid_index.locate(grid.centre_lng, grid.centre_lat) == grid.pk, grid.name
        assert grid_index.locate(116.0, 32.0) is None

    def test_accounts_hold_their_posts_and_share_the_password(self, demo):
        all_grids = grids()
        communities = list(Area.objects.filter(level=Level.COMMUNITY).order_by("code"))

        def post(username: str) -> Post:
            posts = list(Post.objects.filter(user__username=username))
            assert len(posts) == 1, username
            return posts[0]

        admin = User.objects.get(username="admin")
        assert admin.is_superuser and not admin.posts.exists()
        assert (post("center").role, post("center").area.level) == (Role.CENTER, Level.SUBDISTRICT)
        assert (post("leader").role, post("leader").area.level) == (Role.LEADER, Level.SUBDISTRICT)
        for n, community in enumerate(communities, start=1):
            assert (post(f"sq{n:02d}").role, post(f"sq{n:02d}").area) == (Role.COMMUNITY, community)
        for n, grid in enumerate(all_grids, start=1):
            assert (post(f"wg{n:02d}").role, post(f"wg{n:02d}").area) == (Role.GRID_WORKER, grid)
            assert (post(f"gl{n:02d}").role, post(f"gl{n:02d}").area) == (Role.GRID_LEADER, grid)
            assert post(f"lb{n:02d}").role == Role.GROUP_LEADER
            assert post(f"lb{n:02d}").area.parent == grid
        assert post("wg01").area.code == "340404004001001"
        assert post("wg25").area == all_grids[-1]
        assert post("unit01").unit.kind == UnitKind.PROPERTY
        assert post("unit01").unit.area.name == "新建社区"
        assert post("unit02").unit.kind == UnitKind.POLICE
        assert post("unit03").unit.kind == UnitKind.JUDICIAL
        users = list(User.objects.all())
        assert len(users) == 1 + 2 + 4 + 25 + 25 + 3 + 5 + 25
        assert len({u.name for u in users}) == len(users), "every account has its own full name"
        for user in users:
            assert user.name
            assert user.check_password(django_settings.GRIDGOV_DEMO_PASSWORD), user.username
            assert not user.check_password("wrong-Password-1")

    def test_writes_go_through_the_audited_services(self, demo):
        assert AuditEvent.objects.filter(event_type="area.create").count() == Area.objects.count()
        assert AuditEvent.objects.filter(event_type="user.create").count() == User.objects.count()
        assert AuditEvent.objects.filter(event_type="post.create").count() == Post.objects.count()
        assert DemoMarker.objects.count() == 1

    def test_prints_progress_accounts_and_password(self, demo):
        """The output is in the default language, Simplified Chinese."""
        assert "25 个网格" in demo
        assert "17 个党支部" in demo
        assert "wg25" in demo and "unit03" in demo
        assert django_settings.GRIDGOV_DEMO_PASSWORD in demo
        assert "http://127.0.0.1:8000/" in demo


def test_refuses_a_database_it_did_not_build():
    user_create(actor=None, username="someone", password="Real-password-2026", name="某人")
    with pytest.raises(CommandError, match="不是由 gridgov demo 创建"):
        run_demo()
    assert User.objects.filter(username="someone").exists()
    assert not Area.objects.exists()
    assert not DemoMarker.objects.exists()
    # --force is about DEBUG, not about foreign data.
    with pytest.raises(CommandError, match="不是由 gridgov demo 创建"):
        run_demo("--force")
    assert list(User.objects.values_list("username", flat=True)) == ["someone"]


def test_refuses_without_debug_unless_forced(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG"):
        run_demo()
    assert not Area.objects.exists()
    run_demo("--force")
    assert Area.objects.filter(level=Level.GRID).count() == 25


@pytest.mark.django_db(transaction=True)
def test_rebuilds_its_own_database_deterministically():
    # Transactional, as in real use: each run commits. (PostgreSQL cannot TRUNCATE tables holding
    # deferred foreign-key checks of the same transaction, which a second run inside one test would.)
    day = timezone.localdate()  # birth dates count back from the day of the build
    run_demo()
    first = {a.code: (a.name, a.boundary) for a in Area.objects.all()}
    first_names = set(User.objects.values_list("username", "name"))
    first_people = people()
    old_grid = grids()[0]
    assert grid_index.locate(old_grid.centre_lng, old_grid.centre_lat) == old_grid.pk
    generation = generations.current(AREAS_GENERATION)

    user_create(actor=None, username="tester", password="Real-password-2026")  # data of a demo is disposable
    run_demo()
    assert DemoMarker.objects.count() == 1
    assert not User.objects.filter(username="tester").exists()
    assert {a.code: (a.name, a.boundary) for a in Area.objects.all()} == first
    assert set(User.objects.values_list("username", "name")) == first_names
    assert PartyBranch.objects.count() == 17
    if timezone.localdate() == day:
        assert people() == first_people
    # The flush and rebuild give the index a generation it never saw, so caches of the old tree go stale.
    assert generations.current(AREAS_GENERATION) not in (0, generation)
    new_grid = grids()[0]
    assert grid_index.locate(new_grid.centre_lng, new_grid.centre_lat) == new_grid.pk

    run_demo("--seed", "7")
    assert {a.code: a.boundary for a in Area.objects.all()} != {code: b for code, (_n, b) in first.items()}
    assert DemoMarker.objects.get().seed == 7
    assert people() != first_people


def people() -> set[tuple]:
    """The residents as values that show whether two builds made the same people (hashes, not numbers)."""
    return set(Resident.objects.values_list("area_code", "name", "birth_date", "id_number_hash", "address"))


def test_chinese_numbers():
    assert [chinese_number(n) for n in (1, 7, 10, 12, 20, 25)] == ["一", "七", "十", "十二", "二十", "二十五"]
