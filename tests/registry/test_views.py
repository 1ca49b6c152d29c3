"""Registry pages through the test client: lists narrowed to the scope and the current area,
masked values, search and filters, the resident form, the audited reveal, the map, query counts."""

from __future__ import annotations

import json
import re
from datetime import date
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from gridgov.areas.selectors import SESSION_AREA_KEY
from gridgov.core.models import AuditEvent
from gridgov.core.validators import id_check_digit
from gridgov.registry import services
from gridgov.registry.models import Resident, Tag

FULL_ID = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
FULL_MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def id_number(birth: str = "19800101", seq: str = "123") -> str:
    """A valid GB 11643 number of region 340404 (the 17th digit odd: male, even: female)."""
    first17 = "340404" + birth + seq
    return first17 + id_check_digit(first17)


def wrong_checksum(number: str) -> str:
    return number[:-1] + ("0" if number[-1] != "0" else "1")


def tag(code: str) -> Tag:
    return Tag.objects.get(code=code)


def html(response) -> str:
    return response.content.decode()


def section(response, testid: str, end: str = "</table>") -> str:
    text = html(response)
    start = text.index(f'data-testid="{testid}"')
    return text[start : text.index(end, start)]


def assert_no_clear_personal_data(text: str, *values: str) -> None:
    for value in values:
        assert value not in text
    assert not FULL_ID.findall(text), FULL_ID.findall(text)
    assert not FULL_MOBILE.findall(text), FULL_MOBILE.findall(text)


def page_names(response) -> list[str]:
    return [r.name for r in response.context["page"]]


def map_data(response) -> dict:
    match = re.search(r'<script id="gg-registry-map-data" type="application/json">(.*?)</script>', html(response), re.S)
    assert match, "the page carries no map data"
    return json.loads(match.group(1))


def layer(data: dict, key: str) -> list[dict]:
    return next(entry for entry in data["layers"] if entry["key"] == key)["features"]["features"]


@pytest.fixture
def reg(org):
    """Registry rows in G11 (group 1, a household of two), G12 and G21, created through the services."""
    ids = SimpleNamespace(
        zhang=id_number("19800101", "123"),
        li=id_number("20150601", "224"),
        wang=id_number("19700315", "135"),
        zhao=id_number("19900909", "147"),
    )
    phones = SimpleNamespace(zhang="13812345678", li="", wang="13700001111", zhao="13900002222")
    building = services.building_create(
        actor=None,
        grid=org.g11,
        group=org.grp1,
        address="幸福路1号",
        use="self_built",
        floors=3,
        lng=117.005,
        lat=32.605,
    )
    household = services.household_create(
        actor=None, grid=org.g11, group=org.grp1, address="幸福路1号", room="101", building=building
    )
    zhang = services.resident_create(
        actor=None,
        household=household,
        name="张三",
        id_number=ids.zhang,
        phone=phones.zhang,
        relation="head",
        tags=[tag("dibao"), tag("dangyuan")],
        notes="腿脚不便",
    )
    services.household_set_head(actor=None, household=household, head=zhang)
    li = services.resident_create(
        actor=None, household=household, name="李小", id_number=ids.li, relation="child", tags=[tag("liushou")]
    )
    wang = services.resident_create(actor=None, grid=org.g12, name="王五", id_number=ids.wang, phone=phones.wang)
    zhao = services.resident_create(actor=None, grid=org.g21, name="赵六", id_number=ids.zhao, phone=phones.zhao)
    shop = services.shop_create(
        actor=None,
        grid=org.g11,
        group=org.grp2,
        name="便民超市",
        business_type="零售",
        phone="13655556666",
        lng=117.006,
        lat=32.606,
    )
    shop21 = services.shop_create(
        actor=None, grid=org.g21, name="三网格饭店", business_type="餐饮", phone="13544443333"
    )
    road = services.place_create(
        actor=None,
        grid=org.g11,
        kind="road",
        name="公园旁道路",
        geometry={"type": "LineString", "coordinates": [[117.001, 32.601], [117.009, 32.601]]},
    )
    camera21 = services.place_create(
        actor=None,
        grid=org.g21,
        kind="camera",
        name="三网格探头",
        geometry={"type": "Point", "coordinates": [117.025, 32.605]},
    )
    return SimpleNamespace(
        org=org,
        ids=ids,
        phones=phones,
        building=building,
        household=household,
        zhang=zhang,
        li=li,
        wang=wang,
        zhao=zhao,
        shop=shop,
        shop21=shop21,
        road=road,
        camera21=camera21,
    )


