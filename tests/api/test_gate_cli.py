"""`changeprocess-gate` (tickets/gate_cli.py) as a pipeline runs it: the installed script in
a process of its own, against a live server, judged by its exit status and its output."""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from knox.models import AuthToken

from tests.api.test_gate import open_window, ready
from tickets.gate_cli import duration

pytestmark = pytest.mark.timeout(120)

SCRIPT = Path(sys.executable).with_name("changeprocess-gate")


def run(url: str, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CHANGEPROCESS_URL": url, "CHANGEPROCESS_TOKEN": token}
    command = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "tickets.gate_cli"]
    return subprocess.run(  # noqa: S603 - our own script
        [*command, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture
def token(cast) -> str:
    return AuthToken.objects.create(user=cast.agent)[1]


def test_the_script_is_installed_with_the_package() -> None:
    assert SCRIPT.exists() or shutil.which("changeprocess-gate")


def test_allowed_exits_0(cast, live_server, token) -> None:
    change = ready(cast)
    done = run(live_server.url, token, change.key)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == f"{change.key} may be deployed to its environment now.\n"
    assert run(live_server.url + "/", token, change.key, "--environment", "uat").returncode == 0


def test_refused_exits_1_with_every_reason(cast, live_server, token) -> None:
    change = ready(cast)
    open_window(change, cast, start=timedelta(hours=2), end=timedelta(hours=3))
    done = run(live_server.url, token, change.key, "--environment", "production")
    assert done.returncode == 1, done.stderr
    assert done.stdout.splitlines() == [
        "The change is for UAT (uat), not for production: deploy it to uat only.",
        f"The deployment window opens at {change.window_start:%Y-%m-%d %H:%M:%S} UTC.",
    ]


def test_not_found_and_bad_token_exit_2(cast, live_server, token) -> None:
    done = run(live_server.url, token, "CHG-999999")
    assert done.returncode == 2 and done.stdout == ""
    assert "HTTP 404" in done.stderr and "No change CHG-999999." in done.stderr
    change = ready(cast)
    done = run(live_server.url, "not-a-token", change.key)
    assert done.returncode == 2 and "HTTP 401" in done.stderr


def test_no_server_exits_2() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    done = run(f"http://127.0.0.1:{port}", "token", "CHG-1")
    assert done.returncode == 2 and "cannot reach" in done.stderr
    # Waiting retries a refused connection, then gives up with the same error.
    started = time.monotonic()
    done = run(f"http://127.0.0.1:{port}", "token", "CHG-1", "--wait", "2s", "--interval", "1s")
    assert done.returncode == 2 and "asking again" in done.stderr
    assert time.monotonic() - started >= 2


def test_usage_errors_exit_2() -> None:
    assert run("", "", "CHG-1").returncode == 2
    assert "CHANGEPROCESS_URL" in run("", "t", "CHG-1").stderr
    assert run("ftp://example.com", "t", "CHG-1").returncode == 2
    assert run("http://127.0.0.1:1", "t").returncode == 2  # no change named
    assert run("http://127.0.0.1:1", "t", "CHG-1", "--wait", "soon").returncode == 2


def test_wait_until_the_window_opens(cast, live_server, token) -> None:
    change = ready(cast)
    open_window(change, cast, start=timedelta(seconds=3), end=timedelta(hours=1))
    started = time.monotonic()
    done = run(live_server.url, token, change.key, "--wait", "30s", "--interval", "1s")
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert time.monotonic() - started >= 2
    assert "Waiting: The deployment window opens at" in done.stderr
    assert done.stderr.count("Waiting:") == 1  # said once, not at every poll


def test_waiting_gives_up_with_the_reasons(cast, live_server, token) -> None:
    change = ready(cast)
    open_window(change, cast, start=timedelta(hours=1), end=timedelta(hours=2))
    done = run(live_server.url, token, change.key, "--wait", "2s", "--interval", "1s")
    assert done.returncode == 1
    assert done.stdout.startswith("The deployment window opens at")


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("90s", 90), ("30m", 1800), ("1h30m", 5400), ("0s", 0)]
)
def test_durations(text: str, seconds: float) -> None:
    assert duration(text) == seconds


@pytest.mark.parametrize("text", ["", "m", "1d", "1.5h", "-1s", "30 m"])
def test_not_durations(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="not a duration"):
        duration(text)
