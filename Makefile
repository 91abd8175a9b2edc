# The two commands a new developer needs: `make run` and `make test`.
# Everything else here supports them (and CI, which calls `make test`).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1:8000

.PHONY: run test install install-dev lint diagrams screenshots clean

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "changeprocess needs Python 3.11 or newer; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Reinstall only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## make run: SQLite, demo data, the app at http://127.0.0.1:8000 (nothing else to install).
run: $(VENV)/.installed
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	@echo "changeprocess: http://$(HOST)/  (log in as agent, qa, peer, ops, alice, bob or admin; password: demo)"
	$(PY) manage.py runserver $(HOST)

## make test: the whole suite against PostgreSQL and Redis (DATABASE_URL, REDIS_URL).
test: $(VENV)/.installed-dev
	$(PY) -m pytest

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	DJANGO_SETTINGS_MODULE=changeprocess.settings.test $(PY) manage.py makemigrations --check --dry-run
	DJANGO_SETTINGS_MODULE=changeprocess.settings.test $(PY) manage.py workflow_diagrams --check

## make diagrams: regenerate the workflow diagrams in README.md from the state machines.
diagrams: $(VENV)/.installed
	$(PY) manage.py workflow_diagrams

## make screenshots: rerun the browser tests, saving their screenshots into docs/screenshots.
screenshots: $(VENV)/.installed-dev
	SCREENSHOT_DIR=docs/screenshots $(PY) -m pytest -m browser

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache .mypy_cache .ruff_cache

.PHONY: bench-http
BENCH_TICKETS ?= 100000
## make bench-http: every page and the main API endpoints under gunicorn and wrk at a desk's
## volume (BENCH_TICKETS=1000000 for a million), beside a bare view; see docs/benchmarks.md.
bench-http: $(VENV)/.installed-dev
	$(PY) benchmarks/http_pages.py --tickets $(BENCH_TICKETS)

.PHONY: mutation
MUTATION_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/changeprocess_mutation
MUTATION_CHILDREN ?= 2
MUTANTS ?=
## make mutation: mutation testing of the domain (mutmut, [tool.mutmut] in pyproject.toml),
## then the survivors. Slow and CPU heavy, so not part of `make test` or CI; it reruns only
## what changed (rm -rf mutants/ for a fresh run). MUTANTS='approvals.rules*' narrows it.
## Its own test database, reused by every mutant. See docs/process.md, "Mutation testing".
mutation: $(VENV)/.installed-dev
	DATABASE_URL=$(MUTATION_DATABASE_URL) nice -n 10 $(VENV)/bin/mutmut run --max-children $(MUTATION_CHILDREN) $(MUTANTS)
	@echo "--- surviving (and untested) mutants; 'mutmut show NAME' shows one:"
	@$(VENV)/bin/mutmut results
	@$(VENV)/bin/mutmut export-cicd-stats >/dev/null && cat mutants/mutmut-cicd-stats.json && echo
