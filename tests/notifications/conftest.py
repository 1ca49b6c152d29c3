"""Fixtures of the notification tests: users with and without e-mail, channels chosen per test."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.conftest import PASSWORD


@pytest.fixture
def people(db):
    """Three active users with e-mail addresses, one without, one inactive."""
    from gridgov.accounts.models import User
    from gridgov.accounts.services import user_create

    def person(username: str, email: str = ""):
        return user_create(actor=None, username=username, password=PASSWORD, name=username, email=email)

    people = SimpleNamespace(
        a=person("alice", "alice@example.org"),
        b=person("bob", "bob@example.org"),
        c=person("carol", "carol@example.org"),
        no_email=person("dave"),
        inactive=person("erin", "erin@example.org"),
    )
    User.objects.filter(pk=people.inactive.pk).update(is_active=False)
    people.inactive.refresh_from_db()
    return people


@pytest.fixture
def channels(settings):
    """Set the channels that run besides the in-app centre: `channels("console", "email")`."""

    def choose(*names: str) -> None:
        settings.GRIDGOV_NOTIFICATION_CHANNELS = list(names)

    choose()
    return choose
