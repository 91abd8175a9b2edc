"""Every list, detail, dashboard, board and portal page and the main API endpoints, at a
desk's volume, each beside a bare view measured in the same run (issue 13). Run by hand
(not by pytest); the table goes to docs/benchmarks.md.

    .venv/bin/python benchmarks/http_pages.py --tickets 100000      # make bench-http
    .venv/bin/python benchmarks/http_pages.py --tickets 1000000 --duration 5

1. The PostgreSQL database `cp_bench_<N>` (or --database) on DATABASE_URL's server is
   created, migrated with the production settings and filled by `seed_volume --tickets N`;
   an existing one already holding N tickets with every migration applied is kept
   (--reseed drops it first).
2. The app runs under gunicorn as the Dockerfile starts it (two sync workers,
   --preload, access log), with the production settings (DEBUG off, hashed static files,
   django-axes, CSP, the Redis cache; REDIS_URL, database 4 by default) and one addition,
   `benchmarks/settings.py`: the bare view at /bench/bare/ (benchmarks/bare.py: one
   indexed query for 25 tickets, json.dumps). Requests say X-Forwarded-Proto: https, as
   the TLS proxy would. The API's per-user throttle is raised so that wrk is not refused
   (its counting in Redis still runs).
3. It logs in once as `agent` (staff) and `alice` (Acme Corp, the largest customer) for
   session cookies, and takes an API token for `agent`; wrk sends them as headers.
4. For each row: SQL queries per request (Django's test client with
   CaptureQueriesContext, same settings, same database, same cookie or token), the body
   size, then `wrk -t2 -c4 -d<duration>s` on loopback with benchmarks/wrk_report.lua for
   requests/s and the 50th, 95th and 99th latency percentiles, after one unmeasured
   second. The bare view runs first and last; the share is against the mean of the two.

Needs `wrk` (Debian: `apt-get install wrk`).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

BASE_DIR = Path(__file__).resolve().parent.parent
SERVER = "postgres://postgres@127.0.0.1:5432"
REDIS = "redis://127.0.0.1:6379/4"
# The issue's targets: at least a tenth of the bare view's rate, p95 under 100 ms (150 ms
# at a million tickets), at most 15 queries.
TARGETS = {"p95_ms": 100, "share": 0.1, "queries": 15}


@dataclass
class Endpoint:
    name: str
    path: str
    auth: str  # "staff" / "customer" session, "token" (agent's API token), "" (none)
    result: dict[str, Any] = field(default_factory=dict)


def endpoints(ids: dict[str, int]) -> list[Endpoint]:
    change, ticket = ids["change"], ids["ticket"]
    return [
        # The bare view again with agent's session: what signing in costs every page (the
        # session from Redis, the user's row, the time zone) before the page does anything.
        Endpoint("bare view, signed in", "/bench/bare/", "staff"),
        Endpoint("staff dashboard", "/staff/", "staff"),
        Endpoint("staff ticket queue", "/staff/tickets/", "staff"),
        Endpoint("staff ticket page", f"/staff/tickets/SUP-{ticket}/", "staff"),
        Endpoint("staff change list", "/staff/changes/", "staff"),
        Endpoint("staff change board", "/staff/changes/board/", "staff"),
        Endpoint("staff change page", f"/staff/changes/CHG-{change}/", "staff"),
        Endpoint("portal home", "/portal/", "customer"),
        Endpoint("portal ticket list", "/portal/tickets/", "customer"),
        Endpoint("portal ticket page", f"/portal/tickets/SUP-{ticket}/", "customer"),
        Endpoint("portal change list", "/portal/changes/", "customer"),
        Endpoint("portal change page", f"/portal/changes/CHG-{change}/", "customer"),
        Endpoint("API ticket list", "/api/v1/tickets/", "token"),
        Endpoint("API ticket search", "/api/v1/tickets/?search=invoice", "token"),
        Endpoint("API change list", "/api/v1/changes/", "token"),
        Endpoint("API change detail", f"/api/v1/changes/{change}/", "token"),
    ]


# --------------------------------------------------------------------------- helpers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def psql(database: str, statement: str) -> str:
    return subprocess.run(  # noqa: S603 - fixed argv
        ["psql", f"{SERVER}/{database}", "-XAtqc", statement],  # noqa: S607
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def manage(env: dict[str, str], *args: str, quiet: bool = True) -> None:
    subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, "manage.py", *args, *(["--verbosity=0"] if quiet else [])],
        cwd=BASE_DIR,
        env=env,
        check=True,
    )


def prepare_database(name: str, tickets: int, env: dict[str, str], reseed: bool) -> str:
    exists = psql("postgres", f"SELECT 1 FROM pg_database WHERE datname = '{name}'") == "1"  # noqa: S608
    if exists and not reseed:
        try:
            have = int(psql(name, "SELECT count(*) FROM tickets_ticket"))
        except (subprocess.CalledProcessError, ValueError):
            have = -1
        # A database seeded before a migration is seeded again rather than migrated: a
        # data migration over millions of rows can take longer than the seed.
        pending = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--check", "--verbosity=0"],
            cwd=BASE_DIR,
            env=env,
            capture_output=True,
        ).returncode
        if have == tickets and not pending:
            return f"kept {name} ({have:,} tickets)"
    psql("postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    psql("postgres", f'CREATE DATABASE "{name}"')
    manage(env, "migrate", "--noinput")
    started = time.monotonic()
    manage(env, "seed_volume", "--tickets", str(tickets), "--force", quiet=False)
    return f"seeded {name} in {time.monotonic() - started:.0f} s"


def pick_ids(database: str) -> dict[str, int]:
    """A change and a ticket of Acme Corp (alice's organisation) that both sides may
    open: the most recently updated change in testing with attached tickets, and the most
    recently updated ticket with at least five comments."""
    change = psql(
        database,
        "SELECT c.id FROM tickets_change c JOIN tickets_organization o ON o.id = "
        "c.organization_id WHERE o.slug = 'acme' AND c.status = 'in_testing' AND EXISTS "
        "(SELECT 1 FROM tickets_ticket t WHERE t.change_id = c.id) ORDER BY c.updated DESC "
        "LIMIT 1",
    )
    ticket = psql(
        database,
        "SELECT t.id FROM tickets_ticket t JOIN tickets_organization o ON o.id = "
        "t.organization_id WHERE o.slug = 'acme' AND (SELECT count(*) FROM "
        "tickets_ticketcomment c WHERE c.ticket_id = t.id) >= 5 ORDER BY t.updated DESC "
        "LIMIT 1",
    )
    return {"change": int(change), "ticket": int(ticket)}


class Client:
    """Plain HTTP to the server, as the TLS-terminating proxy forwards it."""

    def __init__(self, port: int) -> None:
        self.port = port

    def request(
        self, method: str, path: str, headers: dict[str, str] | None = None, body: str = ""
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            sent = {"X-Forwarded-Proto": "https", **(headers or {})}
            conn.request(method, path, body=body or None, headers=sent)
            response = conn.getresponse()
            return response.status, response.headers, response.read()
        finally:
            conn.close()

    def session(self, username: str) -> str:
        status, headers, body = self.request("GET", "/accounts/login/")
        csrf = _cookie(headers, "csrftoken")
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body)
        assert status == 200 and csrf and token, f"login page: {status}"
        form = {"csrfmiddlewaretoken": token.group(1).decode(), "username": username}
        form["password"] = "demo"  # noqa: S105 - seed_volume's documented accounts
        status, headers, _ = self.request(
            "POST",
            "/accounts/login/",
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": f"csrftoken={csrf}",
                "Origin": f"https://127.0.0.1:{self.port}",
            },
            urlencode(form),
        )
        session = _cookie(headers, "sessionid")
        assert status == 302 and session, f"login as {username}: {status}"
        return f"sessionid={session}; csrftoken={csrf}"

    def token(self, username: str) -> str:
        status, _, body = self.request(
            "POST",
            "/api/v1/auth/token/",
            {"Content-Type": "application/json"},
            json.dumps({"username": username, "password": "demo"}),
        )
        assert status == 200, f"API token for {username}: {status} {body[:200]!r}"
        return str(json.loads(body)["token"])


def _cookie(headers: http.client.HTTPMessage, name: str) -> str | None:
    for value in headers.get_all("Set-Cookie", []):
        if value.startswith(f"{name}="):
            return value.split(";")[0].split("=", 1)[1]
    return None


def wrk(url: str, headers: dict[str, str], args: argparse.Namespace) -> dict[str, Any]:
    argv = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s"]
    argv += ["--timeout", "10s", "-s", str(BASE_DIR / "benchmarks" / "wrk_report.lua")]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    out = subprocess.run([*argv, url], check=True, capture_output=True, text=True).stdout  # noqa: S603
    line = next(x for x in out.splitlines() if x.startswith("JSON "))
    return dict(json.loads(line[5:]))


def count_queries(env: dict[str, str], rows: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Run this script's --count-queries mode in a child with the server's settings."""
    out = subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, __file__, "--count-queries", json.dumps(rows)],
        cwd=BASE_DIR,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return list(json.loads(out.strip().splitlines()[-1]))


