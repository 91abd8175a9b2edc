"""Production settings refuse to start half-configured. Each case loads them in a fresh
interpreter: importing them here would change the settings this test process runs with."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMPLETE = {
    "SECRET_KEY": "x" * 60,
    "ALLOWED_HOSTS": "changes.example.com",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/changeprocess",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}


def _load_production_settings(
    code: str = "", **overrides: str | None
) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if name not in COMPLETE}
    env["DJANGO_SETTINGS_MODULE"] = "changeprocess.settings.production"
    env.update({name: value for name, value in {**COMPLETE, **overrides}.items() if value})
    return subprocess.run(  # noqa: S603 - the test's own code
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_complete_environment_loads():
    result = _load_production_settings()

    assert result.returncode == 0, result.stderr


def test_the_database_is_pooled_and_reads_without_server_side_cursors():
    """psycopg's pool, and `iterator()` (the forms' model choices) in one round trip."""
    code = (
        "from django.conf import settings; db = settings.DATABASES['default']; "
        "print(sorted(db['OPTIONS']['pool']), db['DISABLE_SERVER_SIDE_CURSORS'])"
    )
    result = _load_production_settings(code)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "['max_size', 'min_size', 'timeout'] True"


def test_the_cache_is_redis_with_kept_clients():
    """Sessions, login failures and API throttling: changeprocess/cache.py."""
    code = (
        "from django.core.cache import caches; c = caches['default']; "
        "print(type(c).__module__, c._cache.get_client() is c._cache.get_client())"
    )
    result = _load_production_settings(code)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "changeprocess.cache True"


@pytest.mark.skipif(
    (ROOT / ".env").exists(), reason="base.py reads .env, which may supply the variable"
)
@pytest.mark.parametrize("missing", sorted(COMPLETE))
def test_each_required_variable_is_named_when_missing(missing):
    result = _load_production_settings(**{missing: None})

    assert result.returncode != 0
    assert f"Production settings need these environment variables: {missing}" in result.stderr


def test_sqlite_is_refused():
    result = _load_production_settings(DATABASE_URL="sqlite:////tmp/changeprocess.sqlite3")

    assert result.returncode != 0
    assert "DATABASE_URL must point at PostgreSQL" in result.stderr
