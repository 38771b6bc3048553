# kubewire: `make demo` and `make test` work from a clean clone on a fresh machine.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
DEMO_CAPTURE ?= captures/cluster-tls12.pcap
DEMO_OUT ?= out/demo
PYTEST_ARGS ?=

.PHONY: help setup sysdeps venv kernels demo test lint bench captures clean

help:
	@echo "make demo   - set up, then analyze a bundled capture ($(DEMO_CAPTURE))"
	@echo "make test   - set up, then lint and run every test"
	@echo "make bench  - set up, then benchmark kubewire against tshark, nfstream, dpkt, scapy"
	@echo "make captures - regenerate the reference captures (root, ip netns)"

sysdeps:
	@bash scripts/sysdeps.sh

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	@touch $(STAMP)

venv: $(STAMP)

# Compile the packet kernels ahead of time (a no-op when current; kubewire falls back to numba's
# JIT, ~1 s slower per run, when this cannot be done), and classifier's bytecode (an editable
# install has none, and PYTHONDONTWRITEBYTECODE=1 would recompile every module on every run).
kernels: venv
	@$(PY) -m classifier.native.build || echo "kernels: ahead-of-time build failed; kubewire will use numba's JIT" >&2
	@$(PY) -m compileall -q classifier

setup: sysdeps venv kernels

demo: setup
	$(VENV)/bin/kubewire analyze $(DEMO_CAPTURE) -o $(DEMO_OUT)

lint: venv
	$(VENV)/bin/ruff check classifier tests benchmarks captures/lab
	$(VENV)/bin/mypy --strict classifier

test: setup lint
	$(VENV)/bin/pytest $(PYTEST_ARGS)

bench: setup
	$(PY) -m pip install -q -e '.[bench]'
	$(PY) benchmarks/run.py --json out/bench-results.json

captures: setup
	$(PY) -m captures.lab.generate --all

clean:
	rm -rf out .pytest_cache .mypy_cache .ruff_cache
