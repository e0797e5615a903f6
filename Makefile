# The two commands: `make run` (local stack) and `make test` (whole suite). Both set up .venv themselves.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
STAGE_REGION := us-east-1

.PHONY: run test test-unit test-integration test-e2e bench lint-infra package clean

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m devtools.run

test: $(STAMP)
	$(BIN)/python -m pytest tests

test-unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

test-integration: $(STAMP)
	$(BIN)/python -m pytest tests/integration

test-e2e: $(STAMP)
	$(BIN)/python -m pytest tests/e2e

bench: $(STAMP)
	$(BIN)/python -m bench.run

# Packages the app as SAM + the tables template, then lints the merged result offline (no credentials needed).
lint-infra: $(STAMP)
	rm -rf .local/package
	AWS_DEFAULT_REGION=$(STAGE_REGION) $(BIN)/chalice package --stage dev \
		--merge-template infra/resources.json .local/package
	$(BIN)/cfn-lint infra/resources.json .local/package/sam.json

clean:
	rm -rf $(VENV) .local .pytest_cache
