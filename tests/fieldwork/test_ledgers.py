"""The campaign ledger (排查台账 .xlsx): one row per target in the user's scope, findings with their cases."""

from __future__ import annotations

import io
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from gridgov.core.errors import ApplicationError
from gridgov.core.models import AuditEvent
from gridgov.core.scope import scoped
from gridgov.fieldwork.choices import TargetState
from gridgov.fieldwork.ledgers import COLUMNS, campaign_ledger
from gridgov.fieldwork.models import CampaignTarget, ChecklistTemplate, Finding, Visit
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

HEADERS = [
    "序号",
    "社区",
    "网格",
    "联户组",
    "排查对象",
    "地址",
    "责任人",
    "排查时间",
    "发现问题",
    "是否立案 / 案件编号",
    "整改时限",
    "整改情况",
]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
IN_G11 = {"lat": 32.605, "lng": 117.005}


def make_campaign(org) -> SimpleNamespace:
    """A subdistrict house-safety campaign over four buildings (G11 group 1 and 2, G12, G21): the G11 group 1
    building visited with two problems (one opened a case), the G12 one visited with none, two pending."""
    from gridgov.cases.services import case_report
    from gridgov.fieldwork.services.campaigns import campaign_create
    from gridgov.registry.services import building_create

    b1 = building_create(actor=None, grid=org.g11, group=org.grp1, address="幸福路1号", use="residential")
    building_create(actor=None, grid=org.g11, group=org.grp2, address="幸福路2号", use="residential")
    b3 = building_create(actor=None, grid=org.g12, address="和平路3号", use="residential")
    building_create(actor=None, grid=org.g21, address="东山路4号", use="residential")
    today = timezone.localdate()
    campaign = campaign_create(
        actor=org.users.center,
        name="2026年房屋安全专项排查",
        area=org.s,
        checklist=ChecklistTemplate.objects.get(code="house-safety"),
        starts_on=today,
        ends_on=today + timedelta(days=30),
    )
    items = {item.code: item for item in campaign.checklist.items.all()}
    target1 = campaign.targets.get(building=b1)
    target3 = campaign.targets.get(building=b3)
    now = timezone.now()
    worker = org.users.grid_worker
    case = case_report(actor=worker, category="09003", title="屋面渗漏", **IN_G11)
    rectify_by = today + timedelta(days=15)
    for target, findings in ((target1, [("roof_leak", True, case), ("cracks", True, None)]), (target3, [])):
        visit = Visit.objects.create(
            kind=target.kind,
            building=target.building,
            label=target.label,
            address=target.address,
            grid=target.grid,
            group=target.group,
            area_code=target.area_code,
            visitor=worker,
            visitor_name=worker.name,
            visited_at=now,
        )
        for code, answer, opened in findings:
            Finding.objects.create(
                visit=visit,
                target=target,
                item=items[code],
                answer=answer,
                case=opened,
                rectify_by=rectify_by,
                area_code=target.area_code,
            )
        target.state, target.done_at, target.visit, target.problem_count = TargetState.DONE, now, visit, len(findings)
        target.save()
    campaign.done_count = 2
    campaign.save()
    return SimpleNamespace(campaign=campaign, case=case, rectify_by=rectify_by)


def rows_of(content: bytes) -> list[list]:
    sheet = load_workbook(io.BytesIO(content)).active
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def login(client, username: str):
    assert client.login(username=username, password=PASSWORD)
    return client


def test_the_ledger_lists_every_target_with_its_findings_and_totals(org):
    built = make_campaign(org)
    campaign = built.campaign
    content = campaign_ledger(campaign=campaign, targets=campaign.targets.all())
    rows = rows_of(content)
    assert rows[0][0] == "2026年房屋安全专项排查排查台账"
    assert (
        "范围：测试街道" in rows[1][0] and f"{campaign.starts_on:%Y-%m-%d} 至 {campaign.ends_on:%Y-%m-%d}" in rows[1][0]
    )
    assert rows[2] == HEADERS == [header for header, *_rest in COLUMNS]
    body, totals = rows[3:-1], rows[-1]
    assert [row[0] for row in body] == [1, 2, 3, 4]  # one row per target
    by_target = {row[4]: row for row in body}
    assert set(by_target) == {"幸福路1号", "幸福路2号", "和平路3号", "东山路4号"}

    visited = by_target["幸福路1号"]
    assert visited[1:4] == ["一社区", "一网格", "一组"]
    assert visited[6] == "wg01"
    assert visited[8] == "屋面、外墙是否渗漏：是\n墙体、梁柱、楼板是否有明显裂缝：是"
    assert visited[9] == f"{built.case.code}\n否"  # the case's code, and a finding that opened none
    assert visited[10] == f"{built.rectify_by:%Y-%m-%d}\n{built.rectify_by:%Y-%m-%d}"
    assert visited[11] == "待受理\n未立案"
    assert visited[7] is not None

    assert by_target["和平路3号"][8:12] == ["无", "否", None, "已完成"]
    assert by_target["东山路4号"][7:12] == [None, None, None, None, "未排查"]
    assert totals[0] == "合计" and totals[4] == "共4栋"
    assert totals[7:10] == ["已排查2栋\n未排查2栋", "发现问题2项", "立案1件"]


