"""Excel in and out of the registry: import templates, the import engine, and exports.

The spreadsheet layout is a file format shared with 街道 offices, not interface text: headers,
sheet names, allowed values and the instructions sheet are fixed Chinese, so a template filled
in under one interface language imports under any other. What the importer says about a row
(the reasons) goes through gettext.

Import (`import_file`): the first sheet is read with openpyxl in read-only mode, every row is
checked with the services' own validation functions, grids, groups, households and tags are
resolved in bulk within the actor's write scope, and duplicate ID numbers are looked up through
the blind index. Only when no row is bad is anything written: one transaction, `bulk_create`
(the EncryptedField's `pre_save` seals the values and sets the hash columns), the tag links
through the many-to-many table in bulk, and one `registry.import` audit event.

Export (`write_export`): rows come from the list pages' selectors and FilterSets (the caller
narrows them), values are printed masked (`str()` of a `Sensitive`), write-only workbooks.
"""

from __future__ import annotations

import gc
import logging
import os
import random
import re
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, BinaryIO

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.db.models import Model
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import from_excel
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.formula import ArrayFormula, DataTableFormula

from gridgov.areas.choices import Level
from gridgov.areas.models import Area
from gridgov.core import audit, crypto
from gridgov.core.errors import ApplicationError, NotFound, PermissionDenied, duplicates_refused
from gridgov.core.privacy import ID_NUMBER, PHONE, Sensitive, mask
from gridgov.core.validators import id_check_digit
from gridgov.registry import services
from gridgov.registry.choices import (
    RESTRICTED_TAG_KINDS,
    BuildingUse,
    Gender,
    LivingStatus,
    PlaceKind,
    Relation,
    SafetyGrade,
    Structure,
)
from gridgov.registry.models import Building, Household, Resident, Shop, Tag

logger = logging.getLogger("gridgov.registry.excel")

IMPORT_KINDS = ("residents", "households", "buildings", "shops")
EXPORT_KINDS = ("residents", "households", "buildings", "shops", "places")
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

BATCH_SIZE = 2_000  # rows per INSERT
LOOKUP_CHUNK = 1_000  # values per `IN (...)` lookup
PROGRESS_EVERY = 1_000  # rows between two progress calls
MAX_ROWS = 200_000  # data rows per imported file; every row is held in memory until the write
MAX_UNPACKED_RATIO = 30  # an .xlsx unpacks to at most this many times the upload limit (zip bombs)
TEMPLATE_ROWS = 5_000  # rows of the template that carry the drop-down lists
EXPORT_MAX_ROWS = 200_000
SQLITE_WRITE_CACHE_KIB = -128 * 1024  # PRAGMA cache_size while an import writes (negative: KiB)

# --- the file format: allowed values ------------------------------------------------------------

GENDER_LABELS = {Gender.MALE: "男", Gender.FEMALE: "女"}
RELATION_LABELS = {
    Relation.HEAD: "户主",
    Relation.SPOUSE: "配偶",
    Relation.CHILD: "子女",
    Relation.PARENT: "父母",
    Relation.GRANDCHILD: "孙子女",
    Relation.SIBLING: "兄弟姐妹",
    Relation.OTHER: "其他亲属",
    Relation.TENANT: "租户",
}
LIVING_STATUS_LABELS = {LivingStatus.RESIDENT: "在住", LivingStatus.MOVED_OUT: "迁出", LivingStatus.DECEASED: "死亡"}
BUILDING_USE_LABELS = {
    BuildingUse.RESIDENTIAL: "住宅",
    BuildingUse.SELF_BUILT: "自建房",
    BuildingUse.COMMERCIAL: "商业",
    BuildingUse.MIXED: "商住混合",
}
STRUCTURE_LABELS = {
    Structure.BRICK_CONCRETE: "砖混",
    Structure.FRAME: "框架",
    Structure.BRICK_WOOD: "砖木",
    Structure.STEEL: "钢结构",
    Structure.OTHER: "其他",
}
SAFETY_GRADE_LABELS = {SafetyGrade.A: "A", SafetyGrade.B: "B", SafetyGrade.C: "C", SafetyGrade.D: "D"}
PLACE_KIND_LABELS = {
    PlaceKind.PARK: "公园",
    PlaceKind.ROAD: "道路",
    PlaceKind.FIRE_LANE: "消防通道",
    PlaceKind.CAMERA: "监控点位",
    PlaceKind.KEY_SITE: "重点部位",
}
# Every choice set of the file format, to check that no value lacks its Chinese label.
CHOICE_LABELS = {
    Gender: GENDER_LABELS,
    Relation: RELATION_LABELS,
    LivingStatus: LIVING_STATUS_LABELS,
    BuildingUse: BUILDING_USE_LABELS,
    Structure: STRUCTURE_LABELS,
    SafetyGrade: SAFETY_GRADE_LABELS,
    PlaceKind: PLACE_KIND_LABELS,
}
TAG_SEPARATORS = re.compile(r"[、,，;；\s]+")


@dataclass(frozen=True)
class Column:
    """One column of a template: the model field it fills and how the instructions describe it."""

    key: str
    header: str
    help: str
    example: Any = ""
    required: bool = False
    labels: dict[str, str] | None = None  # a choice: value → Chinese label
    sensitive: str = ""  # ID_NUMBER or PHONE: values are masked in every report
    code: bool = False  # a code or number that is not personal data (grid, licence): reported as typed
    text: bool = False  # formatted as text in the template, so Excel keeps long numbers intact
    width: int = 14


@dataclass(frozen=True)
class SheetFormat:
    """The layout of one import template."""

    kind: str
    title: str  # the data sheet's name
    noun: str  # what a row is, for the instructions
    columns: tuple[Column, ...]
    notes: tuple[str, ...] = ()

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]

    def column(self, key: str) -> Column | None:
        return next((c for c in self.columns if c.key == key), None)


_GRID_HELP = "网格编码（15 位）或网格名称；必须是您负责登记的网格。不同社区有同名网格时请填编码。"
_GROUP_HELP = "联户组编码（17 位）或该网格内的联户组名称；可不填。"
_LNG_HELP = "WGS 84 经度（度），如 117.0123；与纬度同时填写或同时不填。"
_LAT_HELP = "WGS 84 纬度（度），如 32.6012。"

