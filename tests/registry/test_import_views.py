"""The import page and its job, template downloads, and exports through the test client."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import load_workbook

from gridgov.areas.selectors import SESSION_AREA_KEY
from gridgov.core.models import AuditEvent
from gridgov.registry import excel, imports, services
from gridgov.registry.defaults import ensure_default_tags
from gridgov.registry.models import ImportJob, Resident
from tests.registry.test_excel import (
    FULL_ID,
    assert_nothing_in_clear,
    filled,
    id_number,
    resident_row,
    wrong_checksum,
)

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture(autouse=True)
def _media(db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    ensure_default_tags()


def upload(content: bytes, name: str = "居民.xlsx") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=excel.XLSX_CONTENT_TYPE)


def residents_file(*rows: dict) -> bytes:
    return filled("residents", list(rows)).getvalue()


def post_import(client, content: bytes, *, kind: str = "residents", dry_run: bool = False, name: str = "居民.xlsx"):
    data = {"kind": kind, "file": upload(content, name)}
    if dry_run:
        data["dry_run"] = "on"
    return client.post(reverse("registry:import_start"), data, follow=True, **EN)


def uploads_left(settings) -> list:
    folder = settings.MEDIA_ROOT / "imports"
    return list(folder.iterdir()) if folder.exists() else []


# --- the import page ------------------------------------------------------------------------------


def test_the_import_page_offers_kinds_templates_and_a_dry_run(org, client):
    client.force_login(org.users.center)
    response = client.get(reverse("registry:import_start") + "?kind=households", **EN)
    assert response.status_code == 200
    assert response.context["form"].initial["kind"] == "households"
    text = response.content.decode()
    for kind in excel.IMPORT_KINDS:
        assert reverse("registry:template_download", args=[kind]) in text
    assert 'name="dry_run"' in text and 'enctype="multipart/form-data"' in text


@pytest.mark.parametrize("role", ["leader", "group_leader", "unit_handler", "mediator", "nobody"])
def test_only_those_who_keep_the_registry_may_import(org, client, role):
    client.force_login(getattr(org.users, role))
    assert client.get(reverse("registry:import_start")).status_code == 403
    response = client.post(reverse("registry:import_start"), {"kind": "residents", "file": upload(b"PK")})
    assert response.status_code == 403
    assert not ImportJob.objects.exists()


def test_an_upload_imports_and_the_job_page_shows_the_result(org, client, settings):
    client.force_login(org.users.center)
    response = post_import(client, residents_file(resident_row(), resident_row(身份证号码=id_number(seq="222"))))
    job = ImportJob.objects.get()
    assert response.redirect_chain[-1][0] == reverse("registry:import_job", args=[job.pk])
    assert (job.state, job.total, job.created, job.actor) == ("succeeded", 2, 2, org.users.center)
    assert job.file_name == "居民.xlsx" and job.area_code == org.s.code
    assert Resident.objects.count() == 2
    assert 'data-testid="import-result"' in response.content.decode()
    # The upload held full ID numbers: it is gone once the job has finished.
    assert not job.file and uploads_left(settings) == []
    status = client.get(reverse("registry:import_job_status", args=[job.pk]), **EN)
    assert status.status_code == 200
    text = status.content.decode()
    assert 'data-state="succeeded"' in text and "hx-get" not in text
    assert AuditEvent.objects.filter(event_type="registry.import", actor=org.users.center).count() == 1


def test_a_dry_run_from_the_page_writes_nothing(org, client):
    client.force_login(org.users.grid_worker)
    post_import(client, residents_file(resident_row()), dry_run=True)
    job = ImportJob.objects.get()
    assert (job.state, job.dry_run, job.total, job.created) == ("succeeded", True, 1, 0)
    assert not Resident.objects.exists()


def test_a_bad_file_shows_every_error_masked_and_offers_the_report(org, client, settings):
    client.force_login(org.users.grid_worker)
    number = wrong_checksum(id_number())
    content = residents_file(
        resident_row(身份证号码=number, 性别="男"),
        resident_row(身份证号码=id_number(seq="222"), 网格="340404004001002"),  # G12: not the worker's grid
        resident_row(身份证号码=id_number(seq="333"), 联系电话="13812345678"),
    )
    response = post_import(client, content)
    job = ImportJob.objects.get()
    assert (job.state, job.created, job.error_count) == ("failed", 0, 2)
    assert [(e["row"], e["column"]) for e in job.errors] == [(2, "身份证号码"), (3, "网格")]
    assert not Resident.objects.exists()
    text = response.content.decode()
    assert 'data-testid="import-errors"' in text
    assert number[:6] + "********" + number[-4:] in text
    assert reverse("registry:import_report_xlsx", args=[job.pk]) in text
    assert_nothing_in_clear([text], number, "13812345678")
    report = client.get(reverse("registry:import_report_xlsx", args=[job.pk]))
    assert report.status_code == 200 and report["Content-Type"] == excel.XLSX_CONTENT_TYPE
    assert "attachment" in report["Content-Disposition"]
    rows = list(load_workbook(io.BytesIO(report.content)).worksheets[0].iter_rows(values_only=True))
    assert rows[1] == excel.REPORT_HEADERS
    assert [(r[0], r[1]) for r in rows[2:]] == [(2, "身份证号码"), (3, "网格")]
    assert_nothing_in_clear([v for row in rows for v in row], number)
    assert uploads_left(settings) == []


@pytest.fixture
def immediate_huey():
    """Huey in immediate mode for this test. (tests/conftest.py sets GRIDGOV_HUEY_IMMEDIATE after
    pytest-django has already configured the settings, so it does not take effect by itself.)"""
    from huey.contrib.djhuey import HUEY

    before = HUEY.immediate
    HUEY.immediate = True
    yield HUEY
    HUEY.immediate = before


def test_a_large_file_runs_in_the_worker(org, client, monkeypatch, immediate_huey, django_capture_on_commit_callbacks):
    monkeypatch.setattr(imports, "INLINE_ROWS", 0)
    client.force_login(org.users.center)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        post_import(client, residents_file(resident_row()))
    assert len(callbacks) == 1  # the Huey task, queued after commit (immediate mode in tests)
    job = ImportJob.objects.get()
    assert (job.state, job.created) == ("succeeded", 1)


def test_a_queued_job_shows_a_progress_bar_polled_by_htmx(org, client):
    job = ImportJob.objects.create(kind="residents", file_name="x.xlsx", actor=org.users.center, area_code=org.s.code)
    ImportJob.objects.filter(pk=job.pk).update(state="running", total=4000, processed=1000)
    client.force_login(org.users.center)
    response = client.get(reverse("registry:import_job", args=[job.pk]), **EN)
    text = response.content.decode()
    status_url = reverse("registry:import_job_status", args=[job.pk])
    assert f'hx-get="{status_url}"' in text and 'hx-trigger="every 1s"' in text and 'hx-swap="outerHTML"' in text
    assert 'aria-valuenow="25"' in text and "1000 / 4000" in text
    assert '<meta http-equiv="refresh"' in text  # without JavaScript the page reloads itself


def test_a_job_runs_once(org):
    job = ImportJob.objects.create(kind="residents", file_name="x.xlsx", actor=org.users.center, state="succeeded")
    assert imports.import_job_run(job_id=job.pk) is None


def test_an_upload_that_is_not_an_xlsx_is_refused_by_the_form(org, client):
    client.force_login(org.users.center)
    for content, name in [(b"a,b\n1,2\n", "data.csv"), ("姓名\n张三\n".encode(), "居民.xlsx")]:
        response = post_import(client, content, name=name)
        assert response.status_code == 200
        assert response.context["form"].errors["file"]
    assert not ImportJob.objects.exists()


def test_an_oversized_upload_is_refused_by_the_form(org, client, settings):
    content = residents_file(resident_row())
    settings.GRIDGOV_IMPORT_MAX_BYTES = len(content) - 1
    client.force_login(org.users.center)
    response = post_import(client, content)
    assert "larger than" in response.context["form"].errors["file"][0]
    assert not ImportJob.objects.exists()


def test_someone_elses_job_is_not_found(org, client):
    client.force_login(org.users.center)
    post_import(client, residents_file(resident_row(身份证号码=wrong_checksum(id_number()), 性别="男")))
    job = ImportJob.objects.get()
    client.force_login(org.users.grid_worker)
    for name in ("import_job", "import_job_status", "import_report_xlsx"):
        assert client.get(reverse(f"registry:{name}", args=[job.pk])).status_code == 404
    assert job not in imports.import_job_list(user=org.users.grid_worker)
    assert job in imports.import_job_list(user=org.users.admin)
    client.force_login(org.users.admin)
    assert client.get(reverse("registry:import_job", args=[job.pk])).status_code == 200


# --- templates ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", excel.IMPORT_KINDS)
def test_templates_download(org, client, kind):
    client.force_login(org.users.grid_worker)
    response = client.get(f"/registry/templates/{kind}.xlsx")
    assert response.status_code == 200 and response["Content-Type"] == excel.XLSX_CONTENT_TYPE
    assert "attachment" in response["Content-Disposition"]
    wb = load_workbook(io.BytesIO(response.content))
    assert wb.sheetnames == [excel.FORMATS[kind].title, "说明"]
    assert [c.value for c in wb.worksheets[0][1]] == excel.FORMATS[kind].headers


def test_an_unknown_template_is_not_found(org, client):
    client.force_login(org.users.grid_worker)
    assert client.get("/registry/templates/places.xlsx").status_code == 404


# --- exports --------------------------------------------------------------------------------------


@pytest.fixture
def people(org):
    ids = {"g11": id_number(seq="111"), "g12": id_number(seq="222"), "g21": id_number(seq="333")}
    for key, grid in (("g11", org.g11), ("g12", org.g12), ("g21", org.g21)):
        services.resident_create(actor=None, grid=grid, name=f"{key}居民", id_number=ids[key], phone="13812345678")
    return ids


def export_rows(response) -> list[tuple]:
    content = b"".join(response.streaming_content)
    return list(load_workbook(io.BytesIO(content)).worksheets[0].iter_rows(values_only=True))


def test_an_export_as_a_grid_worker_has_their_grid_only_masked(org, client, people):
    client.force_login(org.users.grid_worker)
    response = client.get("/registry/export/residents.xlsx")
    assert response.status_code == 200 and response["Content-Type"] == excel.XLSX_CONTENT_TYPE
    rows = export_rows(response)
    assert "一网格" in rows[0][0] and "居民台账" in rows[0][0]
    assert [row[1] for row in rows[2:]] == ["g11居民"]
    assert rows[2][4] == people["g11"][:6] + "********" + people["g11"][-4:]
    assert_nothing_in_clear([v for row in rows for v in row], *people.values(), "13812345678")
    event = AuditEvent.objects.get(event_type="registry.export")
    assert event.actor == org.users.grid_worker
    assert (event.data["kind"], event.data["rows"], event.data["area"]) == ("residents", 1, org.g11.code)


def test_an_export_follows_the_filters_and_the_current_area(org, client, people):
    client.force_login(org.users.center)
    session = client.session
    session[SESSION_AREA_KEY] = org.c1.pk
    session.save()
    rows = export_rows(client.get("/registry/export/residents.xlsx"))
    assert sorted(row[1] for row in rows[2:]) == ["g11居民", "g12居民"]
    rows = export_rows(client.get(f"/registry/export/residents.xlsx?grid={org.g12.pk}"))
    assert [row[1] for row in rows[2:]] == ["g12居民"]
    # A search by full ID number is exported, and audited without the number in clear.
    rows = export_rows(client.get(f"/registry/export/residents.xlsx?q={people['g11']}&page=2"))
    assert [row[1] for row in rows[2:]] == ["g11居民"]
    event = AuditEvent.objects.filter(event_type="registry.export").order_by("-id").first()
    assert set(event.data["filters"]) == {"q"}
    assert not FULL_ID.findall(str(event.data))


@pytest.mark.parametrize("kind", ["households", "buildings", "shops", "places"])
def test_every_kind_exports_for_its_scope(org, client, kind):
    services.household_create(actor=None, grid=org.g21, address="外网格路1号")
    services.building_create(actor=None, grid=org.g21, address="外网格路1号", use="residential")
    services.shop_create(actor=None, grid=org.g21, name="外网格店", business_type="零售")
    services.place_create(
        actor=None,
        grid=org.g21,
        kind="park",
        name="外网格公园",
        geometry={"type": "Point", "coordinates": [117.0, 32.6]},
    )
    client.force_login(org.users.grid_worker)
    rows = export_rows(client.get(f"/registry/export/{kind}.xlsx"))
    assert len(rows) == 2  # the title and the headers: G21 is not the worker's
    client.force_login(org.users.center)
    assert len(export_rows(client.get(f"/registry/export/{kind}.xlsx"))) == 3


def test_an_export_over_the_cap_is_refused_with_a_message(org, client, people, monkeypatch):
    monkeypatch.setattr(excel, "EXPORT_MAX_ROWS", 1)
    client.force_login(org.users.center)
    response = client.get("/registry/export/residents.xlsx", **EN)
    assert response.status_code == 302 and response["Location"].startswith(reverse("registry:resident_list"))
    assert not AuditEvent.objects.filter(event_type="registry.export").exists()


def test_an_unknown_export_is_not_found(org, client):
    client.force_login(org.users.center)
    assert client.get("/registry/export/tags.xlsx").status_code == 404
