"""The fan-out: case timeline entries become deliveries, per event type and area, once each, late commits included."""

from __future__ import annotations

import json
from datetime import timedelta

from django.utils import timezone

from gridgov.cases.choices import Action
from gridgov.cases.models import CaseEvent
from gridgov.cases.services import sweep_deadlines
from gridgov.webhooks.models import DispatchCursor, WebhookDelivery, WebhookSubscription
from gridgov.webhooks.services import webhook_dispatch
from tests.cases.conftest import IN_G11, IN_G12, IN_G21


def _delivered(subscription) -> list[tuple[str, str]]:
    return sorted(
        (d.event, d.payload["case"]["code"]) for d in WebhookDelivery.objects.filter(subscription=subscription)
    )


def test_no_subscription_costs_one_query(org, report, django_assert_num_queries):
    report()
    with django_assert_num_queries(1):
        result = webhook_dispatch()
    assert result.scanned == 0 and WebhookDelivery.objects.count() == 0


def test_fan_out_per_event_type(org, report, act, subscribe):
    created, _s = subscribe(events=["case.created"], name="created")
    changed, _s = subscribe(events=["case.state_changed"], name="changed")
    overdue, _s = subscribe(events=["case.overdue"], name="overdue")
    case = report()
    webhook_dispatch()
    assert _delivered(created) == [("case.created", case.code)]
    assert _delivered(changed) == [] and _delivered(overdue) == []

    act(org.users.center, case, "comment", note="seen")  # no change of state: no event
    act(org.users.center, case, "accept")
    webhook_dispatch()
    assert _delivered(changed) == [("case.state_changed", case.code)]
    change = WebhookDelivery.objects.get(subscription=changed).payload["change"]
    assert (change["action"], change["from_state"], change["to_state"]) == ("accept", "reported", "registered")

    later = timezone.now() + timedelta(days=60)
    assert sweep_deadlines(now=later).overdue == 1
    webhook_dispatch(now=later + timedelta(minutes=1))
    assert _delivered(overdue) == [("case.overdue", case.code)]
    payload = WebhookDelivery.objects.get(subscription=overdue).payload
    assert payload["case"]["overdue"] is True and payload["change"]["action"] == "overdue"
    # Each subscription got only its own type.
    assert WebhookDelivery.objects.count() == 3


def test_payload(org, report, subscribe):
    subscription, _secret = subscribe(events=["case.created"])
    case = report(org.users.grid_worker, reporter_name="王小明", reporter_phone="13812345678", address="幸福路8号")
    webhook_dispatch()
    payload = WebhookDelivery.objects.get(subscription=subscription).payload
    event = CaseEvent.objects.get(case=case, action=Action.REPORT)
    assert payload["event_id"] == event.pk and payload["type"] == "case.created"
    assert payload["occurred_at"] == timezone.localtime(event.time).isoformat()
    assert payload["occurred_at"].endswith("+08:00")
    assert payload["case"] == {
        "id": case.pk,
        "code": case.code,
        "title": case.title,
        "category": {"code": "01001", "name": case.category.name},
        "state": "reported",
        "level": case.level,
        "priority": "normal",
        "area_code": org.g11.code,
        "unit": None,
        "due_at": timezone.localtime(case.due_at).isoformat(),
        "overdue": False,
        "url": f"/cases/{case.pk}/",
    }
    text = json.dumps(payload, ensure_ascii=False)
    for personal in ("王小明", "13812345678", "5678", "幸福路", "32.605"):
        assert personal not in text


def test_fan_out_per_area(org, report, subscribe):
    c1, _s = subscribe(area=org.c1, events=["case.created"], name="c1")
    c2, _s = subscribe(area=org.c2, events=["case.created"], name="c2")
    g12, _s = subscribe(area=org.g12, events=["case.created"], name="g12")
    whole, _s = subscribe(area=org.s, events=["case.created"], name="s")
    in_g11 = report(point=IN_G11, title="一网格")
    in_g12 = report(org.users.center, point=IN_G12, title="二网格")
    in_g21 = report(org.users.center, point=IN_G21, title="三网格")
    webhook_dispatch()
    codes = lambda *cases: sorted(("case.created", c.code) for c in cases)  # noqa: E731
    assert _delivered(c1) == codes(in_g11, in_g12)
    assert _delivered(c2) == codes(in_g21)
    assert _delivered(g12) == codes(in_g12)
    assert _delivered(whole) == codes(in_g11, in_g12, in_g21)


