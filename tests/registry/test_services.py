"""Every write to the registry: validation collected at once, duplicates, permissions, the audited reveal."""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import date, timedelta
from unittest import mock

import pytest
from django.contrib.auth.models import Permission
from django.db import connection

from gridgov.core.errors import ApplicationError, Conflict, NotFound, PermissionDenied
from gridgov.core.models import AuditEvent, AuditResult
from gridgov.core.privacy import ID_NUMBER, PHONE, Sensitive, search_hash
from gridgov.registry import services
from gridgov.registry.choices import Relation
from gridgov.registry.models import Building, Household, Place, Resident, Shop, Tag

ID = "340404199001011294"  # male, born 1 January 1990
ID_MASKED = "340404********1294"
ID_FEMALE = "34040419900101126X"
ID_OTHER = "340404198506150025"  # female, born 15 June 1985
MOBILE = "13812345678"
MOBILE_MASKED = "138****5678"
LANDLINE = "0554-2669359"

MODELS = (Resident, Household, Building, Shop, Place, Tag, AuditEvent)


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


@contextmanager
def nothing_written():
    """The block must be refused with an ApplicationError and leave every registry table and the audit as they were."""
    before = counts()
    with pytest.raises(ApplicationError) as excinfo:
        yield excinfo
    assert counts() == before


def refresh(user):
    """A fresh copy of a user (no cached scope or permissions)."""
    return type(user).objects.get(pk=user.pk)


def grant_restricted(user):
    user.user_permissions.add(Permission.objects.get(codename="view_restricted_tags"))
    return refresh(user)


def make(org, *, actor=None, grid=None, **fields):
    fields.setdefault("name", "张三")
    fields.setdefault("id_number", ID)
    return services.resident_create(actor=actor, grid=grid or org.g11, **fields)


def audit_rows(event: str):
    return list(AuditEvent.objects.filter(event_type=event).order_by("id"))


# --- creating residents -----------------------------------------------------------------------


def test_resident_create_derives_gender_and_birth_date(org):
    resident = make(org, actor=org.users.grid_worker, group=org.grp1, id_number=" 34040419900101126x ", phone=MOBILE)
    fresh = Resident.objects.get(pk=resident.pk)
    assert fresh.gender == "female"
    assert fresh.birth_date == date(1990, 1, 1)
    assert fresh.id_number.reveal() == ID_FEMALE
    assert fresh.phone.reveal() == MOBILE
    assert (fresh.grid, fresh.group, fresh.area_code) == (org.g11, org.grp1, org.grp1.code)
    assert fresh.id_number_hash == search_hash(ID_NUMBER, ID_FEMALE)
    assert fresh.phone_hash == search_hash(PHONE, MOBILE)
    [event] = audit_rows("resident.create")
    assert event.actor == org.users.grid_worker
    assert event.object_id == str(resident.pk)
    assert event.data == {"area": org.grp1.code, "tags": []}


def test_resident_create_with_gender_and_birth_date_that_agree(org):
    resident = make(org, gender="male", birth_date=date(1990, 1, 1))
    assert (resident.gender, resident.birth_date) == ("male", date(1990, 1, 1))


def test_resident_without_id_number_needs_a_gender(org):
    resident = make(org, id_number="", gender="female", birth_date=date(1950, 3, 1))
    assert Resident.objects.get(pk=resident.pk).id_number_hash is None
    with nothing_written() as excinfo:
        make(org, id_number="")
    assert set(excinfo.value.fields) == {"gender"}


def test_resident_in_a_household_takes_its_grid_and_group(org):
    household = services.household_create(actor=None, group=org.grp2, address="幸福路 1 号")
    resident = services.resident_create(actor=None, household=household, name="张三", id_number=ID)
    assert (resident.grid, resident.group, resident.area_code) == (org.g11, org.grp2, org.grp2.code)
    assert list(household.members.all()) == [resident]


