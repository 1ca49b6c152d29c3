"""The layout around every page: the language switch in the user menu, the sidebar on a phone."""

from __future__ import annotations

import pytest
from django.utils import translation
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_language_switch_persists_across_pages(journey, org):
    with translation.override("zh-hans"):
        sign_out_zh = translation.gettext("Sign out")
    journey.login("wg01")
    page = journey.page
    html = page.locator("html")
    sign_out = page.get_by_test_id("logout")
    expect(html).to_have_attribute("lang", "zh-hans")
    expect(sign_out).to_have_text(sign_out_zh)
    assert sign_out_zh != "Sign out", "the zh_Hans catalogue does not translate 'Sign out'"

    journey.open_user_menu()
    page.get_by_role("button", name="English").click()
    expect(html).to_have_attribute("lang", "en")
    expect(sign_out).to_have_text("Sign out")
    expect(page).to_have_url(journey.url("/"))

    page.locator("#gg-sidebar").locator("a[href='/party-branches/']").click()
    expect(page).to_have_url(journey.url("/party-branches/"))
    expect(html).to_have_attribute("lang", "en")
    expect(sign_out).to_have_text("Sign out")
    journey.shot("party-branches-en")

    journey.open_user_menu()
    page.get_by_role("button", name="简体中文").click()
    expect(html).to_have_attribute("lang", "zh-hans")
    expect(sign_out).to_have_text(sign_out_zh)
    expect(page).to_have_url(journey.url("/party-branches/"))
    journey.assert_no_console_errors()


def test_phone_sidebar_hides_behind_the_menu_button(new_journey, org):
    journey = new_journey(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    journey.login("wg01")

    page = journey.page
    sidebar = page.locator("#gg-sidebar")
    toggler = page.locator("button[aria-controls='gg-sidebar']")
    expect(toggler).to_be_visible()
    expect(sidebar).to_be_hidden()
    journey.shot("overview-wg01-phone")

    toggler.click()
    expect(sidebar).to_be_visible()
    expect(sidebar).to_have_class("col-lg-2 offcanvas-lg offcanvas-start gg-sidebar p-0 show")
    expect(sidebar.locator("a[href='/party-branches/']")).to_be_visible()
    journey.shot("overview-wg01-phone-menu")

    sidebar.locator(".btn-close").click()
    expect(sidebar).to_be_hidden()
    journey.assert_no_console_errors()
