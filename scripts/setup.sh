#!/usr/bin/env bash
# Shared set-up for run.sh, test.sh and bench.sh: installs the Debian
# packages that are missing (Debian 12), then configures and builds lockerd
# into build/. Sourced, not run: it defines functions.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${LOCKERD_BUILD_DIR:-$ROOT/build}"

BUILD_PACKAGES=(g++ make cmake pkg-config libuv1-dev libgtest-dev libbenchmark-dev libhiredis-dev
  liblua5.1-0-dev libssl-dev)
# iproute2 and iptables: the fault suite's network namespaces and partitions;
# libfaketime: its clock skew and wall-clock jumps.
# redis-server and gnuplot-nox: the benchmark runner's quick run (a test).
# python3-redis, ruby-redis and the Go, PHP, Perl and Django packages:
# clients of the compatibility matrix (Go builds offline from Debian's
# sources in /usr/share/gocode); redis-server: what the matrix compares with.
COMPAT_PACKAGES=(redis-tools redis-server python3 python3-redis ruby ruby-redis
  golang-go golang-github-gomodule-redigo-dev golang-gopkg-redis.v5-dev golang-github-mna-redisc-dev
  php-cli php-redis php-malkusch-lock php-symfony-lock libredis-perl libredis-fast-perl
  python3-django-redis)
# openssl: the TLS tests make their certificates with its command line.
TEST_PACKAGES=(redis-tools redis-server python3 gnuplot-nox iproute2 iptables libfaketime openssl
  "${COMPAT_PACKAGES[@]}")
FAULTS_PACKAGES=(iproute2 iptables libfaketime gnuplot-nox)
# etcd-server: the benchmark compares with a 3-member etcd (durable, like
# lockerd with appendonly yes); side_by_side.py --no-etcd leaves it out.
BENCH_PACKAGES=(redis-server redis-tools python3 gnuplot-nox etcd-server etcd-client)

# Installs the given packages that are not installed yet. Uses sudo when not
# root; refreshes the package lists only when an install needs it.
install_packages() {
  local missing=()
  for package in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$package")
    fi
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "Need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
  fi
  echo "Installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if ! "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"; then
    "${sudo[@]}" apt-get update -q
    "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
}

# node and npm for the matrix's node libraries (installed into a folder of
# the test's own). Only when missing: a node from elsewhere (nodesource)
# must not be replaced by Debian's.
install_node() {
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    install_packages nodejs npm
  fi
}

# Configures (once) and builds everything: the server, tests and benchmarks.
build_lockerd() {
  cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DLOCKERD_BUILD_TESTS=ON -DLOCKERD_BUILD_BENCH=ON "$@" >/dev/null
  cmake --build "$BUILD_DIR" -j "$(nproc)"
}

# The same code built with AddressSanitizer (with LeakSanitizer) and
# UndefinedBehaviorSanitizer into build-asan/ (or $LOCKERD_BUILD_DIR-asan):
# the tests run again there, so memory errors, leaks and undefined
# behaviour fail the test command.
SANITIZED_BUILD_DIR="${BUILD_DIR}-asan"
build_sanitized() {
  # -O1 and line tables only (as the sanitizers' documentation suggests):
  # this build compiles 2.4x faster than at -O2 -g and its stacks still
  # name files and lines; the test command's length is mostly builds.
  cmake -S "$ROOT" -B "$SANITIZED_BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
    -DLOCKERD_SANITIZE=ON -DLOCKERD_BUILD_TESTS=ON -DLOCKERD_BUILD_BENCH=OFF >/dev/null
  # Extra arguments (--target ...) build only what the caller runs.
  cmake --build "$SANITIZED_BUILD_DIR" -j "$(nproc)" "$@"
}