# Resident list


def test_resident_list_for_a_grid_worker_shows_its_grid_only(reg, client):
    client.force_login(reg.org.users.grid_worker)
    response = client.get("/registry/residents/")
    assert response.status_code == 200
    assert sorted(page_names(response)) == ["张三", "李小"]
    table = section(response, "resident-table")
    assert "王五" not in table
    assert "赵六" not in table
    assert "幸福路1号 101" in table
    assert "低保" in table


def test_resident_list_for_the_center_follows_the_area_switcher(reg, client):
    client.force_login(reg.org.users.center)
    assert sorted(page_names(client.get("/registry/residents/"))) == ["张三", "李小", "王五", "赵六"]
    session = client.session
    session[SESSION_AREA_KEY] = reg.org.c2.pk
    session.save()
    assert page_names(client.get("/registry/residents/")) == ["赵六"]


def test_resident_list_is_masked(reg, client):
    client.force_login(reg.org.users.center)
    response = client.get("/registry/residents/")
    text = html(response)
    assert_no_clear_personal_data(text, *vars(reg.ids).values(), reg.phones.zhang, reg.phones.wang)
    assert "340404********1234"[:6] in text
    assert f"{reg.ids.zhang[:6]}********{reg.ids.zhang[-4:]}" in text
    assert "138****5678" in text


def test_resident_list_buttons_follow_the_role(reg, client):
    client.force_login(reg.org.users.grid_worker)
    text = html(client.get("/registry/residents/"))
    assert 'href="/registry/residents/new/"' in text
    assert f'href="{reverse("registry:import_start")}?kind=residents"' in text
    assert f'href="{reverse("registry:export", args=["residents"])}"' in text
    client.force_login(reg.org.users.leader)
    text = html(client.get("/registry/residents/", {"q": "张"}))
    assert 'href="/registry/residents/new/"' not in text
    assert "kind=residents" not in text, "no import for a read-only role"
    assert f'href="{reverse("registry:export", args=["residents"])}?q=%E5%BC%A0"' in text, (
        "the export follows the filter"
    )


@pytest.mark.parametrize("attr", ["ids", "phones"])
def test_search_by_a_full_number_finds_exactly_that_resident(reg, client, attr):
    client.force_login(reg.org.users.center)
    value = getattr(reg, attr).zhang
    response = client.get("/registry/residents/", {"q": value})
    assert page_names(response) == ["张三"]
    # The number appears only where the page echoes the query the user typed, never from the record.
    echoed = html(response).replace(f'value="{value}"', "").replace(f"q={value}", "")
    assert_no_clear_personal_data(echoed, value)


def test_search_by_a_spaced_id_number_and_by_name(reg, client):
    client.force_login(reg.org.users.center)
    spaced = f"{reg.ids.wang[:6]} {reg.ids.wang[6:14]} {reg.ids.wang[14:]}"
    assert page_names(client.get("/registry/residents/", {"q": spaced})) == ["王五"]
    assert page_names(client.get("/registry/residents/", {"q": "赵"})) == ["赵六"]


def test_search_stays_in_the_scope(reg, client):
    client.force_login(reg.org.users.grid_worker)
    assert page_names(client.get("/registry/residents/", {"q": reg.ids.zhao})) == []


def test_tag_and_age_filters(reg, client):
    client.force_login(reg.org.users.center)
    assert page_names(client.get("/registry/residents/", {"tags": [tag("dibao").pk]})) == ["张三"]
    assert page_names(client.get("/registry/residents/", {"tags": [tag("dibao").pk, tag("liushou").pk]})) == []
    assert page_names(client.get("/registry/residents/", {"age_max": 17})) == ["李小"]
    assert sorted(page_names(client.get("/registry/residents/", {"age_min": 30, "age_max": 50}))) == ["张三", "赵六"]
    assert page_names(client.get("/registry/residents/", {"grid": reg.org.g12.pk})) == ["王五"]


def test_resident_list_query_count_does_not_grow_with_the_page(reg, client, django_assert_max_num_queries):
    client.force_login(reg.org.users.center)
    client.get("/registry/residents/")  # warm the session and caches

    def measure() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/registry/residents/").status_code == 200
        return len(ctx.captured_queries)

    few = measure()
    household = reg.household
    for n in range(30):
        services.resident_create(
            actor=None,
            household=household,
            name=f"居民{n}",
            id_number=id_number("19850101", f"{n:03d}"),
            tags=[tag("zhiyuanzhe")],
        )
    with django_assert_max_num_queries(22):  # the layout (session, menu, switcher) included
        assert client.get("/registry/residents/").status_code == 200
    assert measure() == few