def test_resident_create_assigns_tags(org):
    tags = list(Tag.objects.filter(code__in=["dibao", "dangyuan"]))
    resident = make(org, actor=org.users.grid_worker, tags=tags)
    assert {t.code for t in resident.tags.all()} == {"dibao", "dangyuan"}
    assert sorted(audit_rows("resident.create")[0].data["tags"]) == ["dangyuan", "dibao"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "长" * 51}, "name"),
        ({"gender": "other"}, "gender"),
        # With a gender: without one, a refused ID number leaves the gender missing too.
        ({"id_number": "34040419900101129", "gender": "male"}, "id_number"),
        ({"id_number": "340404199001011295", "gender": "male"}, "id_number"),
        ({"id_number": "340404199002301290", "gender": "male"}, "id_number"),
        ({"id_number": "990404199001011290", "gender": "male"}, "id_number"),
        ({"phone": "12812345678"}, "phone"),
        ({"phone": "2669359"}, "phone"),
        ({"relation": "cousin"}, "relation"),
        ({"living_status": "emigrated"}, "living_status"),
        ({"id_number": "", "gender": "", "birth_date": date(1990, 1, 1)}, "gender"),
        ({"id_number": "", "gender": "male", "birth_date": date.today() + timedelta(days=1)}, "birth_date"),
    ],
)
def test_every_invalid_field_is_refused(org, fields, field):
    with nothing_written() as excinfo:
        make(org, actor=org.users.grid_worker, **fields)
    error = excinfo.value
    assert (error.code, error.status) == ("invalid", 400)
    assert set(error.fields) == {field}
    assert error.message == error.fields[field][0]


def test_problems_are_collected_together(org):
    with nothing_written() as excinfo:
        make(org, name="", gender="male", id_number="340404199001011295", phone="12812345678")
    assert set(excinfo.value.fields) == {"name", "id_number", "phone"}


def test_everything_wrong_at_once(org):
    with nothing_written() as excinfo:
        make(org, name="", gender="x", id_number="1", phone="2", relation="y", living_status="z")
    assert set(excinfo.value.fields) == {"name", "gender", "id_number", "phone", "relation", "living_status"}


def test_gender_and_birth_date_contradicting_the_id_number(org):
    with nothing_written() as excinfo:
        make(org, id_number=ID, gender="female", birth_date=date(1991, 1, 1))
    assert set(excinfo.value.fields) == {"gender", "birth_date"}
    assert "1990-01-01" in excinfo.value.fields["birth_date"][0]


@pytest.mark.parametrize(("grid_attr", "group_attr"), [(None, None), ("c1", None), ("g12", "grp1"), ("grp1", None)])
def test_placement_must_be_a_grid_and_its_group(org, grid_attr, group_attr):
    grid = getattr(org, grid_attr) if grid_attr else None
    group = getattr(org, group_attr) if group_attr else None
    with nothing_written() as excinfo:
        services.resident_create(actor=None, grid=grid, group=group, name="张三", id_number=ID)
    assert excinfo.value.code == "invalid_area"


def test_a_group_alone_places_the_record_in_its_grid(org):
    resident = services.resident_create(actor=None, group=org.grp2, name="张三", id_number=ID)
    assert (resident.grid, resident.group) == (org.g11, org.grp2)


# --- duplicates -------------------------------------------------------------------------------


def test_a_duplicate_held_outside_the_actors_area_is_refused_without_naming_it(org):
    """wg01 may not learn who holds the number in grid G21, or where."""
    other = make(org, actor=org.users.center, grid=org.g21)
    with nothing_written() as excinfo:
        make(org, actor=org.users.grid_worker, name="李四")
    error = excinfo.value
    assert (error.code, error.status) == ("duplicate_id_number", 409)
    assert "existing_resident" not in error.fields
    assert str(other.pk) not in json.dumps(error.as_dict(), ensure_ascii=False)


