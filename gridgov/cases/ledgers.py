"""Ledgers and notices of the case pipeline: the 问题整改台账 (.xlsx) and the 整改通知书 (.docx).

Both are documents a 街道 office files, prints and stamps. Like the registry's spreadsheets they are a
document format shared with offices, not interface text: their wording is fixed Chinese whatever the
interface language. The callers (export_views) read the cases through the selectors, so the scope
applies; this module only lays the documents out.

Ledger: a write-only workbook (rows stream out, memory stays flat), a title row, the filter summary and
export time, the header (序号 … 状态), one row per case; widths, wrapped text, borders, a frozen header
and a print setup (A4 landscape, fit to width, the header repeated on every page). Any text that a
spreadsheet could take for a formula (= + - @) is prefixed with a quote, and identity and mobile
numbers typed into free text are masked, as in every export of gridgov.
"""

from __future__ import annotations

from collections.abc import Iterable
from copy import copy
from dataclasses import dataclass
from datetime import date, datetime
from typing import IO, Any

from django.utils import timezone
from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet

from gridgov.cases.choices import OPEN_STATES, Source, State
from gridgov.cases.models import Case
from gridgov.registry.excel import XLSX_CONTENT_TYPE, scrub_personal_numbers

DOCX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
__all__ = [
    "DOCX_CONTENT_TYPE",
    "XLSX_CONTENT_TYPE",
    "LedgerInfo",
    "NoticeInfo",
    "ledger_row",
    "safe_text",
    "write_ledger",
    "write_rectification_notice",
]

# --- the ledger -----------------------------------------------------------------------------------

LEDGER_TITLE = "问题整改台账"
# (header, width in characters)
LEDGER_COLUMNS: tuple[tuple[str, int], ...] = (
    ("序号", 6),
    ("案件编号", 16),
    ("地点", 22),
    ("问题描述", 40),
    ("责任单位", 18),
    ("整改措施", 30),
    ("整改时限", 12),
    ("整改情况", 30),
    ("核查人", 10),
    ("状态", 10),
)
HEADER_ROW = 3  # title, filters and time, header
STATE_LABELS = {
    State.REPORTED: "待受理",
    State.REGISTERED: "已受理",
    State.DISPATCHED: "已派遣",
    State.IN_PROGRESS: "整改中",
    State.RESOLVED: "待核查",
    State.CLOSED: "已结案",
    State.REJECTED: "不予受理",
    State.MERGED: "已合并",
}
FORMULA_PREFIXES = ("=", "+", "-", "@")

_THIN = Side(style="thin", color="808080")
BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
WRAP = Alignment(wrap_text=True, vertical="top")
CENTRED = Alignment(wrap_text=True, vertical="center", horizontal="center")
BODY_FONT = Font(name="宋体", size=10)
HEADER_FONT = Font(name="宋体", size=10, bold=True)
TITLE_FONT = Font(name="宋体", size=16, bold=True)
HEADER_FILL = PatternFill("solid", fgColor="D9E1F2")
_DATE_FORMAT = "yyyy-mm-dd"


def safe_text(value: Any) -> str:
    """Cell text that stays text: characters Excel refuses removed, a leading = + - @ quoted."""
    text = ILLEGAL_CHARACTERS_RE.sub("", str(value or ""))
    return f"'{text}" if text.startswith(FORMULA_PREFIXES) else text


def free_text(value: Any) -> str:
    return safe_text(scrub_personal_numbers(str(value or "").strip(), codes=True))


def _local_date(moment: datetime | None) -> date | None:
    return timezone.localtime(moment).date() if moment is not None else None


def person(user: Any) -> str:
    if user is None:
        return ""
    return user.name or user.get_username()


def ledger_row(index: int, case: Case) -> list[Any]:
    """The ledger's cells for one case (values only; the writer styles them)."""
    place = case.address or (case.grid.name if case.grid_id else case.handling_area.name)
    problem = case.title + (f"\n{case.description}" if case.description else "")
    if case.unit_id:
        unit = case.unit.name
        co_units = [link.unit.name for link in case.co_unit_links.all()]
        if co_units:
            unit += f"（协办：{'、'.join(co_units)}）"
    else:
        unit = case.handling_area.name
    if case.state in OPEN_STATES and case.due_at is not None:
        deadline = _local_date(case.due_at)
    else:
        deadline = _local_date(case.closed_at)
    state = STATE_LABELS.get(case.state, case.state)
    if case.overdue:
        state += "（超期）"
    return [
        index,
        safe_text(case.code),
        free_text(place),
        free_text(problem),
        safe_text(unit),
        free_text(case.measures),
        deadline,
        free_text(case.result) or STATE_LABELS.get(case.state, ""),
        safe_text(person(case.verifier) if case.verifier_id else ""),
        state,
    ]


