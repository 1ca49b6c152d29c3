"""`gridgov serve`: the web server and the background worker together, in the foreground."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

# The request path without its query string: searches by full ID or phone number stay out of the log.
ACCESS_LOG_FORMAT = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)s'


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = "Run the web server and the Huey worker together until Ctrl-C (the embedded default)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, host: str, port: int, **options):
        python = [sys.executable, "-m", "gridgov"]
        if settings.DEBUG:
            web = [*python, "runserver", "--noreload", f"{host}:{port}"]
        else:
            web = [
                sys.executable,
                "-m",
                "gunicorn",
                "gridgov.wsgi",
                "--bind",
                f"{host}:{port}",
                "--workers",
                "2",
                "--access-logfile",
                "-",
                "--access-logformat",
                ACCESS_LOG_FORMAT,
            ]
        processes = {
            "web": subprocess.Popen(web),  # noqa: S603 — our own interpreter and arguments
            "worker": subprocess.Popen([*python, "run_huey"]),  # noqa: S603
        }
        self.stdout.write(self.style.SUCCESS(f"gridgov is serving on http://{host}:{port}/ (Ctrl-C stops it)"))
        signal.signal(signal.SIGTERM, _raise_interrupt)
        code = 0
        try:
            while True:
                for name, process in processes.items():
                    if process.poll() is not None:
                        self.stderr.write(f"the {name} process stopped (exit {process.returncode}); stopping")
                        code = process.returncode or 1
                        raise KeyboardInterrupt
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            # SIGTERM, not SIGINT: children started from a background job inherit an ignored SIGINT.
            for process in processes.values():
                if process.poll() is None:
                    process.terminate()
            for process in processes.values():
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
        if code:
            sys.exit(code)