FORMATS: dict[str, SheetFormat] = {
    "residents": SheetFormat(
        kind="residents",
        title="居民",
        noun="一位居民",
        columns=(
            Column("name", "姓名", "居民姓名，最多 50 个字。", "张晓梅", required=True, width=10),
            Column(
                "gender",
                "性别",
                "男或女。填写了身份证号码时可不填（由号码推出）；填写时须与号码一致。",
                "女",
                labels=GENDER_LABELS,
                width=8,
            ),
            Column(
                "birth_date",
                "出生日期",
                "日期，如 1949-12-31。填写了身份证号码时可不填；填写时须与号码一致。",
                "1949-12-31",
                width=12,
            ),
            Column(
                "id_number",
                "身份证号码",
                "18 位公民身份号码（末位可为 X），校验位必须正确；同一号码在系统中只能登记一次。"
                "本列已设为文本格式，请勿改为数字格式，否则 Excel 会丢失末几位。",
                "11010519491231002X",
                sensitive=ID_NUMBER,
                text=True,
                width=22,
            ),
            Column(
                "phone",
                "联系电话",
                "手机号码（11 位）或带区号的固定电话，如 0554-2669359；可不填。",
                "13800138000",
                sensitive=PHONE,
                text=True,
                width=16,
            ),
            Column("grid", "网格", _GRID_HELP, "340404004001001", required=True, code=True, text=True, width=18),
            Column("group", "联户组", _GROUP_HELP, "34040400400100101", code=True, text=True, width=18),
            Column(
                "household",
                "户号",
                "已登记的户在该网格内的户号；可不填。请先导入户，再导入居民。",
                "A-0101",
                code=True,
                text=True,
                width=12,
            ),
            Column(
                "relation",
                "与户主关系",
                "填写户号时建议填写；填“户主”的居民成为该户户主（该户尚无户主时）。",
                "户主",
                labels=RELATION_LABELS,
                width=12,
            ),
            Column("address", "居住地址", "最多 200 个字。", "新建社区A区3栋101室", width=28),
            Column(
                "living_status",
                "居住状态",
                "在住、迁出或死亡；不填视为在住。",
                "在住",
                labels=LIVING_STATUS_LABELS,
                width=10,
            ),
            Column(
                "tags",
                "标签",
                "标签名称，多个标签用顿号（、）或逗号分隔；可用的标签见下表。重点人员类标签需相应权限。",
                "党员、志愿者",
                width=18,
            ),
            Column("notes", "备注", "任意说明；可不填。", "", width=24),
        ),
    ),
    "households": SheetFormat(
        kind="households",
        title="户",
        noun="一户",
        columns=(
            Column(
                "number",
                "户号",
                "户的编号；可不填。填写时同一网格内不能重复，导入居民时用它把居民关联到户。",
                "A-0101",
                code=True,
                text=True,
                width=12,
            ),
            Column("grid", "网格", _GRID_HELP, "340404004001001", required=True, code=True, text=True, width=18),
            Column("group", "联户组", _GROUP_HELP, "34040400400100101", code=True, text=True, width=18),
            Column("address", "地址", "户的地址，最多 200 个字。", "新建社区A区3栋", required=True, width=28),
            Column("room", "房号", "最多 32 个字；可不填。", "101", code=True, text=True, width=10),
        ),
    ),
    "buildings": SheetFormat(
        kind="buildings",
        title="房屋",
        noun="一处房屋",
        columns=(
            Column("name", "名称", "房屋名称，如 3 号楼；可不填。", "3号楼", width=14),
            Column("address", "地址", "最多 200 个字。", "新建社区A区3号楼", required=True, width=28),
            Column("grid", "网格", _GRID_HELP, "340404004001001", required=True, code=True, text=True, width=18),
            Column("group", "联户组", _GROUP_HELP, "", code=True, text=True, width=18),
            Column("use", "用途", "住宅、自建房、商业或商住混合。", "住宅", required=True, labels=BUILDING_USE_LABELS),
            Column("floors", "层数", "整数；可不填。", 6, width=8),
            Column("structure", "结构", "砖混、框架、砖木、钢结构或其他；可不填。", "砖混", labels=STRUCTURE_LABELS),
            Column("year_built", "建成年份", "四位年份，如 1998；可不填。", 1998, width=10),
            Column(
                "safety_grade",
                "安全等级",
                "房屋安全鉴定等级 A、B、C、D（A 安全 … D 整体危险）；未鉴定不填。",
                "B",
                labels=SAFETY_GRADE_LABELS,
                width=10,
            ),
            Column("lng", "经度", _LNG_HELP, 117.0123, width=12),
            Column("lat", "纬度", _LAT_HELP, 32.6012, width=12),
        ),
    ),
    "shops": SheetFormat(
        kind="shops",
        title="门店",
        noun="一家门店",
        columns=(
            Column("name", "店名", "最多 100 个字。", "便民超市", required=True, width=18),
            Column("business_type", "经营类别", "如 餐饮、零售、理发；最多 50 个字。", "零售", required=True),
            Column(
                "licence_number",
                "统一社会信用代码",
                "营业执照上的 18 位统一社会信用代码；可不填。同一代码只能登记一次。",
                "91340404MA2N000000",
                code=True,
                text=True,
                width=22,
            ),
            Column("operator", "经营者", "最多 50 个字；可不填。", "李强", width=10),
            Column(
                "phone",
                "联系电话",
                "手机号码（11 位）或带区号的固定电话；可不填。",
                "0554-2669359",
                sensitive=PHONE,
                text=True,
                width=16,
            ),
            Column("grid", "网格", _GRID_HELP, "340404004001001", required=True, code=True, text=True, width=18),
            Column("group", "联户组", _GROUP_HELP, "34040400400100102", code=True, text=True, width=18),
            Column("address", "地址", "最多 200 个字；可不填。", "淮舜南路88号", width=24),
            Column("lng", "经度", _LNG_HELP, 117.0123, width=12),
            Column("lat", "纬度", _LAT_HELP, 32.6012, width=12),
        ),
    ),
}

GENERAL_NOTES = (
    "在「{title}」表第 1 行（列名）之下逐行填写，每行{noun}。请勿修改、删除或增加第 1 行的列名；列的顺序可以调整。",
    "“必填”为“是”的列必须填写；有下拉列表的列请从列表中选择。",
    "只接受直接填写的值，不接受公式（以 = 开头的单元格）。从其他表格复制时请“选择性粘贴 → 数值”。",
    "导入前系统会检查每一行：只要有一行有错，整个文件都不会导入，系统会列出每个错误"
    "（行号、列、已脱敏的值和原因），改正后重新上传即可。可以先勾选“仅校验”试一试。",
    "身份证号码和电话号码加密保存；页面、导出和错误报告中只显示脱敏后的号码。",
    "文件须为 .xlsx 格式（Excel 工作簿），不超过 {size} MB、{rows} 行。",
)


# --- results --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    """One problem in one cell: the row as Excel numbers it, the column header, the value as typed
    (masked for ID and phone numbers) and the reason."""

    row: int
    column: str
    value: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ImportResult:
    """What an import did: rows read, rows created, and every problem found (nothing is written when
    there is one)."""

    kind: str
    total_rows: int = 0
    created: int = 0
    errors: list[RowError] = field(default_factory=list)
    dry_run: bool = False
    file_name: str = ""

    @property
    def ok(self) -> bool:
        return not self.errors


def refused(code: str, message: Any) -> ApplicationError:
    """A whole file refused (not a workbook, too large, no rows): nothing was read or written."""
    return ApplicationError(code, message, status=400)


# --- cell values ---------------------------------------------------------------------------------

FORMULA_TYPES = (ArrayFormula, DataTableFormula)
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日")
_NUMBER_RUN = re.compile(r"\d{7,}[\dXx]")
_ID_RUN = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_MOBILE_RUN = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def cell_text(value: Any) -> str:
    """A cell as text: numbers without a spurious '.0', dates as ISO dates."""
    if value is None:
        return ""
    kind = type(value)
    if kind is str:
        return value.strip()
    if kind is int:
        return str(value)
    if kind is float:
        return str(int(value)) if value.is_integer() else repr(value)
    if kind is datetime:
        return value.date().isoformat() if not (value.hour or value.minute or value.second) else value.isoformat()
    if kind is date:
        return value.isoformat()
    return str(value).strip()


def _date(value: Any) -> date | None:
    """A birth date from a date cell, a text such as 1990-01-31 or 1990/1/31, or an Excel serial number."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if 10_000_000 <= value <= 99_999_999:
            return datetime.strptime(str(int(value)), "%Y%m%d").date()
        if 1 <= value < 100_000:
            return from_excel(value).date()
        raise ValueError("not a date")
    text = str(value).strip()
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError("not a date")


def _int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError("not a number")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = str(value).strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    raise ValueError("not a whole number")


def cell_float(value: Any) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError("not a number")
    if isinstance(value, int | float):
        return float(value)
    return float(str(value).strip())


def scrub_personal_numbers(text: str, *, codes: bool = False) -> str:
    """Mask ID and mobile numbers anywhere in a cell: a report must not carry one that was typed into
    the wrong column. In free text any other long run of digits is masked too; in code columns
    (grid, group, household number, credit code) the area codes stay readable."""

    def masked(match: re.Match) -> str:
        run = match.group(0)
        return mask(ID_NUMBER if len(run) >= 15 else PHONE, run)

    text = _ID_RUN.sub(lambda m: mask(ID_NUMBER, m.group(0)), text)
    text = _MOBILE_RUN.sub(lambda m: mask(PHONE, m.group(0)), text)
    return text if codes else _NUMBER_RUN.sub(masked, text)


def masked_value(column: Column | None, value: Any) -> str:
    """How a report shows a cell: ID and phone numbers masked, at most 100 characters."""
    text = cell_text(value) if not isinstance(value, FORMULA_TYPES) else str(getattr(value, "text", "") or "=")
    text = text[:200]
    if column is not None and column.sensitive:
        return mask(column.sensitive, text) if text else ""
    return scrub_personal_numbers(text, codes=column is not None and column.code)[:100]


def _lookup_map(labels: dict[str, str], choices: Any) -> dict[str, str]:
    """Everything a cell may say for a choice: the Chinese label, the stored value, the interface label."""
    mapping = {str(value): str(value) for value in choices.values}
    mapping.update({str(label): str(value) for value, label in choices.choices})
    mapping.update({label: str(value) for value, label in labels.items()})
    return mapping


# --- templates -----------------------------------------------------------------------------------

HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
REQUIRED_FONT = Font(bold=True, color="C00000")
HEADER_FONT = Font(bold=True)
WRAP = Alignment(wrap_text=True, vertical="top")


def quoted_list(labels: Iterable[str]) -> str:
    return '"' + ",".join(labels) + '"'


def _tag_names() -> list[str]:
    """Tags a template lists: the catalogue without the restricted (key-person) kinds."""
    try:
        return list(
            Tag.objects.exclude(kind__in=RESTRICTED_TAG_KINDS).order_by("order", "code").values_list("name", flat=True)
        )
    except Exception:  # a template must not need a database (e.g. before migrate); the list is a help only
        logger.warning("template: the tag catalogue could not be read", exc_info=True)
        return []


def data_sheet(ws: Any, title: str, columns: Sequence[Column], *, rows: int) -> None:
    """A template's data sheet: the header row (required columns in their own font), widths, text formats
    and the drop-down lists of coded columns over the first `rows` rows, frozen below the header."""
    ws.title = title
    ws.append([column.header for column in columns])
    for index, column in enumerate(columns, start=1):
        letter = get_column_letter(index)
        cell = ws.cell(row=1, column=index)
        cell.font = REQUIRED_FONT if column.required else HEADER_FONT
        cell.fill = HEADER_FILL
        ws.column_dimensions[letter].width = column.width
        if column.text:
            # A text column style (not styled empty cells): Excel applies it to what is typed there,
            # and the sheet's dimension stays that of the rows actually filled in.
            ws.column_dimensions[letter].number_format = "@"
        if column.labels:
            validation = DataValidation(
                type="list",
                formula1=quoted_list(column.labels.values()),
                allow_blank=True,
                showErrorMessage=True,
                errorTitle="不在可选范围内",
                error="请从下拉列表中选择：" + "、".join(column.labels.values()),
            )
            validation.add(f"{letter}2:{letter}{rows + 1}")
            ws.add_data_validation(validation)
    ws.freeze_panes = "A2"


