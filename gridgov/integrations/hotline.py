"""12345 work orders from an .xlsx export: the template, and the import through the intake door.

Every row is checked first (its cells, its type's mapping rule, the case pipeline's intake check)
and nothing is written when one row is bad: the result lists every bad row with its row number,
column and reason. Otherwise every order becomes a case through `intake.create` in one
transaction, with the same mapping rules and the same idempotency as the signed endpoint: an
order number already received (by the endpoint or an earlier import) is reported as skipped.

The workbook is read with the registry's reader (`registry.excel`): the same checks against
files that are not .xlsx, zip bombs and formulas, and the same masked error reports.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, BinaryIO

from django.conf import settings
from django.db import transaction
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils.datetime import from_excel

from gridgov.areas.models import Area
from gridgov.core import audit
from gridgov.core.errors import ApplicationError, PermissionDenied
from gridgov.core.privacy import PHONE
from gridgov.core.scope import scope_for
from gridgov.integrations import intake
from gridgov.integrations.models import Channel, IntakeMessage, IntakeOutcome, IntakeVia, MappingRule
from gridgov.integrations.services import can_manage_keys
from gridgov.registry.excel import (
    FORMULA_TYPES,
    Column,
    RowError,
    WorkbookReader,
    cell_float,
    cell_text,
    header_text,
    masked_value,
    refused,
)

logger = logging.getLogger("gridgov.integrations")

CHANNEL = Channel.HOTLINE_12345
SHEET_TITLE = "12345工单"
MAX_ROWS = 1_000  # orders per file on the page: they are written in one transaction inside the request
COMMAND_MAX_ROWS = 20_000  # the command has no request timeout
LOOKUP_CHUNK = 500
DEFAULT_MAX_BYTES = 5 * 1024 * 1024
PRIORITY_LABELS = {"normal": "一般", "urgent": "紧急", "critical": "特急"}
PRIORITY_WORDS = {
    **{label: value for value, label in PRIORITY_LABELS.items()},
    **{value: value for value in PRIORITY_LABELS},
    "普通": "normal",
    "特别紧急": "critical",
}
_DATETIME_FORMATS = (
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y年%m月%d日 %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y年%m月%d日",
)

COLUMNS: tuple[Column, ...] = (
    Column(
        "id",
        "工单编号",
        "12345 平台的工单编号。同一编号只导入一次：再次导入时跳过，不会重复立案。",
        "GD202605010001",
        required=True,
        code=True,
        text=True,
        width=20,
    ),
    Column(
        "type",
        "诉求类型",
        "12345 的诉求类型，按“12345热线”的映射规则转为事件类别（见「映射规则」表）。",
        "占道经营",
        required=True,
        width=14,
    ),
    Column("title", "标题", "可不填：不填时取诉求内容的第一行。", "小区南门占道经营", width=24),
    Column("description", "诉求内容", "来电人反映的情况。", "来电人反映小区南门早市摊贩占道经营，影响通行。", width=40),
    Column("priority", "紧急程度", "一般、紧急或特急；不填时按映射规则。", "一般", labels=PRIORITY_LABELS, width=10),
    Column("address", "地址", "问题发生地点。没有经纬度时必须填写，由街道受理。", "幸福路 18 号小区南门", width=30),
    Column("lng", "经度", "WGS 84 经度（度），如 117.0123；与纬度同时填写或同时不填。", 117.005, width=12),
    Column("lat", "纬度", "WGS 84 纬度（度），如 32.6012。", 32.605, width=12),
    Column("reporter_name", "来电人", "来电人姓名或称呼。", "张先生", width=10),
    Column(
        "reporter_phone",
        "联系电话",
        "手机或座机号码；加密保存，错误报告中脱敏显示。",
        "13812345678",
        sensitive=PHONE,
        text=True,
        width=14,
    ),
    Column("occurred_at", "受理时间", "12345 受理工单的时间，如 2026-05-01 08:30。", "2026-05-01 08:30", width=18),
)
BY_KEY = {column.key: column for column in COLUMNS}
# Headers other 12345 exports use for the same columns.
ALIASES = {
    "工单号": "id",
    "诉求标题": "title",
    "诉求描述": "description",
    "来电号码": "reporter_phone",
    "来电时间": "occurred_at",
    "事发地址": "address",
}
# Where the intake check's field names are reported.
FIELD_COLUMN = {"category": "type", "extra": "type", "source": "type", "grid": "lat", "media_url": ""}
NOTES = (
    "在「12345工单」表第 1 行（列名）之下逐行填写，每行一张工单；也可直接上传 12345 平台导出的文件，"
    "只要列名与本模板一致（其他列会被忽略）。“工单编号”和“诉求类型”两列必须有。",
    "导入前系统会检查每一行：只要有一行有错，整个文件都不会导入，页面会列出每个错误（行号、列、原因），改正后重新上传即可。",
    "已经导入（或已由 12345 接口推送）的工单编号会被跳过，不会重复立案。",
    "诉求类型按映射规则转为事件类别和紧急程度；没有规则的类型按“12345热线”通道的默认类别处理，没有默认类别时该行报错。",
    "只接受直接填写的值，不接受公式（以 = 开头的单元格）。",
    "文件须为 .xlsx 格式（Excel 工作簿），不超过 {size} MB、{rows} 行。",
)


def max_bytes() -> int:
    """The largest workbook the import takes (GRIDGOV_INTAKE_IMPORT_MAX_BYTES, default 5 MiB)."""
    return int(getattr(settings, "GRIDGOV_INTAKE_IMPORT_MAX_BYTES", DEFAULT_MAX_BYTES))


# --- the template --------------------------------------------------------------------------------


def build_template() -> Workbook:
    """The import template: the data sheet, the instructions and the hotline's current mapping rules."""
    from gridgov.registry.excel import HEADER_FILL, HEADER_FONT, WRAP, data_sheet

    intake.intake_channel_get(CHANNEL)  # the default rules, put back if a flush removed them
    wb = Workbook()
    data_sheet(wb.active, SHEET_TITLE, COLUMNS, rows=MAX_ROWS)

    notes = wb.create_sheet("说明")
    for letter, width in zip("ABCD", (14, 8, 60, 28), strict=True):
        notes.column_dimensions[letter].width = width
    notes.append(["12345 工单导入模板 · 填写说明"])
    notes["A1"].font = Font(bold=True, size=14)
    notes.append([])
    size = f"{max_bytes() / (1024 * 1024):g}"
    for number, note in enumerate(NOTES, start=1):
        notes.append([f"{number}. " + note.format(size=size, rows=f"{MAX_ROWS:,}")])
        notes.merge_cells(start_row=notes.max_row, start_column=1, end_row=notes.max_row, end_column=4)
        notes.cell(row=notes.max_row, column=1).alignment = Alignment(wrap_text=True, vertical="top")
        notes.row_dimensions[notes.max_row].height = 32
    notes.append([])
    notes.append(["列名", "必填", "说明", "示例"])
    for cell in notes[notes.max_row]:
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
    for column in COLUMNS:
        notes.append([column.header, "是" if column.required else "否", column.help, column.example])
        for cell in notes[notes.max_row]:
            cell.alignment = WRAP

    rules = wb.create_sheet("映射规则")
    rules.column_dimensions["A"].width = 18
    rules.column_dimensions["B"].width = 24
    rules.column_dimensions["C"].width = 10
    rules.append(["诉求类型", "事件类别", "紧急程度"])
    for cell in rules[1]:
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
    for rule in MappingRule.objects.filter(channel=CHANNEL, active=True).select_related("category"):
        rules.append([rule.event_type, str(rule.category), PRIORITY_LABELS.get(rule.priority, rule.priority)])
    return wb