@pytest.mark.parametrize(
    "typed", [ID, ID.lower(), f" {ID[:6]} {ID[6:14]} {ID[14:]} ", "３４０４０４１９９００１０１１２９４"]
)
def test_a_duplicate_id_number_is_refused_with_a_link(org, typed):
    first = make(org, actor=org.users.grid_worker)
    with nothing_written() as excinfo:
        make(org, actor=org.users.community, grid=org.g12, name="李四", id_number=typed)
    error = excinfo.value
    assert isinstance(error, Conflict)
    assert (error.code, error.status) == ("duplicate_id_number", 409)
    assert error.fields["existing_resident"] == [f"/registry/residents/{first.pk}/"]
    assert "id_number" in error.fields
    assert ID not in json.dumps(error.as_dict(), ensure_ascii=False)


def test_an_id_number_ending_in_x_is_a_duplicate_however_it_is_typed(org):
    make(org, id_number=ID_FEMALE)
    for typed in (ID_FEMALE.lower(), "３４０４０４１９９００１０１１２６Ｘ", "34０４０４１９９００１０１１２６X"):
        with nothing_written() as excinfo:
            make(org, name="李四", id_number=typed)
        assert excinfo.value.code == "duplicate_id_number"


def test_a_concurrent_duplicate_is_a_409_not_a_500(org):
    """Two requests pass the pre-check before either commits: the unique index refuses the second cleanly."""
    make(org)
    with (
        mock.patch("gridgov.registry.services.duplicate_id_number", return_value=None),
        nothing_written() as excinfo,
    ):
        make(org, name="李四", grid=org.g12)
    assert isinstance(excinfo.value, Conflict)
    assert (excinfo.value.code, excinfo.value.status) == ("duplicate_id_number", 409)
    assert "id_number" in excinfo.value.fields
    # The connection is usable afterwards: the failed insert was rolled back to its savepoint.
    assert make(org, name="王五", id_number=ID_OTHER).pk


def test_a_concurrent_duplicate_on_update_is_a_409_not_a_500(org):
    make(org)
    other = make(org, name="李四", id_number=ID_OTHER)
    with (
        mock.patch("gridgov.registry.services.duplicate_id_number", return_value=None),
        nothing_written() as excinfo,
    ):
        services.resident_update(actor=None, resident=other, id_number=ID, gender="male", birth_date=date(1990, 1, 1))
    assert (excinfo.value.code, excinfo.value.status) == ("duplicate_id_number", 409)
    assert Resident.objects.get(pk=other.pk).id_number.reveal() == ID_OTHER


def test_update_to_an_id_number_already_registered(org):
    first = make(org)
    other = make(org, name="李四", id_number=ID_OTHER)
    with nothing_written() as excinfo:
        services.resident_update(actor=None, resident=other, id_number=ID, gender="male", birth_date=date(1990, 1, 1))
    assert excinfo.value.code == "duplicate_id_number"
    assert excinfo.value.fields["existing_resident"] == [f"/registry/residents/{first.pk}/"]


def test_keeping_ones_own_id_number_is_not_a_duplicate(org):
    resident = make(org)
    services.resident_update(actor=None, resident=resident, id_number=ID.lower(), name="张三丰")
    assert Resident.objects.get(pk=resident.pk).name == "张三丰"


# --- who may write ----------------------------------------------------------------------------

# (role, status of the refusal or None when allowed) for a resident written into G11.
WRITERS = [
    ("admin", None),
    ("center", None),
    ("community", None),
    ("grid_leader", None),
    ("grid_worker", None),
    ("leader", 403),  # sees the registry, may not change it
    ("group_leader", 404),  # the grid lies above the group leader's scope
    ("unit_handler", 404),  # reference-only: the registry is outside the scope
    ("mediator", 404),
    ("nobody", 404),
]


@pytest.mark.parametrize(("role", "status"), WRITERS, ids=[role for role, _ in WRITERS])
def test_who_may_create_residents(org, role, status):
    actor = getattr(org.users, role)
    if status is None:
        assert make(org, actor=actor).pk
        return
    with nothing_written() as excinfo:
        make(org, actor=actor)
    assert excinfo.value.status == status
    assert isinstance(excinfo.value, PermissionDenied if status == 403 else NotFound)


