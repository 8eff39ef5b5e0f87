# otelstack: `make test` is the one test command (CI runs it through .ci/run).
CARGO ?= cargo
VENV := .venv

.PHONY: all build release test test-setup unit integration fuzz fuzz-smoke lint fmt bench clean stack-files

all: build

build:
	$(CARGO) build --bins --example workshop-payments

release:
	$(CARGO) build --release --bins

## Install what the tests need (idempotent): Python venv with the OTel SDK, Rotel, pytest.
test-setup:
	scripts/test-setup.sh

## Unit tests, then integration tests against the real binary and real peers.
test: test-setup build unit fuzz-smoke integration

unit:
	$(CARGO) test --lib --bins

integration: build
	OTELSTACK_COLLECTOR=$(CURDIR)/target/debug/otelstack-collector $(VENV)/bin/pytest tests/integration -q -p no:cacheprovider

## Each cargo-fuzz target for FUZZ_SECONDS (default 60); fuzz-smoke is the short pass in `make test`.
FUZZ_SECONDS ?= 60
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh

fuzz-smoke:
	FUZZ_SECONDS=20 scripts/fuzz.sh

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

## Rewrite the checked-in stack (compose/, provisioning/, dashboards/) from the
## templates in src/stack/templates; a test fails when they differ.
stack-files:
	$(CARGO) build --bin stackctl
	target/debug/stackctl init --checked-in --force .

## Side-by-side benchmark against Rotel (see docs/benchmarks.md).
bench:
	scripts/bench.sh

clean:
	$(CARGO) clean