def write_template(target: str | Path | BinaryIO) -> None:
    build_template().save(target)


# --- the import ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderRow:
    """An order of the file and the case it is (created now, or skipped because it came before)."""

    row: int
    sender_id: str
    case_code: str
    note: str = ""


@dataclass
class HotlineImportResult:
    """What an import did; nothing is written when `errors` is not empty."""

    file_name: str = ""
    total_rows: int = 0
    created: list[OrderRow] = field(default_factory=list)
    skipped: list[OrderRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    dry_run: bool = False
    checked: int = 0  # orders that would be created (a dry run creates none)

    @property
    def ok(self) -> bool:
        return not self.errors


def _size(source: str | Path | BinaryIO) -> int:
    if isinstance(source, str | os.PathLike):
        try:
            return Path(source).stat().st_size
        except OSError:
            return 0
    position = source.tell()
    source.seek(0, os.SEEK_END)
    size = source.tell()
    source.seek(position)
    return size


def check_size(size: int) -> None:
    """Refuse a workbook over GRIDGOV_INTAKE_IMPORT_MAX_BYTES (the form runs this before saving anything)."""
    limit = max_bytes()
    if size > limit:
        raise refused(
            "import_too_large",
            _("The file is larger than %(size)s MB: split it into several files.") % {"size": f"{limit / 1048576:g}"},
        )


def _within(actor: Any) -> Area | None:
    """The area an importer's orders must lie in: their scope's top area (None: the system or a superuser)."""
    if actor is None:
        return None
    scope = scope_for(actor)
    if scope.everything or not scope.area_codes:
        return None
    return Area.objects.filter(code=min(scope.area_codes, key=len)).first()


def _occurred_at(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, int | float) and not isinstance(value, bool) and 1 <= value < 100_000:
        return from_excel(value)
    text = cell_text(value)
    try:
        moment = parse_datetime(text)
    except ValueError:
        moment = None
    if moment is not None:
        return moment
    for fmt in _DATETIME_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise ValueError("not a date and time")


class _Report:
    """Problems of the file, one entry per cell, in row and column order."""

    def __init__(self) -> None:
        self.problems: dict[tuple[int, str], tuple[str, list[str]]] = {}

    def add(self, row: int, key: str, value: Any, reason: Any) -> None:
        entry = self.problems.get((row, key))
        if entry is None:
            self.problems[(row, key)] = (masked_value(BY_KEY.get(key), value), [str(reason)])
        elif str(reason) not in entry[1]:
            entry[1].append(str(reason))

    def add_error(self, row: int, exc: ApplicationError, cells: dict[str, Any]) -> None:
        for name, reasons in (exc.fields or {"": [exc.message]}).items():
            base = name.split(".", 1)[0]
            key = base if base in BY_KEY else FIELD_COLUMN.get(base, "")
            for reason in reasons or [exc.message]:
                self.add(row, key, cells.get(key), reason)

    def errors(self) -> list[RowError]:
        order = {column.key: index for index, column in enumerate(COLUMNS)}
        items = sorted(self.problems.items(), key=lambda item: (item[0][0], order.get(item[0][1], -1)))
        return [
            RowError(
                row=row, column=BY_KEY[key].header if key in BY_KEY else "", value=value, reason="；".join(reasons)
            )
            for (row, key), (value, reasons) in items
        ]


def _map_headers(header: tuple) -> tuple[dict[str, int], list[RowError]]:
    """Column index of each known field; other columns of an export are ignored. The two key columns must exist."""
    known = {column.header: column.key for column in COLUMNS} | ALIASES
    index: dict[str, int] = {}
    problems: list[RowError] = []
    for position, value in enumerate(header):
        key = known.get(header_text(value))
        if key is None:
            continue
        if key in index:
            problems.append(
                RowError(1, BY_KEY[key].header, header_text(value), _("This column appears more than once."))
            )
        else:
            index[key] = position
    for key in ("id", "type"):
        if key not in index:
            problems.append(RowError(1, BY_KEY[key].header, "", _("This column is missing.")))
    return index, problems


def _read_row(n: int, cells: dict[str, Any], report: _Report) -> dict[str, Any] | None:
    """The row as an intake message (the endpoint's JSON fields), or None after reporting its bad cells."""
    ok = True
    data: dict[str, Any] = {}
    for key in ("id", "type", "title", "description", "address", "reporter_name", "reporter_phone"):
        text = cell_text(cells.get(key))
        if text:
            data[key] = text
    for key in ("id", "type"):
        if key not in data:
            report.add(n, key, "", _("This field is required."))
            ok = False
    priority = cell_text(cells.get("priority"))
    if priority:
        value = PRIORITY_WORDS.get(priority.lower())
        if value is None:
            report.add(
                n,
                "priority",
                priority,
                _("Choose one of: %(values)s.") % {"values": "、".join(PRIORITY_LABELS.values())},
            )
            ok = False
        else:
            data["priority"] = value
    for key in ("lng", "lat"):
        try:
            number = cell_float(cells.get(key))
        except (TypeError, ValueError):
            report.add(n, key, cells.get(key), _("Not a number."))
            ok = False
        else:
            if number is not None:
                data[key] = number
    if cells.get("occurred_at") not in (None, ""):
        try:
            data["occurred_at"] = _occurred_at(cells["occurred_at"])
        except (TypeError, ValueError, OverflowError):
            report.add(n, "occurred_at", cells["occurred_at"], _("Not a date and time such as 2026-05-01 08:30."))
            ok = False
    return data if ok else None


def import_hotline_file(
    source: str | Path | BinaryIO,
    *,
    actor: Any,
    dry_run: bool = False,
    file_name: str | None = None,
    max_rows: int | None = None,
) -> HotlineImportResult:
    """Import the 12345 work orders of an .xlsx file: all of them or, when a row is bad, none.

    actor: the importing user (superuser or center; None for the `gridgov intake` command). Orders must lie in
    the actor's area. max_rows: default MAX_ROWS (the page's limit: it imports inside the request). A file that
    cannot be read at all raises ApplicationError (`import_not_xlsx`, `import_too_large`, `import_empty`,
    `import_too_many_rows`).
    """
    if actor is not None and not can_manage_keys(actor):
        raise PermissionDenied("forbidden", _("Only administrators and the center may import 12345 work orders."))
    limit = max_rows or MAX_ROWS
    check_size(_size(source))
    row = intake.intake_channel_get(CHANNEL)
    within = _within(actor)
    book = WorkbookReader(source)
    result = HotlineImportResult(file_name=(file_name or book.name)[:200], dry_run=dry_run)
    report = _Report()
    orders: list[tuple[int, dict[str, Any], dict[str, Any]]] = []
    try:
        rows = book.rows()
        header = next(rows, None)
        if header is None:
            raise refused("import_empty", _("The first sheet is empty: fill in the template's sheet."))
        index, header_errors = _map_headers(header)
        if header_errors:
            result.errors = header_errors
            return _finish(result, actor=actor, prepared=[])
        seen: dict[str, int] = {}
        for n, values in enumerate(rows, start=2):
            if all(value is None or (isinstance(value, str) and not value.strip()) for value in values):
                continue
            result.total_rows += 1
            if result.total_rows > limit:
                raise refused(
                    "import_too_many_rows",
                    _("The file has more than %(rows)s rows: split it into several files.") % {"rows": f"{limit:,}"},
                )
            cells = {key: values[position] if position < len(values) else None for key, position in index.items()}
            formulas = [key for key, value in cells.items() if _is_formula(value)]
            for key in formulas:
                report.add(n, key, "=", _("Formulas are not accepted: enter the value itself."))
            data = _read_row(n, {k: v for k, v in cells.items() if k not in formulas}, report)
            if data is None or formulas:
                continue
            if data["id"] in seen:
                reason = _("The same order number is in row %(row)d.") % {"row": seen[data["id"]]}
                report.add(n, "id", data["id"], reason)
                continue
            seen[data["id"]] = n
            orders.append((n, cells, data))
    finally:
        book.close()
    if not result.total_rows:
        raise refused("import_empty", _("The file has no data rows below the headers."))
    earlier = _received(list(seen))
    rules = intake.active_rules(CHANNEL)
    prepared: list[tuple[int, intake.Prepared]] = []
    for n, cells, data in orders:
        if data["id"] in earlier:
            result.skipped.append(_skipped(n, earlier[data["id"]], intake.body_hash(data)))
            continue
        try:
            prepared.append((n, intake.prepare(row=row, data=data, within=within, check=True, rules=rules)))
        except ApplicationError as exc:
            report.add_error(n, exc, cells)
    result.errors = report.errors()
    return _finish(result, actor=actor, prepared=prepared)


def _received(ids: list[str]) -> dict[str, Any]:
    """The orders of the file already received (by the endpoint or an import), in a few reads."""
    found: dict[str, Any] = {}
    for start in range(0, len(ids), LOOKUP_CHUNK):
        chunk = ids[start : start + LOOKUP_CHUNK]
        messages = IntakeMessage.objects.filter(
            channel=CHANNEL, outcome=IntakeOutcome.CREATED, sender_id__in=chunk
        ).select_related("case")
        found.update({message.sender_id: message for message in messages})
    return found


def _is_formula(value: Any) -> bool:
    return isinstance(value, FORMULA_TYPES) or (isinstance(value, str) and value.startswith("="))


def _skipped(n: int, earlier: Any, digest: str) -> OrderRow:
    note = "" if earlier.body_hash == digest else _("The row differs from what was received first.")
    return OrderRow(row=n, sender_id=earlier.sender_id, case_code=earlier.case.code if earlier.case else "", note=note)


def _finish(
    result: HotlineImportResult, *, actor: Any, prepared: list[tuple[int, intake.Prepared]]
) -> HotlineImportResult:
    """Audit the run and, when every row is good and this is no dry run, create every case in one transaction."""
    details = {"file": result.file_name, "rows": result.total_rows, "dry_run": result.dry_run}
    if not result.ok or result.dry_run:
        result.checked = len(prepared) if result.ok else 0
        audit.record(
            actor=actor,
            event="integrations.hotline.import",
            result="success" if result.ok else "failure",
            data={**details, "created": 0, "skipped": len(result.skipped), "errors": len(result.errors)},
        )
        return result
    try:
        with transaction.atomic():
            for n, item in prepared:
                message = intake.create(item, actor=actor, via=IntakeVia.XLSX)
                if message is None:  # received by the endpoint or another import since the check
                    result.skipped.append(_skipped(n, intake.created_message(CHANNEL, item.sender_id), item.body_hash))
                else:
                    result.created.append(OrderRow(row=n, sender_id=item.sender_id, case_code=message.case.code))
            audit.record(
                actor=actor,
                event="integrations.hotline.import",
                data={**details, "created": len(result.created), "skipped": len(result.skipped), "errors": 0},
            )
    except ApplicationError as exc:
        # Something changed between the check and the write (an area, a category): nothing was written.
        row_number = n
        result.created, result.errors = [], []
        report = _Report()
        report.add_error(row_number, exc, {})
        result.errors = report.errors()
        result.skipped = [order for order in result.skipped if order.row not in {p[0] for p in prepared}]
        logger.warning("12345 import rolled back at row %s: %s", row_number, exc.code)
        return result
    result.checked = len(prepared)
    logger.info(
        "12345 import file=%s created=%s skipped=%s", result.file_name, len(result.created), len(result.skipped)
    )
    return result
