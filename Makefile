# Two commands do all set-up on a fresh Debian 12 / Raspberry Pi OS machine:
#   make run    creates .venv, builds the Cython kernel, serves the web UI on port 8080
#   make test   also installs what the tests need (Debian's chromium too) and runs the whole suite
#   make bench NAME=analysis   installs the peers compared against (.[bench]) and runs bench/run.py NAME
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
BUILD_INPUTS := pyproject.toml setup.py $(wildcard forceplate/*/*.pyx forceplate/*/*.pxd) scripts/bootstrap.sh

.PHONY: run test bench install clean
run: $(VENV)/.stamp-run
	$(BIN)/forceplate serve $(ARGS)

test: $(VENV)/.stamp-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.stamp-bench
	$(BIN)/python bench/run.py $(NAME) $(ARGS)

install: $(VENV)/.stamp-run

$(VENV)/.stamp-run: $(BUILD_INPUTS)
	PYTHON=$(PYTHON) VENV=$(VENV) scripts/bootstrap.sh run
	touch $@

$(VENV)/.stamp-test: $(BUILD_INPUTS)
	PYTHON=$(PYTHON) VENV=$(VENV) scripts/bootstrap.sh test
	touch $@ $(VENV)/.stamp-run

$(VENV)/.stamp-bench: $(VENV)/.stamp-run pyproject.toml
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[bench]"
	touch $@

clean:
	rm -rf $(VENV) build *.egg-info forceplate/*/*.c forceplate/*/*.so
