#!/usr/bin/env bash
# Runs each cargo-fuzz target (fuzz/fuzz_targets) for FUZZ_SECONDS (default
# 60); FUZZ_TARGETS picks targets (default: all). Installs cargo-fuzz when it
# is missing; RUSTC_BOOTSTRAP=1 lets stable Rust take cargo-fuzz's -Z flags.
# Seeds: fuzz/seeds/<target> (committed, fuzz/make_seeds.py); the corpus grows
# in fuzz/corpus/<target>; a crash is saved in fuzz/artifacts/<target>/ and
# fails the script. Reproduce one with `cargo fuzz run <target> <file>`.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS="${FUZZ_SECONDS:-60}"
FUZZ_TARGETS="${FUZZ_TARGETS:-otlp_protobuf otlp_json http_handler}"
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

# No sanitizer: the code under fuzzing (wire walk, JSON, HTTP request path) is safe Rust, and without ASan
# the build is faster; -a keeps overflow checks and debug assertions on.
# 16 codegen units instead of cargo-fuzz's 1 make the build about twice as fast.
(cd fuzz && cargo fuzz build --sanitizer none --debug-assertions --codegen-units 16)
bin="fuzz/target/$(rustc -vV | sed -n 's/^host: //p')/release"
for target in $FUZZ_TARGETS; do
    mkdir -p "fuzz/corpus/$target" "fuzz/artifacts/$target"
    echo "== fuzz $target for ${FUZZ_SECONDS}s"
    # the built binary directly: `cargo fuzz run` would rebuild when sources changed meanwhile
    log="fuzz/artifacts/$target/last-run.log"
    status=0
    "$bin/$target" "fuzz/corpus/$target" "fuzz/seeds/$target" \
        -artifact_prefix="fuzz/artifacts/$target/" -max_total_time="$FUZZ_SECONDS" \
        -rss_limit_mb=1024 -timeout=10 -print_final_stats=1 >"$log" 2>&1 || status=$?
    grep -E '^(Done|stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb))|INITED|DONE ' "$log" || true
    if [ "$status" -ne 0 ]; then
        tail -n 60 "$log" >&2
        echo "fuzz target $target failed (exit $status); the input is in fuzz/artifacts/$target/, full log $log" >&2
        exit 1
    fi
done
