"""`gridgov import residents FILE.xlsx [--dry-run] [--user USERNAME] [--report PATH.xlsx]`."""

from __future__ import annotations

import argparse
import unicodedata

from django.core.management.base import BaseCommand, CommandError, DjangoHelpFormatter
from django.utils.translation import gettext as _

from gridgov.core.errors import ApplicationError
from gridgov.registry import excel

HELP = """\
Import residents, households, buildings or shops from a filled Excel template (.xlsx).

Every row is checked first, with the same rules as the pages (ID number checksum and birth date,
phone numbers, grids and household groups within the user's area, duplicates in the file and in
the database). If any row is wrong nothing is imported: the errors are printed (row, column,
value with ID and phone numbers masked, reason), --report writes them to an .xlsx, and the
command exits with status 1. --dry-run checks without writing. Without --user the import runs
as the system (every grid); with --user it may touch only the grids that user keeps.
"""


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


class _Formatter(argparse.RawDescriptionHelpFormatter, DjangoHelpFormatter):
    """Keep the help text's paragraphs as written."""


class Command(BaseCommand):
    help = HELP

    def create_parser(self, prog_name, subcommand, **kwargs):
        kwargs.setdefault("formatter_class", _Formatter)
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser) -> None:
        parser.add_argument("kind", choices=excel.IMPORT_KINDS, help="which records the file holds")
        parser.add_argument("path", help="the filled .xlsx template")
        parser.add_argument("--dry-run", action="store_true", help="check every row, write nothing")
        parser.add_argument("--user", metavar="USERNAME", help="act as this user (default: the system)")
        parser.add_argument("--report", metavar="PATH.xlsx", help="write the error table to this .xlsx")

    def handle(self, *args, kind: str, path: str, dry_run: bool, user: str | None, report: str | None, **options):
        actor = None
        if user:
            from gridgov.accounts.models import User

            actor = User.objects.filter(username=user, is_active=True).first()
            if actor is None:
                raise CommandError(_("No active user %(name)s.") % {"name": user})
        tty = hasattr(self.stderr, "isatty") and self.stderr.isatty()
        shown: set[int] = set()

        def progress(done: int, total: int) -> None:
            line = _("checked %(done)s of %(total)s rows") % {"done": f"{done:,}", "total": f"{total:,}"}
            if tty:
                self.stderr.write("\r" + line, ending="")
                self.stderr.flush()
            elif (done == total or done % 10_000 == 0) and done not in shown:
                shown.add(done)
                self.stderr.write(line)

        try:
            result = excel.import_file(kind, path, actor=actor, dry_run=dry_run, progress=progress)
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        finally:
            if tty:
                self.stderr.write("")
        if report:
            excel.write_error_report(result.errors, report, title=f"{path} · {excel.FORMATS[kind].title}")
        if result.errors:
            self._print_errors(result.errors)
            if report:
                self.stdout.write(_("Error report: %(path)s") % {"path": report})
            raise CommandError(
                _("%(errors)s errors in %(rows)s rows: nothing was imported.")
                % {"errors": f"{len(result.errors):,}", "rows": f"{result.total_rows:,}"},
                returncode=1,
            )
        if dry_run:
            message = _("%(rows)s rows checked, no errors; nothing was written (dry run).")
        else:
            message = _("%(rows)s rows checked, %(created)s records imported.")
        counts = {"rows": f"{result.total_rows:,}", "created": f"{result.created:,}"}
        self.stdout.write(self.style.SUCCESS(message % counts))

    def _print_errors(self, errors: list[excel.RowError]) -> None:
        headers = [_("Row"), _("Column"), _("Value (masked)"), _("Reason")]
        rows = [[str(e.row), e.column, e.value, e.reason] for e in errors]
        widths = [max(_width(r[i]) for r in [headers, *rows]) for i in range(3)]
        for row in [headers, *rows]:
            self.stdout.write("  ".join(_pad(cell, widths[i]) for i, cell in enumerate(row[:3])) + "  " + row[3])
