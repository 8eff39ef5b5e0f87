#!/usr/bin/env bash
# Test set-up for the integration suite (tests/integration).
#
# Idempotent and non-interactive: safe on a fresh Debian 12 machine (CI) and on
# one that is already set up, where it finishes in about a second. It
#   1. creates .venv at the repo root if missing (apt-get installs
#      python3-venv only if python3 cannot create a venv),
#   2. pip installs the pinned tests/requirements.txt into it, only when the
#      requirements file changed since the last successful install (a stamp
#      keyed on the file's sha256 and the venv's Python version),
#   3. apt-get installs the real peers when missing: prometheus,
#      mariadb-server, prometheus-alertmanager, docker-compose and
#      dnsmasq-base (no
#      service is started; the tests run their own servers),
#   4. checks that the Rotel peer binary is present and runs,
#   5. runs scripts/docker-setup.sh: Docker engine, docker-compose and the
#      locally built test images for the real-engine stack tests.
# It does not build the collector: `cargo build` (or `make`) does that.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
REQ="$ROOT/tests/requirements.txt"
STAMP="$VENV/.test-requirements.stamp"

step() { echo "test-setup: $*"; }

command -v python3 >/dev/null || { step "python3 not found (Debian 12: apt-get install python3)"; exit 1; }

# 1-2. the venv (Debian ships venv/ensurepip separately, in python3-venv).
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    step "venv $VENV exists ($("$VENV/bin/python" --version 2>&1))"
else
    rm -rf "$VENV"
    if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
        step "python3 -m venv failed: installing python3-venv with apt-get"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq python3-venv >/dev/null
        rm -rf "$VENV"
        python3 -m venv "$VENV"
    fi
    step "created venv $VENV ($("$VENV/bin/python" --version 2>&1))"
fi

# 2. pinned requirements, keyed on the file's hash.
want="$(sha256sum "$REQ" | cut -d' ' -f1) $("$VENV/bin/python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
    step "requirements up to date ($(wc -l <"$REQ") lines in tests/requirements.txt)"
else
    rm -f "$STAMP"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQ"
    echo "$want" >"$STAMP"
    step "installed tests/requirements.txt into $VENV"
fi

# Real peers from Debian's packages: Prometheus (server and promtool),
# MariaDB (mariadbd, mariadb-install-db), Alertmanager, and docker-compose
# 1.29, whose `docker-compose config` checks the stack's compose files
# without a Docker engine. The tests start their own servers on temp dirs
# and free ports; a policy-rc.d keeps the packages' maintainer scripts from
# starting system services meanwhile.
need_apt=()
command -v prometheus >/dev/null || need_apt+=(prometheus)
{ [ -x /usr/sbin/mariadbd ] && command -v mariadb-install-db >/dev/null; } || need_apt+=(mariadb-server)
command -v prometheus-alertmanager >/dev/null || need_apt+=(prometheus-alertmanager)
command -v docker-compose >/dev/null || need_apt+=(docker-compose)
# dnsmasq-base: the DNS server for the loadbalancing exporter's DNS resolver test
[ -x /usr/sbin/dnsmasq ] || need_apt+=(dnsmasq-base)
if [ ${#need_apt[@]} -gt 0 ]; then
    step "installing ${need_apt[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    policy=/usr/sbin/policy-rc.d made_policy=false
    if [ ! -e "$policy" ]; then
        made_policy=true
        printf '#!/bin/sh\n# scripts/test-setup.sh: no services started during install\nexit 101\n' >"$policy"
        chmod +x "$policy"
        trap 'rm -f "$policy"' EXIT
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
    if $made_policy; then rm -f "$policy"; trap - EXIT; fi
fi
step "prometheus $(prometheus --version 2>&1 | head -n1 | awk '{print $3}'), $(/usr/sbin/mariadbd --version | awk '{print $2, $3}'), alertmanager $(prometheus-alertmanager --version 2>&1 | head -n1 | awk '{print $3}'), docker-compose $(docker-compose version --short 2>/dev/null || echo '?') present"

# 4. Rotel, the peer collector (its binary ships inside the PyPI package).
ROTEL_BIN="$("$VENV/bin/python" -c 'import importlib.util, os; s = importlib.util.find_spec("rotel"); print(os.path.join(s.submodule_search_locations[0], "rotel-agent"))')"
if [ -x "$ROTEL_BIN" ] && "$ROTEL_BIN" --version >/dev/null 2>&1; then
    step "rotel peer ok: $("$ROTEL_BIN" --version 2>&1 | head -n1) at $ROTEL_BIN"
else
    step "rotel-agent missing or not runnable at $ROTEL_BIN"
    exit 1
fi

# 5. Docker engine, compose and local images (no registry) for test_stack_engine.py.
"$ROOT/scripts/docker-setup.sh"

# The collector under test (built by cargo, not here).
BIN="${OTELSTACK_COLLECTOR:-$ROOT/target/debug/otelstack-collector}"
if [ -x "$BIN" ]; then
    step "collector binary present: $BIN"
else
    step "collector binary not built yet: $BIN (run: cargo build --bin otelstack-collector)"
fi
