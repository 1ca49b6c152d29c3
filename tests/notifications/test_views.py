"""The notification centre's pages and the bell in the layout."""

from __future__ import annotations

import re

import pytest

from gridgov.notifications import services
from gridgov.notifications.models import Notification


@pytest.fixture
def inbox(people, channels):
    channels()
    services.notify(users=[people.a, people.b], kind="case.dispatched", title="案件已派遣", url="/cases/1/")
    services.notify(users=[people.a], kind="case.overdue", title="案件已超时", body="已超过处置时限。")
    return people


def html(response) -> str:
    return response.content.decode()


def bell(text: str) -> str:
    start = text.rindex("<a ", 0, text.index('data-testid="notification-bell"'))
    return text[start : text.index("</a>", start)]


def test_the_centre_renders_in_chinese(inbox, client):
    client.force_login(inbox.a)
    response = client.get("/notifications/")
    assert response.status_code == 200
    text = html(response)
    assert '<html lang="zh-hans">' in text
    assert "退出登录" in text
    assert "全部" in text
    assert [n.title for n in response.context["page"]] == ["案件已超时", "案件已派遣"]
    assert "已超过处置时限。" in text
    assert text.count('data-unread="1"') == 2
    assert "fw-bold" in text


def test_the_centre_shows_only_the_users_own(inbox, client):
    client.force_login(inbox.b)
    response = client.get("/notifications/")
    assert [n.title for n in response.context["page"]] == ["案件已派遣"]
    assert "案件已超时" not in html(response)


def test_the_centre_filters_unread(inbox, client):
    client.force_login(inbox.a)
    services.notification_mark_read(actor=inbox.a, notification=Notification.objects.filter(user=inbox.a).first())
    response = client.get("/notifications/", {"unread": "1"})
    assert [n.title for n in response.context["page"]] == ["案件已派遣"]
    all_rows = client.get("/notifications/")
    assert html(all_rows).count('data-unread="0"') == 1


def test_opening_a_notification_marks_it_read_and_goes_to_its_page(inbox, client):
    client.force_login(inbox.a)
    dispatched = Notification.objects.get(user=inbox.a, kind="case.dispatched")
    response = client.post(f"/notifications/{dispatched.pk}/read/")
    assert response.status_code == 302
    assert response["Location"] == "/cases/1/"
    dispatched.refresh_from_db()
    assert dispatched.read_at is not None


def test_a_notification_without_a_link_goes_back_to_the_centre(inbox, client):
    client.force_login(inbox.a)
    overdue = Notification.objects.get(user=inbox.a, kind="case.overdue")
    response = client.post(f"/notifications/{overdue.pk}/read/")
    assert response["Location"] == "/notifications/"


def test_opening_needs_a_post_and_ones_own_notification(inbox, client):
    client.force_login(inbox.a)
    theirs = Notification.objects.get(user=inbox.b)
    assert client.get(f"/notifications/{theirs.pk}/read/").status_code == 405
    assert client.post(f"/notifications/{theirs.pk}/read/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_mark_all_read(inbox, client):
    client.force_login(inbox.a)
    response = client.post("/notifications/read-all/", follow=True)
    assert response.redirect_chain[-1][0] == "/notifications/"
    assert not Notification.objects.filter(user=inbox.a, read_at__isnull=True).exists()
    assert Notification.objects.filter(user=inbox.b, read_at__isnull=True).count() == 1
    assert 'data-testid="unread-count"' not in html(response)


def test_the_bell_shows_the_unread_count_in_the_layout(inbox, client):
    client.force_login(inbox.a)
    text = html(client.get("/"))
    assert 'href="/notifications/"' in bell(text)
    assert re.search(r'data-testid="unread-count">2<', bell(text))
    client.force_login(inbox.c)
    assert 'data-testid="unread-count"' not in bell(html(client.get("/")))


def test_the_bell_caps_large_counts(people, channels, client):
    channels()
    for _ in range(100):
        services.notify(users=[people.a], kind="case.overdue", title="超时")
    client.force_login(people.a)
    assert 'data-testid="unread-count">99+<' in bell(html(client.get("/notifications/")))


def test_the_menu_has_the_centre(inbox, client):
    client.force_login(inbox.a)
    response = client.get("/")
    assert "notifications:notification_list" in [item.url_name for item in response.context["nav_items"]]


def test_anonymous_users_are_sent_to_the_login(client, db):
    response = client.get("/notifications/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_admin_lists_notifications_read_only(inbox, admin_client):
    listing = admin_client.get("/admin/notifications/notification/")
    assert listing.status_code == 200
    assert "案件已派遣" in html(listing)
    one = Notification.objects.filter(user=inbox.a).first()
    assert admin_client.get(f"/admin/notifications/notification/{one.pk}/change/").status_code == 200
    assert admin_client.get("/admin/notifications/notification/add/").status_code == 403
    assert admin_client.get("/admin/notifications/notificationdelivery/").status_code == 200
