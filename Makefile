# The commands a newcomer types: `make run` and `make test` (see README).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export ORCHESTRATOR_HOME ?= $(CURDIR)

.PHONY: run test bench serve worker assets db deploy lint-bpmn screenshots clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Browser libraries come from npm and are copied into a git-ignored folder.
assets: node_modules/.installed
	$(BIN)/python tools/copy_assets.py

db: $(VENV)/.installed
	$(BIN)/orchestrator db upgrade

deploy: db
	$(BIN)/orchestrator deploy processes/ forms/

run: $(VENV)/.installed assets deploy
	$(BIN)/orchestrator users bootstrap
	@# on an empty installation only: a handful of fictional cases in different states (services/demo.py)
	$(BIN)/orchestrator demo --if-empty
	@# plain http on the loopback address: the session cookie cannot be Secure here (`make serve` keeps it Secure)
	ORCHESTRATOR_SECURE_COOKIES=$${ORCHESTRATOR_SECURE_COOKIES:-false} $(BIN)/orchestrator serve --host 127.0.0.1 --port 5000

test: $(VENV)/.installed-test assets
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The README's pictures, taken by the browser tests; a plain test run writes them to tests/_artifacts/.
screenshots: $(VENV)/.installed-test assets
	ORCHESTRATOR_SCREENSHOTS=$(CURDIR)/docs/screenshots $(BIN)/python -m pytest -m browser -k "not postgresql" $(PYTEST_ARGS)

lint-bpmn: node_modules/.installed
	npx --no-install bpmnlint processes/*.bpmn src/orchestrator/web/static/app/samspill.bpmn

bench: $(VENV)/.installed-test
	$(BIN)/python -m bench $(BENCH_ARGS)

# Production: gunicorn for the web, one or more `orchestrator worker` processes for timers and notices.
serve: $(VENV)/.installed assets db
	$(BIN)/gunicorn --workers $${WEB_WORKERS:-2} --bind $${BIND:-127.0.0.1:5000} 'orchestrator.web.app:create_app()'

worker: $(VENV)/.installed db
	$(BIN)/orchestrator worker

clean:
	rm -rf $(VENV) node_modules src/orchestrator/web/static/vendor var
