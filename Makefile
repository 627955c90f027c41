# Two commands on a bare machine: `make demo` (the main job) and `make test` (the whole suite).
# Each installs what it needs first: Debian packages, the virtualenv and the Python packages.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := .make
DEB_PACKAGES := postgresql redis-server haproxy graphviz wrk
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install deps-system deps-python demo gate test bench lint clean

install: deps-system deps-python deps-pack

deps-system: $(STAMP)/deb

# Only asks apt when a package is missing, so a prepared machine installs nothing.
$(STAMP)/deb: Makefile
	@mkdir -p $(STAMP)
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@touch $@

deps-python: $(STAMP)/venv

$(STAMP)/venv: requirements.txt infra/requirements.txt app/requirements.txt policies/requirements.txt policies/gate/requirements.txt requirements-dev.txt
	@mkdir -p $(STAMP)
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	@touch $@

# Only what the gate needs, no Debian package and none of the app's: the program's packages in .venv
# (the virtualenv Pulumi.yaml names, which the gate runs the program with) and the gate's own.
# Every stack in one child process: the SDK is imported once (bench/README.md, bench.gate).
gate: $(STAMP)/program $(STAMP)/gate
	$(PY) -m policies.gate --all-stacks

$(STAMP)/gate: policies/requirements.txt policies/gate/requirements.txt
	@mkdir -p $(STAMP)
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r policies/requirements.txt -r policies/gate/requirements.txt
	@touch $@

# The main job: offline plan and verdict for every stack, then the local stack with a replica killed
# under traffic, checkout and receipt, and teardown (also on Ctrl-C or failure).
demo: install
	$(PY) -m demo

test: install
	$(PY) -m pytest

# Benchmarks print their figures and write bench/results/*.json; none of them is a test.
bench: install
	$(PY) -m bench.gate
	$(PY) -m bench.replica
	$(PY) -m bench.app
	$(PY) -m bench.failover

lint: install
	$(PY) -m ruff check .
	$(PY) -m mypy

.PHONY: deps-program deps-pack

# Only what `pulumi preview` / `pulumi up` run: the program's packages in .venv (the virtualenv
# Pulumi.yaml names; what `pulumi install` installs) and the policy pack's own virtualenv.
deps-program: $(STAMP)/program

$(STAMP)/program: requirements.txt infra/requirements.txt
	@mkdir -p $(STAMP)
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r infra/requirements.txt
	@touch $@

# The pack's virtualenv, named in policies/PulumiPolicy.yaml: the CLI runs the pack with its python
# and nothing else, so it holds policies/requirements.txt alone (as a published pack's does).
PACK_VENV := policies/venv
deps-pack: $(STAMP)/pack

$(STAMP)/pack: policies/requirements.txt
	@mkdir -p $(STAMP)
	@[ -x $(PACK_VENV)/bin/python ] || $(PYTHON) -m venv $(PACK_VENV)
	$(PACK_VENV)/bin/python -m pip install -q -r policies/requirements.txt
	@touch $@

clean:
	rm -rf $(VENV) $(PACK_VENV) $(STAMP) build .pytest_cache .mypy_cache .ruff_cache .hypothesis .local
