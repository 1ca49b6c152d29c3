"""`gridgov intake secret CHANNEL [--rotate]` and `gridgov intake import-12345 FILE [--dry-run] [--user NAME]`."""

from __future__ import annotations

import unicodedata

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from gridgov.core.errors import ApplicationError
from gridgov.integrations import hotline, intake
from gridgov.integrations.models import INTAKE_CHANNELS


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


class Command(BaseCommand):
    help = (
        "Signed intake: print a channel's signing secret (generated once; --rotate replaces it), "
        "or import 12345 work orders from an .xlsx file (all rows or, if one is bad, none)."
    )

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        secret = sub.add_parser("secret", help="Generate and print the channel's signing secret (shown once).")
        secret.add_argument("channel", choices=[str(c) for c in INTAKE_CHANNELS])
        secret.add_argument("--rotate", action="store_true", help="Replace an existing secret (the old one stops).")
        imports = sub.add_parser(
            "import-12345", help="Import 12345 work orders from an .xlsx file (at most 20,000 rows; all or none)."
        )
        imports.add_argument("path", help="the .xlsx file (the template, or a 12345 export with its headers)")
        imports.add_argument("--dry-run", action="store_true", help="check every row, write nothing")
        imports.add_argument("--user", metavar="USERNAME", help="act as this user (default: the system)")
        imports.add_argument("--report", metavar="PATH.xlsx", help="write the error table to this .xlsx")

    def handle(self, *args, action: str, **options) -> None:
        try:
            if action == "secret":
                self._secret(options["channel"], rotate=options["rotate"])
            else:
                self._import(
                    options["path"], dry_run=options["dry_run"], user=options["user"], report=options["report"]
                )
        except ApplicationError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from None

    def _secret(self, channel: str, *, rotate: bool) -> None:
        # actor=None: the system, i.e. whoever may run commands on the server.
        _row, raw = intake.intake_secret_set(actor=None, channel=channel, rotate=rotate)
        self.stdout.write(raw)
        self.stderr.write(
            f"Signing secret of channel {channel}. Store it now: it is not shown again. "
            f"Senders sign each body: {intake.SIGNATURE_HEADER}: sha256=<hex HMAC-SHA256(secret, body)>."
        )

    def _import(self, path: str, *, dry_run: bool, user: str | None, report: str | None) -> None:
        actor = None
        if user:
            from gridgov.accounts.models import User

            actor = User.objects.filter(username=user, is_active=True).first()
            if actor is None:
                raise CommandError(_("No active user %(name)s.") % {"name": user})
        result = hotline.import_hotline_file(path, actor=actor, dry_run=dry_run, max_rows=hotline.COMMAND_MAX_ROWS)
        if report and result.errors:
            from gridgov.registry.excel import write_error_report

            write_error_report(result.errors, report, title=f"{path} · 12345")
        if result.errors:
            self._table([_("Row"), _("Column"), _("Value (masked)"), _("Reason")], result.errors)
            raise CommandError(
                _("%(errors)s errors in %(rows)s rows: nothing was imported.")
                % {"errors": f"{len(result.errors):,}", "rows": f"{result.total_rows:,}"},
                returncode=1,
            )
        orders = [(order, _("created")) for order in result.created] + [
            (order, _("skipped")) for order in result.skipped
        ]
        for order, outcome in sorted(orders, key=lambda item: item[0].row):
            note = f"\t{order.note}" if order.note else ""
            self.stdout.write(f"{order.row}\t{order.sender_id}\t{order.case_code}\t{outcome}{note}")
        counts = {
            "rows": f"{result.total_rows:,}",
            "created": f"{len(result.created):,}",
            "checked": f"{result.checked:,}",
            "skipped": f"{len(result.skipped):,}",
        }
        if dry_run:
            message = _("%(rows)s rows checked, no errors: %(checked)s orders to create, %(skipped)s already received.")
        else:
            message = _("%(rows)s rows: %(created)s cases created, %(skipped)s orders skipped (already received).")
        self.stdout.write(self.style.SUCCESS(message % counts))

    def _table(self, headers: list[str], errors: list) -> None:
        rows = [[str(e.row), e.column, e.value, e.reason] for e in errors]
        widths = [max(_width(r[i]) for r in [headers, *rows]) for i in range(3)]
        for row in [headers, *rows]:
            self.stdout.write("  ".join(_pad(cell, widths[i]) for i, cell in enumerate(row[:3])) + "  " + row[3])
