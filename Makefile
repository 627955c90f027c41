# Two commands on a bare machine: `make demo` (the main job) and `make test` (the whole suite).
# Each installs what it needs first: Debian packages, the virtualenv and the Python packages.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := .make
DEB_PACKAGES := postgresql redis-server haproxy graphviz wrk
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install deps-system deps-python demo gate test bench mutation lint lock clean

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

# Every environment installs from its lock (exact versions, hash-checked), never from the ranges.
$(STAMP)/venv: requirements-dev.lock
	@mkdir -p $(STAMP)
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q --require-hashes -r requirements-dev.lock
	@touch $@

# Only what the gate needs, no Debian package and none of the app's: the program's packages in .venv
# (the virtualenv Pulumi.yaml names, which the gate runs the program with) and the gate's own.
# Every stack in one child process: the SDK is imported once (bench/README.md, bench.gate).
gate: $(STAMP)/program $(STAMP)/gate
	$(PY) -m policies.gate --all-stacks

$(STAMP)/gate: policies/gate/requirements.lock
	@mkdir -p $(STAMP)
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --require-hashes -r policies/gate/requirements.lock
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

# Mutation testing of the rules, the gate and the app's security modules (slow: tens of minutes; not
# part of `make test`). Prints the kill rate per module, writes bench/results/mutation.json.
mutation: install
	$(PY) -m bench.mutation

lint: install
	$(PY) -m ruff check .
	$(PY) -m mypy

.PHONY: deps-program deps-pack

# Only what `pulumi preview` / `pulumi up` run: the program's packages in .venv (the virtualenv
# Pulumi.yaml names; what `pulumi install` installs) and the policy pack's own virtualenv.
deps-program: $(STAMP)/program

$(STAMP)/program: requirements.lock infra/requirements.txt
	@mkdir -p $(STAMP)
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --require-hashes -r infra/requirements.txt
	@touch $@

# The pack's virtualenv, named in policies/PulumiPolicy.yaml: the CLI runs the pack with its python
# and nothing else, so it holds policies/requirements.txt alone (as a published pack's does).
PACK_VENV := policies/venv
deps-pack: $(STAMP)/pack

$(STAMP)/pack: policies/requirements.lock
	@mkdir -p $(STAMP)
	@[ -x $(PACK_VENV)/bin/python ] || $(PYTHON) -m venv $(PACK_VENV)
	$(PACK_VENV)/bin/python -m pip install -q --require-hashes -r policies/requirements.lock
	@touch $@

# The locks: one per environment a user installs, written by uv from the requirement files (which keep
# the ranges) for every platform and Python >= 3.11 (`--universal`: markers decide per machine), with
# the hash of every distribution. Re-run after editing a requirements file; the versions already
# locked are kept where the ranges still allow them (uv reads the existing output file as preferences).
# tests/unit/pipeline/test_locks.py fails while a lock is stale.
UV_COMPILE := $(PY) -m uv pip compile --quiet --universal --python-version 3.11 --generate-hashes
lock: $(STAMP)/venv
	$(UV_COMPILE) -o requirements.lock requirements.txt
	$(UV_COMPILE) -o policies/requirements.lock policies/requirements.txt
	$(UV_COMPILE) -o policies/gate/requirements.lock policies/requirements.txt policies/gate/requirements.txt
	$(UV_COMPILE) -o app/requirements.lock app/requirements.txt app/requirements-image.txt
	$(UV_COMPILE) -o requirements-dev.lock requirements-dev.txt

clean:
	rm -rf $(VENV) $(PACK_VENV) $(STAMP) build .pytest_cache .mypy_cache .ruff_cache .hypothesis .local
