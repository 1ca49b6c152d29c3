"""12345 work orders as the center imports them: it opens the import page from the menu, downloads
the template, uploads a workbook with two bad rows (every error listed in Chinese, no case made),
then a good one (its cases made and listed among the cases), then the good one again (all skipped)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from playwright.sync_api import expect

from gridgov.cases import defaults as case_defaults
from gridgov.cases.choices import Source
from gridgov.cases.models import Case
from gridgov.integrations import defaults as intake_defaults
from gridgov.integrations.models import IntakeMessage
from tests.cases.conftest import IN_G11, IN_G12

pytestmark = pytest.mark.e2e

URL = "/integrations/hotline/import/"
HEADERS = [
    "工单编号", "诉求类型", "标题", "诉求内容", "紧急程度", "地址", "经度", "纬度", "来电人", "联系电话", "受理时间",
]  # fmt: skip
GOOD = [
    ["GD-E2E-01", "占道经营", "南门占道", "南门早市摊贩占道经营", "一般", "幸福路 18 号", IN_G11["lng"], IN_G11["lat"],
     "张先生", "13812345678", "2026-05-01 08:30"],
    ["GD-E2E-02", "飞线充电", "", "3 号楼飞线给电动车充电", "特急", "", IN_G12["lng"], IN_G12["lat"],
     "李女士", "13912345678", "2026-05-01 09:15"],
]  # fmt: skip
BAD = [
    GOOD[0],
    ["", "占道经营", "无编号", "", "", "某地", IN_G11["lng"], IN_G11["lat"], "", "", ""],  # row 3: no order number
    ["GD-E2E-09", "高空抛物", "无规则", "", "", "某地", IN_G11["lng"], IN_G11["lat"], "", "", ""],  # row 4: no rule
]


def workbook(path: Path, rows: list[list]) -> Path:
    wb = Workbook()
    sheet = wb.active
    sheet.title = "12345工单"
    sheet.append(HEADERS)
    for row in rows:
        sheet.append(row)
    wb.save(path)
    return path


def script_errors(journey) -> list[str]:
    return [e for e in journey.console_errors if "/favicon.ico" not in e]


def upload(journey, path: Path) -> None:
    form = journey.page.get_by_test_id("hotline-import-form")
    form.locator("input[name=file]").set_input_files(str(path))
    form.get_by_test_id("import-submit").click()


def test_center_imports_12345_orders_from_the_template(journey, org, tmp_path):
    case_defaults.install()  # transactional tests flush the rows the data migrations made
    intake_defaults.install()
    journey.login("center")
    page = journey.page

    page.locator(f"#gg-sidebar a[href='{URL}']").click()
    expect(page).to_have_url(journey.url(URL))
    expect(page.locator("h1")).to_have_text("导入 12345 工单")

    # The template: an .xlsx whose data sheet starts with the expected header row.
    with page.expect_download() as download_info:
        page.get_by_test_id("hotline-template").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".xlsx")
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    template = load_workbook(saved)
    assert template.sheetnames[0] == "12345工单"
    assert [cell.value for cell in template["12345工单"][1]] == HEADERS

    # Two bad rows: both listed, in Chinese, and nothing is imported (not even the good first row).
    upload(journey, workbook(tmp_path / "bad.xlsx", BAD))
    result = page.get_by_test_id("import-result")
    expect(result).to_have_attribute("data-ok", "0")
    expect(result).to_contain_text("3 行中有 2 处错误：未导入任何工单。请改正后重新上传。")
    errors = page.get_by_test_id("import-error")
    expect(errors).to_have_count(2)
    expect(errors.nth(0)).to_have_attribute("data-row", "3")
    expect(errors.nth(0)).to_contain_text("工单编号")
    expect(errors.nth(0)).to_contain_text("此项为必填项。")
    expect(errors.nth(1)).to_have_attribute("data-row", "4")
    expect(errors.nth(1)).to_contain_text("诉求类型")
    expect(errors.nth(1)).to_contain_text("该通道没有类型“高空抛物”的映射规则，也未设置默认类别。")
    assert not Case.objects.exists() and not IntakeMessage.objects.exists()
    journey.shot("hotline-import-errors")

    # The good workbook: one case per order.
    upload(journey, workbook(tmp_path / "good.xlsx", GOOD))
    expect(result).to_have_attribute("data-ok", "1")
    expect(result).to_contain_text("立案 2 件，跳过 0 张工单（此前已接收）。")
    expect(page.get_by_test_id("order-created")).to_have_count(2)
    cases = {m.sender_id: m.case for m in IntakeMessage.objects.select_related("case")}
    assert set(cases) == {"GD-E2E-01", "GD-E2E-02"}
    assert {case.source for case in cases.values()} == {Source.HOTLINE}
    for sender_id, case in cases.items():
        expect(page.get_by_test_id("order-created").filter(has_text=sender_id)).to_contain_text(case.code)
    journey.shot("hotline-import-created")

    # Again: every order skipped, nothing duplicated.
    upload(journey, workbook(tmp_path / "good.xlsx", GOOD))
    expect(result).to_have_attribute("data-ok", "1")
    expect(result).to_contain_text("立案 0 件，跳过 2 张工单（此前已接收）。")
    expect(page.get_by_test_id("order-created")).to_have_count(0)
    skipped = page.get_by_test_id("order-skipped")
    expect(skipped).to_have_count(2)
    for sender_id, case in cases.items():
        expect(skipped.filter(has_text=sender_id)).to_contain_text(case.code)
    assert Case.objects.count() == 2 and IntakeMessage.objects.count() == 2

    # The cases are in the case list.
    page.locator("#gg-sidebar a[href='/cases/']").click()
    expect(page).to_have_url(re.compile(r"/cases/(\?.*)?$"))
    for case in cases.values():
        expect(page.get_by_test_id("case-row").and_(page.locator(f"[data-code='{case.code}']"))).to_contain_text(
            case.title
        )
    journey.shot("hotline-import-cases")
    journey.assert_only_local_requests()
    assert not script_errors(journey), script_errors(journey)
