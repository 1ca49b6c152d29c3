"""The campaign ledger (排查台账, .xlsx): one row per target, what was found and how its case stands.

Like the case ledger (`gridgov.cases.ledgers`, whose layout and styles it shares) this is a document
an office files and prints, so its wording is fixed Chinese whatever the interface language. The
caller passes the targets already scoped (the selector), so a grid worker's ledger holds their grid
only; this module lays the rows out, streaming them through a write-only workbook.
"""

from __future__ import annotations

import io
from copy import copy
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter

from gridgov.cases.choices import OPEN_STATES
from gridgov.cases.ledgers import (
    BODY_FONT,
    BORDER,
    CENTRED,
    HEADER_FILL,
    HEADER_FONT,
    STATE_LABELS,
    TITLE_FONT,
    WRAP,
    XLSX_CONTENT_TYPE,
    free_text,
    page_setup,
    person,
    safe_text,
    styled,
)
from gridgov.core.errors import ApplicationError
from gridgov.fieldwork.choices import TargetKind, TargetState
from gridgov.fieldwork.models import Campaign, CampaignTarget, Finding

__all__ = ["COLUMNS", "XLSX_CONTENT_TYPE", "campaign_ledger", "ledger_title"]

EXPORT_CHUNK = 2_000
TITLE_SUFFIX = "排查台账"
# (header, width in characters, centred)
COLUMNS: tuple[tuple[str, int, bool], ...] = (
    ("序号", 6, True),
    ("社区", 12, False),
    ("网格", 12, False),
    ("联户组", 10, False),
    ("排查对象", 22, False),
    ("地址", 24, False),
    ("责任人", 10, True),
    ("排查时间", 17, True),
    ("发现问题", 36, False),
    ("是否立案 / 案件编号", 20, False),
    ("整改时限", 12, True),
    ("整改情况", 16, False),
)
NOT_DONE = "未排查"
DONE = "已完成"
NO_CASE = "否"
MEASURE = {
    TargetKind.HOUSEHOLD: "户",
    TargetKind.BUILDING: "栋",
    TargetKind.SHOP: "家",
    TargetKind.PLACE: "处",
}
_DATETIME_FORMAT = "yyyy-mm-dd hh:mm"


def max_rows() -> int:
    return int(settings.GRIDGOV_EXPORT_MAX_ROWS)


def ledger_title(campaign: Campaign) -> str:
    return f"{campaign.name}{TITLE_SUFFIX}"


def _answer(value: Any) -> str:
    if value is True:
        return "是"
    if value is False:
        return "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    return "" if value is None else str(value)


def _day(value: date | datetime | None) -> str:
    if isinstance(value, datetime):
        value = timezone.localtime(value).date()
    return value.isoformat() if value is not None else ""


@dataclass
class _Totals:
    targets: int = 0
    done: int = 0
    problems: int = 0
    cases: int = 0
    closed: int = 0


def _finding_lines(finding: Finding, totals: _Totals) -> tuple[str, str, str, str]:
    """(problem, case, deadline, state) of one finding, each one line of its cell."""
    answer = _answer(finding.answer)
    problem = f"{finding.item.label}：{answer}" if answer else finding.item.label
    case = finding.case
    if case is None:
        return problem, NO_CASE, _day(finding.rectify_by), "未立案"
    totals.cases += 1
    state = STATE_LABELS.get(case.state, case.state)
    if case.state in OPEN_STATES and case.overdue:
        state += "（超期）"
    if case.state not in OPEN_STATES:
        totals.closed += 1
    deadline = finding.rectify_by or case.rectify_by or (case.due_at if case.state in OPEN_STATES else None)
    return problem, case.code, _day(deadline), state


def _row(index: int, target: CampaignTarget, totals: _Totals) -> list[Any]:
    """The cells of one target (values only; the writer styles them)."""
    totals.targets += 1
    grid = target.grid
    community = grid.parent.name if grid.parent_id else ""
    done = target.state == TargetState.DONE
    done_at = timezone.localtime(target.done_at).replace(tzinfo=None) if done and target.done_at else None
    if not done:
        problem, case, deadline, state = "", "", "", NOT_DONE
    else:
        totals.done += 1
        lines = [_finding_lines(finding, totals) for finding in target.findings.all()]
        totals.problems += len(lines)
        if lines:
            problem, case, deadline, state = ("\n".join(column) for column in zip(*lines, strict=True))
        else:
            problem, case, deadline, state = "无", NO_CASE, "", DONE
    return [
        index,
        safe_text(community),
        safe_text(grid.name),
        safe_text(target.group.name if target.group_id else ""),
        free_text(target.label),
        free_text(target.address),
        safe_text(person(target.assignee)),
        done_at,
        free_text(problem),
        safe_text(case),
        deadline,
        safe_text(state),
    ]


