# The two commands: `make run` serves the product, `make test` runs the whole suite.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := wsgi:app
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test bench install browser assets translations db demo worker serve lint typecheck clean extract-messages \
	check bandit audit

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(VENV)/.installed node_modules/.installed

# Browser tests use Debian's Chromium (Playwright's own browser download does not work here)
# and CJK fonts so Japanese pages render in screenshots.
browser:
	@if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-noto-cjk; \
	fi

assets: node_modules/.installed
	npm run --silent build

translations: $(VENV)/.installed
	$(BIN)/pybabel compile -d reunite/translations

extract-messages: $(VENV)/.installed  ## refresh messages.pot and merge new strings into the ja catalogue
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output -o reunite/translations/messages.pot reunite templates
	$(BIN)/pybabel update -i reunite/translations/messages.pot -d reunite/translations --no-fuzzy-matching

db: install
	$(BIN)/flask db upgrade

demo: db
	$(BIN)/flask reunite seed-demo

serve:
	$(BIN)/gunicorn --workers 2 --threads 4 --bind $(HOST):$(PORT) --access-logfile - wsgi:app

run: install assets translations demo serve

worker: install
	$(BIN)/celery -A worker.celery_app worker --beat --loglevel=info --concurrency=1

test: install assets translations browser
	$(BIN)/python -m pytest

$(VENV)/.bench-installed: requirements-bench.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-bench.txt
	touch $@

# Benchmarks print numbers; they need PostgreSQL and Redis on 127.0.0.1 like the tests.
bench: $(VENV)/.bench-installed assets translations
	$(BIN)/python bench/matching_quality.py
	$(BIN)/python bench/matching_speed.py
	$(BIN)/python bench/matching_db.py --sizes 10000,100000,1000000 --no-rematch
	$(BIN)/python bench/matching_db.py --sizes 100000
	$(BIN)/python bench/mailbox_load.py --duration 30
	$(BIN)/python bench/load.py --duration 60

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy --strict --follow-imports=silent reunite/matching reunite/mailbox reunite/client/protocol.py

# Security lint; rules and the policy for waivers are in pyproject.toml [tool.bandit].
bandit: install
	$(BIN)/bandit -c pyproject.toml -r reunite worker scripts config.py wsgi.py

# Known vulnerabilities in every pinned Python release (requirements*.txt, with their dependencies)
# and npm package (package-lock.json, runtime only and then all). A finding fails, and so does a
# vulnerability service that cannot be reached, except the two refusals this network is known for
# (scripts/audit_deps.py), which print NOT AUDITED and the packages concerned.
# Waive a finding only with `--ignore-vuln ID` on the pypi line and a comment here saying why
# (none today). `make audit AUDIT_ARGS=--strict` also fails on anything left unaudited.
AUDIT_ARGS ?=
audit: install
	$(BIN)/python scripts/audit_deps.py $(AUDIT_ARGS) pypi requirements.txt requirements-dev.txt requirements-bench.txt
	$(BIN)/python scripts/audit_deps.py $(AUDIT_ARGS) npm --omit-dev
	$(BIN)/python scripts/audit_deps.py $(AUDIT_ARGS) npm

# Every static check; .ci/run runs it beside `make test`. `make -k check` reports all failures at once.
check: lint typecheck bandit audit

clean:
	rm -rf $(VENV) node_modules reunite/static/dist .pytest_cache .mypy_cache .ruff_cache
