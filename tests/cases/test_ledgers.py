"""The 问题整改台账 (.xlsx) of any filtered case list, and the 整改通知书 (.docx) of a dispatched case."""

from __future__ import annotations

import io
from types import SimpleNamespace
from urllib.parse import quote

import pytest
from django.utils import timezone, translation
from docx import Document
from docx.oxml.ns import qn
from openpyxl import load_workbook

from gridgov.cases.choices import Action, State
from gridgov.cases.filtersets import CaseFilterSet
from gridgov.cases.ledgers import LEDGER_COLUMNS, chinese_date
from gridgov.core.models import AuditEvent
from tests.cases.conftest import IN_G12, IN_G21
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

HEADERS = ["序号", "案件编号", "地点", "问题描述", "责任单位", "整改措施", "整改时限", "整改情况", "核查人", "状态"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def cases(org, report, act):
    """A closed road repair in G11 (escalated, dispatched to the property company, verified), an open
    dispatched one, a plain grid case with a phone number in its text, a formula-like title, and
    cases in G12 and G21 that the G11 grid worker must not export."""
    u = org.users
    road = report(u.grid_worker, category="02001", title="公园旁道路塌陷", address="幸福路公园东侧")
    act(u.grid_worker, road, Action.ESCALATE, reason="网格无法处置")
    act(u.community, road, Action.DISPATCH, unit=org.prop.pk, measures="回填塌陷路面并设置警示标志")
    act(u.unit_handler, road, Action.CLAIM)
    act(u.unit_handler, road, Action.RESOLVE, result="已回填修复")
    act(u.community, road, Action.VERIFY, passed=True)
    road.refresh_from_db()

    lamp = report(u.grid_worker, category="02003", title="路灯不亮")
    act(u.grid_worker, lamp, Action.ESCALATE, reason="需社区协调")
    act(u.community, lamp, Action.DISPATCH, unit=org.prop.pk)
    lamp.refresh_from_db()

    rubbish = report(u.grid_worker, title="楼道堆放垃圾", description="住户反映，联系人电话13800001234")
    formula = report(u.grid_worker, title='=HYPERLINK("http://evil.example","点我")', description="@SUM(A1)")
    g12 = report(u.community, title="二网格的垃圾", point=IN_G12)
    g21 = report(u.center, title="三网格的垃圾", point=IN_G21)
    return SimpleNamespace(road=road, lamp=lamp, rubbish=rubbish, formula=formula, g12=g12, g21=g21)


def login(client, username: str):
    assert client.login(username=username, password=PASSWORD)
    return client


def export(client, query: str = ""):
    response = client.get("/cases/export.xlsx" + (f"?{query}" if query else ""))
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"] == XLSX
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    return response, workbook["问题整改台账"]


def data_rows(ws) -> list[list]:
    return [list(row) for row in ws.iter_rows(min_row=4, values_only=True)]


def row_of(ws, code: str) -> list:
    return next(row for row in data_rows(ws) if row[1] == code)


# --- the ledger -----------------------------------------------------------------------------------


def test_ledger_layout_header_rows_and_values(client, org, cases):
    response, ws = export(login(client, "center"))
    today = timezone.localdate().strftime("%Y%m%d")
    assert response["Content-Disposition"] == f"attachment; filename*=utf-8''{quote(f'问题整改台账-{today}.xlsx')}"
    assert ws["A1"].value == "测试街道问题整改台账"
    assert ws["A2"].value.startswith("筛选条件：全部") and "导出时间：" in ws["A2"].value
    assert [c.value for c in ws[3]] == HEADERS
    rows = data_rows(ws)
    assert [r[0] for r in rows] == list(range(1, 7))  # 序号, oldest first
    assert [r[1] for r in rows] == [
        c.code for c in (cases.road, cases.lamp, cases.rubbish, cases.formula, cases.g12, cases.g21)
    ]

    road = row_of(ws, cases.road.code)
    closed_on = timezone.localtime(cases.road.closed_at).date()
    assert road[2:] == [
        "幸福路公园东侧",
        "公园旁道路塌陷",
        "测试物业",
        "回填塌陷路面并设置警示标志",
        road[6],
        "已回填修复",
        "sq01",
        "已结案",
    ]
    assert road[6].date() == closed_on  # a closed case: the date it was closed

    lamp = row_of(ws, cases.lamp.code)
    assert lamp[2] == "一网格"  # no address: the grid
    assert lamp[4] == "测试物业" and lamp[6].date() == timezone.localtime(cases.lamp.due_at).date()
    assert (lamp[7], lamp[8], lamp[9]) == ("已派遣", None, "已派遣")

    rubbish = row_of(ws, cases.rubbish.code)
    assert rubbish[3] == "楼道堆放垃圾\n住户反映，联系人电话138****1234"  # a mobile number typed in text is masked
    assert rubbish[4] == "一网格"  # handled by the grid itself


def test_ledger_is_laid_out_for_printing(client, org, cases):
    _response, ws = export(login(client, "center"))
    assert ws.freeze_panes == "A4"
    assert ws.print_title_rows == "$3:$3"
    assert ws.page_setup.orientation == "landscape"
    assert (ws.page_setup.fitToWidth, ws.page_setup.fitToHeight) == (1, 0)
    assert ws.sheet_properties.pageSetUpPr.fitToPage is True
    assert {str(r) for r in ws.merged_cells.ranges} == {"A1:J1", "A2:J2"}
    assert [ws.column_dimensions[letter].width for letter in "ABCDEFGHIJ"] == [w for _h, w in LEDGER_COLUMNS]
    description = ws.cell(row=4, column=4)
    assert description.alignment.wrap_text is True
    assert description.border.left.style == "thin" and ws.cell(row=3, column=1).font.bold is True
    assert ws.cell(row=4, column=7).number_format == "yyyy-mm-dd"


def test_a_formula_like_text_is_neutralised(client, org, cases):
    _response, ws = export(login(client, "center"))
    cell = next(c for row in ws.iter_rows(min_row=4) for c in row if c.value and "HYPERLINK" in str(c.value))
    assert cell.data_type == "s"
    assert cell.value == '\'=HYPERLINK("http://evil.example","点我")\n@SUM(A1)'


def test_filters_narrow_the_rows_and_are_summarised(client, org, cases):
    client = login(client, "center")
    _response, ws = export(client, "state=closed")
    assert [r[1] for r in data_rows(ws)] == [cases.road.code]
    with translation.override("zh-hans"):
        assert f"{CaseFilterSet.base_filters['state'].label}：{State.CLOSED.label}" in ws["A2"].value

    _response, ws = export(client, "category=02")
    assert [r[1] for r in data_rows(ws)] == [cases.road.code, cases.lamp.code]
    _response, ws = export(client, "category=02003")
    assert [r[1] for r in data_rows(ws)] == [cases.lamp.code]
    assert "02003 路灯损坏" in ws["A2"].value

    _response, ws = export(client, f"area={org.c2.code}")
    assert [r[1] for r in data_rows(ws)] == [cases.g21.code]
    assert ws["A1"].value == "二社区问题整改台账"


def test_the_scope_applies(client, org, cases):
    _response, ws = export(login(client, "wg01"))
    codes = [r[1] for r in data_rows(ws)]
    assert codes == [cases.road.code, cases.lamp.code, cases.rubbish.code, cases.formula.code]
    assert ws["A1"].value == "一网格问题整改台账"
    _response, ws = export(login(client, "unit01"))
    assert [r[1] for r in data_rows(ws)] == [cases.road.code, cases.lamp.code]


def test_an_empty_list_exports_the_header_only(client, org, cases):
    _response, ws = export(login(client, "nobody"))
    assert [c.value for c in ws[3]] == HEADERS and data_rows(ws) == []


def test_invalid_filters_are_refused_not_ignored(client, org, cases):
    response = login(client, "center").get("/cases/export.xlsx?state=bogus")
    assert response.status_code == 302 and response["Location"] == "/cases/?state=bogus"
    assert not AuditEvent.objects.filter(event_type="cases.export").exists()


def test_too_many_rows_are_refused_with_a_message(client, org, cases, settings):
    settings.GRIDGOV_EXPORT_MAX_ROWS = 5
    client = login(client, "center")
    response = client.get("/cases/export.xlsx", HTTP_REFERER="http://testserver/cases/?level=grid")
    assert response.status_code == 302 and response["Location"] == "http://testserver/cases/?level=grid"
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages and "5" in messages[0]
    _response, ws = export(client, "level=grid")  # narrowed below the cap
    assert len(data_rows(ws)) <= 5


def test_the_export_is_audited_and_its_queries_do_not_grow_with_rows(
    client, org, cases, report, django_assert_max_num_queries
):
    client = login(client, "center")
    for n in range(20):
        report(org.users.grid_worker, title=f"批量{n}")
    with django_assert_max_num_queries(20):
        _response, ws = export(client, "q=13800001234")
    assert len(data_rows(ws)) == 0
    event = AuditEvent.objects.get(event_type="cases.export")
    assert event.data["rows"] == 0 and event.data["filters"] == {"q": ["138****1234"]}
    with django_assert_max_num_queries(20):
        _response, ws = export(client)
    assert len(data_rows(ws)) == 26


# --- the rectification notice ---------------------------------------------------------------------


def notice(client, case):
    response = client.get(f"/cases/{case.pk}/notice.docx")
    return response


def document_text(response) -> tuple[str, object]:
    document = Document(io.BytesIO(b"".join(response.streaming_content)))
    return "\n".join(p.text for p in document.paragraphs), document


def test_notice_names_the_unit_the_case_and_the_deadline(client, org, cases):
    response = notice(login(client, "sq01"), cases.lamp)
    assert response.status_code == 200
    assert (
        response["Content-Disposition"] == f"attachment; filename*=utf-8''{quote(f'整改通知书-{cases.lamp.code}.docx')}"
    )
    text, document = document_text(response)
    due = timezone.localtime(cases.lamp.due_at).date()
    assert "测试街道综治中心" in text and "整改通知书" in text
    assert f"编号：{cases.lamp.code}" in text
    assert "测试物业：" in text and "路灯不亮" in text and "路灯损坏" in text
    assert f"请于{chinese_date(due)}前整改完毕" in text
    assert "请你单位接到本通知后" in text  # no measures given: the default sentence
    assert "联系人：sq01" in text
    fonts = {r._element.rPr.rFonts.get(qn("w:eastAsia")) for p in document.paragraphs for r in p.runs}
    assert fonts <= {"仿宋", "宋体", "黑体"} and "仿宋" in fonts


def test_notice_uses_the_measures_given_at_dispatch(client, org, cases):
    text, _document = document_text(notice(login(client, "center"), cases.road))
    assert "回填塌陷路面并设置警示标志" in text and "幸福路公园东侧" in text


def test_the_unit_may_download_its_notice(client, org, cases):
    assert notice(login(client, "unit01"), cases.lamp).status_code == 200


def test_notice_outside_the_scope_is_not_found(client, org, cases, act):
    act(org.users.center, cases.g21, Action.ESCALATE, reason="网格无法处置")
    act(org.users.center, cases.g21, Action.DISPATCH, unit=org.police.pk)
    assert notice(login(client, "wg01"), cases.g21).status_code == 404
    assert notice(login(client, "nobody"), cases.lamp).status_code == 404
    assert client.get("/cases/999999/notice.docx").status_code == 404


def test_notice_needs_a_unit(client, org, cases):
    response = notice(login(client, "wg01"), cases.rubbish)
    assert response.status_code == 409
    assert 'data-testid="notice-unavailable"' in response.content.decode()
    assert cases.rubbish.code in response.content.decode()
