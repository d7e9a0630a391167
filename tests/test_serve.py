"""``scripts/serve`` (what ``make run`` ends with) starts the web server and the task queue's
consumer with one command and stops both: on Ctrl-C, and when either of them dies.

Slow but bounded: each test starts gunicorn and ``flask tasks worker`` for real (a few seconds)
and gives every wait a limit.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.queue import wait_for

# One at a time (``--dist loadgroup``): each starts a gunicorn, which keeps a control socket.
pytestmark = pytest.mark.xdist_group("serve")

ROOT = Path(__file__).resolve().parents[1]
STARTED = re.compile(r"task consumer pid (\d+), web server pid (\d+)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:  # noqa: S310 - loopback
            return resp.status == 200
    except OSError:
        return False


@pytest.fixture
def serve(database_url, tmp_path):
    """Start ``scripts/serve``; yields (process, consumer pid, web pid, port, log path)."""
    port = free_port()
    log = tmp_path / "serve.log"
    env = {**os.environ, "BIN": str(Path(sys.executable).parent), "PORT": str(port), "WORKERS": "1",
           "TASK_WORKERS": "1", "DATABASE_URL": database_url, "HUIYIN_INSTANCE": str(tmp_path / "instance"),
           "TASK_QUEUE_URL": f"sqlite:///{tmp_path / 'queue.sqlite3'}", "SECRET_KEY": "test-secret"}
    with open(log, "w") as out:
        # Ctrl-C as in a terminal: a test run started in the background (``nohup …&``) hands its
        # children SIGINT ignored, and a shell cannot trap a signal ignored on entry.
        proc = subprocess.Popen(["scripts/serve"], cwd=ROOT, env=env, stdout=out,  # noqa: S603
                                stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # noqa: PLW1509
    pids: list[int] = []
    try:
        m = wait_for(lambda: STARTED.search(log.read_text()), timeout=20)
        pids = [int(m.group(1)), int(m.group(2))]
        wait_for(lambda: healthy(port), timeout=40, every=0.3)
        wait_for(lambda: "Huey consumer started" in log.read_text(), timeout=40, every=0.3)
        yield proc, pids[0], pids[1], port, log
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid in pids:
            if alive(pid):
                os.killpg(pid, signal.SIGKILL)  # its own process group (set -m)
        proc.wait(timeout=10)


def test_ctrl_c_stops_the_web_server_and_the_consumer(serve):
    proc, consumer, web, port, log = serve
    assert alive(consumer) and alive(web)
    assert "tasks worker" in Path(f"/proc/{consumer}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)  # what Ctrl-C sends to the script (its children have their own groups)
    assert proc.wait(timeout=45) == 128 + signal.SIGINT
    assert time.monotonic() - started < 45
    assert not alive(consumer) and not alive(web) and not healthy(port)
    out = log.read_text()
    assert "Consumer exiting" in out and "Shutting down: Master" in out and "serve: stopped" in out


def test_when_the_consumer_dies_the_web_server_stops_too(serve):
    proc, consumer, web, port, log = serve
    os.kill(consumer, signal.SIGKILL)
    assert proc.wait(timeout=45) != 0
    assert not alive(web) and not healthy(port)
    assert "serve: stopped" in log.read_text()