# Resident detail


def test_resident_detail_is_masked_and_shows_the_household(reg, client):
    client.force_login(reg.org.users.grid_worker)
    response = client.get(f"/registry/residents/{reg.zhang.pk}/")
    assert response.status_code == 200
    text = html(response)
    assert_no_clear_personal_data(text, reg.ids.zhang, reg.ids.li, reg.phones.zhang)
    assert f"{reg.ids.zhang[:6]}********{reg.ids.zhang[-4:]}" in text
    assert "138****5678" in text
    assert f'href="/registry/households/{reg.household.pk}/"' in text
    members = section(response, "member-table", "</ul>")
    assert "李小" in members
    assert "张三" not in members, "the other members only"
    assert "腿脚不便" in text
    assert 'data-testid="reveal"' in text


@pytest.mark.parametrize("who", ["grid_worker", "group_leader"])
def test_resident_detail_outside_the_scope_is_404(reg, client, who):
    client.force_login(getattr(reg.org.users, who))
    response = client.get(f"/registry/residents/{reg.zhao.pk}/")
    assert response.status_code == 404
    assert "赵六" not in html(response)


def test_restricted_tags_are_hidden_without_the_permission(reg, client):
    services.resident_update(actor=None, resident=reg.zhang, tags=[tag("dibao"), tag("xidu")])
    client.force_login(reg.org.users.grid_worker)
    assert tag("xidu").name not in html(client.get(f"/registry/residents/{reg.zhang.pk}/"))
    assert tag("xidu").name not in html(client.get("/registry/residents/"))
    client.force_login(reg.org.users.admin)
    assert tag("xidu").name in html(client.get(f"/registry/residents/{reg.zhang.pk}/"))


def test_group_leader_gets_no_reveal_or_edit_button(reg, client):
    client.force_login(reg.org.users.group_leader)
    text = html(client.get(f"/registry/residents/{reg.zhang.pk}/"))
    assert 'data-testid="reveal"' not in text
    assert 'data-testid="edit"' not in text


# Reveal


def test_reveal_shows_full_values_to_a_permitted_role_and_audits(reg, client):
    client.force_login(reg.org.users.grid_worker)
    response = client.post(f"/registry/residents/{reg.zhang.pk}/reveal/")
    assert response.status_code == 200
    text = html(response)
    assert reg.ids.zhang in text
    assert reg.phones.zhang in text
    assert reg.ids.li not in text, "only the record asked for"
    assert "no-store" in response["Cache-Control"]
    event = AuditEvent.objects.get(event_type="privacy.reveal")
    assert (event.actor, event.result, event.object_id) == (reg.org.users.grid_worker, "success", str(reg.zhang.pk))


def test_reveal_through_htmx_answers_the_partial(reg, client):
    client.force_login(reg.org.users.grid_worker)
    response = client.post(f"/registry/residents/{reg.zhang.pk}/reveal/", headers={"HX-Request": "true"})
    assert response.status_code == 200
    text = html(response)
    assert text.lstrip().startswith('<div id="gg-sensitive"')
    assert "<html" not in text
    assert reg.ids.zhang in text
    assert 'data-testid="revealed"' in text


@pytest.mark.parametrize("htmx", [False, True])
def test_reveal_is_refused_to_a_group_leader_and_audited(reg, client, htmx):
    client.force_login(reg.org.users.group_leader)
    headers = {"HX-Request": "true"} if htmx else {}
    response = client.post(f"/registry/residents/{reg.zhang.pk}/reveal/", headers=headers)
    assert response.status_code == 403
    assert_no_clear_personal_data(html(response), reg.ids.zhang, reg.phones.zhang)
    assert 'data-testid="reveal-refused"' in html(response) if htmx else "alert-danger" in html(response)
    event = AuditEvent.objects.get(event_type="privacy.reveal")
    assert (event.actor, event.result) == (reg.org.users.group_leader, "denied")


def test_reveal_outside_the_scope_is_404(reg, client):
    client.force_login(reg.org.users.grid_worker)
    response = client.post(f"/registry/residents/{reg.zhao.pk}/reveal/")
    assert response.status_code == 404
    assert reg.ids.zhao not in html(response)
    assert AuditEvent.objects.filter(event_type="privacy.reveal", result="denied").count() == 1


