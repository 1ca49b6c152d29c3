"""Fieldwork fixtures: two checklists on households, households in G11 (grp1, grp2) and G12, set up through services."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest


@pytest.fixture
def checklists(db):
    """A fire checklist (one problem item opening 04002 within 7 days) and an anti-fraud one, both on households."""
    from gridgov.cases.models import BusinessLine, Category
    from gridgov.fieldwork.choices import ItemType, TargetKind
    from gridgov.fieldwork.models import ChecklistItem, ChecklistTemplate

    line = BusinessLine.objects.get(code="work_safety")
    fire = ChecklistTemplate.objects.create(
        code="t-fire", name="消防排查（测试）", business_line=line, target_kind=TargetKind.HOUSEHOLD
    )
    ChecklistItem.objects.create(
        template=fire,
        order=1,
        code="ebike_indoors",
        label="电动车入户充电",
        type=ItemType.YES_NO,
        problem_values=[True],
        category=Category.objects.get(code="04002"),
        rectify_days=7,
    )
    ChecklistItem.objects.create(
        template=fire, order=2, code="extinguishers", label="灭火器数量", type=ItemType.NUMBER, problem_below=1
    )
    ChecklistItem.objects.create(template=fire, order=3, code="note", label="备注", type=ItemType.TEXT, required=False)
    fraud = ChecklistTemplate.objects.create(
        code="t-fraud",
        name="反诈宣传（测试）",
        business_line=BusinessLine.objects.get(code="safety"),
        target_kind=TargetKind.HOUSEHOLD,
    )
    ChecklistItem.objects.create(
        template=fraud, order=1, code="leaflet", label="发放宣传单", type=ItemType.YES_NO, problem_values=[False]
    )
    ChecklistItem.objects.create(
        template=fraud,
        order=2,
        code="app",
        label="安装国家反诈中心APP",
        type=ItemType.CHOICE,
        choices=["已安装", "未安装", "无智能手机"],
    )
    return SimpleNamespace(fire=fire, fraud=fraud)


@pytest.fixture
def homes(org):
    """Households: h1 and h2 in G11/grp1 (h1 with a living-alone elder), h3 in G11/grp2, h4 in G12, h5 in G21."""
    from datetime import date

    from gridgov.registry.models import Tag
    from gridgov.registry.services import household_create, resident_create

    alone = Tag.objects.get(code="dujulaoren")

    def home(address, grid, group=None):
        return household_create(actor=None, grid=grid, group=group, address=address)

    h1 = home("一网格1号楼101", org.g11, org.grp1)
    h2 = home("一网格1号楼102", org.g11, org.grp1)
    h3 = home("一网格2号楼201", org.g11, org.grp2)
    h4 = home("二网格3号楼301", org.g12)
    h5 = home("三网格5号楼501", org.g21)
    elder = resident_create(
        actor=None, household=h1, name="王奶奶", gender="female", birth_date=date(1940, 3, 1), tags=[alone]
    )
    return SimpleNamespace(h1=h1, h2=h2, h3=h3, h4=h4, h5=h5, elder=elder)


@pytest.fixture
def campaign(org, checklists, homes):
    """A factory: a running campaign over the subdistrict with the given checklist and filter."""
    from django.utils import timezone

    from gridgov.fieldwork.services.campaigns import campaign_create

    def make(checklist=None, *, area=None, target_filter=None, days=30, **fields):
        today = timezone.localdate()
        return campaign_create(
            actor=org.users.center,
            name=fields.pop("name", "测试专项"),
            area=area or org.s,
            checklist=checklist or checklists.fire,
            starts_on=today,
            ends_on=today + timedelta(days=days),
            target_filter=target_filter,
            **fields,
        )

    return make
