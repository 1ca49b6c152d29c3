"""`gridgov apikey create|list|revoke`: manage the API keys of outside systems from the command line."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from gridgov.areas.models import Area
from gridgov.core.errors import ApplicationError
from gridgov.integrations.models import ApiKey, Channel
from gridgov.integrations.services import apikey_create, apikey_revoke


class Command(BaseCommand):
    help = "Create, list and revoke API keys (Open311, cameras, the 12345 hotline). A new key is printed once."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Create a key and print it (it is not shown again).")
        create.add_argument("--name", required=True)
        create.add_argument("--channel", required=True, choices=Channel.values)
        create.add_argument("--area", metavar="CODE", help="Area the key may create cases in (default: subdistrict)")
        sub.add_parser("list", help="List keys (prefix only).")
        revoke = sub.add_parser("revoke", help="Revoke the key with this prefix.")
        revoke.add_argument("prefix")

    def handle(self, *args, action: str, **options):
        try:
            getattr(self, f"_{action}")(**options)
        except ApplicationError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from None

    def _create(self, *, name: str, channel: str, area: str | None, **options) -> None:
        area_obj = None
        if area:
            area_obj = Area.objects.filter(code=area).first()
            if area_obj is None:
                raise CommandError(f"No area with code {area}.")
        # actor=None: the system, i.e. whoever may run commands on the server.
        key, raw = apikey_create(actor=None, name=name, channel=channel, area=area_obj)
        self.stdout.write(raw)
        self.stderr.write(
            f"API key {key.prefix}… for {key.name} ({key.channel}, area {key.area.code}). "
            "Store it now: it is not shown again."
        )

    def _list(self, **options) -> None:
        for key in ApiKey.objects.select_related("area").order_by("created_at", "id"):
            state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
            used = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never"
            self.stdout.write(
                f"{key.prefix}\t{key.name}\t{key.channel}\t{key.area.code}\t"
                f"created {key.created_at:%Y-%m-%d %H:%M}\tlast used {used}\t{state}"
            )

    def _revoke(self, *, prefix: str, **options) -> None:
        keys = list(ApiKey.objects.filter(prefix=prefix, revoked_at__isnull=True)[:2])
        if not keys:
            raise CommandError(f"No active key with prefix {prefix}.")
        if len(keys) > 1:
            raise CommandError(f"Several active keys share the prefix {prefix}; revoke them in the admin.")
        apikey_revoke(actor=None, key=keys[0])
        self.stdout.write(f"Revoked {keys[0].prefix}… ({keys[0].name}).")