def build_template(kind: str) -> Workbook:
    """The import template of `kind`: the data sheet (headers, drop-down lists, text formats) and a
    "说明" sheet explaining each column with an example row."""
    fmt = _format(kind)
    wb = Workbook()
    data_sheet(wb.active, fmt.title, fmt.columns, rows=TEMPLATE_ROWS)
    _instructions(wb.create_sheet("说明"), fmt)
    return wb


def _instructions(ws: Any, fmt: SheetFormat) -> None:
    ws.column_dimensions["A"].width = 18
    ws.column_dimensions["B"].width = 8
    ws.column_dimensions["C"].width = 60
    ws.column_dimensions["D"].width = 30
    ws.column_dimensions["E"].width = 22
    ws.append([f"{fmt.title}信息导入模板 · 填写说明"])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append([])
    limit_mb = settings.GRIDGOV_IMPORT_MAX_BYTES // (1024 * 1024)
    for number, note in enumerate(GENERAL_NOTES + fmt.notes, start=1):
        ws.append([f"{number}. " + note.format(title=fmt.title, noun=fmt.noun, size=limit_mb, rows=f"{MAX_ROWS:,}")])
        ws.merge_cells(start_row=ws.max_row, start_column=1, end_row=ws.max_row, end_column=5)
        ws.cell(row=ws.max_row, column=1).alignment = Alignment(wrap_text=True, vertical="top")
        ws.row_dimensions[ws.max_row].height = 32
    ws.append([])
    ws.append(["列名", "必填", "说明", "可选值", "示例"])
    for cell in ws[ws.max_row]:
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
    for column in fmt.columns:
        allowed = "、".join(column.labels.values()) if column.labels else ""
        ws.append([column.header, "是" if column.required else "否", column.help, allowed, column.example])
        for cell in ws[ws.max_row]:
            cell.alignment = WRAP
            cell.data_type = "s" if isinstance(cell.value, str) else cell.data_type
    ws.append([])
    ws.append([f"示例行（只是示例：请在「{fmt.title}」表中填写，不要把本行复制过去）"])
    ws.cell(row=ws.max_row, column=1).font = HEADER_FONT
    ws.append(fmt.headers)
    for cell in ws[ws.max_row]:
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
    ws.append([column.example for column in fmt.columns])
    if fmt.kind == "residents":
        names = _tag_names()
        if names:
            ws.append([])
            ws.append(["可用的标签"])
            ws.cell(row=ws.max_row, column=1).font = HEADER_FONT
            ws.append(["、".join(names)])
            ws.merge_cells(start_row=ws.max_row, start_column=1, end_row=ws.max_row, end_column=5)
            ws.cell(row=ws.max_row, column=1).alignment = WRAP
            ws.row_dimensions[ws.max_row].height = 32


def write_template(kind: str, target: str | Path | BinaryIO) -> None:
    """Write the import template of `kind` (the file the page offers and `gridgov template` writes)."""
    build_template(kind).save(target)


def _format(kind: str) -> SheetFormat:
    try:
        return FORMATS[kind]
    except KeyError:
        raise refused("import_unknown_kind", _("Unknown kind of records: %(kind)s") % {"kind": kind}) from None


# --- reading a workbook --------------------------------------------------------------------------


def _not_xlsx() -> ApplicationError:
    return refused(
        "import_not_xlsx",
        _("The file is not an Excel workbook (.xlsx). Save it as an Excel Workbook (.xlsx) and upload it again."),
    )


def check_upload(source: BinaryIO, *, size: int | None = None) -> None:
    """Refuse a file over GRIDGOV_IMPORT_MAX_BYTES or one that is not an .xlsx (zip) workbook.

    Cheap checks a form can run before saving an upload; `import_file` runs them again and also
    checks that openpyxl opens the workbook.
    """
    limit = settings.GRIDGOV_IMPORT_MAX_BYTES
    if size is None:
        source.seek(0, os.SEEK_END)
        size = source.tell()
    if size > limit:
        raise refused(
            "import_too_large",
            _("The file is larger than %(size)s MB: split it into several files.")
            % {"size": f"{limit / (1024 * 1024):g}"},
        )
    source.seek(0)
    magic = source.read(4)
    source.seek(0)
    if magic != b"PK\x03\x04":
        raise _not_xlsx()
    try:
        with zipfile.ZipFile(source) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise _not_xlsx() from None
    finally:
        source.seek(0)
    names = {m.filename for m in members}
    if "xl/workbook.xml" not in names:
        raise _not_xlsx()
    if sum(m.file_size for m in members) > limit * MAX_UNPACKED_RATIO:
        raise refused(
            "import_too_large",
            _("The workbook unpacks to far more data than its size suggests; it is refused."),
        )


class WorkbookReader:
    """An uploaded workbook opened for reading (read-only, formulas kept as formulas)."""

    def __init__(self, source: str | Path | BinaryIO) -> None:
        self._own: BinaryIO | None = None
        if isinstance(source, str | os.PathLike):
            path = Path(source)
            self.name = path.name
            try:
                size = path.stat().st_size
                handle: BinaryIO = path.open("rb")
            except OSError:
                raise _not_xlsx() from None
            self._own = handle
        else:
            handle = source
            self.name = Path(str(getattr(source, "name", "") or "")).name
            size = None
        try:
            check_upload(handle, size=size)
            try:
                self.book = load_workbook(handle, read_only=True, data_only=False)
            except Exception:  # openpyxl raises many kinds of errors on a damaged or foreign file
                raise _not_xlsx() from None
            sheets = self.book.worksheets
            if not sheets:
                self.book.close()
                raise _not_xlsx()
            self.sheet = sheets[0]
        except Exception:
            self.close_handle()
            raise

    def rows(self) -> Iterator[tuple]:
        try:
            yield from self.sheet.iter_rows(values_only=True)
        except Exception:  # a damaged sheet is found only while reading it
            raise _not_xlsx() from None

    def estimated_rows(self) -> int:
        try:
            return max(0, int(self.sheet.max_row or 0) - 1)
        except (TypeError, ValueError):
            return 0

    def close_handle(self) -> None:
        if self._own is not None:
            self._own.close()
            self._own = None

    def close(self) -> None:
        try:
            self.book.close()
        finally:
            self.close_handle()


def header_text(value: Any) -> str:
    return cell_text(value).rstrip("*＊").strip()


# --- the import engine ---------------------------------------------------------------------------


class _Rows:
    """Problems found in a file, one entry per cell (several reasons for a cell are joined)."""

    def __init__(self, fmt: SheetFormat) -> None:
        self.fmt = fmt
        self.columns = {c.key: c for c in fmt.columns}
        self.problems: dict[tuple[int, str], tuple[str, list[str]]] = {}
        self.formula_cells: set[tuple[int, str]] = set()
        self.bad_rows: set[int] = set()

    def add(self, row: int, key: str, value: Any, reason: Any) -> None:
        """Record a problem of column `key` (a model field name) in `row`; `value` is the raw cell."""
        self.bad_rows.add(row)
        if (row, key) in self.formula_cells:
            return
        column = self.columns.get(key)
        entry = self.problems.get((row, key))
        if entry is None:
            self.problems[(row, key)] = (masked_value(column, value), [str(reason)])
        elif str(reason) not in entry[1]:
            entry[1].append(str(reason))

    def add_error(self, row: int, exc: ApplicationError, cells: dict[str, Any]) -> None:
        """Record every field reason of a refused validation."""
        for name, reasons in (exc.fields or {"": [exc.message]}).items():
            if name == "existing_resident":
                continue  # a link for the page's form, not a reason
            key = name if name in self.columns else _FIELD_COLUMN.get(name, "")
            for reason in reasons:
                self.add(row, key, cells.get(key), reason)

    def errors(self) -> list[RowError]:
        order = {c.key: i for i, c in enumerate(self.fmt.columns)}
        items = sorted(self.problems.items(), key=lambda item: (item[0][0], order.get(item[0][1], -1)))
        return [
            RowError(
                row=row,
                column=self.columns[key].header if key in self.columns else "",
                value=value,
                reason="；".join(reasons),
            )
            for (row, key), (value, reasons) in items
        ]


# Validation fields that are reported under another column.
_FIELD_COLUMN = {"non_field_errors": "", NON_FIELD_ERRORS: ""}


@dataclass(slots=True)
class _Row:
    """One data row after its own checks: the cleaned field values and the keys still to resolve."""

    n: int
    values: dict[str, Any] | None  # None: the row's own fields are bad
    grid: str
    group: str
    extra: Any = None
    place: dict[str, Any] | None = None