def test_a_grid_worker_exports_only_their_grid(client, org):
    campaign = make_campaign(org).campaign
    login(client, "wg01")
    response = client.get(f"/fieldwork/campaigns/{campaign.pk}/ledger.xlsx")
    assert response.status_code == 200
    assert response["Content-Type"] == XLSX
    rows = rows_of(b"".join(response.streaming_content))
    assert "范围：一网格" in rows[1][0]
    assert [row[4] for row in rows[3:-1]] == ["幸福路1号", "幸福路2号"]
    assert rows[-1][4] == "共2栋"
    event = AuditEvent.objects.get(event_type="fieldwork.campaign.export")
    assert (event.actor.username, event.object_id, event.data["rows"]) == ("wg01", str(campaign.pk), 2)


def test_community_staff_export_their_community(client, org):
    campaign = make_campaign(org).campaign
    login(client, "sq01")
    rows = rows_of(b"".join(client.get(f"/fieldwork/campaigns/{campaign.pk}/ledger.xlsx").streaming_content))
    assert sorted(row[4] for row in rows[3:-1]) == ["和平路3号", "幸福路1号", "幸福路2号"]


def test_a_campaign_outside_the_scope_is_not_found(client, org):
    from gridgov.fieldwork.services.campaigns import campaign_create
    from gridgov.registry.services import building_create

    building_create(actor=None, grid=org.g21, address="东山路4号", use="residential")
    today = timezone.localdate()
    campaign = campaign_create(
        actor=org.users.center,
        name="二社区排查",
        area=org.c2,
        checklist=ChecklistTemplate.objects.get(code="house-safety"),
        starts_on=today,
        ends_on=today,
    )
    login(client, "wg01")
    assert client.get(f"/fieldwork/campaigns/{campaign.pk}/ledger.xlsx").status_code == 404
    assert not AuditEvent.objects.filter(event_type="fieldwork.campaign.export").exists()


def test_anonymous_users_are_sent_to_log_in(client, org):
    campaign = make_campaign(org).campaign
    response = client.get(f"/fieldwork/campaigns/{campaign.pk}/ledger.xlsx")
    assert response.status_code == 302 and "login" in response["Location"]


def test_a_ledger_over_the_limit_is_refused_not_cut_short(client, org, settings):
    campaign = make_campaign(org).campaign
    settings.GRIDGOV_EXPORT_MAX_ROWS = 3
    with pytest.raises(ApplicationError) as refused:
        campaign_ledger(campaign=campaign, targets=campaign.targets.all())
    assert refused.value.code == "too_many_rows"

    login(client, "center")
    response = client.get(f"/fieldwork/campaigns/{campaign.pk}/ledger.xlsx", HTTP_REFERER="/fieldwork/")
    assert response.status_code == 302 and response["Location"] == "/fieldwork/"
    response = client.get(f"/fieldwork/campaigns/{campaign.pk}/ledger.xlsx")
    assert response["Location"] == f"/fieldwork/campaigns/{campaign.pk}/"
    assert not AuditEvent.objects.filter(event_type="fieldwork.campaign.export").exists()
    # Within the limit (the grid worker's two rows) the same campaign exports.
    login(client, "wg01")
    assert client.get(f"/fieldwork/campaigns/{campaign.pk}/ledger.xlsx").status_code == 200


def test_free_text_that_looks_like_a_formula_stays_text(org):
    campaign = make_campaign(org).campaign
    CampaignTarget.objects.filter(campaign=campaign, address="幸福路2号").update(
        label="=HYPERLINK(1)", address="@SUM(A1)"
    )
    rows = rows_of(campaign_ledger(campaign=campaign, targets=scoped(campaign.targets.all(), org.users.grid_worker)))
    assert [row[4:6] for row in rows[3:-1]][1] == ["'=HYPERLINK(1)", "'@SUM(A1)"]
