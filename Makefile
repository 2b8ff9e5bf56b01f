# Every target creates or reuses .venv and installs the pinned dependencies itself.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export PYTHONPATH := $(CURDIR):$(CURDIR)/layers/ami_lifecycle
export MOTO_EC2_LOAD_DEFAULT_AMIS := false

.PHONY: demo test lint build bench clean

$(VENV)/.installed: requirements-dev.txt layers/ami_lifecycle/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

demo: $(VENV)/.installed
	$(PY) -m ami_lifecycle.local.demo

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/cfn-lint template.yaml

test: lint
	$(PY) -m pytest

clean:
	rm -rf $(VENV) .venv-sam .aws-sam