def _totals_row(campaign: Campaign, totals: _Totals) -> list[Any]:
    unit = MEASURE.get(campaign.target_kind, "个")
    cells: list[Any] = [""] * len(COLUMNS)
    cells[0] = "合计"
    cells[4] = f"共{totals.targets}{unit}"
    cells[7] = f"已排查{totals.done}{unit}\n未排查{totals.targets - totals.done}{unit}"
    cells[8] = f"发现问题{totals.problems}项"
    cells[9] = f"立案{totals.cases}件"
    cells[11] = f"已办结{totals.closed}件"
    return cells


def _scoped_rows(targets: QuerySet[CampaignTarget]) -> QuerySet[CampaignTarget]:
    findings = Finding.objects.select_related("item", "case").order_by("id")
    return (
        targets.select_related("grid__parent", "group", "assignee")
        .defer("grid__boundary", "grid__parent__boundary", "group__boundary")
        .prefetch_related(Prefetch("findings", queryset=findings))
        .order_by("area_code", "id")
    )


def campaign_ledger(
    *,
    campaign: Campaign,
    targets: QuerySet[CampaignTarget],
    area_name: str = "",
    exported_at: datetime | None = None,
) -> bytes:
    """The 排查台账 of `campaign` as .xlsx bytes: one row per target of `targets` (already scoped), and totals.

    `area_name` heads the subtitle (the campaign's area by default: pass the narrower area the
    caller's scope covers). Refuses with `too_many_rows` above GRIDGOV_EXPORT_MAX_ROWS rather than
    cutting the ledger short.
    """
    limit = max_rows()
    if targets.order_by()[: limit + 1].count() > limit:
        raise ApplicationError(
            "too_many_rows",
            _("A ledger holds at most %(limit)s targets: export a smaller area.") % {"limit": f"{limit:,}"},
        )
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(TITLE_SUFFIX)
    for number, (_header, width, _centred) in enumerate(COLUMNS, start=1):
        ws.column_dimensions[get_column_letter(number)].width = width
    page_setup(ws, len(COLUMNS))

    stamp = timezone.localtime(exported_at or timezone.now()).strftime("%Y-%m-%d %H:%M")
    subtitle = (
        f"范围：{area_name or campaign.area.name}    排查表：{campaign.checklist.name}    "
        f"排查期限：{campaign.starts_on:%Y-%m-%d} 至 {campaign.ends_on:%Y-%m-%d}    导出时间：{stamp}"
    )
    ws.append([styled(ws, safe_text(ledger_title(campaign)), font=TITLE_FONT, alignment=CENTRED)])
    ws.append([styled(ws, safe_text(subtitle), font=BODY_FONT, alignment=WRAP)])
    ws.append(
        [
            styled(ws, header, font=HEADER_FONT, alignment=CENTRED, border=BORDER, fill=HEADER_FILL)
            for header, _width, _centred in COLUMNS
        ]
    )
    prototypes = []
    for header, _width, centred in COLUMNS:
        cell = styled(ws, None, font=BODY_FONT, alignment=CENTRED if centred else WRAP, border=BORDER)
        if header == "排查时间":
            cell.number_format = _DATETIME_FORMAT
        prototypes.append(cell)

    def row_cells(values: list[Any]) -> list[Any]:
        row = []
        for prototype, value in zip(prototypes, values, strict=True):
            cell = WriteOnlyCell(ws, value=value)
            cell._style = copy(prototype._style)
            row.append(cell)
        return row

    totals = _Totals()
    for index, target in enumerate(_scoped_rows(targets).iterator(chunk_size=EXPORT_CHUNK), start=1):
        ws.append(row_cells(_row(index, target, totals)))
    total_cells = row_cells(_totals_row(campaign, totals))
    for cell in total_cells:
        cell.font = HEADER_FONT
    ws.append(total_cells)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