class _Importer:
    """What every kind shares: the header check, the row loop, grids and groups, the write."""

    kind: str
    model: type[Model]

    def __init__(self, *, actor: Any, dry_run: bool) -> None:
        self.actor = actor
        self.dry_run = dry_run
        self.header_errors: list[RowError] = []
        self.fmt = FORMATS[self.kind]
        self.report = _Rows(self.fmt)
        self.rows: list[_Row] = []
        self.choices: dict[str, dict[str, str]] = {}
        for column in self.fmt.columns:
            if column.labels:
                choices = next(c for c, labels in CHOICE_LABELS.items() if labels is column.labels)
                self.choices[column.key] = _lookup_map(column.labels, choices)

    # -- headers --

    def map_headers(self, header: tuple) -> dict[str, int] | None:
        """Column index of each field, or None after reporting every missing, unknown or repeated header."""
        known = {c.header: c for c in self.fmt.columns}
        index: dict[str, int] = {}
        problems: list[RowError] = []
        for position, value in enumerate(header):
            text = header_text(value)
            if not text:
                continue
            column = known.get(text)
            if column is None:
                problems.append(
                    RowError(
                        1,
                        masked_value(None, text)[:50],
                        masked_value(None, text),
                        _("Unknown column: keep the template's headers."),
                    )
                )
            elif column.key in index:
                problems.append(RowError(1, text, text, _("This column appears more than once.")))
            else:
                index[column.key] = position
        for column in self.fmt.columns:
            if column.key not in index:
                problems.append(RowError(1, column.header, "", _("This column is missing.")))
        if problems:
            self.header_errors = problems
            return None
        return index

    # -- rows --

    def choice(self, key: str, value: Any) -> str:
        text = cell_text(value)
        return self.choices[key].get(text, text)

    def required(self, n: int, cells: dict[str, Any], *keys: str) -> bool:
        ok = True
        for key in keys:
            if not cell_text(cells[key]):
                self.report.add(n, key, "", _("This field is required."))
                ok = False
        return ok

    def number(self, n: int, cells: dict[str, Any], key: str, parse: Callable[[Any], Any]) -> Any:
        try:
            return parse(cells[key])
        except (TypeError, ValueError):
            message = _("Not a whole number.") if parse is _int else _("Not a number.")
            self.report.add(n, key, cells[key], message)
            return None

    def read_row(self, n: int, cells: dict[str, Any]) -> _Row:
        raise NotImplementedError

    # -- resolving grids and groups in bulk --

    def _grid_access(self, grid: Area) -> str:
        try:
            services.require_write(self.actor, grid)
        except NotFound:
            return "unknown"
        except PermissionDenied:
            return "forbidden"
        return "ok"

    def resolve_places(self) -> None:
        """Grid and group of every row, within the actor's write scope (services.require_write)."""
        keys = {row.grid for row in self.rows if row.grid}
        candidates: dict[str, list[Area]] = defaultdict(list)
        codes = [k for k in keys if k.isdigit()]
        for chunk in _chunks(codes):
            for area in Area.objects.filter(level=Level.GRID, code__in=chunk):
                candidates[area.code].append(area)
        names = [k for k in keys if k not in candidates]
        for chunk in _chunks(names):
            for area in Area.objects.filter(level=Level.GRID, name__in=chunk):
                candidates[area.name].append(area)
        access: dict[int, str] = {}
        grids: dict[str, Area | str] = {}
        for key in keys:
            found = candidates.get(key, [])
            for area in found:
                if area.pk not in access:
                    access[area.pk] = self._grid_access(area)
            writable = [a for a in found if access[a.pk] == "ok"]
            if len(writable) == 1:
                grids[key] = writable[0]
            elif len(writable) > 1:
                grids[key] = _("Several grids have this name: give the grid code.")
            elif any(access[a.pk] == "forbidden" for a in found):
                grids[key] = _("You may not change the registry of this area.")
            else:
                # Unknown, or outside the actor's scope: the same answer, so a file cannot probe the tree.
                grids[key] = _("No such grid in your area.")

        group_keys = {
            (grids[row.grid].pk, row.group) for row in self.rows if row.group and isinstance(grids.get(row.grid), Area)
        }
        by_code: dict[str, Area] = {}
        by_name: dict[tuple[int, str], list[Area]] = defaultdict(list)
        group_codes = [k for _grid, k in group_keys if k.isdigit()]
        for chunk in _chunks(sorted(set(group_codes))):
            for area in Area.objects.filter(level=Level.GROUP, code__in=chunk):
                by_code[area.code] = area
        grid_ids = sorted({g for g, _k in group_keys})
        group_names = sorted({k for _g, k in group_keys if k not in by_code})
        if grid_ids and group_names:
            for chunk in _chunks(group_names):
                for area in Area.objects.filter(level=Level.GROUP, parent_id__in=grid_ids, name__in=chunk):
                    by_name[(area.parent_id, area.name)].append(area)

        for row in self.rows:
            grid = grids.get(row.grid)
            if not row.grid:
                continue  # already reported as required
            if not isinstance(grid, Area):
                self.report.add(row.n, "grid", row.grid, grid)
                continue
            group = None
            if row.group:
                area = by_code.get(row.group)
                if area is not None and area.parent_id == grid.pk:
                    group = area
                else:
                    found = by_name.get((grid.pk, row.group), [])
                    if len(found) == 1:
                        group = found[0]
                    else:
                        message = (
                            _("Several household groups of the grid have this name: give the group code.")
                            if found
                            else _("No such household group in the grid.")
                        )
                        self.report.add(row.n, "group", row.group, message)
                        continue
            try:
                row.place = services.placement(grid=grid, group=group)
            except ApplicationError as exc:
                self.report.add_error(row.n, exc, {"grid": row.grid, "group": row.group})

    def resolve(self) -> None:
        """Kind-specific bulk lookups (duplicates, households, tags) after the places."""

    # -- building and writing --

    def build(self, row: _Row) -> Any:
        return self.model(**row.values, **row.place)

    def write(self, objects: list[Any]) -> None:
        self.model.objects.bulk_create(objects, batch_size=BATCH_SIZE)

    # -- the run --

    def check(self, book: WorkbookReader, progress: Callable[[int, int], None] | None) -> ImportResult:
        """Read and check every row; `self.built` holds the records to write when no row is bad."""
        result = ImportResult(kind=self.kind, dry_run=self.dry_run, file_name=book.name)
        self.built: dict[int, Any] = {}
        rows = book.rows()
        header = next(rows, None)
        if header is None:
            raise refused("import_empty", _("The first sheet is empty: fill in the template's sheet."))
        index = self.map_headers(header)
        if index is None:
            result.errors = self.header_errors
            return result
        positions = list(index.items())
        by_position = {position: key for key, position in positions}
        width = max(index.values()) + 1
        estimate = book.estimated_rows()
        bad_rows = self.report.bad_rows
        total = 0
        for n, values in enumerate(rows, start=2):
            if len(values) < width:
                values = tuple(values) + (None,) * (width - len(values))
            blank = True
            for position, value in enumerate(values):
                if value is None:
                    continue
                if type(value) is str:
                    if value[:1] == "=":
                        self._formula(n, by_position.get(position), position, value)
                        blank = False
                    elif blank and value.strip():
                        blank = False
                elif isinstance(value, FORMULA_TYPES):
                    self._formula(n, by_position.get(position), position, value)
                    blank = False
                else:
                    blank = False
            if blank:
                continue
            total += 1
            if total > MAX_ROWS:
                raise refused(
                    "import_too_many_rows",
                    _("The file has more than %(rows)s rows: split it into several files.") % {"rows": f"{MAX_ROWS:,}"},
                )
            cells = {key: values[position] for key, position in positions}
            if n in bad_rows:
                for key in cells:
                    if (n, key) in self.report.formula_cells:
                        cells[key] = None
            self.rows.append(self.read_row(n, cells))
            if progress is not None and total % PROGRESS_EVERY == 0:
                progress(total, max(total, estimate))
        result.total_rows = total
        if not total:
            raise refused("import_empty", _("The file has no data rows below the headers."))
        self.resolve_places()
        self.resolve()
        for row in self.rows:
            if row.n not in bad_rows and row.values is not None and row.place is not None:
                self.built[row.n] = self.build(row)
        result.errors = self.report.errors()
        if result.errors:
            self.built = {}
        if progress is not None:
            progress(total, total)
        return result

    def _formula(self, n: int, key: str | None, position: int, value: Any) -> None:
        if key is None:
            # A formula outside the template's columns is refused too; the column is named by its letter.
            key = f"#{position}"
            self.report.columns.setdefault(key, Column(key, get_column_letter(position + 1), ""))
        self.report.add(n, key, value, _("Formulas are not accepted: enter the value itself."))
        self.report.formula_cells.add((n, key))


def _chunks(items: list | tuple, size: int = LOOKUP_CHUNK) -> Iterator[list]:
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start : start + size]


