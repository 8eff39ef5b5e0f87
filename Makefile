# otelstack: `make test` is the one test command (CI runs it through .ci/run).
CARGO ?= cargo
VENV := .venv

.PHONY: all build release test test-setup unit tools integration fuzz fuzz-smoke lint layers fmt bench clean stack-files

all: build

build:
	$(CARGO) build --bins --example workshop-payments

release:
	$(CARGO) build --release --bins

## Install what the tests need (idempotent): Python venv with the OTel SDK, Rotel, pytest.
test-setup:
	scripts/test-setup.sh

## Unit tests, then integration tests against the real binary and real peers.
test: test-setup build unit tools fuzz-smoke integration

unit:
	$(CARGO) test --lib --bins

## The project's own scripts (scripts/check-layers.py), tested on small fixture trees.
tools:
	$(VENV)/bin/pytest tests/tools -q -p no:cacheprovider

## Integration tests against the real binary, in PYTEST_WORKERS parallel workers
## (pytest-xdist, a module whole in one worker; the Docker engine modules run
## one at a time). Pick tests with PYTEST_ARGS, e.g.
##   make integration PYTEST_ARGS='-k overload'
##   make integration PYTEST_ARGS='-m "not docker"'
##   make integration PYTEST_ARGS='-k test_processors' PYTEST_WORKERS=0   (no workers: in one process)
PYTEST_WORKERS ?= 4
PYTEST_ARGS ?=
integration: build
	OTELSTACK_COLLECTOR=$(CURDIR)/target/debug/otelstack-collector $(VENV)/bin/pytest tests/integration -q -p no:cacheprovider \
		-n $(PYTEST_WORKERS) --dist loadfile --durations=15 $(PYTEST_ARGS)

## Each cargo-fuzz target for FUZZ_SECONDS (default 60); fuzz-smoke is the short pass in `make test`.
FUZZ_SECONDS ?= 60
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh

fuzz-smoke:
	FUZZ_SECONDS=20 scripts/fuzz.sh

## Formatting, clippy, and the layer check below.
lint: layers
	$(CARGO) fmt --all --check
	$(CARGO) clippy --all-targets -- -D warnings

## The import graph of src/: no cycle, no import from a lower floor to a higher one (docs/style.md).
layers:
	@command -v python3 >/dev/null || { echo "make layers needs python3 (standard library only): install it, e.g. apt-get install -y python3"; exit 1; }
	python3 scripts/check-layers.py

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
