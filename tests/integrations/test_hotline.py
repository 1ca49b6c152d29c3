"""12345 work orders from .xlsx: all rows checked first, every bad row reported, re-imports skipped; the page."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from openpyxl import Workbook, load_workbook

from gridgov.cases import defaults as case_defaults
from gridgov.cases.choices import Source
from gridgov.cases.models import Case, Category
from gridgov.core.errors import ApplicationError
from gridgov.core.models import AuditEvent
from gridgov.integrations import defaults as intake_defaults
from gridgov.integrations import hotline, intake
from gridgov.integrations.models import IntakeChannel, IntakeMessage, IntakeVia
from gridgov.registry.excel import write_plain_xlsx
from tests.cases.conftest import IN_G11, IN_G12, IN_G21
from tests.conftest import PASSWORD
from tests.integrations.test_intake import send, sender

HEADERS = [
    "工单编号",
    "诉求类型",
    "标题",
    "诉求内容",
    "紧急程度",
    "地址",
    "经度",
    "纬度",
    "来电人",
    "联系电话",
    "受理时间",
]
GOOD = [
    [
        "GD0001",
        "占道经营",
        "南门占道",
        "南门早市摊贩占道经营",
        "一般",
        "幸福路 18 号",
        IN_G11["lng"],
        IN_G11["lat"],
        "张先生",
        "13812345678",
        "2026-05-01 08:30",
    ],
    [
        "GD0002",
        "飞线充电",
        "",
        "3 号楼飞线给电动车充电",
        "特急",
        "",
        IN_G12["lng"],
        IN_G12["lat"],
        "李女士",
        "13912345678",
        datetime(2026, 5, 1, 9, 15),
    ],
    ["GD0003", "政策咨询", "咨询低保", "", "", "二社区服务中心", IN_G21["lng"], IN_G21["lat"], "", "", ""],
]
URL = "/integrations/hotline/import/"


@pytest.fixture(autouse=True)
def _catalogue(db):
    case_defaults.install()
    intake_defaults.install()


def xlsx(rows: list[list], headers: list[str] = HEADERS) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(headers)
    for row in rows:
        ws.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def run(rows: list[list], actor, **kwargs) -> hotline.HotlineImportResult:
    return hotline.import_hotline_file(io.BytesIO(xlsx(rows)), actor=actor, **kwargs)


def upload(client, content: bytes, name: str = "orders.xlsx", **data):
    return client.post(URL, {"file": SimpleUploadedFile(name, content), **data})


# --- the import service --------------------------------------------------------------------------


def test_a_good_file_becomes_one_case_per_order(org):
    result = run(GOOD, org.users.center)
    assert result.ok and result.total_rows == 3
    assert [(o.row, o.sender_id) for o in result.created] == [(2, "GD0001"), (3, "GD0002"), (4, "GD0003")]
    assert result.skipped == []
    cases = {m.sender_id: m.case for m in IntakeMessage.objects.select_related("case__category")}
    assert {c.code for c in cases.values()} == {o.case_code for o in result.created}
    first, second, third = cases["GD0001"], cases["GD0002"], cases["GD0003"]
    assert (first.source, first.category.code, first.priority, first.grid) == (
        Source.HOTLINE,
        "01003",
        "normal",
        org.g11,
    )
    assert first.reporter_name == "张先生" and first.reporter_phone.reveal() == "13812345678"
    assert (second.category.code, second.priority, second.title) == ("04002", "critical", "3 号楼飞线给电动车充电")
    assert (third.category.code, third.grid, third.title) == ("09004", org.g21, "咨询低保")
    assert all(c.reporter is None for c in cases.values())
    messages = IntakeMessage.objects.all()
    assert {(m.via, m.imported_by_id, m.api_key_id) for m in messages} == {(IntakeVia.XLSX, org.users.center.pk, None)}
    assert IntakeMessage.objects.get(sender_id="GD0002").occurred_at.isoformat() == "2026-05-01T01:15:00+00:00"
    event = AuditEvent.objects.get(event_type="integrations.hotline.import")
    assert event.data["created"] == 3 and event.data["errors"] == 0 and event.actor == org.users.center
    assert "13812345678" not in json.dumps([e.data for e in AuditEvent.objects.all()], ensure_ascii=False)


def test_every_bad_row_is_reported_and_nothing_is_imported(org):
    rows = [
        GOOD[0],
        ["", "占道经营", "", "无编号", "", "某地", IN_G11["lng"], IN_G11["lat"], "", "", ""],  # row 3
        ["GD0010", "高空抛物", "", "没有规则", "", "某地", IN_G11["lng"], IN_G11["lat"], "", "", ""],  # row 4
        ["GD0011", "占道经营", "", "", "很急", "某地", IN_G11["lng"], IN_G11["lat"], "", "", ""],  # row 5
        ["GD0012", "占道经营", "", "", "", "某地", "东经117", IN_G11["lat"], "", "", ""],  # row 6
        ["GD0013", "占道经营", "", "", "", "某地", IN_G11["lng"], IN_G11["lat"], "", "12345", ""],  # row 7
        ["GD0001", "占道经营", "", "重复", "", "某地", IN_G11["lng"], IN_G11["lat"], "", "", ""],  # row 8
        ["GD0014", "占道经营", "", "", "", "某地", IN_G11["lng"], IN_G11["lat"], "", "", "昨天下午"],  # row 9
        ["GD0015", "占道经营", "", "", "", "", "", "", "", "", ""],  # row 10: no place at all
        ["GD0016", "占道经营", "=A2", "", "", "某地", IN_G11["lng"], IN_G11["lat"], "", "", ""],  # row 11
        GOOD[1],  # row 12, good
    ]
    result = run(rows, org.users.center)
    assert not result.ok and result.created == []
    by_row = {}
    for error in result.errors:
        by_row.setdefault(error.row, []).append(error.column)
    assert by_row == {
        3: ["工单编号"],
        4: ["诉求类型"],
        5: ["紧急程度"],
        6: ["经度"],
        7: ["联系电话"],
        8: ["工单编号"],
        9: ["受理时间"],
        10: ["纬度"],
        11: ["标题"],
    }
    phone = next(e for e in result.errors if e.row == 7)
    assert "12345" not in phone.value and "*" in phone.value  # the value is masked
    assert "高空抛物" in next(e for e in result.errors if e.row == 4).reason
    assert "2" in next(e for e in result.errors if e.row == 8).reason  # names the first row of the order
    assert not Case.objects.exists() and not IntakeMessage.objects.exists()
    event = AuditEvent.objects.get(event_type="integrations.hotline.import")
    assert (event.result, event.data["errors"], event.data["created"]) == ("failure", 9, 0)


def test_a_reimport_skips_every_order(org):
    assert len(run(GOOD, org.users.center).created) == 3
    again = run(GOOD, org.users.center)
    assert again.ok and again.created == []
    assert [(o.row, o.sender_id, o.note) for o in again.skipped] == [
        (2, "GD0001", ""),
        (3, "GD0002", ""),
        (4, "GD0003", ""),
    ]
    assert Case.objects.count() == 3 and IntakeMessage.objects.count() == 3
    changed = [[*GOOD[0][:3], "内容改了", *GOOD[0][4:]], ["GD0004", *GOOD[0][1:]]]
    third = run(changed, org.users.center)
    assert [o.sender_id for o in third.skipped] == ["GD0001"] and third.skipped[0].note
    assert [o.sender_id for o in third.created] == ["GD0004"]
    assert Case.objects.count() == 4


def test_an_order_sent_by_the_endpoint_is_skipped_by_the_import(org, client):
    line = sender(org, "hotline_12345")
    body = {"id": "GD0001", "type": "占道经营", "description": "接口推送", **IN_G11}
    assert send(client, line, body).status_code == 201
    result = run(GOOD, org.users.center)
    assert [o.sender_id for o in result.skipped] == ["GD0001"]
    assert Case.objects.count() == 3
    # And the endpoint answers a replay of an imported order with its case (the body differs: 409).
    response = send(client, line, {"id": "GD0002", "type": "飞线充电", **IN_G12})
    assert response.status_code == 409 and response.json()["code"] == "intake_id_reused"


def test_a_check_only_run_writes_nothing(org):
    result = run(GOOD, org.users.center, dry_run=True)
    assert result.ok and result.checked == 3 and result.created == []
    assert not Case.objects.exists() and not IntakeMessage.objects.exists()


def test_the_orders_must_lie_in_the_importers_area(org_wide):
    org = org_wide
    from gridgov.accounts.services import user_create
    from gridgov.areas.choices import Role
    from gridgov.areas.services import post_create

    other = user_create(actor=None, username="center2", password=PASSWORD, name="center2")
    post_create(actor=None, user=other, role=Role.CENTER, area=org.s2)
    result = run([GOOD[0]], other)
    assert [(e.row, e.column) for e in result.errors] == [(2, "纬度")]
    assert not Case.objects.exists()
    assert run([GOOD[0]], org.users.center).ok


def test_a_type_without_a_rule_uses_the_channel_default(org):
    rows = [["GD0100", "噪音扰民", "", "夜间施工噪音", "", "", IN_G11["lng"], IN_G11["lat"], "", "", ""]]
    assert run(rows, org.users.center).errors[0].column == "诉求类型"
    IntakeChannel.objects.filter(channel="hotline_12345").update(default_category=Category.objects.get(code="08001"))
    result = run(rows, org.users.center)
    assert result.ok and Case.objects.get().category.code == "08001"


def test_headers_of_an_export_are_matched_and_other_columns_ignored(org):
    headers = ["序号", "工单号", "诉求类型", "诉求描述", "经度", "纬度", "来电号码", "承办单位"]
    rows = [[1, 20260501000123, "占道经营", "门口占道", IN_G11["lng"], IN_G11["lat"], "13812345678", "城管"]]
    result = hotline.import_hotline_file(io.BytesIO(xlsx(rows, headers)), actor=org.users.center)
    assert result.ok, result.errors
    message = IntakeMessage.objects.get()
    assert message.sender_id == "20260501000123" and message.case.reporter_phone.reveal() == "13812345678"


def test_a_file_saved_the_way_excel_saves_it(org, tmp_path):
    path = tmp_path / "export.xlsx"
    write_plain_xlsx(path, "Sheet1", [HEADERS, GOOD[0], GOOD[1]])
    result = hotline.import_hotline_file(str(path), actor=None)
    assert result.ok and len(result.created) == 2 and result.file_name == "export.xlsx"


@pytest.mark.parametrize(
    ("headers", "missing"), [(HEADERS[1:], ["工单编号"]), ([HEADERS[0], *HEADERS[2:]], ["诉求类型"])]
)
def test_a_file_without_the_key_columns_is_refused(org, headers, missing):
    result = hotline.import_hotline_file(io.BytesIO(xlsx([["x"] * len(headers)], headers)), actor=org.users.center)
    assert [e.column for e in result.errors] == missing and not Case.objects.exists()


def test_a_repeated_column_is_refused(org):
    headers = [*HEADERS, "工单号"]
    result = hotline.import_hotline_file(io.BytesIO(xlsx([[*GOOD[0], "X"]], headers)), actor=org.users.center)
    assert [(e.row, e.column) for e in result.errors] == [(1, "工单编号")]


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"id,type\n1,2\n", "import_not_xlsx"),
        (b"PK\x03\x04 broken zip", "import_not_xlsx"),
        (None, "import_not_xlsx"),  # a zip that is not a workbook
        (xlsx([]), "import_empty"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused(org, content, code):
    if content is None:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("hello.txt", "not a workbook")
        content = buffer.getvalue()
    with pytest.raises(ApplicationError) as caught:
        hotline.import_hotline_file(io.BytesIO(content), actor=org.users.center)
    assert caught.value.code == code
    assert not Case.objects.exists()


def test_an_oversized_file_is_refused(org, settings):
    settings.GRIDGOV_INTAKE_IMPORT_MAX_BYTES = 1000
    with pytest.raises(ApplicationError) as caught:
        run(GOOD, org.users.center)
    assert caught.value.code == "import_too_large"


def test_too_many_rows_are_refused(org, monkeypatch):
    monkeypatch.setattr(hotline, "MAX_ROWS", 2)
    with pytest.raises(ApplicationError) as caught:
        run(GOOD, org.users.center)
    assert caught.value.code == "import_too_many_rows" and not Case.objects.exists()


@pytest.mark.parametrize("who", ["community", "grid_worker", "leader", "nobody"])
def test_only_admins_and_the_center_import(org, who):
    with pytest.raises(ApplicationError) as caught:
        run(GOOD, getattr(org.users, who))
    assert caught.value.code == "forbidden" and not Case.objects.exists()


# --- the template --------------------------------------------------------------------------------


def test_the_template_round_trips(org):
    buffer = io.BytesIO()
    hotline.write_template(buffer)
    book = load_workbook(io.BytesIO(buffer.getvalue()))
    assert book.sheetnames == ["12345工单", "说明", "映射规则"]
    assert [c.value for c in book["12345工单"][1]] == HEADERS
    rules = [row for row in book["映射规则"].iter_rows(min_row=2, values_only=True)]
    assert ("占道经营", "01003 占道经营", "一般") in rules
    sheet = book["12345工单"]
    for row in GOOD:
        sheet.append(row)
    filled = io.BytesIO()
    book.save(filled)
    filled.seek(0)
    assert len(hotline.import_hotline_file(filled, actor=org.users.center).created) == 3


# --- the page ------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["admin", "center"])
def test_the_page_and_the_template_for_admins_and_the_center(client, org, who):
    client.login(username=getattr(org.users, who).username, password=PASSWORD)
    page = client.get(URL)
    assert page.status_code == 200
    assert 'data-testid="hotline-import-form"' in page.content.decode()
    assert "占道经营" in page.content.decode()  # the rules are listed
    template = client.get("/integrations/hotline/template.xlsx")
    assert template.status_code == 200
    assert template["Content-Type"].startswith("application/vnd.openxmlformats")
    assert [c.value for c in load_workbook(io.BytesIO(template.content))["12345工单"][1]] == HEADERS


@pytest.mark.parametrize("who", ["community", "grid_worker", "leader", "unit_handler", "nobody"])
def test_the_page_is_forbidden_to_others(client, org, who):
    client.login(username=getattr(org.users, who).username, password=PASSWORD)
    assert client.get(URL).status_code == 403
    assert upload(client, xlsx(GOOD)).status_code == 403
    assert client.get("/integrations/hotline/template.xlsx").status_code == 403
    assert not Case.objects.exists()


def test_anonymous_users_are_sent_to_the_login(client, org):
    response = client.get(URL)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_menu_shows_the_page_to_the_center_only(client, org):
    client.login(username="center", password=PASSWORD)
    assert URL in client.get("/cases/").content.decode()
    client.logout()
    client.login(username="wg01", password=PASSWORD)
    assert URL not in client.get("/cases/").content.decode()


def test_uploading_a_good_file_on_the_page(client, org):
    client.login(username="center", password=PASSWORD)
    response = upload(client, xlsx(GOOD))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-ok="1"' in html and html.count('data-testid="order-created"') == 3
    assert Case.objects.count() == 3
    for code in Case.objects.values_list("code", flat=True):
        assert code in html
    again = upload(client, xlsx(GOOD)).content.decode()
    assert again.count('data-testid="order-skipped"') == 3 and Case.objects.count() == 3
    # The recent orders list the three, with their cases.
    assert again.count('data-testid="recent-message"') == 3


def test_uploading_a_file_with_bad_rows_on_the_page(client, org):
    client.login(username="center", password=PASSWORD)
    rows = [
        GOOD[0],
        ["", "占道经营", "", "", "", "某地", "", "", "", "", ""],
        ["GD9", "无规则", "", "", "", "某地", "", "", "", "", ""],
    ]
    html = upload(client, xlsx(rows)).content.decode()
    assert 'data-ok="0"' in html
    assert 'data-row="3"' in html and 'data-row="4"' in html and 'data-row="2"' not in html
    assert not Case.objects.exists()


@pytest.mark.parametrize(
    ("name", "content", "size"),
    [("orders.csv", b"id,type\n", None), ("orders.xlsx", b"id,type\n", None), ("orders.xlsx", None, 100)],
)
def test_the_page_refuses_files_it_cannot_take(client, org, settings, name, content, size):
    if size is not None:
        settings.GRIDGOV_INTAKE_IMPORT_MAX_BYTES = size
    client.login(username="center", password=PASSWORD)
    response = upload(client, content if content is not None else xlsx(GOOD), name=name)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="form-errors"' in html and 'data-testid="import-result"' not in html
    assert not Case.objects.exists()


def test_the_recent_orders_are_scoped(client, org_wide):
    org = org_wide
    line = sender(org, "hotline_12345", area=org.s2)
    assert send(client, line, {"id": "S2-1", "type": "占道经营", "address": "邻街道某处"}).status_code == 201
    assert Case.objects.get().area_code.startswith(org.s2.code)
    run(GOOD[:1], org.users.center)
    client.login(username="center", password=PASSWORD)
    html = client.get(URL).content.decode()
    assert "GD0001" in html and "S2-1" not in html
    client.logout()
    client.login(username="admin", password=PASSWORD)
    html = client.get(URL).content.decode()
    assert "GD0001" in html and "S2-1" in html


# --- the command ---------------------------------------------------------------------------------


def test_the_import_command(org, tmp_path):
    path = tmp_path / "orders.xlsx"
    path.write_bytes(xlsx(GOOD))
    out = io.StringIO()
    call_command("intake", "import-12345", str(path), stdout=out)
    lines = out.getvalue().splitlines()
    assert sum("GD000" in line for line in lines) == 3 and Case.objects.count() == 3
    out = io.StringIO()
    call_command("intake", "import-12345", str(path), "--user", "center", stdout=out)
    assert Case.objects.count() == 3 and out.getvalue().count("GD000") == 3


def test_the_import_command_prints_every_error(org, tmp_path):
    path = tmp_path / "bad.xlsx"
    report = tmp_path / "report.xlsx"
    path.write_bytes(xlsx([GOOD[0], ["", "占道经营"], ["GD9", "无规则", "", "", "", "某地"]]))
    out = io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("intake", "import-12345", str(path), "--report", str(report), stdout=out)
    assert caught.value.returncode == 1
    table = out.getvalue().splitlines()
    assert len(table) == 3 and table[1].startswith("3") and table[2].startswith("4")
    assert load_workbook(report).active.max_row >= 3
    assert not Case.objects.exists()


def test_the_import_and_the_endpoint_share_one_door(org, monkeypatch):
    calls = []
    create = intake.create

    def spy(prepared, **kwargs):
        calls.append(prepared.sender_id)
        return create(prepared, **kwargs)

    monkeypatch.setattr(intake, "create", spy)
    run(GOOD, org.users.center)
    assert calls == ["GD0001", "GD0002", "GD0003"]
