# JENCO member back office. `make run` and `make test` set everything up from a fresh clone.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Development defaults; a variable already set in the environment wins.
export DEBUG ?= 1
PORT ?= 8000
export PYTHONDONTWRITEBYTECODE := 1

# Django 6 needs Python 3.12+. Try the usual names, then pyenv's interpreters by path
# (pyenv's shims fail here unless PYENV_VERSION is set).
define find_python
for p in "$$PYTHON" python3.14 python3.13 python3.12 python3 \
         $$(ls -d $$(pyenv root 2>/dev/null || echo $$HOME/.pyenv)/versions/3.1[2-9]*/bin/python3 2>/dev/null | sort -rV); do \
  [ -n "$$p" ] || continue; \
  if "$$p" -c 'import sys, venv; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then \
    command -v "$$p"; exit 0; fi; \
done; exit 1
endef

# Install Debian packages $(1) where they are missing and we may (root with apt-get), or stop
# with $(2) and the command to run.
, := ,
define apt_install
if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
  echo "Installing from Debian:" $(1); \
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1); \
else echo "$(2): sudo apt-get install" $(1); exit 1; fi
endef

.PHONY: help
help:
	@echo "make run        set up and serve http://127.0.0.1:8000 (SQLite, console mail; PORT=8001 for another port)"
	@echo "make test       set up and run the whole test suite, on SQLite, then on PostgreSQL and Redis"
	@echo "make test-sqlite / make test-postgres   the suite on one database only (PYTEST_ARGS=\"tests/test_login.py\" for part of it;"
	@echo "                as make test, they install the browser, services and checkers first)"
	@echo "make serve      production-like on this machine: nginx (https), 2 gunicorn app servers, worker, PostgreSQL, Redis"
	@echo "make serve-stop stop what a previous make serve left running"
	@echo "make services   install Debian's postgresql, redis-server, nginx, openssl, nftables, iproute2 (as root)"
	@echo "make screenshots  every page in both languages, phone and desktop, into screenshots/"
	@echo "make browser    install Debian's Chromium and CJK fonts (browser tests, screenshots)"
	@echo "make checkers   install the Nu Html Checker (npm), Java and flite (HTML check, spoken captcha)"
	@echo "make lint       ruff"
	@echo "make shell      Django shell"
	@echo "make bench      benchmarks (figures go in README.md)"
	@echo "make messages   refresh locale/*/django.po after changing strings"
	@echo "make clean      remove .venv, the SQLite database, static files, node_modules (make run starts afresh)"
	@echo "make clean      remove the virtualenv, node_modules, staticfiles, the SQLite database and its secret key"

$(STAMP): pyproject.toml
	@py=$$($(find_python)) || { \
	  echo "No Python 3.12 or newer found (Django 6 needs it)."; \
	  echo "Debian 13: 'apt-get install python3 python3-venv'. Debian 12 has only 3.11:"; \
	  echo "'pyenv install 3.13' or 'uv python install 3.13'. Or run"; \
	  echo "'make PYTHON=/path/to/python3.12 ...'."; exit 1; }; \
	echo "Using $$py ($$("$$py" --version))"; \
	rm -rf $(VENV) && "$$py" -m venv $(VENV) || { rm -rf $(VENV); \
	  echo "$$py cannot make a virtualenv: on Debian, 'apt-get install python3-venv'"; \
	  echo "(or python3.N-venv for $$py's version)."; exit 1; }
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

.PHONY: venv
venv: $(STAMP)

# gettext's msgfmt compiles the catalogues; install it where it is missing and we may.
.PHONY: gettext
gettext:
	@command -v msgfmt >/dev/null || { $(call apt_install,gettext,gettext (msgfmt) is missing); }

# Browser tests and screenshots drive Debian's Chromium through Playwright (never
# `playwright install`: no browser downloads); fonts-noto-cjk draws the Japanese.
CHROMIUM := /usr/bin/chromium
.PHONY: browser
browser:
	@if [ -x $(CHROMIUM) ] && fc-list :lang=ja family 2>/dev/null | grep -q .; then exit 0; fi; \
	$(call apt_install,chromium fonts-noto-cjk,Browser tests and screenshots need Chromium at $(CHROMIUM) and Japanese fonts)

# The outside checkers the suite runs over every member page: the Nu Html Checker (npm's
# vnu-jar, pinned in package.json and package-lock.json) on Debian's Java runtime; axe-core
# comes inside the dev extra's axe-playwright-python. flite speaks the captcha's digits.
VNU := node_modules/vnu-jar/build/dist/vnu.jar
.PHONY: checkers
checkers: $(VNU)
	@missing=""; \
	command -v java >/dev/null || missing="$$missing default-jre-headless"; \
	command -v flite >/dev/null || missing="$$missing flite"; \
	[ -z "$$missing" ] && exit 0; \
	$(call apt_install,$$missing,The HTML checker and the spoken captcha need Java and flite)