def test_rescan_is_idempotent(org, report, subscribe):
    subscribe(events=["case.created"], name="a")
    subscribe(events=["case.created"], name="b")
    report()
    report(title="第二件")
    first = webhook_dispatch()
    assert first.created == 4
    ids = set(WebhookDelivery.objects.values_list("id", "uuid"))
    again = webhook_dispatch()
    assert again.created == 0 and again.scanned == 2  # the overlap reads them again, writes nothing
    DispatchCursor.objects.all().delete()  # a lost cursor: the whole history since the subscriptions is read
    assert webhook_dispatch().created == 0
    assert set(WebhookDelivery.objects.values_list("id", "uuid")) == ids


def test_overlap_catches_a_late_commit(org, report, subscribe):
    subscription, _secret = subscribe(events=["case.created"])
    scan_time = timezone.now() + timedelta(minutes=1)
    # A scan ran at scan_time; the report below began before it (its entry's time is earlier)
    # but committed after it, so that scan could not see it.
    webhook_dispatch(now=scan_time)
    case = report()
    assert CaseEvent.objects.get(case=case).time < scan_time
    assert WebhookDelivery.objects.count() == 0
    webhook_dispatch(now=scan_time + timedelta(minutes=1))
    assert _delivered(subscription) == [("case.created", case.code)]


def test_scan_window_is_bounded(org, report, act, subscribe):
    """Entries older than the last scan minus the overlap are not read again (the scan stays cheap)."""
    subscription, _secret = subscribe(events=["case.overdue"])
    t = timezone.now()
    WebhookSubscription.objects.filter(pk=subscription.pk).update(active_since=t - timedelta(hours=1))
    webhook_dispatch(now=t)
    case = report()

    def overdue_entry(at):
        return CaseEvent.objects.create(
            case=case,
            time=at,
            action=Action.OVERDUE,
            from_state=case.state,
            to_state=case.state,
            from_level=case.level,
            to_level=case.level,
        )

    inside = overdue_entry(t - timedelta(minutes=2))
    overdue_entry(t - timedelta(minutes=10))
    webhook_dispatch(now=t + timedelta(minutes=1))
    assert list(WebhookDelivery.objects.values_list("case_event_id", flat=True)) == [inside.pk]


def test_new_subscription_gets_events_from_its_creation_on(org, report, subscribe):
    before = report(title="之前")
    webhook_dispatch()
    subscription, _secret = subscribe(events=["case.created"])
    after = report(title="之后")
    webhook_dispatch()
    assert _delivered(subscription) == [("case.created", after.code)]
    assert before.code != after.code


def test_events_while_switched_off_are_not_sent_later(org, report, subscribe):
    from gridgov.webhooks.services import webhook_subscription_update

    subscription, _secret = subscribe(events=["case.created"])
    before = report(title="停用前")
    webhook_dispatch()

    def switch(active):
        webhook_subscription_update(
            actor=org.users.admin,
            subscription=subscription,
            name=subscription.name,
            url=subscription.url,
            events=subscription.events,
            area=subscription.area,
            active=active,
        )

    switch(False)
    report(title="停用中")
    webhook_dispatch()
    switch(True)
    after = report(title="启用后")
    webhook_dispatch()
    assert _delivered(subscription) == sorted([("case.created", before.code), ("case.created", after.code)])


def test_inactive_subscription_gets_nothing(org, report, subscribe):
    subscription, _secret = subscribe(events=["case.created"])
    WebhookSubscription.objects.filter(pk=subscription.pk).update(active=False)
    report()
    webhook_dispatch()
    assert WebhookDelivery.objects.count() == 0