@pytest.mark.parametrize(("role", "status"), WRITERS, ids=[role for role, _ in WRITERS])
def test_who_may_create_the_other_records(org, role, status):
    actor = getattr(org.users, role)
    writes = [
        lambda: services.household_create(actor=actor, grid=org.g11, address="幸福路 1 号"),
        lambda: services.building_create(actor=actor, grid=org.g11, address="幸福路 1 号", use="residential"),
        lambda: services.shop_create(actor=actor, grid=org.g11, name="小店", business_type="餐饮"),
        lambda: services.place_create(
            actor=actor, grid=org.g11, kind="park", name="公园", geometry={"type": "Point", "coordinates": [117, 32]}
        ),
    ]
    for write in writes:
        if status is None:
            assert write().pk
        else:
            with nothing_written() as excinfo:
                write()
            assert excinfo.value.status == status


@pytest.mark.parametrize(("role", "grid_attr"), [("grid_worker", "g21"), ("grid_worker", "g12"), ("community", "g21")])
def test_writing_outside_ones_area_is_not_found(org, role, grid_attr):
    with nothing_written() as excinfo:
        make(org, actor=getattr(org.users, role), grid=getattr(org, grid_attr))
    assert isinstance(excinfo.value, NotFound)
    assert excinfo.value.status == 404


def test_a_grid_worker_may_not_move_a_resident_out_of_their_grid(org):
    resident = make(org, actor=org.users.grid_worker)
    with nothing_written() as excinfo:
        services.resident_update(actor=org.users.grid_worker, resident=resident, grid=org.g21)
    assert excinfo.value.status == 404
    assert Resident.objects.get(pk=resident.pk).grid == org.g11


def test_a_grid_worker_may_not_change_a_resident_of_another_grid(org):
    resident = make(org, grid=org.g21)
    with nothing_written() as excinfo:
        services.resident_update(actor=org.users.grid_worker, resident=resident, name="改名")
    assert excinfo.value.status == 404


def test_community_staff_may_move_a_resident_between_their_grids(org):
    resident = make(org, actor=org.users.grid_worker, group=org.grp1)
    services.resident_update(actor=org.users.community, resident=resident, grid=org.g12)
    fresh = Resident.objects.get(pk=resident.pk)
    assert (fresh.grid, fresh.group, fresh.area_code) == (org.g12, None, org.g12.code)


# --- updating residents -----------------------------------------------------------------------


def test_update_keeps_id_and_phone_when_not_given(org):
    resident = make(org, phone=MOBILE)
    fresh = Resident.objects.get(pk=resident.pk)
    services.resident_update(actor=org.users.grid_worker, resident=fresh, name="张三丰", id_number=None, phone=None)
    again = Resident.objects.get(pk=resident.pk)
    assert again.name == "张三丰"
    assert again.id_number.reveal() == ID and again.phone.reveal() == MOBILE
    assert again.id_number_hash == search_hash(ID_NUMBER, ID)
    assert again.phone_hash == search_hash(PHONE, MOBILE)
    [event] = audit_rows("resident.update")
    assert event.data == {"fields": ["name"]}


def test_update_changes_the_phone_and_its_hash(org):
    resident = make(org, phone=MOBILE)
    services.resident_update(actor=None, resident=resident, phone="+86 139 0000 1111")
    fresh = Resident.objects.get(pk=resident.pk)
    assert fresh.phone.reveal() == "13900001111"
    assert fresh.phone_hash == search_hash(PHONE, "13900001111")


def test_update_audit_lists_field_names_never_values(org):
    resident = make(org, phone=MOBILE, address="幸福路 1 号")
    services.resident_update(
        actor=org.users.grid_worker,
        resident=Resident.objects.get(pk=resident.pk),
        id_number=ID_OTHER,
        gender="female",
        birth_date=date(1985, 6, 15),
        phone=LANDLINE,
        address="和平路 2 号",
        notes="新备注",
    )
    [event] = audit_rows("resident.update")
    assert event.data == {"fields": ["address", "birth_date", "gender", "id_number", "notes", "phone"]}
    text = json.dumps(event.data, ensure_ascii=False) + event.object_repr
    for value in (ID, ID_OTHER, ID_MASKED, MOBILE, MOBILE_MASKED, "2669359", "和平路", "新备注", "1985"):
        assert value not in text


