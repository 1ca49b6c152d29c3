"""`gridgov webhook create|list|rotate|ping|run|deliveries|replay`: outbound webhooks from the command line."""

from __future__ import annotations

from uuid import UUID

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from gridgov.areas.models import Area
from gridgov.core.errors import ApplicationError
from gridgov.webhooks.choices import SUBSCRIBABLE
from gridgov.webhooks.models import WebhookDelivery, WebhookSubscription
from gridgov.webhooks.services import (
    webhook_deliver_due,
    webhook_delivery_replay,
    webhook_dispatch,
    webhook_subscription_create,
    webhook_subscription_ping,
    webhook_subscription_rotate_secret,
)


class Command(BaseCommand):
    help = "Create, list, rotate and test webhook subscriptions, or run one dispatch and send now."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Subscribe a URL and print its signing secret (shown once).")
        create.add_argument("--name", required=True)
        create.add_argument("--url", required=True)
        create.add_argument(
            "--event",
            dest="events",
            action="append",
            choices=[e.value for e in SUBSCRIBABLE],
            help="An event to send (repeat the option; default: all)",
        )
        create.add_argument("--area", metavar="CODE", help="Only cases in this area (default: the subdistrict)")
        sub.add_parser("list", help="List subscriptions (never their secrets).")
        rotate = sub.add_parser("rotate", help="Give a subscription a new secret and print it (shown once).")
        rotate.add_argument("id", type=int)
        ping = sub.add_parser("ping", help="Queue a test event to a subscription.")
        ping.add_argument("id", type=int)
        sub.add_parser("run", help="Scan the case timeline and send what is due, once, in this process.")
        log = sub.add_parser("deliveries", help="The latest deliveries: state, attempts, last status.")
        log.add_argument("--limit", type=int, default=20)
        replay = sub.add_parser("replay", help="Send a delivery again (same payload and delivery id).")
        replay.add_argument("uuid")

    def handle(self, *args, action: str, **options):
        try:
            getattr(self, f"_{action}")(**options)
        except ApplicationError as exc:
            raise CommandError(f"{exc.code}: {exc.message} {exc.fields or ''}".strip()) from None

    def _subscription(self, pk: int) -> WebhookSubscription:
        subscription = WebhookSubscription.objects.select_related("area").filter(pk=pk).first()
        if subscription is None:
            raise CommandError(f"No webhook subscription {pk}.")
        return subscription

    def _create(self, *, name: str, url: str, events: list[str] | None, area: str | None, **options) -> None:
        area_obj = None
        if area:
            area_obj = Area.objects.filter(code=area).first()
            if area_obj is None:
                raise CommandError(f"No area with code {area}.")
        # actor=None: the system, i.e. whoever may run commands on the server.
        subscription, secret = webhook_subscription_create(
            actor=None, name=name, url=url, events=events or [e.value for e in SUBSCRIBABLE], area=area_obj
        )
        self.stdout.write(secret)
        self.stderr.write(
            f"Webhook subscription {subscription.pk} ({subscription.name}, {', '.join(subscription.events)}, "
            f"area {subscription.area.code}). Store the secret now: it is not shown again."
        )

    def _list(self, **options) -> None:
        for s in WebhookSubscription.objects.select_related("area").order_by("id"):
            state = "active" if s.active else "inactive"
            self.stdout.write(f"{s.pk}\t{s.name}\t{s.url}\t{','.join(s.events)}\t{s.area.code}\t{state}")

    def _rotate(self, *, id: int, **options) -> None:
        _subscription, secret = webhook_subscription_rotate_secret(actor=None, subscription=self._subscription(id))
        self.stdout.write(secret)
        self.stderr.write("Store the new secret now: it is not shown again.")

    def _ping(self, *, id: int, **options) -> None:
        delivery = webhook_subscription_ping(actor=None, subscription=self._subscription(id))
        self.stdout.write(f"Ping queued: delivery {delivery.uuid}.")

    def _deliveries(self, *, limit: int, **options) -> None:
        for d in WebhookDelivery.objects.select_related("subscription").order_by("-id")[: max(limit, 0)]:
            case = (d.payload.get("case") or {}).get("code", "-")
            nxt = f"{timezone.localtime(d.next_attempt_at):%Y-%m-%d %H:%M:%S}" if d.next_attempt_at else "-"
            self.stdout.write(
                f"{d.uuid}\t{d.subscription.name}\t{d.event}\t{case}\t{d.state}\tattempts {d.attempts}\t"
                f"status {d.last_status_code or '-'}\tnext {nxt}"
            )

    def _replay(self, *, uuid: str, **options) -> None:
        try:
            delivery = WebhookDelivery.objects.filter(uuid=UUID(uuid.strip())).first()
        except ValueError:
            delivery = None
        if delivery is None:
            raise CommandError(f"No webhook delivery {uuid}.")
        webhook_delivery_replay(actor=None, delivery=delivery)
        self.stdout.write(f"Delivery {delivery.uuid} queued to be sent again.")

    def _run(self, **options) -> None:
        scan = webhook_dispatch()
        sent = webhook_deliver_due()
        self.stdout.write(
            f"scanned {scan.scanned} timeline entries, wrote {scan.created} deliveries; "
            f"succeeded {sent.succeeded}, failed {sent.failed}, gave up {sent.gave_up}, deferred {sent.deferred}"
        )
