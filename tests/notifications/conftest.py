"""Fixtures of the notification tests: users with and without e-mail, channels chosen per test, and a
local HTTP receiver for the HTTP and WeCom channels."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

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


# --- a receiver for the HTTP and WeCom channels -------------------------------------------------

ROBOT_KEY = "693a91f6-7d2b-4bc4-97a0-0ec2f1fa5aaa"
WECOM_OK = b'{"errcode":0,"errmsg":"ok"}'


@dataclass
class Received:
    path: str
    headers: Any  # email.message.Message: case-insensitive .get()
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """A real HTTP server on 127.0.0.1 in a thread: records every POST, answers from a script.

    `answers` is a list of (status, body) given to the next requests in turn; `default` after that.
    """

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.answers: list[tuple[int, bytes]] = []
        self.default: tuple[int, bytes] = (200, WECOM_OK)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append(Received(self.path, self.headers, body))
                status, answer = receiver.answers.pop(0) if receiver.answers else receiver.default
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "/elsewhere")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def robot_prefix(self) -> str:
        return f"{self.url}/cgi-bin/webhook/send"

    def robot_url(self, key: str = ROBOT_KEY) -> str:
        return f"{self.robot_prefix}?key={key}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(settings):
    """A local receiver; the WeCom channel's webhook prefix points at it and local targets are allowed."""
    server = Receiver()
    settings.GRIDGOV_NOTIFICATION_ALLOW_LOCAL_TARGETS = True
    settings.GRIDGOV_NOTIFICATION_WECOM_URL = server.robot_prefix
    settings.GRIDGOV_NOTIFICATION_HTTP_TIMEOUT = 5
    yield server
    server.close()