@dataclass(frozen=True)
class LedgerInfo:
    """What the ledger's top rows say: whose ledger, which filters, when."""

    area_name: str
    summary: str
    exported_at: datetime


def styled(ws: Any, value: Any, *, font: Font, alignment: Alignment, border: Border | None = None, fill=None) -> Any:
    cell = WriteOnlyCell(ws, value=value)
    cell.font = font
    cell.alignment = alignment
    if border is not None:
        cell.border = border
    if fill is not None:
        cell.fill = fill
    return cell


def _prototypes(ws: Any) -> list[Any]:
    """One styled cell per column whose style the data cells copy (styling 500,000 cells one by one
    through openpyxl's style lists is the slow part of a large export)."""
    prototypes = []
    for index, (_header, _width) in enumerate(LEDGER_COLUMNS):
        centred = index in (0, 6, 8, 9)
        cell = styled(ws, None, font=BODY_FONT, alignment=CENTRED if centred else WRAP, border=BORDER)
        if index == 6:
            cell.number_format = _DATE_FORMAT
        prototypes.append(cell)
    return prototypes


def page_setup(ws: Any, columns: int = len(LEDGER_COLUMNS)) -> None:
    """A4 landscape fitted to the width, the header row repeated, the title rows merged over `columns`."""
    last = get_column_letter(columns)
    ws.freeze_panes = f"A{HEADER_ROW + 1}"
    ws.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = Worksheet.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.page_margins.top = ws.page_margins.bottom = 0.6
    ws.oddFooter.center.text = "第 &P 页，共 &N 页"
    ws.merged_cells.add(f"A1:{last}1")
    ws.merged_cells.add(f"A2:{last}2")


def write_ledger(cases: Iterable[Case], target: str | IO[bytes], *, info: LedgerInfo) -> int:
    """Write the 问题整改台账 of `cases` (already scoped, filtered and ordered) to `target`; the row count."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(LEDGER_TITLE)
    for index, (_header, width) in enumerate(LEDGER_COLUMNS, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    page_setup(ws)
    title = safe_text(f"{info.area_name}{LEDGER_TITLE}")
    stamp = timezone.localtime(info.exported_at).strftime("%Y-%m-%d %H:%M")
    ws.append([styled(ws, title, font=TITLE_FONT, alignment=CENTRED)])
    ws.append([styled(ws, safe_text(f"筛选条件：{info.summary}    导出时间：{stamp}"), font=BODY_FONT, alignment=WRAP)])
    ws.append(
        [
            styled(ws, header, font=HEADER_FONT, alignment=CENTRED, border=BORDER, fill=HEADER_FILL)
            for header, _width in LEDGER_COLUMNS
        ]
    )
    prototypes = _prototypes(ws)
    count = 0
    for count, case in enumerate(cases, start=1):  # noqa: B007 — the count is the result
        row = []
        for prototype, value in zip(prototypes, ledger_row(count, case), strict=True):
            cell = WriteOnlyCell(ws, value=value)
            cell._style = copy(prototype._style)
            row.append(cell)
        ws.append(row)
    wb.save(target)
    return count


# --- the rectification notice ---------------------------------------------------------------------

NOTICE_TITLE = "整改通知书"
DEFAULT_MEASURES = (
    "请你单位接到本通知后，立即组织人员核实情况，采取有效措施整改到位，消除隐患，防止问题反弹，"
    "并做好整改前后的影像留存。"
)
FOUND_BY = {
    Source.RESIDENT: "接群众反映",
    Source.GRID_WORKER: "经网格员巡查发现",
    Source.HOTLINE: "经12345热线转办",
    Source.CAMERA: "经视频监控发现",
    Source.SUPERIOR: "经上级部门交办",
}
BODY_FONT = "仿宋"
TITLE_FONT = "宋体"
RED = RGBColor(0xC0, 0x00, 0x00)


def chinese_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _fonts(run: Any, name: str) -> None:
    """Set a run's font for Latin and East Asian text (Word picks the CJK font from w:eastAsia)."""
    run.font.name = name
    properties = run._element.get_or_add_rPr()
    fonts = properties.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        properties.insert(0, fonts)
    for attribute in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(attribute), name)


def _para(
    doc: Any,
    text: str = "",
    *,
    font: str = BODY_FONT,
    size: float = 16,
    bold: bool = False,
    align: Any = None,
    indent: bool = False,
    color: RGBColor | None = None,
    space_after: float = 0,
) -> Any:
    paragraph = doc.add_paragraph()
    if align is not None:
        paragraph.alignment = align
    fmt = paragraph.paragraph_format
    fmt.space_after = Pt(space_after)
    fmt.line_spacing = Pt(28) if size <= 16 else None
    if indent:
        fmt.first_line_indent = Pt(size * 2)
    if text:
        run = paragraph.add_run(text)
        _fonts(run, font)
        run.font.size = Pt(size)
        run.bold = bold
        if color is not None:
            run.font.color.rgb = color
    return paragraph


