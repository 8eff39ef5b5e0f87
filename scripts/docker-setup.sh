#!/usr/bin/env bash
# Docker engine and local test images for the real-engine stack tests
# (tests/integration/test_stack_engine.py). Called by scripts/test-setup.sh.
#
# Idempotent, non-interactive, root on a fresh Debian 12 machine. No container
# registry is reachable, so every image is made here:
#   1. apt-get installs docker.io, docker-compose (1.29) and debootstrap when missing;
#   2. starts dockerd in the background (log: /tmp/otelstack-dockerd.log)
#      when `docker info` fails, and waits until it answers;
#   3. `debootstrap --variant=minbase bookworm` once (the rootfs tarball is
#      cached in $OTELSTACK_TEST_CACHE), `docker import` -> otelstack-test/base:bookworm;
#   4. builds on that base, from tests/docker/<name>/Dockerfile:
#        otelstack-test/prometheus:local  Debian's prometheus 2.42, official image layout
#        otelstack-test/mariadb:local     Debian's mariadb-server 10.11 + official env vars
#                                         and healthcheck.sh
#        otelstack-test/sender:local      python3 + the OTel Python SDK (a container app)
#        otelstack-test/alertmanager:local Debian's prometheus-alertmanager 0.25, official layout
#   5. the workshop's demo app images (below).
#      Each image carries a label with the hash of its inputs (its directory and
#      the base image id) and is rebuilt only when that changes.
# The collector image is built by the tests themselves with `stackctl image build
# --base otelstack-test/base:bookworm`, from the freshly built binary.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${OTELSTACK_TEST_CACHE:-/var/cache/otelstack-test}"
# Image namespace: the tests use otelstack-test/*; another one lets a fresh
# run be timed beside images in use.
NS="${OTELSTACK_TEST_IMAGE_NS:-otelstack-test}"
BASE_TAG="$NS/base:bookworm"
DOCKERD_LOG=/tmp/otelstack-dockerd.log
MIRROR="${OTELSTACK_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# The legacy builder: Debian's 20.10 engine with the docker 28 client and no
# buildx plugin; it builds plain Dockerfiles without any registry access.
export DOCKER_BUILDKIT=0

step() { echo "docker-setup: $*"; }
mkdir -p "$CACHE"

apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    # other apt users may hold the lock for a while (shared machines)
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "$@" >/dev/null
}

