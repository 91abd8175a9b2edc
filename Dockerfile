# syntax=docker/dockerfile:1
# One image for every process of the stack (see docker-compose.yml): gunicorn by default,
# Celery worker and beat, and one-off manage.py commands.

# The interpreter the test suite runs on (.venv); pyproject.toml allows 3.11 and later.
ARG PYTHON_IMAGE=python:3.11-slim

# ---- build: a virtualenv holding the dependencies declared in pyproject.toml -----------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Only the metadata: `pip install .` then installs every dependency (and an empty project
# distribution), so this layer is rebuilt when pyproject.toml changes, not on every code
# change. The code itself runs from /app in the runtime stage.
COPY pyproject.toml README.md ./
RUN pip install .

# ---- runtime ---------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app \
    PATH=/opt/venv/bin:$PATH \
    DJANGO_SETTINGS_MODULE=changeprocess.settings.production

# /var/lib/changeprocess/beat: Celery beat's schedule (a volume in docker-compose.yml).
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /home/app --create-home app \
    && mkdir -p /var/lib/changeprocess/beat \
    && chown app:app /var/lib/changeprocess/beat

COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# Owned by root and read-only for the app user: the processes never write to /app.
COPY . .

# Production settings refuse to load without these; at build time nothing connects to the
# database or Redis, so placeholders suffice. None of them ends up in the image's
# environment.
RUN SECRET_KEY=build-time-only-collectstatic-never-used-to-sign-anything-0123456789 \
    ALLOWED_HOSTS=localhost \
    DATABASE_URL=postgres://build@localhost:5432/build \
    REDIS_URL=redis://localhost:6379/0 \
    python manage.py collectstatic --noinput --verbosity 0

USER app
EXPOSE 8000
# Workers: WEB_CONCURRENCY (gunicorn reads it); more flags: GUNICORN_CMD_ARGS.
# --preload loads Django once in the master, so its JSON logging covers gunicorn's own
# messages too; connections to PostgreSQL and Redis are opened lazily, after the fork.
CMD ["gunicorn", "changeprocess.wsgi", \
     "--bind=0.0.0.0:8000", \
     "--preload", \
     "--access-logfile=-", \
     "--worker-tmp-dir=/dev/shm"]