class _ResidentImporter(_Importer):
    kind = "residents"
    model = Resident

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.address_limit = Resident._meta.get_field("address").max_length
        self.head_relation = str(Relation.HEAD)
        self.genders = self.choices["gender"]
        self.relations = self.choices["relation"]
        self.statuses = self.choices["living_status"]

    def read_row(self, n: int, cells: dict[str, Any]) -> _Row:
        # The hot loop of a 100,000-row import: plain lookups, no helper calls that are not needed.
        report = self.report
        grid = cell_text(cells["grid"])
        if not grid:
            report.add(n, "grid", "", _("This field is required."))
        birth = cells["birth_date"]
        if type(birth) is datetime:
            birth = birth.date()
        elif birth is not None:
            try:
                birth = _date(birth)
            except (TypeError, ValueError, OverflowError):
                report.add(n, "birth_date", birth, _("Not a date: write it as 1990-01-31."))
                birth = None
        address = cell_text(cells["address"])
        gender = cell_text(cells["gender"])
        relation = cell_text(cells["relation"])
        status = cell_text(cells["living_status"])
        values: dict[str, Any] | None = None
        try:
            data = services.validate_resident(
                name=cell_text(cells["name"]),
                gender=self.genders.get(gender, gender),
                birth_date=birth,
                id_number=cell_text(cells["id_number"]),
                phone=cell_text(cells["phone"]),
                relation=self.relations.get(relation, relation),
                address=address,
                notes=cell_text(cells["notes"]),
                living_status=self.statuses.get(status, status) or LivingStatus.RESIDENT,
            )
        except ApplicationError as exc:
            report.add_error(n, exc, cells)
        else:
            values = data.__dict__
        if len(address) > self.address_limit:
            report.add(n, "address", address, _("At most %(count)d characters.") % {"count": self.address_limit})
            values = None
        tags = cells["tags"]
        id_hash = crypto.blind_index(values["id_number"]) if values and values["id_number"] else None
        return _Row(
            n,
            values,
            grid,
            cell_text(cells["group"]),
            (cell_text(cells["household"]), TAG_SEPARATORS.split(cell_text(tags)) if tags else (), id_hash),
        )

    def resolve(self) -> None:
        self._duplicates()
        self._tags()
        self._households()

    def _duplicates(self) -> None:
        """The same ID number twice in the file (every row named), or already registered."""
        seen: dict[str, list[_Row]] = defaultdict(list)
        for row in self.rows:
            if row.extra[2]:
                seen[row.extra[2]].append(row)
        for rows in seen.values():
            if len(rows) > 1:
                for row in rows:
                    others = ", ".join(str(other.n) for other in rows if other is not row)
                    self.report.add(
                        row.n,
                        "id_number",
                        row.values["id_number"],
                        _("The same ID number is also in row(s) %(rows)s.") % {"rows": others},
                    )
        for chunk in _chunks(list(seen)):
            for id_hash, pk in Resident.objects.filter(id_number_hash__in=chunk).values_list("id_number_hash", "pk"):
                message = _("This ID number is already registered (resident #%(id)s).") % {"id": pk}
                for row in seen[id_hash]:
                    self.report.add(row.n, "id_number", row.values["id_number"], message)

    def _tags(self) -> None:
        wanted = {name for row in self.rows for name in row.extra[1] if name}
        if not wanted:
            self.tag_ids: dict[int, list[int]] = {}
            return
        catalogue: dict[str, Tag] = {}
        for tag in Tag.objects.all():
            catalogue[tag.code] = tag
            catalogue[tag.name] = tag
        may_see_restricted = services.may_see_restricted(self.actor)
        self.tag_ids = {}
        for row in self.rows:
            ids: list[int] = []
            for name in row.extra[1]:
                if not name:
                    continue
                tag = catalogue.get(name)
                if tag is None or (tag.restricted and not may_see_restricted):
                    message = (
                        _("Key-person tags need their own permission.")
                        if tag is not None
                        else _("Unknown tag: %(name)s") % {"name": name[:40]}
                    )
                    self.report.add(row.n, "tags", "、".join(row.extra[1]), message)
                elif tag.pk not in ids:
                    ids.append(tag.pk)
            if ids:
                self.tag_ids[row.n] = ids

    def _households(self) -> None:
        """Households named by their number in the row's grid; a head (户主) for those without one."""
        keys = {(row.place["grid"].pk, row.extra[0]) for row in self.rows if row.extra[0] and row.place}
        self.households: dict[int, Household] = {}
        self.heads: dict[int, int] = {}  # household pk → row number of its new head
        if not keys:
            return
        found: dict[tuple[int, str], list[Household]] = defaultdict(list)
        grid_ids = sorted({g for g, _k in keys})
        for chunk in _chunks(sorted({k for _g, k in keys})):
            for household in Household.objects.filter(grid_id__in=grid_ids, number__in=chunk).only(
                "id", "number", "grid_id", "group_id", "head_id", "area_code"
            ):
                found[(household.grid_id, household.number)].append(household)
        groups = Area.objects.in_bulk({h.group_id for hs in found.values() for h in hs if h.group_id})
        claims: dict[int, list[_Row]] = defaultdict(list)
        for row in self.rows:
            number = row.extra[0]
            if not number or row.place is None:
                continue
            grid = row.place["grid"]
            candidates = found.get((grid.pk, number), [])
            if len(candidates) != 1:
                message = (
                    _("Several households of the grid have this number.")
                    if candidates
                    else _("No household with this number in the grid.")
                )
                self.report.add(row.n, "household", number, message)
                continue
            household = candidates[0]
            if row.place["group"] is None and household.group_id:
                # As on the page: a resident joins the household's group unless the row names one.
                row.place = services.placement(grid=grid, group=groups[household.group_id])
            self.households[row.n] = household
            if row.values and row.values["relation"] == self.head_relation:
                claims[household.pk].append(row)
        for household_pk, rows in claims.items():
            household = self.households[rows[0].n]
            if household.head_id is not None:
                for row in rows:
                    self.report.add(row.n, "relation", "户主", _("The household already has a head."))
            elif len(rows) > 1:
                for row in rows:
                    others = ", ".join(str(other.n) for other in rows if other is not row)
                    self.report.add(
                        row.n,
                        "relation",
                        "户主",
                        _("Rows %(rows)s name another head of the same household.") % {"rows": others},
                    )
            else:
                self.heads[household_pk] = rows[0].n

    def build(self, row: _Row) -> dict[str, Any]:
        values = dict(row.values)
        place = row.place
        group = place["group"]
        household = self.households.get(row.n)
        values["id"] = None
        values["id_number_hash"] = row.extra[2]  # computed once, for the duplicate check
        values["grid_id"] = place["grid"].pk
        values["group_id"] = group.pk if group is not None else None
        values["area_code"] = place["area_code"]
        values["household_id"] = household.pk if household is not None else None
        return values

    def write(self, objects: list[dict[str, Any]]) -> None:
        inserter = RowInserter(Resident)
        if inserter.supported:
            inserter.insert(objects)
        else:
            residents = [Resident(**values) for values in objects]  # pre_save computes the hashes again
            Resident.objects.bulk_create(residents, batch_size=BATCH_SIZE)
            for values, resident in zip(objects, residents, strict=True):
                values["id"] = resident.pk
        by_row = self.built
        through = Resident.tags.through
        links = [
            through(resident_id=by_row[n]["id"], tag_id=tag_id)
            for n, tag_ids in self.tag_ids.items()
            for tag_id in tag_ids
        ]
        through.objects.bulk_create(links, batch_size=BATCH_SIZE)
        if self.heads:
            now = timezone.now()
            households = []
            for n in self.heads.values():
                household = self.households[n]
                household.head_id = by_row[n]["id"]
                household.updated_at = now
                households.append(household)
            Household.objects.bulk_update(households, ["head", "updated_at"], batch_size=500)


