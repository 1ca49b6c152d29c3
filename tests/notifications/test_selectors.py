"""Reads: a notification is its user's own."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from gridgov.core.errors import NotFound
from gridgov.notifications import selectors, services


@pytest.fixture
def inbox(people, channels):
    channels()
    services.notify(users=[people.a, people.b], kind="case.dispatched", title="一")
    services.notify(users=[people.a], kind="case.overdue", title="二")
    return people


def test_a_user_sees_their_own_notifications_newest_first(inbox):
    assert [n.title for n in selectors.notification_list(user=inbox.a)] == ["二", "一"]
    assert [n.title for n in selectors.notification_list(user=inbox.b)] == ["一"]
    assert list(selectors.notification_list(user=inbox.c)) == []


def test_user_a_cannot_get_bs_notification(inbox):
    theirs = selectors.notification_list(user=inbox.b).get()
    assert selectors.notification_get(user=inbox.b, pk=theirs.pk) == theirs
    with pytest.raises(NotFound) as caught:
        selectors.notification_get(user=inbox.a, pk=theirs.pk)
    assert caught.value.status == 404
    with pytest.raises(NotFound):
        selectors.notification_get(user=inbox.a, pk=999_999)
    with pytest.raises(NotFound):
        selectors.notification_get(user=inbox.a, pk="abc")


def test_unread_only_and_unread_count(inbox):
    newest = selectors.notification_list(user=inbox.a).first()
    services.notification_mark_read(actor=inbox.a, notification=newest)
    assert [n.title for n in selectors.notification_list(user=inbox.a, unread_only=True)] == ["一"]
    assert selectors.unread_count(user=inbox.a) == 1
    assert selectors.unread_count(user=inbox.b) == 1


def test_unread_count_is_one_query(inbox, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert selectors.unread_count(user=inbox.a) == 2


def test_anonymous_users_have_no_notifications(inbox):
    anonymous = AnonymousUser()
    assert list(selectors.notification_list(user=anonymous)) == []
    assert selectors.unread_count(user=anonymous) == 0