def test_reveal_needs_post(reg, client):
    client.force_login(reg.org.users.grid_worker)
    assert client.get(f"/registry/residents/{reg.zhang.pk}/reveal/").status_code == 405
    assert not AuditEvent.objects.filter(event_type="privacy.reveal").exists()


def test_shop_phone_is_masked_and_revealed_with_audit(reg, client):
    client.force_login(reg.org.users.grid_worker)
    listing = client.get("/registry/shops/")
    assert [s.name for s in listing.context["page"]] == ["便民超市"]
    assert "136****6666" in html(listing)
    assert_no_clear_personal_data(html(listing))
    detail = client.get(f"/registry/shops/{reg.shop.pk}/")
    assert_no_clear_personal_data(html(detail))
    revealed = client.post(f"/registry/shops/{reg.shop.pk}/reveal/", headers={"HX-Request": "true"})
    assert "13655556666" in html(revealed)
    assert AuditEvent.objects.filter(
        event_type="privacy.reveal", object_type="registry.shop", result="success"
    ).exists()
    assert client.get(f"/registry/shops/{reg.shop21.pk}/").status_code == 404


# The resident form


def form_data(org, **overrides) -> dict:
    data = {
        "name": "孙七",
        "gender": "",
        "birth_date": "",
        "id_number": id_number("19881212", "011"),
        "phone": "139 1234 5678",
        "grid": org.g11.pk,
        "group": org.grp2.pk,
        "household": "",
        "relation": "",
        "address": "和平路8号",
        "living_status": "resident",
        "notes": "",
    }
    data.update(overrides)
    return data


def test_create_resident(reg, client):
    client.force_login(reg.org.users.grid_worker)
    form = client.get("/registry/residents/new/")
    assert form.status_code == 200
    assert 'type="date"' in html(form)
    data = form_data(reg.org, tags=[tag("dibao").pk, tag("zhiyuanzhe").pk])
    response = client.post("/registry/residents/new/", data)
    resident = Resident.objects.get(name="孙七")
    assert response.status_code == 302
    assert response["Location"] == f"/registry/residents/{resident.pk}/"
    assert resident.area_code == reg.org.grp2.code
    assert resident.gender == "male"
    assert resident.birth_date == date(1988, 12, 12)
    assert resident.phone.reveal() == "13912345678"
    assert {t.code for t in resident.tags.all()} == {"dibao", "zhiyuanzhe"}
    detail = client.get(response["Location"])
    assert "孙七" in [str(m) for m in detail.context["messages"]][0]


def test_create_resident_in_a_household(reg, client):
    client.force_login(reg.org.users.grid_worker)
    data = form_data(reg.org, group="", household=reg.household.pk, relation="spouse")
    assert client.post("/registry/residents/new/", data).status_code == 302
    resident = Resident.objects.get(name="孙七")
    assert resident.household == reg.household
    assert resident.group == reg.org.grp1, "the household's group"


def test_create_resident_with_a_wrong_checksum_keeps_the_input(reg, client):
    client.force_login(reg.org.users.grid_worker)
    before = Resident.objects.count()
    bad = wrong_checksum(id_number("19881212", "011"))
    response = client.post("/registry/residents/new/", form_data(reg.org, id_number=bad))
    assert response.status_code == 200
    assert response.context["form"].errors["id_number"]
    assert Resident.objects.count() == before
    text = html(response)
    assert 'value="孙七"' in text
    assert f'value="{bad}"' in text, "what the user typed is not lost"
    assert 'value="和平路8号"' in text
    assert "is-invalid" in text


def test_create_resident_reports_field_errors_from_the_services(reg, client):
    client.force_login(reg.org.users.grid_worker)
    response = client.post("/registry/residents/new/", form_data(reg.org, gender="female", phone="12345"))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert set(errors) >= {"gender", "phone"}
    assert not Resident.objects.filter(name="孙七").exists()


def test_create_resident_with_a_household_of_another_grid_is_refused(reg, client):
    client.force_login(reg.org.users.community)
    response = client.post(
        "/registry/residents/new/", form_data(reg.org, grid=reg.org.g12.pk, group="", household=reg.household.pk)
    )
    assert response.status_code == 200
    assert response.context["form"].errors["household"]
    assert not Resident.objects.filter(name="孙七").exists()