class RowInserter:
    """Insert many rows of one model with `executemany`, each column prepared as its field prepares it.

    Why not `bulk_create`: for 100,000 residents Django's per-field, per-row preparation and SQL
    assembly took as long as reading the file, and the import must stay within three times the
    read. Here a column of plain text, numbers or foreign keys is passed as it is (what those
    fields' preparation returns for such values), dates go through the backend's adapter, the
    automatic timestamps are prepared once, and an EncryptedField's value is sealed with
    `crypto.encrypt` under the field's context and its blind index set with `crypto.blind_index`
    unless the row carries it already — what the field's `get_prep_value` and `pre_save` compute,
    for values that are already normalised (the validators return them so; re-normalising every
    value twice more cost a tenth of the import). Primary keys are drawn first (the PostgreSQL
    sequence, or past the highest SQLite rowid under the write lock that the transaction holds),
    so the caller knows them for the tag links. Other databases fall back to `bulk_create`
    (`supported` is False).
    """

    def __init__(self, model: type[Model], using: str = "default") -> None:
        from django.db import connections, models

        from gridgov.core.privacy import EncryptedField

        self.model = model
        self.connection = connections[using]
        self.supported = self.connection.vendor in ("sqlite", "postgresql")
        opts = model._meta
        self.fields = list(opts.concrete_fields)
        self.encrypted = [(f.attname, f.context, f.hash_field) for f in self.fields if isinstance(f, EncryptedField)]
        sealed = {attname for attname, _context, _hash in self.encrypted}
        now = timezone.now()
        ops = self.connection.ops
        self.preparers: list[Callable[[Any], Any] | None] = []
        self.constants: dict[str, Any] = {}
        for f in self.fields:
            if f.primary_key or f.attname in sealed or type(f) in (models.CharField, models.TextField) or f.many_to_one:
                self.preparers.append(None)
            elif isinstance(f, models.DateTimeField) and (f.auto_now or f.auto_now_add):
                self.constants[f.attname] = f.get_db_prep_save(now, self.connection)
                self.preparers.append(None)
            elif type(f) is models.DateField:
                self.preparers.append(ops.adapt_datefield_value)
            else:
                self.preparers.append(lambda value, f=f: f.get_db_prep_save(value, self.connection))
        quote = ops.quote_name
        columns = ", ".join(quote(f.column) for f in self.fields)
        placeholders = ", ".join(["%s"] * len(self.fields))
        # Identifiers come from the model's metadata, quoted; values are parameters.
        self.sql = f"INSERT INTO {quote(opts.db_table)} ({columns}) VALUES ({placeholders})"  # noqa: S608
        self.copy_sql = f"COPY {quote(opts.db_table)} ({columns}) FROM STDIN"

    def reserve_ids(self, count: int) -> list[int]:
        """`count` fresh primary keys."""
        opts = self.model._meta
        with self.connection.cursor() as cursor:
            if self.connection.vendor == "postgresql":
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                    [opts.db_table, opts.pk.column, count],
                )
                return [row[0] for row in cursor.fetchall()]
            quote = self.connection.ops.quote_name
            # AUTOINCREMENT never reuses a key: start past both the highest row and the sequence.
            cursor.execute(f"SELECT MAX({quote(opts.pk.column)}) FROM {quote(opts.db_table)}")  # noqa: S608
            top = cursor.fetchone()[0] or 0
            cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [opts.db_table])
            row = cursor.fetchone()
            start = max(top, row[0] if row else 0) + 1
            return list(range(start, start + count))

    def insert(self, rows: list[dict[str, Any]]) -> None:
        """Insert `rows` (attname → value; "id" is set here). Call inside a transaction.

        EncryptedField values are plain and normalised; the row may carry their blind index.
        """
        if not self.connection.in_atomic_block:
            raise RuntimeError("RowInserter.insert must run inside transaction.atomic()")
        for values, pk in zip(rows, self.reserve_ids(len(rows)), strict=True):
            values["id"] = pk
        plan = [(f.attname, prepare) for f, prepare in zip(self.fields, self.preparers, strict=True)]
        constants = self.constants
        encrypt, blind_index = crypto.encrypt, crypto.blind_index
        with self.connection.cursor() as cursor, self._page_cache(cursor):
            for start in range(0, len(rows), BATCH_SIZE):
                batch = []
                for values in rows[start : start + BATCH_SIZE]:
                    for attname, context, hash_field in self.encrypted:
                        plain = values[attname]
                        if isinstance(plain, Sensitive):
                            plain = plain.reveal()
                        values[attname] = encrypt(plain, context=context) if plain else ""
                        if hash_field and values.get(hash_field) is None:
                            values[hash_field] = blind_index(plain) if plain else None
                    values.update(constants)
                    batch.append([values[name] if prepare is None else prepare(values[name]) for name, prepare in plan])
                self._send(cursor, batch)

    @contextmanager
    def _page_cache(self, cursor: Any) -> Iterator[None]:
        """On SQLite, a page cache of up to 128 MB while writing (2 MB by default): the blind-index
        columns are random keys, and with 200,000 rows already there the write took half as long again
        when index pages had to be fetched back. The connection's setting is restored afterwards."""
        if self.connection.vendor != "sqlite":
            yield
            return
        cursor.execute("PRAGMA cache_size")
        before = int(cursor.fetchone()[0])
        cursor.execute(f"PRAGMA cache_size = {SQLITE_WRITE_CACHE_KIB}")
        try:
            yield
        finally:
            cursor.execute(f"PRAGMA cache_size = {before}")

    def _send(self, cursor: Any, batch: list[list[Any]]) -> None:
        if self.connection.vendor == "postgresql":
            # COPY: one stream instead of one INSERT per row (PostgreSQL took twice SQLite's time with executemany).
            with cursor.cursor.copy(self.copy_sql) as copy:
                for params in batch:
                    copy.write_row(params)
        else:
            cursor.executemany(self.sql, batch)


