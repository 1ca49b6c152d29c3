"""`gridgov bench`: measure the performance figures on a database of the bench's own, never the user's."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dj_database_url
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections

from gridgov.core import bench

DEFAULT_REPORT = "var/bench/report.json"
POSTGRES_ENGINES = {"django.db.backends.postgresql", "django.contrib.gis.db.backends.postgis"}


def is_test_database(settings_dict: dict, vendor: str) -> bool:
    """True for a database the test runner made: `test_…`, or SQLite in memory."""
    name = str(settings_dict.get("NAME") or "")
    if vendor == "sqlite" and (name == ":memory:" or "mode=memory" in name):
        return True
    return Path(name).name.startswith("test_")


@contextmanager
def default_database_at(url: str) -> Iterator[None]:
    """Point the default connection at `url` for the duration (the settings read DATABASE_URL at start)."""
    parsed = dj_database_url.parse(url, conn_max_age=60)
    if parsed.get("ENGINE") not in POSTGRES_ENGINES:
        raise CommandError("--database-url must be a PostgreSQL server (postgres://…); SQLite is the default.")
    connections.close_all()
    current = connections.settings[DEFAULT_DB_ALIAS]  # the same dict as settings.DATABASES["default"]
    saved = {**current, "TEST": dict(current.get("TEST", {}))}

    def replace(values: dict) -> None:
        with contextlib.suppress(AttributeError):  # never opened in this thread
            del connections[DEFAULT_DB_ALIAS]
        current.clear()
        current.update(values)
        connections.configure_settings(connections.settings)

    replace(parsed)
    try:
        yield
    finally:
        connections.close_all()
        replace(saved)


@contextmanager
def bench_database(*, keep: bool, out) -> Iterator[str]:
    """Create and migrate the bench's own database beside the configured one; drop it afterwards.

    SQLite: a fresh file under the var directory. PostgreSQL: `<name>_bench` on the same server.
    This is the test runner's machinery, so the configured database is never opened.
    """
    connection = connections[DEFAULT_DB_ALIAS]
    old_name = connection.settings_dict["NAME"]
    test_settings = connection.settings_dict.setdefault("TEST", {})
    saved_test_name = test_settings.get("NAME")
    if connection.vendor == "sqlite":
        path = Path(settings.VAR_DIR) / "bench" / "bench.sqlite3"
        path.parent.mkdir(parents=True, exist_ok=True)
        if str(old_name) and Path(old_name).resolve() == path.resolve():
            raise CommandError(f"the configured database is {path}; the bench will not overwrite it")
        name = str(path)
    elif connection.vendor == "postgresql":
        name = f"{old_name}_bench"
    else:
        raise CommandError(f"the bench runs on SQLite or PostgreSQL, not {connection.vendor}")
    test_settings["NAME"] = name
    started = time.monotonic()
    out(f"Creating and migrating the bench database {name} ({connection.vendor}) …")
    try:
        connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
        out(f"  ready in {time.monotonic() - started:.1f}s")
        yield name
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0, keepdb=keep)
        test_settings["NAME"] = saved_test_name
        if keep:
            out(f"Kept the bench database {name}.")


class Command(BaseCommand):
    help = (
        "Measure the performance figures beside their targets and floors, on a database of the bench's own "
        "(a fresh SQLite file under the var directory, or <name>_bench on the PostgreSQL server of DATABASE_URL)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--scale", choices=list(bench.SCALES), default="small", help="data size (default small)")
        parser.add_argument("--only", nargs="+", metavar="NAME", help="figures to run: names, prefixes or patterns")
        parser.add_argument(
            "--database-url", help="a PostgreSQL server to bench on instead of DATABASE_URL (postgres://…/name)"
        )
        parser.add_argument(
            "--report", default=DEFAULT_REPORT, help=f"where to write the JSON report (default {DEFAULT_REPORT})"
        )
        parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
        parser.add_argument("--keep-db", action="store_true", help="keep the bench database for inspection")
        parser.add_argument("--list", action="store_true", help="list the benchmarks and scales, run nothing")
        parser.add_argument(
            "--current-test-db",
            action="store_true",
            help="run on the already configured test database (the test suite); refused for any other database",
        )

    def say(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()

    def handle(self, *args, **options):
        if options["list"]:
            self.list_benchmarks()
            return
        started = time.monotonic()
        try:
            bench.select(bench.discover(), options["only"])  # a misspelt name fails before any database work
            if options["current_test_db"]:
                connection = connections[DEFAULT_DB_ALIAS]
                if not is_test_database(connection.settings_dict, connection.vendor):
                    raise CommandError("--current-test-db runs only on a test database (test_… or SQLite in memory)")
                report = self.run(options)
            elif options["database_url"]:
                with (
                    default_database_at(options["database_url"]),
                    bench_database(keep=options["keep_db"], out=self.say),
                ):
                    report = self.run(options)
            else:
                with bench_database(keep=options["keep_db"], out=self.say):
                    report = self.run(options)
        except bench.BenchError as exc:
            raise CommandError(str(exc)) from exc
        self.finish(report, options, time.monotonic() - started)

    def run(self, options) -> bench.Report:
        scale = bench.SCALES[options["scale"]]
        self.say(f"Scale {scale.name}: {scale.description}")
        return bench.run(scale=scale.name, only=options["only"], out=self.say)

    def finish(self, report: bench.Report, options, total_seconds: float) -> None:
        path = Path(options["report"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report.as_dict(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        self.say("")
        self.say(bench.format_table(report.figures))
        self.say("")
        self.say(
            f"{report.scale} scale on {report.database} {report.database_version}: benchmarks took "
            f"{report.duration_seconds:.1f}s, {total_seconds:.1f}s in all. Report: {path}"
        )
        if report.over_budget:
            self.say(self.style.WARNING(f"Over the {report.budget_seconds}s budget of the {report.scale} scale."))
        for figure in report.missed:
            sign = "<" if figure.higher_is_better else ">"
            self.say(
                self.style.ERROR(
                    f"MISSED {figure.name}: {figure.value:g} {figure.unit} {sign} target {figure.target:g}"
                )
            )
        if report.errors:
            for error in report.errors:
                self.say(self.style.ERROR(f"ERROR {error['name']}: {error['error']}"))
            raise CommandError(f"{len(report.errors)} benchmark(s) failed to run", returncode=2)
        if report.missed and options["strict"]:
            raise CommandError(f"{len(report.missed)} target(s) missed", returncode=1)
        if not report.missed:
            self.say(self.style.SUCCESS(f"All {len(report.figures)} targets met."))

    def list_benchmarks(self) -> None:
        for name, scale in bench.SCALES.items():
            self.say(f"scale {name}: {scale.description}")
        for item in bench.discover().values():
            sign = "≥" if item.higher_is_better else "≤"
            self.say(f"{item.name}  ({sign} {item.target:g} {item.unit})  {item.description}")
