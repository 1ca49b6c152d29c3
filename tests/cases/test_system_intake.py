"""Cases sent by other systems (Open311 clients, cameras, the 12345 hotline) with no signed-in user."""

from __future__ import annotations

import pytest

from gridgov.cases.choices import CaseLevel, Source
from gridgov.cases.models import Case
from gridgov.cases.services import case_report
from gridgov.core.errors import ApplicationError
from tests.cases.conftest import IN_G11, IN_G21, OUTSIDE


@pytest.mark.parametrize("source", [Source.OPEN311, Source.CAMERA, Source.HOTLINE])
def test_a_system_source_reports_without_a_user(org, source):
    case = case_report(actor=None, source=source, category="01001", title="暴露垃圾", **IN_G11)
    assert (case.source, case.grid, case.reporter) == (source, org.g11, None)


def test_a_user_source_needs_a_user(org):
    with pytest.raises(ApplicationError) as caught:
        case_report(actor=None, source=Source.GRID_WORKER, category="01001", title="暴露垃圾", **IN_G11)
    assert list(caught.value.fields) == ["source"]
    assert not Case.objects.exists()


def test_media_url_is_kept_and_must_be_a_web_address(org):
    link = "https://cam.example.org/snap/42.jpg"
    case = case_report(actor=None, source=Source.CAMERA, category="01001", title="暴露垃圾", media_url=link, **IN_G11)
    assert Case.objects.get(pk=case.pk).media_url == link
    for bad in ("javascript:alert(1)", "ftp://x.org/a.jpg", "not a link", "https://x.org/" + "a" * 500):
        with pytest.raises(ApplicationError) as caught:
            case_report(actor=None, source=Source.CAMERA, category="01001", title="暴露垃圾", media_url=bad, **IN_G11)
        assert list(caught.value.fields) == ["media_url"], bad
    assert Case.objects.count() == 1


def test_within_refuses_a_point_outside_the_senders_area(org):
    with pytest.raises(ApplicationError) as caught:
        case_report(actor=None, source=Source.CAMERA, category="01001", title="暴露垃圾", within=org.c1, **IN_G21)
    assert caught.value.code == "outside_scope"
    assert not Case.objects.exists()
    inside = case_report(actor=None, source=Source.CAMERA, category="01001", title="暴露垃圾", within=org.c1, **IN_G11)
    assert inside.grid == org.g11


def test_a_point_outside_every_grid_but_inside_the_area_goes_to_its_subdistrict(org):
    # The subdistrict's boundary is wider than its grids: 117.025, 32.615 lies in it but in no grid.
    point = {"lng": 117.025, "lat": 32.615}
    case = case_report(actor=None, source=Source.HOTLINE, category="01001", title="暴露垃圾", within=org.s, **point)
    assert (case.outside_grids, case.level, case.handling_area) == (True, CaseLevel.SUBDISTRICT, org.s)


def test_a_point_far_outside_the_senders_area_is_refused(org):
    with pytest.raises(ApplicationError) as caught:
        case_report(actor=None, source=Source.HOTLINE, category="01001", title="暴露垃圾", within=org.s, **OUTSIDE)
    assert caught.value.code == "outside_scope"
    assert not Case.objects.exists()


def test_without_a_point_an_address_goes_to_the_senders_subdistrict(org):
    case = case_report(
        actor=None, source=Source.HOTLINE, category="01001", title="暴露垃圾", address="某路1号", within=org.c2
    )
    assert (case.outside_grids, case.handling_area) == (True, org.s)
