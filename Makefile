# Two commands do all set-up on a fresh Debian 12 / Raspberry Pi OS machine:
#   make run    creates .venv, builds the Cython kernel, serves the web UI on port 8080
#   make test   also installs what the tests need (Debian's chromium too) and runs the whole suite
#   make bench NAME=analysis   installs the peers compared against (.[bench]) and runs bench/run.py NAME
# On the Raspberry Pi's architectures, in a Debian 12 chroot under qemu-user (root; scripts/arch-chroot.sh):
#   make test-arch ARCH=arm64|armhf        the suite without the browser tests
#   make test-arch-core ARCH=armhf         its core subset: kernels, counts, times and chunks (.ci/run)
#   make test-floor                        the suite on the oldest dependency versions pyproject declares
#   make bundle                            dist/forceplate-bundle-<version>-{arm64,armhf}.tar: installs offline
#   make test-bundle ARCH=arm64|armhf      installs that bundle in a fresh chroot without network and serves
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
BUILD_INPUTS := pyproject.toml setup.py $(wildcard forceplate/*/*.pyx forceplate/*/*.pxd) scripts/bootstrap.sh

.PHONY: run test bench install clean test-arch test-arch-core test-floor bundle test-bundle
ARCH ?= arm64
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
run: $(VENV)/.stamp-run
	$(BIN)/forceplate serve $(ARGS)

test: $(VENV)/.stamp-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.stamp-bench
	$(BIN)/python bench/run.py $(NAME) $(ARGS)

install: $(VENV)/.stamp-run

test-arch:
	$(SUDO) scripts/arch-chroot.sh $(ARCH) test $(PYTEST_ARGS)

test-arch-core:
	$(SUDO) scripts/arch-chroot.sh $(ARCH) core $(PYTEST_ARGS)

test-floor:
	PYTHON=$(PYTHON) scripts/test-floor.sh $(PYTEST_ARGS)

bundle:
	$(SUDO) scripts/arch-chroot.sh arm64 bundle
	$(SUDO) scripts/arch-chroot.sh armhf bundle

test-bundle:
	$(SUDO) scripts/test-bundle.sh $(ARCH)

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