def _label_line(doc: Any, label: str, value: str) -> None:
    paragraph = _para(doc, indent=True)
    for text, bold in ((label, True), (value, False)):
        run = paragraph.add_run(text)
        _fonts(run, BODY_FONT)
        run.font.size = Pt(16)
        run.bold = bold


def _red_rule(paragraph: Any) -> None:
    """The red line under a letterhead (a bottom border of the paragraph)."""
    properties = paragraph._p.get_or_add_pPr()
    borders = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for key, value in (("w:val", "single"), ("w:sz", "18"), ("w:space", "4"), ("w:color", "C00000")):
        bottom.set(qn(key), value)
    borders.append(bottom)
    properties.append(borders)


@dataclass(frozen=True)
class NoticeInfo:
    """Who issues the notice and how to reach them."""

    subdistrict: str
    contact_name: str = ""
    contact_phone: str = ""
    issued_on: date | None = None


def write_rectification_notice(case: Case, target: str | IO[bytes], *, info: NoticeInfo) -> None:
    """Write the 整改通知书 to the case's responsible unit: problem, measures, deadline, contact, receipt."""
    if case.unit_id is None:
        raise ValueError("a rectification notice needs a responsible unit")
    office = f"{info.subdistrict}综治中心"
    issued = info.issued_on or timezone.localdate()
    doc = Document()
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Cm(21), Cm(29.7)
    section.top_margin, section.bottom_margin = Cm(3.7), Cm(3.5)
    section.left_margin, section.right_margin = Cm(2.8), Cm(2.6)
    normal = doc.styles["Normal"]
    normal.font.name = BODY_FONT
    normal.font.size = Pt(16)
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), BODY_FONT)
    doc.core_properties.title = f"{NOTICE_TITLE} {case.code}"
    doc.core_properties.author = office

    head = _para(doc, office, font=TITLE_FONT, size=26, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER, color=RED)
    _red_rule(head)
    _para(doc, f"编号：{case.code}", size=12, align=WD_ALIGN_PARAGRAPH.RIGHT, space_after=12)
    _para(doc, NOTICE_TITLE, font=TITLE_FONT, size=22, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER, space_after=12)
    _para(doc, f"{case.unit.name}：")
    found_on = _local_date(case.created_at) or issued
    found_by = FOUND_BY.get(case.source, "经核查发现")
    _para(
        doc,
        f"{chinese_date(found_on)}，{found_by}，你单位负责的区域内存在以下问题。"
        "根据有关规定，现通知你单位限期整改，具体事项如下：",
        indent=True,
    )
    _para(doc, "一、问题情况", font="黑体", indent=True)
    _label_line(doc, "问题名称：", case.title)
    if case.description:
        _label_line(doc, "问题描述：", case.description)
    place = case.address or (case.grid.name if case.grid_id else case.handling_area.name)
    _label_line(doc, "问题地点：", place)
    _label_line(doc, "问题类别：", case.category.name)
    _label_line(doc, "发现时间：", chinese_date(found_on))
    _para(doc, "二、整改要求", font="黑体", indent=True)
    _para(doc, case.measures.strip() or DEFAULT_MEASURES, indent=True)
    _para(doc, "三、整改时限", font="黑体", indent=True)
    due = _local_date(case.due_at)
    deadline = f"请于{chinese_date(due)}前整改完毕" if due is not None else "请接到本通知后立即整改"
    _para(
        doc,
        f"{deadline}，并将整改情况（附整改前后照片）书面报送{office}。逾期未整改或整改不到位的，将按有关规定予以督办。",
        indent=True,
    )
    _para(doc, "四、联系方式", font="黑体", indent=True)
    contact = f"联系人：{info.contact_name or '________'}    联系电话：{info.contact_phone or '______________'}"
    _para(doc, contact, indent=True, space_after=24)
    _para(doc, f"{office}（盖章）", align=WD_ALIGN_PARAGRAPH.RIGHT)
    _para(doc, chinese_date(issued), align=WD_ALIGN_PARAGRAPH.RIGHT, space_after=24)

    _para(
        doc,
        "- - - - - - - - - - - - - - - - （沿此线剪开）- - - - - - - - - - - - - - - -",
        size=10,
        align=WD_ALIGN_PARAGRAPH.CENTER,
        space_after=12,
    )
    _para(doc, "回  执", font=TITLE_FONT, size=18, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER, space_after=6)
    _para(doc, f"{office}：")
    _para(doc, f"编号为{case.code}的《{NOTICE_TITLE}》已收悉，我单位将按要求按期完成整改。", indent=True)
    _para(doc, f"签收单位：{case.unit.name}（盖章）", indent=True)
    _para(doc, "签收人：____________    签收日期：______年____月____日", indent=True)
    doc.save(target)
