"""The web process as the container runs it: gunicorn, production settings, real
PostgreSQL and Redis, static files collected beforehand (Dockerfile's CMD and
collectstatic step), reached over plain HTTP as the reverse proxy reaches it.

The database is a scratch one, migrated with the production settings as the `migrate`
service does (that includes django-axes' tables); not pytest's test database, which
another pytest run on the same server may drop at any moment.
"""

import http.client
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode

import psycopg
import pytest
from django.conf import settings
from psycopg import sql

ROOT = Path(__file__).resolve().parents[2]
SITE = "changes.example.com"
FAILURE_LIMIT = 3
START_TIMEOUT_SECONDS = 30
REQUEST_TIMEOUT_SECONDS = 10

pytestmark = pytest.mark.timeout(180)


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Server:
    port: int
    static_root: Path
    log: Path

    def request(
        self,
        method: str,
        path: str,
        *,
        host: str = SITE,
        https: bool = True,
        headers: dict[str, str] | None = None,
        body: str | None = None,
    ) -> Response:
        # What the TLS-terminating proxy forwards; https=False is a plain-HTTP request.
        sent = {"Host": host, **({"X-Forwarded-Proto": "https"} if https else {})}
        connection = http.client.HTTPConnection(
            "127.0.0.1", self.port, timeout=REQUEST_TIMEOUT_SECONDS
        )
        try:
            connection.request(method, path, body=body, headers={**sent, **(headers or {})})
            response = connection.getresponse()
            return Response(response.status, response.headers, response.read())
        finally:
            connection.close()

    def get(self, path: str, **kwargs) -> Response:
        return self.request("GET", path, **kwargs)

    def errors(self) -> str:
        """The server's error records, for assertion messages."""
        lines = self.log.read_text().splitlines()
        return "\n".join(line for line in lines if '"level": "ERROR"' in line)[-5000:]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    # Same server and role as the test settings, a database of its own.
    server = settings.DATABASES["default"]
    host, port = server["HOST"] or "127.0.0.1", server["PORT"] or 5432
    user, password = server["USER"] or "postgres", server["PASSWORD"] or ""
    name = f"changeprocess_deploy_{os.getpid()}"
    maintenance = psycopg.conninfo.make_conninfo(
        host=host, port=port, user=user, password=password, dbname="postgres"
    )

    def run(statement: sql.Composed) -> None:
        with psycopg.connect(maintenance, autocommit=True, connect_timeout=10) as connection:
            connection.execute(statement)

    run(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    credentials = f"{quote(user, safe='')}:{quote(password, safe='')}" if password else user
    try:
        yield f"postgres://{credentials}@{host}:{port}/{name}"
    finally:
        run(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="module")
def production_env(database_url, tmp_path_factory) -> dict[str, str]:
    static_root = tmp_path_factory.mktemp("staticfiles")
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "changeprocess.settings.production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": SITE,
        "DATABASE_URL": database_url,
        "REDIS_URL": settings.REDIS_URL,
        "STATIC_ROOT": str(static_root),
        "AXES_FAILURE_LIMIT": str(FAILURE_LIMIT),
        "AXES_COOLOFF_MINUTES": "1",
        "TRUSTED_PROXY_COUNT": "1",
        "EMAIL_URL": "consolemail://",
    }


