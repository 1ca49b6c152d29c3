"""Fixtures of outbound webhooks: subscriptions made through the service, and real HTTP receivers on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.cases.conftest import act, report  # noqa: F401 (fixtures used by the tests here)


class Receiver:
    """An HTTP server in a thread that answers POSTs with the given statuses in turn (then 200) and keeps them."""

    def __init__(self, statuses=()):
        self.statuses = list(statuses)
        self.requests: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                request = {"path": self.path, "headers": dict(self.headers), "body": body, "status": status}
                receiver.requests.append(request)
                answer = b"ok" if 200 <= status < 300 else b"receiver is down"
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/gridgov"

    def payloads(self) -> list[dict]:
        return [json.loads(r["body"]) for r in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    """Make receivers: `receiver([500, 500])` fails twice, then answers 200."""
    made: list[Receiver] = []

    def make(statuses=()):
        made.append(Receiver(statuses))
        return made[-1]

    yield make
    for r in made:
        r.close()


@pytest.fixture
def silent_url():
    """A receiver that accepts the connection and never answers (the kernel queues it; nobody reads)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/never"
    sock.close()


@pytest.fixture
def refused_url():
    """An address where nothing listens: the connection is refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/refused"


@pytest.fixture
def subscribe(org):
    """Create a subscription through the service as the admin; returns (subscription, secret)."""
    from gridgov.webhooks.choices import SUBSCRIBABLE
    from gridgov.webhooks.services import webhook_subscription_create

    def make(url="http://127.0.0.1:9/hook", *, events=None, area=None, name="receiver", actor=None):
        return webhook_subscription_create(
            actor=actor or org.users.admin,
            name=name,
            url=url,
            events=[e.value for e in SUBSCRIBABLE] if events is None else events,
            area=area or org.s,
        )

    return make
