# The two commands of the README:
#   make run   set everything up (virtualenv, packages, .env, database, demo data) and serve on :8000
#   make test  lint, then run the whole test suite on SQLite and again on PostgreSQL
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# The PostgreSQL test run's server; pytest-django creates and drops test_<name> on it.
TEST_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/chat

.PHONY: run setup test test-sqlite test-postgres browser schema fuzz lint bench bench-200k fixture clean

$(BIN)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet pip==26.3
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

# A fresh .env gets DJANGO_DEBUG on and a random secret key of its own.
.env:
	sed "s|^DJANGO_SECRET_KEY=.*|DJANGO_SECRET_KEY=$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))')|" .env.example > .env

setup: $(BIN)/.installed .env
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py load_demo

# uvicorn serves HTTP and the WebSocket together, reloading when the code changes.
# scripts/serve.sh is the production command: proxy headers are believed only
# from FORWARDED_ALLOW_IPS (unset here: none). One webhook worker runs beside
# it in the background (it does not reload: restart `make run` after changing
# webhooks/), and is stopped when the server stops (Ctrl-C).
run: setup
	$(BIN)/python manage.py webhooks_worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT; trap 'exit 130' INT TERM; \
	UVICORN_PYTHON=$(BIN)/python scripts/serve.sh --host $(HOST) --port $(PORT) \
		--reload --reload-dir threads --reload-dir chat_project --reload-dir accounts --reload-dir webclient \
		--reload-dir webhooks

lint: $(BIN)/.installed
	$(BIN)/ruff check .

# The two pytest runs come last, so that the log ends with the suites' summary.
test: lint browser schema fuzz test-sqlite test-postgres

# The OpenAPI schema must generate without a warning and validate.
schema: $(BIN)/.installed
	DJANGO_SETTINGS_MODULE=chat_project.settings_test $(BIN)/python manage.py spectacular \
		--validate --fail-on-warn --file /dev/null
	@echo "OpenAPI schema: valid, no warnings"

# Schemathesis against the live production server (scripts/fuzz.py).
FUZZ_EXAMPLES ?= 100
fuzz: $(BIN)/.installed
	$(BIN)/python scripts/fuzz.py --max-examples $(FUZZ_EXAMPLES)

# Debian's Chromium and chromedriver for the admin's browser test (apt-get, once).
browser:
	scripts/install-debian.sh /usr/bin/chromium=chromium /usr/bin/chromedriver=chromium-driver

# The benchmark (docs/benchmarks.md): both databases, about 15 minutes each with
# three rounds. Never part of the tests. Results in bench/results-<db>.{md,json}.
BENCH_ROUNDS ?= 3
bench: $(BIN)/.installed
	scripts/install-debian.sh /usr/bin/wrk=wrk
	scripts/ensure-service.sh redis
	$(BIN)/python bench/run_bench.py --db sqlite --rounds $(BENCH_ROUNDS)
	scripts/ensure-service.sh postgres
	$(BIN)/python bench/run_bench.py --db postgres --rounds $(BENCH_ROUNDS)

# Only the 200,000-message scale, both databases, beside the plain DRF baseline
# (about 20 minutes each); redraws docs/benchmarks-plain-drf.png and the table
# in docs/benchmarks.md from bench/results-<db>.json.
bench-200k: $(BIN)/.installed
	scripts/install-debian.sh /usr/bin/wrk=wrk
	scripts/ensure-service.sh redis
	$(BIN)/python bench/run_bench.py --db sqlite --scales 200000 --rounds $(BENCH_ROUNDS) --also-server uvicorn
	scripts/ensure-service.sh postgres
	$(BIN)/python bench/run_bench.py --db postgres --scales 200000 --rounds $(BENCH_ROUNDS) --also-server uvicorn

# DATABASE_URL is set empty so that a .env pointing elsewhere cannot change the run.
# Redis carries events between the two servers of the end-to-end real-time test.
test-sqlite: $(BIN)/.installed
	@echo "=== Test suite on SQLite ==="
	scripts/ensure-service.sh redis
	DATABASE_URL= $(BIN)/pytest

test-postgres: $(BIN)/.installed
	@echo "=== Test suite on PostgreSQL ==="
	scripts/ensure-service.sh postgres
	scripts/ensure-service.sh redis
	DATABASE_URL=$(TEST_POSTGRES_URL) $(BIN)/pytest

# Remake fixtures/demo.json from seed_demo on a throwaway SQLite database.
fixture: $(BIN)/.installed
	rm -f /tmp/chat-fixture.sqlite3
	DJANGO_DEBUG=1 DATABASE_URL=sqlite:////tmp/chat-fixture.sqlite3 $(BIN)/python manage.py migrate --no-input -v0
	DJANGO_DEBUG=1 DATABASE_URL=sqlite:////tmp/chat-fixture.sqlite3 $(BIN)/python manage.py seed_demo
	DJANGO_DEBUG=1 DATABASE_URL=sqlite:////tmp/chat-fixture.sqlite3 $(BIN)/python manage.py dumpdata \
		auth.user threads.thread threads.membership threads.message --natural-foreign --indent 2 -o fixtures/demo.json
	rm -f /tmp/chat-fixture.sqlite3

clean:
	rm -rf $(VENV) db.sqlite3 .pytest_cache .ruff_cache staticfiles