@pytest.fixture(scope="module")
def server(production_env, tmp_path_factory) -> Iterator[Server]:
    # The image's build step and the `migrate` service, in that order.
    for command in (["collectstatic", "--noinput"], ["migrate", "--noinput"]):
        subprocess.run(  # noqa: S603 - fixed argv, no outside input
            [sys.executable, "manage.py", *command, "--verbosity=0"],
            cwd=ROOT,
            env=production_env,
            check=True,
            timeout=180,
        )
    port = _free_port()
    log = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    with log.open("wb") as log_file:
        # The flags of the Dockerfile's CMD, on loopback instead of 0.0.0.0.
        process = subprocess.Popen(  # noqa: S603 - fixed argv, no outside input
            [
                sys.executable,
                "-m",
                "gunicorn",
                "changeprocess.wsgi",
                f"--bind=127.0.0.1:{port}",
                "--preload",
                "--access-logfile=-",
                "--workers=2",
                "--graceful-timeout=5",
                "--no-control-socket",
            ],
            cwd=ROOT,
            env=production_env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    running = Server(port=port, static_root=Path(production_env["STATIC_ROOT"]), log=log)
    try:
        _wait_until_serving(process, running)
        yield running
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _wait_until_serving(process: subprocess.Popen, server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"gunicorn exited with {process.returncode}:\n{server.log.read_text()}")
        try:
            if server.get("/healthz", https=False).status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail(
        f"gunicorn did not answer within {START_TIMEOUT_SECONDS}s:\n{server.log.read_text()}"
    )


def test_probes_answer_plain_http_for_the_container_address(server):
    # A container health check: the container's own address, no proxy headers.
    healthz = server.get("/healthz", host="172.18.0.5:8000", https=False)
    readyz = server.get("/readyz", host="172.18.0.5:8000", https=False)

    assert healthz.status == 200
    assert healthz.json() == {"status": "ok"}
    assert readyz.status == 200
    assert readyz.json()["checks"] == {"database": "ok", "redis": "ok"}


def test_plain_http_is_redirected_to_https(server):
    response = server.get("/admin/login/", https=False)

    assert response.status == 301
    assert response.headers["Location"] == f"https://{SITE}/admin/login/"


def test_unknown_host_is_rejected(server):
    assert server.get("/admin/login/", host="attacker.example").status == 400


def test_pages_carry_the_security_headers(server):
    response = server.get("/admin/login/")

    assert response.status == 200
    assert response.headers["Strict-Transport-Security"] == (
        "max-age=31536000; includeSubDomains; preload"
    )
    csp = {
        directive.split()[0]: directive.split()[1:]
        for directive in response.headers["Content-Security-Policy"].split("; ")
    }
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Frame-Options"] == "DENY"
    csrf_cookie = next(
        cookie
        for cookie in response.headers.get_all("Set-Cookie", [])
        if cookie.startswith("csrftoken=")
    )
    assert "; Secure" in csrf_cookie
    assert "; HttpOnly" in csrf_cookie


def test_static_files_have_hashed_names_and_far_future_caching(server):
    manifest = json.loads((server.static_root / "staticfiles.json").read_text())
    hashed = manifest["paths"]["admin/css/base.css"]
    assert re.fullmatch(r"admin/css/base\.[0-9a-f]{12}\.css", hashed)

    response = server.get(f"/static/{hashed}", headers={"Accept-Encoding": "gzip"})

    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/css")
    assert response.headers["Content-Encoding"] == "gzip"
    cache_control = response.headers["Cache-Control"]
    assert "immutable" in cache_control
    max_age = re.search(r"max-age=(\d+)", cache_control)
    assert max_age is not None
    assert int(max_age.group(1)) >= 365 * 24 * 60 * 60


def test_logs_are_json_lines(server):
    server.get("/healthz")

    lines = [line for line in server.log.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]
    assert {"timestamp", "level", "logger", "message"} <= records[0].keys()
    assert any(record["logger"] == "gunicorn.access" for record in records)


def _failed_login(server: Server, username: str, *, forwarded_for: str) -> int:
    login_page = server.get("/admin/login/")
    cookie = next(
        cookie.split(";")[0]
        for cookie in login_page.headers.get_all("Set-Cookie", [])
        if cookie.startswith("csrftoken=")
    )
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', login_page.body)
    assert token is not None
    form = {
        "csrfmiddlewaretoken": token.group(1).decode(),
        "username": username,
        "password": "wrong-password",
    }
    return server.request(
        "POST",
        "/admin/login/",
        body=urlencode(form),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": cookie,
            "Origin": f"https://{SITE}",
            "X-Forwarded-For": forwarded_for,
        },
    ).status