def test_update_refuses_unknown_fields(org):
    resident = make(org)
    with nothing_written() as excinfo:
        services.resident_update(actor=None, resident=resident, id_number_hash="x")
    assert excinfo.value.code == "invalid"


def test_update_validates_like_create(org):
    resident = make(org)
    with nothing_written() as excinfo:
        services.resident_update(actor=None, resident=resident, phone="12812345678", name="")
    assert set(excinfo.value.fields) == {"phone", "name"}
    assert Resident.objects.get(pk=resident.pk).name == "张三"


def test_update_can_clear_the_phone_with_an_empty_string(org):
    resident = make(org, phone=MOBILE)
    services.resident_update(actor=None, resident=resident, phone="")
    fresh = Resident.objects.get(pk=resident.pk)
    assert not fresh.phone and fresh.phone_hash is None


# --- tags -------------------------------------------------------------------------------------


def test_restricted_tags_need_the_permission(org):
    key = Tag.objects.get(code="xidu")
    with nothing_written() as excinfo:
        make(org, actor=org.users.grid_worker, tags=[key])
    assert excinfo.value.status == 403
    actor = grant_restricted(org.users.grid_worker)
    resident = make(org, actor=actor, tags=[key])
    assert list(resident.tags.all()) == [key]


def test_restricted_tags_cannot_be_set_by_update_without_the_permission(org):
    resident = make(org)
    key = Tag.objects.get(code="xidu")
    with nothing_written():
        services.resident_update(actor=org.users.grid_worker, resident=resident, tags=[key])
    assert not resident.tags.exists()


def test_care_tags_need_no_permission(org):
    resident = make(org, actor=org.users.grid_worker)
    services.resident_update(actor=org.users.grid_worker, resident=resident, tags=list(Tag.objects.filter(kind="care")))
    assert resident.tags.filter(kind="care").count() == Tag.objects.filter(kind="care").count()


def test_update_without_the_permission_keeps_restricted_tags(org):
    key, care = Tag.objects.get(code="xidu"), Tag.objects.get(code="dibao")
    resident = make(org, tags=[key])
    services.resident_update(actor=org.users.grid_worker, resident=resident, tags=[care])
    assert set(resident.tags.values_list("code", flat=True)) == {"xidu", "dibao"}


# --- reveal -----------------------------------------------------------------------------------

# (role, allowed) for a resident of household group G11-01.
REVEALERS = [
    ("admin", True),
    ("center", True),
    ("community", True),
    ("grid_leader", True),
    ("grid_worker", True),
    ("leader", False),
    ("group_leader", False),
    ("unit_handler", False),
    ("mediator", False),
    ("nobody", False),
]


@pytest.mark.parametrize(("role", "allowed"), REVEALERS, ids=[role for role, _ in REVEALERS])
def test_reveal_per_role(org, role, allowed):
    resident = make(org, group=org.grp1, phone=MOBILE)
    actor = getattr(org.users, role)
    fresh = Resident.objects.get(pk=resident.pk)
    if allowed:
        assert services.reveal(actor=actor, obj=fresh, ip="10.0.0.7") == {"id_number": ID, "phone": MOBILE}
    else:
        with pytest.raises(PermissionDenied) as excinfo:
            services.reveal(actor=actor, obj=fresh, ip="10.0.0.7")
        assert excinfo.value.status == 403
        assert ID not in str(excinfo.value)
    [event] = audit_rows("privacy.reveal")
    assert event.result == (AuditResult.SUCCESS if allowed else AuditResult.DENIED)
    assert (event.object_type, event.object_id) == ("registry.resident", str(resident.pk))
    assert event.actor_username == actor.username
    assert event.ip == "10.0.0.7"
    assert event.data == ({"fields": ["id_number", "phone"]} if allowed else {})
    assert ID not in json.dumps(event.data) and MOBILE not in json.dumps(event.data)


