# Omise reference storefront. `make help` lists the targets.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
# Debian packages the browser and TLS tests drive (never a downloaded browser), and gettext,
# which compiles the message catalogues.
APT_PACKAGES := chromium nginx openssl gettext
# Compiled message catalogues (git-ignored): built from locale/*/LC_MESSAGES/django.po.
MO_FILES := $(patsubst %.po,%.mo,$(wildcard locale/*/LC_MESSAGES/django.po))

.DEFAULT_GOAL := help
.PHONY: help install run run-prod test test-fast lint audit bench system-deps clean \
  catalogues messages check-translations node-deps

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	@interpreter=$$(scripts/find-python $(PYTHON)) || exit 1; \
	  echo "Creating $(VENV) with $$interpreter"; \
	  [ -x $(PY) ] || "$$interpreter" -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,prod]'
	@touch $@

install: $(VENV)/.installed ## Create the virtualenv and install everything

%.mo: %.po
	msgfmt --check -o $@ $<

catalogues: system-deps $(MO_FILES) ## Compile the message catalogues (locale/*/LC_MESSAGES)

messages: install ## Update the catalogues with every string wrapped for translation
	$(PY) scripts/translations.py update

check-translations: install ## Fail listing each shopper-facing string with no translation
	$(PY) scripts/translations.py check

run: install catalogues ## Serve the shop with demo data on http://$(HOST):$(PORT)
	DEBUG=$${DEBUG:-true} $(PY) manage.py migrate --noinput
	DEBUG=$${DEBUG:-true} $(PY) manage.py load_demo
	DEBUG=$${DEBUG:-true} PORT=$(PORT) $(PY) manage.py runserver $(HOST):$(PORT)

system-deps: ## Install the Debian packages the tests drive (as root; otherwise says what to run)
	@missing=""; \
	  for pkg in $(APT_PACKAGES); do dpkg -s $$pkg >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	  if [ -z "$$missing" ]; then exit 0; fi; \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "Not installed:$$missing. Run 'sudo apt-get install$$missing'. Until then what needs"; \
	    echo "them is skipped, saying why (tests fail instead under CI=true)."; \
	  fi

test: install system-deps catalogues node-deps ## Run the whole suite (browser and TLS tests included)
	$(PY) scripts/leak_scan.py  # no Omise key in any tracked file (also a pre-commit hook)
	@# A model changed without its migration fails here, before the tests build their database.
	DEBUG=true $(PY) manage.py makemigrations --check --dry-run
	$(PY) -m pytest -m "not postgres"
	@# The races (tests marked postgres) run on PostgreSQL and Redis, where they are real:
	@# skipped with the reason if the server is down, failed under CI=true.
	$(PY) -m pytest --ds=tests.settings_postgres -m postgres

test-fast: install ## Run the unit tier only (in process, no server, no browser): under a minute
	$(PY) -m pytest -m unit -q

# axe-core (accessibility checks in the browser tests), from the npm registry: package.json
# pins it, package-lock.json records the exact tarball; node_modules/ stays out of git.
node_modules/.installed: package.json package-lock.json
	@# npm itself: Debian's nodejs and npm packages when it is missing (as root, like system-deps).
	@command -v npm >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing: nodejs npm"; apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; \
	  else echo "npm is missing: run 'sudo apt-get install nodejs npm'"; exit 1; fi; }
	npm ci --no-audit --no-fund --silent
	@touch $@

node-deps: node_modules/.installed ## Install axe-core from npm for the accessibility tests

audit: install ## Check installed packages for known vulnerabilities (pip-audit, needs PyPI)
	$(PY) -m pip install --quiet pip-audit
	$(VENV)/bin/pip-audit --skip-editable

# Every check runs, even after one fails, so one run lists all there is to fix.
LINT_CHECKS := \
  "$(VENV)/bin/ruff check ." \
  "$(VENV)/bin/ruff format --check ." \
  "$(PY) scripts/import_cycles.py" \
  "$(PY) scripts/check_doc_paths.py"
# The type checker joins once pyproject.toml configures it (a [tool.mypy] section).
LINT_CHECKS += $(if $(shell grep -s '^\[tool\.mypy\]' pyproject.toml),"$(VENV)/bin/mypy")

lint: install ## Check the code: ruff, formatting, import cycles, paths named in the docs
	@status=0; for check in $(LINT_CHECKS); do \
	  echo "$$check"; $$check || status=1; \
	done; exit $$status

run-prod: install catalogues ## Production stack on http://127.0.0.1:8001 (DEBUG off, gunicorn; needs Omise keys)
	@# Production mode for real: no sandbox, so Omise test keys must be in .env or the environment
	@# (docs/deploy-platforms.md). A throwaway SECRET_KEY is kept in var/; plain HTTP on loopback
	@# only, so no HTTPS redirect (nginx adds TLS in a real deployment).
	@mkdir -p var; [ -s var/prod-secret-key ] || \
	  $(PY) -c "import secrets; print(secrets.token_urlsafe(50))" > var/prod-secret-key
	export DEBUG=false SECRET_KEY="$${SECRET_KEY:-$$(cat var/prod-secret-key)}" \
	  ALLOWED_HOSTS="$${ALLOWED_HOSTS:-127.0.0.1,localhost}" SECURE_SSL_REDIRECT=false \
	  HOST=127.0.0.1 PORT=$${PROD_PORT:-8001}; \
	  $(PY) manage.py collectstatic --noinput -v0 && $(PY) manage.py migrate --noinput && \
	  exec $(VENV)/bin/gunicorn config.wsgi -c deploy/gunicorn.conf.py

bench: install ## Run the benchmarks and write bench/results.md
	$(PY) -m bench

clean: ## Remove the virtualenv and local state
	rm -rf $(VENV) var staticfiles .pytest_cache .ruff_cache .hypothesis node_modules $(MO_FILES)
