#!/usr/bin/env bash
# Benchmarks: the prometheus exporter scrape and spanmetrics per-span cost,
# the loadbalancing exporter against the plain otlp exporter, cold start,
# cardinality, the stack's own pipeline stage by stage, small requests
# waiting in the batch processor against Rotel, the signal x
# transport matrix against Rotel, then the side-by-side pipeline benchmark:
# otelstack-collector vs Rotel.
# Installs Rotel into .venv (idempotent), builds the release collector, then
# runs `cargo bench --bench pipeline`. Knobs are environment variables, see
# docs/benchmarks.md (BENCH_RATE, BENCH_SECONDS, BENCH_FLAT_SECONDS,
# BENCH_MODES, BENCH_ONLY, BENCH_COMPRESSION, BENCH_CONNECTIONS, BENCH_SLOW,
# BENCH_SINK_DELAY_MS, BENCH_SINK_CONCURRENCY, BENCH_SINK_STALL_MS,
# OTELSTACK_COLLECTOR, ROTEL_AGENT; the matrix's BENCH_SIGNALS,
# BENCH_TRANSPORTS, BENCH_MATRIX_SECONDS; BENCH_STACK_*, BENCH_CARD_*,
# BENCH_COLDSTART_RUNS).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

ROTEL_VERSION=0.0.1a15

if [[ -z "${ROTEL_AGENT:-}" && "${BENCH_ONLY:-}" != otelstack ]]; then
    if [[ ! -x .venv/bin/python ]]; then
        python3 -m venv .venv
    fi
    if ! .venv/bin/python -m pip show rotel 2>/dev/null | grep -qx "Version: ${ROTEL_VERSION}"; then
        .venv/bin/python -m pip install --quiet --disable-pip-version-check "rotel==${ROTEL_VERSION}"
    fi
fi

if [[ -z "${OTELSTACK_COLLECTOR:-}" && "${BENCH_ONLY:-}" != rotel ]]; then
    # stackctl too: the stack bench generates its config with it
    cargo build --release --bin otelstack-collector --bin stackctl
fi

# the prometheus exporter (a scrape with 100k series held) and the
# spanmetrics connector's cost per span: no peer needed
if [[ "${BENCH_ONLY:-}" != rotel ]]; then
    cargo bench --bench scrape
    cargo bench --bench spanmetrics
fi

# the loadbalancing exporter's cost in the agent, against the plain otlp
# exporter in the same run (docs/benchmarks.md)
if [[ "${BENCH_ONLY:-}" != rotel ]]; then
    .venv/bin/python scripts/bench_loadbalancing.py
fi

# cold start to healthy, cardinality (spanmetrics -> prometheus at 100k and
# 1M series, and the aggregation_cardinality_limit bound), and the collector
# config `stackctl init` writes, stage by stage (docs/benchmarks.md)
if [[ "${BENCH_ONLY:-}" != rotel ]]; then
    .venv/bin/python scripts/bench_coldstart.py
    .venv/bin/python scripts/bench_cardinality.py
    .venv/bin/python scripts/bench_stack.py
fi

# memory held per small request waiting in the batch processor, against Rotel
if [[ "${BENCH_ONLY:-}" == "" ]]; then
    .venv/bin/python scripts/bench_small_requests.py
fi

# every signal and transport, side by side with Rotel
cargo bench --bench matrix

exec cargo bench --bench pipeline