$(VNU): package.json package-lock.json
	@command -v npm >/dev/null || { $(call apt_install,npm,npm is missing); }
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# PostgreSQL (15 or newer: Debian 12's 15, Debian 13's 17), Redis 7 and nginx from Debian: the second test run, the Redis throttle tests,
# the nginx site's test and `make serve` start private ones (tools/services.py; apt never
# starts services here, and nothing of the machine's own is used). nftables and iproute2: the
# test of deploy/nftables/jenco.nft loads it in a network namespace of its own, never the
# machine's, and gives that namespace IPv6 addresses to connect from.
.PHONY: services
services:
	@missing=""; \
	pg=""; for initdb in /usr/lib/postgresql/*/bin/initdb; do \
	  v=$${initdb#/usr/lib/postgresql/}; [ "$${v%%/*}" -ge 15 ] 2>/dev/null && pg=$$initdb; done; \
	[ -n "$$pg" ] || missing="$$missing postgresql"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing="$$missing nginx"; \
	command -v openssl >/dev/null || missing="$$missing openssl"; \
	command -v nft >/dev/null || [ -x /usr/sbin/nft ] || missing="$$missing nftables"; \
	command -v ip >/dev/null || [ -x /usr/sbin/ip ] || [ -x /sbin/ip ] || missing="$$missing iproute2"; \
	[ -z "$$missing" ] && exit 0; \
	$(call apt_install,$$missing,Tests and make serve need PostgreSQL$(,) Redis$(,) nginx$(,) openssl$(,) nftables and iproute2)

.PHONY: messages-compiled
messages-compiled: $(STAMP) gettext
	$(PY) manage.py compilemessages --ignore=.venv --verbosity 0

.PHONY: setup
setup: messages-compiled
	$(PY) manage.py migrate --verbosity 0
	$(PY) manage.py collectstatic --noinput --verbosity 0

.PHONY: run
run: setup
	$(PY) manage.py create_demo_member
	$(PY) manage.py load_quotes deploy/samples/quotes.csv
	SITE_URL=$${SITE_URL:-http://127.0.0.1:$(PORT)} $(PY) manage.py runserver 127.0.0.1:$(PORT)

# The whole suite twice: on SQLite with the database-backed cache, then on a private
# PostgreSQL 15 and Redis 7 (tools/services.py, fsync off, stopped afterwards whatever
# happened). Both always run; a failure in either fails `make test`.
# `make test-sqlite` or `make test-postgres` runs one of them.
TEST_SERVICES := var/services-test
# Production-like on this machine, from the files in deploy/ (tools/serve.py): PostgreSQL,
# Redis, two gunicorn app servers, the worker and nginx on https://127.0.0.1:$(SERVE_PORT).
SERVE_PORT ?= 8443
.PHONY: serve serve-stop
serve: messages-compiled services
	$(PY) tools/serve.py --port $(SERVE_PORT)

serve-stop:
	@python3 tools/serve.py stop

.PHONY: test test-sqlite test-postgres
test: messages-compiled browser services checkers
	@status=0; \
	echo "== the suite on SQLite"; \
	$(MAKE) --no-print-directory test-sqlite || status=1; \
	echo "== the suite on PostgreSQL and Redis"; \
	$(MAKE) --no-print-directory test-postgres || status=1; \
	[ $$status = 0 ] || echo "make test: FAILED (see above: SQLite, PostgreSQL or both)"; \
	exit $$status

test-sqlite: messages-compiled browser services checkers
	env -u DATABASE_URL -u REDIS_URL $(PY) -m pytest $(PYTEST_ARGS)

test-postgres: messages-compiled browser services checkers
	@trap '$(PY) tools/services.py stop --folder $(TEST_SERVICES)' EXIT; \
	$(PY) tools/services.py start --fast --folder $(TEST_SERVICES) || exit 1; \
	set -a; . $(TEST_SERVICES)/env; set +a; \
	$(PY) -m pytest $(PYTEST_ARGS)

.PHONY: screenshots
screenshots: messages-compiled browser
	$(PY) tools/screenshots.py $(SCREENSHOTS_ARGS)

.PHONY: lint
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

.PHONY: shell
shell: setup
	$(PY) manage.py shell

.PHONY: messages
messages: $(STAMP) gettext
	$(PY) manage.py makemessages --locale ja --locale en --ignore=.venv --ignore=tests --ignore=bench --ignore=tools --no-obsolete
	$(PY) manage.py compilemessages --ignore=.venv --verbosity 0

# locust (the load generator) comes from the `bench` extra; django-allauth, the comparison,
# gets a virtualenv of its own in bench/.allauth/. The load also runs on `make serve`'s stack
# (PostgreSQL, Redis, nginx: `services`), started in a temporary folder and stopped after.
# BENCH_ARGS=--quick is a short run that proves it all works (bench/run.py --help).
$(VENV)/.bench-installed: pyproject.toml $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	touch $@

# perf (Debian's linux-perf) samples the stack's app servers for one figure, the share of
# their CPU spent in Argon2; without it (not root, no such package) that figure is skipped.
.PHONY: bench
bench: setup services $(VENV)/.bench-installed
	@command -v perf >/dev/null || [ "$$(id -u)" != 0 ] || ( $(call apt_install,linux-perf,perf) ) \
	  || echo "perf could not be installed: the benchmark skips the Argon2 share it measures"
	$(PY) bench/run.py $(BENCH_ARGS)

.PHONY: clean
clean:
	rm -rf $(VENV) staticfiles db.sqlite3* .secret_key node_modules
