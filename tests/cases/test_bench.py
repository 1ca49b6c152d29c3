"""The case pipeline's benchmark figures run at the tiny scale and report well-formed figures. No timing is asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from gridgov.cases.choices import Action, CaseLevel, State
from gridgov.cases.models import Case, CaseEvent, IdempotencyKey
from gridgov.core import bench
from tests.core.test_bench import assert_figures

CASE_FIGURES = [
    "cases.intake_http.rate",
    "cases.intake_http.ratio",
    "cases.deadline_sweep.ms",
    "cases.case_list_api.p95",
    "cases.case_list_api.queries",
    "cases.case_list_center_api.p95",
    "cases.case_list_all_api.p95",
    "cases.case_detail_api.queries",
    "cases.case_page.queries",
    "cases.point_to_grid.p95",
]


@pytest.mark.django_db
def test_case_figures_run_at_the_tiny_scale():
    lines: list[str] = []
    report = bench.run(scale="tiny", only=["cases"], out=lines.append)
    data = report.as_dict()
    assert report.errors == []
    assert [f["name"] for f in data["figures"]] == CASE_FIGURES
    assert_figures(data["figures"])
    json.dumps(data)
    by_name = {f["name"]: f for f in data["figures"]}
    for name in ("cases.case_list_api.queries", "cases.case_detail_api.queries", "cases.case_page.queries"):
        assert by_name[name]["value"] == int(by_name[name]["value"]), name
    assert by_name["cases.intake_http.ratio"]["floor"] == 100.0
    # The test database holds the data in a transaction, so intake went through the in-process client, and says so.
    assert "in-process test client" in by_name["cases.intake_http.rate"]["notes"]

    # The bulk cases, the intake's and the page's case are all there, in the shapes the services leave.
    sizes = bench.SIZES
    intake = 2 * (sizes["intake_requests"]["tiny"] + bench.SCALES["tiny"].warmup)
    assert Case.objects.count() == sizes["cases_open"]["tiny"] + sizes["cases_closed"]["tiny"] + intake + 1
    assert IdempotencyKey.objects.count() == intake
    assert not Case.objects.filter(state__in=[State.REPORTED, State.IN_PROGRESS], due_at__isnull=True).exists()
    assert Case.objects.filter(state=State.CLOSED).exclude(closed_level="").exists()
    # Every case has its report on the timeline; the sweep wrote an entry for each case it marked overdue,
    # the unaccepted ones among them escalated (a new clock: no longer overdue).
    assert CaseEvent.objects.filter(action=Action.REPORT).count() == Case.objects.count()
    overdue = Case.objects.filter(overdue=True).count()
    escalated = CaseEvent.objects.filter(action=Action.ESCALATE, data__automatic=True).count()
    assert overdue > 0 and escalated > 0
    assert CaseEvent.objects.filter(action=Action.OVERDUE).count() == overdue + escalated
    page_case = Case.objects.get(title="公园旁道路塌陷")
    assert (page_case.state, page_case.level) == (State.RESOLVED, CaseLevel.SUBDISTRICT)
    assert page_case.attachments.count() == 2


def test_every_case_size_covers_every_scale_and_the_issue_sizes():
    bench.discover()
    for name in ("cases_open", "cases_closed", "intake_requests"):
        assert set(bench.SIZES[name]) == set(bench.SCALES), name
    assert bench.SIZES["cases_open"]["full"] == 1_000_000
    assert bench.SIZES["grids"]["full"] == 10_000
    targets = {name: b.target for name, b in bench.REGISTRY.items() if name.startswith("cases.")}
    assert targets["cases.intake_http.rate"] == 300
    assert targets["cases.intake_http.ratio"] == 40
    assert targets["cases.deadline_sweep.ms"] == 10_000
    assert targets["cases.case_list_api.p95"] == 100
    assert targets["cases.case_list_api.queries"] == 10
    assert targets["cases.case_page.queries"] == 15
    assert targets["cases.point_to_grid.p95"] == 20


def test_intake_runs_over_http_on_a_database_of_its_own(tmp_path):
    """A real `gridgov bench` process: the intake figure starts gunicorn against the bench's own SQLite file
    and drives it with keep-alive clients."""
    var = tmp_path / "var"
    report = tmp_path / "report.json"
    env = {**os.environ, "GRIDGOV_VAR_DIR": str(var)}
    env.pop("DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "gridgov", "bench", "--scale", "tiny", "--only", "cases.intake_http"]
        + ["--report", str(report)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    figures = json.loads(report.read_text())["figures"]
    assert [f["name"] for f in figures] == ["cases.intake_http.rate", "cases.intake_http.ratio"]
    assert_figures(figures)
    assert "gunicorn" in figures[0]["notes"] and "keep-alive clients" in figures[0]["notes"]
    assert "starting gunicorn" in result.stdout


@pytest.mark.django_db
def test_the_proposed_case_pagination_stops_counting_at_its_cap(org, report, monkeypatch):
    """gridgov.cases.api.pagination: the count the bench proposes for the case list at a million cases."""
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from gridgov.cases.api.pagination import CappedCountPaginator, CasePagination

    for n in range(5):
        report(title=f"暴露垃圾{n}")
    cases = Case.objects.order_by("-id")
    request = Request(APIRequestFactory().get("/api/v1/cases/", {"page_size": 2}))

    pagination = CasePagination()
    page = pagination.paginate_queryset(cases, request)
    body = pagination.get_paginated_response([c.pk for c in page]).data
    assert (body["count"], body["count_capped"], len(body["results"])) == (5, False, 2)

    monkeypatch.setattr(CappedCountPaginator, "cap", 3)
    pagination = CasePagination()
    page = pagination.paginate_queryset(cases, request)
    body = pagination.get_paginated_response([c.pk for c in page]).data
    assert (body["count"], body["count_capped"]) == (3, True)
    assert body["results"] == list(cases.values_list("pk", flat=True)[:2])
    assert body["next"] and "page=2" in body["next"]
