"""Real services for the communications tests: an SMTP server on loopback (aiosmtpd, in
a thread of the test process), a Redis server of our own (started and stopped by the
test, never the shared one), and Celery workers as subprocesses reading the test
database. Every wait is bounded; every process is killed in a finalizer."""

from __future__ import annotations

import collections
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import redis
from aiosmtpd.controller import Controller
from django.conf import settings
from django.db import connection

from changeprocess.celery import app as celery_app

BASE_DIR = Path(settings.BASE_DIR)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Callable[[], Any], *, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"Timed out after {timeout:.0f}s waiting for {what}.")
        time.sleep(0.05)


# --------------------------------------------------------------------------- SMTP


@dataclass
class Received:
    rcpts: list[str]
    raw: bytes
    at: float

    def parsed(self) -> EmailMessage:
        return message_from_bytes(self.raw, policy=policy.default)  # type: ignore[return-value]


@dataclass
class SmtpRecorder:
    """The aiosmtpd handler: records every RCPT attempt and every accepted message, and
    refuses when told to."""

    messages: list[Received] = field(default_factory=list)
    rcpt_attempts: list[tuple[str, float]] = field(default_factory=list)
    refuse_rcpt: str | None = None  # e.g. "451 4.3.0 Try again later"
    on_message: Callable[[int], None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        with self.lock:
            self.rcpt_attempts.append((address, time.monotonic()))
        if self.refuse_rcpt:
            return self.refuse_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.messages.append(
                Received(list(envelope.rcpt_tos), bytes(envelope.content), time.monotonic())
            )
            count = len(self.messages)
        if self.on_message is not None:
            self.on_message(count)
        return "250 2.0.0 Accepted"

    def count(self) -> int:
        with self.lock:
            return len(self.messages)

    def per_recipient(self) -> collections.Counter[str]:
        with self.lock:
            return collections.Counter(r for m in self.messages for r in m.rcpts)


@dataclass
class SmtpServer:
    host: str
    port: int
    recorder: SmtpRecorder


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    # aiosmtpd logs every command at INFO: thousands of lines per test, and CPU.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    recorder = SmtpRecorder()
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, recorder)
    finally:
        controller.stop()


# --------------------------------------------------------------------------- Redis


class RedisServer:
    """A redis-server of our own on a free port, without persistence: stopping it loses
    whatever it held, like a broker that crashed."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is needed for the communications tests.")
        self.binary = binary
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def ping(self) -> bool:
        try:
            return bool(redis.Redis(port=self.port, socket_connect_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def start(self) -> None:
        self.proc = subprocess.Popen(  # noqa: S603
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self.ping, timeout=15, what="redis-server to answer")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=15)
        self.proc = None


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def broker(redis_server: RedisServer) -> Iterator[RedisServer]:
    """Point this process's Celery app at our Redis, for real: tasks queued after commit
    go to the broker, not into the test process."""
    conf = celery_app.conf
    saved = (conf.broker_url, conf.task_always_eager)
    conf.broker_url = redis_server.url
    conf.task_always_eager = False
    celery_app._after_fork()  # drop pooled connections to the previous broker
    try:
        yield redis_server
    finally:
        conf.broker_url, conf.task_always_eager = saved
        celery_app._after_fork()


# --------------------------------------------------------------------------- workers


class Worker:
    """`celery -A changeprocess worker` in its own process group, on the test database."""

    def __init__(self, env: dict[str, str], log: Path, concurrency: int) -> None:
        self.env = env
        self.log = log
        self.concurrency = concurrency
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(  # noqa: S603
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "changeprocess",
                    "worker",
                    "--pool=prefork",
                    f"--concurrency={self.concurrency}",
                    "--loglevel=INFO",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    f"--hostname=notiftest-{uuid.uuid4().hex[:8]}@%h",
                ],
                cwd=BASE_DIR,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: killpg reaches the pool
            )

        def ready() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"The worker exited at start:\n{self.output()}")
            with self.log.open("rb") as f:
                f.seek(offset)
                return b" ready." in f.read()

        wait_for(ready, timeout=60, what="the Celery worker to be ready")

    def kill(self) -> None:
        """SIGKILL to the whole worker (main process and pool children): no cleanup, no
        acknowledgement, no goodbye to the SMTP server."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=15)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-5000:] if self.log.exists() else ""


def _test_database_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def start_worker(
    transactional_db: None, broker: RedisServer, smtp_server: SmtpServer, tmp_path: Path
) -> Iterator[Callable[..., Worker]]:
    """Start workers on the test database, our broker and our SMTP server; settings come
    from the environment as in production (changeprocess.settings.base)."""
    workers: list[Worker] = []

    def start(concurrency: int = 2, **overrides: str) -> Worker:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "changeprocess.settings.base",
            "DATABASE_URL": _test_database_url(),
            "REDIS_URL": broker.url,
            "CELERY_BROKER_URL": broker.url,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": smtp_server.host,
            "EMAIL_PORT": str(smtp_server.port),
            "EMAIL_TIMEOUT": "5",
            "NOTIFICATIONS_BATCH_SIZE": "50",
            "NOTIFICATIONS_RETRY_BACKOFF": "0.5",
            "NOTIFICATIONS_MAX_ATTEMPTS": "3",
            "LOG_LEVEL": "INFO",
            **overrides,
        }
        worker = Worker(env, tmp_path / f"worker-{len(workers)}.log", concurrency)
        workers.append(worker)
        worker.start()
        return worker

    try:
        yield start
    finally:
        for worker in workers:
            worker.kill()