def test_a_grid_worker_may_not_reveal_outside_their_grid(org):
    resident = make(org, grid=org.g21)
    with pytest.raises(PermissionDenied):
        services.reveal(actor=org.users.grid_worker, obj=resident)
    assert [e.result for e in audit_rows("privacy.reveal")] == [AuditResult.DENIED]


def test_reveal_roles_come_from_the_setting(org, settings):
    settings.GRIDGOV_REVEAL_ROLES = ["center"]
    resident = make(org)
    assert services.reveal(actor=org.users.center, obj=resident)["id_number"] == ID
    with pytest.raises(PermissionDenied):
        services.reveal(actor=org.users.grid_worker, obj=resident)


def test_reveal_of_a_shop_phone(org):
    shop = services.shop_create(actor=None, grid=org.g11, name="小店", business_type="餐饮", phone=LANDLINE)
    assert services.reveal(actor=org.users.grid_worker, obj=Shop.objects.get(pk=shop.pk)) == {"phone": LANDLINE}
    assert audit_rows("privacy.reveal")[0].object_type == "registry.shop"


def test_reveal_of_an_empty_value(org):
    resident = make(org, id_number="", gender="male")
    assert services.reveal(actor=None, obj=Resident.objects.get(pk=resident.pk)) == {"id_number": "", "phone": ""}


# --- households -------------------------------------------------------------------------------


def test_household_head_must_be_a_member(org):
    household = services.household_create(
        actor=org.users.grid_worker, group=org.grp1, address="幸福路 1 号", room="101"
    )
    member = services.resident_create(actor=None, household=household, name="张三", id_number=ID)
    stranger = make(org, name="李四", id_number=ID_OTHER)
    with nothing_written() as excinfo:
        services.household_set_head(actor=org.users.grid_worker, household=household, head=stranger)
    assert excinfo.value.code == "invalid_household"
    assert "head" in excinfo.value.fields
    services.household_set_head(actor=org.users.grid_worker, household=household, head=member)
    household.refresh_from_db()
    member.refresh_from_db()
    assert household.head == member
    assert member.relation == Relation.HEAD
    assert audit_rows("household.set_head")[0].data == {"head": member.pk}
    assert str(household) == "幸福路 1 号 101"


def test_household_set_head_needs_write_permission(org):
    household = services.household_create(actor=None, grid=org.g11, address="幸福路 1 号")
    member = services.resident_create(actor=None, household=household, name="张三", id_number=ID)
    with nothing_written() as excinfo:
        services.household_set_head(actor=org.users.leader, household=household, head=member)
    assert excinfo.value.status == 403


def test_household_needs_an_address(org):
    with nothing_written() as excinfo:
        services.household_create(actor=None, grid=org.g11, address="  ")
    assert excinfo.value.code == "invalid_household"
    assert "address" in excinfo.value.fields


def test_a_resident_may_not_join_a_household_of_another_grid(org):
    household = services.household_create(actor=None, grid=org.g12, address="幸福路 1 号")
    with nothing_written() as excinfo:
        services.resident_create(actor=None, grid=org.g11, household=household, name="张三", id_number=ID)
    assert excinfo.value.code == "invalid_area"


# --- buildings --------------------------------------------------------------------------------


def test_building_create(org):
    building = services.building_create(
        actor=org.users.grid_worker,
        grid=org.g11,
        address="幸福路 1 号",
        use="self_built",
        floors=3,
        structure="brick_concrete",
        year_built=1998,
        safety_grade="C",
        lng=117.005,
        lat=32.605,
    )
    fresh = Building.objects.get(pk=building.pk)
    assert (fresh.use, fresh.floors, fresh.safety_grade, fresh.area_code) == ("self_built", 3, "C", org.g11.code)
    assert audit_rows("building.create")[0].data == {"area": org.g11.code}


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"use": ""}, "use"),
        ({"use": "castle"}, "use"),
        ({"structure": "straw"}, "structure"),
        ({"safety_grade": "E"}, "safety_grade"),
        ({"year_built": 1799}, "year_built"),
        ({"year_built": date.today().year + 1}, "year_built"),
        ({"lng": 117.0}, "lng"),
        ({"lat": 32.6}, "lng"),
        ({"lng": 181.0, "lat": 32.6}, "lng"),
        ({"lng": 117.0, "lat": -91.0}, "lng"),
        ({"address": ""}, "address"),
    ],
)
def test_building_refusals(org, fields, field):
    arguments = {"address": "幸福路 1 号", "use": "residential", **fields}
    with nothing_written() as excinfo:
        services.building_create(actor=None, grid=org.g11, **arguments)
    assert excinfo.value.code == "invalid_building"
    assert field in excinfo.value.fields


