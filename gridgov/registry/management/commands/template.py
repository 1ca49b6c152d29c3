"""`gridgov template residents FILE.xlsx`: write an import template (the file the import page offers)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from gridgov.registry import excel


class Command(BaseCommand):
    help = (
        "Write the Excel import template of residents, households, buildings or shops: the data sheet with "
        "its Chinese headers and drop-down lists, and a 说明 sheet explaining each column."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("kind", choices=excel.IMPORT_KINDS, help="which records the template is for")
        parser.add_argument("path", help="the .xlsx file to write")

    def handle(self, *args, kind: str, path: str, **options) -> None:
        try:
            excel.write_template(kind, path)
        except OSError as exc:
            raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from exc
        self.stdout.write(f"{excel.FORMATS[kind].title}: {path}")