# 1. packages
need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v docker-compose >/dev/null || need+=(docker-compose)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v ss >/dev/null || need+=(iproute2)   # stackctl names the process holding a port with ss
if [ ${#need[@]} -gt 0 ]; then
    step "installing ${need[*]} with apt-get"
    apt_install "${need[@]}"
fi

# 2. the engine. The docker 28 client (/usr/local/bin/docker, if present)
# negotiates down to the 20.10 daemon's API 1.41 by itself; pin it only if
# the client cannot talk to the daemon otherwise.
if ! docker info >/dev/null 2>&1; then
    if [ -z "${DOCKER_HOST:-}" ] || [ "${DOCKER_HOST}" = "unix:///var/run/docker.sock" ]; then
        step "no engine answers: starting dockerd in the background (log $DOCKERD_LOG)"
        nohup dockerd >"$DOCKERD_LOG" 2>&1 </dev/null &
        for _ in $(seq 1 60); do
            docker info >/dev/null 2>&1 && break
            sleep 1
        done
    fi
    if ! docker info >/dev/null 2>&1 && DOCKER_API_VERSION=1.41 docker info >/dev/null 2>&1; then
        export DOCKER_API_VERSION=1.41
        step "client and daemon agree only on API 1.41: exporting DOCKER_API_VERSION=1.41"
    fi
    docker info >/dev/null 2>&1 || { step "the Docker engine does not answer; see $DOCKERD_LOG"; exit 1; }
fi
step "engine $(docker version -f '{{.Server.Version}} (API {{.Server.APIVersion}})'), client $(docker version -f '{{.Client.Version}}'), $(docker-compose version --short)"

# 3. the base image, from a cached debootstrap tarball
TARBALL="$CACHE/bookworm-minbase.tar"
if [ ! -s "$TARBALL" ] || [ ! -s "$TARBALL.sha256" ]; then
    step "debootstrap --variant=minbase bookworm (once; cached in $TARBALL)"
    tmp="$(mktemp -d "$CACHE/rootfs.XXXXXX")"
    debootstrap --variant=minbase bookworm "$tmp" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 \
        || { step "debootstrap failed; see $CACHE/debootstrap.log"; exit 1; }
    rm -rf "$tmp"/var/cache/apt/archives/*.deb "$tmp"/var/lib/apt/lists/*
    tar -C "$tmp" -cf "$TARBALL.part" .
    rm -rf "$tmp"
    mv "$TARBALL.part" "$TARBALL"
    sha256sum "$TARBALL" | cut -d' ' -f1 >"$TARBALL.sha256"
fi
label() { docker image inspect -f "{{index .Config.Labels \"otelstack.inputs\"}}" "$1" 2>/dev/null || true; }
base_sum="$(cat "$TARBALL.sha256")"
if [ "$(label "$BASE_TAG")" = "$base_sum" ]; then
    step "$BASE_TAG up to date"
else
    step "docker import $TARBALL -> $BASE_TAG"
    docker import --change "LABEL otelstack.inputs=$base_sum" --change 'CMD ["/bin/bash"]' \
        "$TARBALL" "$BASE_TAG" >/dev/null
fi
base_id="$(docker image inspect -f '{{.Id}}' "$BASE_TAG")"

# 4. images built on the base. The sender installs from PyPI, so it gets the
# host's CA bundle (this machine may inspect TLS with its own CA).
# image TAG SUM CTX [docker build args...]: builds CTX as TAG, labelled with
# SUM (the hash of its inputs), unless TAG already carries that label.
image() {
    local tag="$1" sum="$2" ctx="$3" name
    shift 3
    name="${tag#*/}"; name="${name%%:*}"
    if [ "$(label "$tag")" = "$sum" ]; then
        step "$tag up to date"
        return
    fi
    step "building $tag"
    if ! docker build -q --build-arg "BASE=$BASE_TAG" --label "otelstack.inputs=$sum" -t "$tag" "$@" "$ctx" \
        >"$CACHE/build-$name.log" 2>&1; then
        tail -n 30 "$CACHE/build-$name.log"
        step "building $tag failed; full log in $CACHE/build-$name.log"
        rm -rf "$ctx"
        exit 1
    fi
}
# hash of the inputs: image ids and files (directories hashed file by file)
inputs() {
    local x
    for x in "$@"; do
        if [ -d "$x" ]; then
            (cd "$x" && find . -path ./node_modules -prune -o -type f ! -name ca-certificates.crt -print0 \
                | sort -z | xargs -0 sha256sum)
        elif [ -f "$x" ]; then sha256sum <"$x"
        else echo "$x"
        fi
    done | sha256sum | cut -d' ' -f1
}
build() {
    local name="$1" dir="$ROOT/tests/docker/$1" ctx
    shift
    ctx="$(mktemp -d)"
    cp -a "$dir"/. "$ctx"/
    cp /etc/ssl/certs/ca-certificates.crt "$ctx/ca-certificates.crt"
    for extra in "$@"; do cp "$extra" "$ctx"/; done
    image "$NS/$name:local" "$(inputs "$base_id" "$dir" "$@")" "$ctx"
    rm -rf "$ctx"
}
build prometheus
build mariadb
build sender
build alertmanager

# 5. the workshop's demo apps (examples/workshop) for test_workshop_engine.py,
# under names the compose file takes from WORKSHOP_*_IMAGE:
#   $NS/workshop-web:local       examples/workshop/web/Dockerfile on Debian's nodejs
#                                (workshop-node), with the node_modules that
#                                test-setup.sh `npm ci`s on the host (NPM_INSTALL=0)
#   $NS/workshop-python:local    examples/workshop/python/Dockerfile on python3 with
#                                its requirements pip-installed in the chroot (PIP_INSTALL=0)
#   $NS/workshop-payments:local  the payments binary built on the host, on the base
WS="$ROOT/examples/workshop"
build workshop-node
build workshop-python-base "$WS/python/requirements.txt"
img_id() { docker image inspect -f '{{.Id}}' "$1"; }
if [ ! -f "$WS/web/node_modules/.lock-installed" ]; then
    step "no $WS/web/node_modules (run scripts/test-setup.sh, which npm-installs it)"; exit 1
fi
ctx="$(mktemp -d)"
cp -a "$WS/web"/. "$ctx"/
rm -f "$ctx/.dockerignore"
image "$NS/workshop-web:local" "$(inputs "$(img_id "$NS/workshop-node:local")" "$WS/web" "$WS/web/node_modules/.lock-installed")" \
    "$ctx" --build-arg "NODE_IMAGE=$NS/workshop-node:local" --build-arg NPM_INSTALL=0
rm -rf "$ctx"
ctx="$(mktemp -d)"
cp -a "$WS/python"/. "$ctx"/
image "$NS/workshop-python:local" "$(inputs "$(img_id "$NS/workshop-python-base:local")" "$WS/python")" \
    "$ctx" --build-arg "PYTHON_IMAGE=$NS/workshop-python-base:local" --build-arg PIP_INSTALL=0
rm -rf "$ctx"
step "cargo build --example workshop-payments (the payments image's binary)"
(cd "$ROOT" && cargo build -q --example workshop-payments)
build workshop-payments "$ROOT/target/debug/examples/workshop-payments"
step "images ready: $(docker images --format '{{.Repository}}:{{.Tag}}' "$NS/*" | sort | tr '\n' ' ')"