def test_building_year_bounds_are_inclusive(org):
    for year in (1800, date.today().year):
        assert services.building_create(actor=None, grid=org.g11, address="路", use="mixed", year_built=year).pk


def test_building_problems_are_collected_together(org):
    with nothing_written() as excinfo:
        services.building_create(
            actor=None, grid=org.g11, address="路", use="castle", structure="straw", year_built=3000, lng=1.0
        )
    assert set(excinfo.value.fields) == {"use", "structure", "year_built", "lng"}


# --- shops ------------------------------------------------------------------------------------


def test_shop_create(org):
    shop = services.shop_create(
        actor=org.users.grid_worker,
        group=org.grp2,
        name="小店",
        business_type="餐饮",
        licence_number="91340404ma2nxxxx0k",
        phone="(0554)2669359",
    )
    fresh = Shop.objects.get(pk=shop.pk)
    assert fresh.licence_number == "91340404MA2NXXXX0K"
    assert fresh.phone.reveal() == LANDLINE and str(fresh.phone) == "0554-***9359"
    assert fresh.phone_hash == search_hash(PHONE, "0554 2669359")
    assert fresh.area_code == org.grp2.code


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"licence_number": "91340404MA2NXXXX0"}, "licence_number"),  # 17 characters
        ({"licence_number": "91340404MA2NXXXX0KK"}, "licence_number"),  # 19
        ({"licence_number": "91340404MA2NXXX-0K"}, "licence_number"),
        ({"phone": "12812345678"}, "phone"),
        ({"phone": "2669359"}, "phone"),
        ({"lng": 117.0}, "lng"),
        ({"name": ""}, "name"),
        ({"business_type": ""}, "business_type"),
    ],
)
def test_shop_refusals(org, fields, field):
    arguments = {"name": "小店", "business_type": "餐饮", **fields}
    with nothing_written() as excinfo:
        services.shop_create(actor=None, grid=org.g11, **arguments)
    assert excinfo.value.code == "invalid_shop"
    assert field in excinfo.value.fields


# --- places -----------------------------------------------------------------------------------

POINT = {"type": "Point", "coordinates": [117.005, 32.605]}
LINE = {"type": "LineString", "coordinates": [[117.001, 32.601], [117.009, 32.601]]}
POLYGON = {"type": "Polygon", "coordinates": [[[117.0, 32.6], [117.01, 32.6], [117.01, 32.61], [117.0, 32.6]]]}


@pytest.mark.parametrize("geometry", [POINT, LINE, POLYGON], ids=["point", "line", "polygon"])
def test_place_geometries(org, geometry):
    place = services.place_create(
        actor=org.users.grid_worker, grid=org.g11, kind="road", name="公园路", geometry=geometry
    )
    assert Place.objects.get(pk=place.pk).geometry == geometry


@pytest.mark.parametrize(
    "geometry",
    [
        {"type": "MultiPolygon", "coordinates": [POLYGON["coordinates"]]},
        {"type": "GeometryCollection", "geometries": [POINT]},
        {"type": "Feature", "geometry": POINT},
        {"type": "Point"},
        {"type": "Point", "coordinates": "here"},
        {"type": "Point", "coordinates": []},
        {"type": "Polygon", "coordinates": []},
        {"type": "Point", "coordinates": [1170.0, 32.6]},
        {"type": "Point", "coordinates": [117.0, 91.0]},
        {"type": "Point", "coordinates": [float("nan"), 32.6]},
        {"type": "LineString", "coordinates": [[117.0, 32.6]]},
        # A bow tie: the ring crosses itself.
        {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]},
        "POINT (117 32)",
        None,
    ],
)
def test_place_refuses_other_geometries(org, geometry):
    with nothing_written() as excinfo:
        services.place_create(actor=None, grid=org.g11, kind="park", name="公园", geometry=geometry)
    assert excinfo.value.code == "invalid_place"
    assert "geometry" in excinfo.value.fields


