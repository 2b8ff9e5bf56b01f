# Every target creates or reuses .venv and installs the pinned dependencies itself.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export PYTHONPATH := $(CURDIR):$(CURDIR)/layers/ami_lifecycle
export MOTO_EC2_LOAD_DEFAULT_AMIS := false
export POWERTOOLS_METRICS_NAMESPACE := AmiLifecycle

.PHONY: demo test lint build bench clean schema lock

$(VENV)/.installed: requirements-dev.txt layers/ami_lifecycle/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

demo: $(VENV)/.installed
	$(PY) -m ami_lifecycle.local.demo

# API calls and wall time of the hot paths on the embedded AWS.
bench: $(VENV)/.installed
	$(PY) -m ami_lifecycle.local.bench

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/cfn-lint template.yaml dr-forwarder.yaml

# One pytest worker per core; each worker has its own moto state.
test: lint
	$(PY) -m pytest -n auto

# Regenerate the policy's JSON Schema after changing ami_lifecycle/policy/ (a test checks it is current).
schema: $(VENV)/.installed
	$(PY) -c 'import json; from ami_lifecycle.policy import json_schema; print(json.dumps(json_schema(), indent=2))' \
		> schema/policy.schema.json

# Pin the layer's packages with their wheel hashes for the Lambda runtime (layers/ami_lifecycle/requirements.lock),
# at the versions the tests run with; run it after changing layers/ami_lifecycle/requirements.txt.
lock: $(VENV)/.installed
	$(MAKE) -C layers/ami_lifecycle lock PYTHON="$(CURDIR)/$(PY)" CONSTRAINTS="$(CURDIR)/requirements-dev.txt"

clean:
	rm -rf $(VENV) .venv-sam .aws-sam

# ---- build: validate template.yaml and build the function and the layers into .aws-sam/build ----------------
# SAM CLI has its own venv (pinned in requirements-sam.txt). It runs with that venv first on PATH (so the layer
# Makefile's `python3 -m pip` is the venv's), without this file's test settings, and without telemetry. No Docker
# and no Python of the Lambda runtime are needed: the layer Makefile fetches wheels for the runtime.
SAM_VENV := .venv-sam
SAM := env -u PYTHONPATH -u MAKEFLAGS -u MFLAGS -u MAKELEVEL PATH="$(CURDIR)/$(SAM_VENV)/bin:$$PATH" \
	SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam

$(SAM_VENV)/.installed: requirements-sam.txt
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-sam.txt
	touch $@

build: $(SAM_VENV)/.installed
	@runtimes="$$(grep -o 'python3\.[0-9]*' template.yaml | sort -u)"; \
	layer="python$$(sed -n 's/^LAMBDA_PYTHON_VERSION ?= *//p' layers/ami_lifecycle/Makefile)"; \
	if [ "$$runtimes" != "$$layer" ]; then \
		echo "template.yaml uses $$runtimes but layers/ami_lifecycle/Makefile builds for $$layer" >&2; exit 1; \
	fi
	$(SAM) validate --lint
	$(SAM) build
