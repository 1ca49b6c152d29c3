"""`gridgov demo`: rebuild 毕家岗街道's demo data in a disposable database."""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from gridgov.areas.choices import Role
from gridgov.demo.builder import DEFAULT_SEED, DemoRefused, DemoSummary, display_width, pad, rebuild


class Command(BaseCommand):
    help = (
        "Flush the database and build 毕家岗街道's demo data: 4 communities, 25 grids, their household groups, "
        "units, party branches and demo accounts. Refuses a database it did not build."
    )

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Run even though settings.DEBUG is off.")
        parser.add_argument(
            "--seed", type=int, default=DEFAULT_SEED, help=f"Seed of the generated data (default {DEFAULT_SEED})."
        )

    def handle(self, *args, force: bool, seed: int, verbosity: int, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                _(
                    "gridgov demo deletes everything in the database, and DEBUG is off: this may be production. "
                    "Set GRIDGOV_DEBUG=1 or pass --force."
                )
            )
        started = time.monotonic()
        # Every service writes an audit line to the log; a few hundred of them would bury the progress.
        audit_logger = logging.getLogger("gridgov.audit")
        previous_level = audit_logger.level
        if verbosity < 2:
            audit_logger.setLevel(logging.WARNING)
        try:
            summary = rebuild(seed=seed, stdout=self.stdout if verbosity > 0 else None)
        except DemoRefused as exc:
            raise CommandError(str(exc)) from exc
        finally:
            audit_logger.setLevel(previous_level)
        if verbosity > 0:
            self._report(summary, time.monotonic() - started)

    def _report(self, summary: DemoSummary, seconds: float) -> None:
        self.stdout.write(
            self.style.SUCCESS(
                _("Demo data built in %(seconds).1f s (seed %(seed)d).") % {"seconds": seconds, "seed": summary.seed}
            )
        )
        rows = [(_("username"), _("name"), _("role"), _("area or unit"))]
        for account in summary.accounts:
            role = _("superuser") if account.role == "superuser" else str(Role(account.role).label)
            rows.append((account.username, account.name, role, account.where))
        widths = [max(display_width(row[i]) for row in rows) for i in range(3)]
        self.stdout.write("")
        for row in rows:
            self.stdout.write(
                "  ".join([*(pad(cell, width) for cell, width in zip(row, widths, strict=False)), row[3]])
            )
        self.stdout.write("")
        self.stdout.write(_("Every demo account has the password: %(password)s") % {"password": summary.password})
        self.stdout.write(_("Start the server with `gridgov serve` and sign in at http://127.0.0.1:8000/"))
