"""Shared fixtures. State is set up by calling the real services, as users would cause it."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest

os.environ.setdefault("GRIDGOV_HUEY_IMMEDIATE", "1")
# Playwright's sync API runs an event loop in the test thread; the ORM calls made beside it are safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

PASSWORD = "Test-password-2026"


def square(lng: float, lat: float, size: float = 0.01) -> dict:
    """A GeoJSON square with its south-west corner at (lng, lat)."""
    return {
        "type": "Polygon",
        "coordinates": [[[lng, lat], [lng + size, lat], [lng + size, lat + size], [lng, lat + size], [lng, lat]]],
    }


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def org(db):
    """A small tree: subdistrict S, communities C1 and C2, grids G11 G12 (in C1) and G21 (in C2),
    groups G11-01 and G11-02, a police station serving S, a property company serving C1, a party
    branch on G11 and G12, and one user for each role (password PASSWORD)."""
    from gridgov.accounts.services import user_create
    from gridgov.areas import services as areas
    from gridgov.areas.choices import Role, UnitKind

    s = areas.area_create(actor=None, code="340404004", name="测试街道", boundary=square(117.0, 32.6, 0.03))
    c1 = areas.area_create(actor=None, code="340404004001", name="一社区", parent=s, boundary=square(117.0, 32.6, 0.02))
    c2 = areas.area_create(
        actor=None, code="340404004002", name="二社区", parent=s, boundary=square(117.02, 32.6, 0.01)
    )
    g11 = areas.area_create(actor=None, code="340404004001001", name="一网格", parent=c1, boundary=square(117.0, 32.6))
    g12 = areas.area_create(actor=None, code="340404004001002", name="二网格", parent=c1, boundary=square(117.01, 32.6))
    g21 = areas.area_create(actor=None, code="340404004002001", name="三网格", parent=c2, boundary=square(117.02, 32.6))
    grp1 = areas.area_create(actor=None, code="34040400400100101", name="一组", parent=g11)
    grp2 = areas.area_create(actor=None, code="34040400400100102", name="二组", parent=g11)
    police = areas.unit_create(actor=None, name="测试派出所", kind=UnitKind.POLICE, area=s)
    prop = areas.unit_create(actor=None, name="测试物业", kind=UnitKind.PROPERTY, area=c1)
    branch = areas.party_branch_create(actor=None, name="一二网格党支部", grids=[g11, g12])

    def person(username: str, role: str | None = None, *, area=None, unit=None, superuser: bool = False):
        user = user_create(actor=None, username=username, password=PASSWORD, name=username, is_superuser=superuser)
        if role:
            areas.post_create(actor=None, user=user, role=role, area=area, unit=unit)
        return user

    users = SimpleNamespace(
        admin=person("admin", superuser=True),
        center=person("center", Role.CENTER, area=s),
        leader=person("leader", Role.LEADER, area=s),
        community=person("sq01", Role.COMMUNITY, area=c1),
        grid_leader=person("gl01", Role.GRID_LEADER, area=g11),
        grid_worker=person("wg01", Role.GRID_WORKER, area=g11),
        group_leader=person("lb01", Role.GROUP_LEADER, area=grp1),
        unit_handler=person("unit01", Role.UNIT_HANDLER, unit=prop),
        mediator=person("tj01", Role.MEDIATOR, area=c1),
        nobody=person("nobody"),
    )
    return SimpleNamespace(
        s=s,
        c1=c1,
        c2=c2,
        g11=g11,
        g12=g12,
        g21=g21,
        grp1=grp1,
        grp2=grp2,
        police=police,
        prop=prop,
        branch=branch,
        users=users,
    )


@pytest.fixture
def api(client):
    """The Django test client speaking JSON."""
    return client


def token_for(client, username: str, password: str = PASSWORD) -> str:
    response = client.post(
        "/api/v1/auth/token/", {"username": username, "password": password}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    return response.json()["token"]


@pytest.fixture(autouse=True)
def _cold_grid_index():
    """Every test starts with a cold grid index and cold process caches, so no test depends on what an
    earlier one cached (a rolled-back database can hand a later test the token an earlier one saw)."""
    from gridgov.areas.geo import grid_index
    from gridgov.core import generations

    grid_index._snapshot = None
    generations.forget_all()
    yield
    grid_index._snapshot = None
    generations.forget_all()


@pytest.fixture
def org_wide(org):
    """`org` plus what scope tests compare against: a neighbouring subdistrict with a police station,
    a property company serving C2 and a party branch on G21."""
    from gridgov.areas import services as areas
    from gridgov.areas.choices import UnitKind

    org.s2 = areas.area_create(actor=None, code="340404005", name="邻街道", boundary=square(117.1, 32.6, 0.03))
    org.s2_police = areas.unit_create(actor=None, name="邻街道派出所", kind=UnitKind.POLICE, area=org.s2)
    org.c2_prop = areas.unit_create(actor=None, name="二社区物业", kind=UnitKind.PROPERTY, area=org.c2)
    org.branch2 = areas.party_branch_create(actor=None, name="三网格党支部", grids=[org.g21])
    return org


def api_headers(client, username: str, password: str = PASSWORD) -> dict:
    """Keyword arguments for the test client: the token of `username` in the Authorization header."""
    return {"HTTP_AUTHORIZATION": f"Token {token_for(client, username, password)}"}


def totp_code(device) -> str:
    """The code an authenticator app shows now."""
    from django_otp.oath import totp

    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def next_totp_code(device) -> str:
    """The next time step's code: a used code cannot be replayed, and the device may have synced its drift."""
    from django_otp.oath import totp

    device.refresh_from_db()
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=device.drift + 1):06d}"


@pytest.fixture(autouse=True, scope="session")
def _huey_immediate():
    """Tasks run inline in tests. The environment variable above comes too late for the settings
    pytest-django has already loaded, so switch the queue itself."""
    from huey.contrib.djhuey import HUEY

    HUEY.immediate = True
    yield