def test_place_kind_must_be_known(org):
    with nothing_written() as excinfo:
        services.place_create(actor=None, grid=org.g11, kind="lake", name="湖", geometry=POINT)
    assert set(excinfo.value.fields) == {"kind"}


# --- tags -------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["center", "community", "grid_worker", "leader", "nobody"])
def test_tag_create_is_for_administrators_only(org, role):
    with nothing_written() as excinfo:
        services.tag_create(actor=getattr(org.users, role), code="gudu", name="孤独老人", kind="care")
    assert excinfo.value.status == 403


def test_tag_create(org):
    tag = services.tag_create(actor=org.users.admin, code="gudu", name="孤独老人", kind="care")
    assert Tag.objects.get(code="gudu") == tag
    assert not tag.restricted
    assert services.tag_create(actor=None, code="shedu", name="涉毒", kind="key").restricted
    assert [e.actor for e in audit_rows("tag.create")] == [org.users.admin, None]


@pytest.mark.parametrize(
    "fields",
    [
        {"code": "dibao", "name": "新低保"},  # the code exists
        {"code": "dibao2", "name": "低保"},  # the name exists
        {"code": "gudu", "name": "孤独老人", "kind": "secret"},
        {"code": "not a slug", "name": "孤独老人"},
        {"code": "", "name": "孤独老人"},
    ],
)
def test_tag_refusals(org, fields):
    arguments = {"kind": "care", **fields}
    with nothing_written() as excinfo:
        services.tag_create(actor=org.users.admin, **arguments)
    assert excinfo.value.code == "invalid_tag"
    assert excinfo.value.status == 400


# --- at rest ----------------------------------------------------------------------------------


def test_no_plaintext_reaches_the_tables(org):
    make(org, phone=MOBILE, notes="备注")
    services.shop_create(actor=None, grid=org.g11, name="小店", business_type="餐饮", phone=LANDLINE)
    with connection.cursor() as cursor:
        for table in ("registry_resident", "registry_shop", "core_auditevent"):
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608
            text = repr(cursor.fetchall())
            assert ID not in text and MOBILE not in text and "2669359" not in text


def test_services_accept_sensitive_values(org):
    """What a form or the import hands over may already be a Sensitive read from another record."""
    resident = make(org, id_number=Sensitive(ID, ID_NUMBER), phone=Sensitive(MOBILE, PHONE))
    fresh = Resident.objects.get(pk=resident.pk)
    assert (fresh.id_number.reveal(), fresh.phone.reveal()) == (ID, MOBILE)


def test_update_audits_moves_and_tag_changes_but_no_values(org):
    resident = make(org, actor=org.users.community, phone="13812345678")
    dibao = Tag.objects.get(code="dibao")
    services.resident_update(actor=org.users.community, resident=resident, grid=org.g12, tags=[dibao])
    event = AuditEvent.objects.filter(event_type="resident.update").latest("id")
    assert event.data["area"] == org.g12.code
    assert "area" in event.data["fields"]
    assert event.data["tags"] == {"before": [], "after": ["dibao"]}
    assert ID not in json.dumps(event.data) and "13812345678" not in json.dumps(event.data)


def test_placed_creates_refuse_unknown_and_missing_fields(org):
    with nothing_written() as excinfo:
        services.building_create(actor=org.users.community, grid=org.g11, address="和平路1号")
    assert excinfo.value.code == "invalid_building" and "use" in excinfo.value.fields
    with nothing_written() as excinfo:
        services.shop_create(
            actor=org.users.community, grid=org.g11, name="小卖部", business_type="便利店", colour="red"
        )
    assert excinfo.value.code == "invalid_shop"
