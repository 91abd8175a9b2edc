"""One outage communication to 10,000 end users through a real Celery worker, against
Django's own `send_mass_mail` over one connection, to the same loopback SMTP server in the
same run. Run by hand (not by pytest); the numbers go to docs/benchmarks.md.

    .venv/bin/python benchmarks/notifications_throughput.py [--recipients 10000]

It needs PostgreSQL (DATABASE_URL's server; the database named there is dropped and
created afresh, `cp_bench_notifications` by default) and `redis-server` on PATH (started
on a free port, never the shared one). The worker runs with the production settings'
defaults (batches of 200, four tasks per communication) and four pool processes
(`--concurrency`; sending waits on the servers, not on the CPUs).

Both paths send the same subject and text to the same server. The worker's messages also
carry the HTML alternative (as the product sends them); `send_mass_mail` sends text only.
The worker path keeps every guarantee: each delivery claimed, fenced and committed before
the message is accepted; the benchmark checks that every recipient got exactly one.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/cp_bench_notifications"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------- SMTP server


def smtp_server(port: int, control: Any) -> None:
    """A loopback SMTP server in its own process: accepts everything, counts per
    recipient, answers 'stats' and 'reset' on the control pipe."""
    import logging

    from aiosmtpd.controller import Controller

    logging.getLogger("mail.log").setLevel(logging.WARNING)

    class Handler:
        def __init__(self) -> None:
            self.counts: Counter[str] = Counter()

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            for rcpt in envelope.rcpt_tos:
                self.counts[rcpt] += 1
            return "250 2.0.0 Accepted"

    handler = Handler()
    controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    control.send("ready")
    while True:
        command = control.recv()
        if command == "stats":
            counts = dict(handler.counts)
            control.send((sum(counts.values()), len(counts), max(counts.values(), default=0)))
        elif command == "reset":
            handler.counts.clear()
            control.send("ok")
        else:
            controller.stop()
            return


class Smtp:
    def __init__(self) -> None:
        self.port = free_port()
        self.control, child = multiprocessing.Pipe()
        self.proc = multiprocessing.Process(
            target=smtp_server, args=(self.port, child), daemon=True
        )
        self.proc.start()
        assert self.control.recv() == "ready"

    def stats(self) -> tuple[int, int, int]:
        self.control.send("stats")
        return self.control.recv()  # type: ignore[no-any-return]

    def reset(self) -> None:
        self.control.send("reset")
        self.control.recv()

    def stop(self) -> None:
        self.control.send("stop")
        self.proc.join(10)


# --------------------------------------------------------------------------- setup


def machine() -> dict[str, str]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "python": platform.python_version(),
        "os": platform.platform(),
        "memory": f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB",
    }


def recreate_database(url: str) -> None:
    import psycopg

    base, _, name = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def start_redis() -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is needed on PATH.")
    port = free_port()
    proc = subprocess.Popen(  # noqa: S603
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    import redis

    deadline = time.monotonic() + 15
    while True:
        try:
            redis.Redis(port=port).ping()
            break
        except redis.RedisError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    return proc, f"redis://127.0.0.1:{port}/0"


def start_worker(env: dict[str, str], log: Path, concurrency: int) -> subprocess.Popen[bytes]:
    out = log.open("wb")
    proc = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "changeprocess",
            "worker",
            "--pool=prefork",
            f"--concurrency={concurrency}",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while b" ready." not in log.read_bytes():
        if proc.poll() is not None or time.monotonic() > deadline:
            os.killpg(proc.pid, 9)
            raise RuntimeError(f"The worker did not start:\n{log.read_text()}")
        time.sleep(0.1)
    return proc


# --------------------------------------------------------------------------- runs


def run(args: argparse.Namespace) -> dict[str, Any]:
    smtp = Smtp()
    redis_proc: subprocess.Popen[bytes] | None = None
    worker: subprocess.Popen[bytes] | None = None
    try:
        redis_proc, redis_url = start_redis()
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "changeprocess.settings.base",
            "DATABASE_URL": args.database_url,
            "REDIS_URL": redis_url,
            "CELERY_BROKER_URL": redis_url,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(smtp.port),
            # The worker says "ready" at INFO.
            "LOG_LEVEL": "INFO",
        }
        os.environ.update(env)
        sys.path.insert(0, str(BASE_DIR))
        recreate_database(args.database_url)

        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        worker = start_worker(env, Path(args.log), args.concurrency)
        return measure(args.recipients, smtp, redis_url)
    finally:
        if worker is not None and worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(30)
        if redis_proc is not None:
            redis_proc.kill()
            redis_proc.wait(30)
        smtp.stop()


def measure(n: int, smtp: Smtp, redis_url: str) -> dict[str, Any]:
    import redis
    from django.conf import settings
    from django.core import mail
    from django.db import connection
    from django.utils import timezone

    from notifications import content
    from notifications.models import Delivery, DeliveryState, Notification
    from tests.notifications.utils import add_contacts, outage_change
    from tickets.models import Organization, User
    from tickets.services import change_propose_window, change_transition

    results: dict[str, Any] = {"recipients": n, "machine": machine()}
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        results["machine"]["postgresql"] = f"PostgreSQL {cursor.fetchone()[0]}"
    results["machine"]["redis"] = f"Redis {redis.Redis.from_url(redis_url).info()['redis_version']}"

    org = Organization.objects.create(name="Bench Corp", slug="bench", timezone="Europe/Paris")
    agent = User.objects.create(username="agent", kind=User.Kind.PROVIDER, is_support_agent=True)
    customer = User.objects.create(
        username="customer", kind=User.Kind.CUSTOMER, organization=org, email=""
    )
    emails = add_contacts(org, n)
    change = outage_change(org, agent)
    start = timezone.now() + timedelta(days=3)
    change_propose_window(change=change.pk, by=agent, start=start, end=start + timedelta(hours=2))

    # 1. Django's send_mass_mail, one connection, to the same server, with the subject and
    # text the announcement will have.
    words = content.outage(
        "announcement", change, window_start=start, window_end=start + timedelta(hours=2)
    )
    sender = settings.DEFAULT_FROM_EMAIL
    datatuple = [(words.subject, words.text, sender, [e]) for e in emails]
    smtp.reset()
    t0 = time.perf_counter()
    sent = mail.send_mass_mail(datatuple, connection=mail.get_connection())
    results["bare_seconds"] = time.perf_counter() - t0
    assert sent == n and smtp.stats()[0] == n

    # 2. The product: agree the window (records the deliveries in the request's
    # transaction), then the worker sends them all.
    smtp.reset()
    t0 = time.perf_counter()
    change_transition(change=change.pk, by=customer, name="agree_window")
    results["record_seconds"] = time.perf_counter() - t0
    deliveries = Delivery.objects.filter(notification__change=change, contact__isnull=False)
    while deliveries.filter(state=DeliveryState.SENT).count() < n:
        if time.perf_counter() - t0 > 600:
            raise RuntimeError("Timed out waiting for the worker.")
        time.sleep(0.05)
    results["worker_seconds"] = time.perf_counter() - t0
    total, distinct, most = smtp.stats()
    results.update(received=total, distinct=distinct, max_per_recipient=most)
    announcement = Notification.objects.get(change=change, kind="announcement")
    results["message_bytes"] = len(announcement.body_text) + len(announcement.body_html)
    assert (total, distinct, most) == (n, n, 1), (total, distinct, most)
    return results


def report(r: dict[str, Any], command: str) -> str:
    n = r["recipients"]
    bare = n / r["bare_seconds"]
    product = n / r["worker_seconds"]
    m = r["machine"]
    return f"""\
| path | seconds | messages/s |
|---|---:|---:|
| Django `send_mass_mail`, one SMTP connection | {r["bare_seconds"]:.2f} | {bare:.0f} |
| changeprocess: agree the window, worker sends all | {r["worker_seconds"]:.2f} | {product:.0f} |
| of which: recording {n:,} deliveries in the request's transaction | {r["record_seconds"]:.2f} | |

Ratio (changeprocess / bare): **{product / bare:.2f}**. Received by the server: {r["received"]:,}
messages to {r["distinct"]:,} distinct recipients, at most {r["max_per_recipient"]} each.

Machine: {m["nproc"]} CPUs ({m["cpu"]}), {m["memory"]}, {m["os"]}; Python {m["python"]};
{m["postgresql"]}; {m["redis"]}.
Command: `{command}`
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument(
        "--concurrency", type=int, default=4, help="worker pool processes (default 4)"
    )
    parser.add_argument("--log", default="/tmp/cp-bench-worker.log")  # noqa: S108
    args = parser.parse_args()
    results = run(args)
    print(report(results, " ".join([Path(sys.executable).name, *sys.argv])))


if __name__ == "__main__":
    main()
