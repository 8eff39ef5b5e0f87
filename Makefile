# otelstack: `make test` is the one test command (CI runs it through .ci/run).
CARGO ?= cargo
VENV := .venv

.PHONY: all build release test test-setup unit integration lint fmt bench clean

all: build

build:
	$(CARGO) build --bins

release:
	$(CARGO) build --release --bins

## Install what the tests need (idempotent): Python venv with the OTel SDK, Rotel, pytest.
test-setup:
	scripts/test-setup.sh

## Unit tests, then integration tests against the real binary and real peers.
test: test-setup build unit integration

unit:
	$(CARGO) test --lib --bins

integration: build
	OTELSTACK_COLLECTOR=$(CURDIR)/target/debug/otelstack-collector $(VENV)/bin/pytest tests/integration -q -p no:cacheprovider

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

## Side-by-side benchmark against Rotel (see docs/benchmarks.md).
bench:
	scripts/bench.sh

clean:
	$(CARGO) clean
