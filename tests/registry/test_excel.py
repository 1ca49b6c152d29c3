"""Excel in and out: templates, the import engine (every row checked, nothing written on a bad
row, values sealed), the management commands, and exports (masked, scoped)."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import translation
from openpyxl import Workbook, load_workbook

from gridgov.core.errors import ApplicationError
from gridgov.core.models import AuditEvent
from gridgov.core.privacy import ID_NUMBER, PHONE, search_hash
from gridgov.core.validators import id_check_digit
from gridgov.registry import excel, selectors, services
from gridgov.registry.choices import BuildingUse, LivingStatus, Relation
from gridgov.registry.defaults import ensure_default_tags
from gridgov.registry.models import Building, Household, Resident, Shop

FULL_ID = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
FULL_MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def id_number(birth: str = "19800101", seq: str = "123", region: str = "340404") -> str:
    """A valid GB 11643 number (the 17th digit odd: male, even: female)."""
    first17 = region + birth + seq
    return first17 + id_check_digit(first17)


def wrong_checksum(number: str) -> str:
    return number[:-1] + ("0" if number[-1] != "0" else "1")


def filled(kind: str, rows: list[dict], *, path=None) -> io.BytesIO:
    """The downloadable template of `kind` with `rows` (header → value) typed into its data sheet."""
    wb = excel.build_template(kind)
    ws = wb.worksheets[0]
    headers = [cell.value for cell in ws[1]]
    for number, row in enumerate(rows, start=2):
        unknown = set(row) - set(headers)
        assert not unknown, unknown
        for column, header in enumerate(headers, start=1):
            if header in row:
                ws.cell(row=number, column=column, value=row[header])
    target = path or io.BytesIO()
    wb.save(target)
    if isinstance(target, io.BytesIO):
        target.seek(0)
        target.name = f"{kind}.xlsx"
    return target


def workbook(rows: list[list]) -> io.BytesIO:
    wb = Workbook()
    for row in rows:
        wb.active.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    buffer.seek(0)
    return buffer


def errors_by_row(result: excel.ImportResult) -> dict[int, dict[str, str]]:
    out: dict[int, dict[str, str]] = {}
    for error in result.errors:
        out.setdefault(error.row, {})[error.column] = error.reason
    return out


def assert_nothing_in_clear(texts, *values: str) -> None:
    for text in texts:
        text = "" if text is None else str(text)
        for value in values:
            assert value not in text, text
        assert not FULL_ID.findall(text), text
        assert not FULL_MOBILE.findall(text), text


def error_texts(result: excel.ImportResult) -> list[str]:
    return [t for e in result.errors for t in (e.column, e.value, e.reason)]


@pytest.fixture(autouse=True)
def _english():
    """Reasons are asserted in their English message ids (the Chinese catalogue translates them)."""
    with translation.override("en"):
        yield


@pytest.fixture
def tags(db):
    ensure_default_tags()


def resident_row(**overrides) -> dict:
    row = {"姓名": "张三", "身份证号码": id_number(), "网格": "340404004001001"}
    row.update(overrides)
    return row


# --- the file format ------------------------------------------------------------------------------


def test_every_choice_has_a_chinese_label():
    for choices, labels in excel.CHOICE_LABELS.items():
        assert {v for v in choices.values if v} == set(labels), choices
        assert len(set(labels.values())) == len(labels)


@pytest.mark.parametrize("kind", excel.IMPORT_KINDS)
def test_template_has_headers_lists_and_instructions(db, kind):
    wb = load_workbook(io.BytesIO(_template_bytes(kind)))
    data, instructions = wb.worksheets
    fmt = excel.FORMATS[kind]
    assert data.title == fmt.title and instructions.title == "说明"
    assert [c.value for c in data[1]] == fmt.headers
    assert data.max_row == 1  # the example row is in the instructions, not in the data sheet
    lists = {str(v.sqref).split(":")[0][:-1]: v.formula1 for v in data.data_validations.dataValidation}
    for index, column in enumerate(fmt.columns):
        letter = chr(ord("A") + index)
        if column.labels:
            assert lists[letter] == '"' + ",".join(column.labels.values()) + '"'
        else:
            assert letter not in lists
        if column.text:
            assert data.column_dimensions[letter].number_format == "@"
    text = [v for row in instructions.iter_rows(values_only=True) for v in row if v is not None]
    for column in fmt.columns:
        assert column.header in text and column.help in text
    assert [c for c in fmt.columns if c.example not in ("", None)]
    assert fmt.headers[0] in text


def _template_bytes(kind: str) -> bytes:
    buffer = io.BytesIO()
    excel.write_template(kind, buffer)
    return buffer.getvalue()


def test_the_example_id_number_is_valid():
    example = excel.FORMATS["residents"].column("id_number").example
    data = services.validate_resident(name="x", id_number=example, gender="female", birth_date=date(1949, 12, 31))
    assert data.id_number == example


# --- imports that succeed -------------------------------------------------------------------------


def test_a_filled_template_imports_its_residents_sealed(org, tags):
    zhang, li, wang = id_number("19800101", "123"), id_number("20150601", "224"), id_number("19700315", "135")
    source = filled(
        "residents",
        [
            resident_row(
                姓名="张三",
                身份证号码=zhang,
                联系电话="138 1234 5678",
                联户组="一组",
                标签="低保、党员",
                与户主关系="户主",
            ),
            resident_row(姓名="李小", 身份证号码=li.lower(), 性别="女", 出生日期=date(2015, 6, 1), 网格="二网格"),
            resident_row(姓名="王五", 身份证号码=wang, 联系电话="0554-2669359", 居住状态="迁出", 标签="志愿者"),
            {"姓名": "无证者", "性别": "男", "网格": "340404004001001", "备注": "外籍"},
        ],
    )
    result = excel.import_file("residents", source, actor=org.users.center)
    assert result.ok, result.errors
    assert (result.total_rows, result.created) == (4, 4)
    by_name = {r.name: r for r in Resident.objects.all()}
    assert set(by_name) == {"张三", "李小", "王五", "无证者"}
    z = by_name["张三"]
    assert (z.grid, z.group, z.area_code) == (org.g11, org.grp1, org.grp1.code)
    assert (z.gender, z.birth_date, z.relation) == ("male", date(1980, 1, 1), Relation.HEAD)
    assert z.id_number.reveal() == zhang and z.phone.reveal() == "13812345678"
    assert sorted(t.code for t in z.tags.all()) == ["dangyuan", "dibao"]
    assert (by_name["李小"].grid, by_name["李小"].gender) == (org.g12, "female")
    assert by_name["王五"].living_status == LivingStatus.MOVED_OUT
    assert by_name["王五"].phone.reveal() == "0554-2669359"
    assert not by_name["无证者"].id_number and by_name["无证者"].id_number_hash is None
    # Sealed at rest, found through the blind index like a record saved through the services.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id_number, phone, id_number_hash, created_at FROM registry_resident WHERE id = %s", [z.pk]
        )
        stored_id, stored_phone, stored_hash, created_at = cursor.fetchone()
    assert stored_id.startswith("g1$") and zhang not in stored_id
    assert stored_phone.startswith("g1$") and "13812345678" not in stored_phone
    assert stored_hash == search_hash(ID_NUMBER, zhang) and created_at
    assert z.phone_hash == search_hash(PHONE, "13812345678")
    assert selectors.resident_find_by_id_number(user=org.users.center, id_number=zhang) == z
    # A later record through the services gets a fresh key and is refused as a duplicate.
    with pytest.raises(ApplicationError) as refused:
        services.resident_create(actor=None, grid=org.g11, name="又一个张三", id_number=zhang)
    assert refused.value.code == "duplicate_id_number"
    other = services.resident_create(actor=None, grid=org.g11, name="新人", id_number=id_number("19990101", "111"))
    assert other.pk > max(r.pk for r in by_name.values())


def test_one_audit_event_for_the_whole_import(org, tags):
    source = filled("residents", [resident_row(身份证号码=id_number(seq=f"{i:03d}")) for i in range(5)])
    before = AuditEvent.objects.count()
    excel.import_file("residents", source, actor=org.users.center, file_name="居民.xlsx")
    events = list(AuditEvent.objects.order_by("id")[before:])
    assert [e.event_type for e in events] == ["registry.import"]
    assert events[0].actor == org.users.center and events[0].result == "success"
    assert events[0].data == {
        "kind": "residents",
        "rows": 5,
        "created": 5,
        "errors": 0,
        "file": "居民.xlsx",
        "dry_run": False,
    }


def test_a_dry_run_writes_nothing(org, tags):
    source = filled("residents", [resident_row()])
    result = excel.import_file("residents", source, actor=None, dry_run=True)
    assert result.ok and (result.total_rows, result.created) == (1, 0)
    assert not Resident.objects.exists()
    event = AuditEvent.objects.filter(event_type="registry.import").get()
    assert event.data["dry_run"] is True and event.data["created"] == 0


def test_households_then_residents_that_join_them(org, tags):
    result = excel.import_file(
        "households",
        filled(
            "households",
            [
                {"户号": "A-0101", "网格": "一网格", "联户组": "34040400400100102", "地址": "幸福路1号", "房号": "101"},
                {"户号": "A-0102", "网格": "340404004001001", "地址": "幸福路1号", "房号": 102},
            ],
        ),
        actor=org.users.community,
    )
    assert result.ok, result.errors
    a0101 = Household.objects.get(number="A-0101")
    assert (a0101.grid, a0101.group, a0101.room) == (org.g11, org.grp2, "101")
    assert Household.objects.get(number="A-0102").room == "102"
    result = excel.import_file(
        "residents",
        filled(
            "residents",
            [
                resident_row(户号="A-0101", 与户主关系="户主"),
                resident_row(姓名="张小", 身份证号码=id_number("20100101", "222"), 户号="A-0101", 与户主关系="子女"),
            ],
        ),
        actor=org.users.grid_worker,
    )
    assert result.ok, result.errors
    a0101.refresh_from_db()
    head = Resident.objects.get(name="张三")
    assert a0101.head == head and head.household == a0101
    # A resident joins the household's group when the row names none.
    assert head.group == org.grp2 and head.area_code == org.grp2.code
    assert Resident.objects.get(name="张小").household == a0101


def test_buildings_and_shops_import_with_their_checks(org):
    result = excel.import_file(
        "buildings",
        filled(
            "buildings",
            [
                {"名称": "3号楼", "地址": "幸福路3号", "网格": "340404004001001", "用途": "自建房", "层数": 3.0},
                {
                    "地址": "幸福路5号",
                    "网格": "二网格",
                    "用途": "住宅",
                    "结构": "框架",
                    "建成年份": 1998,
                    "安全等级": "b",
                },
            ],
        ),
        actor=None,
    )
    assert result.ok, result.errors
    self_built = Building.objects.get(name="3号楼")
    assert (self_built.use, self_built.floors, self_built.grid) == (BuildingUse.SELF_BUILT, 3, org.g11)
    assert Building.objects.get(address="幸福路5号").safety_grade == "B"
    result = excel.import_file(
        "shops",
        filled(
            "shops",
            [
                {
                    "店名": "便民超市",
                    "经营类别": "零售",
                    "统一社会信用代码": "91340404ma2n00000x",
                    "联系电话": "13655556666",
                    "网格": "340404004001001",
                    "联户组": "二组",
                    "经度": 117.005,
                    "纬度": 32.605,
                }
            ],
        ),
        actor=org.users.center,
    )
    assert result.ok, result.errors
    shop = Shop.objects.get()
    assert (shop.group, shop.licence_number, shop.lng) == (org.grp2, "91340404MA2N00000X", 117.005)
    # bulk_create ran the EncryptedField's pre_save: sealed, with the blind index set.
    assert shop.phone.reveal() == "13655556666" and shop.phone_hash == search_hash(PHONE, "13655556666")
    with connection.cursor() as cursor:
        cursor.execute("SELECT phone FROM registry_shop WHERE id = %s", [shop.pk])
        assert "13655556666" not in cursor.fetchone()[0]


def test_bad_buildings_and_shops_name_their_rows(org):
    services.shop_create(
        actor=None, grid=org.g11, name="老店", business_type="零售", licence_number="91340404MA2N000001"
    )
    result = excel.import_file(
        "buildings",
        filled(
            "buildings",
            [
                {"地址": "幸福路3号", "网格": "340404004001001", "用途": "仓库"},
                {"地址": "幸福路4号", "网格": "340404004001001", "用途": "住宅", "层数": "三层", "经度": 117.0},
                {"地址": "幸福路6号", "网格": "340404004001001", "用途": "住宅", "建成年份": 1700},
                {"地址": "幸福路7号", "网格": "340404004001001"},
                {"地址": "幸福路7号", "网格": "340404004001001", "用途": "住宅"},
                {"地址": "幸福路7号", "网格": "340404004001001", "用途": "商业"},
            ],
        ),
        actor=None,
    )
    rows = errors_by_row(result)
    assert set(rows) == {2, 3, 4, 5, 6, 7}
    assert "用途" in rows[2] and set(rows[3]) == {"层数", "经度"} and "建成年份" in rows[4]
    assert "用途" in rows[5] and "地址" in rows[6] and "地址" in rows[7]
    assert not Building.objects.exists()
    result = excel.import_file(
        "shops",
        filled(
            "shops",
            [
                {"店名": "甲", "经营类别": "零售", "统一社会信用代码": "91340404MA2N000001", "网格": "一网格"},
                {"店名": "乙", "经营类别": "餐饮", "联系电话": "12345", "网格": "一网格"},
                {"店名": "丙", "网格": "一网格", "统一社会信用代码": "123"},
            ],
        ),
        actor=None,
    )
    rows = errors_by_row(result)
    assert set(rows) == {2, 3, 4}
    assert "统一社会信用代码" in rows[2] and "联系电话" in rows[3]
    assert {"经营类别", "统一社会信用代码"} <= set(rows[4])
    assert Shop.objects.count() == 1


# --- a file with bad rows imports nothing ---------------------------------------------------------


def test_a_file_with_bad_rows_imports_nothing_and_names_every_bad_row(org, tags):
    registered = id_number("19700101", "111")
    services.resident_create(actor=None, grid=org.g11, name="已登记", id_number=registered)
    twice = id_number("19850505", "333")
    good, checksum, female = (
        id_number("19800101", "123"),
        wrong_checksum(id_number("19810101", "135")),
        id_number("19820101", "246"),
    )
    hidden = id_number("19830303", "357")
    rows = [
        resident_row(身份证号码=good, 联系电话="13812345678"),  # 2: good
        resident_row(姓名="校验错", 身份证号码=checksum),  # 3
        resident_row(姓名="性别错", 身份证号码=female, 性别="男"),  # 4
        resident_row(姓名="", 身份证号码=id_number("19840101", "111")),  # 5
        resident_row(姓名="重复甲", 身份证号码=twice),  # 6
        resident_row(姓名="重复乙", 身份证号码=twice),  # 7
        resident_row(姓名="库里有", 身份证号码=registered),  # 8
        resident_row(姓名="无此网格", 身份证号码=id_number("19860101", "111"), 网格="340404004009009"),  # 9
        resident_row(姓名="外网格", 身份证号码=id_number("19870101", "111"), 网格="340404004002001"),  # 10
        resident_row(姓名='=HYPERLINK("http://x")', 身份证号码=id_number("19880101", "111")),  # 11
        resident_row(姓名="电话错", 身份证号码=id_number("19890101", "111"), 联系电话="12345678901"),  # 12
        resident_row(姓名="地址长", 身份证号码=id_number("19900101", "111"), 居住地址=hidden + "号" * 200),  # 13
        resident_row(姓名="标签错", 身份证号码=id_number("19910101", "111"), 标签="低保、不存在"),  # 14
    ]
    before = Resident.objects.count()
    # The community worker of C1: G21 lies in C2, outside their area.
    result = excel.import_file("residents", filled("residents", rows), actor=org.users.community)
    assert not result.ok and result.created == 0 and result.total_rows == 13
    assert Resident.objects.count() == before
    bad = errors_by_row(result)
    assert set(bad) == set(range(3, 15))
    # A mistyped ID number also leaves the gender unknown: both are named, as on the page.
    assert set(bad[3]) == {"身份证号码", "性别"} and "check digit" in bad[3]["身份证号码"]
    assert set(bad[4]) == {"性别"}
    assert set(bad[5]) == {"姓名"}
    assert set(bad[6]) == {"身份证号码"} and "7" in bad[6]["身份证号码"]
    assert set(bad[7]) == {"身份证号码"} and "6" in bad[7]["身份证号码"]
    assert set(bad[8]) == {"身份证号码"} and "already registered" in bad[8]["身份证号码"]
    assert set(bad[9]) == {"网格"} and set(bad[10]) == {"网格"}
    # Unknown and outside the actor's area read the same: a file cannot probe the tree.
    assert bad[9]["网格"] == bad[10]["网格"]
    assert set(bad[11]) == {"姓名"} and "Formula" in bad[11]["姓名"]
    assert set(bad[12]) == {"联系电话"}
    assert set(bad[13]) == {"居住地址"}
    assert set(bad[14]) == {"标签"} and "不存在" in bad[14]["标签"]
    values = {(e.row, e.column): e.value for e in result.errors}
    assert values[(3, "身份证号码")] == checksum[:6] + "********" + checksum[-4:]
    assert values[(12, "联系电话")] == "123****8901"
    assert values[(9, "网格")] == "340404004009009"
    assert_nothing_in_clear(error_texts(result), good, checksum, female, twice, registered, hidden, "13812345678")
    event = AuditEvent.objects.filter(event_type="registry.import").get()
    assert event.result == "failure" and event.data["errors"] == len(result.errors)


def test_a_grid_the_actor_reads_but_does_not_keep_is_refused(org, tags):
    # The subdistrict's leader reads every grid but keeps no registry.
    result = excel.import_file("residents", filled("residents", [resident_row()]), actor=org.users.leader)
    assert errors_by_row(result) == {2: {"网格": "You may not change the registry of this area."}}


def test_a_grid_worker_imports_into_their_grid_only(org, tags):
    rows = [resident_row(), resident_row(身份证号码=id_number(seq="222"), 网格="二网格")]
    result = excel.import_file("residents", filled("residents", rows), actor=org.users.grid_worker)
    assert set(errors_by_row(result)) == {3}
    rows = rows[:1]
    assert excel.import_file("residents", filled("residents", rows), actor=org.users.grid_worker).created == 1


def test_a_group_of_another_grid_is_refused(org, tags):
    rows = [
        resident_row(网格="二网格", 联户组="34040400400100101"),
        resident_row(身份证号码=id_number(seq="222"), 联户组="三组"),
    ]
    result = excel.import_file("residents", filled("residents", rows), actor=None)
    assert errors_by_row(result) == {
        2: {"联户组": "No such household group in the grid."},
        3: {"联户组": "No such household group in the grid."},
    }


def test_the_id_number_column_typed_as_a_number_is_caught(org, tags):
    # Excel turns 18 digits into a float and loses the last ones; the checksum then fails.
    number = id_number("19800101", "123")
    if number.endswith("X"):
        number = id_number("19800101", "125")
    result = excel.import_file("residents", filled("residents", [resident_row(身份证号码=float(number))]), actor=None)
    assert "身份证号码" in errors_by_row(result).get(2, {})


def test_blank_rows_are_skipped_and_rows_are_numbered_as_excel_shows_them(org, tags):
    wb = excel.build_template("residents")
    ws = wb.worksheets[0]
    ws.cell(row=2, column=1, value="甲")
    ws.cell(row=2, column=4, value=id_number(seq="111"))
    ws.cell(row=2, column=6, value="340404004001001")
    ws.cell(row=4, column=1, value="   ")
    ws.cell(row=6, column=1, value="乙")
    ws.cell(row=6, column=4, value=id_number(seq="113"))
    buffer = io.BytesIO()
    wb.save(buffer)
    result = excel.import_file("residents", buffer, actor=None)
    assert result.total_rows == 2
    assert errors_by_row(result) == {6: {"网格": "This field is required."}}


def test_formulas_anywhere_are_refused(org, tags):
    wb = excel.build_template("residents")
    ws = wb.worksheets[0]
    for column, value in enumerate(["甲", None, None, id_number(), None, "340404004001001"], start=1):
        ws.cell(row=2, column=column, value=value)
    ws["E2"] = "=1+1"
    ws["P2"] = "=SUM(A1:A2)"  # outside the template's columns
    buffer = io.BytesIO()
    wb.save(buffer)
    result = excel.import_file("residents", buffer, actor=None)
    assert {(e.row, e.column) for e in result.errors} == {(2, "联系电话"), (2, "P")}
    assert not Resident.objects.exists()


# --- files refused as a whole ---------------------------------------------------------------------


def test_missing_and_unknown_headers_are_all_reported(db):
    fmt = excel.FORMATS["residents"]
    headers = [h for h in fmt.headers if h not in ("身份证号码", "网格")] + ["籍贯", "姓名"]
    result = excel.import_file("residents", workbook([headers, ["张三"]]), actor=None)
    assert {(e.row, e.column, e.reason) for e in result.errors} == {
        (1, "籍贯", "Unknown column: keep the template's headers."),
        (1, "姓名", "This column appears more than once."),
        (1, "身份证号码", "This column is missing."),
        (1, "网格", "This column is missing."),
    }
    assert result.total_rows == 0 and not Resident.objects.exists()


def test_headers_may_carry_a_star_and_come_in_any_order(org, tags):
    headers = list(reversed(excel.FORMATS["residents"].headers))
    headers[headers.index("姓名")] = "姓名*"
    row = {h: None for h in headers}
    row.update({"姓名*": "张三", "身份证号码": id_number(), "网格": "340404004001001"})
    result = excel.import_file("residents", workbook([headers, list(row.values())]), actor=None)
    assert result.ok and result.created == 1


@pytest.mark.parametrize(
    ("content", "name"),
    [
        ("姓名,身份证号码\n张三,110105194912310020\n".encode(), "居民.xlsx"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "old.xls"),
        (b"", "empty.xlsx"),
    ],
)
def test_a_file_that_is_not_an_xlsx_is_refused(db, tmp_path, content, name):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ApplicationError) as refused:
        excel.import_file("residents", path, actor=None)
    assert refused.value.code == "import_not_xlsx"


def test_a_zip_that_is_not_a_workbook_is_refused(db):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<w/>")
    buffer.seek(0)
    with pytest.raises(ApplicationError) as refused:
        excel.import_file("residents", buffer, actor=None)
    assert refused.value.code == "import_not_xlsx"


def test_a_damaged_workbook_is_refused(db):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook>not closed")
    buffer.seek(0)
    with pytest.raises(ApplicationError) as refused:
        excel.import_file("residents", buffer, actor=None)
    assert refused.value.code == "import_not_xlsx"


def test_an_oversized_file_is_refused_before_it_is_read(db, settings):
    source = filled("residents", [resident_row()])
    settings.GRIDGOV_IMPORT_MAX_BYTES = len(source.getvalue()) - 1
    with pytest.raises(ApplicationError) as refused:
        excel.import_file("residents", source, actor=None)
    assert refused.value.code == "import_too_large"


def test_a_workbook_that_unpacks_to_far_more_is_refused(db, settings):
    settings.GRIDGOV_IMPORT_MAX_BYTES = 10_000
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", " " * (excel.MAX_UNPACKED_RATIO * 10_000 + 1))
    buffer.seek(0)
    assert len(buffer.getvalue()) < 10_000
    with pytest.raises(ApplicationError) as refused:
        excel.import_file("residents", buffer, actor=None)
    assert refused.value.code == "import_too_large"


def test_a_template_without_rows_is_refused(db):
    with pytest.raises(ApplicationError) as refused:
        excel.import_file("residents", io.BytesIO(_template_bytes("residents")), actor=None)
    assert refused.value.code == "import_empty"


def test_too_many_rows_are_refused(org, tags, monkeypatch):
    monkeypatch.setattr(excel, "MAX_ROWS", 2)
    rows = [resident_row(身份证号码=id_number(seq=f"{i:03d}")) for i in range(3)]
    with pytest.raises(ApplicationError) as refused:
        excel.import_file("residents", filled("residents", rows), actor=None)
    assert refused.value.code == "import_too_many_rows"


def test_an_unknown_kind_is_refused(db):
    with pytest.raises(ApplicationError):
        excel.import_file("places", io.BytesIO(b""), actor=None)


# --- the generated benchmark file and progress ----------------------------------------------------


def test_the_generated_workbook_imports_cleanly_with_progress(org, tags, tmp_path, monkeypatch):
    monkeypatch.setattr(excel, "PROGRESS_EVERY", 100)
    path = excel.make_residents_workbook(tmp_path / "r.xlsx", 250, grid_codes=[org.g11.code, org.g12.code], seed=7)
    calls: list[tuple[int, int]] = []
    result = excel.import_file("residents", path, actor=None, progress=lambda d, t: calls.append((d, t)))
    assert result.ok, result.errors[:5]
    assert result.created == 250 == Resident.objects.count()
    assert calls == [(100, 250), (200, 250), (250, 250)]
    assert Resident.objects.filter(grid=org.g12).count() == 125
    assert Resident.objects.exclude(tags=None).exists()
    # Laid out like an Excel file: shared strings and the dimension first.
    with zipfile.ZipFile(path) as archive:
        assert "xl/sharedStrings.xml" in archive.namelist()
        assert b'<dimension ref="A1:M251"/>' in archive.read("xl/worksheets/sheet1.xml")[:400]
    again = excel.import_file("residents", path, actor=None)
    assert len(again.errors) == 250  # every row is now a duplicate of the database


# --- management commands --------------------------------------------------------------------------


def test_the_template_command_writes_the_page_template(db, tmp_path, capsys):
    path = tmp_path / "居民.xlsx"
    call_command("template", "residents", str(path))
    assert load_workbook(path).sheetnames == ["居民", "说明"]
    assert [c.value for c in load_workbook(path).worksheets[0][1]] == excel.FORMATS["residents"].headers


def test_the_import_command(org, tags, tmp_path, capsys):
    path = tmp_path / "居民.xlsx"
    filled("residents", [resident_row(), resident_row(身份证号码=id_number(seq="222"))], path=path)
    call_command("import", "residents", str(path), "--dry-run", "--user", "center")
    assert not Resident.objects.exists()
    call_command("import", "residents", str(path), "--user", "center")
    assert Resident.objects.count() == 2
    assert "2" in capsys.readouterr().out


def test_the_import_command_prints_the_errors_and_fails(org, tags, tmp_path, capsys):
    path = tmp_path / "坏.xlsx"
    number = wrong_checksum(id_number())
    filled(
        "residents",
        [resident_row(身份证号码=number, 性别="男"), resident_row(身份证号码=id_number(seq="222"))],
        path=path,
    )
    report = tmp_path / "report.xlsx"
    with pytest.raises(CommandError) as failed:
        call_command("import", "residents", str(path), "--report", str(report))
    assert failed.value.returncode == 1
    out = capsys.readouterr().out
    assert "身份证号码" in out and number[:6] + "********" + number[-4:] in out
    assert_nothing_in_clear([out], number)
    rows = list(load_workbook(report).worksheets[0].iter_rows(values_only=True))
    assert rows[1] == excel.REPORT_HEADERS
    assert rows[2][:2] == (2, "身份证号码")
    assert_nothing_in_clear([v for row in rows for v in row], number)
    assert not Resident.objects.exists()


def test_the_import_command_refuses_an_unknown_user_and_a_bad_file(db, tmp_path):
    path = tmp_path / "x.xlsx"
    path.write_text("a,b\n")
    with pytest.raises(CommandError):
        call_command("import", "residents", str(path), "--user", "nobody-at-all")
    with pytest.raises(CommandError):
        call_command("import", "residents", str(path))


# --- exports --------------------------------------------------------------------------------------


def test_an_export_is_masked_and_scoped(org, tags):
    ids = [id_number(seq="111"), id_number(seq="222"), id_number(seq="333")]
    services.resident_create(actor=None, grid=org.g11, name="一网格人", id_number=ids[0], phone="13812345678")
    services.resident_create(actor=None, grid=org.g11, name="=1+2", id_number=ids[1])
    services.resident_create(actor=None, grid=org.g21, name="三网格人", id_number=ids[2])
    buffer = io.BytesIO()
    rows = selectors.resident_list(user=org.users.grid_worker)
    assert excel.write_export("residents", rows, buffer, area_name="一网格", day=date(2026, 5, 1)) == 2
    sheet = load_workbook(buffer).worksheets[0]
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][0] == "一网格 居民台账（导出日期：2026-05-01）"
    assert values[1][:6] == ("编号", "姓名", "性别", "出生日期", "身份证号码", "联系电话")
    assert sorted(row[1] for row in values[2:]) == ["=1+2", "一网格人"]
    assert sheet.cell(row=3, column=5).value == ids[0][:6] + "********" + ids[0][-4:]
    assert all(sheet.cell(row=r, column=2).data_type == "s" for r in (3, 4))  # text, never a formula
    assert_nothing_in_clear([v for row in values for v in row], *ids, "13812345678")


def test_every_kind_exports(org):
    services.building_create(actor=None, grid=org.g11, address="幸福路1号", use="mixed", floors=2)
    household = services.household_create(actor=None, grid=org.g11, address="幸福路1号", number="A-1")
    services.shop_create(actor=None, grid=org.g11, name="店", business_type="零售", phone="13655556666")
    services.place_create(
        actor=None, grid=org.g11, kind="camera", name="探头", geometry={"type": "Point", "coordinates": [117.0, 32.6]}
    )
    for kind, selector, expected in [
        ("households", selectors.household_list, household.number),
        ("buildings", selectors.building_list, "商住混合"),
        ("shops", selectors.shop_list, "136****6666"),
        ("places", selectors.place_list, "117.000000,32.600000"),
    ]:
        buffer = io.BytesIO()
        assert excel.write_export(kind, selector(user=org.users.center), buffer) == 1
        cells = [v for row in load_workbook(buffer).worksheets[0].iter_rows(values_only=True) for v in row]
        assert expected in cells, (kind, cells)
        assert_nothing_in_clear(cells, "13655556666")


def test_the_error_report_has_the_columns_of_the_page(tmp_path):
    errors = [excel.RowError(3, "身份证号码", "340404********1234", "校验位错误")]
    path = tmp_path / "r.xlsx"
    assert excel.write_error_report(errors, path, title="t") == 1
    rows = list(load_workbook(path).worksheets[0].iter_rows(values_only=True))
    assert rows == [
        ("t", None, None, None),
        excel.REPORT_HEADERS,
        (3, "身份证号码", "340404********1234", "校验位错误"),
    ]


def test_an_id_number_typed_into_the_wrong_column_is_masked_in_the_report(org, tags):
    number, mobile = id_number(), "13812345678"
    rows = [resident_row(网格=number, 身份证号码=None, 性别="男", 居住地址=f"电话{mobile}")]
    result = excel.import_file("residents", filled("residents", rows), actor=None)
    assert [(e.row, e.column, e.value) for e in result.errors] == [(2, "网格", number[:6] + "********" + number[-4:])]
    assert_nothing_in_clear(error_texts(result), number, mobile)


def test_other_databases_fall_back_to_bulk_create(org, tags, monkeypatch):
    original = excel.RowInserter.__init__

    def unsupported(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.supported = False

    monkeypatch.setattr(excel.RowInserter, "__init__", unsupported)
    household = services.household_create(actor=None, grid=org.g11, address="幸福路1号", number="A-1")
    number = id_number()
    rows = [resident_row(身份证号码=number, 联系电话="13812345678", 标签="低保", 户号="A-1", 与户主关系="户主")]
    assert excel.import_file("residents", filled("residents", rows), actor=None).created == 1
    resident = Resident.objects.get()
    assert resident.id_number.reveal() == number and resident.id_number_hash == search_hash(ID_NUMBER, number)
    assert resident.phone_hash == search_hash(PHONE, "13812345678")
    assert [t.code for t in resident.tags.all()] == ["dibao"]
    household.refresh_from_db()
    assert household.head == resident
