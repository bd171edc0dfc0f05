# Two entry points for a fresh machine: `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt

.PHONY: run test test-quick clean

$(PY):
	python3 -m venv $(VENV)

$(VENV)/.run-installed: pyproject.toml constraints.txt | $(PY)
	$(PIP) -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml constraints.txt | $(PY)
	$(PIP) -e '.[dev,ray]'
	touch $@ $(VENV)/.run-installed

run: $(VENV)/.run-installed
	$(VENV)/bin/sparsearch run

test: $(VENV)/.dev-installed
	$(VENV)/bin/pytest -q

test-quick: $(VENV)/.dev-installed
	$(VENV)/bin/pytest -q -m "not slow"

clean:
	rm -rf $(VENV) sparsearch.db
