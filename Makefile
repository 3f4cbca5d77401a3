# The two commands that matter: `make run` and `make test` (see README).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint check-migrations pytest lock bench clean messages compilemessages check-messages compliance

$(STAMP): requirements-dev.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes -r requirements-dev.lock
	touch $(STAMP)

## run: the web server, a Celery worker and Celery beat, with demo data (embedded PostgreSQL/Redis unless DATABASE_URL/REDIS_URL)
run: $(STAMP) compilemessages
	$(PY) scripts/devstack.py run

## test: ruff, mypy, makemigrations --check and the whole pytest suite (browser tests included)
test: $(STAMP)
	$(PY) scripts/devstack.py exec -- $(MAKE) --no-print-directory lint check-migrations pytest

lint:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports
	$(PY) scripts/messages.py check
	$(PY) scripts/compliance.py check

## compliance: regenerate docs/compliance.md from docs/compliance.toml (the compliance map; README)
compliance:
	$(PY) scripts/compliance.py generate

check-migrations:
	DJANGO_SETTINGS_MODULE=mindomo.settings.test $(PY) manage.py makemigrations --check --dry-run

pytest: compilemessages
	$(PY) -m tests.e2e.browser
	$(VENV)/bin/pytest $(PYTEST_ARGS)

## messages: after adding or changing a user-facing string, update every catalogue (then translate; README)
messages: $(STAMP)
	$(PY) scripts/messages.py update

## compilemessages: build the .mo files from locale/*/LC_MESSAGES/*.po (never committed)
compilemessages: $(STAMP)
	$(PY) scripts/messages.py compile

## check-messages: fail when a catalogue lacks a msgid of the sources, has an untranslated or fuzzy entry,
## or a translation's placeholders differ from its msgid's (part of lint)
check-messages: $(STAMP)
	$(PY) scripts/messages.py check

## lock: re-resolve the pinned dependencies (needs uv: pip install uv)
lock:
	uv pip compile --python-version 3.11 --generate-hashes -q requirements.in -o requirements.lock
	uv pip compile --python-version 3.11 --generate-hashes -q requirements-dev.in -o requirements-dev.lock

## bench: the benchmarks in bench/ (by hand, not in CI)
bench: $(STAMP)
	$(PY) scripts/devstack.py exec -- sh -c '$(PY) bench/run.py'

clean:
	rm -rf $(VENV) .var staticfiles .pytest_cache .mypy_cache .ruff_cache