def _count_queries_child(spec: str) -> None:
    import django

    sys.path.insert(0, str(BASE_DIR))
    django.setup()
    from django.db import connection
    from django.test import Client as DjangoClient
    from django.test.utils import CaptureQueriesContext

    results = []
    for row in json.loads(spec):
        client = DjangoClient(HTTP_HOST="127.0.0.1")
        extra = {}
        for part in row.get("cookie", "").split(";"):
            if "=" in part:
                key, value = part.strip().split("=", 1)
                client.cookies[key] = value
        if row.get("authorization"):
            extra["HTTP_AUTHORIZATION"] = row["authorization"]
        client.get(row["path"], secure=True, **extra)  # warm: per-process caches
        with CaptureQueriesContext(connection) as queries:
            response = client.get(row["path"], secure=True, **extra)
        results.append({"status": response.status_code, "queries": len(queries)})
    print(json.dumps(results))


def machine() -> dict[str, str]:
    free = subprocess.run(["free", "-h"], capture_output=True, text=True).stdout  # noqa: S607
    mem = next((line.split()[1] for line in free.splitlines() if line.startswith("Mem:")), "?")
    return {
        "nproc": str(os.cpu_count()),
        "memory": mem,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgres": psql("postgres", "SHOW server_version"),
        "wrk": subprocess.run(["wrk", "-v"], capture_output=True, text=True)  # noqa: S607
        .stdout.splitlines()[0]
        .split(" [")[0],
        "commit": subprocess.run(
            ["git", "describe", "--always", "--dirty"],  # noqa: S607
            cwd=BASE_DIR,
            capture_output=True,
            text=True,
        ).stdout.strip(),
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


# --------------------------------------------------------------------------- the run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--database", help="default: cp_bench_<tickets>")
    parser.add_argument("--reseed", action="store_true", help="drop and seed the database")
    parser.add_argument("--duration", type=int, default=5, help="seconds of wrk per row")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--only", help="run only rows whose name contains this")
    parser.add_argument(
        "--cold",
        action="store_true",
        help="keep no rendered rows or forms (every request draws them all: the worst case)",
    )
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    parser.add_argument("--count-queries", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.count_queries:
        _count_queries_child(args.count_queries)
        return
    if args.tickets >= 1_000_000:
        TARGETS["p95_ms"] = 150
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed. On Debian: apt-get install wrk")

    database = args.database or f"cp_bench_{args.tickets}"
    static_root = Path(tempfile.mkdtemp(prefix="cp-bench-static-"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "benchmarks.settings",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": f"{SERVER}/{database}",
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", REDIS),
        "STATIC_ROOT": str(static_root),
        "EMAIL_URL": "consolemail://",
        "LOG_LEVEL": "WARNING",
        "API_THROTTLE_USER": "1000000/minute",
        "PYTHONPATH": str(BASE_DIR),
        "BENCH_KEEP_FRAGMENTS": "0" if args.cold else "1",
    }
    print(prepare_database(database, args.tickets, env, args.reseed), flush=True)
    manage(env, "collectstatic", "--noinput")
    ids = pick_ids(database)
    rows = endpoints(ids)
    if args.only:
        rows = [r for r in rows if args.only in r.name]

    port = free_port()
    log = static_root / "gunicorn.log"
    with log.open("wb") as log_file:
        server = subprocess.Popen(  # noqa: S603 - fixed argv
            [
                sys.executable,
                "-m",
                "gunicorn",
                "changeprocess.wsgi",
                f"--bind=127.0.0.1:{port}",
                "--preload",
                "--access-logfile=-",
                f"--workers={args.workers}",
                "--graceful-timeout=5",
                "--no-control-socket",
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        client = Client(port)
        deadline = time.monotonic() + 30
        while True:
            try:
                if client.request("GET", "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                sys.exit(f"gunicorn did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        auth = {
            "staff": {"Cookie": client.session("agent")},
            "customer": {"Cookie": client.session("alice")},
            "token": {"Authorization": f"Token {client.token('agent')}"},
            "": {},
        }
        counted = count_queries(
            env,
            [
                {
                    "path": r.path,
                    "cookie": auth[r.auth].get("Cookie", ""),
                    "authorization": auth[r.auth].get("Authorization", ""),
                }
                for r in rows
            ],
        )
        for row, c in zip(rows, counted, strict=True):
            row.result.update(c)
        base = f"http://127.0.0.1:{port}"
        common = {"X-Forwarded-Proto": "https"}

        def measure(row: Endpoint) -> None:
            headers = {**common, **auth[row.auth]}
            started = time.monotonic()
            status, _, body = client.request("GET", row.path, headers)
            row.result["single"] = time.monotonic() - started
            if status != 200:
                sys.exit(f"{row.name} {row.path}: {status}\n{body[:2000]!r}")
            row.result["size"] = len(body)
            # One second unmeasured first: both workers warm, their pools connected.
            wrk(base + row.path, headers, argparse.Namespace(**{**vars(args), "duration": 1}))
            row.result.update(wrk(base + row.path, headers, args))
            r = row.result
            print(
                f"{row.name:<22} {r['rps']:8.1f} req/s  p50 {r['p50'] / 1000:7.1f} ms  "
                f"p95 {r['p95'] / 1000:7.1f} ms  p99 {r['p99'] / 1000:7.1f} ms  "
                f"{r.get('queries', '-')} queries  {r['size']:,} B",
                flush=True,
            )

        bare_first = Endpoint("bare view", "/bench/bare/", "")
        bare_last = Endpoint("bare view (again)", "/bench/bare/", "")
        measure(bare_first)
        for row in rows:
            measure(row)
        measure(bare_last)
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(static_root, ignore_errors=True)

    bare_rps = (bare_first.result["rps"] + bare_last.result["rps"]) / 2
    table = render(rows, bare_first, bare_last, bare_rps)
    info = machine()
    text = (
        f"{table}\n\nBare view: {bare_first.result['rps']:.0f} and "
        f"{bare_last.result['rps']:.0f} req/s (first and last run; shares against "
        f"{bare_rps:.0f}). Change page: CHG-{ids['change']}; ticket page: "
        f"SUP-{ids['ticket']}.\n\nMachine: nproc {info['nproc']}, {info['memory']} RAM, "
        f"Linux {info['kernel']}, Python {info['python']}, PostgreSQL {info['postgres']}, "
        f"{info['wrk']}; load average at the end {info['load']}; commit {info['commit']}.\n"
        f"Command: `.venv/bin/python benchmarks/http_pages.py "
        f"{' '.join(a for a in sys.argv[1:])}`\n"
    )
    print("\n" + text)
    if args.markdown:
        args.markdown.write_text(text)
    errors = [
        r.name
        for r in [bare_first, *rows, bare_last]
        if any(r.result.get(k) for k in ("connect", "read", "write", "status", "timeout"))
    ]
    if errors:
        sys.exit(f"wrk saw errors or non-2xx answers on: {', '.join(errors)}")


def render(rows: list[Endpoint], first: Endpoint, last: Endpoint, bare_rps: float) -> str:
    lines = [
        "| page | URL | req/s | p50 ms | p95 ms | p99 ms | queries | bytes | share of bare "
        "| misses |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in [first, *rows, last]:
        r = row.result
        if not r["requests"]:
            lines.append(
                f"| {row.name} | `{row.path}` | 0 | - | - | - | {r.get('queries', 1)} "
                f"| {r['size']:,} | 0.00 | no answer within {r['seconds']:.0f} s "
                f"({r['single']:.1f} s alone) |"
            )
            continue
        share = r["rps"] / bare_rps
        misses = []
        if not row.name.startswith("bare view"):  # the yardsticks are not judged
            if share < TARGETS["share"]:
                misses.append("share")
            if r["p95"] / 1000 >= TARGETS["p95_ms"]:
                misses.append("p95")
            if r.get("queries", 0) > TARGETS["queries"]:
                misses.append("queries")
        lines.append(
            f"| {row.name} | `{row.path}` "
            f"| {r['rps']:.0f} | {r['p50'] / 1000:.1f} | {r['p95'] / 1000:.1f} "
            f"| {r['p99'] / 1000:.1f} | {r.get('queries', 1)} | {r['size']:,} | {share:.2f} "
            f"| {', '.join(misses) or '-'} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
