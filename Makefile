# Two commands do all set-up on a fresh Debian 12 / Raspberry Pi OS machine:
#   make run    creates .venv, builds the Cython kernel, serves the web UI on port 8080
#   make test   also installs what the tests need (Debian's chromium too) and runs the whole suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
BUILD_INPUTS := pyproject.toml setup.py forceplate/device/_hx711.pyx scripts/bootstrap.sh

.PHONY: run test install clean
run: $(VENV)/.stamp-run
	$(BIN)/forceplate serve $(ARGS)

test: $(VENV)/.stamp-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

install: $(VENV)/.stamp-run

$(VENV)/.stamp-run: $(BUILD_INPUTS)
	PYTHON=$(PYTHON) VENV=$(VENV) scripts/bootstrap.sh run
	touch $@

$(VENV)/.stamp-test: $(BUILD_INPUTS)
	PYTHON=$(PYTHON) VENV=$(VENV) scripts/bootstrap.sh test
	touch $@ $(VENV)/.stamp-run

clean:
	rm -rf $(VENV) build *.egg-info forceplate/device/_hx711.c forceplate/device/_hx711*.so
