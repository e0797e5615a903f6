# The two commands: `make run` (local stack) and `make test` (whole suite). Both set up .venv themselves.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
STAGE_REGION := us-east-1

.PHONY: run test test-unit test-integration test-faults test-e2e test-shifted-clock fuzz bench lint-imports lint-infra \
	package clean deploy-check deploy

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m devtools.run

# pytest exits 5 when it collected nothing: that is a broken suite, not a pass (make then fails too).
# The suite runs in TEST_WORKERS processes (pytest-xdist), one per core of the 2-core CI machine by default: the
# in-process layers are CPU-bound and the e2e layer mostly waits on its subprocesses, so one process leaves a core
# idle. Each worker starts its own e2e stack on its own free ports; `--dist loadgroup` keeps a module marked
# `xdist_group` on one worker (the schemathesis run and its own stack).
TEST_WORKERS ?= 2
test: $(STAMP)
	@$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup tests; status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests (exit 5); failing" >&2; fi; \
	exit $$status

test-unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

test-integration: $(STAMP)
	$(BIN)/python -m pytest tests/integration

# The process killed after each state-changing write, then restarted and retried (tests/faults).
test-faults: $(STAMP)
	$(BIN)/python -m pytest tests/faults

test-e2e: $(STAMP)
	$(BIN)/python -m pytest tests/e2e

# The unit, integration and fault-injection layers with the machine's clock moved: 400 days ahead, then from
# just before a DST change (America/New_York springs forward at 2027-03-14 07:00Z) with the clock running across it. Proves no
# test depends on the day it runs. Needs Debian's faketime (.ci/run installs it). Only the wall clock moves:
# a faked monotonic clock makes Python's timed lock waits (futures, events) wait for ever under libfaketime.
# The runs go side by side (one per core of a 2-core CI machine), each in its own temp dir; their logs are printed
# one after the other, and the target fails if either run does.
FAKETIME_RUNS := +400d @2027-03-14T06:58:00
test-shifted-clock: $(STAMP)
	@command -v faketime >/dev/null || { echo "test-shifted-clock: faketime is not installed (apt-get install -y faketime)" >&2; exit 1; }
	@out=$$(mktemp -d); i=0; \
	for shift in $(FAKETIME_RUNS); do \
		i=$$((i + 1)); \
		( FAKETIME_DONT_FAKE_MONOTONIC=1 faketime -f "$$(echo $$shift | tr T ' ')" $(BIN)/python -m pytest \
			-p no:cacheprovider --basetemp="$$out/tmp-$$i" tests/unit tests/integration tests/faults \
			> "$$out/log-$$i" 2>&1; echo $$? > "$$out/rc-$$i" ) & \
	done; wait; status=0; i=0; \
	for shift in $(FAKETIME_RUNS); do \
		i=$$((i + 1)); \
		echo "== unit + integration + faults with the clock at $$shift"; cat "$$out/log-$$i"; \
		[ "$$(cat "$$out/rc-$$i")" = 0 ] || { echo "== failed with the clock at $$shift" >&2; status=1; }; \
	done; rm -rf "$$out"; exit $$status

# schemathesis (examples, coverage, fuzzing, stateful) against the whole local stack as a user and as an admin:
# no server error, no answer outside /openapi.json. FUZZ_SECONDS bounds it (default 300).
fuzz: $(STAMP)
	$(BIN)/python -m devtools.fuzz

bench: $(STAMP)
	$(BIN)/python -m bench.run

# The layer rules of README's Architecture section (.importlinter). PYTHONPATH puts the project root on the
# path: the packages are graphed from there, app.py is found there, and so is the contract type in devtools/.
# The graph takes well under a second to build, so no cache directory is written into the tree.
lint-imports: $(STAMP)
	PYTHONPATH=$(CURDIR) $(BIN)/lint-imports --no-cache --no-logo

# Checks the generated infra files match the models, packages the app as SAM merged with the tables
# template, and lints the merged result offline. Credentials are removed to prove none are needed.
# infra/resources.json alone is a merge fragment (it patches chalice's RestAPI), so the merge is linted;
# infra/tables.json is the standalone tables stack for `chalice deploy`.
lint-infra: $(STAMP)
	$(BIN)/python -m devtools.gen_infra --check
	rm -rf .local/package .local/package-prod
	env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN -u AWS_PROFILE \
		AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_DEFAULT_REGION=$(STAGE_REGION) \
		$(BIN)/chalice package --stage dev --merge-template infra/resources.json .local/package
	env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN -u AWS_PROFILE \
		AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_DEFAULT_REGION=$(STAGE_REGION) \
		$(BIN)/chalice package --stage prod --merge-template infra/resources.json .local/package-prod
	$(BIN)/cfn-lint .local/package/sam.json .local/package-prod/sam.json infra/tables.json
	$(BIN)/python -m devtools.gen_infra --check-package .local/package/sam.json
	$(BIN)/python -m devtools.gen_infra --check-package .local/package-prod/sam.json

# Deploying a stage (README "Infrastructure and deploy"): STAGE=dev|prod, its settings in
# deploy/$(STAGE).parameters.json. deploy-check names every missing value or placeholder; deploy checks, packages,
# precompiles, uploads and deploys (REVIEW=1: create the change set only).
STAGE ?= dev
deploy-check: $(STAMP)
	$(BIN)/python -m devtools.deploy check --stage $(STAGE)

deploy: $(STAMP)
	$(BIN)/python -m devtools.deploy deploy --stage $(STAGE) $(if $(REVIEW),--review,)

clean:
	rm -rf $(VENV) .local .pytest_cache
