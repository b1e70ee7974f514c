# The two commands a newcomer needs: `make run` and `make test` (see README.md).
SHELL := /bin/bash
.DEFAULT_GOAL := help
SWIFT ?= swift
# Debian's python3 carries python3-protobuf, PyYAML and jsonschema (tools/oms-env.sh installs them).
PYTHON ?= /usr/bin/python3
CONFIG ?= debug
# libFuzzer runs (tools/fuzz.sh): seconds per target.
FUZZ_SECONDS ?= 300
FUZZ_SMOKE_SECONDS ?= 20
# The storage-pool and RPC tests, run under each sanitizer by `make sanitize`.
SANITIZE_FILTER ?= OMSMySQLTests|OMSRedisTests|OMSRPCTests|OMSRPCCoreTests

.PHONY: help env build build-release run test up down status logs proto proto-check bench bench-group-commit reset clean \
	chaos chaos-smoke fuzz fuzz-smoke fuzz-corpus sanitize

help:
	@echo "make run    set up, build, start MariaDB + Redis + the five services, show them working"
	@echo "make test   set up, then run every test"
	@echo "make up / make down / make status / make logs   the suite in the background under .oms/"
	@echo "make proto  regenerate protoc-c output and the Swift layer (committed)"
	@echo "make bench  benchmarks (figures go to docs/benchmarks.md)"
	@echo "make bench-group-commit  group commit off vs on, side by side (CPU, statements, commits per order)"
	@echo "make chaos  fault injection under load (kill -9, SIGSTOP, MariaDB and Redis faults), then the audit"
	@echo "make fuzz   libFuzzer targets (Fuzz/), FUZZ_SECONDS each; make fuzz-smoke: FUZZ_SMOKE_SECONDS each"
	@echo "make sanitize  storage-pool and RPC tests under AddressSanitizer and ThreadSanitizer"
	@echo "make reset  stop everything and delete .oms/"

env:
	@tools/oms-env.sh start

build: env
	$(SWIFT) build -c $(CONFIG)

build-release: env
	$(SWIFT) build -c release

run: build-release
	@tools/oms-suite.sh restart release
	@tools/oms-demo.sh

test: env
	@tools/gen-proto.sh --check
	$(PYTHON) tools/test_compose.py
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build
	@$(MAKE) --no-print-directory chaos-smoke
	@$(MAKE) --no-print-directory fuzz-smoke

up: build
	@tools/oms-suite.sh start $(CONFIG)

down:
	@tools/oms-suite.sh stop
	@tools/oms-env.sh stop

status:
	@tools/oms-env.sh status
	@tools/oms-suite.sh status

logs:
	@tail -n 50 .oms/run/*.log

proto:
	@tools/gen-proto.sh

proto-check:
	@tools/gen-proto.sh --check

# Fault runs under OMS_HOME=.oms-chaos (own MariaDB and Redis ports), never the development databases.
chaos: build
	@CHAOS_SECONDS=$${CHAOS_SECONDS:-120} tools/chaos.sh

chaos-smoke:
	@CHAOS_SECONDS=25 CHAOS_CALLERS=16 tools/chaos.sh

fuzz:
	@tools/fuzz.sh $(FUZZ_SECONDS)

fuzz-smoke:
	@tools/fuzz.sh $(FUZZ_SMOKE_SECONDS)

# Rewrites the committed seed corpus Fuzz/Corpus/ (after a proto change or a new request type).
fuzz-corpus:
	@tools/fuzz-corpus.py

# LeakSanitizer is off: it reports XCTest's runner and lazily initialised Swift globals as leaks.
sanitize: env
	ASAN_OPTIONS=detect_leaks=0 $(SWIFT) test --scratch-path .build-asan --sanitize=address --filter "$(SANITIZE_FILTER)"
	$(SWIFT) test --scratch-path .build-tsan --sanitize=thread --filter "$(SANITIZE_FILTER)"

bench: build-release
	@tools/bench.sh

bench-group-commit: build-release
	@tools/bench-group-commit.sh

reset:
	@tools/oms-suite.sh stop || true
	@tools/oms-env.sh reset

clean:
	$(SWIFT) package clean
