"""What the superuser sees: the audit trail and the API documentation, both served locally."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_superuser_filters_the_audit_trail_by_actor(new_journey, org):
    new_journey().login("wg01")  # another actor's events, to be filtered out
    journey = new_journey()
    journey.login("admin")
    journey.goto("/audit/")

    page = journey.page
    rows = page.get_by_test_id("audit-table").locator("tbody tr")
    expect(rows.filter(has_text="wg01").first).to_be_visible()

    form = page.get_by_test_id("filter-form")
    form.locator("input[name=actor]").fill("admin")
    form.locator("button[type=submit]").click()

    expect(page).to_have_url(re.compile(r"/audit/\?(.*&)?actor=admin(&|$)"))
    expect(rows.filter(has_text="auth.login")).to_have_count(1)
    actors = [t.strip() for t in rows.locator("td:nth-child(2)").all_inner_texts()]
    assert actors and set(actors) == {"admin"}
    journey.assert_no_console_errors()


def test_api_docs_render_swagger_ui_from_local_files(journey, org):
    journey.login("admin")
    response = journey.goto("/api/v1/docs/")
    assert response.status == 200

    page = journey.page
    expect(page.locator(".swagger-ui")).to_be_visible()
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("gridgov API")
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible()
    page.wait_for_load_state("networkidle")
    journey.assert_only_local_requests()
    journey.assert_no_console_errors()
    journey.shot("api-docs")