def test_repeated_failed_logins_lock_out_that_user_from_that_address(server):
    # A fresh user name each run: lockouts live in Redis for the cool-off time.
    username = f"guesser-{uuid.uuid4().hex}"
    # The proxy appends the address it saw; whatever the client put before it is forged.
    from_attacker = [
        _failed_login(server, username, forwarded_for=f"198.51.100.{n}, 203.0.113.7")
        for n in range(FAILURE_LIMIT + 1)
    ]
    from_colleague = _failed_login(server, username, forwarded_for="203.0.113.8")

    # The form re-renders for the first failures; the limit-th one locks the pair out,
    # and changing the forged part of X-Forwarded-For does not lift the lockout.
    assert from_attacker == [200] * (FAILURE_LIMIT - 1) + [429, 429], server.errors()
    # Same user name from another address: still allowed to try.
    assert from_colleague == 200


def test_an_operator_can_lift_a_lockout(server, production_env):
    username = f"forgetful-{uuid.uuid4().hex}"
    for _ in range(FAILURE_LIMIT):
        _failed_login(server, username, forwarded_for="203.0.113.9")
    assert _failed_login(server, username, forwarded_for="203.0.113.9") == 429

    # The command docs/deploy.md gives; counters live in Redis, not in the database.
    subprocess.run(  # noqa: S603 - fixed argv, no outside input
        [sys.executable, "manage.py", "axes_reset_ip_username", "203.0.113.9", username],
        cwd=ROOT,
        env=production_env,
        check=True,
        timeout=60,
    )

    assert _failed_login(server, username, forwarded_for="203.0.113.9") == 200


def test_the_api_token_endpoint_shares_the_lockout(server):
    # authenticate() must get the request there too: without it django-axes raises, and
    # that only in production, where axes is installed.
    username = f"script-{uuid.uuid4().hex}"
    statuses = [
        server.request(
            "POST",
            "/api/v1/auth/token/",
            body=json.dumps({"username": username, "password": "wrong-password"}),
            headers={"Content-Type": "application/json", "X-Forwarded-For": "203.0.113.10"},
        ).status
        for _ in range(FAILURE_LIMIT + 1)
    ]

    assert statuses == [401] * (FAILURE_LIMIT - 1) + [429, 429], server.errors()


def test_the_api_lockout_answers_json(server):
    username = f"locked-{uuid.uuid4().hex}"
    for _ in range(FAILURE_LIMIT + 1):
        answer = server.request(
            "POST",
            "/api/v1/auth/token/",
            body=json.dumps({"username": username, "password": "wrong-password"}),
            headers={"Content-Type": "application/json", "X-Forwarded-For": "203.0.113.11"},
        )

    assert answer.status == 429, server.errors()
    assert answer.headers["Content-Type"].startswith("application/json")
    assert answer.json()["code"] == "locked_out" and answer.json()["detail"]
    assert int(answer.headers["Retry-After"]) > 0


def test_deeply_nested_json_is_a_400_in_json(server):
    # (A body over the size limit is answered 413 before it is read, and the connection
    # closed: tests/hardening/test_seen.py checks that answer in-process.)
    nested = server.request(
        "POST",
        "/api/v1/auth/token/",
        body="[" * 1000,
        headers={"Content-Type": "application/json", "X-Forwarded-For": "203.0.113.12"},
    )

    assert nested.status == 400, server.errors()
    assert nested.headers["Content-Type"].startswith("application/json")
    assert "nested" in nested.json()["detail"]


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_the_api_docs_work_under_the_content_security_policy(server, path):
    page = server.get(path)
    csp = {
        part.split()[0]: part.split()[1:]
        for part in page.headers["Content-Security-Policy"].split(";")
        if part.strip()
    }
    nonces = {v for v in csp["script-src"] + csp["style-src"] if v.startswith("'nonce-")}

    assert page.status == 200
    assert "'unsafe-inline'" not in csp["script-src"] + csp["style-src"]
    assert len(nonces) == 1
    nonce = nonces.pop()[len("'nonce-") : -1]
    html = page.body.decode()
    assert html.count("<style") == html.count(f'<style nonce="{nonce}"') == 1
    assert "<script>" not in html
