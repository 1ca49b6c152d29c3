"""`gridgov serve` runs the web server and the worker together, and stops both."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def children_of(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(line) for line in out.split()]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True).stdout.strip()
    return bool(state) and not state.startswith("Z")


def test_serve_runs_web_and_worker_and_stops_both(tmp_path):
    env = {
        **os.environ,
        "GRIDGOV_VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite3'}",
        "GRIDGOV_DEBUG": "1",
        "GRIDGOV_HUEY_IMMEDIATE": "0",
    }
    subprocess.run([sys.executable, "-m", "gridgov", "migrate", "-v0"], env=env, check=True)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gridgov", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        body = None
        for _ in range(300):  # bounded: up to ~30 s for a cold start on a loaded machine
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:  # noqa: S310
                    body = json.loads(response.read())
                    break
            except OSError:
                time.sleep(0.1)
        assert body is not None and body["status"] == "ok", "the web server answered /healthz"
        children = children_of(server.pid)
        commands = [
            subprocess.run(["ps", "-o", "args=", "-p", str(pid)], capture_output=True, text=True).stdout
            for pid in children
        ]
        assert any("runserver" in c for c in commands), commands
        assert any("run_huey" in c for c in commands), commands
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    assert not [pid for pid in children if alive(pid)], "both children stopped with the server"