class _CleanedImporter(_Importer):
    """Households, buildings and shops: the services' value checks, then the model's full_clean."""

    code: str
    text_fields: tuple[str, ...] = ()
    required_fields: tuple[str, ...] = ("grid",)

    def clean_values(self, n: int, cells: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def read_row(self, n: int, cells: dict[str, Any]) -> _Row:
        self.required(n, cells, *self.required_fields)
        values: dict[str, Any] | None = None
        try:
            values = self.clean_values(n, cells)
        except ApplicationError as exc:
            self.report.add_error(n, exc, cells)
        return _Row(n=n, values=values, grid=cell_text(cells["grid"]), group=cell_text(cells["group"]), extra=cells)

    def resolve(self) -> None:
        for row in self.rows:
            if row.values is None or row.place is None or row.n in self.report.bad_rows:
                continue
            obj = self.model(**row.values, **row.place)
            try:
                obj.full_clean(exclude=["grid", "group", "head", "household", "building"], validate_unique=False)
            except ValidationError as exc:
                for name, messages in exc.message_dict.items():
                    key = name if name in self.report.columns else ""
                    for message in messages:
                        self.report.add(row.n, key, row.extra.get(key), message)
            else:
                row.values = {name: getattr(obj, name) for name in row.values}
        self.duplicates()
        for row in self.rows:
            row.extra = None  # the raw cells are no longer needed

    def duplicates(self) -> None:
        """Kind-specific duplicate checks inside the file and against the database."""

    def _refuse_repeats(self, keyed: dict[Any, list[_Row]], column: str, message: str) -> None:
        for rows in keyed.values():
            if len(rows) > 1:
                for row in rows:
                    others = ", ".join(str(other.n) for other in rows if other is not row)
                    self.report.add(row.n, column, row.values.get(column), message % {"rows": others})


class _HouseholdImporter(_CleanedImporter):
    kind = "households"
    model = Household
    required_fields = ("grid", "address")

    def clean_values(self, n: int, cells: dict[str, Any]) -> dict[str, Any]:
        return services._household_values(
            address=cell_text(cells["address"]), room=cell_text(cells["room"]), number=cell_text(cells["number"])
        )

    def duplicates(self) -> None:
        """A household number names one household of its grid: unique in the file and in the database."""
        keyed: dict[tuple[int, str], list[_Row]] = defaultdict(list)
        for row in self.rows:
            if row.values and row.place and row.values["number"]:
                keyed[(row.place["grid"].pk, row.values["number"])].append(row)
        self._refuse_repeats(keyed, "number", _("The same household number of the grid is also in row(s) %(rows)s."))
        grid_ids = sorted({g for g, _n in keyed})
        for chunk in _chunks(sorted({number for _g, number in keyed})):
            for grid_id, number in Household.objects.filter(grid_id__in=grid_ids, number__in=chunk).values_list(
                "grid_id", "number"
            ):
                for row in keyed.get((grid_id, number), []):
                    self.report.add(
                        row.n, "number", number, _("A household with this number is already registered in the grid.")
                    )


class _BuildingImporter(_CleanedImporter):
    kind = "buildings"
    model = Building
    required_fields = ("grid", "address", "use")

    def clean_values(self, n: int, cells: dict[str, Any]) -> dict[str, Any]:
        return services._building_values(
            address=cell_text(cells["address"]),
            use=self.choice("use", cells["use"]),
            name=cell_text(cells["name"]),
            floors=self.number(n, cells, "floors", _int),
            structure=self.choice("structure", cells["structure"]),
            year_built=self.number(n, cells, "year_built", _int),
            safety_grade=self.choice("safety_grade", cells["safety_grade"]).upper(),
            lng=self.number(n, cells, "lng", cell_float),
            lat=self.number(n, cells, "lat", cell_float),
        )

    def duplicates(self) -> None:
        """The same building (name and address) twice in a grid: in the file or already registered."""
        keyed: dict[tuple[int, str, str], list[_Row]] = defaultdict(list)
        for row in self.rows:
            if row.values and row.place:
                keyed[(row.place["grid"].pk, row.values["address"], row.values["name"])].append(row)
        self._refuse_repeats(keyed, "address", _("The same building is also in row(s) %(rows)s."))
        grid_ids = sorted({g for g, _a, _n in keyed})
        for chunk in _chunks(sorted({address for _g, address, _n in keyed})):
            existing = Building.objects.filter(grid_id__in=grid_ids, address__in=chunk).values_list(
                "grid_id", "address", "name"
            )
            for key in existing:
                for row in keyed.get(key, []):
                    self.report.add(row.n, "address", key[1], _("This building is already registered in the grid."))


class _ShopImporter(_CleanedImporter):
    kind = "shops"
    model = Shop
    required_fields = ("grid", "name", "business_type")

    def clean_values(self, n: int, cells: dict[str, Any]) -> dict[str, Any]:
        return services._shop_values(
            name=cell_text(cells["name"]),
            business_type=cell_text(cells["business_type"]),
            licence_number=cell_text(cells["licence_number"]),
            operator=cell_text(cells["operator"]),
            phone=cell_text(cells["phone"]),
            address=cell_text(cells["address"]),
            lng=self.number(n, cells, "lng", cell_float),
            lat=self.number(n, cells, "lat", cell_float),
        )

    def duplicates(self) -> None:
        """A unified social credit code names one business: unique in the file and in the database."""
        keyed: dict[str, list[_Row]] = defaultdict(list)
        for row in self.rows:
            if row.values and row.values["licence_number"]:
                keyed[row.values["licence_number"]].append(row)
        self._refuse_repeats(keyed, "licence_number", _("The same credit code is also in row(s) %(rows)s."))
        for chunk in _chunks(sorted(keyed)):
            for licence in Shop.objects.filter(licence_number__in=chunk).values_list("licence_number", flat=True):
                for row in keyed.get(licence, []):
                    self.report.add(
                        row.n, "licence_number", licence, _("A shop with this credit code is already registered.")
                    )


IMPORTERS: dict[str, type[_Importer]] = {
    "residents": _ResidentImporter,
    "households": _HouseholdImporter,
    "buildings": _BuildingImporter,
    "shops": _ShopImporter,
}


def import_file(
    kind: str,
    source: str | Path | BinaryIO,
    *,
    actor: Any,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
    file_name: str | None = None,
) -> ImportResult:
    """Import the rows of an .xlsx template: every row is checked first; one bad row and nothing is written.

    kind: "residents", "households", "buildings" or "shops". actor: the user (None for system jobs);
    rows outside the grids whose registry the actor keeps are errors. dry_run: check only.
    progress(done, total) is called every 1,000 rows while reading and checking, and once with
    done == total before the write. file_name: the name the audit records (default: the source's).
    A file that cannot be read at all (not an .xlsx, too large, no rows) raises ApplicationError.
    """
    if kind not in IMPORTERS:
        raise refused("import_unknown_kind", _("Unknown kind of records: %(kind)s") % {"kind": kind})
    importer = IMPORTERS[kind](actor=actor, dry_run=dry_run)
    book = WorkbookReader(source)
    with _collector_paused():
        try:
            # Checking runs outside any transaction: a long file must not hold the database's write lock.
            result = importer.check(book, progress)
        finally:
            book.close()
        return _finish(importer, result, kind=kind, actor=actor, dry_run=dry_run, file_name=file_name or book.name)


def _finish(
    importer: _Importer, result: ImportResult, *, kind: str, actor: Any, dry_run: bool, file_name: str
) -> ImportResult:
    """Audit the run and, when every row is good and this is no dry run, write everything in one transaction."""
    result.file_name = file_name[:200]
    details = {"kind": kind, "rows": result.total_rows, "file": result.file_name, "dry_run": dry_run}
    if not result.ok or dry_run:
        audit.record(
            actor=actor,
            event="registry.import",
            result="success" if result.ok else "failure",
            data={**details, "created": 0, "errors": len(result.errors)},
        )
        return result
    objects = list(importer.built.values())
    with _duplicate_refusal(kind), transaction.atomic():
        importer.write(objects)
        result.created = len(objects)
        audit.record(actor=actor, event="registry.import", data={**details, "created": result.created, "errors": 0})
    return result


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while an import holds its rows in memory.

    An import keeps a few objects per cell alive until the write; each collection of the oldest
    generation walks all of them, which made a 100,000-row import spend more than half its time
    in the collector. The rows hold no reference cycles; the collector resumes afterwards.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _duplicate_refusal(kind: str) -> Any:
    """A resident registered by someone else between the check and the write: refuse the whole file."""
    if kind != "residents":
        return nullcontext()
    message = _("An ID number in the file was registered meanwhile by someone else; nothing was imported.")
    return duplicates_refused("duplicate_id_number", message)


# --- error reports -------------------------------------------------------------------------------

REPORT_HEADERS = ("行号", "列", "值（已脱敏）", "原因")


def write_error_report(errors: Iterable[RowError | dict], target: str | Path | BinaryIO, *, title: str = "") -> int:
    """The error table as an .xlsx (row, column, masked value, reason); returns the number of errors."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("错误报告")
    for letter, width in zip("ABCD", (8, 16, 24, 70), strict=True):
        ws.column_dimensions[letter].width = width
    if title:
        ws.append([_cell(ws, title)])
    ws.append([_cell(ws, h, bold=True) for h in REPORT_HEADERS])
    count = 0
    for error in errors:
        item = error.as_dict() if isinstance(error, RowError) else error
        ws.append([item["row"], _cell(ws, item["column"]), _cell(ws, item["value"]), _cell(ws, item["reason"])])
        count += 1
    wb.save(target)
    return count


# --- exports -------------------------------------------------------------------------------------


def _cell(ws: Any, value: Any, *, bold: bool = False) -> Any:
    """A write-only cell that is always data: text starting with '=' stays text, never a formula."""
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
        if value.startswith("=") or bold:
            cell = WriteOnlyCell(ws, value=value)
            cell.data_type = "s"
            if bold:
                cell.font = HEADER_FONT
            return cell
    return value


def _label(labels: dict[str, str], value: str) -> str:
    return labels.get(value, value or "")


def _name(area: Area | None) -> str:
    return area.name if area is not None else ""


def _geometry_text(geometry: Any) -> str:
    if not isinstance(geometry, dict):
        return ""
    coordinates = geometry.get("coordinates")
    if geometry.get("type") == "Point" and isinstance(coordinates, list | tuple) and len(coordinates) >= 2:
        return f"{coordinates[0]:.6f},{coordinates[1]:.6f}"
    return str(geometry.get("type") or "")


@dataclass(frozen=True)
class ExportFormat:
    """The columns of one export: header and how to read it from a row (values print masked)."""

    kind: str
    title: str
    columns: tuple[tuple[str, Callable[[Any], Any], int], ...]


EXPORTS: dict[str, ExportFormat] = {
    "residents": ExportFormat(
        "residents",
        "居民台账",
        (
            ("编号", lambda r: r.pk, 8),
            ("姓名", lambda r: r.name, 10),
            ("性别", lambda r: _label(GENDER_LABELS, r.gender), 6),
            ("出生日期", lambda r: r.birth_date, 12),
            ("身份证号码", lambda r: str(r.id_number), 22),
            ("联系电话", lambda r: str(r.phone), 16),
            ("网格", lambda r: _name(r.grid), 18),
            ("联户组", lambda r: _name(r.group), 12),
            ("户号", lambda r: r.household.number if r.household_id else "", 10),
            ("与户主关系", lambda r: _label(RELATION_LABELS, r.relation), 10),
            ("居住地址", lambda r: r.address, 28),
            ("居住状态", lambda r: _label(LIVING_STATUS_LABELS, r.living_status), 8),
            ("标签", lambda r: "、".join(t.name for t in r.tags.all()), 20),
            ("备注", lambda r: r.notes, 24),
        ),
    ),
    "households": ExportFormat(
        "households",
        "户台账",
        (
            ("编号", lambda h: h.pk, 8),
            ("户号", lambda h: h.number, 10),
            ("网格", lambda h: _name(h.grid), 18),
            ("联户组", lambda h: _name(h.group), 12),
            ("地址", lambda h: h.address, 28),
            ("房号", lambda h: h.room, 8),
            ("房屋", lambda h: str(h.building) if h.building_id else "", 18),
            ("户主", lambda h: h.head.name if h.head_id else "", 10),
            ("人数", lambda h: getattr(h, "member_count", None), 6),
        ),
    ),
    "buildings": ExportFormat(
        "buildings",
        "房屋台账",
        (
            ("编号", lambda b: b.pk, 8),
            ("名称", lambda b: b.name, 14),
            ("地址", lambda b: b.address, 28),
            ("网格", lambda b: _name(b.grid), 18),
            ("联户组", lambda b: _name(b.group), 12),
            ("用途", lambda b: _label(BUILDING_USE_LABELS, b.use), 10),
            ("层数", lambda b: b.floors, 6),
            ("结构", lambda b: _label(STRUCTURE_LABELS, b.structure), 10),
            ("建成年份", lambda b: b.year_built, 8),
            ("安全等级", lambda b: b.safety_grade, 8),
            ("经度", lambda b: b.lng, 12),
            ("纬度", lambda b: b.lat, 12),
        ),
    ),
    "shops": ExportFormat(
        "shops",
        "门店台账",
        (
            ("编号", lambda s: s.pk, 8),
            ("店名", lambda s: s.name, 18),
            ("经营类别", lambda s: s.business_type, 12),
            ("统一社会信用代码", lambda s: s.licence_number, 22),
            ("经营者", lambda s: s.operator, 10),
            ("联系电话", lambda s: str(s.phone), 16),
            ("网格", lambda s: _name(s.grid), 18),
            ("联户组", lambda s: _name(s.group), 12),
            ("地址", lambda s: s.address, 24),
            ("经度", lambda s: s.lng, 12),
            ("纬度", lambda s: s.lat, 12),
        ),
    ),
    "places": ExportFormat(
        "places",
        "点位台账",
        (
            ("编号", lambda p: p.pk, 8),
            ("名称", lambda p: p.name, 18),
            ("类型", lambda p: _label(PLACE_KIND_LABELS, p.kind), 10),
            ("网格", lambda p: _name(p.grid), 18),
            ("联户组", lambda p: _name(p.group), 12),
            ("几何", lambda p: (p.geometry or {}).get("type", "") if isinstance(p.geometry, dict) else "", 10),
            ("坐标", lambda p: _geometry_text(p.geometry), 24),
            ("说明", lambda p: p.description, 30),
        ),
    ),
}


def write_export(
    kind: str, rows: Iterable[Any], target: str | Path | BinaryIO, *, area_name: str = "", day: date | None = None
) -> int:
    """Write a ledger: a title row (area and date), Chinese headers, one row per record, masked values only.

    Returns the number of records written. `rows` come from the list page's selector and FilterSet.
    """
    fmt = EXPORTS[kind]
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(fmt.title)
    for index, (_header, _getter, width) in enumerate(fmt.columns, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.freeze_panes = "A3"
    day = day or timezone.localdate()
    title = f"{area_name} {fmt.title}（导出日期：{day.isoformat()}）".strip()
    ws.append([_cell(ws, title, bold=True)])
    ws.append([_cell(ws, header, bold=True) for header, _getter, _width in fmt.columns])
    count = 0
    getters = [getter for _header, getter, _width in fmt.columns]
    for obj in rows:
        ws.append([_cell(ws, _export_value(getter(obj))) for getter in getters])
        count += 1
    wb.save(target)
    return count


def _export_value(value: Any) -> Any:
    # Anything that is not a plain number or date prints through str(): a Sensitive prints masked.
    if value is None or isinstance(value, int | float | date | str):
        return value
    return str(value)


# --- a generated file, for benchmarks and tests --------------------------------------------------

_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
_GIVEN = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰萍建国志强"
    "红梅海燕文博子涵梓萱浩然欣怡宇轩雨桐思远俊杰晓东春生秋菊冬梅德明淑珍"
)
_PHONE_PREFIXES = ("130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155", "156")
_PHONE_PREFIXES += ("157", "158", "159", "166", "173", "175", "176", "177", "180", "181", "186", "187", "188", "189")
_GENERATED_TAGS = ("低保", "独居老人", "党员", "志愿者", "残疾", "党员、志愿者", "五保", "困难户")


def make_residents_workbook(
    path: str | Path, rows: int, *, grid_codes: Iterable[str], seed: int = 2026, region: str = "340404"
) -> Path:
    """Write a filled residents sheet of `rows` valid, distinct residents (ID numbers with the right check
    digit, distinct mobile numbers) spread over `grid_codes`. For benchmarks and tests.

    The file is laid out as Excel saves one (a shared-string table, the sheet's dimension first),
    not as openpyxl writes one (inline strings, no dimension): openpyxl reads Excel's layout about
    a third faster, and the import's speed target is relative to that read time.
    """
    rng = random.Random(seed)
    grids = list(grid_codes)
    if not grids:
        raise ValueError("grid_codes is empty")
    ids: set[str] = set()
    phones: set[str] = set()
    first = date(1930, 1, 1).toordinal()
    span = date(2020, 12, 31).toordinal() - first
    relations = list(RELATION_LABELS.values())

    def residents() -> Iterator[list[Any]]:
        for i in range(rows):
            while True:
                birth = date.fromordinal(first + rng.randrange(span))
                body = f"{region}{birth:%Y%m%d}{rng.randrange(1000):03d}"
                if body not in ids:
                    ids.add(body)
                    break
            while True:
                phone = rng.choice(_PHONE_PREFIXES) + f"{rng.randrange(100_000_000):08d}"
                if phone not in phones:
                    phones.add(phone)
                    break
            male = int(body[16]) % 2 == 1
            yield [
                rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2)))),
                ("男" if male else "女") if i % 2 else None,
                birth if i % 3 == 0 else None,
                body + id_check_digit(body),
                phone if i % 5 else None,
                grids[i % len(grids)],
                None,
                None,
                rng.choice(relations),
                f"第{rng.randrange(1, 60)}栋{rng.randrange(1, 7)}0{rng.randrange(1, 5)}室",
                "在住",
                rng.choice(_GENERATED_TAGS) if rng.random() < 0.08 else None,
                None,
            ]

    path = Path(path)
    fmt = FORMATS["residents"]
    write_plain_xlsx(path, fmt.title, [fmt.headers, *residents()])
    return path


_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PACKAGE_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_OOXML = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_XLSX_PARTS = {
    "[Content_Types].xml": (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{_OOXML}.sheet.main+xml"/>'
        f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{_OOXML}.worksheet+xml"/>'
        f'<Override PartName="/xl/sharedStrings.xml" ContentType="{_OOXML}.sharedStrings+xml"/>'
        f'<Override PartName="/xl/styles.xml" ContentType="{_OOXML}.styles+xml"/>'
        "</Types>"
    ),
    "_rels/.rels": (
        f'<Relationships xmlns="{_PACKAGE_REL_NS}">'
        f'<Relationship Id="rId1" Type="{_REL_NS}/officeDocument" Target="xl/workbook.xml"/>'
        "</Relationships>"
    ),
    "xl/_rels/workbook.xml.rels": (
        f'<Relationships xmlns="{_PACKAGE_REL_NS}">'
        f'<Relationship Id="rId1" Type="{_REL_NS}/worksheet" Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId2" Type="{_REL_NS}/sharedStrings" Target="sharedStrings.xml"/>'
        f'<Relationship Id="rId3" Type="{_REL_NS}/styles" Target="styles.xml"/>'
        "</Relationships>"
    ),
    "xl/styles.xml": (
        f'<styleSheet xmlns="{_MAIN_NS}">'
        '<fonts count="1"><font><sz val="11"/><name val="等线"/></font></fonts>'
        '<fills count="2"><fill><patternFill patternType="none"/></fill>'
        '<fill><patternFill patternType="gray125"/></fill></fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
        '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
        '<xf numFmtId="14" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
        "</styleSheet>"
    ),
}
_EXCEL_EPOCH = date(1899, 12, 30).toordinal()


def write_plain_xlsx(path: str | Path, title: str, rows: list[list[Any]]) -> None:
    """A one-sheet workbook laid out as Excel saves one: strings in the shared-string table, dates as
    serial numbers with a date format, the dimension before the data. Values: str, int, float, date, None."""
    from xml.sax.saxutils import escape, quoteattr

    strings: dict[str, int] = {}
    width = max((len(row) for row in rows), default=1)
    letters = [get_column_letter(i) for i in range(1, width + 1)]
    parts: list[str] = []
    for number, row in enumerate(rows, start=1):
        cells = []
        for letter, value in zip(letters, row, strict=False):
            if value is None or value == "":
                continue
            ref = f"{letter}{number}"
            if isinstance(value, str):
                index = strings.setdefault(value, len(strings))
                cells.append(f'<c r="{ref}" t="s"><v>{index}</v></c>')
            elif isinstance(value, datetime | date):
                serial = (value.date() if isinstance(value, datetime) else value).toordinal() - _EXCEL_EPOCH
                cells.append(f'<c r="{ref}" s="1"><v>{serial}</v></c>')
            else:
                cells.append(f'<c r="{ref}"><v>{value}</v></c>')
        parts.append(f'<row r="{number}">{"".join(cells)}</row>')
    shared = "".join(
        f'<si><t xml:space="preserve">{escape(text)}</t></si>'
        if text != text.strip()
        else f"<si><t>{escape(text)}</t></si>"
        for text in strings
    )
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, text in _XLSX_PARTS.items():
            archive.writestr(name, _XML_HEAD + text)
        archive.writestr(
            "xl/workbook.xml",
            f'{_XML_HEAD}<workbook xmlns="{_MAIN_NS}" xmlns:r="{_REL_NS}">'
            f'<sheets><sheet name={quoteattr(title)} sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        archive.writestr(
            "xl/sharedStrings.xml",
            f'{_XML_HEAD}<sst xmlns="{_MAIN_NS}" count="{len(strings)}" uniqueCount="{len(strings)}">{shared}</sst>',
        )
        archive.writestr(
            "xl/worksheets/sheet1.xml",
            f'{_XML_HEAD}<worksheet xmlns="{_MAIN_NS}"><dimension ref="A1:{letters[-1]}{len(rows)}"/>'
            f"<sheetData>{''.join(parts)}</sheetData></worksheet>",
        )


__all__ = [
    "EXPORTS",
    "EXPORT_KINDS",
    "FORMATS",
    "IMPORT_KINDS",
    "ImportResult",
    "RowError",
    "RowInserter",
    "build_template",
    "check_upload",
    "import_file",
    "make_residents_workbook",
    "masked_value",
    "write_error_report",
    "write_export",
    "write_plain_xlsx",
    "write_template",
]