def test_create_resident_with_a_duplicate_id_links_the_existing_record(reg, client):
    """Community staff of C1 see 王五 in G12: the refusal links to the record."""
    client.force_login(reg.org.users.community)
    response = client.post("/registry/residents/new/", form_data(reg.org, id_number=reg.ids.wang))
    assert response.status_code == 200
    assert response.context["form"].errors["id_number"]
    assert f'href="/registry/residents/{reg.wang.pk}/"' in section(response, "form-errors", "</div>\n  </div>")
    assert not Resident.objects.filter(name="孙七").exists()


def test_duplicate_held_outside_the_users_area_is_not_named(reg, client):
    """wg01 (G11) may not learn that 王五 of G12 holds the number, nor where."""
    client.force_login(reg.org.users.grid_worker)
    response = client.post("/registry/residents/new/", form_data(reg.org, id_number=reg.ids.wang))
    assert response.status_code == 200
    assert response.context["form"].errors["id_number"]
    assert f"/registry/residents/{reg.wang.pk}/" not in response.content.decode()
    assert not Resident.objects.filter(name="孙七").exists()


def test_create_resident_outside_the_grids_one_keeps(reg, client):
    client.force_login(reg.org.users.grid_worker)
    response = client.post("/registry/residents/new/", form_data(reg.org, grid=reg.org.g21.pk, group=""))
    assert response.status_code == 200
    assert response.context["form"].errors["grid"]
    assert not Resident.objects.filter(name="孙七").exists()


@pytest.mark.parametrize("who", ["group_leader", "leader", "unit_handler"])
def test_read_only_roles_get_no_resident_form(reg, client, who):
    client.force_login(getattr(reg.org.users, who))
    assert client.get("/registry/residents/new/").status_code == 403
    assert client.post("/registry/residents/new/", form_data(reg.org)).status_code == 403
    assert not Resident.objects.filter(name="孙七").exists()


def test_the_grid_choice_reloads_groups_and_households(reg, client):
    client.force_login(reg.org.users.community)
    blank = client.get("/registry/residents/new/")
    assert list(blank.context["form"].fields["household"].queryset) == []
    response = client.get("/registry/residents/new/", {"grid": reg.org.g11.pk}, headers={"HX-Request": "true"})
    placement = response.context["form"]
    assert list(placement.fields["group"].queryset) == [reg.org.grp1, reg.org.grp2]
    assert "一组" in html(response)
    assert "幸福路1号 101" in html(response)
    other = client.get("/registry/residents/new/", {"grid": reg.org.g12.pk})
    assert list(other.context["form"].fields["household"].queryset) == []


def test_edit_keeps_id_and_phone_when_left_blank(reg, client):
    client.force_login(reg.org.users.grid_worker)
    form = client.get(f"/registry/residents/{reg.zhang.pk}/edit/")
    assert form.status_code == 200
    text = html(form)
    assert_no_clear_personal_data(text, reg.ids.zhang, reg.phones.zhang)
    assert f'placeholder="{reg.ids.zhang[:6]}********{reg.ids.zhang[-4:]}"' in text
    data = form_data(
        reg.org,
        name="张三丰",
        id_number="",
        phone="",
        group=reg.org.grp1.pk,
        household=reg.household.pk,
        relation="head",
        tags=[tag("dibao").pk],
    )
    response = client.post(f"/registry/residents/{reg.zhang.pk}/edit/", data)
    assert response.status_code == 302, response.context["form"].errors
    zhang = Resident.objects.get(pk=reg.zhang.pk)
    assert zhang.name == "张三丰"
    assert zhang.id_number.reveal() == reg.ids.zhang
    assert zhang.phone.reveal() == reg.phones.zhang
    assert {t.code for t in zhang.tags.all()} == {"dibao"}


def test_edit_by_a_grid_worker_keeps_key_person_tags(reg, client):
    services.resident_update(actor=None, resident=reg.zhang, tags=[tag("dibao"), tag("xidu")])
    client.force_login(reg.org.users.grid_worker)
    data = form_data(reg.org, name="张三", id_number="", phone="", group=reg.org.grp1.pk, tags=[tag("dangyuan").pk])
    assert client.post(f"/registry/residents/{reg.zhang.pk}/edit/", data).status_code == 302
    assert {t.code for t in Resident.objects.get(pk=reg.zhang.pk).tags.all()} == {"dangyuan", "xidu"}


