"""Signing in and out: the login page, lockout after five wrong passwords, logout."""

from __future__ import annotations

import re

import pytest
from django.utils import translation
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def zh(message: str) -> str:
    """A message as the Chinese UI shows it, from the same catalogue the server uses."""
    with translation.override("zh-hans"):
        return translation.gettext(message)


def test_anonymous_visit_lands_on_a_chinese_login_page(journey, org):
    journey.goto("/")

    page = journey.page
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    form = page.get_by_test_id("login-form")
    expect(form.locator("input[name=username]")).to_be_visible()
    expect(form.locator("input[name=password]")).to_have_attribute("type", "password")
    expect(form.locator("input[name=next]")).to_have_value("/")
    expect(form.locator("button[type=submit]")).to_have_text("登录")
    expect(page.get_by_test_id("user-menu")).to_have_count(0)
    journey.assert_only_local_requests()
    journey.assert_no_console_errors()
    journey.shot("login")


def test_five_wrong_passwords_lock_the_account(journey, org):
    from gridgov.accounts.models import User

    journey.goto("/accounts/login/")
    error = journey.page.get_by_test_id("login-error")
    wrong = zh("Wrong username or password.")
    locked = zh("Too many failed logins: this account is locked. Try again in %(minutes)d minutes.") % {"minutes": 15}

    for attempt in range(1, 5):
        journey.login("gl01", f"wrong-{attempt}", expect_success=False)
        expect(error).to_have_text(wrong)
    journey.login("gl01", "wrong-5", expect_success=False)
    expect(error).to_have_text(locked)

    journey.login("gl01", expect_success=False)  # the right password, refused while locked
    expect(error).to_have_text(locked)
    expect(journey.page).to_have_url(re.compile(r"/accounts/login/"))
    expect(journey.page.get_by_test_id("user-menu")).to_have_count(0)
    assert User.objects.get(username="gl01").is_locked()


def test_logout_through_the_user_menu(journey, org):
    journey.login("wg01")
    journey.open_user_menu()
    journey.page.get_by_test_id("logout").click()

    expect(journey.page).to_have_url(re.compile(r"/accounts/login/$"))
    expect(journey.page.get_by_test_id("login-form")).to_be_visible()
    expect(journey.page.get_by_role("alert")).to_have_text(zh("You have signed out."))

    journey.goto("/")
    expect(journey.page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))
    expect(journey.page.get_by_test_id("user-menu")).to_have_count(0)