def test_edit_to_a_duplicate_id_is_refused(reg, client):
    client.force_login(reg.org.users.community)
    data = form_data(reg.org, name="张三", id_number=reg.ids.wang, phone="", group=reg.org.grp1.pk)
    response = client.post(f"/registry/residents/{reg.zhang.pk}/edit/", data)
    assert response.status_code == 200
    assert f'href="/registry/residents/{reg.wang.pk}/"' in html(response)
    assert Resident.objects.get(pk=reg.zhang.pk).id_number.reveal() == reg.ids.zhang


def test_edit_outside_the_scope_or_role(reg, client):
    client.force_login(reg.org.users.grid_worker)
    assert client.get(f"/registry/residents/{reg.zhao.pk}/edit/").status_code == 404
    client.force_login(reg.org.users.group_leader)
    assert client.get(f"/registry/residents/{reg.zhang.pk}/edit/").status_code == 403


# Households, buildings, places


def test_household_pages(reg, client):
    client.force_login(reg.org.users.grid_worker)
    listing = client.get("/registry/households/")
    assert listing.status_code == 200
    assert [(h.pk, h.member_count) for h in listing.context["page"]] == [(reg.household.pk, 2)]
    detail = client.get(f"/registry/households/{reg.household.pk}/")
    assert detail.status_code == 200
    members = section(detail, "member-table")
    assert members.index("张三") < members.index("李小"), "the head first"
    assert members.count('data-testid="head"') == 1
    assert_no_clear_personal_data(html(detail))
    client.force_login(reg.org.users.center)
    session = client.session
    session[SESSION_AREA_KEY] = reg.org.c2.pk
    session.save()
    assert list(client.get("/registry/households/").context["page"]) == []


def test_building_pages(reg, client):
    client.force_login(reg.org.users.grid_worker)
    listing = client.get("/registry/buildings/", {"use": "self_built"})
    assert [b.pk for b in listing.context["page"]] == [reg.building.pk]
    assert f'href="{reverse("registry:export", args=["buildings"])}?use=self_built"' in html(listing)
    detail = client.get(f"/registry/buildings/{reg.building.pk}/")
    assert detail.status_code == 200
    assert "幸福路1号" in section(detail, "building-households")
    assert len(layer(map_data(detail), "buildings")) == 1


def test_place_pages(reg, client):
    client.force_login(reg.org.users.grid_worker)
    listing = client.get("/registry/places/")
    assert [p.name for p in listing.context["page"]] == ["公园旁道路"]
    assert reverse("registry:import_start") not in html(listing), "places have no import"
    detail = client.get(f"/registry/places/{reg.road.pk}/")
    assert layer(map_data(detail), "places")[0]["geometry"]["type"] == "LineString"
    assert client.get(f"/registry/places/{reg.camera21.pk}/").status_code == 404
    assert client.get(f"/registry/buildings/{reg.building.pk + 1000}/").status_code == 404


# The map


def test_map_draws_the_current_area_only(reg, client):
    client.force_login(reg.org.users.grid_worker)
    response = client.get("/registry/map/")
    assert response.status_code == 200
    data = map_data(response)
    assert [f["properties"]["code"] for f in layer(data, "grids")] == [reg.org.g11.code]
    (building,) = layer(data, "buildings")
    assert building["properties"]["self_built"] is True
    assert building["properties"]["url"] == f"/registry/buildings/{reg.building.pk}/"
    assert [f["properties"]["name"] for f in layer(data, "shops")] == ["便民超市"]
    assert [f["geometry"]["type"] for f in layer(data, "places")] == ["LineString"]
    assert data["capped"] == []
    assert_no_clear_personal_data(html(response))


def test_map_says_when_it_stops_drawing(reg, client, monkeypatch):
    from gridgov.registry import views

    monkeypatch.setattr(views, "MAP_LIMIT", 0)
    client.force_login(reg.org.users.center)
    response = client.get("/registry/map/")
    assert 'data-testid="map-capped"' in html(response)
    assert map_data(response)["total"] == 0


# Navigation and access


def test_navigation_lists_the_registry_for_registry_roles_only(reg, client):
    client.force_login(reg.org.users.grid_worker)
    text = html(client.get("/"))
    for path in ("residents", "households", "buildings", "shops", "places", "map"):
        assert f'href="/registry/{path}/"' in text
    client.force_login(reg.org.users.unit_handler)
    assert 'href="/registry/residents/"' not in html(client.get("/"))


@pytest.mark.parametrize(
    "path",
    ["/registry/residents/", "/registry/residents/1/", "/registry/map/", "/registry/shops/", "/registry/places/"],
)
def test_anonymous_is_sent_to_login(db, client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
